"""Ensure bench/strong_ppo.py runs what it says: the sweep's settings become the run.py flags they
name, MaskablePPO is measured by run.py's own evaluation, and both kinds of run finish and report.
The MaskablePPO tests need sb3-contrib (bench/requirements-bench.txt) and are skipped without it."""
import json
import math
import os
import sys

import numpy as np
import pytest
import torch

import run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import strong_ppo as sp  # noqa: E402


def key(obs):
    return tuple(float(x) for x in obs)


def oracle_table(task):
    """observation -> the shortest plan's action, along the plan from reset."""
    env = run.make_env(run.Args(algo="ppo", env=run.TASK_ENV[task], task=task))
    obs, info = env.reset()
    table = {}
    for a in run.ENVS[run.TASK_ENV[task]].oracle_plan(env):
        assert key(obs) not in table  # the plan never meets an observation twice
        table[key(obs)] = a
        obs, _, _, _, info = env.step(a)
    return table


def test_every_setting_becomes_the_run_py_flags_it_names():
    """run.py's own parser and defaults turn each sweep command into exactly that setting: its
    epochs, rollout, one learning rate for both nets, one minibatch size for both phases (policy
    micro-batch x accumulation), standardised advantages, no KL stop, a stop at 90 % sampled."""
    names = set()
    for s in sp.settings():
        for task in sp.TASKS:
            args = run.check_args(run.parse_args(sp.ppo_command(task, s, 3, "/nonexistent/out")))
            assert (args.algo, args.task, args.env, args.seed) == ("ppo", task, run.TASK_ENV[task], 3)
            assert args.update_epochs == s["epochs"] and args.num_envs == s["envs"] and args.num_steps == sp.NUM_STEPS
            assert args.actor_lr == args.critic_lr == s["lr"]
            assert args.policy_microbatch * args.grad_accum == args.value_minibatch == s["minibatch"]
            assert (args.num_envs * args.num_steps) % s["minibatch"] == 0  # whole minibatches every epoch
            assert args.norm_adv is True and math.isinf(args.target_kl) and args.stop_at_sampled == sp.STOP_AT
            assert args.steps == sp.BUDGET[task] and args.eval_episodes == 20 and args.eval_every == 1
            assert sp.setting_of(vars(args)) == s  # what the report reads back from config.json
        names.add(sp.setting_name(s))
    assert len(names) == len(sp.settings()) == 16


def test_ranking_prefers_more_seeds_at_90_then_fewer_decisions():
    def runs(*hits, final=1.0):
        return [{"decisions_to_90_sampled": h, "budget": 1000, "final_success_rate": final} for h in hits]
    assert sp.rank_key(runs(900, 900)) < sp.rank_key(runs(100, None))  # two seeds beat one, however fast
    assert sp.rank_key(runs(100, 300)) < sp.rank_key(runs(200, 300))
    assert sp.rank_key(runs(None, None, final=0.5)) < sp.rank_key(runs(None, None, final=0.2))


@pytest.mark.parametrize("task", ["food", "tomato", "tomato-lettuce"])
def test_oracle_through_the_wrapper_succeeds_every_episode(task):
    """Scores that put everything on the shortest plan's action, read from the observation alone,
    through masked_agent and run.evaluate: 20 of 20 sampled episodes and the greedy one succeed,
    with the oracle's return. (Not Entertainment: there the shortest plan meets the same observation
    twice with different actions, since whether the TV is on cannot be seen from the kitchen.)"""
    table = oracle_table(task)
    env = run.make_env(run.Args(algo="ppo", env=run.TASK_ENV[task], task=task))
    obs, info = env.reset()
    oracle_return, disc = 0.0, 1.0
    for a in table.values():
        obs, r, _, _, info = env.step(a)
        oracle_return, disc = oracle_return + disc * r, disc * run.ENVS[run.TASK_ENV[task]].discount(info)

    def all_logits(obs):  # (B, D) -> (B, A): +30 on the plan's action, 0 elsewhere
        out = np.zeros((len(obs), env.action_space.n), dtype=np.float32)
        for b, o in enumerate(obs):
            if key(o) in table:
                out[b, table[key(o)]] = 30.0
        return out
    ev = run.evaluate(sp.masked_agent(all_logits), run.Args(algo="ppo", env=run.TASK_ENV[task], task=task), 20, seed=7)
    assert ev["success_rate"] == 1.0 and ev["greedy_success"] == 1.0
    assert ev["mean_return"] == pytest.approx(oracle_return) and ev["greedy_length"] == len(table)


def test_wrapper_keeps_only_valid_actions_and_a_uniform_policy_fails_entertainment():
    """A huge score on an action that is not valid gets probability 0; uniform scores give the
    random agent's level on Entertainment, which succeeds in 0.36 % of its episodes (computed
    exactly, bench/results/exact.json): at most 2 of 20 (P(3 or more) < 1e-4), and the greedy
    episode never, so success is not read as always true."""
    args = run.Args(algo="ppo", env="virtualhome", task="food")
    env = run.make_env(args)
    obs, info = env.reset()
    invalid = next(a for a in range(env.action_space.n) if a not in info["action_ids"])

    def favour_invalid(o):
        out = np.zeros((len(o), env.action_space.n), dtype=np.float32)
        out[:, invalid] = 100.0
        return out
    state = run.state_of(run.with_obs(obs, info), "ppo")
    p = sp.masked_agent(favour_invalid).policy_logits([state]).softmax(-1)[0]  # (K,)
    assert p.shape == (len(info["action_ids"]),) and torch.allclose(p, torch.full_like(p, 1 / len(p)))
    fun = run.Args(algo="ppo", env="virtualhome", task="entertainment")
    n = run.make_env(fun).action_space.n
    ev = run.evaluate(sp.masked_agent(lambda o: np.zeros((len(o), n), dtype=np.float32)), fun, 20, seed=0)
    assert ev["success_rate"] <= 0.1 and ev["greedy_success"] == 0.0


def test_a_sweep_run_is_kept_once_finished_and_the_report_chooses(tmp_path, monkeypatch):
    """A two-setting grid on Food, 128 decisions each, through run.py subprocesses: both finish,
    a second call keeps the finished run instead of training again, and the report chooses one
    setting, names the stronger implementation, and writes the JSON (with each run's command and
    curve) and the table."""
    monkeypatch.setattr(sp, "RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(sp, "RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(sp, "GRID", {"epochs": (2,), "lr": (1e-3,), "envs": (2,), "minibatch": (32, 64)})
    monkeypatch.setattr(sp, "NUM_STEPS", 32)
    monkeypatch.setattr(sp, "BUDGET", {**sp.BUDGET, "food": 128})
    os.makedirs(sp.RUNS)
    for s in sp.settings():
        summary = sp.ensure_ppo("food", s, 1)
        assert summary["decisions"] == 128 and summary["updates"] == 2
    name = f"food-{sp.setting_name(sp.settings()[0])}-s1"
    log, size = os.path.join(sp.RUNS, f"{name}.log"), os.path.getsize(os.path.join(sp.RUNS, f"{name}.log"))
    assert sp.ensure_ppo("food", sp.settings()[0], 1)["run_dir"] == os.path.join(sp.RUNS, name)
    assert os.path.getsize(log) == size  # kept, not run again
    # A finished MaskablePPO run, written by hand, at 90 % after its first 64 decisions: stronger than
    # anything 128 decisions of Food can give the MLP (uniform play succeeds 1 % of the time).
    chosen = sp.choose("food", [1])
    fake = sp.sb3_dir("food", chosen["envs"], 1)
    os.makedirs(fake)
    json.dump({"algo": "sb3-maskable-ppo", "task": "food", "steps": 128, "settings": {"n_envs": chosen["envs"]}},
              open(os.path.join(fake, "config.json"), "w"))
    with open(os.path.join(fake, "metrics.jsonl"), "w") as f:
        f.write(json.dumps({"decisions": 64, "time/wall_s": 1.5, "eval/success_rate": 0.95, "eval/mean_return": 0.7}) + "\n")
    json.dump({"success_rate": 1.0, "mean_return": 0.77, "greedy_success": 1.0, "decisions": 64, "wall_s": 2.0},
              open(os.path.join(fake, "summary.json"), "w"))
    results = sp.report(["food"], [1], [1])
    t = results["tasks"]["food"]
    assert t["chosen"] == sp.setting_name(chosen) and len(t["sweep"]) == 2
    assert t["stronger"].startswith("sb3-contrib MaskablePPO")
    sb3_run = t["comparison"][t["stronger"]]["runs"][0]
    assert (sb3_run["decisions_to_90_sampled"], sb3_run["wall_s_to_90_sampled"]) == (64, 1.5)
    run0 = t["sweep"][0]["runs"][0]
    assert run0["command"].startswith("python run.py --algo ppo --env virtualhome --task food --seed 1 --steps 128")
    assert [c[0] for c in run0["curve"]] == [64, 128] and run0["final_decisions"] == 128
    assert json.load(open(tmp_path / "results" / "strong-ppo.json"))["tasks"]["food"]["chosen"] == t["chosen"]
    md = open(tmp_path / "results" / "strong-ppo.md").read()
    assert "(chosen)" in md and "Stronger on food: **sb3-contrib MaskablePPO" in md


def test_sb3_wrapper_is_maskableppo_masked_distribution():
    """On states met by random valid play, softmax over the wrapper's scores equals MaskablePPO's
    own masked action distribution (weights perturbed so the policy is far from uniform)."""
    pytest.importorskip("sb3_contrib")
    import gymnasium as gym
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv
    import virtualhome_env  # noqa: F401
    model = MaskablePPO("MlpPolicy", DummyVecEnv([lambda: gym.make("TWOSOME/FoodPreparation-v0")]), n_steps=64,
                        seed=0, device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.policy.action_net.parameters():
            p.normal_(0, 1.0)
    env, rng = run.make_env(run.Args(algo="ppo", env="virtualhome", task="food")), np.random.default_rng(0)
    obs, info = env.reset()
    states, masks = [], []
    for _ in range(30):
        states.append(run.state_of(run.with_obs(obs, info), "ppo"))
        masks.append(env.action_masks())
        obs, _, term, trunc, info = env.step(int(rng.choice(info["action_ids"])))
        if term or trunc:
            obs, info = env.reset()
    mine = sp.sb3_agent(model).policy_logits(states).softmax(-1)  # (B, K)
    with torch.no_grad():
        obs_t = torch.as_tensor(np.array([s[0] for s in states], dtype=np.float32))
        theirs = model.policy.get_distribution(obs_t, action_masks=np.array(masks)).distribution.probs  # (B, A)
    assert mine.std() > 0.05  # far from uniform, so agreement means something
    for b, s in enumerate(states):
        ids = list(s[1])
        assert torch.allclose(mine[b, :len(ids)], theirs[b, ids], atol=1e-5)
        assert float(theirs[b].sum() - theirs[b, ids].sum()) < 1e-6  # nothing on invalid actions


def test_a_tiny_maskableppo_run_completes_and_is_measured(tmp_path):
    """Two rollouts of 2 envs x 64 decisions on Food: two updates, each followed by an evaluation;
    the settings read back are MaskablePPO's defaults with the env's discount, and the report's
    measure() reads the run as it reads a run.py run."""
    pytest.importorskip("sb3_contrib")
    out = str(tmp_path / "sb3-food")
    summary = sp.train_sb3("food", 2, 64, 1, out, budget=256, stop_at=1.1, eval_episodes=2)
    assert summary["decisions"] == 256 and summary["updates"] == 2
    rows = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["decisions"] for r in rows] == [128, 256] and all(0 <= r["eval/success_rate"] <= 1 for r in rows)
    settings = json.load(open(os.path.join(out, "config.json")))["settings"]
    assert (settings["n_epochs"], settings["batch_size"], settings["learning_rate"], settings["ent_coef"]) == (10, 64, 3e-4, 0.0)
    assert settings["gamma"] == pytest.approx(0.95) and settings["normalize_advantage"] is True
    m = sp.measure(out, 1)
    assert m["final_decisions"] == 256 and [c[0] for c in m["curve"]] == [128, 256]
    assert m["command"].startswith("python bench/strong_ppo.py --stages sb3 --tasks food --seeds 1")


def test_grid_cut_keeps_only_the_given_values_and_refuses_bad_input(monkeypatch, capsys):
    """--grid envs=8 leaves the 8 settings with 8 envs (the list stage prints them, runs nothing);
    an unknown key or a value of the wrong type is one line on stderr and exit code 2."""
    monkeypatch.setattr(sp, "GRID", dict(sp.GRID))  # main() cuts the module's grid in place
    monkeypatch.setattr(sys, "argv", ["strong_ppo.py", "--grid", "envs=8", "--tasks", "food"])
    sp.main()
    assert len(sp.settings()) == 8 and {s["envs"] for s in sp.settings()} == {8}
    assert "sweep: 8 settings x 2 seeds x 1 tasks" in capsys.readouterr().out
    for bad in ("speed=8", "envs=eight"):
        monkeypatch.setattr(sys, "argv", ["strong_ppo.py", "--grid", bad])
        with pytest.raises(SystemExit) as e:
            sp.main()
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and err[-1].startswith(f"strong_ppo.py: error: --grid {bad}:")
