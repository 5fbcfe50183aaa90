"""Time LoRA forward+backward of a policy loss over N distinct states in micro-batches of size M."""
import json, os, random, resource, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import torch, numpy as np
torch.set_num_threads(2)
import llm_policy, run, overcooked_env as oe, virtualhome_env as ve
task, env_name, n_states, M = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
args = run.Args(env=env_name, task=task)
# collect distinct states by a uniform random walk
env = run.make_env(args) if hasattr(run, "make_env") else None
rng = random.Random(0); seen = {}
obs, info = env.reset(); info = run.with_obs(obs, info)
while len(seen) < n_states:
    s = run.state_of(info); seen.setdefault(s, None)
    obs, r, term, trunc, info = env.step(rng.choice(info["action_ids"])); info = run.with_obs(obs, info)
    if term or trunc:
        obs, info = env.reset(); info = run.with_obs(obs, info)
states = list(seen)
model, tok = llm_policy.load_model("gemma3-270m")
torch.manual_seed(0)
agent = llm_policy.LLMAgent(model, tok, norm="word")
for p in agent.actor_parameters():  # a non-zero LoRA
    p.data.normal_(0, 0.01)
params = list(agent.actor_parameters())
def step():
    for p in params: p.grad = None
    for i in range(0, len(states), M):
        mb = states[i:i + M]
        logits = agent.policy_logits(mb)
        lp = torch.log_softmax(logits, -1)[:, 0]
        (lp.sum() / len(states)).backward()
    return torch.cat([p.grad.flatten() for p in params])
g = step()  # warm-up
ts = []
for _ in range(2):
    t = time.perf_counter(); g = step(); ts.append(time.perf_counter() - t)
print(json.dumps({"task": task, "states": len(states), "M": M, "s_per_state": min(ts) / len(states),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "grad_norm": g.norm().item(), "grad_head": g[:3].tolist()}))

