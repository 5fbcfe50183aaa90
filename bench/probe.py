"""Benchmark aid: the greedy trajectory of an agent, with the policy's probability for every
valid action at each step, until the episode ends or a state repeats (a greedy loop in these
deterministic environments). It backs the README's explanation of the greedy-success misses.

With --oracle it follows the shortest plan instead (or --plan, action phrases separated by ";")
and prints the policy's probability of each of its actions and, at the end, log P(plan): the log
of the chance that the sampling policy walks that plan exactly. For the untrained model this is a
measure of how well a prompt reads to it: the reward is met only at the plan's end, so a policy
that gives the plan more probability meets its first reward sooner.

    python bench/probe.py --env overcooked --task tomato --run bench/runs/tomato-word-s1
    python bench/probe.py --env virtualhome --task food          # the untrained model (SayCan)
    python bench/probe.py --env virtualhome --task entertainment --oracle
"""
import argparse
import json
import math
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
    p.add_argument("--oracle", action="store_true", help="follow the shortest plan; print P of each of its actions")
    p.add_argument("--plan", help="with --oracle: this plan instead, action phrases separated by ';'")
    p.add_argument("--variant", default="good", help="prompt variant (prompts.VARIANTS), untrained model only")
    a = p.parse_args()
    if a.run:
        args = run.Args(**{**json.load(open(os.path.join(a.run, "config.json"))), "resume": None, "out": None})
        agent = run.load_agent_for(args, os.path.join(a.run, "checkpoint", "agent"))
    else:
        args = run.Args(env=a.env, task=a.task, variant=a.variant)
        agent = run.load_agent_for(args)
    env = run.make_env(args)
    info = run.with_obs(*env.reset())
    if a.oracle:
        return follow_plan(agent, env, info, a)
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


def follow_plan(agent, env, info, a):
    """The shortest plan (or a.plan), with the policy's probability of each of its actions."""
    plan = a.plan.split(";") if a.plan else run.ENVS[a.env].oracle_plan(env)  # phrases, or action ids
    print(f"# {a.env} {a.task} {'trained: ' + a.run if a.run else 'untrained model, prompt ' + a.variant}: "
          f"P of each action of the {'given' if a.plan else 'shortest'} plan")
    log_p = 0.0
    for t, step in enumerate(plan):
        s = run.state_of(info)
        k = s[1].index(step) if a.plan else info["action_ids"].index(step)
        with torch.no_grad():
            probs = agent.policy_logits([s])[0].softmax(-1)  # (K,)
        rank = 1 + int((probs > probs[k]).sum())
        print(f"{t}: {s[1][k]} {probs[k]:.3f} (rank {rank} of {len(probs)})  | "
              + " | ".join(f"{text} {q:.2f}" for text, q in zip(s[1], probs)))
        log_p += math.log(probs[k])
        obs, r, term, trunc, info = env.step(info["action_ids"][k])
        info = run.with_obs(obs, info)
    print(f"log P(plan) = {log_p:.2f} over {len(plan)} steps (mean per step {log_p / len(plan):.2f}); "
          f"success at the end: {bool(info['success'])}")


if __name__ == "__main__":
    main()
