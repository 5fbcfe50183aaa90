"""Shared fixtures: the real Gemma 3 tokenizer and a tiny random model of the same architecture."""
import pytest
import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig

import llm_policy


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_model: uses the real default LLM (Gemma 3 270M on CPU; ~5 s to load once cached)")
    # peft 0.21 calls a transformers 5 method deprecated for v6: not ours to fix
    config.addinivalue_line("filterwarnings", "ignore:.*is_gradient_checkpointing.*:FutureWarning")


@pytest.fixture(scope="session")
def real_model():
    """The default model and its tokenizer (the first run ever converts the GGUF: ~2 minutes)."""
    torch.set_num_threads(2)
    return llm_policy.load_model("gemma3-270m")


@pytest.fixture(scope="session")
def tokenizer(real_model):
    """The real Gemma 3 tokenizer (262k vocabulary), so tokenisation tests are faithful."""
    return real_model[1]


def make_tiny_model(seed=0, attn_implementation="sdpa"):
    """A 2-layer Gemma 3 (hidden 64) with random weights and the real vocabulary size, frozen.

    One sliding-window layer (window 8) and one full-attention layer, so prompts longer than the
    window exercise the cache path's hardest case; context 128 tokens for the too-long test.
    """
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=262144, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32,
        sliding_window=8, layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=128, initializer_range=0.1,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )
    config._attn_implementation = attn_implementation
    return Gemma3ForCausalLM(config).eval().requires_grad_(False)


@pytest.fixture
def tiny_model():
    return make_tiny_model()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, tokenizer):
    """A tiny random Gemma 3 with the real tokenizer, saved where --model can load it."""
    path = tmp_path_factory.mktemp("tiny-model")
    make_tiny_model().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)
