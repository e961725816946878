"""Property-based tests (hypothesis): rendering, request validation and the key-policy linter.

Any input gives an answer, never an unexpected exception: rendering returns a value or
problems; ``Client.prepare`` of kms.PutKeyPolicy returns a PreparedRequest or raises
RequestValidationError with problems; ``lint_policy`` returns findings for any string. And
what would be sent always meets KMS's documented constraints.

Profiles: ``ci`` (the default: a few thousand examples in all, well under a minute) and
``long`` (100,000 examples per test)::

    HYPOTHESIS_PROFILE=long /work/venv/bin/pytest tests/test_properties.py
"""

from __future__ import annotations

import json
import math
import os
import string
from typing import Any

import pytest
from conftest import KEY_ID, signer_for
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from http_task_kms import Client, Options, Problem, RequestValidationError
from http_task_kms.expressions import MISSING, compile_value, render
from http_task_kms.kms.policy.lint import lint_policy
from http_task_kms.plugins.types import PreparedRequest

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("HYPOTHESIS_CI_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=100_000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Applied per test (not loaded globally, so other modules keep their own settings).
_CHOSEN = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE = settings.get_profile(_CHOSEN if _CHOSEN in {"ci", "long"} else "ci")

CALLER = "arn:aws:iam::123456789012:user/x"
POLICY_ALLOWED = frozenset("\t\n\r") | {chr(c) for c in range(0x20, 0x100)}
SEVERITIES = {"ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION"}

# -- strategies ------------------------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
finite_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
# Text made of the characters expressions are built from, so that placeholders, escapes,
# quotes and brackets meet in every combination.
expression_text = st.lists(
    st.sampled_from([*"${}$[]().'\"\\*?@:!=<>,-_ ab01", "jsonata:", "${$.", "$${", "swf:"]) | st.characters(),
    max_size=15,
).map("".join)
templates = st.recursive(
    expression_text | scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)

principals = st.sampled_from(
    [
        CALLER,
        "arn:aws:iam::123456789012:root",
        "*",
        "123456789012",
        "arn:aws:iam::111122223333:role/r",
        "arn:aws:sts::123456789012:assumed-role/r/s",
        "AROAEXAMPLEID",
        "not an arn",
    ]
)
actions = st.sampled_from(
    ["kms:*", "kms:PutKeyPolicy", "kms:Encrypt", "kms:Put*", "s3:GetObject", "*", "kms:NoSuchAction", "kms"]
)
statements = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.text(max_size=10) | st.integers(),
        "Effect": st.sampled_from(["Allow", "Deny", "allow", ""]) | json_values,
        "Principal": st.one_of(
            st.just("*"),
            st.fixed_dictionaries({"AWS": principals | st.lists(principals, max_size=3)}),
            st.dictionaries(st.sampled_from(["AWS", "Service", "Federated", "Bad"]), principals, max_size=2),
            json_values,
        ),
        "NotPrincipal": st.fixed_dictionaries({"AWS": principals}),
        "Action": actions | st.lists(actions, max_size=3) | json_values,
        "NotAction": actions,
        "Resource": st.sampled_from(["*", f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}", "arn:bad"])
        | json_values,
        "Condition": st.dictionaries(
            st.sampled_from(["StringEquals", "Bool", "ArnLike", "Nope"]),
            st.dictionaries(
                st.sampled_from(["kms:CallerAccount", "aws:PrincipalOrgID", "x"]), json_values, max_size=2
            ),
            max_size=2,
        )
        | json_values,
    },
)
policies = st.fixed_dictionaries(
    {},
    optional={
        "Version": st.sampled_from(["2012-10-17", "2008-10-17", "2020-01-01"]) | json_values,
        "Id": st.text(max_size=10) | json_values,
        "Statement": st.lists(statements, max_size=4) | statements | json_values,
    },
)
policy_texts = st.one_of(
    st.text(max_size=200),
    policies.map(json.dumps),
    policies.map(lambda p: json.dumps(p, ensure_ascii=False, indent=2)),
    json_values.map(json.dumps),
)
# Policies KMS would accept from CALLER: an admin statement for CALLER, and well-formed extras.
_good_statements = st.fixed_dictionaries(
    {
        "Effect": st.just("Allow"),
        "Principal": st.fixed_dictionaries(
            {
                "AWS": st.sampled_from(
                    ["arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/reader", CALLER]
                )
            }
        ),
        "Action": st.sampled_from(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"])
        | st.lists(
            st.sampled_from(["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*"]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        "Resource": st.just("*"),
    },
    optional={
        "Condition": st.fixed_dictionaries(
            {
                "StringEquals": st.fixed_dictionaries(
                    {
                        "kms:CallerAccount": st.just("123456789012")
                        | st.lists(st.just("123456789012"), min_size=1)
                    }
                )
            }
        ),
    },
)
valid_policies = st.lists(_good_statements, max_size=4).map(
    lambda extra: {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Admin",
                "Effect": "Allow",
                "Principal": {"AWS": CALLER},
                "Action": "kms:*",
                "Resource": "*",
            },
            *({**statement, "Sid": f"S{i}"} for i, statement in enumerate(extra)),
        ],
    }
)
key_ids = st.sampled_from(
    [
        KEY_ID,
        f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}",
        f"arn:aws:kms:eu-west-1:123456789012:key/{KEY_ID}",
        f"arn:aws:kms:us-east-1:111122223333:key/{KEY_ID}",
        "mrk-" + "0" * 32,
        "alias/x",
        "",
        "x" * 2049,
    ]
) | st.text(max_size=40)
put_params = st.fixed_dictionaries(
    {},
    optional={
        "KeyId": key_ids | json_values,
        "Policy": policies | policy_texts | json_values,
        "PolicyName": st.sampled_from(["default", "other", ""]) | json_values,
        "BypassPolicyLockoutSafetyCheck": st.booleans() | json_values,
        "region": st.sampled_from(["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "mars-1", ""])
        | json_values,
    },
).flatmap(
    lambda base: st.dictionaries(st.text(max_size=6), json_values, max_size=2).map(
        lambda extra: {**extra, **base}
    )
)


def _strict_json(data: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(data, parse_constant=refuse)


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


# -- rendering -------------------------------------------------------------------------------------
@PROFILE
@given(template=templates, params=json_values)
def test_rendering_any_template_over_any_parameters_never_raises(template, params):
    out = render(compile_value(template), params, where="body")
    assert all(isinstance(p, Problem) and p.field and p.message for p in out.problems)
    assert out.value is MISSING or _json_safe(out.value)


@PROFILE
@given(text=st.text(max_size=50).filter(lambda t: "$" not in t), params=json_values)
def test_text_without_a_dollar_renders_to_itself(text, params):
    out = render(compile_value(text), params)
    assert out.value == text
    assert out.problems == []
    assert out.missing == []


@PROFILE
@given(text=st.text(max_size=30).filter(lambda t: "$" not in t))
def test_escaped_placeholder_renders_literally(text):
    out = render(compile_value("$${" + text), {"x": 1})
    assert out.value == "${" + text
    assert out.problems == []


@PROFILE
# (python-jsonpath refuses the RFC 9535 escape of a control character, e.g. "\u001f": no Cc keys)
@given(
    key=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12),
    value=finite_json,
    other=st.dictionaries(st.text(max_size=6), finite_json, max_size=3),
)
@example(key="}", value=1, other={})
@example(key="'", value="x", other={})
@example(key="a\\b", value=[1], other={})
@example(key="\U0001f600", value=None, other={})
def test_a_whole_placeholder_selects_any_member_and_keeps_its_type(key, value, other):
    params = {**other, key: value}
    expression = "${$[" + json.dumps(key) + "]}"  # an RFC 9535 string literal is a JSON string
    out = render(compile_value({"member": expression}), params)
    assert out.problems == []
    assert out.value == {"member": value}


@PROFILE
@given(
    key=identifiers,
    value=st.text(max_size=20) | st.integers() | st.booleans(),
    before=st.text(max_size=8).filter(lambda t: "$" not in t),
    after=st.text(max_size=8).filter(lambda t: "$" not in t),
)
def test_interpolation_puts_the_value_in_the_text(key, value, before, after):
    assume(before or after)  # a placeholder alone keeps the JSON type of what it selects
    out = render(compile_value(f"{before}${{$.{key}}}{after}"), {key: value})
    shown = value if isinstance(value, str) else json.dumps(value)
    assert out.problems == []
    assert out.value == before + shown + after


@PROFILE
@given(key=identifiers, params=st.dictionaries(identifiers, finite_json, max_size=4))
def test_a_placeholder_that_selects_nothing_is_reported_not_rendered(key, params):
    assume(key not in params)
    out = render(compile_value({"KeyId": f"${{$.{key}}}"}), params)
    assert out.value == {}
    assert [m.expression for m in out.missing] == [f"${{$.{key}}}"]


# -- validation ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def offline_client() -> Client:
    """No network: the Region and the caller are given; fixed credentials."""
    return Client(
        Options(region="us-east-1", plugin_options={"caller_arn": CALLER}),
        signer=signer_for("AKIDEXAMPLE", "secret"),
    )


def _prepare(client: Client, compiled: Any, params: Any) -> PreparedRequest | list[Problem]:
    """The prepared request, or the problems; any other exception fails the test."""
    try:
        return client.prepare(compiled, params)
    except RequestValidationError as exc:
        return exc.problems


def _check_prepared(client: Client, prepared: PreparedRequest) -> None:
    """What would be sent meets KMS's documented constraints (kms.md)."""
    body = _strict_json(prepared.body_bytes)  # strict JSON: no NaN, no Infinity
    assert isinstance(body, dict)
    assert body == prepared.body
    assert isinstance(body["KeyId"], str)
    assert 1 <= len(body["KeyId"]) <= 2048
    assert not body["KeyId"].startswith("alias/")
    assert body.get("PolicyName", "default") == "default"
    policy = body["Policy"]
    assert isinstance(policy, str)
    assert len(policy.encode()) <= 32768
    assert set(policy) <= POLICY_ALLOWED
    assert isinstance(_strict_json(policy.encode()), dict)
    assert isinstance(body.get("BypassPolicyLockoutSafetyCheck", False), bool)
    assert prepared.url == f"https://kms.{prepared.endpoint.region}.{prepared.url.split('.', 2)[2]}"
    headers = client.signer.sign(
        prepared.method,
        prepared.url,
        prepared.headers,
        prepared.body_bytes,
        service="kms",
        region=prepared.endpoint.region,
    )
    for value in headers.values():
        value.encode("latin-1")  # every header can go on the wire
    assert json.dumps(client.render(prepared).to_json(), allow_nan=False)


@PROFILE
@given(params=put_params | json_values)
def test_prepare_gives_a_request_or_every_problem_never_another_exception(offline_client, params):
    compiled = offline_client.compiled_template("kms.PutKeyPolicy")
    outcome = _prepare(offline_client, compiled, params)
    if isinstance(outcome, PreparedRequest):
        _check_prepared(offline_client, outcome)
        return
    problems = outcome
    assert problems, "a validation error with no problem"
    assert all(isinstance(p.field, str) and p.message for p in problems)
    # (a field may be "" only when it names an input parameter called "")
    assert all(p.field or ("" in params) for p in problems)


@PROFILE
@given(
    policy=policies,
    key=st.sampled_from([KEY_ID, f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}"]),
    bypass=st.booleans(),
)
def test_prepare_of_policy_shaped_input(offline_client, policy, key, bypass):
    compiled = offline_client.compiled_template("kms.PutKeyPolicy")
    params = {"KeyId": key, "Policy": policy, "BypassPolicyLockoutSafetyCheck": bypass}
    outcome = _prepare(offline_client, compiled, params)
    if isinstance(outcome, PreparedRequest):
        _check_prepared(offline_client, outcome)
    else:
        assert outcome, "a validation error with no problem"


@PROFILE
@given(
    policy=valid_policies,
    as_text=st.booleans(),
    indent=st.sampled_from([None, 2]),
    key=st.sampled_from([KEY_ID, f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}", "mrk-" + "a" * 32]),
)
def test_a_valid_policy_is_prepared_and_meets_every_constraint(offline_client, policy, as_text, indent, key):
    compiled = offline_client.compiled_template("kms.PutKeyPolicy")
    params = {"KeyId": key, "Policy": json.dumps(policy, indent=indent) if as_text else policy}
    prepared = offline_client.prepare(compiled, params)  # no false positive: nothing to refuse here
    _check_prepared(offline_client, prepared)
    assert json.loads(prepared.body["Policy"]) == policy


# -- the key-policy linter -------------------------------------------------------------------------
def _lint(text: str, key_arn: str | None = None) -> list[Any]:
    findings = lint_policy(text, key_arn=key_arn)
    assert isinstance(findings, list)
    for finding in findings:
        assert finding.severity in SEVERITIES
        assert finding.code
        assert finding.message
        assert finding.path.startswith("$")
    return findings


@PROFILE
@given(text=st.text(max_size=300) | policy_texts)
@example(text="\ud800")
@example(text="")
def test_any_string_as_a_policy_gives_findings_never_a_crash(text):
    _lint(text)


@PROFILE
@given(
    policy=policies,
    key_arn=st.none() | st.sampled_from([f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}", "arn:bad"]),
)
def test_policy_shaped_documents_give_findings_never_a_crash(policy, key_arn):
    _lint(json.dumps(policy), key_arn)


@PROFILE
@given(
    text=policy_texts,
    bad=st.characters(blacklist_categories=("Cs",)).filter(lambda c: c not in POLICY_ALLOWED),
    at=st.integers(min_value=0),
)
def test_a_character_outside_the_allowed_set_is_an_error(text, bad, at):
    at %= len(text) + 1
    codes = {(f.severity, f.code) for f in _lint(text[:at] + bad + text[at:])}
    assert ("ERROR", "INVALID_CHARACTER") in codes


@PROFILE
@given(text=st.text(alphabet=string.printable, max_size=200))
def test_text_that_is_not_strict_json_is_an_error(text):
    try:
        _strict_json(text.encode())
    except (ValueError, RecursionError):
        assert any(f.severity == "ERROR" for f in _lint(text))


@PROFILE
@given(padding=st.integers(min_value=1, max_value=5000))
def test_an_oversized_policy_is_an_error(padding):
    text = json.dumps({"Version": "2012-10-17", "Id": "x" * (32768 + padding), "Statement": []})
    assert ("ERROR", "POLICY_TOO_LARGE") in {(f.severity, f.code) for f in _lint(text)}


# -- known bugs in modules this suite does not own (strict: they fail loudly once fixed) ------------
NAN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": CALLER}, "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "S0",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"NumericLessThan": {"kms:x": math.nan}},
        },
    ],
}


def test_nan_inside_a_policy_object_is_refused(offline_client):
    compiled = offline_client.compiled_template("kms.PutKeyPolicy")
    with pytest.raises(RequestValidationError):
        offline_client.prepare(compiled, {"KeyId": KEY_ID, "Policy": NAN_POLICY})


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_lint_refuses_non_json_constants(constant):
    text = json.dumps(NAN_POLICY).replace("NaN", constant)
    assert [f.code for f in _lint(text) if f.severity == "ERROR"] == ["INVALID_JSON"]


@pytest.mark.parametrize("text", ["[" * 12_000 + "]" * 12_000, '{"a":' * 12_000 + "1" + "}" * 12_000])
def test_lint_reports_deep_nesting_as_invalid_json(text):
    findings = _lint(text)
    errors = {f.code: f.message for f in findings if f.severity == "ERROR"}
    assert set(errors) - {"POLICY_TOO_LARGE"} == {"INVALID_JSON"}
    assert "nested more than 100 levels deep" in errors["INVALID_JSON"]


def test_prepare_refuses_a_deeply_nested_policy(offline_client):
    compiled = offline_client.compiled_template("kms.PutKeyPolicy")
    with pytest.raises(RequestValidationError):
        offline_client.prepare(compiled, {"KeyId": KEY_ID, "Policy": "[" * 12_000 + "]" * 12_000})


@given(st.text())
@example("TrentService.PutKeyPolicy")
@example("a\tb é ÿ")
@example("\x7f")
@example("\u0100")
@example("\udfff")
def test_a_header_value_is_refused_exactly_when_a_rule_says_so(value: str) -> None:
    # wire's one-search shortcut for a sendable value against its three rules, one by one.
    from http_task_kms.wire import header_problems

    broken = (
        any(c in value for c in "\r\n\0")
        or any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value)
        or any(ord(c) >= 256 for c in value)
    )
    problems = header_problems({"X-Test": value})
    assert bool(problems) == broken
    assert all(p.field == "httpRequest.headers.X-Test" for p in problems)
