"""Benchmark aid: the greedy trajectory of an agent, with the policy's probability for every
valid action at each step, until the episode ends or a state repeats (a greedy loop in these
deterministic environments). It backs the README's explanation of the greedy-success misses.

    python bench/probe.py --env overcooked --task tomato --run bench/runs/tomato-word-s1
    python bench/probe.py --env virtualhome --task food          # the untrained model (SayCan)
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import run  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--env", required=True, choices=list(run.ENV_TASKS))
    p.add_argument("--task", required=True)
    p.add_argument("--run", help="a run directory; without it, the untrained model")
    p.add_argument("--steps", type=int, default=30)
    a = p.parse_args()
    if a.run:
        args = run.Args(**{**json.load(open(os.path.join(a.run, "config.json"))), "resume": None, "out": None})
        agent = run.load_agent_for(args, os.path.join(a.run, "checkpoint", "agent"))
    else:
        args = run.Args(env=a.env, task=a.task)
        agent = run.load_agent_for(args)
    env = run.make_env(args)
    info = run.with_obs(*env.reset())
    seen = {}
    print(f"# {a.env} {a.task} {'trained: ' + a.run if a.run else 'untrained model'}")
    for t in range(a.steps):
        s = run.state_of(info)
        if s in seen:
            print(f"state of step {t} repeats step {seen[s]}: a greedy loop")
            return
        seen[s] = t
        with torch.no_grad():
            probs = agent.policy_logits([s])[0].softmax(-1)  # (K,)
        k = int(probs.argmax())
        print(f"{t}: " + " | ".join(f"{text} {q:.2f}" for text, q in zip(s[1], probs)) + f"  -> {s[1][k]}")
        obs, r, term, trunc, info = env.step(info["action_ids"][k])
        info = run.with_obs(obs, info)
        if term or trunc:
            print(f"episode ends: success {info['success']}")
            return


if __name__ == "__main__":
    main()
