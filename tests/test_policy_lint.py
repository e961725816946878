"""Tests of http_task_kms.kms.policy.lint: the corpus, then each rule on its own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from http_task_kms.kms.policy import iam
from http_task_kms.kms.policy import lint as policy_lint
from http_task_kms.kms.policy.lint import Finding, kms_actions, lint_policy

POLICIES = Path(__file__).parent / "policies"
EXPECTED: dict[str, Any] = yaml.safe_load((POLICIES / "expected.yaml").read_text())
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = "arn:aws:iam::111122223333:root"
#: The default key policy's statement: the account may manage the key (through IAM policies).
#: ``policy()`` adds it, so that each test sees only the finding it is about (without it,
#: nobody could manage the key: UNMANAGEABLE_KEY).
MANAGE: dict[str, Any] = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": ROOT},
    "Action": "kms:*",
    "Resource": "*",
}


def documented_codes() -> dict[str, str]:
    """code → severity, read from the table in policy_lint's module docstring."""
    table = re.findall(
        r"^([A-Z][A-Z_]+)\s+(ERROR|SECURITY_WARNING|WARNING|SUGGESTION)\s", policy_lint.__doc__ or "", re.M
    )
    return dict(table)


def statement(**elements: Any) -> dict[str, Any]:
    """A valid statement (the root may Decrypt this key) with ``elements`` replaced; None removes."""
    base: dict[str, Any] = {
        "Sid": "Test",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    base.update(elements)
    return {key: value for key, value in base.items() if value is not None}


def policy(*statements: dict[str, Any], manage: bool = True, **top: Any) -> str:
    """Policy text with Version 2012-10-17 and the given statements (default: one valid one).

    ``MANAGE`` is added after them unless ``manage`` is False or ``Statement`` is given whole.
    """
    listed = list(statements) or [statement()]
    document: dict[str, Any] = {"Version": "2012-10-17", "Statement": listed + ([MANAGE] if manage else [])}
    document.update(top)
    return json.dumps(
        {key: value for key, value in document.items() if value is not None}, indent=2, ensure_ascii=False
    )


def codes(text: str, **kwargs: Any) -> set[str]:
    return {finding.code for finding in lint_policy(text, **kwargs)}


def only(text: str, code: str, **kwargs: Any) -> Finding:
    """The single finding of ``text``, which must have ``code``."""
    findings = lint_policy(text, **kwargs)
    assert [f.code for f in findings] == [code], findings
    return findings[0]


# -- the corpus ----------------------------------------------------------------------------


def test_corpus_and_expectations_list_the_same_files() -> None:
    assert {path.name for path in POLICIES.glob("*.json")} == set(EXPECTED["policies"])


@pytest.mark.parametrize("name", sorted(EXPECTED["policies"]))
def test_corpus_findings(name: str) -> None:
    spec = EXPECTED["policies"][name]
    key_arn = EXPECTED["key_arns"][spec["key_arn"]] if spec.get("key_arn") else None
    assert codes((POLICIES / name).read_text(), key_arn=key_arn) == set(spec["findings"])


@pytest.mark.parametrize("name", sorted(EXPECTED["policies"]))
def test_corpus_findings_are_documented_and_well_formed(name: str) -> None:
    table = documented_codes()
    for finding in lint_policy((POLICIES / name).read_text()):
        assert table[finding.code] == finding.severity
        assert finding.path.startswith("$")
        assert finding.message[0].isupper() or finding.message[0] == '"'
        assert finding.message.rstrip().endswith((".", "?"))


def test_broken_policy_reports_every_problem_with_its_path() -> None:
    findings = lint_policy((POLICIES / "broken.json").read_text())
    paths = {(f.code, f.path) for f in findings}
    assert ("UNKNOWN_ELEMENT", "$.Statements") in paths
    assert ("UNKNOWN_ELEMENT", "$.Statement[2].Condtion") in paths
    assert ("ACCOUNT_ID_INVALID", "$.Statement[0].Principal.AWS[0]") in paths
    assert ("PRINCIPAL_ARN_INVALID", "$.Statement[0].Principal.AWS[1]") in paths
    assert ("PRINCIPAL_ARN_INVALID", "$.Statement[0].Principal.AWS[2]") in paths
    assert ("PRINCIPAL_MISSING", "$.Statement[1]") in paths
    assert ("SID_DUPLICATE", "$.Statement[1].Sid") in paths
    assert ("CONDITION_OPERATOR_UNKNOWN", "$.Statement[3].Condition.StringEqualz") in paths
    assert ("CONDITION_OPERATOR_UNKNOWN", "$.Statement[3].Condition.NullIfExists") in paths
    assert len(findings) >= 20


# -- kms_actions -----------------------------------------------------------------------------


def test_kms_actions_come_from_the_iam_reference_and_are_cached() -> None:
    actions = kms_actions()
    assert "kms:PutKeyPolicy" in actions
    assert "kms:Decrypt" in actions
    assert all(action.startswith("kms:") for action in actions)
    assert len(actions) > 40
    assert kms_actions() is actions
    assert actions == set(iam.load().actions)
    assert "kms:ReEncrypt" not in actions  # botocore's operation name, not an IAM action
    assert {"kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:SynchronizeMultiRegionKey"} <= actions


def test_finding_is_frozen() -> None:
    finding = only(policy(Version=None), "VERSION_MISSING")
    with pytest.raises(ValidationError):
        finding.code = "OTHER"  # type: ignore[misc]


# -- text: JSON, characters, size ------------------------------------------------------------------


def test_invalid_json_names_line_and_column() -> None:
    text = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow" "Action": "kms:*"}\n  ]\n}'
    )
    finding = only(text, "INVALID_JSON")
    assert finding.severity == "ERROR"
    assert finding.path == "$"
    assert "line 4, column 24" in finding.message
    assert "Expecting ',' delimiter" in finding.message


def test_empty_text_is_invalid_json() -> None:
    assert "line 1, column 1" in only("", "INVALID_JSON").message


def test_invalid_character_names_code_point_and_position() -> None:
    text = policy(statement(Sid="Allow the team\u2019s admins"))
    offset = text.index("\u2019")
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rindex("\n", 0, offset)
    finding = only(text, "INVALID_CHARACTER")
    assert finding.severity == "ERROR"
    assert "U+2019 (RIGHT SINGLE QUOTATION MARK)" in finding.message
    assert f"line {line}, column {column} (offset {offset})" in finding.message


def test_invalid_character_counts_the_others_and_names_control_characters() -> None:
    text = policy(statement(Sid="a\u2018b\u201cc\u201d")).replace("a\u2018", "a\u000b")
    finding, invalid_json = lint_policy(text)  # a raw control character breaks the JSON too
    assert (finding.code, invalid_json.code) == ("INVALID_CHARACTER", "INVALID_JSON")
    assert "U+000B (a control character)" in finding.message
    assert "2 more such characters follow" in finding.message
    one_more = only(policy(statement(Sid="\u201cc\u201d")), "INVALID_CHARACTER")
    assert "1 more such character follows" in one_more.message


def test_lone_surrogate_is_reported_not_raised() -> None:
    finding = only(policy(statement(Sid="x")).replace('"x"', '"\ud800"'), "INVALID_CHARACTER")
    assert "U+D800" in finding.message


def test_latin1_characters_are_allowed() -> None:
    assert codes(policy(statement(Sid="Clé de chiffrement à rotation \u00ff"))) == set()


def test_policy_over_the_quota_is_an_error_with_its_size() -> None:
    text = policy(statement(Sid="x" * 33000))
    size = len(text.encode())
    finding = only(text, "POLICY_TOO_LARGE")
    assert f"{size} bytes" in finding.message
    assert "32768" in finding.message
    assert f"by {size - 32768} bytes" in finding.message


def test_size_counts_utf8_bytes_not_characters() -> None:
    text = policy(statement(Sid="\u00e9" * 16500))  # each é is two bytes in UTF-8
    assert len(text) < 32768 < len(text.encode())
    assert "POLICY_TOO_LARGE" in codes(text)


def test_policy_near_the_quota_is_a_suggestion() -> None:
    text = policy(statement(Sid="x" * 30000))
    finding = only(text, "POLICY_NEAR_SIZE_LIMIT")
    assert finding.severity == "SUGGESTION"
    assert f"{len(text.encode())} bytes" in finding.message
    assert "% of the 32768-byte" in finding.message


def test_max_bytes_is_configurable() -> None:
    text = policy()
    assert codes(text, max_bytes=len(text.encode()) - 1) == {"POLICY_TOO_LARGE"}
    assert codes(text, max_bytes=len(text.encode())) == {"POLICY_NEAR_SIZE_LIMIT"}
    assert codes(text, max_bytes=len(text.encode()) * 2) == set()


# -- document structure -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["[]", '"policy"', "42", "null"])
def test_document_must_be_an_object(text: str) -> None:
    assert only(text, "NOT_AN_OBJECT").severity == "ERROR"


def test_version_rules() -> None:
    assert only(policy(Version=None), "VERSION_MISSING").severity == "WARNING"
    outdated = only(policy(Version="2008-10-17"), "VERSION_OUTDATED")
    assert (outdated.severity, outdated.path) == ("WARNING", "$.Version")
    invalid = only(policy(Version="2024-01-01"), "VERSION_INVALID")
    assert (invalid.severity, invalid.path) == ("ERROR", "$.Version")
    assert '"2012-10-17"' in invalid.message
    assert codes(policy(Version=20121017)) == {"VERSION_INVALID"}


def test_statement_missing_or_empty() -> None:
    assert only(json.dumps({"Version": "2012-10-17"}), "STATEMENT_MISSING").path == "$"
    assert only(policy(Statement=[]), "STATEMENT_MISSING").path == "$.Statement"


def test_single_statement_object_is_allowed() -> None:
    assert codes(policy(Statement=statement(Action="kms:*"))) == set()
    findings = lint_policy(policy(Statement=statement(Effect=None)))
    assert [f.code for f in findings] == ["EFFECT_INVALID", "UNMANAGEABLE_KEY"]  # no Allow left
    assert findings[0].path == "$.Statement"


def test_statement_of_wrong_type() -> None:
    assert only(policy(Statement="kms:*"), "INVALID_TYPE").path == "$.Statement"
    text = policy(Statement=[statement(Action="kms:*"), "kms:*"])
    assert only(text, "INVALID_TYPE").path == "$.Statement[1]"


def test_unknown_elements_are_errors_with_a_hint() -> None:
    top = only(policy(statement(), statement(Sid="Two"), Statment=[]), "UNKNOWN_ELEMENT")
    assert top.path == "$.Statment"
    assert 'Did you mean "Statement"' in top.message
    inner = only(policy(statement(Conditions={"Bool": {"aws:SecureTransport": "true"}})), "UNKNOWN_ELEMENT")
    assert inner.path == "$.Statement[0].Conditions"
    assert 'Did you mean "Condition"' in inner.message


def test_duplicate_json_keys_are_errors() -> None:
    # which of the two values KMS applies is unknown: the lockout check could approve the other
    text = (
        '{"Version": "2012-10-17", "Statement": [], "Statement": ['
        + json.dumps(statement(Action="kms:*"))
        + "]}"
    )
    finding = only(text, "DUPLICATE_KEY")
    assert (finding.severity, finding.path) == ("ERROR", "$.Statement")
    assert "which of its values KMS applies is unknown" in finding.message


# -- statements ---------------------------------------------------------------------------------


@pytest.mark.parametrize("effect", [None, "allow", "Permit", 1])
def test_effect_must_be_allow_or_deny(effect: Any) -> None:
    finding = only(policy(statement(Effect=effect)), "EFFECT_INVALID")
    assert '"Allow" or "Deny"' in finding.message


def test_effect_hint_for_wrong_case() -> None:
    assert 'Did you mean "Allow"' in only(policy(statement(Effect="allow")), "EFFECT_INVALID").message


def test_missing_principal_is_an_error() -> None:
    finding = only(policy(statement(Principal=None)), "PRINCIPAL_MISSING")
    assert (finding.severity, finding.path) == ("ERROR", "$.Statement[0]")
    assert '"Test" ($.Statement[0])' in finding.message


def test_both_principal_and_not_principal_conflict() -> None:
    text = policy(statement(Effect="Deny", NotPrincipal={"AWS": ROOT}))
    assert only(text, "CONFLICTING_ELEMENTS").path == "$.Statement[0]"


def test_not_principal_with_allow_is_a_security_warning() -> None:
    text = policy(statement(Principal=None, NotPrincipal={"AWS": ROOT}))
    finding = only(text, "NOT_PRINCIPAL_WITH_ALLOW")
    assert (finding.severity, finding.path) == ("SECURITY_WARNING", "$.Statement[0].NotPrincipal")


def test_not_principal_with_deny_is_fine() -> None:
    assert codes(policy(statement(Effect="Deny", Principal=None, NotPrincipal={"AWS": ROOT}))) == set()


def test_missing_action_or_resource_is_an_error() -> None:
    # Since 2025-08-18 KMS rejects such statements (they used to be accepted, with no effect).
    assert only(policy(statement(Action=None)), "ACTION_MISSING").severity == "ERROR"
    assert only(policy(statement(Action=[])), "ACTION_MISSING").path == "$.Statement[0]"
    assert only(policy(statement(Resource=None)), "RESOURCE_MISSING").severity == "ERROR"
    assert "2025-08-18" in only(policy(statement(Resource=None)), "RESOURCE_MISSING").message
    assert codes(policy(statement(Action=None, NotAction="kms:Decrypt"))) == set()
    # NotResource instead of Resource: "*" is the only Resource value AWS says a key policy accepts.
    assert codes(policy(statement(Resource=None, NotResource="arn:aws:s3:::x"))) == {"RESOURCE_NOT_STAR"}


def test_wrong_element_types() -> None:
    assert only(policy(statement(Action=["kms:Decrypt", 3])), "INVALID_TYPE").path == "$.Statement[0].Action"
    assert only(policy(statement(Resource={"arn": "*"})), "INVALID_TYPE").path == "$.Statement[0].Resource"
    assert only(policy(statement(Sid=7)), "INVALID_TYPE").path == "$.Statement[0].Sid"
    assert only(policy(statement(Principal=[ROOT])), "INVALID_TYPE").path == "$.Statement[0].Principal"
    assert only(policy(statement(Condition="true")), "INVALID_TYPE").path == "$.Statement[0].Condition"
    assert only(policy(Id=5), "INVALID_TYPE").path == "$.Id"


# -- resources ------------------------------------------------------------------------------------


def test_resource_star_is_not_a_finding() -> None:
    assert codes(policy(statement(Resource="*")), key_arn=KEY_ARN) == set()
    assert codes(policy(statement(Resource=["*"]))) == set()


def test_resource_must_be_this_key_when_known() -> None:
    # The key itself works today, but AWS's notice says "*" is the only accepted value.
    assert codes(policy(statement(Resource=KEY_ARN)), key_arn=KEY_ARN) == {"RESOURCE_NOT_STAR"}
    wildcard = policy(statement(Resource="arn:aws:kms:*:111122223333:key/*"))
    assert codes(wildcard, key_arn=KEY_ARN) == {"RESOURCE_NOT_STAR"}
    other = KEY_ARN.replace("1234abcd", "0000abcd")
    findings = lint_policy(policy(statement(Resource=[KEY_ARN, other])), key_arn=KEY_ARN)
    assert [(f.code, f.path) for f in findings] == [
        ("RESOURCE_NOT_STAR", "$.Statement[0].Resource[0]"),
        ("RESOURCE_INEFFECTIVE", "$.Statement[0].Resource[1]"),
    ]
    finding = findings[1]
    assert KEY_ARN in finding.message
    assert 'Use "Resource": "*"' in finding.message
    assert all(f.severity == "WARNING" for f in findings)


def test_resource_must_be_a_key_arn_when_the_key_is_unknown() -> None:
    assert codes(policy(statement(Resource=KEY_ARN))) == {"RESOURCE_NOT_STAR"}
    finding = only(policy(statement(Resource="arn:aws:s3:::bucket/*")), "RESOURCE_INEFFECTIVE")
    assert finding.severity == "WARNING"
    assert (
        only(policy(statement(Resource="alias/app")), "RESOURCE_INEFFECTIVE").path
        == "$.Statement[0].Resource"
    )


def test_not_resource_that_excludes_the_key() -> None:
    assert (
        only(policy(statement(Resource=None, NotResource="*")), "RESOURCE_INEFFECTIVE").severity == "WARNING"
    )
    text = policy(statement(Resource=None, NotResource=KEY_ARN))
    assert codes(text, key_arn=KEY_ARN) == {"RESOURCE_INEFFECTIVE"}
    assert codes(text) == {"RESOURCE_NOT_STAR"}  # a NotResource is not the "*" AWS accepts


# -- actions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        "*",
        "kms:*",
        "kms:Decrypt",
        "KMS:decrypt",
        "kms:PUTKEYPOLICY",
        "kms:Get*",
        "kms:get*",
        "kms:Describe*",
        "kms:Describe?ey",
        "kms:ReEncrypt*",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey*",
    ],
)
def test_valid_actions_are_not_findings(action: str) -> None:
    assert codes(policy(statement(Action=action))) == set()


def test_non_kms_action_is_a_warning() -> None:
    finding = only(policy(statement(Action=["kms:Decrypt", "s3:GetObject"])), "NON_KMS_ACTION")
    assert (finding.severity, finding.path) == ("WARNING", "$.Statement[0].Action[1]")
    assert "IAM policy" in finding.message


def test_unknown_kms_action_is_an_error_with_a_suggestion() -> None:
    finding = only(policy(statement(Action="kms:DescribeKeys")), "UNKNOWN_KMS_ACTION")
    assert finding.severity == "ERROR"
    assert 'Did you mean "kms:DescribeKey"' in finding.message


def test_unknown_kms_action_in_not_action_too() -> None:
    assert codes(policy(statement(Action=None, NotAction="kms:Decrypts"))) == {"UNKNOWN_KMS_ACTION"}


@pytest.mark.parametrize("action", ["kms:Foo*", "kms:Decrypt?", "kms:*Foo"])
def test_kms_wildcard_that_matches_nothing(action: str) -> None:
    assert only(policy(statement(Action=action)), "KMS_WILDCARD_MATCHES_NOTHING").severity == "ERROR"


@pytest.mark.parametrize("action", ["Decrypt", "kms:", ":Decrypt", "kms:Decrypt:Now"])
def test_malformed_actions(action: str) -> None:
    assert only(policy(statement(Action=action)), "INVALID_ACTION").severity == "ERROR"


def test_invalid_action_suggests_the_kms_prefix() -> None:
    assert '"kms:Decrypt"' in only(policy(statement(Action="Decrypt")), "INVALID_ACTION").message


# -- principals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "111122223333"},
        {"AWS": ROOT},
        {"AWS": "arn:aws:iam::111122223333:user/ops/alice"},
        {"AWS": "arn:aws:iam::111122223333:role/service-role/App"},
        {"AWS": "arn:aws-cn:iam::111122223333:role/App"},
        {"AWS": "arn:aws-us-gov:iam::111122223333:root"},
        {"AWS": "arn:aws:sts::111122223333:federated-user/alice"},
        {"Service": ["logs.us-east-1.amazonaws.com", "cloudtrail.amazonaws.com"]},
        {"Service": "logs.cn-north-1.amazonaws.com.cn"},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    ],
)
def test_valid_principals_are_not_findings(principal: dict[str, Any]) -> None:
    assert codes(policy(statement(Principal=principal))) == set()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("arn:aws:iam::111122223333:group/Admins", "groups cannot be principals"),
        ("arn:aws:iam::111122223333:role/*", "wildcards are not allowed"),
        ("arn:aws:iam::1111:root", "not a 12-digit account ID"),
        ("arn:aws:iam:us-east-1:111122223333:root", "empty region"),
        ("arn:aws:s3:::bucket", "not iam or sts"),
        ("arn:aws:sts::111122223333:assumed-role/OnlyRole", "assumed-role/<role>/<session>"),
        ("arn:aws:iam::111122223333:policy/P", "ends in root, user/<name> or role/<name>"),
        ("alice", "neither a 12-digit account ID nor an ARN"),
    ],
)
def test_malformed_aws_principals(value: str, problem: str) -> None:
    finding = only(policy(statement(Principal={"AWS": value})), "PRINCIPAL_ARN_INVALID")
    assert finding.path == "$.Statement[0].Principal.AWS"
    assert problem in finding.message


def test_bare_account_id_must_have_twelve_digits() -> None:
    finding = only(policy(statement(Principal={"AWS": ["11112222333"]})), "ACCOUNT_ID_INVALID")
    assert finding.path == "$.Statement[0].Principal.AWS[0]"
    assert "this one has 11" in finding.message


def test_session_arn_suggests_the_role_arn() -> None:
    session = "arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice"
    finding = only(policy(statement(Principal={"AWS": session})), "PRINCIPAL_SESSION_ARN")
    assert finding.severity == "WARNING"
    assert '"arn:aws:iam::111122223333:role/KeyAdmin"' in finding.message


@pytest.mark.parametrize("unique_id", ["AROAXYKJUOW3EXAMPLE12", "AIDAJQABLZS4A3QDU576Q"])
def test_unique_ids_mark_a_deleted_principal(unique_id: str) -> None:
    finding = only(policy(statement(Principal={"AWS": unique_id})), "PRINCIPAL_UNIQUE_ID")
    assert "deleted" in finding.message


@pytest.mark.parametrize("service", ["ec2.amazon.com", "cloudtrail", "https://logs.amazonaws.com"])
def test_service_principal_names(service: str) -> None:
    finding = only(policy(statement(Principal={"Service": service})), "SERVICE_PRINCIPAL_INVALID")
    assert finding.severity == "WARNING"


def test_unknown_principal_type() -> None:
    finding = only(policy(statement(Principal={"Aws": ROOT})), "PRINCIPAL_TYPE_UNKNOWN")
    assert finding.path == "$.Statement[0].Principal.Aws"
    assert 'Did you mean "AWS"' in finding.message


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": [ROOT, "*"]}])
def test_public_principal_without_condition(principal: Any) -> None:
    # An ERROR since issue 12 (was a SECURITY_WARNING): anyone in any account could use the key.
    finding = only(policy(statement(Principal=principal)), "PUBLIC_PRINCIPAL")
    assert (finding.severity, finding.path) == ("ERROR", "$.Statement[0].Principal")
    assert "--allow-public-principal" in finding.message


def test_public_principal_with_condition_or_deny_is_fine() -> None:
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    assert codes(policy(statement(Principal="*", Condition=condition))) == set()
    assert codes(policy(statement(Principal={"AWS": "*"}, Effect="Deny"))) == set()


# -- Sids and conditions ----------------------------------------------------------------------------


def test_sids_with_spaces_are_not_findings() -> None:
    text = policy(
        statement(Sid="Allow use of the key"), statement(Sid="Allow attachment of persistent resources")
    )
    assert codes(text) == set()


def test_duplicate_sids() -> None:
    finding = only(policy(statement(Sid="Same"), statement(Sid="Same")), "SID_DUPLICATE")
    assert (finding.severity, finding.path) == ("ERROR", "$.Statement[1].Sid")
    assert "$.Statement[0]" in finding.message


@pytest.mark.parametrize(
    ("action", "condition"),
    [
        ("kms:CreateGrant", {"Bool": {"kms:GrantIsForAWSResource": True}}),
        (
            "kms:Decrypt",
            {
                "StringEquals": {
                    "kms:CallerAccount": "111122223333",
                    "kms:ViaService": "s3.us-east-1.amazonaws.com",
                }
            },
        ),
        ("kms:Decrypt", {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": ["tenant*"]}}),
        ("kms:CreateGrant", {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}}),
        ("kms:Decrypt", {"StringEqualsIgnoreCaseIfExists": {"aws:PrincipalTag/team": "security"}}),
        (
            "kms:ScheduleKeyDeletion",
            {"NumericLessThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}},
        ),
        ("kms:Decrypt", {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}),
        ("kms:Decrypt", {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}),
        ("kms:CreateGrant", {"Null": {"kms:GrantConstraintType": "false"}}),
        ("kms:Decrypt", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}}),
        ("kms:Decrypt", {"BinaryEquals": {"kms:RecipientAttestation:ImageSha384": "ZXhhbXBsZQ=="}}),
        ("kms:Decrypt", {"StringEquals": {"kms:RecipientAttestation:PCR8:ServiceName": "x"}}),
        ("kms:Decrypt", {"StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::bucket/*"}}),
        ("kms:PutKeyPolicy", {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "false"}}),
        ("kms:*", {"Bool": {"kms:GrantIsForAWSResource": True}}),
        ("kms:Create*", {"Bool": {"kms:GrantIsForAWSResource": True}}),
    ],
)
def test_valid_conditions_and_kms_condition_keys_are_not_findings(
    action: str, condition: dict[str, Any]
) -> None:
    # Each key with an action it applies to (the IAM reference's condition keys per action).
    assert codes(policy(statement(Action=action, Condition=condition))) == set()


@pytest.mark.parametrize(
    "operator", ["StringEqual", "stringequals", "NullIfExists", "ForSomeValues:StringLike", "IfExists"]
)
def test_unknown_condition_operators(operator: str) -> None:
    finding = only(
        policy(statement(Condition={operator: {"aws:SourceAccount": "111122223333"}})),
        "CONDITION_OPERATOR_UNKNOWN",
    )
    assert finding.severity == "ERROR"


def test_condition_operator_path_uses_brackets_for_colons() -> None:
    text = policy(statement(Condition={"ForAnyValue:StringEqualz": {"aws:TagKeys": "a"}}))
    finding = only(text, "CONDITION_OPERATOR_UNKNOWN")
    assert finding.path == "$.Statement[0].Condition['ForAnyValue:StringEqualz']"
    assert 'Did you mean "ForAnyValue:StringEquals"' in finding.message


def test_condition_block_of_wrong_type() -> None:
    text = policy(statement(Condition={"StringEquals": ["aws:SourceAccount"]}))
    assert only(text, "INVALID_TYPE").path == "$.Statement[0].Condition.StringEquals"


# -- nobody can manage the key (offline, no caller needed) ----------------------------------------

ADMIN_ROLE = "arn:aws:iam::111122223333:role/KeyAdmin"


def unmanageable(text: str, **kwargs: Any) -> Finding:
    """The UNMANAGEABLE_KEY finding of ``text`` (which must have one)."""
    found = [f for f in lint_policy(text, **kwargs) if f.code == "UNMANAGEABLE_KEY"]
    assert len(found) == 1, lint_policy(text, **kwargs)
    return found[0]


def test_a_policy_nobody_can_manage_is_an_error_naming_the_fix() -> None:
    finding = only(
        policy(statement(), statement(Sid="Users", Action=["kms:Encrypt"]), manage=False), "UNMANAGEABLE_KEY"
    )
    assert (finding.severity, finding.path) == ("ERROR", "$.Statement")
    assert "kms:PutKeyPolicy" in finding.message
    # the fix: the default key policy's root statement, for the account the policy names
    assert '"Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*"' in finding.message
    assert "key-policy-default.html" in finding.message
    assert "BypassPolicyLockoutSafetyCheck does not accept this" in finding.message
    assert "--allow-unmanageable-key" in finding.message


def test_the_suggested_root_statement_names_the_keys_account() -> None:
    text = policy(statement(Principal={"Service": "logs.amazonaws.com"}), manage=False)
    assert (
        "arn:aws:iam::444455556666:root"
        in unmanageable(text, key_arn=KEY_ARN.replace("111122223333", "444455556666")).message
    )
    assert "arn:aws:iam::<account-id>:root" in unmanageable(text).message


@pytest.mark.parametrize(
    "manager",
    [
        statement(Action="kms:*"),  # the account root (delegation to IAM policies)
        statement(Principal={"AWS": "111122223333"}, Action="kms:PutKeyPolicy"),  # a bare account ID
        statement(Principal={"AWS": ADMIN_ROLE}, Action="kms:Put*"),
        statement(Principal={"AWS": ADMIN_ROLE}, Action=None, NotAction="kms:Decrypt"),
        statement(Principal={"AWS": "arn:aws:iam::111122223333:user/alice"}, Action="KMS:putkeypolicy"),
        statement(Principal={"AWS": "arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice"}, Action="kms:*"),
        statement(Principal={"AWS": ADMIN_ROLE}, Action="*", Resource=KEY_ARN),
        statement(  # conditioned or not
            Principal={"AWS": "*"},
            Action="kms:*",
            Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/OrgKeyAdmin"}},
        ),
        statement(
            Principal={"AWS": ADMIN_ROLE},
            Action="kms:*",
            Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        ),
    ],
)
def test_any_allow_of_put_key_policy_to_an_aws_principal_makes_it_manageable(manager: dict[str, Any]) -> None:
    assert "UNMANAGEABLE_KEY" not in codes(policy(statement(), manager, manage=False))


@pytest.mark.parametrize(
    "near_miss",
    [
        statement(
            Principal={"Service": "cloudtrail.amazonaws.com"}, Action="kms:*"
        ),  # services cannot manage
        statement(Principal={"Federated": "cognito-identity.amazonaws.com"}, Action="kms:*"),
        statement(Principal={"AWS": ADMIN_ROLE}, Action=["kms:Get*", "kms:Describe*", "kms:List*"]),
        statement(Principal={"AWS": ADMIN_ROLE}, Action=None, NotAction="kms:Put*"),
        statement(Principal={"AWS": ADMIN_ROLE}, Action="kms:*", Effect="Deny"),
        statement(Principal={"AWS": ADMIN_ROLE}, Action="kms:*", Resource="arn:aws:s3:::bucket"),
        statement(Principal={"AWS": "AROAXYKJUOW3EXAMPLE12"}, Action="kms:*"),  # a deleted principal
    ],
)
def test_what_does_not_make_a_key_manageable(near_miss: dict[str, Any]) -> None:
    assert unmanageable(policy(statement(), near_miss, manage=False)).severity == "ERROR"


def test_a_grant_to_another_key_does_not_count_when_the_key_is_known() -> None:
    other = KEY_ARN.replace("1234abcd", "0000abcd")
    text = policy(statement(Principal={"AWS": ADMIN_ROLE}, Action="kms:*", Resource=other), manage=False)
    assert unmanageable(text, key_arn=KEY_ARN).severity == "ERROR"
    assert "UNMANAGEABLE_KEY" not in codes(text)  # without the key ARN it might be this key


def test_service_principal_grants_are_named_in_the_message() -> None:
    text = policy(
        statement(Sid="Trail", Principal={"Service": "cloudtrail.amazonaws.com"}, Action="kms:*"),
        manage=False,
    )
    assert '"Trail" ($.Statement[0]) allows it to no AWS account, role or user' in unmanageable(text).message
    nobody = policy(statement(Sid="Nobody", Principal=None, Action="kms:*"), manage=False)
    assert '"Nobody" ($.Statement[0]) allows it but names no principal' in unmanageable(nobody).message


def test_an_unconditioned_deny_cancels_the_grant() -> None:
    deny_all = statement(Sid="Freeze", Effect="Deny", Principal="*", Action="kms:PutKeyPolicy")
    finding = unmanageable(policy(deny_all))
    assert 'but the Deny in "Freeze" ($.Statement[0]) overrides it' in finding.message
    # a Deny of the account covers its roles; a Deny of another role does not cover the account
    deny_account = statement(
        Sid="NoAccount", Effect="Deny", Principal={"AWS": "111122223333"}, Action="kms:*"
    )
    assert unmanageable(policy(deny_account, statement(Principal={"AWS": ADMIN_ROLE}, Action="kms:*")))
    other_role = statement(
        Effect="Deny", Principal={"AWS": "arn:aws:iam::111122223333:role/Other"}, Action="kms:*"
    )
    assert "UNMANAGEABLE_KEY" not in codes(policy(other_role))


def test_a_deny_that_may_not_apply_does_not_count() -> None:
    conditioned = statement(
        Effect="Deny",
        Principal="*",
        Action="kms:PutKeyPolicy",
        Condition={"StringNotEquals": {"aws:PrincipalArn": ADMIN_ROLE}},
    )
    assert "UNMANAGEABLE_KEY" not in codes(policy(conditioned))
    # NotPrincipal Deny that lists the account (and so may exclude its administrators)
    not_principal = statement(
        Effect="Deny", Principal=None, NotPrincipal={"AWS": [ROOT, ADMIN_ROLE]}, Action="kms:*"
    )
    assert "UNMANAGEABLE_KEY" not in codes(policy(not_principal))
    other_key = statement(
        Effect="Deny", Principal="*", Action="kms:*", Resource="arn:aws:kms:us-east-1:111122223333:key/other"
    )
    assert "UNMANAGEABLE_KEY" not in codes(policy(other_key))


def test_a_deny_with_not_principal_of_another_account_cancels() -> None:
    deny = statement(
        Effect="Deny", Principal=None, NotPrincipal={"AWS": "arn:aws:iam::444455556666:root"}, Action="kms:*"
    )
    assert unmanageable(policy(deny)).severity == "ERROR"


def test_only_the_operator_acknowledges_an_unmanageable_key() -> None:
    text = policy(statement(), manage=False)
    finding = unmanageable(text, allow_unmanageable_key=True)
    assert finding.severity == "SECURITY_WARNING"
    assert finding.message.startswith("Acknowledged by --allow-unmanageable-key: ")


def test_no_statement_at_all_is_statement_missing_only() -> None:
    assert codes(policy(Statement=[])) == {"STATEMENT_MISSING"}
    assert codes(policy(Statement=["kms:*"])) == {"INVALID_TYPE"}


# -- IAM actions, not operation names --------------------------------------------------------------


@pytest.mark.parametrize("action", ["kms:ReEncrypt", "kms:reencrypt", "KMS:ReEncrypt"])
def test_reencrypt_is_an_operation_not_an_action(action: str) -> None:
    finding = only(policy(statement(Action=action)), "UNKNOWN_KMS_ACTION")
    assert finding.severity == "ERROR"
    assert "kms:ReEncryptFrom and kms:ReEncryptTo" in finding.message
    assert "grants nothing" in finding.message
    assert codes(policy(statement(Action=None, NotAction=action))) == {"UNKNOWN_KMS_ACTION"}


OFF_KEY = sorted(name for name, action in iam.load().actions.items() if not action.on_key)


def test_the_actions_not_authorised_on_a_key_are_the_reference_ones() -> None:
    assert {
        "kms:CreateKey",
        "kms:ListAliases",
        "kms:ListKeys",
        "kms:GenerateRandom",
        "kms:CreateCustomKeyStore",
    } <= set(OFF_KEY)
    assert "kms:PutKeyPolicy" not in OFF_KEY


@pytest.mark.parametrize("action", OFF_KEY)
def test_an_action_not_authorised_on_a_key_has_no_effect(action: str) -> None:
    finding = only(policy(statement(Action=["kms:DescribeKey", action])), "ACTION_NOT_ON_KEY")
    assert (finding.severity, finding.path) == ("WARNING", "$.Statement[0].Action[1]")
    assert "IAM policy" in finding.message


def test_wildcards_are_off_key_only_when_they_match_nothing_else() -> None:
    finding = only(policy(statement(Action="kms:*CustomKeyStore*")), "ACTION_NOT_ON_KEY")
    assert "kms:ConnectCustomKeyStore" in finding.message
    for pattern in ("kms:*", "*", "kms:List*", "kms:Create*", "kms:Generate*"):
        assert codes(policy(statement(Action=pattern))) == set(), pattern
    assert codes(policy(statement(Action=None, NotAction=["kms:CreateKey", "kms:ListAliases"]))) == set()


# -- condition keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "aws:ResourceTag/Project",
        "AWS:resourcetag/x",
        "aws:ResourceTag",
        "kms:ResourceAliases",
        "kms:ResourceTag/Project",
    ],
)
def test_condition_keys_kms_refuses_in_a_key_policy(key: str) -> None:
    finding = only(policy(statement(Condition={"StringEquals": {key: "x"}})), "CONDITION_KEY_NOT_PERMITTED")
    assert (finding.severity, finding.path) == ("ERROR", f"$.Statement[0].Condition.StringEquals['{key}']")
    assert "not permitted in a key policy" in finding.message
    assert "abac.html" in finding.message


def test_request_aliases_and_request_tags_are_permitted() -> None:
    assert (
        codes(
            policy(
                statement(Action="kms:Decrypt", Condition={"StringLike": {"kms:RequestAlias": "alias/app*"}})
            )
        )
        == set()
    )
    assert (
        codes(
            policy(
                statement(Action="kms:TagResource", Condition={"StringEquals": {"aws:RequestTag/team": "a"}})
            )
        )
        == set()
    )


def test_unknown_kms_condition_keys_are_warnings_with_a_hint() -> None:
    finding = only(
        policy(statement(Condition={"StringEquals": {"kms:CallerAcount": "111122223333"}})),
        "CONDITION_KEY_UNKNOWN",
    )
    assert finding.severity == "WARNING"
    assert 'Did you mean "kms:CallerAccount"' in finding.message
    # kms:PolicyName is not a condition key of KMS (the IAM reference has no such key)
    assert codes(policy(statement(Condition={"StringEquals": {"kms:PolicyName": "default"}}))) == {
        "CONDITION_KEY_UNKNOWN"
    }
    assert codes(policy(statement(Condition={"StringEquals": {"SourceAccount": "1"}}))) == {
        "CONDITION_KEY_UNKNOWN"
    }
    # kms:EncryptionContext: needs a key after the colon
    assert codes(policy(statement(Condition={"StringEquals": {"kms:EncryptionContext:": "x"}}))) == {
        "CONDITION_KEY_UNKNOWN"
    }


def test_a_key_of_none_of_the_statements_actions_is_a_warning() -> None:
    text = policy(
        statement(
            Action=["kms:Encrypt", "kms:Decrypt"], Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}
        )
    )
    finding = only(text, "CONDITION_KEY_NOT_APPLICABLE")
    assert finding.path == "$.Statement[0].Condition.Bool['kms:GrantIsForAWSResource']"
    assert "(kms:Decrypt and kms:Encrypt)" in finding.message
    assert "It applies to kms:CreateGrant, kms:ListGrants and kms:RevokeGrant." in finding.message
    # one of the actions is enough; NotAction covers what it does not list
    both = statement(
        Action=["kms:Decrypt", "kms:CreateGrant"], Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}
    )
    assert codes(policy(both)) == set()
    negated = statement(
        Action=None, NotAction="kms:Decrypt", Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}
    )
    assert codes(policy(negated)) == set()
    only_decrypt = statement(
        Action=None, NotAction="kms:*Grant*", Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}
    )
    assert codes(policy(only_decrypt)) == {"CONDITION_KEY_NOT_APPLICABLE"}


def test_keys_of_other_services_are_not_applicable_and_global_keys_always_are() -> None:
    finding = only(
        policy(statement(Condition={"StringEquals": {"s3:prefix": "home/"}})), "CONDITION_KEY_NOT_APPLICABLE"
    )
    assert "condition key of s3, not of KMS" in finding.message
    for key in ("aws:SourceVpce", "aws:PrincipalTag/team", "aws:RequestTag/team", "aws:SomeFutureKey"):
        assert codes(policy(statement(Condition={"StringEquals": {key: "x"}}))) == set(), key


# -- public principals ---------------------------------------------------------------------------------


def test_only_the_operator_acknowledges_a_public_principal() -> None:
    finding = only(policy(statement(Principal="*")), "PUBLIC_PRINCIPAL", allow_public_principal=True)
    assert finding.severity == "SECURITY_WARNING"
    assert finding.message.startswith("Acknowledged by --allow-public-principal: statement")


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
        {"StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::bucket/*"}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"StringNotEquals": {"aws:PrincipalAccount": "444455556666"}},  # everyone else
        {"StringEqualsIfExists": {"kms:CallerAccount": "111122223333"}},  # absent: passes
        {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},  # absent: passes
        {"StringLike": {"aws:PrincipalArn": "*"}},
    ],
)
def test_a_public_principal_whose_condition_restricts_no_caller(condition: dict[str, Any]) -> None:
    finding = only(
        policy(statement(Principal={"AWS": "*"}, Condition=condition)), "PUBLIC_PRINCIPAL_UNRESTRICTED"
    )
    assert (finding.severity, finding.path) == ("SECURITY_WARNING", "$.Statement[0].Principal")


@pytest.mark.parametrize(
    "condition",
    [
        {
            "StringEquals": {
                "kms:CallerAccount": "111122223333",
                "kms:ViaService": "ec2.us-east-1.amazonaws.com",
            }
        },
        {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"}},
        {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        {"StringEqualsIgnoreCase": {"aws:PrincipalAccount": "111122223333"}},
        {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/App"}},
    ],
)
def test_a_public_principal_limited_to_callers_is_no_finding(condition: dict[str, Any]) -> None:
    assert codes(policy(statement(Principal="*", Condition=condition))) == set()


# -- the documentation table ------------------------------------------------------------------------

EXAMPLES: dict[str, str] = {
    "INVALID_CHARACTER": policy(statement(Sid="\u2014")),
    "POLICY_TOO_LARGE": policy(statement(Sid="x" * 40000)),
    "POLICY_NEAR_SIZE_LIMIT": policy(statement(Sid="x" * 30000)),
    "INVALID_JSON": "{",
    "NOT_AN_OBJECT": "[]",
    "DUPLICATE_KEY": '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": ['
    + json.dumps(statement())
    + "]}",
    "UNKNOWN_ELEMENT": policy(Extra=1),
    "INVALID_TYPE": policy(Id=1),
    "VERSION_MISSING": policy(Version=None),
    "VERSION_OUTDATED": policy(Version="2008-10-17"),
    "VERSION_INVALID": policy(Version="1"),
    "STATEMENT_MISSING": policy(Statement=[]),
    "EFFECT_INVALID": policy(statement(Effect="Maybe")),
    "CONFLICTING_ELEMENTS": policy(statement(NotAction="kms:Encrypt")),
    "PRINCIPAL_MISSING": policy(statement(Principal=None)),
    "NOT_PRINCIPAL_WITH_ALLOW": policy(statement(Principal=None, NotPrincipal={"AWS": ROOT})),
    "PUBLIC_PRINCIPAL": policy(statement(Principal="*")),
    "PRINCIPAL_TYPE_UNKNOWN": policy(statement(Principal={"User": ROOT})),
    "PRINCIPAL_ARN_INVALID": policy(statement(Principal={"AWS": "arn:aws:iam::111122223333:group/G"})),
    "ACCOUNT_ID_INVALID": policy(statement(Principal={"AWS": "1234"})),
    "PRINCIPAL_SESSION_ARN": policy(
        statement(Principal={"AWS": "arn:aws:sts::111122223333:assumed-role/R/s"})
    ),
    "PRINCIPAL_UNIQUE_ID": policy(statement(Principal={"AWS": "AROAXYKJUOW3EXAMPLE12"})),
    "SERVICE_PRINCIPAL_INVALID": policy(statement(Principal={"Service": "ec2"})),
    "ACTION_MISSING": policy(statement(Action=None)),
    "INVALID_ACTION": policy(statement(Action="Decrypt")),
    "NON_KMS_ACTION": policy(statement(Action="s3:GetObject")),
    "UNKNOWN_KMS_ACTION": policy(statement(Action="kms:Decrypto")),
    "KMS_WILDCARD_MATCHES_NOTHING": policy(statement(Action="kms:Foo*")),
    "RESOURCE_MISSING": policy(statement(Resource=None)),
    "RESOURCE_INEFFECTIVE": policy(statement(Resource="arn:aws:s3:::b")),
    "SID_DUPLICATE": policy(statement(), statement()),
    "CONDITION_OPERATOR_UNKNOWN": policy(statement(Condition={"Equals": {"a": "b"}})),
    "UNMANAGEABLE_KEY": policy(statement(), manage=False),
    "PUBLIC_PRINCIPAL_UNRESTRICTED": policy(
        statement(Principal="*", Condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})
    ),
    "ACTION_NOT_ON_KEY": policy(statement(Action="kms:CreateKey")),
    "RESOURCE_NOT_STAR": policy(statement(Resource=KEY_ARN)),
    "CONDITION_KEY_NOT_PERMITTED": policy(
        statement(Condition={"StringEquals": {"aws:ResourceTag/team": "a"}})
    ),
    "CONDITION_KEY_UNKNOWN": policy(statement(Condition={"StringEquals": {"kms:CallerAcount": "1"}})),
    "CONDITION_KEY_NOT_APPLICABLE": policy(
        statement(Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}})
    ),
}


def test_every_documented_code_has_an_example() -> None:
    assert set(EXAMPLES) == set(documented_codes())


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_documented_code_is_reported_with_its_severity(code: str) -> None:
    matching = [f for f in lint_policy(EXAMPLES[code]) if f.code == code]
    assert matching, code
    assert {f.severity for f in matching} == {documented_codes()[code]}


# -- through render / test-request / lint-policy ------------------------------------------------

CLI_ENV = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret-value"}
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def cli(*args: str, stdin: str | None = None) -> tuple[int, dict[str, Any]]:
    """Run the command line in process: its exit code and its one JSON document."""
    from click.testing import CliRunner

    from http_task_kms.cli import main

    outcome = CliRunner().invoke(main, list(args), env=CLI_ENV, input=stdin, catch_exceptions=False)
    return outcome.exit_code, json.loads(outcome.stdout)


def render(
    tmp_path: Path, document: dict[str, Any], *options: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    """``render kms.PutKeyPolicy`` of ``document`` (nothing is sent: a dry run)."""
    source = tmp_path / "input.json"
    source.write_text(json.dumps({"region": "us-east-1", "KeyId": KEY_ID, "Policy": document, **params}))
    return cli("render", "kms.PutKeyPolicy", "--input", str(source), *options)


def test_a_refused_request_reports_its_warnings_with_its_errors(tmp_path: Path) -> None:
    # Fixing the ERROR must not reveal a SECURITY_WARNING (or a WARNING) in the next round.
    document = json.loads(
        policy(
            statement(Action="kms:Decrypto"),
            statement(Sid="Everyone but", Principal=None, NotPrincipal={"AWS": ROOT}),
            Version=None,
        )
    )
    code, result = render(tmp_path, document)
    assert code == 2
    assert ["UNKNOWN_KMS_ACTION" in p["message"] for p in result["error"]["problems"]] == [True]
    assert [(w["severity"], w["code"]) for w in result["warnings"]] == [
        ("WARNING", "VERSION_MISSING"),
        ("SECURITY_WARNING", "NOT_PRINCIPAL_WITH_ALLOW"),
    ]


def test_a_lockout_failure_reports_the_first_passes_warnings_too(tmp_path: Path) -> None:
    # The lockout check (second pass, with the caller) fails; the lint's warnings still come.
    caller = "arn:aws:iam::111122223333:user/alice"
    document = json.loads(
        policy(
            statement(Principal={"AWS": "arn:aws:iam::111122223333:role/Other"}, Action="kms:*"),
            manage=False,
            Version=None,
        )
    )
    code, result = render(tmp_path, document, "--caller-arn", caller)
    assert code == 2
    assert ["LOCKOUT_FAIL" in p["message"] for p in result["error"]["problems"]] == [True]
    assert [w["code"] for w in result["warnings"]] == ["VERSION_MISSING"]


def lint_cli(tmp_path: Path, document: dict[str, Any] | str, *options: str) -> tuple[int, dict[str, Any]]:
    """``lint-policy`` of ``document`` (a policy, or its text)."""
    source = tmp_path / "policy.json"
    source.write_text(document if isinstance(document, str) else json.dumps(document))
    return cli("lint-policy", str(source), *options)


USERS_ONLY = json.loads((POLICIES / "only_key_users.json").read_text())


def test_lint_policy_refuses_a_policy_nobody_can_manage_without_a_caller(tmp_path: Path) -> None:
    code, document = lint_cli(tmp_path, USERS_ONLY)
    assert code == 2
    assert (document["ok"], [(f["severity"], f["code"]) for f in document["findings"]]) == (
        False,
        [("ERROR", "UNMANAGEABLE_KEY")],
    )
    code, document = lint_cli(tmp_path, USERS_ONLY, "--allow-unmanageable-key")
    assert (code, document["ok"]) == (0, True)
    assert [(f["severity"], f["code"]) for f in document["findings"]] == [
        ("SECURITY_WARNING", "UNMANAGEABLE_KEY")
    ]


def test_render_refuses_a_policy_nobody_can_manage_even_with_the_bypass(tmp_path: Path) -> None:
    for bypass in (False, True):
        code, result = render(tmp_path, USERS_ONLY, BypassPolicyLockoutSafetyCheck=bypass)
        assert code == 2, bypass
        assert ["UNMANAGEABLE_KEY" in p["message"] for p in result["error"]["problems"]] == [True]
    code, result = render(
        tmp_path, USERS_ONLY, "--allow-unmanageable-key", BypassPolicyLockoutSafetyCheck=True
    )
    assert code == 0
    assert ("SECURITY_WARNING", "UNMANAGEABLE_KEY") in [
        (w["severity"], w["code"]) for w in result["warnings"]
    ]


def test_test_request_sends_nothing_for_a_policy_nobody_can_manage(tmp_path: Path) -> None:
    from faultserver import FaultServer, ok

    source = tmp_path / "input.json"
    source.write_text(json.dumps({"region": "us-east-1", "KeyId": KEY_ID, "Policy": USERS_ONLY}))
    with FaultServer(default=ok("{}")) as server:
        code, result = cli(
            "test-request", "kms.PutKeyPolicy", "--input", str(source), "--endpoint-url", server.url
        )
        assert server.received == []  # not even sts:GetCallerIdentity or GetKeyPolicy
    assert code == 2
    assert result["error"]["code"] == "ValidationError"


PUBLIC = json.loads((POLICIES / "public_kms_all.json").read_text())


def test_a_public_unconditioned_allow_is_refused_unless_the_operator_accepts_it(tmp_path: Path) -> None:
    code, result = render(tmp_path, PUBLIC)
    assert code == 2
    assert ["PUBLIC_PRINCIPAL" in p["message"] for p in result["error"]["problems"]] == [True]
    code, result = render(tmp_path, PUBLIC, "--allow-public-principal")
    assert code == 0
    assert [(w["severity"], w["code"]) for w in result["warnings"]][:1] == [
        ("SECURITY_WARNING", "PUBLIC_PRINCIPAL")
    ]
    code, document = lint_cli(tmp_path, PUBLIC)
    assert (code, [f["code"] for f in document["findings"]]) == (2, ["PUBLIC_PRINCIPAL"])
    code, document = lint_cli(tmp_path, PUBLIC, "--allow-public-principal")
    assert (code, [f["severity"] for f in document["findings"]]) == (0, ["SECURITY_WARNING"])


def test_nothing_in_the_input_or_the_task_can_accept_a_public_principal(tmp_path: Path) -> None:
    code, result = render(tmp_path, PUBLIC, allow_public_principal=True)
    assert code == 2
    problems = result["error"]["problems"]
    assert "PUBLIC_PRINCIPAL" in " ".join(p["message"] for p in problems)
    assert "allow_public_principal" in [p["field"] for p in problems]  # an unknown input parameter


def test_the_host_api_accepts_a_public_principal_through_plugin_options() -> None:
    from http_task_kms.client import Client
    from http_task_kms.options import Options

    params = {"region": "us-east-1", "KeyId": KEY_ID, "Policy": PUBLIC}
    refused = Client().dry_run("kms.PutKeyPolicy", params)
    assert not refused.ok
    accepted = Client(Options(plugin_options={"allow_public_principal": True})).dry_run(
        "kms.PutKeyPolicy", params
    )
    assert accepted.ok
    assert ("SECURITY_WARNING", "PUBLIC_PRINCIPAL") in [(w["severity"], w["code"]) for w in accepted.warnings]


@pytest.mark.parametrize("command", ["render", "test-request", "rollback", "lint-policy"])
def test_the_acknowledgements_are_options_of_every_command_that_checks_a_policy(command: str) -> None:
    from http_task_kms.cli import main

    params = {p.name for p in main.commands[command].params}  # type: ignore[attr-defined]
    assert {"allow_unmanageable_key", "allow_public_principal"} <= params


# -- the caller part: one function for lint-policy and the checks --------------------------------


SESSION = "arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice"
DEFAULT = json.loads((POLICIES / "default.json").read_text())


def test_an_invalid_caller_arn_is_caller_arn_invalid_in_lint_policy_and_render(tmp_path: Path) -> None:
    for caller in (
        "not-an-arn",
        "arn:aws:kms:us-east-1:111122223333:key/x",
        "arn:aws:iam::111122223333:group/G",
    ):
        code, document = lint_cli(tmp_path, DEFAULT, "--caller-arn", caller)
        assert code == 2, caller
        assert [(f["severity"], f["code"]) for f in document["findings"]] == [("ERROR", "CALLER_ARN_INVALID")]
        assert "lockout" not in document
        code, result = render(tmp_path, DEFAULT, "--caller-arn", caller)
        assert code == 2, caller
        assert [("CALLER_ARN_INVALID" in p["message"], p["field"]) for p in result["error"]["problems"]] == [
            (True, "caller-arn")
        ]


def test_lockout_delegated_is_shown_by_lint_policy_and_render(tmp_path: Path) -> None:
    code, document = lint_cli(tmp_path, DEFAULT, "--caller-arn", SESSION)
    assert code == 0
    assert [(f["severity"], f["code"], f["path"]) for f in document["findings"]] == [
        ("SUGGESTION", "LOCKOUT_DELEGATED", "$.Statement[0]")
    ]
    assert document["lockout"]["verdict"] == "PASS_DELEGATED"
    code, result = render(tmp_path, DEFAULT, "--caller-arn", SESSION)
    assert code == 0
    shown = [(w["severity"], w["code"], w["path"], w["message"]) for w in result["warnings"]]
    assert shown == [(f["severity"], f["code"], f["path"], f["message"]) for f in document["findings"]]


def test_lockout_uncertain_is_shown_by_lint_policy_and_render(tmp_path: Path) -> None:
    org = json.loads((POLICIES / "org_condition.json").read_text())
    caller = "arn:aws:sts::111122223333:assumed-role/OrgKeyAdmin/carol"
    code, document = lint_cli(tmp_path, org, "--caller-arn", caller)
    assert (code, [f["code"] for f in document["findings"]]) == (0, ["LOCKOUT_UNCERTAIN"])
    code, result = render(tmp_path, org, "--caller-arn", caller)
    assert (code, [w["code"] for w in result["warnings"]]) == (0, ["LOCKOUT_UNCERTAIN"])


def test_lint_policy_names_a_key_of_another_account_as_render_does(tmp_path: Path) -> None:
    other_key = KEY_ARN.replace("111122223333", "444455556666")
    code, document = lint_cli(tmp_path, DEFAULT, "--caller-arn", SESSION, "--key-arn", other_key)
    assert (code, [f["code"] for f in document["findings"]]) == (2, ["CROSS_ACCOUNT"])


def test_lint_policy_lockout_fail_is_the_checks_finding(tmp_path: Path) -> None:
    from http_task_kms.kms.checks import caller_checks

    caller = "arn:aws:iam::444455556666:user/bob"
    code, document = lint_cli(tmp_path, DEFAULT, "--caller-arn", caller)
    assert code == 2
    checks, verdict = caller_checks(DEFAULT, caller, key_id=None)
    assert verdict is not None
    assert verdict.verdict == "FAIL"
    assert document["findings"] == [c.model_dump(exclude={"field"}) for c in checks]
    assert document["findings"][0]["code"] == "LOCKOUT_FAIL"


# -- clear words -----------------------------------------------------------------------------------

#: Two periods (not an ellipsis), punctuation after punctuation, or before a space.
_DOUBLED = re.compile(r"(?<!\.)\.\.(?!\.)|[;,:]\s*[.;,]|\.\s+[.;,]|\.[;,]|\s[.;,](?=\s|$)|\?\.")


def _sentences(message: str) -> list[str]:
    return [part.strip().lower() for part in re.split(r"(?<=[.?])\s+", message) if part.strip()]


def _all_messages() -> list[tuple[str, str]]:
    from http_task_kms.kms.checks import caller_checks

    found = [(f.code, f.message) for text in EXAMPLES.values() for f in lint_policy(text)]
    acknowledged = lint_policy(EXAMPLES["UNMANAGEABLE_KEY"], allow_unmanageable_key=True)
    acknowledged += lint_policy(EXAMPLES["PUBLIC_PRINCIPAL"], allow_public_principal=True)
    found += [(f.code, f.message) for f in acknowledged]
    for name in ("default.json", "org_condition.json", "lockout_other_role.json", "deny_statements.json"):
        document = json.loads((POLICIES / name).read_text())
        for caller in ("arn:aws:iam::444455556666:user/bob", SESSION, "bad", ROOT):
            for bypass in (False, True):
                checks, _ = caller_checks(document, caller, key_id=KEY_ARN, bypass=bypass)
                found += [(c.code, c.message) for c in checks]
    return found


def test_messages_have_no_doubled_punctuation_or_repeated_sentences() -> None:
    messages = _all_messages()
    found = {code for code, _ in messages}
    assert {"LOCKOUT_FAIL", "LOCKOUT_BYPASSED", "LOCKOUT_DELEGATED", "CALLER_ARN_INVALID"} <= found
    for code, message in messages:
        assert not _DOUBLED.search(message), (code, message)
        sentences = _sentences(message)
        assert len(sentences) == len(set(sentences)), (code, message)


# -- the request checks' own codes ---------------------------------------------------------------


def _context(facts: dict[str, Any] | None, *, dry_run: bool = False, **body: Any) -> Any:
    from http_task_kms.endpoints import Endpoint
    from http_task_kms.plugins.types import RequestContext

    endpoint = Endpoint(url="https://kms.us-east-1.amazonaws.com/", region="us-east-1", partition="aws")
    params = {"KeyId": KEY_ID, "PolicyName": "default", "Policy": json.dumps(DEFAULT), **body}
    return RequestContext(template=None, body=params, endpoint=endpoint, dry_run=dry_run, facts=facts)


def test_lockout_not_checked_is_an_error_when_sending_and_a_warning_for_a_dry_run() -> None:
    from http_task_kms.kms.checks import CALLER, CALLER_PROBLEM, check_put_key_policy

    facts = {CALLER: None, CALLER_PROBLEM: "no credentials"}
    (sending,) = check_put_key_policy(_context(facts))
    assert (sending.severity, sending.code, sending.field) == ("ERROR", "LOCKOUT_NOT_CHECKED", "caller-arn")
    assert "(no credentials)" in sending.message
    (dry,) = check_put_key_policy(_context({CALLER: None}, dry_run=True))
    assert (dry.severity, dry.code) == ("WARNING", "LOCKOUT_NOT_CHECKED")
    assert "--caller-arn" in dry.message


def test_the_second_pass_uses_the_shared_caller_checks() -> None:
    from http_task_kms.kms.checks import CALLER, check_put_key_policy

    (delegated,) = check_put_key_policy(_context({CALLER: SESSION}))
    assert (delegated.severity, delegated.code) == ("SUGGESTION", "LOCKOUT_DELEGATED")
    (invalid,) = check_put_key_policy(_context({CALLER: "arn:aws:s3:::bucket"}))
    assert (invalid.code, invalid.field) == ("CALLER_ARN_INVALID", "caller-arn")
    other_role = statement(Principal={"AWS": "arn:aws:iam::111122223333:role/Other"}, Action="kms:*")
    bob = {CALLER: "arn:aws:iam::111122223333:user/bob"}
    text = policy(other_role, manage=False)
    (failed,) = check_put_key_policy(_context(bob, Policy=text))
    assert (failed.severity, failed.code) == ("ERROR", "LOCKOUT_FAIL")
    (bypassed,) = check_put_key_policy(_context(bob, Policy=text, BypassPolicyLockoutSafetyCheck=True))
    assert (bypassed.severity, bypassed.code) == ("SECURITY_WARNING", "LOCKOUT_BYPASSED")


def test_a_disguised_put_key_policy_is_held_to_the_plugins_own_schema(tmp_path: Path) -> None:
    target = "TrentService.PutKeyPolicy"
    operation = {
        "operationId": "Harmless",
        "parameters": [
            {"name": "X-Amz-Target", "in": "header", "required": True, "schema": {"enum": [target]}}
        ],
        "requestBody": {
            "content": {"application/x-amz-json-1.1": {"schema": {"$ref": "#/components/schemas/H"}}}
        },
        "responses": {"200": {"description": "ok"}},
    }
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "kms", "version": "1", "x-serviceName": "kms"},
        "servers": [{"url": "https://kms.{region}.amazonaws.com"}],
        "paths": {f"/#X-Amz-Target={target}": {"post": operation}},
        "components": {"schemas": {"H": {"type": "object", "properties": {"KeyId": {}, "Policy": {}}}}},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "in.json").write_text(json.dumps({"region": "us-east-1", "KeyId": KEY_ID, "Policy": 7}))
    code, result = cli(
        "render", "kms.Harmless", "--spec", str(tmp_path / "spec.json"), "--input", str(tmp_path / "in.json")
    )
    assert code == 2
    assert any("[SCHEMA]" in p["message"] and p["field"] == "Policy" for p in result["error"]["problems"])


# -- the README's findings table --------------------------------------------------------------------

#: The request checks' codes (kms/checks.py, and SCHEMA from kms/plugin.py) and their severities.
CHECK_CODES = {
    "SCHEMA": "ERROR",
    "KEY_ID_ALIAS": "ERROR",
    "KEY_ID_INVALID": "ERROR",
    "KEY_ARN_REGION_MISMATCH": "ERROR",
    "KEY_ARN_PARTITION_MISMATCH": "ERROR",
    "POLICY_NAME_INVALID": "ERROR",
    "CALLER_ARN_INVALID": "ERROR",
    "CROSS_ACCOUNT": "ERROR",
    "LOCKOUT_FAIL": "ERROR",
    "LOCKOUT_BYPASSED": "SECURITY_WARNING",
    "LOCKOUT_UNCERTAIN": "WARNING",
    "LOCKOUT_DELEGATED": "SUGGESTION",
    "LOCKOUT_NOT_CHECKED": "ERROR",
}
_README_ROW = re.compile(
    r"^\s*\| `([A-Z][A-Z_]+)` \| (ERROR|SECURITY_WARNING|WARNING|SUGGESTION)\b[^|]*\| (.+) \|$", re.M
)


def test_the_readme_lists_every_code_with_its_severity() -> None:
    from http_task_kms.kms import checks

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {code: (severity, example) for code, severity, example in _README_ROW.findall(readme)}
    assert {code: severity for code, (severity, _) in rows.items()} == {**documented_codes(), **CHECK_CODES}
    assert all(len(example.strip()) > 3 for _, example in rows.values())
    listed = re.search(r"Codes: (.*?), plus", checks.__doc__ or "", re.S)
    assert listed is not None
    assert {c.strip() for c in listed.group(1).replace("\n", " ").split(",")} == set(CHECK_CODES) - {"SCHEMA"}
