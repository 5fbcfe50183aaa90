"""Ensure the pictures for a class are right: an episode's frames and bars, the GIF, policy.png."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

import llm_policy
import watch
from conftest import make_tiny_model
from overcooked_env import OvercookedEnv, oracle_plan
from virtualhome_env import VirtualHomeEnv


@pytest.fixture
def agent(tokenizer):
    return llm_policy.LLMAgent(make_tiny_model(), tokenizer)


@pytest.mark.parametrize("make_env", [lambda: OvercookedEnv("tomato", render_mode="rgb_array"),
                                      lambda: VirtualHomeEnv("food", render_mode="ansi")])
def test_episode_yields_each_decision_with_its_probabilities(agent, make_env):
    """Ensure every decision carries the render, a distribution over exactly the valid actions
    and the chosen index, and the episode ends with one frame and no choice."""
    steps = list(watch.episode(agent, make_env(), seed=0, max_decisions=5))
    assert [s["t"] for s in steps] == list(range(len(steps)))
    for s in steps[:-1]:
        assert s["probs"].shape == (len(s["actions"]),) and abs(s["probs"].sum() - 1) < 1e-5
        assert 0 <= s["chosen"] < len(s["actions"]) and s["frame"] is not None
    assert steps[-1]["chosen"] is None and steps[-1]["done"]
    assert len(steps) <= 6


def test_greedy_episode_takes_the_argmax(agent):
    steps = list(watch.episode(agent, VirtualHomeEnv("food", render_mode="ansi"), greedy=True, max_decisions=3))
    assert all(s["chosen"] == int(np.argmax(s["probs"])) for s in steps[:-1])


def test_show_prints_frames_bars_and_the_end(agent):
    lines = []
    watch.show(watch.episode(agent, OvercookedEnv("tomato", render_mode="ansi"), max_decisions=2), out=lines.append)
    text = "\n".join(lines)
    assert text.count("=== decision") == 3 and "<- chosen" in text and " @ " in text
    assert "stopped after 2 decisions" in text or "success!" in text


def test_bars_are_as_long_as_the_probabilities():
    out = watch.bars(["pick up the tomato", "chop nothing"], [0.75, 0.25], chosen=0, width=20)
    first, second = out.splitlines()
    assert first.count("#") == 15 and second.count("#") == 5 and "<- chosen" in first and "75.0%" in first


def test_gif_has_one_frame_per_decision(agent):
    steps = list(watch.episode(agent, OvercookedEnv("tomato", render_mode="rgb_array"), max_decisions=3))
    with Image.open(io.BytesIO(watch.gif(steps, title="test"))) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(steps)


def test_plan_probabilities_untrained_equals_trained_until_lora_moves(agent):
    """Ensure adapter off is the untrained model: equal to the agent before training (LoRA B = 0),
    different once a LoRA weight moves; and policy.png is drawn."""
    env = OvercookedEnv("tomato")
    env.reset()
    plan = oracle_plan(env)
    untrained, trained, labels = watch.plan_probabilities(agent, env, plan)
    assert len(labels) == len(plan) == 6 and labels[0] == "pick up the tomato"
    np.testing.assert_allclose(untrained, trained, atol=1e-6)
    with torch.no_grad():
        for p in agent.actor_parameters():
            p.add_(0.5 * torch.randn_like(p))
    untrained2, trained2, _ = watch.plan_probabilities(agent, env, plan)
    np.testing.assert_allclose(untrained2, untrained, atol=1e-6)  # adapter off: unchanged
    assert np.abs(trained2 - trained).max() > 1e-3
    assert ((0 <= trained2) & (trained2 <= 1)).all()
    with Image.open(io.BytesIO(watch.alignment_plot(untrained2, trained2, labels, title="tomato"))) as png:
        assert png.format == "PNG" and png.size[0] > 300
