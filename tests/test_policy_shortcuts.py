"""The key-policy checks' shortcuts: bounded memos, and the same answers as the long way."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_policy_golden import CASES

from http_task_kms.kms.policy import arns, lint_actions
from http_task_kms.kms.policy.lint import lint_policy
from http_task_kms.kms.policy.lint_actions import covers_put_key_policy, statement_actions
from http_task_kms.kms.policy.lint_conditions import _OPERATOR_SPELLINGS
from http_task_kms.kms.policy.model import CONDITION_OPERATORS, condition_operator_base, iter_statements

ROOT = "arn:aws:iam::111122223333:root"


def _policy(actions: Any) -> str:
    statements = [
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": actions, "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _spellings(count: int) -> list[str]:
    """``count`` spellings of actions on a key (IAM compares names case-insensitively)."""
    on_key = sorted(set(lint_actions.all_actions()) - lint_actions._off_key())
    found: list[str] = []
    for bits in itertools.count():
        for action in on_key:
            name = action.removeprefix("kms:")
            cased = "".join(c.upper() if bits >> i & 1 else c.lower() for i, c in enumerate(name))
            found.append(f"kms:{cased}")
            if len(found) == count:
                return found
    raise AssertionError("unreachable")


def test_the_memos_of_untrusted_patterns_stay_bounded_and_answers_stay_right() -> None:
    cap = lint_actions._MEMO_SIZE
    clean = _spellings(cap + 500)  # every one an action a key policy grants: clean
    text = _policy(clean)
    assert lint_policy(text, max_bytes=2 * len(text)) == []  # over the quota: that is not the point
    long_one = "kms:Describe" + "*" * 200  # clean, and long: judged, never remembered
    assert lint_policy(_policy([long_one])) == []
    assert covers_put_key_policy({"NotAction": long_one})
    for memo in (lint_actions._CLEAN, lint_actions._PUT, lint_actions._NOT_PUT):
        assert len(memo) <= cap
        assert long_one not in memo
    # past the cap, patterns are still judged, not taken as clean or as naming kms:PutKeyPolicy
    codes = [f.code for f in lint_policy(_policy(["kms:Describe*", "kms:Nothing*", "kms:Decrpyt"]))]
    assert codes == ["KMS_WILDCARD_MATCHES_NOTHING", "UNKNOWN_KMS_ACTION"]
    assert covers_put_key_policy({"Action": [*clean[-3:], "kms:P*"]})
    assert not covers_put_key_policy({"Action": clean[-3:]})
    assert covers_put_key_policy({"NotAction": clean[-3:]})


def test_covers_put_key_policy_is_put_key_policy_in_the_statements_actions() -> None:
    statements = [
        statement
        for case in CASES["lockout"]
        for _, statement in iter_statements(case["policy"])
        if isinstance(statement, dict)
    ]
    statements += [{"Action": None}, {"NotAction": None}, {"Action": [5, "kms:Put*"]}, {"NotAction": {}}, {}]
    assert len(statements) > 3000
    mismatched = [
        s for s in statements if covers_put_key_policy(s) != ("kms:PutKeyPolicy" in statement_actions(s))
    ]
    assert mismatched == []
    assert {covers_put_key_policy(s) for s in statements} == {True, False}


_PIECES = {
    "partition": ["aws", "aws-cn", "aws-us-gov", "AWS", "aws-", "aws1", "aws-a-b", ""],
    "service": ["iam", "sts", "IAM", "s3", ""],
    "region": ["", "us-east-1"],
    "account": ["111122223333", "11112222333", "1111222233334", "", "111122223333\n", "\uff11" * 12],
    "resource": [
        "root",
        "root\n",
        "user/x",
        "role/Admin",
        "role/a/b/Admin",
        "role/",
        "role//x",
        "role/a*b",
        "role/a?b",
        "role/*",
        "role/team*/App",
        "user/?/x",
        "role/a:b/c",
        "role/\u00e9t\u00e9",
        "role/a b",
        "role/a/b\n",
        "role/\u0661",
        "group/x",
        "assumed-role/Admin/alice",
        "federated-user/bob",
        "user/a/",
    ],
}


def _values() -> list[str]:
    shape = "arn:{partition}:{service}:{region}:{account}:{resource}"
    names = list(_PIECES)
    return [shape.format(**dict(zip(names, parts))) for parts in itertools.product(*_PIECES.values())]


def test_the_one_pattern_for_plain_principals_says_what_the_steps_say() -> None:
    values = _values()
    assert len(values) > 10000
    assert [v for v in values if arns.classify_aws_principal.__wrapped__(v) != arns._classify(v)] == []


@settings(max_examples=300, deadline=None)
@given(value=st.sampled_from(_values()), noise=st.text(max_size=3), at=st.integers(min_value=0, max_value=60))
@example(value="arn:aws:iam::111122223333:role/a/b", noise="*", at=30)
def test_the_one_pattern_says_what_the_steps_say_of_any_text_in_a_principal(
    value: str, noise: str, at: int
) -> None:
    candidate = value[:at] + noise + value[at:]
    assert arns.classify_aws_principal.__wrapped__(candidate) == arns._classify(candidate)


def test_the_plain_principal_pattern_is_taken_for_the_usual_values() -> None:
    usual = ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/team/App"]
    assert all(arns._PLAIN_IAM_RE.fullmatch(value) for value in usual)
    assert arns.classify_aws_principal("arn:aws:iam::111122223333:role/team/App").path == "/team/"


def test_the_operator_spellings_are_what_condition_operator_base_takes() -> None:
    names = [*CONDITION_OPERATORS, "IfExists", "Foo", "stringequals", ""]
    prefixes = ["", "ForAllValues:", "ForAnyValue:", "ForAnyValue:ForAllValues:", "forallvalues:"]
    suffixes = ["", "IfExists", "IfExistsIfExists", "ifexists"]
    spellings = {f"{p}{n}{s}" for p in prefixes for n in names for s in suffixes}
    assert len(spellings) > 500
    taken = {s for s in spellings if condition_operator_base(s) is not None}
    assert taken == spellings & _OPERATOR_SPELLINGS
    assert "ForAnyValue:StringLikeIfExists" in taken
    assert "NullIfExists" not in _OPERATOR_SPELLINGS
