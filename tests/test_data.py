"""Ensure the shipped multiple-choice set (data/commonsense_mc.jsonl) is well formed (retained ability).

Each check lives in problems(), which lists what is wrong with a set of rows; the shipped file must
have none, and each mutation test below shows that one kind of mistake would be caught.
"""
import collections
import copy
import hashlib
import json
import os

import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.path.join(HERE, "data", "commonsense_mc.jsonl")
CATEGORIES = ("physics", "cooking", "household", "general")
MIN_ROWS = 200
MAX_INDEX_SHARE = 0.35  # a model that always picks one position scores at most this
MIN_CATEGORY_SHARE = 0.15  # each category holds at least this share of the rows
# The first 40 rows are the set the committed results in bench/results were measured on: the
# SHA-256 of json.dumps([[question, choices, answer], ...]) of those rows as first committed.
FIRST_40_SHA256 = "e6a08300554369b48c245787c8cabf208b5d45746568b18a92f06c1730a2c26e"


def read_rows(path=PATH):
    return [json.loads(line) for line in open(path) if line.strip()]


def first_40_digest(rows):
    return hashlib.sha256(json.dumps([[r["question"], r["choices"], r["answer"]] for r in rows[:40]]).encode()).hexdigest()


def problems(rows):
    """Everything wrong with rows, one string each (an empty list: the set is well formed)."""
    out = []
    if len(rows) < MIN_ROWS:
        out.append(f"{len(rows)} rows, fewer than {MIN_ROWS}")
    seen = {}
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or not {"question", "choices", "answer", "category"} <= set(r):
            out.append(f"row {i}: needs question, choices, answer and category")
            continue
        q, choices, answer = r["question"], r["choices"], r["answer"]
        if not isinstance(q, str) or not q.strip():
            out.append(f"row {i}: empty question")
        elif (key := " ".join(q.lower().split())) in seen:
            out.append(f"row {i}: question repeats row {seen[key]}")
        else:
            seen[key] = i
        if not (isinstance(choices, list) and len(choices) == 4 and all(isinstance(c, str) and c.strip() for c in choices)):
            out.append(f"row {i}: needs 4 non-empty choices")
        elif len({" ".join(c.lower().split()) for c in choices}) != 4:
            out.append(f"row {i}: choices repeat")
        if type(answer) is not int or not 0 <= answer < 4:
            out.append(f"row {i}: answer {answer!r} is not an index 0-3")
        if r["category"] not in CATEGORIES:
            out.append(f"row {i}: category {r['category']!r} not among {CATEGORIES}")
    if out:
        return out
    if first_40_digest(rows) != FIRST_40_SHA256:
        out.append("the first 40 rows' question/choices/answer differ from the committed originals")
    for index, n in sorted(collections.Counter(r["answer"] for r in rows).items()):
        if n > MAX_INDEX_SHARE * len(rows):
            out.append(f"answer index {index} is right in {n} of {len(rows)} rows (more than {MAX_INDEX_SHARE:.0%})")
    counts = collections.Counter(r["category"] for r in rows)
    for c in CATEGORIES:
        if counts[c] < MIN_CATEGORY_SHARE * len(rows):
            out.append(f"category {c!r} has {counts[c]} of {len(rows)} rows (less than {MIN_CATEGORY_SHARE:.0%})")
    return out


@pytest.fixture(scope="module")
def rows():
    return read_rows()


def test_shipped_question_set_is_well_formed(rows):
    """Ensure the shipped set passes every check (a bad line fails json.loads in the fixture)."""
    assert problems(rows) == []


def test_evaluate_reads_every_row_and_ignores_the_category(rows):
    """Ensure evaluate.py's reader accepts the rows with their extra 'category' field, unchanged."""
    import evaluate
    read = evaluate.read_questions(PATH)
    assert [(q["question"], q["choices"], q["answer"]) for q in read] == [(r["question"], r["choices"], r["answer"]) for r in rows]


def _move_answer(rows, i, to):
    """Row i with its right choice moved to position `to` (the question itself unchanged)."""
    r = rows[i]
    choices = list(r["choices"])
    right = choices.pop(r["answer"])
    choices.insert(to, right)
    r["choices"], r["answer"] = choices, to


def _all_answers_at_0(rows):
    for i in range(len(rows)):
        _move_answer(rows, i, 0)


MUTATIONS = {
    "too few rows": lambda rows: rows.__delitem__(slice(MIN_ROWS - 1, None)),
    "missing category": lambda rows: rows[50].pop("category"),
    "unknown category": lambda rows: rows[50].update(category="sports"),
    "missing answer": lambda rows: rows[50].pop("answer"),
    "three choices": lambda rows: rows[50]["choices"].pop(),
    "empty choice": lambda rows: rows[50]["choices"].__setitem__(3, " "),
    "repeated choice": lambda rows: rows[50]["choices"].__setitem__(1, rows[50]["choices"][0].upper()),
    "answer out of range": lambda rows: rows[50].update(answer=4),
    "answer as a string": lambda rows: rows[50].update(answer=str(rows[50]["answer"])),
    "answer as a bool": lambda rows: rows[50].update(answer=True),
    "repeated question": lambda rows: rows[60].update(question="  " + rows[45]["question"].upper()),
    "first 40 reworded": lambda rows: rows[7].update(question=rows[7]["question"].replace("?", " ?")),
    "first 40 answer moved": lambda rows: _move_answer(rows, 3, (rows[3]["answer"] + 1) % 4),
    "first 40 reordered": lambda rows: rows.insert(0, rows.pop(1)),
    "position bias": _all_answers_at_0,
    "category too small": lambda rows: [r.update(category="general") for r in rows if r["category"] == "physics"],
}


@pytest.mark.parametrize("mistake", MUTATIONS)
def test_each_kind_of_mistake_is_caught(rows, mistake):
    """Ensure the checks are not vacuous: the shipped set with one mistake put in fails them."""
    bad = copy.deepcopy(rows)
    MUTATIONS[mistake](bad)
    assert problems(bad), f"{mistake} went unnoticed"
