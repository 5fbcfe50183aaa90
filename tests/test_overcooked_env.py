"""Ensure the macro-action Overcooked tasks keep their golden values: the optimal plans, their
rewards and returns, the random-play bands, the invariants (paper: environments)."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings, strategies as st

import overcooked_env as oc


def play(env, actions):
    """Plays `actions` from reset; returns per-macro (reward, k), the last step and the return."""
    env.reset()
    macros, logged, t = [], 0.0, 0
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        macros.append((reward, info["macro_steps"]))
        logged += 0.99 ** t * reward  # the macro reward already discounts inside the macro
        t += info["macro_steps"]
    return macros, (obs, reward, terminated, truncated, info), logged


def test_tomato_salad_golden_plan():
    """The optimal Tomato Salad plan: macro lengths, rewards, 28 steps, return 0.9205."""
    macros, (_, _, terminated, truncated, info), logged = play(oc.OvercookedEnv("tomato"),
                                                               [0, 2, 4, 0, 1, 3])
    assert [k for _, k in macros] == [2, 5, 3, 1, 10, 7]
    expected = [-0.002, -0.0049, 0.193, -0.001, -0.0096, 0.9347]
    assert [r for r, _ in macros] == pytest.approx(expected, abs=1e-3)
    assert terminated and not truncated and info["success"]
    assert logged == pytest.approx(0.9205, abs=1e-3)


def test_tomato_lettuce_golden_plan():
    """The optimal Tomato-Lettuce plan: 10 macros, 45 primitive steps, return 0.9477."""
    macros, (_, _, terminated, _, info), logged = play(oc.OvercookedEnv("tomato-lettuce"),
                                                       [0, 4, 7, 1, 5, 7, 3, 1, 0, 6])
    assert sum(k for _, k in macros) == 45
    assert terminated and info["success"]
    assert logged == pytest.approx(0.9477, abs=1e-3)


def test_first_observation_is_partial():
    """At reset only the tomato and the agent are in view; the task one-hot is at position 0."""
    obs, info = oc.OvercookedEnv("tomato").reset()
    assert obs.tolist() == [0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 4, 1, 0, 0, 0, 0, 0, 0]
    assert info["macro_steps"] == 0 and not info["success"]
    assert info["action_ids"] == [0, 1, 2, 3, 4] and info["action_mask"].all()


def test_empty_plate_delivery_is_penalised_and_plate_respawns():
    """Serving an empty plate costs -0.1 (plus step costs) and puts the plate back at (6,5)."""
    env = oc.OvercookedEnv("tomato")
    env.reset()
    env.step(1)  # get plate
    _, reward, terminated, _, info = env.step(3)  # deliver it empty
    k = info["macro_steps"]
    step_costs = sum(0.99 ** j * oc.STEP_COST for j in range(k))
    assert reward == pytest.approx(step_costs + 0.99 ** (k - 1) * oc.WRONG)
    assert not terminated and env.state["where"]["plate"] == (6, 5)


@pytest.mark.parametrize("task, decisions, steps", [("tomato", 6, 28), ("tomato-lettuce", 10, 45)])
def test_oracle_finds_the_shortest_plan(task, decisions, steps):
    """Breadth-first search finds the optimal number of decisions and primitive steps."""
    env = oc.OvercookedEnv(task)
    env.reset()
    plan = oc.oracle_plan(env)
    macros, (_, _, terminated, _, _), _ = play(env, plan)
    assert len(plan) == decisions and sum(k for _, k in macros) == steps and terminated


def random_success_rate(task, episodes=300, seed=0):
    rng, env = np.random.default_rng(seed), oc.OvercookedEnv(task)
    wins = 0
    for _ in range(episodes):
        _, info = env.reset()
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(int(rng.choice(info["action_ids"])))
            done = terminated or truncated
        wins += info["success"]
    return wins / episodes


def test_random_play_success_rates():
    """Uniform random macro-actions: about 46% on Tomato Salad, about 1% on Tomato-Lettuce."""
    assert 0.38 <= random_success_rate("tomato") <= 0.56
    assert random_success_rate("tomato-lettuce") <= 0.04


def check_invariants(env, reward, info):
    s, items = env.state, set(env.state["where"])
    assert items == set(oc.TASKS[env.task]["foods"]) | {"plate"}  # nothing created or lost
    where = list(s["where"].values())
    assert where.count("held") <= 1
    cells = [w for w in where if isinstance(w, tuple)]
    assert len(cells) == len(set(cells)) and not any(oc.is_floor(c) for c in cells)
    assert all(oc.chopped(s, n) for n, w in s["where"].items() if w == "plate")
    assert info["prompt"] and info["prompt"][-1].isalpha()  # ends in the open slot
    assert len(info["action_texts"]) == len(info["action_ids"]) == env.action_space.n
    assert info["invalid_action"] is False and info["action_mask"].all()  # all always valid
    assert info["success"] == (reward > 0.5)  # success comes only with the +1 reward


@settings(max_examples=300, deadline=None)
@given(task=st.sampled_from(list(oc.TASKS)), actions=st.lists(st.integers(0, 7), max_size=80))
def test_random_sequences_keep_the_invariants(task, actions):
    """Any action sequence: no crash, items conserved, an open-slot prompt, honest success."""
    env = oc.OvercookedEnv(task)
    obs, info = env.reset()
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a % env.action_space.n)
        assert obs in env.observation_space
        check_invariants(env, reward, info)
        if terminated or truncated:
            break


def test_time_limit_is_truncation():
    """At 200 primitive steps the episode is truncated (faithful mode: terminated)."""
    for faithful in (False, True):
        env = oc.OvercookedEnv("tomato", faithful=faithful)
        env.reset()
        done, t = False, 0
        while not done:
            _, _, terminated, truncated, info = env.step(4)  # chop nothing: 1 step each
            done, t = terminated or truncated, t + info["macro_steps"]
        assert t == oc.HORIZON and not info["success"]
        assert (terminated, truncated) == ((True, False) if faithful else (False, True))
        with pytest.raises(RuntimeError, match="reset"):
            env.step(0)


def test_bad_input_raises_and_leaves_state_unchanged():
    """Unknown tasks/variants and actions outside action_space raise ValueError naming the valid
    ones (inside it every action is valid: a macro with nothing to do waits one step)."""
    with pytest.raises(ValueError, match="tomato-lettuce"):
        oc.OvercookedEnv("pancake")
    with pytest.raises(ValueError, match="goal-first"):
        oc.OvercookedEnv("tomato", variant="bad")
    env = oc.OvercookedEnv("tomato")
    env.reset()
    before = repr(env.state)
    for bad in (5, -1, "0", 1.0):
        with pytest.raises(ValueError, match="pick up the tomato"):
            env.step(bad)
    assert repr(env.state) == before


@pytest.mark.filterwarnings("error")  # the checker reports most problems as warnings
@pytest.mark.parametrize("env_id", ["TWOSOME/TomatoSalad-v0", "TWOSOME/TomatoLettuceSalad-v0"])
def test_registered_envs_pass_gymnasium_checker(env_id):
    """Both ids are registered and pass gymnasium's environment checker as they are, with
    random actions from action_space and both render modes checked, without a warning."""
    env = gym.make(env_id, render_mode="ansi")
    check_env(env.unwrapped, skip_render_check=False)
    assert env.unwrapped.task == ("tomato" if "TomatoSalad" in env_id else "tomato-lettuce")


def test_ansi_render_draws_the_kitchen():
    """Text render: the 7x7 kitchen with the agent (@), items, boards, delivery, legend, hands."""
    env = oc.OvercookedEnv("tomato-lettuce", render_mode="ansi")
    env.reset()
    first = env.render()
    rows = first.splitlines()
    assert rows[1].split() == ["[", "]", ".", ".", ".", "@", ".", "l"]  # board, agent, lettuce
    assert rows[0].split()[5] == "t" and rows[6].split()[5] == "p" and rows[3].split()[0] == "D"
    assert rows[7].startswith("@ you") and rows[8].startswith("t tomato  l lettuce  o onion")
    assert rows[9] == "holding: nothing; in the plate: nothing"
    env.step(0)  # pick up the tomato: the agent moves, the tomato leaves the counter
    second = env.render()
    assert second != first and "@" in second and "holding: raw tomato" in second
    for a in (4, 7):  # onto the first board, chop it
        env.step(a)
    assert "[T]" in env.render()


def test_rgb_render_draws_tiles():
    """Picture render: 7x7 tiles of 20 px, uint8 RGB, the agent's colour under the agent."""
    env = oc.OvercookedEnv("tomato", render_mode="rgb_array")
    env.reset()
    first = env.render()
    assert first.shape == (7 * oc.TILE, 7 * oc.TILE, 3) and first.dtype == np.uint8
    agent_pixel = lambda img, cell: img[cell[0] * oc.TILE + 2, cell[1] * oc.TILE + 2]
    assert (agent_pixel(first, oc.START) == oc.COLOURS["agent"]).all()
    env.step(0)  # pick up the tomato
    second = env.render()
    assert (second != first).any()
    assert (agent_pixel(second, env.state["agent"]) == oc.COLOURS["agent"]).all()
    assert (agent_pixel(second, oc.START) == oc.COLOURS["floor"]).all()
