"""Benchmark: would scoring the rollout's states in bfloat16 pay on this CPU?

The rollout only samples actions (no gradient), so it could run the frozen LLM in bfloat16 while
the update stays in fp32. This measures, on the states of the oracle plans of all four tasks,
(1) the time to score every valid action of a state (no gradient, batches of 4 states) in fp32
and in bfloat16, (2) how far bfloat16 moves the policy (max |logit diff| and total variation
between the two softmaxes), and (3) the time of the update's fp32 forward + backward on the same
states, which bfloat16 cannot speed up. The CPU's flags say whether it has AVX512-BF16 or AMX.

    python bench/bf16.py            # writes bench/results/bf16.json
"""
import json
import os
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import llm_policy  # noqa: E402
import run  # noqa: E402


def plan_states():
    """(prompt, action_texts) along each task's oracle plan: the states a trained agent meets."""
    states = []
    for task, env_name in run.TASK_ENV.items():
        if task not in run.TASK_DEFAULTS:
            continue
        env = run.make_env(run.Args(env=env_name, task=task))
        _, info = env.reset()
        for a in run.ENVS[env_name].oracle_plan(env):
            states.append((info["prompt"], tuple(info["action_texts"])))
            _, _, _, _, info = env.step(a)
    return states


def timed(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    torch.set_num_threads(2)
    flags = open("/proc/cpuinfo").read().split() if os.path.exists("/proc/cpuinfo") else []
    states = plan_states()
    batches = [states[i:i + 4] for i in range(0, len(states), 4)]
    out = {"states": len(states), "cpu_avx512_bf16": "avx512_bf16" in flags, "cpu_amx_bf16": "amx_bf16" in flags}
    logits = {}
    for dtype in ("float32", "bfloat16"):
        model, tokenizer = llm_policy.load_model("gemma3-270m", dtype=dtype)
        agent = llm_policy.LLMAgent(model, tokenizer)  # LoRA B = 0: the untrained policy

        def score():
            with torch.no_grad():
                return [agent.policy_logits(b).float() for b in batches]
        score()  # warm-up
        out[f"score_s_{dtype}"] = round(timed(score), 3)
        logits[dtype] = score()
        if dtype == "float32":
            def fwd_bwd():
                for b in batches:
                    agent.zero_grad()
                    agent.policy_logits(b).logsumexp(-1).sum().backward()
            out["fwd_bwd_s_float32"] = round(timed(fwd_bwd), 3)
        del agent, model
    diff = max((a - b).abs().max().item() for a, b in zip(logits["float32"], logits["bfloat16"]))
    tv = max(0.5 * (a.softmax(-1) - b.softmax(-1)).abs().sum(-1).max().item()
             for a, b in zip(logits["float32"], logits["bfloat16"]))
    out.update(max_abs_logit_diff=round(diff, 4), max_total_variation=round(tv, 4),
               scoring_speedup=round(out["score_s_float32"] / out["score_s_bfloat16"], 2))
    path = os.path.join(ROOT, "bench", "results", "bf16.json")
    run.atomic_write(path, json.dumps(out, indent=1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
