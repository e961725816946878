"""Tests of http_task_kms.kms.policy.lockout and http_task_kms.kms.policy.arns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from http_task_kms.kms.policy.arns import KEY_ID_RE, classify_aws_principal, is_alias, is_key_arn
from http_task_kms.kms.policy.lockout import LockoutResult, caller_principal_arns, check_lockout, parse_arn

POLICIES = Path(__file__).parent / "policies"
EXPECTED: dict[str, Any] = yaml.safe_load((POLICIES / "expected.yaml").read_text())

ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
ADMIN_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/KeyAdmin/alice"
APP_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/AppRole/i-0abc"
USER = f"arn:aws:iam::{ACCOUNT}:user/ci-deployer"
OTHER_USER = "arn:aws:iam::444455556666:user/bob"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"


def allow(principal: Any, action: Any = "kms:*", **elements: Any) -> dict[str, Any]:
    """An Allow statement on ``*`` (elements replace or, with None, remove parts)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}
    statement.update(elements)
    return {key: value for key, value in statement.items() if value is not None}


def deny(principal: Any, action: Any = "kms:PutKeyPolicy", **elements: Any) -> dict[str, Any]:
    """A Deny statement on ``*``."""
    return allow(principal, action, Effect="Deny", **elements)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def verdict(document: dict[str, Any], caller: str = ADMIN_SESSION, key_arn: str | None = None) -> str:
    return check_lockout(document, caller_arn=caller, key_arn=key_arn).verdict


# -- the corpus ------------------------------------------------------------------------------------

CASES = [
    pytest.param(name, case, id=f"{name}-{case['caller']}-{case.get('key_arn', spec.get('key_arn'))}")
    for name, spec in sorted(EXPECTED["policies"].items())
    for case in spec.get("lockout", [])
]


@pytest.mark.parametrize(("name", "case"), CASES)
def test_corpus_lockout(name: str, case: dict[str, Any]) -> None:
    spec = EXPECTED["policies"][name]
    key_name = case.get("key_arn", spec.get("key_arn"))
    key_arn = EXPECTED["key_arns"][key_name] if key_name else None
    document = json.loads((POLICIES / name).read_text())
    result = check_lockout(document, caller_arn=EXPECTED["callers"][case["caller"]], key_arn=key_arn)
    assert result.verdict == case["verdict"], result.reason
    assert result.reason


# -- verdicts --------------------------------------------------------------------------------------


def test_pass_when_the_role_is_named() -> None:
    result = check_lockout(policy(allow({"AWS": ADMIN_ROLE})), caller_arn=ADMIN_SESSION)
    assert result == LockoutResult(
        verdict="PASS",
        reason=result.reason,
        statements=["$.Statement[0]"],
    )
    assert ADMIN_ROLE in result.reason
    assert "$.Statement[0]" in result.reason


def test_pass_when_the_session_itself_is_named() -> None:
    assert verdict(policy(allow({"AWS": [ADMIN_SESSION]}))) == "PASS"
    other_session = ADMIN_SESSION.replace("alice", "bob")
    assert verdict(policy(allow({"AWS": [ADMIN_SESSION]})), caller=other_session) == "FAIL"


def test_role_with_a_path_matches_the_session_by_name() -> None:
    result = check_lockout(
        policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/admins/KeyAdmin"})), caller_arn=ADMIN_SESSION
    )
    assert result.verdict == "PASS"
    assert "path /team/admins/" in result.reason


def test_a_role_of_another_name_or_account_does_not_match() -> None:
    assert verdict(policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/KeyAdmins"}))) == "FAIL"
    assert verdict(policy(allow({"AWS": "arn:aws:iam::444455556666:role/KeyAdmin"}))) == "FAIL"


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": [ROOT, "*"]}])
def test_pass_for_anyone(principal: Any) -> None:
    result = check_lockout(policy(allow(principal)), caller_arn=OTHER_USER)
    assert result.verdict == "PASS"
    assert '"*"' in result.reason


def test_user_and_root_callers() -> None:
    assert verdict(policy(allow({"AWS": USER})), caller=USER) == "PASS"
    assert verdict(policy(allow({"AWS": ROOT})), caller=ROOT) == "PASS"
    assert verdict(policy(allow({"AWS": ACCOUNT})), caller=ROOT) == "PASS"
    assert verdict(policy(allow({"AWS": ADMIN_ROLE})), caller=ROOT) == "FAIL"


@pytest.mark.parametrize("account", [ROOT, ACCOUNT])
def test_pass_delegated_when_only_the_account_is_named(account: str) -> None:
    result = check_lockout(policy(allow({"AWS": account})), caller_arn=ADMIN_SESSION)
    assert result.verdict == "PASS_DELEGATED"
    assert "IAM policies" in result.reason


def test_named_caller_beats_delegation() -> None:
    document = policy(allow({"AWS": ROOT}), allow({"AWS": ADMIN_ROLE}, Sid="Admins"))
    result = check_lockout(document, caller_arn=ADMIN_SESSION)
    assert result.verdict == "PASS"
    assert result.statements == ["$.Statement[1]"]
    assert '"Admins" ($.Statement[1])' in result.reason


def test_root_of_another_partition_is_another_account() -> None:
    assert verdict(policy(allow({"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}))) == "FAIL"


def test_service_and_federated_principals_never_match_an_iam_caller() -> None:
    document = policy(
        allow({"Service": "cloudtrail.amazonaws.com", "Federated": "cognito-identity.amazonaws.com"})
    )
    assert verdict(document) == "FAIL"


def test_fail_when_nothing_allows_put_key_policy() -> None:
    result = check_lockout(
        policy(
            allow({"AWS": ADMIN_ROLE}, ["kms:Decrypt", "kms:Get*"]),
            allow({"AWS": "arn:aws:iam::111122223333:role/Other"}, Sid="Other"),
        ),
        caller_arn=ADMIN_SESSION,
    )
    assert result.verdict == "FAIL"
    assert result.statements == ["$.Statement[1]"]
    assert '"Other" ($.Statement[1]) allows it, but not to this caller' in result.reason


@pytest.mark.parametrize("document", [{}, {"Statement": []}, {"Statement": "x"}, {"Statement": ["x", 1]}])
def test_fail_without_usable_statements(document: dict[str, Any]) -> None:
    assert verdict(document) == "FAIL"


def test_statements_without_effect_or_principal_are_ignored() -> None:
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, Effect="allow"), allow(None))) == "FAIL"


# -- deny ----------------------------------------------------------------------------------------


def test_explicit_deny_wins() -> None:
    document = policy(allow({"AWS": ADMIN_ROLE}), deny({"AWS": "*"}, Sid="No policy changes"))
    result = check_lockout(document, caller_arn=ADMIN_SESSION)
    assert result.verdict == "FAIL"
    assert result.statements == ["$.Statement[1]"]
    assert "explicit Deny overrides" in result.reason
    assert '"No policy changes"' in result.reason


def test_deny_to_the_account_applies_to_its_principals() -> None:
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), deny({"AWS": ACCOUNT}))) == "FAIL"


def test_deny_of_other_actions_or_principals_does_not_apply() -> None:
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), deny("*", "kms:ScheduleKeyDeletion"))) == "PASS"
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), deny({"AWS": OTHER_USER}))) == "PASS"


def test_not_action_in_deny_and_allow() -> None:
    everything_but_decrypt = deny("*", None, NotAction=["kms:Decrypt", "kms:Encrypt"])
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), everything_but_decrypt)) == "FAIL"
    all_but_put = allow({"AWS": ADMIN_ROLE}, None, NotAction="kms:PutKeyPolicy")
    assert verdict(policy(all_but_put)) == "FAIL"
    all_but_decrypt = allow({"AWS": ADMIN_ROLE}, None, NotAction="kms:Decrypt")
    assert verdict(policy(all_but_decrypt)) == "PASS"


def test_not_principal_in_deny() -> None:
    both = deny(None, NotPrincipal={"AWS": [ADMIN_ROLE, ROOT]})
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), both)) == "PASS"
    assert verdict(policy(allow({"AWS": ROOT}), both), caller=APP_SESSION) == "FAIL"
    role_only = deny(None, NotPrincipal={"AWS": ADMIN_ROLE})
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), role_only)) == "UNCERTAIN"
    account_only = deny(None, NotPrincipal={"AWS": ROOT})
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), account_only)) == "FAIL"
    assert verdict(policy(allow({"AWS": ROOT}), account_only), caller=ROOT) == "PASS"


def test_not_principal_in_allow_is_uncertain() -> None:
    result = check_lockout(policy(allow(None, NotPrincipal={"AWS": OTHER_USER})), caller_arn=ADMIN_SESSION)
    assert result.verdict == "UNCERTAIN"
    assert "NotPrincipal with Allow" in result.reason
    account_only = allow(None, NotPrincipal={"AWS": ROOT})
    assert verdict(policy(account_only)) == "UNCERTAIN"
    excluded = allow(None, NotPrincipal={"AWS": [ADMIN_ROLE, ACCOUNT]})
    assert verdict(policy(excluded)) == "FAIL"


def test_not_principal_star_excludes_everyone() -> None:
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}), deny(None, NotPrincipal="*"))) == "PASS"


# -- resources -------------------------------------------------------------------------------------


def test_resource_matching_with_a_key_arn() -> None:
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, Resource=KEY_ARN)), key_arn=KEY_ARN) == "PASS"
    pattern = f"arn:aws:kms:*:{ACCOUNT}:key/*"
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, Resource=pattern)), key_arn=KEY_ARN) == "PASS"
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, Resource=OTHER_KEY_ARN)), key_arn=KEY_ARN) == "FAIL"


def test_resource_is_uncertain_without_a_key_arn() -> None:
    result = check_lockout(policy(allow({"AWS": ADMIN_ROLE}, Resource=KEY_ARN)), caller_arn=ADMIN_SESSION)
    assert result.verdict == "UNCERTAIN"
    assert "no key ARN given" in result.reason
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, Resource=[KEY_ARN, "*"]))) == "PASS"


def test_not_resource() -> None:
    other = allow({"AWS": ADMIN_ROLE}, Resource=None, NotResource=OTHER_KEY_ARN)
    assert verdict(policy(other), key_arn=KEY_ARN) == "PASS"
    assert verdict(policy(other)) == "UNCERTAIN"
    this = allow({"AWS": ADMIN_ROLE}, Resource=None, NotResource=KEY_ARN)
    assert verdict(policy(this), key_arn=KEY_ARN) == "FAIL"
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, Resource=None, NotResource="*"))) == "FAIL"


def test_cross_account_key_always_fails() -> None:
    result = check_lockout(policy(allow("*")), caller_arn=OTHER_USER, key_arn=KEY_ARN)
    assert result.verdict == "FAIL"
    assert "across accounts" in result.reason


# -- actions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        "*",
        "kms:*",
        "KMS:put*",
        "kms:PUTKEYPOLICY",
        "kms:Put?eyPolicy",
        "kms:*Policy",
        ["kms:Get*", "kms:Put*"],
    ],
)
def test_action_globs_are_case_insensitive(action: Any) -> None:
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, action))) == "PASS"


@pytest.mark.parametrize("action", ["kms:Get*", "kms:PutKeyPolicy?", "s3:*", "kms:Put", [], "kms:*Key"])
def test_actions_that_do_not_cover_put_key_policy(action: Any) -> None:
    assert verdict(policy(allow({"AWS": ADMIN_ROLE}, action))) == "FAIL"


# -- conditions ------------------------------------------------------------------------------------


def test_condition_on_allow_makes_it_uncertain() -> None:
    document = policy(allow({"AWS": ADMIN_ROLE}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    result = check_lockout(document, caller_arn=ADMIN_SESSION)
    assert result.verdict == "UNCERTAIN"
    assert "aws:MultiFactorAuthPresent" in result.reason


def test_condition_on_deny_makes_a_pass_uncertain() -> None:
    document = policy(
        allow({"AWS": ADMIN_ROLE}),
        deny("*", Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}),
    )
    result = check_lockout(document, caller_arn=ADMIN_SESSION)
    assert result.verdict == "UNCERTAIN"
    assert result.statements == ["$.Statement[0]", "$.Statement[1]"]
    assert verdict(policy(allow({"AWS": ROOT}), document["Statement"][1])) == "UNCERTAIN"


def test_decided_principal_conditions() -> None:
    like = {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Key*"}}
    assert verdict(policy(allow("*", Condition=like))) == "PASS"
    # role/Key* could match AppRole under a path such as /Keyring/, which a session hides.
    assert verdict(policy(allow("*", Condition=like)), caller=APP_SESSION) == "UNCERTAIN"
    assert (
        verdict(policy(allow("*", Condition=like)), caller=f"arn:aws:iam::{ACCOUNT}:role/AppRole") == "FAIL"
    )
    any_role = {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}}
    assert verdict(policy(allow("*", Condition=any_role))) == "PASS"
    account = {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    assert verdict(policy(allow("*", Condition=account))) == "PASS"
    assert verdict(policy(allow("*", Condition=account)), caller=OTHER_USER) == "FAIL"
    if_exists = {"ArnEqualsIfExists": {"aws:principalarn": [ADMIN_ROLE]}}
    assert verdict(policy(allow("*", Condition=if_exists))) == "PASS"
    user = {"StringEquals": {"aws:PrincipalArn": USER}}
    assert verdict(policy(allow("*", Condition=user)), caller=USER) == "PASS"


def test_deny_unless_admin_condition() -> None:
    guard = deny("*", Condition={"ArnNotEquals": {"aws:PrincipalArn": ADMIN_ROLE}})
    assert verdict(policy(allow({"AWS": ROOT}), guard)) == "PASS_DELEGATED"
    assert verdict(policy(allow({"AWS": ROOT}), guard), caller=APP_SESSION) == "FAIL"


def test_one_false_condition_decides_even_with_unknown_ones() -> None:
    condition = {
        "StringEquals": {"aws:PrincipalAccount": "444455556666"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    assert verdict(policy(allow("*", Condition=condition))) == "FAIL"


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalArn": "${aws:username}"}},
        {"ForAnyValue:StringEquals": {"aws:PrincipalArn": ADMIN_ROLE}},
        {"StringEqualsIgnoreCase": {"aws:PrincipalArn": ADMIN_ROLE}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/Other*"}},
        "malformed",
    ],
)
def test_undecidable_conditions_stay_unknown(condition: Any) -> None:
    assert verdict(policy(allow("*", Condition=condition))) == "UNCERTAIN"


def test_session_role_path_in_a_condition() -> None:
    with_path = {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ops/KeyAdmin"}}
    assert verdict(policy(allow("*", Condition=with_path))) == "PASS"
    other_name = {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/OrgAdmin"}}
    assert verdict(policy(allow("*", Condition=other_name))) == "FAIL"
    other_account = {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::444455556666:role/*"}}
    assert verdict(policy(allow("*", Condition=other_account))) == "FAIL"


# -- callers and ARNs ------------------------------------------------------------------------------------


def test_invalid_caller_is_uncertain() -> None:
    for caller in ("alice", "arn:aws:s3:::bucket", ACCOUNT, "*"):
        assert verdict(policy(allow("*")), caller=caller) == "UNCERTAIN"


def test_caller_principal_arns() -> None:
    assert caller_principal_arns(ADMIN_SESSION) == [ADMIN_SESSION, ADMIN_ROLE]
    assert caller_principal_arns(USER) == [USER]
    assert caller_principal_arns(ROOT) == [ROOT]
    cn = "arn:aws-cn:sts::111122223333:assumed-role/R/s"
    assert caller_principal_arns(cn) == [cn, "arn:aws-cn:iam::111122223333:role/R"]


def test_parse_arn() -> None:
    arn = parse_arn(KEY_ARN)
    assert arn is not None
    assert (arn.partition, arn.service, arn.region, arn.account) == ("aws", "kms", "us-east-1", ACCOUNT)
    assert arn.resource == "key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert str(arn) == KEY_ARN
    logs = parse_arn("arn:aws:logs:us-east-1:111122223333:log-group:/app:*")
    assert logs is not None
    assert logs.resource == "log-group:/app:*"
    for bad in ("", "arn", "arn:aws:kms", "key/1234", "arn::kms:us-east-1:1:key/x", "arn:aws:kms:r:1:"):
        assert parse_arn(bad) is None


def test_key_ids_and_arns() -> None:
    assert KEY_ID_RE.match("1234abcd-12ab-34cd-56ef-1234567890ab")
    assert KEY_ID_RE.match("mrk-1234abcd12ab34cd56ef1234567890ab")
    assert not KEY_ID_RE.match("mrk-1234")
    assert not KEY_ID_RE.match("1234abcd-12ab-34cd-56ef-1234567890ab-")
    assert is_key_arn(KEY_ARN)
    assert is_key_arn("arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")
    assert not is_key_arn("arn:aws:kms:us-east-1:111122223333:alias/app")
    assert not is_key_arn("arn:aws:kms::111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert not is_key_arn("arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert not is_key_arn("1234abcd-12ab-34cd-56ef-1234567890ab")


def test_aliases() -> None:
    assert is_alias("alias/app-key")
    assert is_alias("alias/aws/s3")
    assert is_alias("arn:aws:kms:us-east-1:111122223333:alias/app-key")
    assert not is_alias(KEY_ARN)
    assert not is_alias("app-key")
    assert not is_alias("alias/")


def test_classify_aws_principal() -> None:
    session = classify_aws_principal(ADMIN_SESSION)
    assert (session.kind, session.name, session.session, session.role_arn) == (
        "assumed_role",
        "KeyAdmin",
        "alice",
        ADMIN_ROLE,
    )
    role = classify_aws_principal(f"arn:aws:iam::{ACCOUNT}:role/a/b/Name")
    assert (role.kind, role.path, role.name) == ("role", "/a/b/", "Name")
    assert classify_aws_principal(ACCOUNT).kind == "account"
    assert classify_aws_principal("*").kind == "any"
    assert classify_aws_principal("AIDAJQABLZS4A3QDU576Q").kind == "unique_id"
    assert classify_aws_principal(f"arn:aws:sts::{ACCOUNT}:federated-user/alice").kind == "federated_user"
    assert classify_aws_principal("arn:aws:iam::111122223333:role/").kind == "invalid"
