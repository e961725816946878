"""Tests of http_task_kms.kms.policy.lint: the corpus, then each rule on its own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from http_task_kms.kms.policy import lint as policy_lint
from http_task_kms.kms.policy.lint import Finding, kms_actions, lint_policy

POLICIES = Path(__file__).parent / "policies"
EXPECTED: dict[str, Any] = yaml.safe_load((POLICIES / "expected.yaml").read_text())
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = "arn:aws:iam::111122223333:root"


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


def policy(*statements: dict[str, Any], **top: Any) -> str:
    """Policy text with Version 2012-10-17 and the given statements (default: one valid one)."""
    document: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements) or [statement()]}
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


def test_kms_actions_come_from_botocore_and_are_cached() -> None:
    actions = kms_actions()
    assert "kms:PutKeyPolicy" in actions
    assert "kms:Decrypt" in actions
    assert all(action.startswith("kms:") for action in actions)
    assert len(actions) > 40
    assert kms_actions() is actions


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
    assert codes(policy(Statement=statement())) == set()
    finding = only(policy(Statement=statement(Effect=None)), "EFFECT_INVALID")
    assert finding.path == "$.Statement"


def test_statement_of_wrong_type() -> None:
    assert only(policy(Statement="kms:*"), "INVALID_TYPE").path == "$.Statement"
    assert only(policy(Statement=[statement(), "kms:*"]), "INVALID_TYPE").path == "$.Statement[1]"


def test_unknown_elements_are_errors_with_a_hint() -> None:
    top = only(policy(statement(), statement(Sid="Two"), Statment=[]), "UNKNOWN_ELEMENT")
    assert top.path == "$.Statment"
    assert 'Did you mean "Statement"' in top.message
    inner = only(policy(statement(Conditions={"Bool": {"aws:SecureTransport": "true"}})), "UNKNOWN_ELEMENT")
    assert inner.path == "$.Statement[0].Conditions"
    assert 'Did you mean "Condition"' in inner.message


def test_duplicate_json_keys_are_errors() -> None:
    # which of the two values KMS applies is unknown: the lockout check could approve the other
    text = '{"Version": "2012-10-17", "Statement": [], "Statement": [' + json.dumps(statement()) + "]}"
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


def test_missing_action_or_resource_is_a_warning() -> None:
    assert only(policy(statement(Action=None)), "ACTION_MISSING").severity == "WARNING"
    assert only(policy(statement(Action=[])), "ACTION_MISSING").path == "$.Statement[0]"
    assert only(policy(statement(Resource=None)), "RESOURCE_MISSING").severity == "WARNING"
    assert codes(policy(statement(Action=None, NotAction="kms:Decrypt"))) == set()
    assert codes(policy(statement(Resource=None, NotResource="arn:aws:s3:::x"))) == set()


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
    assert codes(policy(statement(Resource=KEY_ARN)), key_arn=KEY_ARN) == set()
    assert codes(policy(statement(Resource="arn:aws:kms:*:111122223333:key/*")), key_arn=KEY_ARN) == set()
    other = KEY_ARN.replace("1234abcd", "0000abcd")
    finding = only(policy(statement(Resource=[KEY_ARN, other])), "RESOURCE_INEFFECTIVE", key_arn=KEY_ARN)
    assert finding.path == "$.Statement[0].Resource[1]"
    assert KEY_ARN in finding.message
    assert 'Use "*"' in finding.message


def test_resource_must_be_a_key_arn_when_the_key_is_unknown() -> None:
    assert codes(policy(statement(Resource=KEY_ARN))) == set()
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
    assert codes(text) == set()


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
    finding = only(policy(statement(Principal=principal)), "PUBLIC_PRINCIPAL")
    assert (finding.severity, finding.path) == ("SECURITY_WARNING", "$.Statement[0].Principal")


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
    "condition",
    [
        {"StringEquals": {"kms:PolicyName": "default"}},
        {"Bool": {"kms:GrantIsForAWSResource": True}},
        {
            "StringEquals": {
                "kms:CallerAccount": "111122223333",
                "kms:ViaService": "s3.us-east-1.amazonaws.com",
            }
        },
        {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": ["tenant*"]}},
        {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}},
        {"StringEqualsIgnoreCaseIfExists": {"aws:PrincipalTag/team": "security"}},
        {"NumericLessThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}},
        {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}},
        {"Null": {"kms:GrantConstraintType": "false"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}},
        {"BinaryEquals": {"kms:RecipientAttestation:ImageSha384": "ZXhhbXBsZQ=="}},
    ],
)
def test_valid_conditions_and_kms_condition_keys_are_not_findings(condition: dict[str, Any]) -> None:
    assert codes(policy(statement(Condition=condition))) == set()


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
}


def test_every_documented_code_has_an_example() -> None:
    assert set(EXAMPLES) == set(documented_codes())


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_documented_code_is_reported_with_its_severity(code: str) -> None:
    matching = [f for f in lint_policy(EXAMPLES[code]) if f.code == code]
    assert matching, code
    assert {f.severity for f in matching} == {documented_codes()[code]}
