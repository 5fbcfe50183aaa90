# python bench/results/defaults-search/greedy_trace.py RUN_DIR [N]  (from the repository root)
# Updated to the current run.py API (the traces in greedy-traces.txt were made with the version of commit 214bb32).
# Greedy episode of a saved run: the first N decisions, each with its top actions.
import sys, os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import torch, run, watch
torch.set_num_threads(1)
run_dir, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 14
args = run.check_args(run.parse_args(["--watch", run_dir]))  # the run's own env, task, model and norm
agent = run.load_agent_for(args, run.agent_dir(run_dir))
for s in watch.episode(agent, run.make_env(args), greedy=True, max_decisions=n):
    if s["chosen"] is None:
        print("end", s["success"]); break
    top = sorted(zip(s["probs"], s["actions"]), reverse=True)[:3]
    print(s["t"], "|", " ; ".join(f"{a} {p:.2f}" for p, a in top), "| reward", round(s["reward"], 3))
