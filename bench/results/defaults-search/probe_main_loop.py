"""run.main's own rollout loop with the update switched off: how often do its episodes succeed?"""
import os, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository
import torch
import run
counts = {"succ": 0, "eps": 0}
orig = run.step_envs
def counting(e, k, args):
    r, d, fin, suc = orig(e, k, args)
    counts["succ"] += suc; counts["eps"] += fin
    return r, d, fin, suc
run.step_envs = counting
run.ppo.update = lambda *a, **k: {"losses/approx_kl": 0.0, "losses/entropy": 0.0, "losses/value_loss": 0.0, "losses/policy_loss": 0.0, "losses/clipfrac": 0.0, "losses/explained_variance": 0.0, "policy/steps": 0, "policy/kl_stop": 0.0}
shutil.rmtree("/tmp/probe-main-loop-run", ignore_errors=True)
run.main(run.Args(env="virtualhome", task="entertainment", steps=int(sys.argv[1]), eval_every=0,
                  eval_episodes=0, out="/tmp/probe-main-loop-run", resume=None))
print("main loop, untrained, no updates:", counts, flush=True)
