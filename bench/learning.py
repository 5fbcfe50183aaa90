"""Benchmark: how many decisions and how much wall-clock time TWOSOME needs on a 2-core CPU.

Trains the default model (word normalisation) on Food Preparation and on Tomato Salad until
greedy success reaches 90 % (run.py --stop-at-greedy 0.9), then measures training throughput of
the fast path against the plain path (--no-fast) on the same settings, one update each, in
this one process's lifetime so that the ratio is fair on a noisy shared machine.
Each training run is a subprocess, so its peak resident memory is its own; an interrupted run
is resumed from its checkpoint when the benchmark is started again.

    python bench/learning.py                 # writes bench/results/learning.json
    python bench/learning.py --stages food throughput   # some stages only
Targets set for it: food within 3,000 decisions and 20 min; tomato within 5,000 decisions and
40 min; throughput >= 10x the plain path; peak RSS < 4 GB.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from run import TASK_ENV, atomic_write, checkpoint_of  # noqa: E402  (the module; `run` below is this file's launcher)

RUNS = os.path.join(ROOT, "bench", "runs")  # gitignored: checkpoints are large
RESULT = os.path.join(ROOT, "bench", "results", "learning.json")
TASKS = {"food": (3_000, 20 * 60), "tomato": (5_000, 40 * 60)}  # budget (decisions), time limit (s)


def run(cmd, log):
    """Run run.py to completion; return its JSON summary (the last line it prints) plus this run's
    own peak resident memory, peak_rss_mb (os.wait4 reports the child's rusage; Linux/macOS)."""
    os.makedirs(os.path.dirname(log), exist_ok=True)  # a fresh clone has no bench/runs/ yet
    with open(log, "a") as f:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "run.py"), *cmd], stdout=subprocess.PIPE,
                                stderr=f, text=True, cwd=ROOT)
        out = proc.stdout.read()  # until run.py exits and closes its end
        _, status, usage = os.wait4(proc.pid, 0)
        f.write(out)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"run.py {' '.join(cmd)} failed with code {code}; see {log}")
    # ru_maxrss is in KiB on Linux, bytes on macOS
    return {**json.loads(out.strip().splitlines()[-1]),
            "peak_rss_mb": round(usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10))}


def finished_or_run(run_dir, log, cmd, extra=None):
    """run_dir's summary: read if the run has finished; otherwise resume it from its checkpoint or,
    killed before its first one, start it over with cmd (its --out run_dir included). A run trained
    now gets its summary.json rewritten with this sitting's peak RSS (and `extra`)."""
    path = os.path.join(run_dir, "summary.json")
    if os.path.exists(path):
        return json.load(open(path))
    if checkpoint_of(run_dir):
        summary = run(["--resume", run_dir], log)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        summary = run(cmd, log)
    summary.update(extra or {})
    atomic_write(path, json.dumps(summary, indent=1))
    return summary


def save(results):
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    atomic_write(RESULT, json.dumps(results, indent=1))


def rows_of(run_dir):
    return [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--stages", nargs="+", default=[*TASKS, "throughput"], choices=[*TASKS, "throughput"],
                   help="what to (re)measure; the others keep their saved results")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model", default="gemma3-270m")
    a = p.parse_args()
    results = json.load(open(RESULT)) if os.path.exists(RESULT) else {}
    for task in [t for t in a.stages if t in TASKS]:
        env, (budget, limit_s) = TASK_ENV[task], TASKS[task]
        run_dir = os.path.join(RUNS, f"{task}-word-s{a.seed}")
        args = ["--env", env, "--task", task, "--model", a.model, "--seed", str(a.seed), "--steps", str(budget),
                "--stop-at-greedy", "0.9", "--eval-episodes", "20"]
        if checkpoint_of(run_dir):
            done = os.path.exists(os.path.join(run_dir, "summary.json"))
            summary = json.load(open(os.path.join(run_dir, "summary.json"))) if done else None
            if not done:
                summary = run(["--resume", run_dir], os.path.join(RUNS, f"{task}.log"))
        else:
            if os.path.exists(run_dir):  # a run killed before its first checkpoint: start over
                shutil.rmtree(run_dir)
            summary = run([*args, "--out", run_dir], os.path.join(RUNS, f"{task}.log"))
        # This run's peak RSS; a run finished in an earlier sitting keeps the figure saved then.
        peak_mb = summary.get("peak_rss_mb") or results.get(task, {}).get("peak_rss_mb_so_far")
        rows = rows_of(run_dir)
        hit = next((r for r in rows if r.get("eval/greedy_success", 0) >= 0.9), None)
        # Wall time to the hit: the sum of the per-update times up to it (what a resumed run kept).
        results[task] = {
            "budget": budget, "limit_s": limit_s,
            "decisions_to_90": hit["decisions"] if hit else None,
            "wall_s_to_90": round(hit["time/wall_s"], 1) if hit else None,
            "final": {k: summary[k] for k in ("greedy_success", "success_rate", "mean_return", "mean_length", "decisions", "wall_s")},
            "peak_rss_mb_so_far": peak_mb,
            "loadavg_15min_at_end": round(os.getloadavg()[2], 2),  # > 2 means the 2 cores were shared
            "curve": [(r["decisions"], r.get("eval/greedy_success"), r["charts/success_rate"]) for r in rows],
        }
        # The run's own per-update log (losses, KL, decisions/s) is kept beside the summary.
        os.makedirs(os.path.join(os.path.dirname(RESULT), "learning-runs"), exist_ok=True)
        shutil.copyfile(os.path.join(run_dir, "metrics.jsonl"),
                        os.path.join(os.path.dirname(RESULT), "learning-runs", f"{task}-word-s{a.seed}.jsonl"))
        print(task, json.dumps({k: v for k, v in results[task].items() if k != "curve"}), flush=True)
        save(results)  # after every stage: an interrupted benchmark keeps what it measured

    if "throughput" not in a.stages:
        return
    # Throughput: one update of the fast path against one of the plain path, same settings.
    dps, rss = {}, {}  # decisions/s and peak RSS (MB) of each path
    for fast in ("--fast", "--no-fast"):
        out = os.path.join(RUNS, f"throughput{fast}-{int(time.time())}")
        summary = run(["--env", "virtualhome", "--task", "food", "--model", a.model, "--steps", "128", "--eval-episodes", "0",
             "--eval-every", "0", fast, "--out", out], os.path.join(RUNS, "throughput.log"))
        dps[fast], rss[fast] = rows_of(out)[0]["charts/decisions_per_s"], summary["peak_rss_mb"]
    results["throughput"] = {"fast_dps": round(dps["--fast"], 3), "plain_dps": round(dps["--no-fast"], 3),
                             "ratio": round(dps["--fast"] / dps["--no-fast"], 2),
                             "peak_rss_mb_fast": rss["--fast"], "peak_rss_mb_plain": rss["--no-fast"]}
    # Peak RSS with the default (fast) path, over the training runs and the fast update; the plain
    # path scores every (state, action) pair in full and needs more (peak_rss_mb_plain above).
    results["peak_rss_mb"] = max([rss["--fast"]] + [results[t]["peak_rss_mb_so_far"] for t in TASKS if t in results])
    save(results)
    print(json.dumps({k: v for k, v in results.items() if k not in TASKS} |
                     {t: {k: v for k, v in results[t].items() if k != "curve"} for t in TASKS if t in results}))


if __name__ == "__main__":
    main()
