"""Scratch probe (kept as run): exact P(success) of the untrained policy on a task at several temperatures (pi^(1/tau)),
and of uniform choice: does spreading the untrained policy out (what the entropy bonus does) help or hurt?
Usage: python bench/results/defaults-search/exact_temperature.py tomato-lettuce"""
import sys, time, json, pickle, os
import torch
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
sys.path.insert(0, ROOT); sys.path.insert(0, os.path.join(ROOT, "bench"))
import run, exact
torch.set_num_threads(2)
task = sys.argv[1]
t0 = time.time()
args = run.Args(env=run.TASK_ENV[task], task=task)
start, nodes = exact.tree(args)
print("nodes", len(nodes), f"{time.time()-t0:.0f}s", flush=True)
agent = run.load_agent_for(args)
P1, R1, probs = exact.exact(agent, args, nodes, start)
print("tau 1", P1, R1, "distinct", len(probs), f"{time.time()-t0:.0f}s", flush=True)
states = {k: run.state_of(inf, "twosome") for k, (inf, _) in nodes.items()}
def dp(tf):
    P = {}
    for k in sorted(nodes, key=lambda k: -k[1]):
        inf, edges = nodes[k]
        p = tf(probs[states[k]])
        P[k] = sum(q * (1.0 if c == "success" else 0.0 if c == "end" else P[c]) for q, (_, _, c) in zip(p, edges))
    return P[start]
import math
def temp(tau):
    def f(p):
        w = [x ** (1 / tau) for x in p]; s = sum(w); return [x / s for x in w]
    return f
out = {}
for tau in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0):
    out[tau] = dp(temp(tau)); print("tau", tau, out[tau], flush=True)
out["uniform"] = dp(lambda p: [1 / len(p)] * len(p)); print("uniform", out["uniform"])
def ent(p): return -sum(x * math.log(x) for x in p if x > 0)
for tau in (1.0, 1.5, 2.0):
    print("mean entropy over distinct states, tau", tau, sum(ent(temp(tau)(p)) for p in probs.values()) / len(probs))
