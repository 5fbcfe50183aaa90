"""Ensure generalisation and retained-ability evaluation run on a saved agent (paper: beyond training)."""
import json
import os

import pytest

import evaluate
import run
from test_run import TINY, tiny_dir  # noqa: F401  (the tiny-model fixture)


@pytest.fixture(scope="module")
def trained(tiny_dir, tmp_path_factory):  # noqa: F811
    out = str(tmp_path_factory.mktemp("eval") / "food")
    run.main(run.parse_args(["--env", "virtualhome", "--task", "food", "--model", tiny_dir, "--steps", "16",
                             "--out", out, *TINY]))
    return out


def test_generalise_reports_twosome_and_saycan_per_unseen_task(trained):
    """Ensure each target task gets greedy and sampled success for the agent and for SayCan."""
    result = evaluate.main(["generalise", trained, "--tasks", "cheese", "entertainment", "--episodes", "1"])
    assert set(result) >= {"cheese", "entertainment"}
    for task in ("cheese", "entertainment"):
        for name in ("twosome", "saycan"):
            assert 0.0 <= result[task][name]["greedy_success"] <= 1.0
            assert 0.0 <= result[task][name]["success_rate"] <= 1.0


def test_retained_scores_base_and_trained_model(trained, tmp_path):
    """Ensure multiple-choice accuracy and perplexity are reported with the adapter off and on."""
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "What do you drink?", "choices": ["water", "a stone"], "answer": 0}) + "\n")
    out = tmp_path / "r.json"
    result = evaluate.main(["retained", trained, "--questions", str(questions), "--json", str(out)])
    for name in ("base", "trained"):
        assert result[name]["mc_accuracy"] in (0.0, 1.0)
        assert result[name]["perplexity"] > 1.0
    assert json.load(open(out))["n_questions"] == 1
    # A fresh LoRA is the identity: before any useful training base and trained agree closely.
    assert result["trained"]["perplexity"] == pytest.approx(result["base"]["perplexity"], rel=0.05)


def test_project_data_is_well_formed():
    """Ensure the shipped question set parses and every answer indexes its choices."""
    qs = evaluate.read_questions(os.path.join(evaluate.HERE, "data", "commonsense_mc.jsonl"))
    assert len(qs) == 40 and all(0 <= q["answer"] < len(q["choices"]) for q in qs)


@pytest.mark.parametrize("line, message", [
    ("not json", "not JSON"),
    ('{"question": "q", "choices": ["a"], "answer": 3}', "an 'answer' index"),
])
def test_bad_question_file_is_one_line_exit_2(trained, tmp_path, capsys, line, message):
    """Ensure a malformed questions file stops with one line and exit code 2."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n")
    with pytest.raises(SystemExit) as stop:
        evaluate.main(["retained", trained, "--questions", str(bad)])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
