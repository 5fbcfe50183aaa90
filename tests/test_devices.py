"""The policy's scores do not depend on how states are batched, on every device there is.

PPO's ratio pi_new / pi_old compares the update's scores (micro-batches of a few distinct states,
gradients on) with the rollout's (scored in other batches, often one state at a time during
evaluation, without gradients). Before the update's first step the two must agree, or the
approximate KL of the first group is noise and its early stop (0.02) can skip a whole update.
These run on the CPU always and on CUDA when there is a GPU, on real Entertainment prompts.
"""
import numpy as np
import pytest
import torch

import llm_policy
import virtualhome_env

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def entertainment_states(n=8, seed=0):
    """n distinct (prompt, actions) states of Entertainment, met along a seeded random walk."""
    env, rng, states = virtualhome_env.VirtualHomeEnv("entertainment"), np.random.default_rng(seed), {}
    _, info = env.reset()
    while len(states) < n:
        states.setdefault((info["prompt"], tuple(info["action_texts"])), None)
        _, _, term, trunc, info = env.step(int(rng.choice(info["action_ids"])))
        if term or trunc:
            _, info = env.reset()
    return list(states)


@pytest.mark.real_model
@pytest.mark.parametrize("device", DEVICES)
def test_scores_do_not_depend_on_the_batch(device):
    """One state at a time without gradients (the evaluation, whose scores the next rollout
    reuses), all at once, and micro-batches of 4 with gradients (the update) give the same
    log-probabilities, with a LoRA that is not zero (as after training)."""
    # a fresh copy: peft writes the adapter into the model it is given, and real_model is shared
    model, tokenizer = llm_policy.load_model("gemma3-270m", device=device)
    agent = llm_policy.LLMAgent(model, tokenizer)
    torch.manual_seed(0)
    with torch.no_grad():  # a trained-looking adapter: B = 0 at init would hide the LoRA path
        for p in agent.actor_parameters():
            p.add_(0.02 * torch.randn_like(p))
    states = entertainment_states()

    def logp(batch):
        return agent.policy_logits(batch).float().cpu().log_softmax(-1)  # (B, K)

    with torch.no_grad():
        one_by_one = [logp([s])[0] for s in states]
        together = logp(states)
    micro = [row for i in range(0, len(states), 4) for row in logp(states[i:i + 4])]
    worst = 0.0
    for k, s in enumerate(states):
        K = len(s[1])
        worst = max(worst, (one_by_one[k][:K] - together[k, :K]).abs().max().item(),
                    (one_by_one[k][:K] - micro[k][:K].detach()).abs().max().item())
    assert worst < 1e-4, f"{device}: log-probabilities differ by {worst:.2e} between batchings"
