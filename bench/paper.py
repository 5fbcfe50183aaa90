"""Benchmark: the paper's four claims (Tan et al., ICLR 2024, section 5), each with its own
measured numbers, in one resumable harness.

Stages (run them all, or some with --stages):
  grid        4 tasks x {twosome word, token, none, ppo, saycan, random} x seeds, each one run.py
              subprocess in bench/runs/<task>-<method>-s<seed> (gitignored). Claims (i) and (ii).
  ablation    TWOSOME (word) on Food Preparation with each principle-breaking prompt of prompts.py.
  generalise  each Food- and each Entertainment-trained agent (word, every seed) on every other
              VirtualHome task, against SayCan on the same prompts (evaluate.py). (iii)
  retained    multiple-choice accuracy and held-out perplexity, base model against each trained
              agent, word, every seed (evaluate.py). (iv)
  report      bench/results/paper.json, paper.md (the tables) and paper-<task>.png (the curves)
              from whatever has finished.
A finished run (summary.json) is kept; an interrupted one resumes from its checkpoint; so the
grid can be completed over several sittings, a few runs at a time:
    python bench/paper.py                                         # everything, in priority order
    python bench/paper.py --stages grid --tasks food --methods word ppo saycan random
    python bench/paper.py --stages report                         # tables and plots only

Budgets (decisions; every run also stops once its greedy policy succeeds, --stop-at-greedy 0.9).
The LLM budgets are what a 2-core CPU trains in 10-40 minutes per run; PPO from scratch costs
milliseconds per decision, so it gets ten times more, which is what claim (i) needs to be tested.
"""
import argparse
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np

from learning import run as launch  # run.py to completion, its JSON summary (bench/ is on sys.path)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from prompts import VARIANTS as PROMPTS  # noqa: E402
from run import atomic_write, checkpoint_of  # noqa: E402
RUNS = os.path.join(ROOT, "bench", "runs")  # gitignored: checkpoints are large
RESULTS = os.path.join(ROOT, "bench", "results")
TASKS = {  # env, LLM budget, PPO-from-scratch budget, optimal logged return (the oracle's, python baselines.py)
    "food": ("virtualhome", 3_000, 30_000, 0.7738),
    "tomato": ("overcooked", 5_000, 50_000, 0.9205),
    "entertainment": ("virtualhome", 5_000, 50_000, 0.5987),
    "tomato-lettuce": ("overcooked", 5_000, 50_000, 0.9477),
}
METHODS = {
    "word": ["--algo", "twosome", "--norm", "word"],
    "token": ["--algo", "twosome", "--norm", "token"],
    "none": ["--algo", "twosome", "--norm", "none"],
    "ppo": ["--algo", "ppo"],
    "saycan": ["--algo", "saycan", "--norm", "word"],
    "random": ["--algo", "random"],
}
LLM_TRAINED = ("word", "token", "none")
UNTRAINED = ("saycan", "random")  # evaluated as they are: a level, not a learning curve
VARIANTS = tuple(v for v in PROMPTS if v != "good")  # the others: four break a principle each, here-first keeps them
EVAL_EPISODES = 20


def run_dir_of(task, method, seed, variant="good"):
    # The same names as bench/learning.py, so its Food and Tomato runs count here too.
    return os.path.join(RUNS, f"{task}-{method}{'' if variant == 'good' else '-' + variant}-s{seed}")


GENERALISE_FROM = ("food", "entertainment")  # whose trained agents are tested on the other VirtualHome tasks


def eval_file_of(kind, task, seed):
    """evaluate.py's result ("generalise" or "retained") for the word agent of (task, seed)."""
    return os.path.join(RESULTS, f"{kind}-{task}-s{seed}.json")


def finished(run_dir):
    return os.path.exists(os.path.join(run_dir, "summary.json"))


def ensure(task, method, seed, model, variant="good"):
    """Train or evaluate one cell unless it has finished; resume it if it was interrupted."""
    env, llm_budget, ppo_budget, _ = TASKS[task]
    d = run_dir_of(task, method, seed, variant)
    if finished(d):
        return
    log = d + ".log"
    print(f"{os.path.basename(d)}: ", end="", flush=True)
    if checkpoint_of(d):
        print("resuming", flush=True)
        s = launch(["--resume", d], log)
    else:
        if os.path.exists(d):  # killed before its first checkpoint: start over
            shutil.rmtree(d)
        steps = ppo_budget if method == "ppo" else llm_budget
        print("evaluating" if method in UNTRAINED else f"training {steps:,} decisions", flush=True)
        s = launch(["--env", env, "--task", task, *METHODS[method], "--model", model, "--variant", variant,
                    "--seed", str(seed), "--steps", str(steps), "--stop-at-greedy", "0.9",
                    "--eval-episodes", str(EVAL_EPISODES), "--out", d,
                    *(["--threads", "1"] if method in ("ppo", "random") else [])], log)  # MLPs gain nothing from 2
    print(f"  greedy {s['greedy_success']:.0%}, sampled {s['success_rate']:.0%}, return {s['mean_return']:+.3f}, "
          f"{s['decisions']:,} decisions, {s['wall_s']:.0f} s", flush=True)


def evaluate_py(args, out):
    """evaluate.py with --json: skipped when its result file exists (delete it to redo)."""
    if os.path.exists(out):
        return
    print(f"evaluate.py {' '.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, "evaluate.py", *args, "--json", out], cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"evaluate.py {' '.join(args)} failed with code {proc.returncode}")


# ------------------------------------------------------------------------------ the report
def cell(task, method, seeds, variant="good"):
    """Per-seed results of one finished cell: the curve and the numbers of the summary table."""
    out = []
    for seed in seeds:
        d = run_dir_of(task, method, seed, variant)
        if not finished(d):
            continue
        s = json.load(open(os.path.join(d, "summary.json")))
        rows = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl"))]
        hit = next((r["decisions"] for r in rows if r.get("eval/greedy_success", 0) >= 0.9), None)
        # Sampled success over the last 20 rollout episodes (once 20 have finished): the greedy
        # criterion is harsh in deterministic envs, where one near-tie no-op loops forever.
        hit_s = next((r["decisions"] for r in rows if r["episodes"] >= 20 and r["charts/success_rate"] >= 0.9), None)
        trained = method not in UNTRAINED
        out.append({"seed": seed, "decisions_to_90": hit if trained else None,
                    "decisions_to_90_sampled": hit_s if trained else None,
                    "greedy_success": s["greedy_success"], "success_rate": s["success_rate"],
                    "mean_return": s["mean_return"], "return_vs_optimum": s["mean_return"] / TASKS[task][3],
                    "decisions": s["decisions"], "wall_s": round(s["wall_s"], 1),
                    # the policy's entropy (nats) in the first and the last update: how spread the
                    # prior is over the valid actions, and how far training narrowed it
                    "entropy_first_update": rows[0].get("losses/entropy"), "entropy_last_update": rows[-1].get("losses/entropy"),
                    "curve": [(r["decisions"], r["charts/success_rate"], r["charts/episodic_return"],
                               r.get("eval/greedy_success")) for r in rows]})
    return out


def summarise(runs):
    """Mean over the finished seeds; decisions to 90 % only if every seed got there."""
    if not runs:
        return None
    hits = [r["decisions_to_90"] for r in runs]
    hits_s = [r["decisions_to_90_sampled"] for r in runs]
    return {"seeds": len(runs), "decisions_to_90": float(np.mean(hits)) if all(h is not None for h in hits) else None,
            "solved_seeds": sum(h is not None for h in hits),
            "decisions_to_90_sampled": float(np.mean(hits_s)) if all(h is not None for h in hits_s) else None,
            "solved_seeds_sampled": sum(h is not None for h in hits_s),
            **{k: float(np.mean([r[k] for r in runs])) for k in ("greedy_success", "success_rate", "mean_return",
                                                                    "return_vs_optimum", "wall_s")}}


def fmt_row(name, s):
    if s is None:
        return f"| {name} | not run | | | | | | |"

    def hit(key, solved):
        if name in UNTRAINED:
            return "untrained"
        return f"{s[key]:,.0f}" if s[key] is not None else f"not reached ({s[solved]}/{s['seeds']} seeds)"
    return (f"| {name} | {s['seeds']} | {hit('decisions_to_90', 'solved_seeds')} | "
            f"{hit('decisions_to_90_sampled', 'solved_seeds_sampled')} | {s['greedy_success']:.0%} | {s['success_rate']:.0%} | "
            f"{s['mean_return']:+.3f} ({s['return_vs_optimum']:.0%}) | {s['wall_s']:,.0f} |")


HEADER = ("| method | seeds | decisions to 90 % greedy | decisions to 90 % sampled | final greedy | final sampled | "
          "return (of optimum) | wall s |\n| --- | --- | --- | --- | --- | --- | --- | --- |")


def plot(task, cells, path):
    """Sampled success and discounted return against decisions, mean over seeds, shaded min-max."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"word": "C0", "token": "C1", "none": "C2", "ppo": "C3", "saycan": "C4", "random": "0.5"}
    for method, runs in cells.items():
        if not runs:
            continue
        color = colors[method]
        for ax, j in zip(axes, (1, 2)):
            if method in UNTRAINED:
                ax.axhline(np.mean([r["curve"][0][j] for r in runs]), color=color, ls="--", label=method)
                continue
            # A run that stopped early (solved) holds its last value to the longest run's end.
            longest = max(runs, key=lambda r: len(r["curve"]))["curve"]
            x, n = np.array([c[0] for c in longest]), len(longest)
            y = np.array([[r["curve"][min(t, len(r["curve"]) - 1)][j] for t in range(n)] for r in runs])  # (seeds, n)
            # word wide and token dashed on top: with Gemma 3 the two coincide (bench/tokens.py)
            style = {"word": {"lw": 3.5, "alpha": 0.6}, "token": {"ls": "--"}}.get(method, {})
            ax.plot(x, y.mean(0), color=color, label=method if method != "word" else "twosome (word)", **style)
            ax.fill_between(x, y.min(0), y.max(0), color=color, alpha=0.2)
    axes[1].axhline(TASKS[task][3], color="k", ls=":", label="oracle")
    for ax, label in zip(axes, ("sampled success (last 20 episodes)", "discounted return")):
        ax.set_xscale("log")
        ax.set_xlabel("decisions (log scale)")
        ax.set_ylabel(label)
    axes[0].set_title(f"{task}: mean over seeds, shaded min-max")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=90)
    plt.close(fig)
    atomic_write(path, png.getvalue())


def report(a):
    results, md = {"budgets": {t: {"llm": v[1], "ppo": v[2]} for t, v in TASKS.items()}}, []
    for task in TASKS:
        cells = {m: cell(task, m, a.llm_seeds if m in LLM_TRAINED else a.seeds) for m in METHODS}
        if not any(cells.values()):
            continue
        results[task] = {m: {"summary": summarise(r), "runs": r} for m, r in cells.items()}
        md += [f"\n### {task} (LLM budget {TASKS[task][1]:,}, PPO {TASKS[task][2]:,} decisions; optimum return "
               f"{TASKS[task][3]})\n", HEADER, *[fmt_row(m, results[task][m]["summary"]) for m in METHODS]]
        plot(task, cells, os.path.join(RESULTS, f"paper-{task}.png"))
    abl = {v: summarise(cell("food", "word", a.llm_seeds[:1], v)) for v in ("good", *VARIANTS)}
    if any(s for v, s in abl.items() if v != "good"):
        results["ablation"] = abl
        md += ["\n### prompt ablation (food, word)\n", HEADER.replace("method", "prompt"),
               *[fmt_row(v, s) for v, s in abl.items()]]
    # the generalise-/retained- results of the --llm-seeds agents that exist (as for the grid's cells)
    evals = {(kind, task, seed): json.load(open(eval_file_of(kind, task, seed)))
             for kind, tasks in (("generalise", GENERALISE_FROM), ("retained", TASKS))
             for task in tasks for seed in a.llm_seeds if os.path.exists(eval_file_of(kind, task, seed))}
    results |= {f"{kind}-{task}-s{seed}": r for (kind, task, seed), r in evals.items()}
    for src, seed, g in [(t, seed, r) for (kind, t, seed), r in evals.items() if kind == "generalise"]:
        md += [f"\n### zero-shot generalisation of the agent trained on {src}, seed {seed} ({EVAL_EPISODES} sampled episodes)\n",
               "| task | TWOSOME greedy | TWOSOME sampled | SayCan greedy | SayCan sampled |", "| --- | --- | --- | --- | --- |",
               *[f"| {t} | {r['twosome']['greedy_success']:.0%} | {r['twosome']['success_rate']:.0%} | "
                 f"{r['saycan']['greedy_success']:.0%} | {r['saycan']['success_rate']:.0%} |"
                 for t, r in g.items() if isinstance(r, dict) and "twosome" in r]]
    kept = [(t, seed, r) for (kind, t, seed), r in evals.items() if kind == "retained"]
    if kept:
        md += ["\n### retained language ability (base model = adapter off)\n",
               "| agent trained on | seed | questions | accuracy base | accuracy trained | perplexity base | perplexity trained |",
               "| --- | --- | --- | --- | --- | --- | --- |",
               *[f"| {t} | {seed} | {r['n_questions']} | {r['base']['mc_accuracy']:.1%} | {r['trained']['mc_accuracy']:.1%} | "
                 f"{r['base']['perplexity']:.2f} | {r['trained']['perplexity']:.2f} |" for t, seed, r in kept]]
    atomic_write(os.path.join(RESULTS, "paper.json"), json.dumps(results, indent=1))
    atomic_write(os.path.join(RESULTS, "paper.md"), "# bench/paper.py results (generated)\n" + "\n".join(md) + "\n")
    print("\n".join(md))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stages = ("grid", "ablation", "generalise", "retained", "report")
    p.add_argument("--stages", nargs="+", default=list(stages), choices=stages)
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds of ppo, saycan and random")
    p.add_argument("--llm-seeds", nargs="+", type=int, default=[1, 2], help="seeds of the trained LLM agents")
    p.add_argument("--model", default="gemma3-270m")
    a = p.parse_args()
    os.makedirs(RUNS, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    if "grid" in a.stages:
        # Priority order, so that a partial grid answers the most: the cheap cells of every task,
        # then TWOSOME (word) seed by seed, then the other normalisations.
        for task in a.tasks:
            for m in [m for m in a.methods if m not in LLM_TRAINED]:
                for seed in a.seeds:
                    ensure(task, m, seed, a.model)
        for m in [m for m in LLM_TRAINED if m in a.methods]:
            for seed in a.llm_seeds:
                for task in a.tasks:
                    ensure(task, m, seed, a.model)
    if "ablation" in a.stages:
        for v in VARIANTS:
            ensure("food", "word", a.llm_seeds[0], a.model, v)
    # Generalisation and retained ability of each trained TWOSOME (word) agent, seed by seed: an
    # agent that never saw a reward says little, so the seeds that learnt are the ones to read.
    if "generalise" in a.stages:
        for task in [t for t in GENERALISE_FROM if t in a.tasks]:
            for seed in a.llm_seeds:
                d = run_dir_of(task, "word", seed)
                if finished(d):
                    evaluate_py(["generalise", d, "--episodes", str(EVAL_EPISODES)],
                                eval_file_of("generalise", task, seed))
                else:
                    print(f"generalise: {os.path.basename(d)} has not finished; skipped", flush=True)
    if "retained" in a.stages:
        for task in a.tasks:
            for seed in a.llm_seeds:
                d = run_dir_of(task, "word", seed)
                if finished(d):
                    evaluate_py(["retained", d], eval_file_of("retained", task, seed))
    if "report" in a.stages:
        report(a)


if __name__ == "__main__":
    main()
