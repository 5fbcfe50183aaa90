"""Scratch probe (kept as run): exact P(success) of the untrained policy on the Overcooked tasks when
the bowl and serve slots are worded otherwise (probe_overcooked_wording.py's ACTIONS). The
simulator's tree does not depend on the wording, so it is searched once per task and each variant
renames the action phrases stored in its nodes. Tomato-Lettuce's base value is
exact_temperature.py's tau 1 (0.0168), not recomputed here.
Usage: python bench/results/defaults-search/exact_action_wording.py tomato tomato-lettuce"""
import os, sys, time

import torch
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
sys.path.insert(0, ROOT); sys.path.insert(0, os.path.join(ROOT, "bench"))
import run, exact
torch.set_num_threads(2)
from probe_overcooked_wording import ACTIONS
V = {name: ACTIONS[name] for name in ('base', 'serve-salad', 'pick-bowl+serve-salad')}
def renamed(nodes, table):
    return {k: ({**inf, "action_texts": [table.get(t, t) for t in inf["action_texts"]]}, edges)
            for k, (inf, edges) in nodes.items()}
t0 = time.time()
agent = None
for task in sys.argv[1:]:
    args = run.Args(env="overcooked", task=task)
    start, nodes = exact.tree(args)
    print(task, "nodes", len(nodes), f"{time.time()-t0:.0f}s", flush=True)
    agent = agent or run.load_agent_for(args)
    for name, table in V.items():
        if task == "tomato-lettuce" and name == "base":
            continue
        P, R, probs = exact.exact(agent, args, renamed(nodes, table), start)
        print(f"{task} {name}: P(success) {P:.4f} E[return] {R:.4f} distinct prompts {len(probs)} {time.time()-t0:.0f}s", flush=True)
