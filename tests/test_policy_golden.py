"""The key-policy linter and lockout check say exactly what they said when the golden file was made.

``tests/golden/policy_golden.json.gz`` (written by ``tests/golden/make_policy_golden.py``)
holds thousands of inputs — every one the suite gave the two functions, seeded policies of
real and broken shapes, the benchmarks' policies — with the answers of the implementation
at the time: each finding's severity, code, path and message in order, each verdict with
its reason and statements. A refactor (one made for speed above all) is held to them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from http_task_kms.kms.policy import lint as policy_lint

GOLDEN_DIR = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN_DIR))
try:
    import make_policy_golden as golden
finally:
    sys.path.remove(str(GOLDEN_DIR))

CASES: dict[str, Any] = golden.read()


def _mismatches(kind: str, answer: Any, expected_of: Any) -> list[str]:
    found = []
    for index, case in enumerate(CASES[kind]):
        got, expected = answer(case), expected_of(case)
        if got != expected:
            found.append(f"{kind}[{index}] {case!r}:\n  expected {expected!r}\n  got      {got!r}")
    return found


def test_the_golden_file_is_rich() -> None:
    codes = {finding[1] for case in CASES["lint"] for finding in case["findings"]}
    documented = set(re.findall(r"^([A-Z][A-Z_]+) +[A-Z_]+ ", policy_lint.__doc__ or "", re.M))
    assert len(CASES["lint"]) > 4000
    assert len(CASES["lockout"]) > 3000
    assert len(documented) > 30
    assert codes == documented  # every code of the linter's table, and no other
    assert {case["verdict"] for case in CASES["lockout"]} == {"PASS", "PASS_DELEGATED", "UNCERTAIN", "FAIL"}


@pytest.mark.parametrize("kind", ["lint", "lockout"])
def test_the_checks_answer_as_the_golden_file_says(kind: str) -> None:
    if kind == "lint":
        found = _mismatches(kind, golden.lint_answer, lambda case: case["findings"])
    else:
        fields = ("verdict", "reason", "statements")
        found = _mismatches(kind, golden.lockout_answer, lambda case: {f: case[f] for f in fields})
    assert not found, f"{len(found)} answers changed; the first:\n" + "\n".join(found[:3])
