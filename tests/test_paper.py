"""Ensure bench/paper.py runs what it says (each cell's name and run.py command) and summarises as it
says: IQM with intervals over seeds, an unreached seed counted at its stop, the report from the
kept records alone."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import paper  # noqa: E402


def flag(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_each_cell_is_reliabilitys_command_with_one_thing_changed():
    word = paper.command("food", 2)
    assert paper.name_of("food", 2) == "food-word-s2" and flag(word, "--stop-at-greedy") == "0.9"
    assert "--norm" not in word and "--variant" not in word and "--model" not in word  # run.py's defaults
    none = paper.command("entertainment", 1, "none")
    assert flag(none, "--norm") == "none" and "--stop-at-greedy" not in none  # Entertainment: sampled only
    smol = paper.command("food", 3, "token", model="smollm2")
    assert flag(smol, "--model") == "smollm2-135m" and flag(smol, "--norm") == "token"
    assert flag(smol, "--out") == os.path.join("bench", "runs", "paper", "food-smollm2-token-s3")
    ablation = paper.command("tomato", 1, variant="goal-first", lever=paper.ABLATION_LEVER["tomato"])
    assert flag(ablation, "--variant") == "goal-first" and flag(ablation, "--env") == "overcooked"
    assert paper.name_of("tomato", 1, variant="goal-first", lever="budget-8192") == "tomato-word-goal-first-budget-8192-s1"
    # the Tomato Salad ablation keeps the earlier 8,192-decision budget it ran with; the cell's own
    # variant replaces the lever's here-first
    assert flag(ablation, "--steps") == "8192" and ablation.count("--variant") == 1
    saycan = paper.command("tomato", 4, "saycan")
    assert flag(saycan, "--algo") == "saycan" and "--steps" not in saycan and "--variant" not in saycan  # defaults
    assert all(lever in paper.reliability.LEVERS for lever in [*paper.EARLIER.values(), *paper.PAPER_PROMPT.values()])
    for task in ("tomato", "tomato-lettuce"):  # the earlier Overcooked cells: the paper's serve phrase
        earlier = paper.command(task, 2, "none", lever=paper.EARLIER[task])
        assert flag(earlier, "--variant") == "here-first" and flag(earlier, "--out").endswith(f"-{paper.EARLIER[task]}-s2")


def test_grid_runs_the_methods_asked_and_the_earlier_cells_with_their_lever(monkeypatch):
    calls = []
    monkeypatch.setattr(paper, "ensure", lambda *a, **k: calls.append((a, k)))
    paper.main(["--stages", "grid", "--earlier", "--seeds", "3"])  # random: today's runs serve
    assert calls == [(("tomato", 3, "saycan"), {"lever": "budget-8192"}), (("tomato", 3, "none"), {"lever": "budget-8192"}),
                     (("tomato-lettuce", 3, "saycan"), {"lever": "here-first"}),
                     (("tomato-lettuce", 3, "none"), {"lever": "here-first"})]
    calls.clear()
    paper.main(["--stages", "grid", "--tasks", "food", "tomato", "--methods", "token", "none", "--seeds", "1"])
    assert calls == [(("food", 1, "none"), {"lever": None}), (("food", 1, "token"), {"lever": None}),
                     (("tomato", 1, "none"), {"lever": None}), (("tomato", 1, "token"), {"lever": None})]
    assert flag(paper.command("tomato", 1, "token"), "--norm") == "token"
    calls.clear()
    paper.main(["--stages", "ablation", "--tasks", "tomato", "--seeds", "2"])
    assert calls == [(("tomato", 2), {"variant": v, "lever": "budget-8192"}) for v in paper.BREAKERS]
    calls.clear()
    with pytest.raises(SystemExit) as e:  # Food has no earlier cells: one clear line, exit 2
        paper.main(["--stages", "grid", "--earlier", "--tasks", "food"])
    assert e.value.code == 2 and calls == []  # nothing ran


def test_every_kept_record_is_the_command_its_name_gives():
    """Each committed paper-runs/<name>.json says the run.py command that paper.command() builds for
    that name today, so a record's name, settings and command cannot drift apart."""
    names = {}
    for task in paper.TASKS:
        for method in paper.METHODS:
            for variant in [None, *paper.VARIANTS]:
                for model in [None, *paper.MODELS]:
                    for lever in [None, *paper.reliability.LEVERS]:
                        for seed in range(1, 6):
                            names[paper.name_of(task, seed, method, variant, model, lever)] = (
                                task, seed, method, variant, model, lever)
    kept = [f[:-5] for f in os.listdir(paper.RECORDS) if f.endswith(".json") and not f.startswith(("generalise-", "cuda-"))]
    assert len(kept) > 100
    for name in kept:
        record = json.load(open(os.path.join(paper.RECORDS, f"{name}.json")))
        assert record["name"] == name and name in names, name
        assert record["command"] == "python run.py " + " ".join(paper.command(*names[name])), name


def run_record(seed, hit, final_decisions, success=1.0):
    return {"seed": seed, "decisions_to_90_sampled": hit, "wall_s_to_90_sampled": hit and hit / 10,
            "final_decisions": final_decisions, "final_wall_s": final_decisions / 10, "final_success_rate": success,
            "final_mean_return": 0.5 * success, "curve": [(512, 51.2, 0.5 * success, 0.0), (final_decisions,
                                                                                     final_decisions / 10, success, 1.0)]}


def untrained_record(seed, success):
    return {**run_record(seed, None, 0, success), "curve": []}  # one evaluation, no updates


def test_an_unreached_seed_counts_at_its_stop_and_marks_a_lower_bound():
    runs = [run_record(1, 1024, 2048), run_record(2, 512, 1024), run_record(3, None, 8192, 0.4),
            run_record(4, 1536, 4096), run_record(5, 1024, 1024)]
    s = paper.summarise(runs)
    assert s["seeds_90_sampled"] == 4 and s["lower_bound"]
    assert s["decisions_to_90_sampled"][0] == pytest.approx((1024 + 1024 + 1536) / 3)  # IQM of 5: the middle 3
    point, low, high = s["final_success_rate"]
    assert low <= point <= high and point == pytest.approx(1.0)  # 0.4 is trimmed
    untrained = paper.summarise(runs, trained=False)
    assert "decisions_to_90_sampled" not in untrained and "untrained | untrained" in paper.row("SayCan", untrained)
    assert ">= " in paper.row("x", s) and paper.row("x", None).startswith("| x | not run")


def test_report_reads_only_the_kept_records(tmp_path, monkeypatch):
    """A fresh clone has no bench/runs: the report must come from the committed files alone."""
    results, records = tmp_path / "results", tmp_path / "results" / "paper-runs"
    records.mkdir(parents=True)
    monkeypatch.setattr(paper, "RESULTS", str(results))
    monkeypatch.setattr(paper, "RECORDS", str(records))
    monkeypatch.setattr(paper, "RUNS", str(tmp_path / "nowhere"))
    word = [run_record(s, 512 * s, 512 * s) for s in range(1, 6)]
    ppo = [run_record(s, 5120 * s, 5120 * s) for s in range(1, 6)]
    (results / "reliability.json").write_text(json.dumps({"food": {"runs": word}, "ablation": {
        "budget-8192": {"tomato": {"runs": word[:2]}}}}))
    (results / "strong-ppo.json").write_text(json.dumps(
        {"tasks": {"food": {"stronger": "mlp", "comparison": {"mlp": {"runs": ppo}}}}}))
    for s in range(1, 4):
        (records / f"food-none-s{s}.json").write_text(json.dumps(run_record(s, None, 8192, 0.2)))
    # an earlier Overcooked cell (run with a lever) is reported apart from the grid on the defaults
    (records / "tomato-saycan-budget-8192-s1.json").write_text(json.dumps(untrained_record(1, 0.5)))
    (records / "tomato-random-s1.json").write_text(json.dumps(untrained_record(1, 0.4)))  # today's, in both
    (records / "tomato-word-goal-first-budget-8192-s2.json").write_text(json.dumps(run_record(2, 2048, 4096)))
    (records / "food-token-s2.json").write_text(json.dumps(run_record(2, 1024, 1024)))  # a row only where run
    for s in (1, 2):  # two Food agents' zero-shot evaluations, as evaluate.py generalise writes them
        ev = {"success_rate": 0.5 * s, "greedy_success": float(s == 2)}
        (records / f"generalise-food-s{s}.json").write_text(json.dumps(
            {t: {"twosome": ev, "saycan": {"success_rate": 0.1, "greedy_success": 0.0}}
             for t in paper.VH_TASKS if t != "food"}))
    paper.report()
    out = json.loads((results / "paper.json").read_text())
    assert out["generalise"]["food"]["seeds"] == [1, 2]
    assert out["generalise"]["food"]["tasks"]["cheese"]["twosome"]["greedy_successes"] == 1
    assert out["food"]["summary"]["TWOSOME none"]["seeds_90_sampled"] == 0
    assert out["food"]["claim_i"] == {"ppo_over_word_decisions": 10.0, "intervals_apart": True}
    assert "tomato" not in out and out["earlier"]["tomato"]["summary"]["SayCan"]["seeds"] == [1]
    assert out["food"]["summary"]["TWOSOME token"]["seeds"] == [2] and "TWOSOME token" not in out["earlier"]["tomato"]["summary"]
    assert out["earlier"]["tomato"]["lever"] == "budget-8192" and out["earlier"]["tomato"]["summary"]["random"]["seeds"] == [1]
    assert out["earlier"]["tomato"]["summary"]["TWOSOME word"]["seeds"] == [1, 2]  # reliability.py's lever runs
    # the ablation compares a breaker with the paper's prompt on the seeds the breaker ran
    assert out["ablation"]["tomato"]["goal-first"]["seeds"] == [2] and out["ablation"]["tomato"]["good (the paper's)"]["seeds"] == [2]
    assert (results / "paper-tomato-budget-8192.png").stat().st_size > 0
    md = (results / "paper.md").read_text()
    assert "| TWOSOME none | 0 of 3 | never | never |" in md and "| SayCan | not run |" in md
    assert (results / "paper-food.png").stat().st_size > 0
