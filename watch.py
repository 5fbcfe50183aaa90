"""Watch an agent act, and see what RL changed in the LLM: pictures for a class.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), what its figures show: the LLM's
probability of every valid action at each step of an episode, and how training moved the
probability of the right action away from the untrained model's (SayCan's) prior.
  watch       one episode of an agent: at each decision the world (the env's render), the end of
              the prompt and a bar per valid action with the policy's probability; in the
              terminal, or as an animated GIF (matplotlib draws the frames, Pillow joins them).
              The pictures come back as a file's bytes; run.py writes them (atomically).
  alignment   policy.png: for each decision of the task's shortest plan, the probability that the
              untrained model (adapter off) and the trained agent (adapter on) put on the plan's
              action, side by side: the figure to point at when explaining what RL did.
Try it:
    python run.py --watch runs/<run>                     # in the terminal
    python run.py --watch runs/<run> --gif episode.gif   # as a GIF
    python watch.py                                       # the untrained model on Tomato Salad
"""
import contextlib
import io
import textwrap

import numpy as np
import torch


def episode(agent, env, greedy=False, seed=0, max_decisions=None):
    """Play one episode from reset; yield one dict per decision (and a last one with the end):
    frame (the env's render), prompt, actions, probs (K,), chosen index, reward, done, success."""
    gen = torch.Generator().manual_seed(seed)
    obs, info = env.reset()
    t = 0
    while True:
        state = (info["prompt"], tuple(info["action_texts"]))
        with torch.no_grad():
            probs = agent.policy_logits([state])[0].float().softmax(-1).cpu()  # (K,)
        k = int(probs.argmax()) if greedy else int(torch.multinomial(probs, 1, generator=gen))
        step = {"t": t, "frame": env.render(), "prompt": info["prompt"], "actions": list(info["action_texts"]),
                "probs": probs.numpy(), "chosen": k}
        obs, reward, term, trunc, info = env.step(info["action_ids"][k])
        t += 1
        step.update(reward=float(reward), done=bool(term or trunc), success=bool(info["success"]))
        yield step
        if step["done"] or (max_decisions is not None and t >= max_decisions):
            yield {"t": t, "frame": env.render(), "prompt": info["prompt"], "actions": [], "probs": np.zeros(0),
                   "chosen": None, "reward": 0.0, "done": True, "success": bool(info["success"]),
                   "cut": not step["done"]}  # stopped by max_decisions, not by the env
            return


def bars(actions, probs, chosen=None, width=30):
    """One line per valid action: a bar as long as its probability, the chosen one marked."""
    lines = []
    for k, (a, p) in enumerate(zip(actions, probs)):
        bar = "#" * int(round(p * width))
        lines.append(f"  {a:<38.38s} {bar:<{width}s} {p:6.1%}" + ("  <- chosen" if k == chosen else ""))
    return "\n".join(lines)


def show(steps, out=print):
    """The terminal version: for each decision, the text frame, the prompt's end and the bars."""
    for s in steps:
        frame = s["frame"] if isinstance(s["frame"], str) else ""
        out(f"\n=== decision {s['t']}\n{frame}")
        if s["chosen"] is None:
            out("success!" if s["success"] else f"stopped after {s['t']} decisions" if s.get("cut")
                else "episode over (time limit)")
            return
        out("..." + s["prompt"][-150:])
        out(bars(s["actions"], s["probs"], s["chosen"]))
        out(f"reward {s['reward']:+.4f}")


def _draw(fig, s, title):
    """One GIF frame: the world on the left (a picture, or the text render), bars on the right."""
    fig.clf()
    left, right = fig.add_axes([0.01, 0.05, 0.42, 0.8]), fig.add_axes([0.62, 0.12, 0.36, 0.7])
    left.axis("off")
    if isinstance(s["frame"], np.ndarray):
        left.imshow(s["frame"], interpolation="nearest")
    elif s["frame"] is not None:
        left.text(0, 1, s["frame"], family="monospace", fontsize=5.5, va="top", transform=left.transAxes)
    fig.text(0.01, 0.97, title, fontsize=9, weight="bold", va="top")
    fig.text(0.01, 0.91, "\n".join(textwrap.wrap("..." + s["prompt"][-140:], 120)), fontsize=6.5, va="top")
    if s["chosen"] is None:
        right.axis("off")
        right.text(0.5, 0.5, "success!" if s["success"] else "time limit", ha="center", fontsize=16)
        return
    y = np.arange(len(s["actions"]))[::-1]
    colours = ["tab:orange" if k == s["chosen"] else "tab:blue" for k in range(len(s["actions"]))]
    right.barh(y, s["probs"], color=colours)
    right.set_yticks(y, s["actions"], fontsize=7)
    right.set_xlim(0, 1)
    right.set_xlabel("policy probability (orange: the action taken)", fontsize=7)
    right.tick_params(axis="x", labelsize=7)


def gif(steps, title="", seconds_per_frame=1.2):
    """The same episode as an animated GIF: the file's bytes (run.py writes them atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    fig = plt.figure(figsize=(9, 3.6), dpi=80)
    images = []
    for s in steps:
        _draw(fig, s, f"{title}  decision {s['t']}")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        images.append(Image.open(buf).convert("RGB"))
    plt.close(fig)
    durations = [int(seconds_per_frame * 1000)] * len(images)
    durations[-1] *= 3  # linger on the end
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return out.getvalue()


def plan_probabilities(agent, env, plan):
    """Along `plan` (action ids from reset): the probability of the plan's action under the
    trained policy (adapter on) and under the untrained model (adapter off): two arrays (T,)."""
    obs, info = env.reset()
    trained, untrained, labels = [], [], []
    for a in plan:
        state = (info["prompt"], tuple(info["action_texts"]))
        k = info["action_ids"].index(a)
        with torch.no_grad():
            trained.append(float(agent.policy_logits([state])[0].softmax(-1)[k]))
            adapter_off = getattr(agent.model, "disable_adapter", contextlib.nullcontext)
            with adapter_off():  # LoRA's B starts at zero: adapter off = the untrained model
                untrained.append(float(agent.policy_logits([state])[0].softmax(-1)[k]))
        labels.append(info["action_texts"][k])
        obs, r, term, trunc, info = env.step(a)
    return np.array(untrained), np.array(trained), labels


def alignment_plot(untrained, trained, labels, title=""):
    """policy.png: bars of the untrained and the trained probability of each plan action; the
    PNG file's bytes (run.py writes them atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(labels) + 2), 3.8))
    ax.bar(x - 0.2, untrained, 0.4, label="untrained LLM (SayCan's policy)", color="tab:gray")
    ax.bar(x + 0.2, trained, 0.4, label="after RL (TWOSOME)", color="tab:orange")
    ax.set_xticks(x, [f"{i + 1}. {t}" for i, t in enumerate(labels)], rotation=30, ha="right", fontsize=7)
    ax.set(ylim=(0, 1.05), ylabel="probability of the plan's action")
    ax.set_title(f"{title}: each decision of the shortest plan", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=90)
    plt.close(fig)
    return out.getvalue()


if __name__ == "__main__":
    # The untrained model (Gemma 3 270M) on Tomato Salad: one sampled episode, in the terminal.
    import llm_policy
    from overcooked_env import OvercookedEnv, oracle_plan
    torch.set_num_threads(2)
    model, tokenizer = llm_policy.load_model("gemma3-270m")
    agent = llm_policy.LLMAgent(model, tokenizer)
    env = OvercookedEnv("tomato", render_mode="ansi")
    show(episode(agent, env, seed=0, max_decisions=8))
    env.reset()
    untrained, trained, labels = plan_probabilities(agent, env, oracle_plan(env))
    print("\nthe untrained model's probability of each action of the shortest plan:")
    for label, p in zip(labels, untrained):
        print(f"  {label:<30s} {p:.2f}")
