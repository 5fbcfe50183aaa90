"""Successes of training-style episodes (run.py's Envs/step_envs) of Entertainment's policy, untrained or a checkpoint's."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository
import torch
import ppo, run
torch.set_num_threads(2)
args = run.check_args(run.parse_args(["--env", "virtualhome", "--task", "entertainment"]))
agent = run.load_agent_for(args, sys.argv[3] if len(sys.argv) > 3 else None)
e = run.make_envs(args, int(sys.argv[1]))
cache, succ, eps, t0 = {}, 0, 0, time.time()
def policy_fn(states):
    return agent.policy_logits(states).float().cpu()
with torch.no_grad():
    for t in range(int(sys.argv[2])):
        states = [run.state_of(info) for info in e.infos]
        logits = ppo.eval_unique(policy_fn, states, cache)
        if len(sys.argv) > 4:
            agent.value(states)  # as run.main does between scoring and sampling
        k, _, _ = ppo.categorical(logits, generator=e.gen)
        _, _, fin, suc = run.step_envs(e, k, args)
        succ += suc; eps += fin
print(f"seed {sys.argv[1]}: {succ} successes in {eps} finished episodes (64 envs, {sys.argv[2]} decisions each), {time.time()-t0:.0f} s")
