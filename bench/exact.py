"""Benchmark aid: a policy's EXACT chance of success and expected logged return, no sampling.

All four tasks are deterministic (one start state, no randomness in a step), so the only chance
is the policy's. Breadth-first search over copies of the simulator finds every (state, time)
the policy can reach within the time limit; the policy scores each distinct prompt once; then,
backwards in time,
    P(s) = sum_a pi(a|s) * (1 if s' is a success, 0 if the episode ends there, else P(s'))
    R(s) = sum_a pi(a|s) * (r + d * R(s'))      (d: the logged discount, 0 where it ends)
P(start) is what 20 sampled evaluation episodes estimate with a standard error of up to 11
points; here it has none. For the untrained model it says how far a prompt puts the agent from
its first reward: a policy that succeeds in 1 % of its episodes meets the reward once in a
hundred, and a rollout that never meets it gives PPO nothing of the reward to learn from.

    python bench/exact.py --tasks entertainment                        # untrained, run.py's prompt
    python bench/exact.py --tasks food entertainment --variants here-first good --random
    python bench/exact.py --tasks food --runs bench/runs/reliability/food-s1   # a trained agent
    python bench/exact.py --tasks entertainment --norms word none      # the untrained policy per normalisation
    python bench/exact.py --tasks food --model smollm2-135m --norms word token none   # another model
"""
import argparse
import copy
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import prompts  # noqa: E402
import run  # noqa: E402


def key_of(env):
    """The simulator's full state and its clock: two keys are equal only if everything to come is."""
    env = env.unwrapped
    if run.TASK_ENV[env.task] == "virtualhome":  # the scene graph and the decision count
        return env.scene.key(), env.t
    return run.overcooked_env.state_key(env.state), env.state["t"]  # Overcooked: primitive steps


def expand(env, info):
    """Every (state, time) reachable from env's current state: {key: (info, edges)}, where
    edges[k] = (reward, logged discount, 'success' | 'end' | child key) for the k-th valid action
    ('end': the episode ends there without success)."""
    module = run.ENVS[run.TASK_ENV[env.unwrapped.task]]
    start = key_of(env)
    nodes, frontier = {start: None}, [(start, copy.deepcopy(env), info)]
    while frontier:
        nxt = []
        for key, e, inf in frontier:
            edges = []
            for a in inf["action_ids"]:
                e2 = copy.deepcopy(e)
                obs, r, term, trunc, inf2 = e2.step(a)
                inf2 = run.with_obs(obs, inf2)
                if term or trunc:
                    edges.append((r, 0.0, "success" if inf2["success"] else "end"))
                    continue
                k2 = key_of(e2)
                edges.append((r, module.discount(inf2), k2))
                if k2 not in nodes:
                    nodes[k2] = None
                    nxt.append((k2, e2, inf2))
            nodes[key] = (inf, edges)
        frontier = nxt
    return nodes


def tree(args):
    """A fresh env of args' task from its start: (start key, expand()'s nodes)."""
    env = run.make_env(args)
    info = run.with_obs(*env.reset())
    return key_of(env), expand(env, info)


def exact(agent, args, nodes, start, batch=16):
    """The policy's P(success) and expected logged return from start, and its probabilities per
    distinct state."""
    states = {k: run.state_of(inf, args.algo) for k, (inf, _) in nodes.items()}
    distinct = list(dict.fromkeys(states.values()))
    probs = {}
    with torch.no_grad():
        for i in range(0, len(distinct), batch):
            chunk = distinct[i:i + batch]
            for s, row in zip(chunk, agent.policy_logits(chunk).float().softmax(-1)):
                probs[s] = row[: len(s[1])].tolist()  # (K,) this state's valid actions
    P, R = {}, {}
    for k in sorted(nodes, key=lambda k: -k[1]):  # later times first: a step always moves the clock on
        inf, edges = nodes[k]
        p = probs[states[k]]
        P[k] = sum(q * (1.0 if c == "success" else 0.0 if c == "end" else P[c]) for q, (_, _, c) in zip(p, edges))
        R[k] = sum(q * (r + (d * R[c] if c not in ("success", "end") else 0.0)) for q, (r, d, c) in zip(p, edges))
    return P[start], R[start], probs


def measure(task, variant=None, run_dir=None, norm="word", algo="twosome", model=run.Args.model):
    """One row of the results: the untrained `model` in `variant` (None: run.py's prompt), the
    agent saved in run_dir, or (algo="random") uniform choice among the valid actions, on `task`."""
    if run_dir:
        args = run.Args(**{**json.load(open(os.path.join(run_dir, "config.json"))), "resume": None, "out": None})
        agent = run.load_agent_for(args, os.path.join(run_dir, "checkpoint", "agent"))
    else:
        args = run.Args(env=run.TASK_ENV[task], task=task, variant=variant, norm=norm, algo=algo, model=model)
        agent = run.load_agent_for(args)
    t0 = time.time()
    start, nodes = tree(args)
    p_succ, ret, probs = exact(agent, args, nodes, start)
    return {"task": args.task, "policy": args.algo if algo == "random" else run_dir or "untrained LLM",
            "variant": run.variant_of(args) if algo != "random" else None,
            "model": args.model if algo != "random" else None,
            "norm": args.norm if args.algo == "twosome" else None, "p_success": round(p_succ, 6),
            "expected_return": round(ret, 6), "states": len(nodes), "distinct_states": len(probs),
            "seconds": round(time.time() - t0, 1)}


def main():
    from llm_policy import KNOWN_MODELS, NORMS  # here, not at the top: importing transformers takes seconds
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=[], choices=list(run.TASK_ENV))
    p.add_argument("--variants", nargs="+", default=[None],
                   help="prompt variants of the untrained model (default: run.py's)")
    p.add_argument("--norms", nargs="+", default=["word"], choices=NORMS,
                   help="normalisations of the untrained model's action scores (run.py's --norm)")
    p.add_argument("--model", default=run.Args.model,
                   help="the untrained model of the --tasks rows: " + " | ".join(KNOWN_MODELS) + " | a local transformers directory")
    p.add_argument("--runs", nargs="+", default=[], help="run directories: their agents instead, each on its own task")
    p.add_argument("--random", action="store_true", help="also uniform random choice on each task, the floor")
    p.add_argument("--out", help="also write the rows here, as a JSON list (atomically)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if not a.tasks and not a.runs:
        p.error("give --tasks, --runs or both")
    if a.model not in KNOWN_MODELS and not os.path.isdir(a.model):
        p.error(f"unknown model {a.model!r}; known: {', '.join(KNOWN_MODELS)}, or a local transformers directory")
    for v in a.variants:
        if v is not None and v not in prompts.VARIANTS:
            p.error(f"unknown prompt variant {v!r}; known: {', '.join(prompts.VARIANTS)}")
    torch.set_num_threads(a.threads)
    cells = [(t, v, None, n, "twosome") for t in a.tasks for v in a.variants for n in a.norms]
    cells += [(None, None, r, "word", None) for r in a.runs] + [(t, None, None, "word", "random") for t in a.tasks if a.random]
    rows = []
    for task, variant, run_dir, norm, algo in cells:
        rows.append(measure(task, variant, run_dir, norm=norm, algo=algo, model=a.model))
        print(json.dumps(rows[-1]), flush=True)
    if a.out:
        run.atomic_write(a.out, json.dumps({"command": "python bench/exact.py " + " ".join(sys.argv[1:]),
                                            "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
