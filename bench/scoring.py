"""Benchmark: scoring K valid actions with one shared prompt encoding vs. the original's K sequences.

Measures on the default model (Gemma 3 270M, fp32, CPU, 2 torch threads), in ms per state:
  - scoring (no_grad) on the shared-prompt path (one state per call, and 4 states per call) and on
    the reference path (K full sequences prompt + action, as the original TWOSOME code did);
  - LoRA forward + backward of a policy loss on those scores (the cost of a PPO policy step);
  - one pass of the prompt alone (vocabulary projection on its last token only), B=1 and B=4;
for ~80- and ~250-token prompts and K = 2, 5, 8, 16 actions of 2-7 words; then eager vs. sdpa
attention at K = 8. Targets: shared scoring at K=8 costs <= 1.5x one prompt forward pass and is
>= 3x faster than the reference path. Each time is the minimum over a few runs after a warm-up
(one run, no warm-up, for the slowest: reference forward+backward).
Prints a table and a final JSON line; writes bench/results/scoring.json atomically.
Try it: python bench/scoring.py   (about six minutes on 2 cores)
"""
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import llm_policy  # noqa: E402
from run import atomic_write  # noqa: E402

SENTENCES = [
    "You are in the kitchen.", "There is a fridge, a microwave, a stove and a sink in the room.",
    "The pancake is in the fridge and the fridge is closed.", "The microwave is closed and switched off.",
    "A bowl and a plate are on the kitchen table.", "You are standing next to the sink, holding nothing.",
    "The television in the living room is off.", "The sofa is in front of the coffee table.",
    "There are two fixed cutting boards in the room.", "A tomato and a lettuce lie on the counter.",
]
ACTIONS = [
    "open the fridge", "take the pancake", "close the fridge", "open the microwave",
    "put the pancake in the microwave", "switch on the microwave", "walk to the living room",
    "walk to the kitchen", "pick up the tomato", "chop the tomato on the cutting board",
    "put the tomato in the bowl", "serve the bowl", "sit on the sofa", "turn on the television",
    "pick up the lettuce", "wash the plate in the sink",
]
GOAL = "In order to heat up the pancake in the microwave, your next step is to"


def make_prompt(tokenizer, n_tokens, shift=0):
    """A realistic observation prompt of about n_tokens tokens: state sentences first, the goal last."""
    sentences, i = [], shift
    while len(tokenizer(" ".join(sentences + [GOAL])).input_ids) < n_tokens:
        sentences.append(SENTENCES[i % len(SENTENCES)])
        i += 1
    return " ".join(sentences + [GOAL])


def best_time(fn, reps, warmup=True):
    """Minimum wall time of fn() over reps runs (after one warm-up run unless warmup=False)."""
    if warmup:
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    t = time.perf_counter()
    model, tokenizer = llm_policy.load_model("gemma3-270m", dtype="float32")
    load_s = time.perf_counter() - t
    agent = llm_policy.LLMAgent(model, tokenizer, norm="word")  # LoRA r=8 on q/v, as in training
    peft_model = agent.model
    for name, p in peft_model.named_parameters():  # non-zero B: the same cost, but real gradients
        if "lora_B" in name:
            p.data.normal_(0, 0.01)

    def score(prompts, actions, shared, grad):
        """Scores of the valid actions; with grad=True also the backward pass of a policy loss."""
        with torch.set_grad_enabled(grad):
            logp, n_tokens, n_words = llm_policy.action_logprobs(
                peft_model, tokenizer, prompts, actions, shared_prompt=shared)
            if grad:
                peft_model.zero_grad()
                llm_policy.normalize(logp, n_tokens, n_words, "word").log_softmax(-1)[:, 0].sum().backward()

    def prompt_pass(ids, grad):
        """The prompt alone through the LLM (with LoRA); vocabulary projection on its last token only."""
        with torch.set_grad_enabled(grad):
            logits = peft_model(input_ids=ids, use_cache=False, logits_to_keep=1).logits
            if grad:
                peft_model.zero_grad()
                logits.logsumexp(-1).sum().backward()

    rows = []
    print(f"model loaded in {load_s:.1f}s; torch threads {torch.get_num_threads()}; ms per state "
          f"(B4: four states in one call, time / 4); ratios at B=1 unless marked B4")
    print(f"{'L':>4s} {'K':>3s} | {'fwd':>5s} {'fwd B4':>6s} {'shared':>6s} {'sh B4':>6s} {'ref':>6s} "
          f"{'sh/fwd':>6s} {'B4 sh/fwd':>9s} {'ref/sh':>6s} | {'fwd':>5s} {'shared':>6s} {'sh B4':>6s} "
          f"{'ref':>6s} {'sh/fwd':>6s} {'ref/sh':>6s}")
    print(f"{'':8s} | {'scoring, no_grad':^60s} | {'LoRA forward + backward':^42s}")
    for target_len in (80, 250):
        prompts = [make_prompt(tokenizer, target_len, shift=s) for s in range(4)]
        L = len(tokenizer(prompts[0]).input_ids)
        ids1 = torch.tensor([tokenizer(prompts[0]).input_ids])  # (1, L)
        batch = [tokenizer(p).input_ids for p in prompts]
        ids4 = torch.tensor([x[: min(map(len, batch))] for x in batch])  # (4, L') cut to one length
        for K in (2, 5, 8, 16):
            # the prompt pass is timed again next to each K, so each ratio compares times taken
            # under the same load (this machine's CPUs are shared; see load_average_1min)
            fwd = best_time(lambda: prompt_pass(ids1, grad=False), reps=3)
            fwd4 = best_time(lambda: prompt_pass(ids4, grad=False), reps=2) / 4
            fwd_bwd = best_time(lambda: prompt_pass(ids1, grad=True), reps=2)
            acts = [ACTIONS[(i * 3) % len(ACTIONS)] for i in range(K)]  # a spread of action lengths
            one, four = ([prompts[0]], [acts]), (prompts, [acts] * 4)
            r = dict(prompt_tokens=L, K=K, action_tokens=sum(len(tokenizer(" " + a).input_ids) - 1 for a in acts))
            r["prompt_forward_ms"], r["prompt_forward_B4_ms"] = 1e3 * fwd, 1e3 * fwd4
            r["shared_ms"] = 1e3 * best_time(lambda: score(*one, shared=True, grad=False), reps=5)
            r["shared_B4_ms"] = 1e3 * best_time(lambda: score(*four, shared=True, grad=False), reps=3) / 4
            r["reference_ms"] = 1e3 * best_time(lambda: score(*one, shared=False, grad=False), reps=2)
            r["prompt_fwd_bwd_ms"] = 1e3 * fwd_bwd
            r["fwd_bwd_shared_ms"] = 1e3 * best_time(lambda: score(*one, shared=True, grad=True), reps=3)
            r["fwd_bwd_shared_B4_ms"] = 1e3 * best_time(lambda: score(*four, shared=True, grad=True), reps=2) / 4
            r["fwd_bwd_reference_ms"] = 1e3 * best_time(
                lambda: score(*one, shared=False, grad=True), reps=1, warmup=False)
            r["shared_over_forward"] = r["shared_ms"] / r["prompt_forward_ms"]
            r["shared_B4_over_forward_B4"] = r["shared_B4_ms"] / r["prompt_forward_B4_ms"]
            r["reference_over_shared"] = r["reference_ms"] / r["shared_ms"]
            r["fwd_bwd_shared_over_prompt"] = r["fwd_bwd_shared_ms"] / r["prompt_fwd_bwd_ms"]
            r["fwd_bwd_reference_over_shared"] = r["fwd_bwd_reference_ms"] / r["fwd_bwd_shared_ms"]
            r["load_average_1min"] = os.getloadavg()[0]  # > 2 on 2 cores: other work shared the CPU
            rows.append(r)
            print(f"{L:4d} {K:3d} | {r['prompt_forward_ms']:5.0f} {r['prompt_forward_B4_ms']:6.0f} "
                  f"{r['shared_ms']:6.0f} {r['shared_B4_ms']:6.0f} {r['reference_ms']:6.0f} "
                  f"{r['shared_over_forward']:6.2f} {r['shared_B4_over_forward_B4']:9.2f} "
                  f"{r['reference_over_shared']:6.2f} | {r['prompt_fwd_bwd_ms']:5.0f} {r['fwd_bwd_shared_ms']:6.0f} "
                  f"{r['fwd_bwd_shared_B4_ms']:6.0f} {r['fwd_bwd_reference_ms']:6.0f} "
                  f"{r['fwd_bwd_shared_over_prompt']:6.2f} {r['fwd_bwd_reference_over_shared']:6.2f}", flush=True)

    # attention implementation: the same K=8 scoring under eager and sdpa, and how far apart they are
    attention = {}
    acts = [ACTIONS[(i * 3) % len(ACTIONS)] for i in range(8)]
    for impl in ("eager", "sdpa"):
        model.set_attn_implementation(impl)
        for target_len in (80, 250):
            prompt = make_prompt(tokenizer, target_len)
            with torch.no_grad():
                logp = llm_policy.action_logprobs(peft_model, tokenizer, [prompt], [acts])[0]
            attention[f"{impl}_L{target_len}"] = dict(
                shared_ms=1e3 * best_time(lambda: score([prompt], [acts], shared=True, grad=False), reps=3),
                fwd_bwd_shared_ms=1e3 * best_time(lambda: score([prompt], [acts], shared=True, grad=True), reps=2),
                logp=logp[0].tolist())
    for target_len in (80, 250):
        e, s = attention[f"eager_L{target_len}"], attention[f"sdpa_L{target_len}"]
        diff = max(abs(a - b) for a, b in zip(e["logp"], s["logp"]))
        attention[f"max_abs_logp_diff_L{target_len}"] = diff
        print(f"attention, prompt ~{target_len} tokens, K=8: eager {e['shared_ms']:.0f} ms "
              f"(fwd+bwd {e['fwd_bwd_shared_ms']:.0f}), sdpa {s['shared_ms']:.0f} ms "
              f"(fwd+bwd {s['fwd_bwd_shared_ms']:.0f}), max |logp diff| {diff:.1e}")
    model.set_attn_implementation("sdpa")

    k8 = [r for r in rows if r["K"] == 8]
    summary = dict(
        k8_shared_over_forward=[round(r["shared_over_forward"], 3) for r in k8],
        k8_shared_B4_over_forward_B4=[round(r["shared_B4_over_forward_B4"], 3) for r in k8],
        k8_reference_over_shared=[round(r["reference_over_shared"], 3) for r in k8],
        target_shared_over_forward_met=all(r["shared_over_forward"] <= 1.5 for r in k8),
        target_reference_over_shared_met=all(r["reference_over_shared"] >= 3 for r in k8),
    )
    result = dict(model="gemma3-270m", dtype="float32", torch_threads=torch.get_num_threads(),
                  cpu=platform.processor() or platform.machine(), cpu_count=os.cpu_count(),
                  torch=torch.__version__, load_s=load_s, load_average_at_end=os.getloadavg(), rows=rows,
                  attention=attention, summary=summary)
    out = Path(__file__).resolve().parent / "results" / "scoring.json"
    out.parent.mkdir(exist_ok=True)
    atomic_write(str(out), json.dumps(result, indent=1))  # a reader sees the old file or the new one
    print(json.dumps(dict(summary=summary, rows=rows)))


if __name__ == "__main__":
    main()
