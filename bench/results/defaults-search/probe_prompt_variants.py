"""Scratch probe (kept as run): log P(shortest plan) and each step's P under the untrained model, for prompt
rewordings patched over prompts.py. Usage: python bench/results/defaults-search/probe_prompt_variants.py base oc-next-step ..."""
import math, os, re, sys

import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
import run, prompts
torch.set_num_threads(2)
agent = run.load_agent_for(run.Args(env='overcooked', task='tomato'))
ENT_PLAN = "walk to the chips;grab the chips;walk to the milk;grab the milk;walk to the living room;walk to the coffee table;put the chips on the coffee table;walk to the TV;turn on the TV;walk to the sofa;sit on the sofa".split(';')
orig_oc, orig_vh = prompts.overcooked_prompt, prompts.virtualhome_prompt

def logp(task, plan_texts=None):
    args = run.Args(env=run.TASK_ENV[task], task=task)
    env = run.make_env(args); info = run.with_obs(*env.reset())
    ids = None if plan_texts else run.ENVS[args.env].oracle_plan(env)
    lp, steps = 0.0, []
    for t in range(len(plan_texts or ids)):
        s = run.state_of(info)
        k = s[1].index(plan_texts[t]) if plan_texts else info['action_ids'].index(ids[t])
        with torch.no_grad():
            p = agent.policy_logits([s])[0].softmax(-1)
        lp += math.log(p[k]); steps.append(f"{p[k]:.2f}")
        obs, r, te, tr, info = env.step(info['action_ids'][k]); info = run.with_obs(obs, info)
    assert info['success']
    return lp, steps

def oc_patch(old, new):
    def f(view, variant="good"):
        s = orig_oc(view, variant); assert s.endswith(old), s
        return s[: -len(old)] + new.format(salad=view['task'] + ' salad')
    return f

def vh_patch(fn):
    def f(view, variant="good"):
        return fn(orig_vh(view, variant), view)
    return f

VARIANTS = {
 'base': (None, None),
 'oc-next-step': (oc_patch('you should first', 'your next step is to'), None),
 'oc-serve-next': (lambda v, variant='good': orig_oc(v, variant).replace(f"To make a {v['task']} salad, you should first", f"To make a {v['task']} salad and serve it, your next step is to"), None),
 'vh-rooms-after': (None, vh_patch(lambda s, v: re.sub(r"There are four rooms: the kitchen, the bathroom, the bedroom and the living room\. You are in the ([a-z ]+)\.", r"You are in the \1 (the four rooms are the kitchen, the bathroom, the bedroom and the living room).", s))),
 'vh-no-rooms': (None, vh_patch(lambda s, v: re.sub(r"There are four rooms: the kitchen, the bathroom, the bedroom and the living room\. ", "", s))),
}
for name in sys.argv[1:]:
    oc, vh = VARIANTS[name]
    prompts.overcooked_prompt = oc or orig_oc; prompts.virtualhome_prompt = vh or orig_vh
    out = []
    for task, plan in (('food', None), ('tomato', None), ('tomato-lettuce', None), ('entertainment', None), ('entertainment', ENT_PLAN)):
        lp, steps = logp(task, plan)
        out.append(f"{task}{'(spec plan)' if plan else ''} {lp:.2f} [{' '.join(steps)}]")
    print(f"== {name}\n  " + "\n  ".join(out), flush=True)
