"""Ensure the VirtualHome tasks follow the original's rules, quirks numbered as in virtualhome_env.py
(paper: Food Preparation, Entertainment)."""
import copy
from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings, strategies as st

import virtualhome_env as vh
from virtualhome_env import VirtualHomeEnv, oracle_plan

FOOD_PLAN = [4, 6, 5, 8, 7, 9]  # pancake, grab, microwave, open, put in, close
ENTERTAINMENT_PLAN = [4, 9, 5, 10, 0, 6, 11, 7, 13, 8, 15]
RENAMED = {"cheese": "cheese", "hamburger": "hamburger", "apple-pie": "apple pie",
           "pizza": "pizza", "washing-plate": "dishes", "laundry": "clothes"}


def play(env, plan):
    env.reset()
    return [env.step(a) for a in plan]  # (obs, reward, terminated, truncated, info) each


@pytest.mark.parametrize("faithful", [False, True])
@pytest.mark.parametrize("task", ["food", "entertainment", *RENAMED])
def test_golden_plans_earn_one_reward_at_the_end(task, faithful):
    """The optimal plans: rewards 0 ... 0, +1, terminated on the last step only."""
    plan = ENTERTAINMENT_PLAN if task == "entertainment" else FOOD_PLAN
    steps = play(VirtualHomeEnv(task, faithful=faithful), plan)
    assert [s[1] for s in steps] == [0.0] * (len(plan) - 1) + [1.0]
    assert [s[2] for s in steps] == [False] * (len(plan) - 1) + [True]
    assert not any(s[3] for s in steps)
    assert [s[4]["success"] for s in steps] == [False] * (len(plan) - 1) + [True]


@pytest.mark.parametrize("task, name", RENAMED.items())
def test_renamed_tasks_speak_of_their_own_objects(task, name):
    """Unseen tasks (paper: generalisation) never mention the pancake, always their own object."""
    env = VirtualHomeEnv(task)
    _, info = env.reset()
    infos = [info] + [s[4] for s in play(env, FOOD_PLAN)]
    for info in infos:
        assert name in info["prompt"] and "pancake" not in info["prompt"]
        assert not any("pancake" in text for text in info["action_texts"])
    if task in ("washing-plate", "laundry"):
        assert not any("microwave" in i["prompt"] + " ".join(i["action_texts"]) for i in infos)


def test_oracle_finds_the_shortest_plans():
    """BFS gives 6 and 11 decisions from reset, works mid-episode, and leaves the env untouched."""
    for task, length in (("food", 6), ("entertainment", 11)):
        env = VirtualHomeEnv(task)
        env.reset()
        assert len(oracle_plan(env)) == length
    env = VirtualHomeEnv("entertainment")
    play(env, ENTERTAINMENT_PLAN[:4])  # holding both items, still in the kitchen
    before = env.scene.key()
    plan = oracle_plan(env)
    assert len(plan) == 7 and env.scene.key() == before
    assert [env.step(a)[1] for a in plan][-1] == 1.0
    env = VirtualHomeEnv("food")
    play(env, FOOD_PLAN[:3])
    assert oracle_plan(env) == FOOD_PLAN[3:]


def test_walking_while_sitting_fails():
    """Golden value: walking to the kitchen while sitting fails and changes nothing."""
    env = VirtualHomeEnv("entertainment", faithful=True)
    steps = play(env, [0, 7, 13, 8, 15])  # living room, TV on, sit down without the snacks
    assert not steps[-1][4]["success"] and env.view()["sitting"]
    assert steps[-1][4]["action_ids"] == [1, 2, 3]  # quirk 2 kept (faithful): a trap
    before, obs_before = env.scene.key(), steps[-1][0]
    obs, reward, *_ = env.step(1)
    assert env.scene.key() == before and (obs == obs_before).all() and reward == 0
    # The simulator directly, and the fixed env: "stand up" is offered and frees the agent.
    scene = copy.deepcopy(env.scene)
    assert vh.execute(scene, ("walk", "kitchen")) is False and scene.key() == before
    env = VirtualHomeEnv("entertainment")
    _, _, _, _, info = play(env, [0, 7, 13, 8, 15])[-1]
    assert info["action_ids"] == [1, 2, 3, 16]
    _, _, _, _, info = env.step(16)
    view = env.view()
    assert view["is_sit_sofa"] and not view["sitting"]  # quirk 5 kept in the features
    assert "sitting" not in info["prompt"]
    env.step(1)
    assert env.view()["in_kitchen"]


def test_tv_needs_a_free_hand():
    """Golden value: switching the TV on while holding chips and milk fails."""
    env = VirtualHomeEnv("entertainment")
    _, _, _, _, info = play(env, [4, 9, 5, 10, 0, 7])[-1]
    assert 13 in info["action_ids"]  # quirk 6 kept: offered anyway
    before = env.scene.key()
    env.step(13)
    assert env.scene.key() == before and not env.view()["is_tv_on"]


def test_quirk_3_walk_to_the_unseen_item():
    """Faithful mode offers a walk to the unseen item on the coffee table (it fails); fixed not."""
    plan = [4, 9, 0, 6, 11, 1]  # chips onto the coffee table, back to the kitchen
    for faithful, offered in ((True, 4), (False, 5)):
        env = VirtualHomeEnv("entertainment", faithful=faithful)
        _, _, _, _, info = play(env, plan)[-1]
        assert info["action_ids"] == [0, 2, 3, offered]
    before = env.scene.key()
    assert vh.execute(env.scene, ("walk", "chips")) is False and env.scene.key() == before


@pytest.mark.parametrize("faithful", [False, True])
def test_time_limit(faithful):
    """50 decisions: reported as truncated (fixed) or as terminated (faithful, quirk 1)."""
    env = VirtualHomeEnv("food", faithful=faithful)
    steps = play(env, [2, 1] * 25)  # bathroom, kitchen, ...
    assert not any(s[2] or s[3] for s in steps[:-1])
    _, reward, terminated, truncated, info = steps[-1]
    assert (terminated, truncated) == ((True, False) if faithful else (False, True))
    assert reward == 0 and not info["success"]


def test_bad_input_raises_and_changes_nothing():
    """Actions outside action_space and unknown tasks raise ValueError naming the options."""
    env = VirtualHomeEnv("food")
    env.reset()
    before = env.scene.key()
    for bad in (10, -1, "4", 4.0):
        with pytest.raises(ValueError, match="walk to the pancake"):
            env.step(bad)
    assert env.scene.key() == before and env.t == 0
    with pytest.raises(ValueError, match="entertainment"):
        VirtualHomeEnv("tomato")


@pytest.mark.parametrize("faithful", [False, True])
def test_invalid_actions_only_spend_time(faithful):
    """An action in action_space but not valid now (walk to the kitchen one is in, grab the
    pancake from afar) changes nothing, earns 0, is flagged, and counts toward the horizon."""
    env = VirtualHomeEnv("food", faithful=faithful)
    obs0, info0 = env.reset()
    assert info0["invalid_action"] is False and (env.action_masks() == info0["action_mask"]).all()
    before = env.scene.key()
    for t, bad in enumerate([1, 6] * 25, 1):
        obs, reward, terminated, truncated, info = env.step(bad)
        assert info["invalid_action"] and reward == 0 and env.t == t
        assert env.scene.key() == before and (obs == obs0).all()
        assert info["prompt"] == info0["prompt"] and info["action_ids"] == info0["action_ids"]
        assert (terminated or truncated) == (t == vh.HORIZON)
    assert (terminated, truncated) == ((True, False) if faithful else (False, True))
    steps = play(env, [4, 1, 6])  # valid, invalid, valid again: the pancake is in hand
    assert [s[4]["invalid_action"] for s in steps] == [False, True, False]
    assert env.view()["hold_pancake"] and env.t == 3


def test_ansi_render_shows_the_scene():
    """Text render: each room and what is in it, @ on the agent's room, the appliances' states,
    what the agent is next to and holds; it follows the agent, in the task's own names."""
    env = VirtualHomeEnv("food", render_mode="ansi")
    env.reset()
    first = env.render()
    assert "@ kitchen:" in first and "microwave [closed, off]" in first
    assert "decision 0 of 50" in first and "next to: nothing; holding: nothing" in first
    play(env, FOOD_PLAN[:2])  # walk to the pancake, grab it
    second = env.render()
    assert second != first and "decision 2 of 50" in second
    assert "next to: kitchen table; holding: pancake" in second
    env.step(0)
    assert "@ living room:" in env.render()
    env = VirtualHomeEnv("laundry", render_mode="ansi")
    play(env, FOOD_PLAN)
    assert "washing machine [closed, off] (in it: clothes)" in env.render()
    env = VirtualHomeEnv("entertainment", render_mode="ansi")
    play(env, ENTERTAINMENT_PLAN)
    assert "TV [on]" in env.render() and "sitting on the sofa, facing the TV" in env.render()


@pytest.mark.parametrize("task", ["food", "entertainment"])
def test_random_play_rarely_succeeds(task):
    """Uniform random choice over the valid actions succeeds a few percent of the time at most."""
    rng, env, wins = np.random.default_rng(0), VirtualHomeEnv(task), 0
    for _ in range(300):
        _, info = env.reset()
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(rng.choice(info["action_ids"]))
            done = terminated or truncated
        wins += info["success"]
    print(f"{task}: random success {wins / 300:.1%}")
    assert wins / 300 <= 0.05


def assert_objects_conserved(scene):
    for o in ("pancake", "chips", "milk"):
        assert len(scene.targets(o, "INSIDE")) == 1
        in_container = not scene.targets(o, "INSIDE") <= set(vh.ROOMS)
        places = [o in vh.held(scene), in_container, bool(scene.targets(o, "ON"))]
        assert sum(places) == 1, (o, scene.edges)
    assert all(len(scene.targets("character", h)) <= 1 for h in ("HOLDS_RH", "HOLDS_LH"))


@settings(max_examples=1000, deadline=None)
@given(task=st.sampled_from(vh.TASKS), faithful=st.booleans(),
       picks=st.lists(st.integers(0, 6), min_size=1, max_size=60))
def test_random_valid_sequences_keep_the_invariants(task, faithful, picks):
    """Any valid-action sequence: a prompt with an open slot, non-empty valid sets, objects
    conserved, success exactly with the +1 terminal reward."""
    env = VirtualHomeEnv(task, faithful=faithful)
    _, info = env.reset()
    for pick in picks:
        ids = info["action_ids"]
        assert info["prompt"].endswith("your next step is to")
        assert ids and len(info["action_texts"]) == len(ids)
        assert list(np.flatnonzero(info["action_mask"])) == ids and not info["invalid_action"]
        assert (env.action_masks() == info["action_mask"]).all()
        obs, reward, terminated, truncated, info = env.step(ids[pick % len(ids)])
        assert_objects_conserved(env.scene)
        assert env.observation_space.contains(obs)
        assert info["success"] == (reward == 1.0) and reward in (0.0, 1.0)
        assert not info["success"] or terminated
        if terminated or truncated:
            break


def reachable_observations(task, faithful, by_observation):
    """BFS over the policy's valid actions from reset. The original's counts treat each observation
    vector as one node (by_observation=True), which never explores states that look alike but
    differ out of sight (the microwave left open while away); terminal observations don't count."""
    env = VirtualHomeEnv(task, faithful=faithful)
    obs_of = lambda scene: tuple(vh.make_view(task, scene)[k] for k in env.feature_names)
    key = obs_of if by_observation else vh.Scene.key
    start = vh.initial_scene()
    seen, frontier, decision_obs, sizes = {key(start)}, deque([start]), set(), set()
    while frontier:
        scene = frontier.popleft()
        view = vh.make_view(task, scene)
        if vh.is_success(view):
            continue
        decision_obs.add(obs_of(scene))
        ids = vh.valid_actions(view, faithful)
        sizes.add(len(ids))
        for a in ids:
            nxt = copy.deepcopy(scene)
            vh.execute(nxt, env.actions[a])
            if key(nxt) not in seen:
                seen.add(key(nxt))
                frontier.append(nxt)
    return len(decision_obs), min(sizes), max(sizes)


@pytest.mark.parametrize("task, original_count, all_count",
                         [("food", 16, 19), ("entertainment", 84, 97)])
def test_reachable_observations_match_the_original(task, original_count, all_count):
    """The original's counts: 16 (food) and 84 (entertainment) observation vectors, 3 to 7 valid actions each;
    a BFS over full states finds a few more (19, 97)."""
    assert reachable_observations(task, True, by_observation=True) == (original_count, 3, 7)
    assert reachable_observations(task, True, by_observation=False) == (all_count, 3, 7)


@pytest.mark.filterwarnings("error")  # the checker reports most problems as warnings
@pytest.mark.parametrize("env_id", ["TWOSOME/FoodPreparation-v0", "TWOSOME/Entertainment-v0"])
def test_gymnasium_env_checker(env_id):
    """The registered ids pass gymnasium's checker as they are, with unmasked random actions
    (an invalid one is a no-op that spends the decision) and the ansi render, without a warning."""
    env = gym.make(env_id, render_mode="ansi")
    check_env(env.unwrapped, skip_render_check=False)
