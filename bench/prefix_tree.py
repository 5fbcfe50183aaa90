"""Benchmark: scoring the actions as a prefix tree against one branch per action.

Many of a state's action phrases begin alike ("pick up the tomato", "pick up the lettuce", "walk to
the kitchen", "walk to the bathroom"). After commit 91e9695 llm_policy.py encodes each shared
prefix once (llm_policy._action_tree); at that commit and before, each action's tokens were a
branch of their own after the shared prompt. Both compute the same numbers. This measures, on
the distinct states a uniform random walk meets in each task (32 for the two long tasks, 16 for
the short ones), the time per state of (1) scoring without gradient, 16 states per call (a
rollout or an evaluation), and (2) LoRA forward + backward in micro-batches of 4 (the update),
with the code of that commit ("before", read from git) and the working tree's ("after"),
alternated twice, the faster of two kept; and the largest difference of a log-probability
between the two.

    python bench/prefix_tree.py            # writes bench/results/prefix-tree.json (about 5 minutes)
"""
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import llm_policy  # noqa: E402
import run  # noqa: E402

BEFORE = "91e9695"  # the last commit whose llm_policy.py gave each action its own branch
TASKS = (("overcooked", "tomato-lettuce", 32), ("virtualhome", "entertainment", 32),
         ("virtualhome", "food", 16), ("overcooked", "tomato", 16))


def module_at(commit):
    """llm_policy.py as it was at `commit`, imported under another name."""
    try:
        src = subprocess.run(["git", "show", f"{commit}:llm_policy.py"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        print(f"bench/prefix_tree.py: cannot read llm_policy.py at commit {commit} (needs git and the history)",
              file=sys.stderr)
        sys.exit(2)
    path = os.path.join(tempfile.mkdtemp(), "llm_policy_before.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("llm_policy_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def walk_states(env_name, task, n, seed=0):
    """The first n distinct (prompt, actions) states of a uniform random walk."""
    env, rng, seen = run.make_env(run.Args(env=env_name, task=task)), random.Random(seed), {}
    info = run.with_obs(*env.reset())
    while len(seen) < n:
        seen.setdefault(run.state_of(info), None)
        obs, _, term, trunc, info = env.step(rng.choice(info["action_ids"]))
        info = run.with_obs(obs, info)
        if term or trunc:
            info = run.with_obs(*env.reset())
    return list(seen)


def score_all(module, model, tokenizer, params, states, grad, size):
    """log P of every action of every state, `size` states per call; with grad, also backward."""
    for p in params:
        p.grad = None
    out = []
    for i in range(0, len(states), size):
        chunk = states[i:i + size]
        with torch.set_grad_enabled(grad):
            logp = module.action_logprobs(model, tokenizer, [s[0] for s in chunk], [list(s[1]) for s in chunk])[0]
            if grad:
                torch.where(logp.isfinite(), logp, 0.0).sum().backward()
        out.append(logp.detach())  # (size, K)
    return out


def main():
    torch.set_num_threads(2)
    before = module_at(BEFORE)
    model, tokenizer = llm_policy.load_model("gemma3-270m")
    agent = llm_policy.LLMAgent(model, tokenizer)
    torch.manual_seed(0)
    for name, p in agent.model.named_parameters():  # a non-zero LoRA, so the backward is a real one
        if "lora_B" in name:
            p.data.normal_(0, 0.01)
    params = list(agent.actor_parameters())
    results = {"before_commit": BEFORE, "threads": 2, "tasks": {}}
    for env_name, task, n in TASKS:
        states = walk_states(env_name, task, n)
        row = {"states": len(states)}
        for key, grad, size in (("no_grad_16", False, 16), ("fwd_bwd_4", True, 4)):
            times = {"before": [], "after": []}
            for module in (before, llm_policy):
                score_all(module, agent.model, tokenizer, params, states[:4], grad, size)  # warm-up
            for _ in range(2):
                for name, module in (("before", before), ("after", llm_policy)):
                    t = time.perf_counter()
                    out = score_all(module, agent.model, tokenizer, params, states, grad, size)
                    times[name].append(time.perf_counter() - t)
                    if name == "before":
                        ref = out
                    else:
                        diff = max(float((a - b)[a.isfinite()].abs().max()) for a, b in zip(out, ref))
                        row["max_logp_diff"] = max(row.get("max_logp_diff", 0.0), diff)
            b, a = min(times["before"]) / len(states), min(times["after"]) / len(states)
            row[key] = {"before_s_per_state": round(b, 4), "after_s_per_state": round(a, 4), "speedup": round(b / a, 2)}
        results["tasks"][task] = row
        print(task, json.dumps(row), flush=True)
    run.atomic_write(os.path.join(ROOT, "bench", "results", "prefix-tree.json"), json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
