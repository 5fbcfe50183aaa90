# Scratch measurement (kept as run): the untrained model along each shortest plan, with other
# descriptions of chopped food. python bench/results/defaults-search/probe_wording.py
import sys, json, torch
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__import__("os").path.abspath(__file__)), "..", "..", ".."))
import prompts, llm_policy
from overcooked_env import OvercookedEnv, oracle_plan
torch.set_num_threads(1)
model, tok = llm_policy.load_model("gemma3-270m")
orig = prompts._oc_thing
def make(chopped, raw):
    def thing(t, bowl="bowl"):
        if t["name"] == "plate":
            return orig(t, bowl)
        return (chopped if t["chopped"] else raw).format(food=t["name"])
    return thing
WORDINGS = {
  "current": None,
  "already": ("a {food} that is already chopped", "a whole {food} that is not chopped yet"),
  "ready": ("a chopped {food}, ready to go in the bowl", "an unchopped {food}"),
  "sliced": ("a {food} already cut into pieces", "a whole {food}"),
}
for name, w in WORDINGS.items():
    prompts._oc_thing = orig if w is None else make(*w)
    for task in ("tomato", "tomato-lettuce"):
        env = OvercookedEnv(task); obs, info = env.reset(); plan = oracle_plan(env)
        ps = []
        for a in plan:
            k = info["action_ids"].index(a)
            with torch.no_grad():
                lp, nt, nw = llm_policy.action_logprobs(model, tok, [info["prompt"]], [info["action_texts"]])
                p = llm_policy.normalize(lp, nt, nw, "word").softmax(-1)[0]
            ps.append((round(float(p[k]), 2), int(p.argmax()) == k))
            obs, r, te, tr, info = env.step(a)
        print(name, task, "P(plan action):", [x for x, _ in ps], "argmax follows plan at", sum(g for _, g in ps), "/", len(ps), flush=True)
