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

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from http_task_kms import jsonutil

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


def _outcome(run: Any) -> str:
    try:
        return json.dumps(run())
    except Exception as exc:  # the error is part of the answer
        return f"!{type(exc).__name__}: {exc}"


def test_the_safe_send_parses_each_policy_once_and_answers_as_for_the_texts() -> None:
    # safety._compare hands the diffs parsed policies (the previous one parsed once for the
    # three fields, the new one the checks' own parse): the same answers, or the same error,
    # as the texts give, for every pair of texts of the golden file (a third of them).
    from http_task_kms.kms import safety
    from http_task_kms.kms.policy.access import access_json
    from http_task_kms.kms.policy.diff import diff_policies
    from http_task_kms.plugins.types import PreparedRequest

    def by_text(before: str, after: str, key_id: str | None) -> dict[str, Any]:
        diff = diff_policies(before, after)
        return {
            "previousPolicy": safety._as_json(before),
            "diff": diff.model_dump(exclude={"changed"}),
            "access": access_json(before, after, key_id=key_id),
            "changed": diff.changed,
        }

    pairs = [case for case in _all() if isinstance(case["before"], str) and isinstance(case["after"], str)]
    assert len(pairs) > 3000
    policy = pairs[0]["after"]
    repeated = '{"Statement": [], "Statement": [{"Sid": "x"}]}'
    odd = [json.dumps(policy), "[]", "5", "null", repeated, "{", "\ufeff{}"]  # JSON text, not objects
    pairs = pairs[::3] + [{"before": text, "after": policy, "key_arn": None} for text in odd]
    pairs += [{"before": policy, "after": text, "key_arn": None} for text in odd]
    found = []
    for index, case in enumerate(pairs):
        before, after = case["before"], case["after"]
        key_id = case["key_arn"] or "1234abcd-12ab-34cd-56ef-1234567890ab"
        request = PreparedRequest(
            method="POST",
            url="https://kms.us-east-1.amazonaws.com/",
            headers={},
            body={"KeyId": key_id, "Policy": after},
            body_bytes=b"",
            endpoint=None,  # type: ignore[arg-type]
            signing_name="kms",
            template=None,
            task=None,  # type: ignore[arg-type]
            documents=_documents(after, index % 4),
        )
        got = _outcome(lambda: safety._compare(request, before))
        expected = _outcome(lambda: by_text(before, after, key_id))
        if got != expected:
            found.append(f"{case!r}:\n  expected {expected}\n  got      {got}")
    assert not found, f"{len(found)} answers differ; the first:\n" + "\n".join(found[:3])


def _documents(text: str, way: int) -> dict[str, Any]:
    """The request's documents four ways: none; the text (parsed when asked, repeated keys
    kept); the data the text was written from (where it has no repeated key); another text."""
    if way == 0:
        return {}
    if way == 3:
        return {"Policy": jsonutil.Document('{"Statement": []}')}  # not the text sent: not used
    document = jsonutil.Document(text)
    if way == 2:
        with contextlib.suppress(ValueError):  # a text that does not parse, or repeats a key
            document = jsonutil.Document(text, parsed=jsonutil.loads(text))
    return {"Policy": document}


def _two_statements(statement: dict[str, Any], resource: str = "*") -> dict[str, Any]:
    other = {"Sid": "R", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [statement, other]}


def test_statements_equal_as_written_still_differ_where_their_normalised_forms_do() -> None:
    # The diff skips normalising a Sid's two statements when they are equal as written and of
    # plain shapes; equal as written is not always the same meaning. An account ID takes each
    # policy's partition, and true == 1 to Python but not to a condition.
    from http_task_kms.kms.policy.diff import diff_policies

    account = {
        "Sid": "A",
        "Effect": "Allow",
        "Principal": {"AWS": "111122223333"},
        "Action": "kms:*",
        "Resource": "*",
    }
    china = _two_statements(account, "arn:aws-cn:kms:cn-north-1:111122223333:key/k")
    diff = diff_policies(china, _two_statements(account, "arn:aws:kms:us-east-1:111122223333:key/k"))
    change = next(change for change in diff.modified if change.sid == "A")
    assert change.before["Principal"] == {"AWS": ["arn:aws-cn:iam::111122223333:root"]}
    assert change.after["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root"]}

    secure = {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    as_true = {**secure, "Condition": {"Bool": {"aws:SecureTransport": True}}}
    as_one = {**secure, "Condition": {"Bool": {"aws:SecureTransport": 1}}}
    assert as_true == as_one  # to Python
    [change] = diff_policies(_two_statements(as_true), _two_statements(as_one)).modified
    assert change.before["Condition"] == {"Bool": {"aws:securetransport": ["true"]}}
    assert change.after["Condition"] == {"Bool": {"aws:securetransport": ["1"]}}
    assert not diff_policies(_two_statements(as_true), _two_statements(dict(as_true))).changed
