"""Ensure bench/retained.py refuses what is not a trained run, evaluates a run once (its per-run file
is reused), and builds its report, intervals and target check, from the per-run files alone."""
import json
import os
import sys

import numpy as np
import pytest

import evaluate
from test_evaluate import trained  # noqa: F401  (a tiny trained run)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import retained  # noqa: E402

CATS = [c for c in ("physics", "cooking", "household", "general") for _ in range(60)]


@pytest.fixture
def results(tmp_path, monkeypatch):
    """bench/results redirected to a temporary directory."""
    monkeypatch.setattr(retained, "RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def row(name, base, trained_correct, model="gemma3-270m", ppl=22.8):
    """A per-run file as measure() writes it, with made-up answers."""
    acc = lambda c: {k: float(np.mean([r for r, x in zip(c, CATS) if x == k])) for k in dict.fromkeys(CATS)}  # noqa: E731
    return {"run": name, "run_dir": f"bench/runs/{name}", "model": model, "dtype": "float32", "env": "virtualhome",
            "task": "food", "norm": "word", "seed": 1, "finished": True, "decisions": 1024,
            "final_success_rate": 0.95, "final_greedy_success": 1.0,
            "questions": "data/commonsense_mc.jsonl", "questions_sha256": "q", "text": "data/heldout.txt",
            "text_sha256": "t", "n_questions": len(CATS), "categories": CATS,
            "base": {"mc_accuracy": float(np.mean(base)), "perplexity": ppl, "by_category": acc(base), "correct": base},
            "trained": {"mc_accuracy": float(np.mean(trained_correct)), "perplexity": ppl + 0.5,
                        "by_category": acc(trained_correct), "correct": trained_correct}}


def write_rows(results, rows):
    os.makedirs(results / "retained")
    for r in rows:
        (results / "retained" / f"{r['run']}.json").write_text(json.dumps(r))


def flipped(correct, idx):
    out = list(correct)
    for i in idx:
        out[i] = 1 - out[i]
    return out


def test_a_directory_without_a_checkpoint_is_one_line_exit_2_and_nothing_written(results, tmp_path, capsys):
    (tmp_path / "not-a-run").mkdir()
    with pytest.raises(SystemExit) as stop:
        retained.main([str(tmp_path / "not-a-run")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a run directory with a checkpoint" in err
    assert not results.exists()


def test_report_from_per_run_files_has_intervals_and_the_target_check(results, capsys):
    """Agent 1 answers 2 questions differently from the base (one gained, one lost: difference 0),
    agent 2 loses 6 (-2.5 points): the first is within 1 point, the second not, and each interval
    holds its difference and is judged against +-1 point."""
    base = [1, 1, 1, 0] * 60  # 75 % in every category
    write_rows(results, [row("food-s1", base, flipped(base, [0, 3])),
                         row("tomato-s1", base, flipped(base, [0, 1, 2, 4, 5, 6]))])
    res = retained.main(["--report"])
    assert json.loads((results / "retained.json").read_text()) == json.loads(json.dumps(res))
    md = (results / "retained.md").read_text()
    assert "| food-s1 |" in md and "| tomato-s1 |" in md and "half-width" in md
    assert set(res) >= {"n_questions", "category_counts", "bootstrap", "target_points", "base", "agents", "summary"}
    assert res["n_questions"] == 240 and res["category_counts"] == {c: 60 for c in ("physics", "cooking", "household", "general")}
    b = res["base"]["gemma3-270m"]
    assert b["mc_accuracy"] == 0.75 and b["mc_accuracy_ci"][0] < 0.75 < b["mc_accuracy_ci"][1]
    assert b["runs"] == ["food-s1", "tomato-s1"] and b["perplexity"] == 22.8
    a1, a2 = res["agents"]["food-s1"], res["agents"]["tomato-s1"]
    for a in (a1, a2):
        assert set(a) >= {"mc_accuracy", "mc_accuracy_ci", "by_category", "perplexity", "perplexity_base", "diff_points",
                          "diff_ci_points", "diff_ci_half_width_points", "within_target", "ci_within_target",
                          "only_trained_right", "only_base_right", "final_success_rate"}
        low, high = a["diff_ci_points"]
        assert low <= a["diff_points"] <= high
        assert a["diff_ci_half_width_points"] == pytest.approx((high - low) / 2)
        assert a["ci_within_target"] == (-1 <= low and high <= 1)
    assert a1["diff_points"] == 0.0 and a1["within_target"] and (a1["only_trained_right"], a1["only_base_right"]) == (1, 1)
    assert a2["diff_points"] == pytest.approx(-2.5) and not a2["within_target"] and not a2["ci_within_target"]
    assert a2["diff_ci_points"][1] <= 0.0  # it only ever loses answers: no resample gains
    assert res["summary"]["agents"] == 2 and res["summary"]["within_target"] == 1


def test_an_agent_equal_to_its_base_model_has_a_zero_width_difference(results, capsys):
    base = [1, 0] * 120
    write_rows(results, [row("same-s1", base, list(base))])
    a = retained.main(["--report"])["agents"]["same-s1"]
    assert a["diff_points"] == 0.0 and a["diff_ci_points"] == [0.0, 0.0]
    assert a["within_target"] and a["ci_within_target"] and a["questions_for_half_width_target"] is None


def test_base_models_that_disagree_are_refused(results, capsys):
    """Two runs of one model whose base (adapter off) answers differ are not one base model."""
    base = [1] * 120 + [0] * 120
    write_rows(results, [row("a-s1", base, base), row("b-s1", flipped(base, [3]), base)])
    with pytest.raises(SystemExit) as stop:
        retained.main(["--report"])
    assert stop.value.code == 2 and "answers 1 questions differently" in capsys.readouterr().err
    assert not (results / "retained.json").exists()


def test_a_run_is_evaluated_once_and_again_when_the_questions_change(trained, results, tmp_path, monkeypatch, capsys):  # noqa: F811
    """The tiny trained run on 8 questions: its per-run file holds evaluate.retained's answers, a
    second call reuses it (no evaluation), a changed question file makes it evaluate again."""
    qs = [{"question": f"What is {i} plus one?", "choices": [str(i + 1), str(i + 7), "a cat"], "answer": 0,
           "category": "sums" if i < 4 else "other"} for i in range(8)]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs))
    (tmp_path / "t.txt").write_text("The cat sat on the mat, and the kettle boiled.")
    monkeypatch.setattr(retained, "QUESTIONS", str(tmp_path / "q.jsonl"))
    monkeypatch.setattr(retained, "TEXT", str(tmp_path / "t.txt"))
    res = retained.main([trained])
    kept = json.loads((results / "retained" / "food.json").read_text())
    assert kept["categories"] == ["sums"] * 4 + ["other"] * 4 and len(kept["base"]["correct"]) == 8
    assert res["agents"]["food"]["mc_accuracy"] == kept["trained"]["mc_accuracy"] == np.mean(kept["trained"]["correct"])
    calls = []
    monkeypatch.setattr(evaluate, "retained", lambda *a: calls.append(a) or kept)
    retained.main([trained])
    assert calls == []  # reused
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs[::-1]))
    retained.main([trained])
    assert len(calls) == 1
