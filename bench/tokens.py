"""Benchmark check: do token and word normalisation (paper section 4.2, Eq. 3 against Eq. 4) differ
for this model's tokenizer on these environments' action phrases?

They are the same thing whenever every action phrase has as many tokens as words. This collects
the action phrases each task offers (the oracle's episode plus 50 random episodes, every prompt
variant), tokenises them as llm_policy does (" " + action, no special tokens), and writes
bench/results/tokens.json (tokens-<model>.json for another --model): per task and variant, how
many phrases, and those whose token and word counts differ. Seconds: only the tokenizer works.

    python bench/tokens.py [--model gemma3-270m]
    python bench/tokens.py --model smollm2-135m     # -> tokens-smollm2-135m.json
"""
import argparse
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import llm_policy  # noqa: E402
import overcooked_env  # noqa: E402
import virtualhome_env  # noqa: E402
import run  # noqa: E402
from prompts import VARIANTS  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results")


def phrases(module, env, episodes=50, seed=0):
    """Every action phrase offered in the oracle's episode and in `episodes` random ones."""
    seen, rng = set(), random.Random(seed)
    for ep in range(episodes + 1):
        _, info = env.reset(seed=ep)
        plan = module.oracle_plan(env) if ep == 0 else None
        for t in range(200):
            seen |= set(info["action_texts"])
            a = plan[t] if plan else rng.choice(list(info["action_ids"]))
            _, _, term, trunc, info = env.step(a)
            if term or trunc or (plan and t + 1 == len(plan)):
                seen |= set(info["action_texts"])
                break
    return sorted(seen)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="gemma3-270m")
    a = p.parse_args()
    _, tokenizer = llm_policy.load_model(a.model)  # the weights come along; only the tokenizer is used
    # every task either environment defines, the unseen VirtualHome ones included
    tasks = [(overcooked_env, overcooked_env.OvercookedEnv, t) for t in overcooked_env.TASKS] + \
            [(virtualhome_env, virtualhome_env.VirtualHomeEnv, t) for t in virtualhome_env.TASKS]
    results, total, differ = {"model": a.model}, 0, 0
    for module, cls, task in tasks:
        for variant in VARIANTS:
            texts = phrases(module, cls(task=task, variant=variant))
            counts = [(t, len(tokenizer(" " + t, add_special_tokens=False).input_ids), len(t.split())) for t in texts]
            odd = [{"action": t, "tokens": n_tok, "words": n_word} for t, n_tok, n_word in counts if n_tok != n_word]
            results[f"{task}/{variant}"] = {"phrases": len(texts), "tokens_differ_from_words": odd}
            total, differ = total + len(texts), differ + len(odd)
            print(f"{task:15s} {variant:14s} {len(texts):3d} phrases, {len(odd)} with tokens != words"
                  + (f": {', '.join(o['action'] for o in odd[:3])}" if odd else ""), flush=True)
    results["summary"] = {"phrases": total, "tokens_differ_from_words": differ}
    name = "tokens.json" if a.model == "gemma3-270m" else f"tokens-{os.path.basename(os.path.normpath(a.model))}.json"
    run.atomic_write(os.path.join(RESULTS, name), json.dumps(results, indent=1))
    print(json.dumps(results["summary"]))


if __name__ == "__main__":
    main()
