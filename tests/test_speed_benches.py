"""Ensure the speed benchmarks' comparison baseline is what they say (bench/prefix_tree.py)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import prefix_tree  # noqa: E402


def test_prefix_tree_compares_with_the_per_action_code_of_its_commit():
    """The "before" module is llm_policy.py at BEFORE: one branch per action, no _action_tree."""
    before = prefix_tree.module_at(prefix_tree.BEFORE)
    assert hasattr(before, "_score_shared") and not hasattr(before, "_action_tree")


def test_an_unreadable_commit_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        prefix_tree.module_at("0" * 40)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench/prefix_tree.py: cannot read llm_policy.py at commit 0000")
