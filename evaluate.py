"""What a trained agent carries beyond its task: zero-shot generalisation and retained language.

Implements: TWOSOME (Tan et al., ICLR 2024, arXiv 2401.14151), the two claims beyond training:
  generalise  the agent trained on one VirtualHome task acts, with no further training, on the
              unseen tasks (Food Preparation with other objects: cheese, hamburger, apple pie,
              pizza, washing the dishes, laundry) and on the other task (the crossover), against
              SayCan: the same LLM with the adapter switched off, greedy, on the same prompts.
  retained    the LLM keeps its language ability: multiple-choice accuracy (the answer with the
              highest word-normalised likelihood, the policy's own scoring) and held-out
              perplexity, base model (adapter off) against the trained agent (adapter on).
The questions (data/commonsense_mc.jsonl: 240, four choices each, in four categories: physics,
cooking, household, general; the committed results in bench/results used the first 40, the rest
came later) and the text (data/heldout.txt) were written for this project; pass --questions /
--text for your own (JSONL rows: question, choices, answer index, and optionally a category, which
only groups the results; other fields are ignored). The result keeps each question's 1/0 for
both models, so that bench/retained.py can put intervals on the accuracies and their difference.
Try it:
    python evaluate.py generalise runs/<food run>
    python evaluate.py retained runs/<run>
"""
import argparse
import contextlib
import json
import math
import os
import sys

import torch

import llm_policy
import run
from virtualhome_env import TASKS as VH_TASKS  # food, entertainment, then the six renamed food tasks

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(message):
    """Bad input: one line on stderr, exit code 2 (as run.py)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_trained(run_dir, threads=2):
    """The run's args (read as `run.py --evaluate` reads them: its algo, env, task, prompt variant,
    model and normalisation) and its saved agent on a freshly loaded model."""
    torch.set_num_threads(threads)
    args = run.check_args(run.Args(evaluate=run_dir))
    return args, run.load_agent_for(args, run.agent_dir(run_dir))


def generalise(run_dir, tasks=None, episodes=20, seed=0):
    """Success of the trained agent and of SayCan on each task, zero-shot: {task: {...}}."""
    args, agent = load_trained(run_dir)
    if args.env != "virtualhome":
        fail("generalisation is defined for VirtualHome runs (trained on food or entertainment)")
    results = {}
    for task in tasks or [t for t in VH_TASKS if t != args.task]:
        args.task = task
        row = {}
        for name, ctx in (("twosome", contextlib.nullcontext()), ("saycan", agent.model.disable_adapter())):
            with ctx:  # SayCan = the untrained LLM: the same agent with its LoRA switched off
                row[name] = run.evaluate(agent, args, episodes, seed)
        results[task] = row
        print(f"{task:14s} twosome greedy {row['twosome']['greedy_success']:.0%} sampled {row['twosome']['success_rate']:.0%}"
              f" | saycan greedy {row['saycan']['greedy_success']:.0%} sampled {row['saycan']['success_rate']:.0%}", flush=True)
    return results


def multiple_choice_correct(agent, questions):
    """1 or 0 per question, in order: is argmax_k of log P(choice_k | question) / #words (paper's
    Eq. 4) the answer? Kept per question so that an interval over the questions, and a paired
    comparison of two models on the same ones, can be computed later from the saved lists."""
    correct = []
    for q in questions:
        prompt = f"Question: {q['question']}\nAnswer:"
        logp, n_tokens, n_words = llm_policy.action_logprobs(agent.model, agent.tokenizer, [prompt], [q["choices"]])
        scores = llm_policy.normalize(logp, n_tokens, n_words, "word")[0]  # (K,)
        correct.append(int(int(scores.argmax()) == q["answer"]))
    return correct


def category_of(q):
    """A question's category (a string, as JSON keys are); one for all the questions that have none."""
    return str(q.get("category", "uncategorised"))


def by_category(questions, correct):
    """Accuracy per category, in the order the categories first appear: {category: fraction}."""
    cats = [category_of(q) for q in questions]
    return {c: sum(r for r, k in zip(correct, cats) if k == c) / cats.count(c) for c in dict.fromkeys(cats)}


def perplexity(agent, text, window=256):
    """exp(mean next-token NLL) over the text, in non-overlapping windows of `window` tokens."""
    ids = agent.tokenizer(text, return_tensors="pt").input_ids[0]  # (L,)
    nll, count = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        chunk = ids[start: start + window + 1][None]  # (1, <= window + 1)
        logits = agent.model(input_ids=chunk[:, :-1]).logits.float()  # (1, L', V)
        nll += torch.nn.functional.cross_entropy(logits[0], chunk[0, 1:], reduction="sum").item()
        count += chunk.shape[1] - 1
    return math.exp(nll / count)


def read_questions(path):
    rows = []
    for i, line in enumerate(open(path), 1):
        if line.strip():
            try:
                q = json.loads(line)
            except json.JSONDecodeError as e:
                fail(f"{path}:{i}: not JSON ({e})")
            if not (isinstance(q, dict) and isinstance(q.get("question"), str) and isinstance(q.get("choices"), list) and isinstance(q.get("answer"), int) and 0 <= q["answer"] < len(q["choices"])):
                fail(f"{path}:{i}: need 'question', a list 'choices' and an 'answer' index into it")
            rows.append(q)
    return rows


def retained(run_dir, questions_path, text_path):
    """Base model (adapter off) and trained agent (adapter on): {"base": {...}, "trained": {...}, ...}.
    Each model's mc_accuracy, perplexity, per-question correct (1/0, in the file's order) and
    by_category accuracy; "categories" holds each question's category, the strata of a bootstrap."""
    _, agent = load_trained(run_dir)
    questions, text = read_questions(questions_path), open(text_path).read()
    out = {}
    with torch.no_grad():
        for name, ctx in (("base", agent.model.disable_adapter()), ("trained", contextlib.nullcontext())):
            with ctx:
                correct = multiple_choice_correct(agent, questions)
                out[name] = {"mc_accuracy": sum(correct) / len(questions), "perplexity": perplexity(agent, text),
                             "by_category": by_category(questions, correct), "correct": correct}
    out["n_questions"] = len(questions)
    out["categories"] = [category_of(q) for q in questions]
    print(f"multiple choice ({len(questions)} questions): base {out['base']['mc_accuracy']:.1%}, trained "
          f"{out['trained']['mc_accuracy']:.1%} | perplexity: base {out['base']['perplexity']:.2f}, trained "
          f"{out['trained']['perplexity']:.2f}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["generalise", "retained"])
    p.add_argument("run_dir", help="a run directory written by run.py (with a checkpoint)")
    p.add_argument("--tasks", nargs="+", choices=VH_TASKS, help="generalise: target tasks (default: every other VirtualHome task)")
    p.add_argument("--episodes", type=int, default=20, help="generalise: sampled episodes per task")
    p.add_argument("--seed", type=int, default=0, help="generalise: the episodes' sampling seed (both agents)")
    p.add_argument("--questions", default=os.path.join(HERE, "data", "commonsense_mc.jsonl"))
    p.add_argument("--text", default=os.path.join(HERE, "data", "heldout.txt"))
    p.add_argument("--json", help="also write the result to this file (atomically)")
    a = p.parse_args(argv)
    if run.checkpoint_of(a.run_dir) is None:
        fail(f"{a.run_dir!r} is not a run directory with a checkpoint")
    for path in (a.questions, a.text):
        if a.mode == "retained" and not os.path.isfile(path):
            fail(f"no such file {path!r}")
    result = generalise(a.run_dir, a.tasks, a.episodes, a.seed) if a.mode == "generalise" else retained(a.run_dir, a.questions, a.text)
    result = {"mode": a.mode, "run_dir": a.run_dir, **result}
    if a.json:
        run.atomic_write(a.json, json.dumps(result, indent=1))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
