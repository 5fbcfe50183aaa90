"""Ensure bench/exact.py's success probability and return are the policy's exact ones: the
shortest plan played with certainty, a policy that cannot succeed, and sampled episodes."""
import os
import sys

import numpy as np
import pytest
import torch

import llm_policy
import run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import exact  # noqa: E402


class TablePolicy:
    """policy_logits from a table: state -> logits over its valid actions; uniform elsewhere."""

    def __init__(self, table=None):
        self.table = table or {}

    def policy_logits(self, states):
        K = max(len(s[1]) for s in states)
        out = torch.full((len(states), K), -float("inf"))
        for i, s in enumerate(states):
            out[i, :len(s[1])] = torch.as_tensor(self.table.get(s, [0.0] * len(s[1])), dtype=torch.float)
        return out


def setup(task):
    args = run.Args(env=run.TASK_ENV[task], task=task)
    return (args, *exact.tree(args))


def test_the_shortest_plan_played_with_certainty_succeeds_with_its_logged_return():
    """Food Preparation's 6-step plan: P = 1 and return 0.95^5 (the reward on the sixth decision)."""
    args, start, nodes = setup("food")
    env = run.make_env(args)
    info = run.with_obs(*env.reset())
    table = {}
    for a in run.virtualhome_env.oracle_plan(env):
        logits = [-1e9] * len(info["action_ids"])
        logits[info["action_ids"].index(a)] = 0.0
        table[run.state_of(info)] = logits
        obs, _, _, _, info = env.step(a)
        info = run.with_obs(obs, info)
    p, ret, _ = exact.exact(TablePolicy(table), args, nodes, start)
    assert p == pytest.approx(1.0)
    assert ret == pytest.approx(0.95 ** 5)


def test_a_policy_that_never_leaves_the_kitchen_for_the_pancake_never_succeeds():
    """Always 'walk to the bathroom' (offered in every kitchen state): P = 0, return 0."""
    args, start, nodes = setup("food")
    table = {}
    for inf, _ in nodes.values():
        s = run.state_of(inf)
        table[s] = [0.0 if t == "walk to the bathroom" else -1e9 for t in s[1]]
    p, ret, _ = exact.exact(TablePolicy(table), args, nodes, start)
    assert p == 0.0 and ret == 0.0


def test_uniform_choice_matches_sampled_episodes():
    """The uniform policy's exact P against 1,500 episodes played in the env itself (no table):
    within 4 standard errors. A BFS that missed states or a backward pass over the wrong edges
    would not be."""
    args, start, nodes = setup("food")
    p, ret, _ = exact.exact(TablePolicy(), args, nodes, start)
    env, rng, n, wins = run.make_env(args), np.random.default_rng(0), 1500, 0
    for _ in range(n):
        obs, info = env.reset()
        while True:
            obs, r, term, trunc, info = env.step(int(rng.choice(info["action_ids"])))
            if term or trunc:
                wins += bool(info["success"])
                break
    se = np.sqrt(p * (1 - p) / n)
    assert 0.0 < p < 1.0
    assert abs(wins / n - p) < 4 * se


@pytest.mark.parametrize("argv, message", [([], "give --tasks, --runs or both"),
                                           (["--tasks", "food", "--variants", "nope"], "unknown prompt variant 'nope'"),
                                           (["--tasks", "food", "--norms", "nope"], "argument --norms: invalid choice: 'nope' (choose from "
                                            + ", ".join(repr(n) for n in llm_policy.NORMS) + ")"),
                                           (["--tasks", "food", "--model", "nope"], "unknown model 'nope'; known: "
                                            + ", ".join(llm_policy.KNOWN_MODELS) + ", or a local transformers directory")])
def test_bad_input_is_refused_before_any_model_loads(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(sys, "argv", ["exact.py", *argv])
    monkeypatch.setattr(run, "load_agent_for", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(SystemExit) as e:
        exact.main()
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message + (
        "; known: " + ", ".join(exact.prompts.VARIANTS) if "variant" in message else ""))


def test_the_random_floor_is_uniform_choice():
    """--random's row: run.py's random agent (states as feature vectors and action ids) gives the
    same exact P as a uniform table over the prompts' states."""
    args, start, nodes = setup("food")
    p, ret, _ = exact.exact(TablePolicy(), args, nodes, start)
    row = exact.measure("food", algo="random")
    assert row["policy"] == "random" and row["p_success"] == pytest.approx(p, abs=1e-6)
    assert row["expected_return"] == pytest.approx(ret, abs=1e-6)


def test_norms_score_the_untrained_model_with_each_normalisation(monkeypatch, capsys):
    """--norms: one row per normalisation, each measured with an agent built with that --norm."""
    seen = []
    monkeypatch.setattr(sys, "argv", ["exact.py", "--tasks", "food", "--norms", "word", "none"])
    monkeypatch.setattr(run, "load_agent_for", lambda args, *a: seen.append(args.norm) or TablePolicy())
    exact.main()
    rows = [__import__("json").loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert seen == ["word", "none"] and [r["norm"] for r in rows] == ["word", "none"]
    assert rows[0]["p_success"] == rows[1]["p_success"]  # the same uniform table: the same P


def test_model_builds_the_untrained_agent_from_that_model(monkeypatch, capsys):
    """--model: the --tasks rows' agents are built from it, and each row names it."""
    seen = []
    monkeypatch.setattr(sys, "argv", ["exact.py", "--tasks", "food", "--model", "smollm2-135m", "--norms", "token"])
    monkeypatch.setattr(run, "load_agent_for", lambda args, *a: seen.append((args.model, args.norm)) or TablePolicy())
    exact.main()
    rows = [__import__("json").loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert seen == [("smollm2-135m", "token")] and [(r["model"], r["norm"]) for r in rows] == [("smollm2-135m", "token")]
