"""Benchmark: the evaluation's episodes played side by side against one after the other.

After every update run.py evaluates 20 sampled episodes and one greedy one. Played one after the
other, each decision scores one state (if the score cache does not hold it yet); played side by
side (run.run_episodes, the default), each step scores the new states of every episode still
running in one batch. Each sampled episode draws from its own generator, so both orders play the
same episodes. This times both, with the same score cache, for the untrained agent (Gemma 3 270M,
2 threads) on each task, alternated twice and the faster of two kept, and checks that they agree.

    python bench/eval_speed.py            # writes bench/results/eval-speed.json (about 6 minutes)
"""
import json
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import run  # noqa: E402

EPISODES, SEED = 20, 20_001  # run.py's --eval-episodes, and the seed of its first evaluation (seed 1)


def play(agent, args, side_by_side):
    """The greedy episode and EPISODES sampled ones, with one fresh score cache; (results, seconds)."""
    t = time.perf_counter()
    out = run.play_evaluation(agent, args, EPISODES, SEED, {}, side_by_side)
    return out, time.perf_counter() - t


def main():
    torch.set_num_threads(2)
    results, agent = {"episodes": EPISODES, "seed": SEED, "threads": 2, "tasks": {}}, None
    for task, env_name in run.TASK_ENV.items():
        if task not in run.TASK_DEFAULTS:
            continue  # the unseen tasks of the generalisation test
        args = run.check_args(run.parse_args(["--env", env_name, "--task", task]))
        agent = agent or run.load_agent_for(args)  # the untrained agent: the same in every task
        times = {True: [], False: []}
        for _ in range(2):
            for side_by_side in (False, True):
                out, s = play(agent, args, side_by_side)
                times[side_by_side].append(s)
                outcomes = [(success, n) for success, _, n in out]
                if not side_by_side:
                    reference = outcomes
                elif outcomes != reference:
                    raise SystemExit(f"{task}: side by side played other episodes than one after the other")
        row = {"decisions": sum(n for _, n in reference), "successes": sum(s for s, _ in reference[1:]),
               "one_after_the_other_s": round(min(times[False]), 1), "side_by_side_s": round(min(times[True]), 1),
               "speedup": round(min(times[False]) / min(times[True]), 2), "same_episodes": True}
        results["tasks"][task] = row
        print(task, json.dumps(row), flush=True)
    run.atomic_write(os.path.join(ROOT, "bench", "results", "eval-speed.json"), json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
