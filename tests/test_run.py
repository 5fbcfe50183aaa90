"""Ensure run.py trains, checkpoints, resumes, evaluates and rejects bad input (the experiment)."""
import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A tiny budget: 2 envs x 8 decisions per update, micro-batches of 2 accumulated over 2.
TINY = ["--num-envs", "2", "--num-steps", "8", "--policy-microbatch", "2", "--grad-accum", "2",
        "--value-minibatch", "8", "--eval-episodes", "2", "--actor-lr", "1e-3", "--critic-lr", "1e-3"]


def cli(*argv, timeout=300):
    return subprocess.run([sys.executable, os.path.join(ROOT, "run.py"), *argv], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def metrics(run_dir):
    """The logged rows without the timings (time/..., decisions per second), which vary run to run."""
    rows = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
    return [{k: v for k, v in r.items() if not k.startswith("time/") and k != "charts/decisions_per_s"} for r in rows]


def assert_rows_close(a, b, tol):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k in ra:
            if isinstance(ra[k], float) and math.isnan(ra[k]):
                assert math.isnan(rb[k]), k
            else:
                assert ra[k] == pytest.approx(rb[k], abs=tol, rel=tol), (ra["update"], k)


def test_smoke_run_writes_a_complete_run_directory(tiny_dir, tmp_path):
    """Ensure one short training run writes config, metrics, checkpoint, curves and a summary."""
    out = str(tmp_path / "run")
    summary = run.main(run.parse_args(["--env", "virtualhome", "--model", tiny_dir, "--steps", "32",
                                       "--out", out, *TINY]))
    for key in ("success_rate", "mean_return", "mean_length", "decisions", "wall_s", "greedy_success"):
        assert key in summary
    assert summary["decisions"] == 32
    rows = metrics(out)
    assert [r["update"] for r in rows] == [1, 2]
    for r in rows:
        assert all(math.isfinite(r[k]) for k in ("losses/policy_loss", "losses/value_loss", "losses/approx_kl"))
    for name in ("config.json", "curves.png", "policy.png", "summary.json", "checkpoint/state.pt", "checkpoint/agent"):
        assert os.path.exists(os.path.join(out, name)), name


def test_fast_path_equals_plain_path(tiny_dir, tmp_path, monkeypatch):
    """Ensure the exact speed-ups change no result, and that --no-fast turns every one of them off:
    no shared-prompt scoring, no score cache or deduplicated batches (ppo.eval_unique, their one
    mechanism), no critic feature cache."""
    import llm_policy
    import ppo
    calls = {}
    for module, name in ((ppo, "eval_unique"), (llm_policy, "_score_shared")):
        def counting(*a, _real=getattr(module, name), _name=name, **kw):
            calls[_name] += 1
            return _real(*a, **kw)
        monkeypatch.setattr(module, name, counting)
    agents, load = [], run.load_agent_for
    monkeypatch.setattr(run, "load_agent_for", lambda *a, **kw: agents.append(load(*a, **kw)) or agents[-1])
    common = ["--env", "overcooked", "--model", tiny_dir, "--steps", "32", *TINY]
    seen = {}
    for mode in ("--fast", "--no-fast"):
        calls.update(eval_unique=0, _score_shared=0)
        run.main(run.parse_args([*common, mode, "--out", str(tmp_path / mode)]))
        seen[mode] = dict(calls), agents[-1].feature_cache
    (fast_calls, fast_features), (plain_calls, plain_features) = seen["--fast"], seen["--no-fast"]
    assert fast_calls["eval_unique"] > 0 and fast_calls["_score_shared"] > 0 and len(fast_features) > 0
    assert plain_calls == {"eval_unique": 0, "_score_shared": 0} and plain_features is None
    assert_rows_close(metrics(str(tmp_path / "--fast")), metrics(str(tmp_path / "--no-fast")), tol=1e-4)


@pytest.mark.parametrize("task", ["tomato", "food"])
def test_paper_flag_restores_the_papers_settings(task):
    """Ensure --paper gives the paper's rollout, groups, learning rates and budget, ours otherwise,
    and that an explicit flag still wins over either."""
    env = run.TASK_ENV[task]
    ours = run.check_args(run.parse_args(["--env", env, "--task", task]))
    paper = run.check_args(run.parse_args(["--env", env, "--task", task, "--paper"]))
    assert (ours.num_envs, ours.grad_accum, paper.num_envs, paper.grad_accum) == (16, 32, 4, 8)
    assert (ours.norm_adv, paper.norm_adv) == (False, True)
    expected = {"tomato": (500_000, 5e-7, 1e-5), "food": (50_000, 1e-6, 5e-5)}[task]
    assert (paper.steps, paper.actor_lr, paper.critic_lr) == expected
    assert (ours.steps, ours.actor_lr) == (run.TASK_DEFAULTS[task]["steps"], run.TASK_DEFAULTS[task]["actor_lr"])
    assert paper.gamma == ours.gamma  # the paper's discount in both
    mixed = run.check_args(run.parse_args(["--env", env, "--task", task, "--paper", "--num-envs", "2", "--steps", "64",
                                           "--no-norm-adv"]))
    assert (mixed.num_envs, mixed.steps, mixed.grad_accum, mixed.norm_adv) == (2, 64, 8, False)
    assert (ours.variant, paper.variant) == ("serve-held", "good")  # the prompt: ours, or the paper's
    assert run.check_args(run.parse_args(["--env", env, "--task", task, "--paper", "--variant", "here-first"])).variant \
        == "here-first"


def test_entertainment_defaults_to_the_wide_rollout():
    """Entertainment's own rollout (256 x 32, groups of 4 x 512, 16 updates) wins over the general
    one; --paper still gives the paper's, and an explicit flag still wins over both."""
    def resolved(*flags):
        a = run.check_args(run.parse_args(["--env", "virtualhome", "--task", "entertainment", *flags]))
        return a.num_envs, a.grad_accum, a.steps
    assert resolved() == (256, 512, 131_072)
    assert resolved("--paper") == (4, 8, 200_000)
    assert resolved("--num-envs", "16", "--grad-accum", "32") == (16, 32, 131_072)
    food = run.check_args(run.parse_args(["--env", "virtualhome", "--task", "food"]))
    assert (food.num_envs, food.grad_accum) == (16, 32)


def test_built_in_python_args_get_the_default_prompt():
    """Args made in Python (not through check_args) make the environment with the same prompt."""
    prompt = run.make_env(run.Args(env="virtualhome", task="food")).reset()[1]["prompt"]
    assert prompt.startswith("You are in the kitchen (the four rooms are ")
    paper = run.make_env(run.Args(env="virtualhome", task="food", paper=True)).reset()[1]["prompt"]
    assert paper.startswith("There are four rooms: ")


def test_stop_at_sampled_stops_at_the_first_evaluation_that_reaches_it(tiny_dir, tmp_path):
    """Ensure --stop-at-sampled ends training after the first update whose evaluation (here 4
    sampled episodes) reaches the threshold, and not before; each update logs that evaluation."""
    out = str(tmp_path / "run")
    # Tomato Salad: the tiny random model succeeds about half the time, so 50 % comes soon but
    # not always at once; the budget allows 16 updates
    summary = run.main(run.parse_args(["--env", "overcooked", "--model", tiny_dir, "--steps", "256",
                                       "--stop-at-sampled", "0.5", "--out", out, *TINY, "--eval-episodes", "4"]))
    rows = metrics(out)
    assert all(r["eval/success_rate"] < 0.5 for r in rows[:-1]) and rows[-1]["eval/success_rate"] >= 0.5
    assert summary["updates"] == len(rows) < 16
    assert all(r["eval/success_rate"] in (0, 0.25, 0.5, 0.75, 1) for r in rows)  # 4 episodes each


def test_stop_at_greedy_alone_or_with_sampled_needs_every_threshold_given():
    """Ensure --stop-at-greedy stops at an evaluation whose greedy episode reaches it, and with
    --stop-at-sampled only once both are reached; an update without an evaluation never stops."""
    both = run.parse_args(["--stop-at-greedy", "1", "--stop-at-sampled", "0.9"])
    greedy = run.parse_args(["--stop-at-greedy", "1"])
    neither = run.parse_args([])
    row = {"eval/success_rate": 0.95, "eval/greedy_success": 0.0}
    assert run.stop_reason(both, row) is None and run.stop_reason(greedy, row) is None
    row["eval/greedy_success"] = 1.0
    assert "--stop-at-greedy 1" in run.stop_reason(both, row)
    assert run.stop_reason(neither, row) is None
    row["eval/success_rate"] = 0.5
    assert run.stop_reason(both, row) is None and run.stop_reason(greedy, row) is not None
    assert run.stop_reason(greedy, {"update": 3}) is None  # no evaluation this update


def test_checkpoint_every_saves_every_kth_update_and_the_last(tiny_dir, tmp_path, monkeypatch):
    """Ensure --checkpoint-every 2 over 5 updates checkpoints after updates 2, 4 and 5 (the last)."""
    saved, real = [], run.save_checkpoint

    def spy(run_dir, agent, state):  # the real save, noting which update it keeps
        saved.append(state.update)
        return real(run_dir, agent, state)

    monkeypatch.setattr(run, "save_checkpoint", spy)
    run.main(run.parse_args(["--env", "virtualhome", "--model", tiny_dir, "--steps", "80", *TINY,
                             "--eval-every", "0", "--checkpoint-every", "2", "--out", str(tmp_path / "r")]))
    assert saved == [2, 4, 5]
    assert run.load_checkpoint(str(tmp_path / "r")).update == 5


def test_watch_shows_an_episode_and_writes_a_gif(tiny_dir, tmp_path, capsys):
    """Ensure --watch plays the run's own env and task with frames and bars, --gif writes the same
    episode as a GIF, and an existing --gif file is refused untouched (exit 2)."""
    out = str(tmp_path / "run")
    run.main(run.parse_args(["--env", "virtualhome", "--model", tiny_dir, "--steps", "16", "--out", out, *TINY]))
    capsys.readouterr()
    shown = run.main(run.parse_args(["--watch", out]))  # the run's env, not the default (overcooked)
    text = capsys.readouterr().out
    assert "=== decision 0" in text and "<- chosen" in text and "@ kitchen:" in text  # VirtualHome's rooms
    assert text.count("=== decision") == shown["decisions"] + 1
    gif = str(tmp_path / "episode.gif")
    result = run.main(run.parse_args(["--watch", out, "--gif", gif]))
    from PIL import Image
    with Image.open(gif) as image:
        assert image.n_frames == result["decisions"] + 1
    with pytest.raises(run.UsageError, match="--env overcooked would change the run"):
        run.parse_args(["--watch", out, "--env", "overcooked"])
    (tmp_path / "keep.gif").write_bytes(b"precious")
    proc = cli("--watch", out, "--gif", str(tmp_path / "keep.gif"))
    assert proc.returncode == 2 and "must be a new file" in proc.stderr
    assert (tmp_path / "keep.gif").read_bytes() == b"precious"
    proc = cli("--gif", str(tmp_path / "x.gif"))
    assert proc.returncode == 2 and "give --watch" in proc.stderr


def test_score_cache_returns_the_plain_scores(tiny_dir):
    """Ensure the rollout's score cache (ppo.eval_unique with a cache) gives the agent's own (B, K)
    scores, repeated states and states with fewer actions included."""
    import ppo
    args = run.check_args(run.parse_args(["--env", "virtualhome", "--model", tiny_dir]))
    agent = run.load_agent_for(args)
    env = run.make_env(args)
    s0 = run.state_of(env.reset()[1])
    for a in (4, 6):
        env.step(a)
    s1 = run.state_of(env.step(5)[4])
    assert (len(s0[1]), len(s1[1])) == (5, 7)  # so that the cache must pad s0's rows again
    states = [s0, s1, s0, s1, s1]
    cache = {}
    with torch.no_grad():
        plain = agent.policy_logits(states)
        cached = ppo.eval_unique(agent.policy_logits, states, cache)
        again = ppo.eval_unique(agent.policy_logits, states[:1], cache)
    assert len(cache) == 2
    assert torch.equal(cached[:1, : len(s0[1])], again)
    assert torch.equal(torch.isinf(plain), torch.isinf(cached))
    assert torch.allclose(plain, cached, atol=1e-5)


@pytest.mark.parametrize("env", ["overcooked", "virtualhome"])
def test_side_by_side_evaluation_equals_one_after_the_other(env, tiny_dir, monkeypatch):
    """Ensure evaluate()'s fast path (every episode in one batch per step, score cache) plays the
    episodes of its plain path (one at a time, no cache), action by action, and that each sampled
    episode depends on its own generator only: the first 2 of 4 are those of a 2-episode run.
    (evaluate() picks the side-by-side or the one-by-one way by --fast; test_fast_path_equals_plain_path
    compares the two through run.py's logged evaluations.)"""
    args = run.check_args(run.parse_args(["--env", env, "--model", tiny_dir]))
    agent = run.load_agent_for(args)
    torch.manual_seed(0)
    for name, p in agent.model.named_parameters():  # a non-uniform policy, so episodes differ
        if "lora_B" in name:
            p.data.normal_(0, 2.0)
    played, make_env = [], run.make_env  # each env's actions, in the order the envs were made

    def recording_env(*a, **kw):
        env, actions = make_env(*a, **kw), []
        played.append(actions)
        step = env.step
        env.step = lambda action: (actions.append(action), step(action))[1]
        return env
    monkeypatch.setattr(run, "make_env", recording_env)
    greedy, gens = [True] + [False] * 4, lambda: [None] + [run.episode_generator(5, i) for i in range(4)]
    with torch.no_grad():
        side_by_side = run.run_episodes(agent, args, greedy, gens(), cache={})
        one_by_one = [run.run_episodes(agent, args, [g], [gen], None)[0] for g, gen in zip(greedy, gens())]
        first_two = run.run_episodes(agent, args, greedy[:3], gens()[:3], cache={})
    assert played[:5] == played[5:10] and played[10:] == played[:3]
    assert len({tuple(actions) for actions in played[1:5]}) > 1  # the sampled episodes are not all alike
    assert [(s, n) for s, _, n in side_by_side] == [(s, n) for s, _, n in one_by_one]
    assert [r for _, r, _ in side_by_side] == pytest.approx([r for _, r, _ in one_by_one], abs=1e-9)
    assert first_two == side_by_side[:3]


def test_kill_and_resume_reproduces_the_uninterrupted_run(tiny_dir, tmp_path):
    """Ensure a run SIGKILLed mid-way and resumed logs the same metrics as one never stopped."""
    common = ["--env", "virtualhome", "--model", tiny_dir, "--steps", "96", *TINY, "--eval-every", "0"]
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "run.py"), *common, "--out", killed],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.time() + 240
    while time.time() < deadline:  # kill as soon as the second update's metrics are written
        log = os.path.join(killed, "metrics.jsonl")
        if os.path.exists(log) and len(open(log).readlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(os.path.join(killed, "summary.json")), "the run finished before the kill"
    resumed = cli("--resume", killed)
    assert resumed.returncode == 0, resumed.stderr
    run.main(run.parse_args([*common, "--out", full]))
    assert_rows_close(metrics(killed), metrics(full), tol=1e-4)  # fp noise of batch composition
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["decisions"] == 96


def test_resume_with_steps_extends_a_finished_run(tiny_dir, tmp_path):
    """Ensure --resume DIR --steps 2N continues a finished run of N decisions to 2N: its first
    updates kept as logged, the next ones those of a run that had 2N from the start (without the
    learning-rate decay, whose schedule depends on the budget), and config.json records the budget."""
    common = ["--env", "virtualhome", "--model", tiny_dir, *TINY, "--no-anneal-lr"]
    extended, straight = str(tmp_path / "extended"), str(tmp_path / "straight")
    first = run.main(run.parse_args([*common, "--steps", "32", "--out", extended]))
    logged = open(os.path.join(extended, "metrics.jsonl")).read()
    assert first["decisions"] == 32 and first["updates"] == 2
    again = run.main(run.parse_args(["--resume", extended, "--steps", "64"]))
    run.main(run.parse_args([*common, "--steps", "64", "--out", straight]))
    assert open(os.path.join(extended, "metrics.jsonl")).read().startswith(logged)
    assert [r["decisions"] for r in metrics(extended)] == [16, 32, 48, 64]
    assert (again["decisions"], again["updates"]) == (64, 4)
    assert json.load(open(os.path.join(extended, "config.json")))["steps"] == 64
    assert_rows_close(metrics(extended), metrics(straight), tol=1e-4)


def test_resume_refuses_a_flag_that_would_change_the_run(tiny_dir, tmp_path):
    """Ensure --resume refuses, with one line and exit 2, a flag that would change what the run is
    (even one typed with its default value), and a budget below what it has done, changing nothing
    in the run directory; and that --evaluate, --watch and --play --resume take the run's own env,
    task, model and normalisation."""
    out = str(tmp_path / "run")
    run.main(run.parse_args(["--env", "virtualhome", "--model", tiny_dir, "--steps", "32", "--out", out, *TINY]))

    def snapshot():
        return {os.path.join(d, f): (open(os.path.join(d, f), "rb").read(), os.stat(os.path.join(d, f)).st_mtime_ns)
                for d, _, files in os.walk(out) for f in files}
    before = snapshot()
    proc = cli("--resume", out, "--env", "overcooked")  # overcooked is the default: typed, it counts
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "--env overcooked would change the run" in lines[0] and "(its env is virtualhome)" in lines[0]
    for argv, message in [(["--actor-lr", "5e-4"], "--actor-lr 0.0005 would change the run"),
                          (["--seed", "2"], "--seed 2 would change the run"),
                          (["--no-norm-adv", "--num-envs", "4"], "--num-envs 4 would change the run"),
                          (["--out", str(tmp_path / "elsewhere")], "stays in its own directory"),
                          (["--steps", "16"], "--steps 16 allows 1 update(s), fewer than the 2")]:
        with pytest.raises(run.UsageError, match=re.escape(message)):
            run.main(run.parse_args(["--resume", out, *argv]))
    assert snapshot() == before
    for argv in (["--evaluate", out], ["--watch", out], ["--play", "--resume", out]):
        args = run.check_args(run.parse_args(argv))
        assert (args.env, args.task, args.model, args.norm) == ("virtualhome", "food", tiny_dir, "word")
        with pytest.raises(run.UsageError, match="--norm token would change the run"):
            run.parse_args([*argv, "--norm", "token"])


def test_evaluate_mode_reloads_the_checkpoint(tiny_dir, tmp_path):
    """Ensure --evaluate reloads a saved agent and reports the same greedy result as the run's end."""
    out = str(tmp_path / "run")
    summary = run.main(run.parse_args(["--env", "virtualhome", "--model", tiny_dir, "--steps", "16",
                                       "--out", out, *TINY]))
    again = run.main(run.parse_args(["--evaluate", out, "--eval-episodes", "2"]))
    assert again["greedy_return"] == pytest.approx(summary["greedy_return"])
    assert again["greedy_length"] == summary["greedy_length"]
    assert again["decisions"] == 16


def test_play_mode_reaches_the_goal_with_the_golden_plan(tiny_dir):
    """Ensure --play shows the world and each action's probability, and follows a person's choices
    to success."""
    # Food Preparation's golden plan [4,6,5,8,7,9] as positions in each state's valid list.
    from virtualhome_env import VirtualHomeEnv
    env, picks = VirtualHomeEnv("food"), []
    info = env.reset()[1]
    for a in [4, 6, 5, 8, 7, 9]:
        picks.append(str(info["action_ids"].index(a)))
        info = env.step(a)[4]
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "run.py"), "--env", "virtualhome", "--play",
                           "--model", tiny_dir], input="\n".join(["x"] + picks) + "\n", capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "policy" in proc.stdout and "%" in proc.stdout
    # the world is drawn before each choice: the agent starts in the kitchen, ends holding nothing
    assert "@ kitchen:" in proc.stdout and proc.stdout.count("next to:") >= 6
    assert "please type a number" in proc.stdout  # the bad answer "x" was refused, not fatal
    assert "success!" in proc.stdout


@pytest.mark.parametrize("argv, message", [
    (["--env", "minecraft"], "unknown --env 'minecraft'; choose one of: overcooked, virtualhome"),
    (["--algo", "dqn"], "unknown --algo 'dqn'; choose one of: twosome, ppo, saycan, random, oracle"),
    (["--env", "overcooked", "--task", "food"], "unknown --task 'food' for --env overcooked"),
    (["--norm", "char"], "unknown --norm 'char'; choose one of: none, token, word"),
    (["--steps", "0"], "--steps must be a positive integer, got 0"),
    (["--steps", "-5"], "--steps must be a positive integer, got -5"),
    (["--steps", "many"], "invalid int value: 'many'"),
    (["--value-epochs", "0"], "--value-epochs must be a positive integer, got 0"),
    (["--lora-r", "0"], "--lora-r must be a positive integer, got 0"),
    (["--actor-lr", "-1"], "--actor-lr must be a finite number > 0, got -1.0"),
    (["--ent-coef", "nan"], "--ent-coef must be a finite number >= 0, got nan"),
    (["--eval-episodes", "-3"], "--eval-episodes must be an integer >= 0, got -3"),
    (["--gamma", "1.5"], "--gamma must be a number from 0 to 1, got 1.5"),
    (["--clip-coef", "-1"], "--clip-coef must be a finite number > 0, got -1.0"),
    (["--resume", "tests"], "'tests' is not a run directory with a checkpoint"),
    (["--model", "no-such-model"], "unknown model 'no-such-model'"),
])
def test_bad_input_is_one_line_exit_2(argv, message, tmp_path):
    """Ensure bad input prints one line naming the problem, exits 2, writes nothing."""
    out = str(tmp_path / "never")
    proc = cli(*argv, "--out", out) if "--resume" not in argv else cli(*argv)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not os.path.exists(out)


def test_every_numeric_flag_has_a_range():
    """Ensure no numeric flag escapes the range check, and each range refuses NaN and infinity
    (but --target-kl inf, which means no early stop)."""
    numeric = {f.name for f in dataclasses.fields(run.Args) if f.type in (int, float)}
    assert numeric == set(run.RANGES)
    for name in numeric:
        for bad in (math.nan, -math.inf) + (() if name == "target_kl" else (math.inf,)):
            with pytest.raises(run.UsageError, match=f"--{name.replace('_', '-')} must be"):
                run.check_args(run.Args(**{name: bad}))
    assert run.check_args(run.Args(target_kl=math.inf)).target_kl == math.inf


def test_atomic_write_replaces_files_and_directories_whole(tmp_path):
    """Ensure atomic_write replaces a file or a directory leaving nothing beside it, and that a save
    killed between a directory's two renames leaves a checkpoint that is found, then put back."""
    path, ckpt = str(tmp_path / "f.json"), str(tmp_path / "checkpoint")
    run.atomic_write(path, "old")
    run.atomic_write(path, b"new")
    assert open(path, "rb").read() == b"new"

    def writer(text):
        def write(directory):
            os.makedirs(directory)
            with open(os.path.join(directory, "state.pt"), "w") as f:
                f.write(text)
        return write
    run.atomic_write(ckpt, writer("1"))
    run.atomic_write(ckpt, writer("2"))
    assert open(os.path.join(ckpt, "state.pt")).read() == "2"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "f.json"]
    os.replace(ckpt, ckpt + ".old")  # as if killed between the two renames
    assert run.checkpoint_of(str(tmp_path)) == ckpt + ".old"

    def killed(directory):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run.atomic_write(ckpt, killed)
    assert run.checkpoint_of(str(tmp_path)) == ckpt and open(os.path.join(ckpt, "state.pt")).read() == "2"


def test_existing_out_directory_is_never_overwritten(tmp_path):
    """Ensure --out pointing at an existing directory is refused and its files are untouched."""
    (tmp_path / "keep.txt").write_text("precious")
    proc = cli("--out", str(tmp_path))
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tiny_dir, tmp_path, monkeypatch):
    """Ensure a FloatingPointError from the update exits with code 3 and keeps the last good checkpoint."""
    import ppo
    real_update, calls = ppo.update, []

    def failing_update(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise FloatingPointError("non-finite policy loss")
        return real_update(*a, **kw)
    monkeypatch.setattr(ppo, "update", failing_update)
    out = str(tmp_path / "run")
    with pytest.raises(SystemExit) as stop:
        run.main(run.parse_args(["--env", "virtualhome", "--model", tiny_dir, "--steps", "48", "--out", out, *TINY]))
    assert stop.value.code == 3
    assert torch.load(os.path.join(out, "checkpoint", "state.pt"), weights_only=False)["update"] == 1


def test_torchrun_two_processes_stay_in_sync(tiny_dir, tmp_path):
    """Ensure torchrun with 2 processes trains 2 updates, ends with identical weights, writes one run dir."""
    out = tmp_path / "ddp"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           os.path.join(ROOT, "run.py"), "--env", "virtualhome", "--model", tiny_dir, "--steps", "64",
                           "--threads", "1", *TINY, "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["ranks_max_param_diff"] == 0.0  # the LoRA adapters and value heads are identical
    assert summary["decisions"] == 64  # 2 processes x 2 envs x 8 decisions x 2 updates
    assert [r["update"] for r in metrics(str(out))] == [1, 2]  # written once, by rank 0
    assert proc.stdout.count("update    1 |") == 1
    assert os.listdir(tmp_path) == ["ddp"]


@pytest.mark.parametrize("algo", ["twosome", "ppo", "saycan", "random", "oracle"])
def test_every_algo_runs_end_to_end(algo, tiny_dir, tmp_path):
    """Ensure each --algo (TWOSOME and the paper's baselines) writes the same summary and metrics."""
    out = str(tmp_path / algo)
    summary = run.main(run.parse_args(["--algo", algo, "--env", "virtualhome", "--model", tiny_dir,
                                       "--steps", "32", "--out", out, *TINY]))
    assert {"algo", "success_rate", "mean_return", "mean_length", "greedy_success", "decisions", "wall_s"} <= summary.keys()
    assert summary["algo"] == algo
    assert summary["decisions"] == (32 if algo in ("twosome", "ppo") else 0)
    rows = metrics(out)
    assert rows and {"decisions", "charts/success_rate", "charts/episodic_return"} <= rows[-1].keys()
    if algo == "oracle":  # the ceiling: Food Preparation's optimum, 6 decisions, return 0.95^5
        assert summary["success_rate"] == 1.0 and summary["greedy_length"] == 6
        assert summary["mean_return"] == pytest.approx(0.95 ** 5)


def test_step_envs_counts_every_finished_episode_and_its_success():
    """The rollout's own episode count (logged as rollout/episodes and rollout/successes): two envs
    walking Food Preparation's shortest plan both finish, with success, on its 6th decision."""
    args = run.check_args(run.parse_args(["--env", "virtualhome", "--task", "food", "--num-envs", "2"]))
    e = run.make_envs(args, seed=1)
    plan = run.ENVS["virtualhome"].oracle_plan(e.envs[0])
    for t, a in enumerate(plan):
        k = torch.tensor([info["action_ids"].index(a) for info in e.infos])
        rewards, _, finished, succeeded = run.step_envs(e, k, args)
        assert (finished, succeeded) == ((2, 2) if t == len(plan) - 1 else (0, 0))
    assert rewards.tolist() == [1.0, 1.0] and e.ep_len.tolist() == [0, 0]  # recorded, then reset
