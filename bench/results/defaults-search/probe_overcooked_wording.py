"""Scratch probe (kept as run): log P(shortest plan) under the untrained model for rewordings of
the Overcooked text, patched over prompts.py: GOALS rewrite the goal sentence, ACTIONS rename
action phrases (the other slots unchanged). exact_action_wording.py counts some ACTIONS exactly.
Usage: python bench/results/defaults-search/probe_overcooked_wording.py"""
import math, os, sys

import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
import run, prompts

ORIG_PROMPT, ORIG_ACTIONS = prompts.overcooked_prompt, prompts.overcooked_action_texts


def dish(v):  # the dish as the state text names a bowl's contents
    foods = v['task'].split('-')
    return "a bowl of chopped " + (foods[0] if len(foods) == 1 else " and ".join(foods))


def goal(fn):  # the prompt with its goal sentence replaced by fn(view)
    def f(view, variant="good"):
        s = ORIG_PROMPT(view, variant); old = f"To make a {view['task']} salad, you should first"
        assert s.endswith(old), s
        return s[: -len(old)] + fn(view)
    return f


def renamed(table):  # the action phrases with some renamed
    def f(view, variant="good"):
        return [table.get(t, t) for t in ORIG_ACTIONS(view, variant)]
    return f


GOALS = {
 'base': None,
 'dish': goal(lambda v: f"To make a {v['task']} salad, {dish(v)}, you should first"),
 'dish-paren': goal(lambda v: f"To make a {v['task']} salad ({dish(v)}) and serve it, you should first"),
 'serve-dish': goal(lambda v: f"To serve {dish(v)}, you should first"),
 'serve-dish-now': goal(lambda v: f"Your goal is to serve {dish(v)}. Now you should"),
 'serve-dish-next': goal(lambda v: f"To serve {dish(v)}, your next step is to"),
 'recipe': goal(lambda v: f"To make a {v['task']} salad, chop the {' and the '.join(v['task'].split('-'))}, put them in the bowl and serve it. Now you should"),
}
ACTIONS = {
 'base': {},
 'take-bowl': {"take the empty bowl": "take the bowl"},
 'pick-bowl': {"take the empty bowl": "pick up the bowl", "take the bowl": "pick up the bowl"},
 'serve-salad': {"serve the dish": "serve the salad"},
 'serve-bowl': {"serve the dish": "serve the bowl"},
 'deliver-salad': {"serve the dish": "deliver the salad"},
 'pick-bowl+serve-salad': {"take the empty bowl": "pick up the bowl", "take the bowl": "pick up the bowl", "serve the dish": "serve the salad"},
}


def logp(agent, task):
    """log P(shortest plan) and each step's P under agent, with prompts.py as patched now."""
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


if __name__ == "__main__":
    torch.set_num_threads(2)
    agent = run.load_agent_for(run.Args(env='overcooked', task='tomato'))
    for part, table in (("goal sentence", GOALS), ("action phrases", ACTIONS)):
        print(f"# {part}")
        for name, patch in table.items():
            prompts.overcooked_prompt = patch if part == "goal sentence" and patch else ORIG_PROMPT
            prompts.overcooked_action_texts = renamed(patch) if part == "action phrases" else ORIG_ACTIONS
            out = [f"{task} {lp:.2f} [{' '.join(steps)}]"
                   for task in ('tomato', 'tomato-lettuce') for lp, steps in [logp(agent, task)]]
            print(f"== {name}\n  " + "\n  ".join(out), flush=True)
