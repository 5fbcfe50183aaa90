"""Scratch probe (kept as run): log P(shortest plan) under the untrained model for rewordings of the
Overcooked goal sentence, patched over prompts.py. Usage: python bench/results/defaults-search/probe_goal_wording.py"""
import math, os, sys

import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
import run, prompts
torch.set_num_threads(2)
agent = run.load_agent_for(run.Args(env='overcooked', task='tomato'))
orig = prompts.overcooked_prompt

def logp(task):
    args = run.Args(env='overcooked', task=task)
    env = run.make_env(args); info = run.with_obs(*env.reset())
    ids = run.ENVS['overcooked'].oracle_plan(env)
    lp, steps = 0.0, []
    for step in ids:
        s = run.state_of(info)
        k = info['action_ids'].index(step)
        with torch.no_grad():
            p = agent.policy_logits([s])[0].softmax(-1)
        lp += math.log(p[k]); steps.append(f"{p[k]:.2f}")
        obs, r, te, tr, info = env.step(step); info = run.with_obs(obs, info)
    assert info['success']
    return lp, steps

def dish(v):  # the dish as the state text names a bowl's contents
    foods = v['task'].split('-')
    return "a bowl of chopped " + (foods[0] if len(foods) == 1 else " and ".join(foods))

def goal(fn):
    def f(view, variant="good"):
        s = orig(view, variant); old = f"To make a {view['task']} salad, you should first"
        assert s.endswith(old), s
        return s[: -len(old)] + fn(view)
    return f

V = {
 'base': None,
 'dish': goal(lambda v: f"To make a {v['task']} salad, {dish(v)}, you should first"),
 'dish-paren': goal(lambda v: f"To make a {v['task']} salad ({dish(v)}) and serve it, you should first"),
 'serve-dish': goal(lambda v: f"To serve {dish(v)}, you should first"),
 'serve-dish-now': goal(lambda v: f"Your goal is to serve {dish(v)}. Now you should"),
 'serve-dish-next': goal(lambda v: f"To serve {dish(v)}, your next step is to"),
 'recipe': goal(lambda v: f"To make a {v['task']} salad, chop the {' and the '.join(v['task'].split('-'))}, put them in the bowl and serve it. Now you should"),
}
for name in (sys.argv[1:] or V):
    prompts.overcooked_prompt = V[name] or orig
    out = []
    for task in ('tomato', 'tomato-lettuce'):
        lp, steps = logp(task)
        out.append(f"{task} {lp:.2f} [{' '.join(steps)}]")
    print(f"== {name}\n  " + "\n  ".join(out), flush=True)
