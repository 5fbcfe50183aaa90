# python bench/results/defaults-search/probe_chop.py  (from the repository root; output: probe_chop.txt)
# The untrained model along each Overcooked shortest plan, with the chop slot saying "chop nothing"
# in front of an already chopped food (the original says "chop the <food>").
import sys, os, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import prompts, llm_policy
from overcooked_env import OvercookedEnv, oracle_plan
torch.set_num_threads(1)
model, tok = llm_policy.load_model("gemma3-270m")
orig = prompts.overcooked_action_texts
def fixed(view, variant="good"):
    texts = orig(view, variant)
    board = view["board_contents"][view["at_board"] - 1] if view["at_board"] else None
    if board and board["name"] != "plate" and board["chopped"]:
        texts[-1] = "chop nothing"
    return texts
for name, fn in (("current", orig), ("chop-nothing", fixed)):
    prompts.overcooked_action_texts = fn
    for task in ("tomato", "tomato-lettuce"):
        env = OvercookedEnv(task); obs, info = env.reset(); plan = oracle_plan(env)
        ps = []
        for a in plan:
            k = info["action_ids"].index(a)
            with torch.no_grad():
                lp, nt, nw = llm_policy.action_logprobs(model, tok, [info["prompt"]], [info["action_texts"]])
                p = llm_policy.normalize(lp, nt, nw, "word").softmax(-1)[0]
            ps.append((round(float(p[k]), 2), int(p.argmax()) == k, info["action_texts"][int(p.argmax())]))
            obs, r, te, tr, info = env.step(a)
        print(name, task, "P(plan action):", [x for x, _, _ in ps], "argmax follows plan at", sum(g for _, g, _ in ps), "/", len(ps), "argmax:", [t for _, _, t in ps], flush=True)
