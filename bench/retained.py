"""Benchmark: does the trained LLM keep its language ability? Multiple-choice accuracy of the base
model and of each trained agent, with 95 % intervals over the questions and on their difference.

TWOSOME trains only LoRA adapters on a frozen LLM, and the paper claims that the trained agent
keeps the model's language ability. evaluate.py's `retained` measures it for one run: the
accuracy on data/commonsense_mc.jsonl (the choice with the highest word-normalised likelihood,
the policy's own scoring) and the perplexity of data/heldout.txt, with the adapter switched off
(the base model) and on (the trained agent). A single accuracy on 240 questions says little
about a change of a point or two, so this script adds the uncertainty:

  accuracy    of the base model and of each agent, with a 95 % percentile interval from 2,000
              bootstrap resamples of the questions, drawn with replacement within each category
              (physics, cooking, household, general), so every resample keeps the categories'
              counts (bench/stats.py).
  difference  trained minus base, in points, PAIRED: each resample takes the same questions for
              both, so only the questions on which the two disagree move it. Two separate
              intervals would count the spread of question difficulty twice.
  target      every trained agent within 1 point of the base model. Reported twice: is the point
              difference within 1 point, and does its whole 95 % interval lie within +-1 point?
              With 240 questions one question is 0.42 points, and a few disagreements already
              make the interval wider than +-1 point: the first can hold where the second cannot
              be shown. The report gives the interval's half-width and, at each agent's own rate
              of disagreement, about how many questions a half-width of 1 point would need.
  perplexity  of the held-out text, base and trained (no interval: one text).

The base model is the same in every run of one model (the adapter off), so it is reported once
per model; its 1/0 per question must be identical in all of them, which is checked, not assumed
(a different dtype or device could change an answer). An agent that never met a reward has
barely moved from the base model and keeps its ability trivially: read the final sampled
success column next to the difference.

Each run is evaluated once, into bench/results/retained/<run name>.json (written atomically; an
existing one is reused unless the question file or the text has changed since), so runs can be
added over several sittings. The report covers every per-run file there:
bench/results/retained.json (every number) and retained.md (the tables).

    python bench/retained.py bench/runs/reliability/food-s1 bench/runs/reliability/tomato-s1
    python bench/retained.py --report        # retained.json and .md from the per-run files alone
"""
import argparse
import hashlib
import json
import math
import os
import statistics
import sys

import numpy as np

import stats  # bench/ is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import evaluate  # noqa: E402
from evaluate import fail  # noqa: E402  bad input: one line on stderr, exit code 2
from run import atomic_write, checkpoint_of  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results")
QUESTIONS = os.path.join(ROOT, "data", "commonsense_mc.jsonl")
TEXT = os.path.join(ROOT, "data", "heldout.txt")
REPS, SEED, ALPHA = 2000, 0, 0.05  # bootstrap resamples, its RNG seed, 1 - the intervals' level
TARGET_POINTS = 1.0  # every trained agent within this many points of the base model


def per_run_dir():
    return os.path.join(RESULTS, "retained")


def where(path):
    """A path as the results record it: relative to the repository when inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def name_of(run_dir):
    return os.path.basename(os.path.normpath(run_dir))


def check_runs(run_dirs):
    """Refuse bad input before anything is loaded or written: every directory a TWOSOME run with a
    checkpoint, no two with the same name (they would share a per-run file), and no per-run file
    of that name already written for another directory."""
    seen = {}
    for d in run_dirs:
        if checkpoint_of(d) is None or not os.path.isfile(os.path.join(d, "config.json")):
            fail(f"{d!r} is not a run directory with a checkpoint (no {d}/checkpoint/state.pt)")
        algo = json.load(open(os.path.join(d, "config.json"))).get("algo")
        if algo != "twosome":
            fail(f"{d!r} is a --algo {algo} run: only a TWOSOME agent has an adapter to switch off")
        name = name_of(d)
        if name in seen:
            fail(f"{seen[name]!r} and {d!r} have the same name {name!r}; their results would share one file")
        seen[name] = d
        path = os.path.join(per_run_dir(), f"{name}.json")
        other = json.load(open(path))["run_dir"] if os.path.exists(path) else where(d)
        if other != where(d):
            fail(f"{path} holds the results of {other!r}, not of {d!r}")


def measure(run_dir):
    """One run's per-run file, evaluated now unless it exists for the current questions and text."""
    path = os.path.join(per_run_dir(), f"{name_of(run_dir)}.json")
    data = {"questions": where(QUESTIONS), "questions_sha256": sha256(QUESTIONS),
            "text": where(TEXT), "text_sha256": sha256(TEXT)}
    if os.path.exists(path):
        kept = json.load(open(path))
        if all(kept.get(k) == v for k, v in data.items()):
            return kept
        print(f"{path}: the questions or the text changed since; evaluating again", flush=True)
    config = json.load(open(os.path.join(run_dir, "config.json")))
    summary_path = os.path.join(run_dir, "summary.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
    print(f"{name_of(run_dir)}: evaluating base model and trained agent", flush=True)
    row = {"run": name_of(run_dir), "run_dir": where(run_dir),
           **{k: config.get(k) for k in ("model", "dtype", "env", "task", "norm", "seed")},
           # how far the agent got: one that never met a reward has barely left the base model
           "finished": bool(summary), "decisions": summary.get("decisions"),
           "final_success_rate": summary.get("success_rate"), "final_greedy_success": summary.get("greedy_success"),
           **data, **evaluate.retained(run_dir, QUESTIONS, TEXT)}
    os.makedirs(per_run_dir(), exist_ok=True)
    atomic_write(path, json.dumps(row, indent=1))
    return row


def load_rows():
    d = per_run_dir()
    names = sorted(f for f in os.listdir(d) if f.endswith(".json")) if os.path.isdir(d) else []
    return [json.load(open(os.path.join(d, f))) for f in names]


def questions_needed(base, trained, points=TARGET_POINTS, alpha=ALPHA):
    """About how many questions a paired interval of half-width `points` needs at this pair's rate
    of disagreement (normal approximation: half-width = z * sd(trained_i - base_i) / sqrt(n)).
    None when the two never disagree (the interval has no width at any size)."""
    d = np.asarray(trained, dtype=float) - np.asarray(base, dtype=float)  # -1, 0 or 1 per question
    sd = float(d.std())
    if sd == 0:
        return None
    z = statistics.NormalDist().inv_cdf(1 - alpha / 2)
    return math.ceil((z * sd / (points / 100)) ** 2)


def report(rows, command="python bench/retained.py --report"):
    """retained.json's dict from the per-run rows; refuses (exit 2) rows that cannot be compared."""
    if not rows:
        fail(f"no per-run results in {where(per_run_dir())}: run python bench/retained.py RUN_DIR first")
    first = rows[0]
    for r in rows[1:]:  # the paired bootstrap needs the same questions, in the same order, everywhere
        if r["questions_sha256"] != first["questions_sha256"] or r["categories"] != first["categories"]:
            fail(f"{r['run']} and {first['run']} were evaluated on different questions")
    categories = first["categories"]
    n = len(categories)
    results = {"command": command,
               "questions": first["questions"], "questions_sha256": first["questions_sha256"],
               "text": first["text"], "n_questions": n,
               "category_counts": {c: categories.count(c) for c in dict.fromkeys(categories)},
               "bootstrap": {"reps": REPS, "seed": SEED, "level": 1 - ALPHA, "stratified_by": "category",
                             "paired": "the same resampled questions for base and trained"},
               "target_points": TARGET_POINTS, "base": {}, "agents": {}}
    for model in dict.fromkeys(r["model"] for r in rows):
        runs = [r for r in rows if r["model"] == model]
        base = runs[0]["base"]
        for r in runs[1:]:  # the adapter off is the same model in every run: check it
            differ = sum(x != y for x, y in zip(r["base"]["correct"], base["correct"]))
            if differ:
                fail(f"base model {model!r} answers {differ} questions differently in {r['run']} and "
                     f"{runs[0]['run']} (dtype {r.get('dtype')} / {runs[0].get('dtype')}): not one base model")
            if not math.isclose(r["base"]["perplexity"], base["perplexity"], rel_tol=1e-3):
                fail(f"base model {model!r} has perplexity {r['base']['perplexity']:.4f} in {r['run']} and "
                     f"{base['perplexity']:.4f} in {runs[0]['run']}: not one base model")
        for r in runs:
            pb = stats.paired_bootstrap(base["correct"], r["trained"]["correct"], categories, reps=REPS,
                                        alpha=ALPHA, seed=SEED)
            if model not in results["base"]:  # the same draws for every agent, so the same interval
                acc, low, high = pb["a"]
                results["base"][model] = {"mc_accuracy": acc, "mc_accuracy_ci": [low, high],
                                          "by_category": base["by_category"], "perplexity": base["perplexity"],
                                          "runs": [x["run"] for x in runs]}
            acc, low, high = pb["b"]
            # in points, rounded: a difference of exactly 1 point must not compare as 1.0000000000000002
            diff, dlow, dhigh = (round(100 * v, 10) for v in pb["diff"])
            b, t = np.asarray(base["correct"]), np.asarray(r["trained"]["correct"])
            results["agents"][r["run"]] = {
                **{k: r.get(k) for k in ("run_dir", "model", "env", "task", "norm", "seed", "finished", "decisions",
                                         "final_success_rate", "final_greedy_success")},
                "mc_accuracy": acc, "mc_accuracy_ci": [low, high], "by_category": r["trained"]["by_category"],
                "perplexity": r["trained"]["perplexity"], "perplexity_base": base["perplexity"],
                "diff_points": diff, "diff_ci_points": [dlow, dhigh],
                "diff_ci_half_width_points": round((dhigh - dlow) / 2, 10),
                # the questions the two disagree on: all the paired difference is made of
                "only_trained_right": int(np.sum((t == 1) & (b == 0))),
                "only_base_right": int(np.sum((b == 1) & (t == 0))),
                "within_target": abs(diff) <= TARGET_POINTS,
                "ci_within_target": -TARGET_POINTS <= dlow and dhigh <= TARGET_POINTS,
                "questions_for_half_width_target": questions_needed(b, t),
            }
    agents = results["agents"].values()
    results["summary"] = {"agents": len(agents), "within_target": sum(a["within_target"] for a in agents),
                          "ci_within_target": sum(a["ci_within_target"] for a in agents),
                          "half_width_points": [min(a["diff_ci_half_width_points"] for a in agents),
                                                max(a["diff_ci_half_width_points"] for a in agents)]}
    return results


def pct(x):
    return f"{100 * x:.1f} %"


def markdown(res):
    n, s, t = res["n_questions"], res["summary"], res["target_points"]
    counts = ", ".join(f"{c} {k}" for c, k in res["category_counts"].items())
    md = ["# bench/retained.py results (generated)\n",
          f"Multiple-choice accuracy on {n} questions (`{res['questions']}`: {counts}); 95 % intervals from "
          f"{res['bootstrap']['reps']:,} bootstrap resamples of the questions within their category (seed "
          f"{res['bootstrap']['seed']}). The difference is paired: the same resampled questions for the base "
          f"model and the agent. Perplexity of `{res['text']}`. Target: every trained agent within {t:g} point "
          "of the base model.\n",
          "### base model (adapter off)\n",
          "| model | accuracy | 95 % interval | perplexity | runs |", "| --- | --- | --- | --- | --- |",
          *[f"| {m} | {pct(b['mc_accuracy'])} | {pct(b['mc_accuracy_ci'][0])} - {pct(b['mc_accuracy_ci'][1])} | "
            f"{b['perplexity']:.2f} | {len(b['runs'])} |" for m, b in res["base"].items()],
          "\n### trained agents (adapter on)\n",
          "| run | task | seed | final sampled success | accuracy | 95 % interval | trained - base (points) | "
          f"95 % interval | half-width | only trained / only base right | within {t:g} point | interval within "
          f"+-{t:g} | perplexity (base) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, a in res["agents"].items():
        learnt = pct(a["final_success_rate"]) if a["final_success_rate"] is not None else "unfinished"
        md.append(f"| {name} | {a['task']} | {a['seed']} | {learnt} | {pct(a['mc_accuracy'])} | "
                  f"{pct(a['mc_accuracy_ci'][0])} - {pct(a['mc_accuracy_ci'][1])} | {a['diff_points']:+.2f} | "
                  f"{a['diff_ci_points'][0]:+.2f} to {a['diff_ci_points'][1]:+.2f} | "
                  f"{a['diff_ci_half_width_points']:.2f} | "
                  f"{a['only_trained_right']} / {a['only_base_right']} | {'yes' if a['within_target'] else 'no'} | "
                  f"{'yes' if a['ci_within_target'] else 'no'} | {a['perplexity']:.2f} ({a['perplexity_base']:.2f}) |")
    cats = list(res["category_counts"])
    md += ["\n### accuracy per category\n",
           "| | " + " | ".join(f"{c} ({res['category_counts'][c]})" for c in cats) + " |",
           "| --- |" + " --- |" * len(cats),
           *[f"| base {m} | " + " | ".join(pct(b["by_category"][c]) for c in cats) + " |"
             for m, b in res["base"].items()],
           *[f"| {name} | " + " | ".join(pct(a["by_category"][c]) for c in cats) + " |"
             for name, a in res["agents"].items()]]
    md.append(f"\nPoint difference within {t:g} point of the base model: {s['within_target']} of {s['agents']} "
              f"agents. Whole 95 % interval within +-{t:g} point: {s['ci_within_target']} of {s['agents']}.")
    # an interval wider than the target band cannot fit in it, whatever the point difference
    wide = [a for a in res["agents"].values() if a["diff_ci_half_width_points"] > t]
    half = [a["diff_ci_half_width_points"] for a in res["agents"].values()]
    md.append(f"The paired interval's half-width is {min(half):.2f} to {max(half):.2f} points" + (
        f". For {len(wide)} of {s['agents']} agents it is over {t:g} point, so with {n} questions their interval cannot "
        f"lie within +-{t:g} point whatever the difference: these questions cannot show the target for them with "
        "95 % confidence." if wide else f", under {t:g} point for every agent."))
    need = [a["questions_for_half_width_target"] for a in wide if a["questions_for_half_width_target"]]
    if need:
        md.append(f"At those agents' rates of disagreement with the base model a half-width of {t:g} point would take "
                  f"about {min(need):,} to {max(need):,} questions (normal approximation).")
    return "\n".join(md) + "\n"


def write_report(command):
    res = report(load_rows(), command)
    md = markdown(res)
    atomic_write(os.path.join(RESULTS, "retained.json"), json.dumps(res, indent=1))
    atomic_write(os.path.join(RESULTS, "retained.md"), md)
    print(md)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR",
                   help="run directories written by run.py (with a checkpoint)")
    p.add_argument("--report", action="store_true", help="only rebuild retained.json and .md from the per-run files")
    a = p.parse_args(argv)
    if a.report == bool(a.run_dirs):
        p.error("give run directories, or --report alone")
    check_runs(a.run_dirs)
    for d in a.run_dirs:
        measure(d)
    return write_report("python bench/retained.py " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main(sys.argv[1:])
