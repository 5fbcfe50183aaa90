"""Scratch probe (kept as run): the serve slot named after what the agent holds, in the
observation's own words ("serve the unchopped tomato", "serve the bowl of chopped tomato and
lettuce"), against the paper's "serve the dish" and the candidate "serve the salad". For each
wording: log P(shortest plan) under the untrained model, each step's P(plan action), and each
step's P(serve) (the wrong-delivery risk along the plan; the last step is the right delivery).
Usage: python bench/results/defaults-search/probe_serve_named.py"""
import math, os, sys

import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
import run, prompts

ORIG_ACTIONS = prompts.overcooked_action_texts


def serve_as(name_of):  # the serve slot renamed by name_of(held thing); other slots unchanged
    def f(view, variant="good"):
        texts = ORIG_ACTIONS(view, variant)
        return [f"serve {name_of(view['held'])}" if t == "serve the dish" else t for t in texts]
    return f


def held_name(thing):  # "the unchopped tomato", "the bowl", "the bowl of chopped tomato and lettuce"
    return "the " + prompts._oc_thing(thing).split(" ", 1)[1]


SERVES = {
    'dish (paper)': None,
    'salad (clear)': serve_as(lambda t: "the salad"),
    'named': serve_as(held_name),
    'named-salad': serve_as(lambda t: "the salad" if t["name"] == "plate" and t["contents"] else held_name(t)),
}


def walk(agent, task):
    env = run.make_env(run.Args(env='overcooked', task=task)); info = run.with_obs(*env.reset())
    lp, p_plan, p_serve = 0.0, [], []
    for step in run.ENVS['overcooked'].oracle_plan(env):
        s = run.state_of(info)
        with torch.no_grad():
            p = agent.policy_logits([s])[0].softmax(-1)
        k = info['action_ids'].index(step)
        serve = [i for i, t in enumerate(s[1]) if t.startswith("serve ")]  # one serve slot
        lp += math.log(p[k]); p_plan.append(f"{p[k]:.2f}")
        p_serve.append(f"{p[serve[0]]:.3f}")
        obs, r, te, tr, info = env.step(step); info = run.with_obs(obs, info)
    assert info['success']
    return lp, p_plan, p_serve


if __name__ == "__main__":
    torch.set_num_threads(2)
    agent = run.load_agent_for(run.Args(env='overcooked', task='tomato'))
    for name, patch in SERVES.items():
        prompts.overcooked_action_texts = patch or ORIG_ACTIONS
        print(f"== {name}")
        for task in ('tomato', 'tomato-lettuce'):
            lp, pp, ps = walk(agent, task)
            print(f"  {task} log P(plan) {lp:.2f}\n    P(plan step)  {' '.join(pp)}\n    P(serve)      {' '.join(ps)}", flush=True)
