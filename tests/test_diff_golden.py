"""The policy diff and the access diff say exactly what they said when the golden file was made.

``tests/golden/diff_golden.json.gz`` (written by ``tests/golden/make_diff_golden.py``) holds
thousands of policy pairs — every input the suite gave the two diffs, the corpus of
``tests/policies`` and ``examples/`` against each other and against edited variants of
themselves, seeded real and broken shapes, the benchmarks' pairs — with the JSON text the
implementation of the time gave for each (``diff``, the normalised new policy, ``access``),
key order included, or the error it raised. A refactor (one made for speed above all) is
held to them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN_DIR))
try:
    import make_diff_golden as golden
finally:
    sys.path.remove(str(GOLDEN_DIR))

CASES: dict[str, Any] = golden.read()
ANSWERS = ("diff", "normalised", "access")


def _all() -> list[dict[str, Any]]:
    return CASES["recorded"] + CASES["generated"]


def _count(predicate: Any) -> int:
    return sum(1 for case in _all() for name in ANSWERS if name in case and predicate(name, case[name]))


def _has(name: str, member: str) -> Any:
    def predicate(answer_name: str, answer: str) -> bool:
        return answer_name == name and not answer.startswith("!") and bool(json.loads(answer)[member])

    return predicate


def test_the_golden_file_is_rich() -> None:
    assert len(CASES["recorded"]) > 100
    assert len(CASES["generated"]) > 3000
    for name, member in [
        ("diff", "added"),
        ("diff", "removed"),
        ("diff", "modified"),
        ("diff", "top_level"),
        ("access", "gained"),
        ("access", "lost"),
        ("access", "changedConditions"),
    ]:
        assert _count(_has(name, member)) > 100, (name, member)
    assert _count(lambda name, answer: name == "diff" and '"changed": false' in answer) > 100
    assert _count(lambda name, answer: name == "access" and '"deniedWhen": [{' in answer) > 100
    assert _count(lambda name, answer: name == "access" and '"NotPrincipal"' in answer) > 100
    assert _count(lambda name, answer: answer.startswith("!ValueError")) > 50
    assert _count(lambda name, answer: answer.startswith("!JSONDecodeError")) > 100
    assert sum(1 for case in _all() if isinstance(case["after"], dict)) > 30  # objects, not only text


@pytest.mark.parametrize("kind", ["recorded", "generated"])
def test_the_diffs_answer_as_the_golden_file_says(kind: str) -> None:
    found = []
    for index, case in enumerate(CASES[kind]):
        got = golden.answer({field: case[field] for field in golden.FIELDS})
        expected = {name: case[name] for name in ANSWERS if name in case}
        if got != expected:
            found.append(f"{kind}[{index}] {case!r}:\n  expected {expected!r}\n  got      {got!r}")
    assert not found, f"{len(found)} answers changed; the first:\n" + "\n".join(found[:3])
