"""Sampled success of Entertainment's untrained policy and of a checkpoint, many episodes."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository
import torch
import run
torch.set_num_threads(2)
ckpts = sys.argv[2:]
n = int(sys.argv[1])
args = run.check_args(run.parse_args(["--env", "virtualhome", "--task", "entertainment"]))
agent = run.load_agent_for(args)
for name in ["untrained"] + ckpts:
    if name != "untrained":
        agent = run.load_agent_for(args, name)
    t = time.time()
    ev = run.evaluate(agent, args, n, seed=12345)
    print(name, f"sampled {ev['success_rate']:.4f} over {n} episodes, greedy {ev['greedy_success']}, {time.time()-t:.0f} s", flush=True)
