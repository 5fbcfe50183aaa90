"""Ensure all four registered tasks keep gymnasium's contract under unmasked random actions."""
import gymnasium as gym
import numpy as np
import pytest

import overcooked_env as oc
import virtualhome_env as vh

IDS = ["TWOSOME/TomatoSalad-v0", "TWOSOME/TomatoLettuceSalad-v0",
       "TWOSOME/FoodPreparation-v0", "TWOSOME/Entertainment-v0"]
INFO_KEYS = {"prompt", "action_texts", "action_ids", "action_mask", "success", "invalid_action"}


def clock(env):
    """Time spent so far: primitive steps in Overcooked, decisions in VirtualHome."""
    u = env.unwrapped
    return u.state["t"] if isinstance(u, oc.OvercookedEnv) else u.t


def horizon(env):
    return oc.HORIZON if isinstance(env.unwrapped, oc.OvercookedEnv) else vh.HORIZON


def nothing_reward(env):
    """The reward of a step that achieves nothing: one primitive step's cost, or 0."""
    return oc.STEP_COST if isinstance(env.unwrapped, oc.OvercookedEnv) else 0.0


@pytest.mark.parametrize("faithful", [False, True])
@pytest.mark.parametrize("env_id", IDS)
def test_unmasked_random_actions_keep_the_contract(env_id, faithful):
    """Uniform samples from action_space, valid or not, through gymnasium.make (so its passive
    checker wraps the env): observations in the space, finite rewards, every info key, masks that
    agree with action_masks(), invalid actions that only spend time, success only on termination,
    and every episode over by the horizon."""
    env = gym.make(env_id, faithful=faithful)
    env.action_space.seed(0)
    obs, info = env.reset(seed=0)
    assert INFO_KEYS <= info.keys() and not info["invalid_action"]
    steps, invalid_steps, episodes = 0, 0, 0
    while steps < 2000:
        mask = env.unwrapped.action_masks()
        assert mask.dtype == bool and mask.shape == (env.action_space.n,)
        assert (mask == info["action_mask"]).all()
        assert list(np.flatnonzero(mask)) == list(info["action_ids"])
        action, before, t = env.action_space.sample(), (obs, info), clock(env)
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        assert obs in env.observation_space and np.isfinite(reward)
        assert INFO_KEYS <= info.keys() and info["invalid_action"] == (not mask[action])
        if info["invalid_action"]:
            invalid_steps += 1
            assert (obs == before[0]).all() and info["prompt"] == before[1]["prompt"]
            assert info["action_ids"] == before[1]["action_ids"]
            assert clock(env) == t + 1 and reward == nothing_reward(env)
        else:
            assert clock(env) == t + info.get("macro_steps", 1)
        assert not info["success"] or terminated
        assert faithful or terminated == info["success"]
        assert clock(env) <= horizon(env)
        if clock(env) == horizon(env) or info["success"]:
            assert terminated or truncated
        if terminated or truncated:
            assert info["success"] or clock(env) == horizon(env)
            episodes += 1
            obs, info = env.reset()
    assert episodes >= 3
    # Overcooked offers every action in every state; VirtualHome only a few at a time.
    assert (invalid_steps == 0) == isinstance(env.unwrapped, oc.OvercookedEnv)


@pytest.mark.parametrize("env_id", IDS)
def test_actions_outside_the_space_raise(env_id):
    """-1, n, a float, a string or None is no action: ValueError, and the clock stands still."""
    env = gym.make(env_id)
    env.reset()
    n = env.action_space.n
    for bad in (-1, n, 1.0, np.float32(0), "0", None):
        with pytest.raises(ValueError, match="outside the action space"):
            env.step(bad)
    assert clock(env) == 0
    env.step(np.int64(n - 1))  # numpy integers are in the space
    env.step(np.array(0))
    assert clock(env) >= 2


@pytest.mark.parametrize("env_id", IDS)
def test_render_without_a_mode_returns_none(env_id):
    """gymnasium's convention: no render_mode, nothing to draw (and a warning saying so)."""
    env = gym.make(env_id)
    env.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
    with pytest.raises(ValueError, match="render_mode"):
        type(env.unwrapped)(render_mode="human")  # no window: text, or Overcooked's picture
