"""Ensure bench/reliability.py trains what it says: each run's name and run.py command (the task's
stop flags, a lever, the device), several runs at once in order, and the summary's medians."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import reliability as rel  # noqa: E402


@pytest.fixture
def calls(monkeypatch):
    """Record what ensure() would train instead of training it (run.py itself is tested elsewhere)."""
    seen = []

    def fake(run_dir, log, cmd, extra=None):
        seen.append((os.path.basename(run_dir), cmd))
        return {"success_rate": 1.0, "greedy_success": 0.0, "decisions": 512, "wall_s": 9.0}
    monkeypatch.setattr(rel, "finished_or_run", fake)
    return seen


def flag(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_each_run_is_named_and_flagged_by_task_lever_and_device(calls):
    rel.ensure("food", 3)
    rel.ensure("entertainment", 2, "norm-adv")
    rel.ensure("tomato", 1, device="cuda")
    (n1, c1), (n2, c2), (n3, c3) = calls
    assert (n1, n2, n3) == ("food-s3", "norm-adv-entertainment-s2", "cuda-tomato-s1")
    assert flag(c1, "--task") == "food" and flag(c1, "--seed") == "3" and flag(c1, "--device") == "cpu"
    assert flag(c1, "--stop-at-greedy") == "0.9"  # Food has a greedy target
    assert "--stop-at-greedy" not in c2 and "--norm-adv" in c2  # Entertainment has none; the lever is on
    assert flag(c3, "--device") == "cuda" and flag(c3, "--env") == "overcooked"
    assert flag(c3, "--out").endswith(os.path.join("reliability", "cuda-tomato-s1"))
    assert "--eval-every" not in c1 + c2 + c3  # evaluated after every update (run.py's default)
    rel.ensure("tomato-lettuce", 2, "here-first")
    name, cmd = calls[-1]
    assert name == "here-first-tomato-lettuce-s2" and flag(cmd, "--eval-every") == "2"
    assert flag(cmd, "--variant") == "here-first" and "--stop-at-greedy" not in cmd


def test_runs_at_once_report_in_the_cells_order(calls, capsys):
    cells = [("food", s, None, "cpu") for s in (1, 2, 3)] + [("tomato", 1, "lr-3e-4", "cuda")]
    rel.ensure_all(cells, jobs=3)
    assert sorted(n for n, _ in calls) == sorted(["food-s1", "food-s2", "food-s3", "cuda-lr-3e-4-tomato-s1"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["food seed 1", "food seed 2", "food seed 3",
                                                       "cuda lr-3e-4 tomato seed 1"]


def test_summary_counts_an_unsolved_seed_as_never():
    def r(hit_s, decisions, final):
        return {"wall_s_to_90_sampled": hit_s, "decisions_to_90_sampled": decisions, "final_success_rate": final,
                "final_greedy_success": 0.0, "decisions_per_s": 10.0, "peak_rss_mb": 2000}
    two_of_three = rel.summarise("food", [r(50.0, 1024, 1.0), r(None, None, 0.2), r(70.0, 2048, 0.95)])
    assert two_of_three["seeds_90_sampled"] == 2 and two_of_three["seeds_final_90_sampled"] == 2
    assert two_of_three["median_wall_s_to_90_sampled"] == 70.0  # median of (50, 70, inf)
    one_of_three = rel.summarise("food", [r(50.0, 1024, 1.0), r(None, None, 0.2), r(None, None, 0.0)])
    assert one_of_three["median_decisions_to_90_sampled"] == float("inf")  # most seeds never got there


def test_jobs_below_one_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["reliability.py", "--jobs", "0"])
    with pytest.raises(SystemExit) as e:
        rel.main()
    assert e.value.code == 2 and "--jobs 0" in capsys.readouterr().err



def test_the_paper_prompt_lever_sets_the_papers_variant(calls):
    rel.ensure("food", 2, "paper-prompt")
    (name, cmd), = calls
    assert name == "paper-prompt-food-s2" and flag(cmd, "--variant") == "good"


def test_a_wider_rollout_keeps_the_number_of_updates(calls):
    """The wide lever's 4x decisions per update come with 4x the task's budget; others keep it."""
    rel.ensure("tomato-lettuce", 1, "wide", device="cuda")
    rel.ensure("entertainment", 1, "norm-adv")
    (n1, c1), (n2, c2) = calls
    assert n1 == "cuda-wide-tomato-lettuce-s1" and flag(c1, "--num-envs") == "64"
    assert int(flag(c1, "--steps")) == 4 * rel.TASK_DEFAULTS["tomato-lettuce"]["steps"]
    assert "--steps" not in c2  # run.py's own default budget


def test_entertainments_narrower_rollouts_run_the_32_updates_they_ran_before(calls):
    """Entertainment's ablations: 16 x 32 (512 decisions) and 64 x 32 (2,048) per update, each for
    32 updates, against the default's 16 updates of 256 x 32."""
    rel.ensure("entertainment", 1, "rollout-16x32")
    rel.ensure("entertainment", 1, "rollout-64x32")
    (n1, c1), (n2, c2) = calls
    assert (n1, flag(c1, "--num-envs"), int(flag(c1, "--steps"))) == ("rollout-16x32-entertainment-s1", "16", 32 * 512)
    assert (n2, flag(c2, "--num-envs"), int(flag(c2, "--steps"))) == ("rollout-64x32-entertainment-s1", "64", 32 * 2048)


def test_the_old_budget_changes_only_the_budget_and_the_prompt_it_ran_with(calls):
    """budget-8192: the defaults with Tomato Salad's earlier budget and Overcooked's earlier
    prompt (here-first), and nothing else."""
    rel.ensure("tomato", 2, "budget-8192", device="cuda")
    rel.ensure("tomato", 2)
    (n1, c1), (n2, c2) = calls
    assert n1 == "cuda-budget-8192-tomato-s2" and flag(c1, "--steps") == "8192"
    assert flag(c1, "--variant") == "here-first" and "--variant" not in c2  # run.py's own prompt
    assert rel.TASK_DEFAULTS["tomato"]["steps"] == 32_768 and "--steps" not in c2  # run.py's own budget
    assert [a for a in c1 if a not in ("--steps", "8192", "--variant", "here-first")] == [
        a.replace("cpu", "cuda").replace("tomato-s2", "cuda-budget-8192-tomato-s2") for a in c2]


def test_the_report_keeps_runs_measured_before_and_remeasures_those_on_disk(tmp_path, monkeypatch):
    """A fresh clone has no bench/runs: the report rebuilds every cell from the runs on disk and
    keeps the earlier report's runs that are not there, instead of dropping them."""
    monkeypatch.setattr(rel, "RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(rel, "RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(rel, "plot", lambda *a, **k: None)

    def run(seed, hit):
        return {"seed": seed, "wall_s_to_90_sampled": hit, "decisions_to_90_sampled": hit and 512,
                "final_success_rate": 1.0, "final_greedy_success": 1.0, "decisions_per_s": 10.0,
                "peak_rss_mb": 2000, "curve": [(512, 50.0, 1.0, 1.0)]}
    old = {"food": {"runs": [run(1, 50.0), run(2, None)]},
           "ablation": {"norm-adv": {"food": {"runs": [run(3, 60.0)]}}},
           "cuda": {"tomato": {"runs": [run(4, 20.0)]}}}
    os.makedirs(tmp_path / "runs" / "food-s2")  # seed 2 is on disk now, finished: measured afresh
    open(tmp_path / "runs" / "food-s2" / "summary.json", "w").write("{}")
    monkeypatch.setattr(rel, "measure", lambda name, seed: {**run(seed, 99.0), "name": name})
    results = dict(old)
    rel.report(results)
    food = results["food"]["runs"]
    assert [r["seed"] for r in food] == [1, 2] and food[0] == old["food"]["runs"][0]  # kept as it was
    assert food[1]["name"] == "food-s2" and food[1]["wall_s_to_90_sampled"] == 99.0  # remeasured
    assert results["food"]["summary"]["seeds_90_sampled"] == 2
    assert results["ablation"]["norm-adv"]["food"]["runs"] == old["ablation"]["norm-adv"]["food"]["runs"]
    assert results["cuda"]["tomato"]["runs"] == old["cuda"]["tomato"]["runs"]


def test_a_run_is_measured_from_its_files(tmp_path):
    """Decisions and wall-clock at the first evaluation at 90 %, the final evaluation, and why it
    learnt: the first update's entropy and the successes met in training, summed over updates."""
    json_file = lambda name, obj: (tmp_path / name).write_text(json.dumps(obj))  # noqa: E731
    json_file("config.json", {"steps": 2048})
    json_file("summary.json", {"success_rate": 0.95, "greedy_success": 1.0, "mean_return": 0.7,
                               "decisions": 1536, "wall_s": 30.0})
    rows = [{"decisions": 512 * (i + 1), "time/wall_s": 10.0 * (i + 1), "eval/success_rate": sr,
             "eval/greedy_success": 0.0, "losses/entropy": h, "rollout/successes": n}
            for i, (sr, h, n) in enumerate([(0.1, 1.2344, 0), (0.9, 1.0, 3), (1.0, 0.8, 7)])]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    m = rel.measure_run(str(tmp_path), seed=4)
    assert m["seed"] == 4 and m["budget"] == 2048 and m["final_decisions"] == 1536
    assert m["decisions_to_90_sampled"] == 1024 and m["wall_s_to_90_sampled"] == 20.0
    assert m["first_update_entropy"] == 1.234 and m["rollout_successes"] == 10
    assert [c[0] for c in m["curve"]] == [512, 1024, 1536]
    del rows[0]["eval/success_rate"], rows[0]["eval/greedy_success"]  # --eval-every 2: update 1 unevaluated
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    m = rel.measure_run(str(tmp_path), seed=4)
    assert [c[0] for c in m["curve"]] == [1024, 1536] and m["decisions_to_90_sampled"] == 1024
    assert m["rollout_successes"] == 10
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"eval/success_rate": 0.2}) + "\n")  # SayCan: no updates
    m = rel.measure_run(str(tmp_path), seed=4)
    assert m["curve"] == [] and m["first_update_entropy"] is None and m["rollout_successes"] is None


def test_a_run_logs_into_a_folder_a_fresh_clone_lacks(tmp_path):
    """bench/runs/ is gitignored, so the first benchmark of a fresh clone must create its log's folder.
    run.py refuses a bad --env with exit 2, which the launcher reports, after logging it."""
    import learning
    log = tmp_path / "runs" / "paper" / "x.log"
    with pytest.raises(SystemExit, match="failed with code 2"):
        learning.run(["--env", "nowhere"], str(log))
    assert "nowhere" in log.read_text()
