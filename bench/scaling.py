"""Benchmark: training throughput (decisions per second) with 1 and 2 processes (torchrun).

Each configuration trains one update of Food Preparation with the default model and reports
the update's decisions per second (rollout + PPO update, run.py's charts/decisions_per_s). On
the 2-core CI machine the comparison is 1 process x 2 threads against 2 processes x 1 thread;
with a GPU (`--cuda`), one process with `--device cuda` is added.

    python bench/scaling.py            # writes bench/results/scaling.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from run import atomic_write  # noqa: E402

RESULT = os.path.join(ROOT, "bench", "results", "scaling.json")


def throughput(launcher, extra, steps, model):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        cmd = [*launcher, os.path.join(ROOT, "run.py"), "--env", "virtualhome", "--task", "food", "--model", model,
               "--steps", str(steps), "--eval-every", "0", "--eval-episodes", "0", "--out", out, *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        rows = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
        return rows[-1]["charts/decisions_per_s"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="gemma3-270m")
    p.add_argument("--cuda", action="store_true", help="also measure one process with --device cuda")
    a = p.parse_args()
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    res = {"model": a.model, "task": "food", "decisions_per_update": {"1 process": 128, "2 processes": 256}}
    res["1 process x 2 threads"] = round(throughput([sys.executable], ["--threads", "2"], 128, a.model), 3)
    res["2 processes x 1 thread"] = round(throughput([*torchrun, "2"], ["--threads", "1"], 256, a.model), 3)
    res["ratio_2_over_1"] = round(res["2 processes x 1 thread"] / res["1 process x 2 threads"], 2)
    if a.cuda:
        res["1 process cuda"] = round(throughput([sys.executable], ["--device", "cuda"], 128, a.model), 3)
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    atomic_write(RESULT, json.dumps(res, indent=1))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
