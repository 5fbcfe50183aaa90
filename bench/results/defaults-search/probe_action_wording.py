"""Scratch probe (kept as run): log P(shortest plan) under the untrained model when the Overcooked
bowl and serve slots are worded otherwise, patched over prompts.py (the other slots unchanged).
Usage: python bench/results/defaults-search/probe_action_wording.py [name ...]"""
import math, os, sys

import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
import run, prompts
torch.set_num_threads(2)
agent = run.load_agent_for(run.Args(env='overcooked', task='tomato'))
orig = prompts.overcooked_action_texts

def logp(task):
    env = run.make_env(run.Args(env='overcooked', task=task)); info = run.with_obs(*env.reset())
    lp, steps = 0.0, []
    for step in run.ENVS['overcooked'].oracle_plan(env):
        s = run.state_of(info)
        k = info['action_ids'].index(step)
        with torch.no_grad():
            p = agent.policy_logits([s])[0].softmax(-1)
        lp += math.log(p[k]); steps.append(f"{p[k]:.2f}")
        obs, r, te, tr, info = env.step(step); info = run.with_obs(obs, info)
    assert info['success']
    return lp, steps

def rename(table):
    def f(view, variant="good"):
        return [table.get(t, t) for t in orig(view, variant)]
    return f

V = {
 'base': {},
 'take-bowl': {"take the empty bowl": "take the bowl"},
 'pick-bowl': {"take the empty bowl": "pick up the bowl", "take the bowl": "pick up the bowl"},
 'serve-salad': {"serve the dish": "serve the salad"},
 'serve-bowl': {"serve the dish": "serve the bowl"},
 'deliver-salad': {"serve the dish": "deliver the salad"},
 'pick-bowl+serve-salad': {"take the empty bowl": "pick up the bowl", "take the bowl": "pick up the bowl", "serve the dish": "serve the salad"},
}
for name in (sys.argv[1:] or V):
    prompts.overcooked_action_texts = rename(V[name])
    out = []
    for task in ('tomato', 'tomato-lettuce'):
        lp, steps = logp(task)
        out.append(f"{task} {lp:.2f} [{' '.join(steps)}]")
    print(f"== {name}\n  " + "\n  ".join(out), flush=True)
