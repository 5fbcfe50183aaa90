# Scratch measurement (kept as run): the untrained model along each shortest plan, with other
# open endings. python bench/results/defaults-search/probe_slot.py "your next step is to" "you should now" "what you do next is to"
import sys, json, torch
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__import__("os").path.abspath(__file__)), "..", "..", ".."))
import prompts, llm_policy, run
from overcooked_env import OvercookedEnv, oracle_plan as oc_plan
from virtualhome_env import VirtualHomeEnv, oracle_plan as vh_plan
torch.set_num_threads(1)
model, tok = llm_policy.load_model("gemma3-270m")
orig_oc = prompts.overcooked_prompt
orig_vh = prompts.virtualhome_prompt
ENDINGS = sys.argv[1:]
def probe(name, task, env, plan_fn):
    obs, info = env.reset(); plan = plan_fn(env); ps = []
    for a in plan:
        k = info["action_ids"].index(a)
        with torch.no_grad():
            lp, nt, nw = llm_policy.action_logprobs(model, tok, [info["prompt"]], [info["action_texts"]])
            p = llm_policy.normalize(lp, nt, nw, "word").softmax(-1)[0]
        ps.append((round(float(p[k]), 2), int(p.argmax()) == k))
        obs, r, te, tr, info = env.step(a)
    import math
    print(f"{name:28s} {task:15s} mean logP {sum(math.log(x+1e-9) for x,_ in ps)/len(ps):6.2f} argmax {sum(g for _, g in ps)}/{len(ps)}", [x for x, _ in ps], flush=True)
for ending in ["current"] + ENDINGS:
    if ending != "current":
        prompts.overcooked_prompt = lambda v, variant="good", e=ending: orig_oc(v, variant).rsplit(",", 1)[0] + ", " + e
        prompts.virtualhome_prompt = lambda v, variant="good", e=ending: orig_vh(v, variant).rsplit(",", 1)[0] + ", " + e
    for task in ("tomato", "tomato-lettuce"):
        probe(ending, task, OvercookedEnv(task), oc_plan)
    for task in ("food", "entertainment"):
        probe(ending, task, VirtualHomeEnv(task), vh_plan)
