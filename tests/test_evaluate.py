"""Ensure generalisation and retained-ability evaluation run on a saved agent (paper: beyond training)."""
import json
import math
import os

import pytest
import torch

import evaluate
import run
from test_run import TINY


@pytest.fixture(scope="module")
def trained(tiny_dir, tmp_path_factory):  # noqa: F811
    out = str(tmp_path_factory.mktemp("eval") / "food")
    run.main(run.parse_args(["--env", "virtualhome", "--task", "food", "--model", tiny_dir, "--steps", "16",
                             "--out", out, *TINY]))
    return out


def test_generalise_reports_twosome_and_saycan_per_unseen_task(trained, tiny_dir):  # noqa: F811
    """Ensure each target task gets greedy and sampled success for the agent and for SayCan, and that
    SayCan (the trained agent with its adapter off) plays as a fresh, untrained agent does, on the
    episodes' seed given."""
    result = evaluate.main(["generalise", trained, "--tasks", "cheese", "entertainment", "--episodes", "1",
                            "--seed", "3"])
    assert set(result) >= {"cheese", "entertainment"}
    for task in ("cheese", "entertainment"):
        for name in ("twosome", "saycan"):
            assert 0.0 <= result[task][name]["greedy_success"] <= 1.0
            assert 0.0 <= result[task][name]["success_rate"] <= 1.0
        args = run.check_args(run.Args(algo="saycan", env="virtualhome", task=task, model=tiny_dir))
        fresh = run.evaluate(run.load_agent_for(args), args, 1, 3)  # LoRA starts as the identity; same seed
        assert result[task]["saycan"] == pytest.approx(fresh)


def test_retained_scores_match_a_computation_by_hand(trained, tmp_path):
    """Ensure multiple-choice accuracy (argmax of log P(choice | question) / #words) and perplexity
    equal the same quantities computed by hand, one plain forward pass per sequence, with the
    adapter off (base) and on (trained)."""
    questions = [("What do you drink?", ["water", "a stone", "the loud yellow moon"]),
                 ("Where do you sleep?", ["in a bed", "on the ceiling", "under the water"]),
                 ("What is hot?", ["fire", "ice", "snow on a high mountain"]),
                 ("What can fly?", ["a bird", "a rock", "a heavy iron anchor"])]
    text = "The cat sat on the mat. It was a warm day, and the kitchen smelled of fresh bread."
    _, agent = evaluate.load_trained(trained)
    tok = agent.tokenizer

    def by_hand():  # each question's word-normalised choice scores (K,), and the text's perplexity
        scores = []
        for question, choices in questions:
            prompt = tok(f"Question: {question}\nAnswer:").input_ids
            row = []
            for choice in choices:
                ids = tok(" " + choice, add_special_tokens=False).input_ids
                logits = agent.model(input_ids=torch.tensor([prompt + ids])).logits[0].float()  # (L, V)
                logp = logits[len(prompt) - 1:-1].log_softmax(-1)[torch.arange(len(ids)), ids].sum()
                row.append(logp / len(choice.split()))
            scores.append(torch.stack(row))  # (K,)
        ids = tok(text).input_ids
        logits = agent.model(input_ids=torch.tensor([ids[:-1]])).logits[0].float()  # (L - 1, V)
        nll = -logits.log_softmax(-1)[torch.arange(len(ids) - 1), ids[1:]].mean()
        return scores, math.exp(nll)
    with torch.no_grad():
        with agent.model.disable_adapter():
            base_scores, base_ppl = by_hand()
        trained_scores, trained_ppl = by_hand()
    # the answer key: the base model's best choice for two questions, its middle one for two, so
    # that base accuracy is 50 % (an argmin, or the wrong normalisation, would score otherwise)
    answers = [int(s.argmax()) for s in base_scores[:2]] + [int(s.argsort()[1]) for s in base_scores[2:]]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n"
                                              for (q, c), a in zip(questions, answers)))
    (tmp_path / "text.txt").write_text(text)
    out = tmp_path / "r.json"
    result = evaluate.main(["retained", trained, "--questions", str(tmp_path / "q.jsonl"),
                            "--text", str(tmp_path / "text.txt"), "--json", str(out)])
    assert result["base"]["mc_accuracy"] == 0.5
    assert result["trained"]["mc_accuracy"] == sum(int(s.argmax()) == a for s, a in zip(trained_scores, answers)) / 4
    # the same, question by question: what an interval over the questions is computed from
    assert result["base"]["correct"] == [1, 1, 0, 0]
    assert result["trained"]["correct"] == [int(int(s.argmax()) == a) for s, a in zip(trained_scores, answers)]
    assert result["categories"] == ["uncategorised"] * 4 and result["base"]["by_category"] == {"uncategorised": 0.5}
    assert result["base"]["perplexity"] == pytest.approx(base_ppl, rel=1e-4)
    assert result["trained"]["perplexity"] == pytest.approx(trained_ppl, rel=1e-4)
    assert json.load(open(out))["n_questions"] == 4
    # A fresh LoRA is the identity: before any useful training base and trained agree closely.
    assert result["trained"]["perplexity"] == pytest.approx(result["base"]["perplexity"], rel=0.05)


def test_per_question_correctness_is_what_the_accuracy_averages(trained):
    """Ensure multiple_choice_correct gives one 1/0 per question, whose means per category are
    by_category's."""
    _, agent = evaluate.load_trained(trained)
    qs = evaluate.read_questions(os.path.join(evaluate.HERE, "data", "commonsense_mc.jsonl"))[::40]  # 6, 4 categories
    with torch.no_grad():
        correct = evaluate.multiple_choice_correct(agent, qs)
    assert len(correct) == len(qs) == 6 and set(correct) <= {0, 1}
    cats = [q["category"] for q in qs]
    assert evaluate.by_category(qs, correct) == {
        c: sum(r for r, k in zip(correct, cats) if k == c) / cats.count(c) for c in set(cats)}


def test_project_data_is_well_formed():
    """Ensure the shipped question set parses and every answer indexes its choices (the full checks,
    categories and balance included, are in test_data.py)."""
    qs = evaluate.read_questions(os.path.join(evaluate.HERE, "data", "commonsense_mc.jsonl"))
    assert len(qs) >= 200 and all(0 <= q["answer"] < len(q["choices"]) for q in qs)


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
