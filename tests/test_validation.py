"""PutKeyPolicy input → prepared request: every rule, its message, and all problems at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ACCOUNT, KEY_ID, policy_for, signer_for, write_json

from http_task_kms import Client, Options, RequestValidationError
from http_task_kms.cli import main
from http_task_kms.plugins.types import PreparedRequest
from http_task_kms.render import CompiledTask

CALLER = f"arn:aws:iam::{ACCOUNT}:user/x"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
MRK_ID = "mrk-1234abcd12ab34cd56ef1234567890ab"
SIZE_LIMIT = 32768


def make_client(**options: Any) -> Client:
    """A Client that never calls STS and signs with fixed test credentials."""
    options.setdefault("plugin_options", {"caller_arn": CALLER})
    return Client(Options(**options), signer=signer_for("AKIDEXAMPLE", "secretvalue"))


@pytest.fixture
def client() -> Client:
    """A Client for us-east-1 (as if --region us-east-1), caller known."""
    return make_client(region="us-east-1")


@pytest.fixture
def regionless_client() -> Client:
    """A Client with no --region (and, thanks to conftest, no AWS config Region)."""
    return make_client()


@pytest.fixture
def put_key_policy(client: Client) -> CompiledTask:
    """The compiled kms.PutKeyPolicy template."""
    return client.compiled_template("kms.PutKeyPolicy")


@pytest.fixture
def policy() -> dict[str, Any]:
    """A key policy that keeps the caller in control (lockout check passes)."""
    return policy_for(CALLER)


@pytest.fixture
def params(policy: dict[str, Any]) -> dict[str, Any]:
    """Valid PutKeyPolicy input parameters."""
    return {"KeyId": KEY_ID, "Policy": policy}


def prepared(client: Client, compiled: CompiledTask, params: dict[str, Any]) -> PreparedRequest:
    return client.prepare(compiled, params)


def problems(client: Client, compiled: CompiledTask, params: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(compiled, params)
    assert caught.value.problems, "RequestValidationError without problems"
    return [(p.field, p.message) for p in caught.value.problems]


# -- the happy path ---------------------------------------------------------------------------


def test_valid_input_prepares_the_request(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], policy: dict[str, Any]
) -> None:
    request = prepared(client, put_key_policy, params)
    assert request.method == "POST"
    assert request.url == "https://kms.us-east-1.amazonaws.com/"
    assert request.headers == {
        "X-Amz-Target": "TrentService.PutKeyPolicy",
        "Content-Type": "application/x-amz-json-1.1",
    }
    assert request.signing_name == "kms"
    assert request.endpoint.region == "us-east-1"
    assert request.body == {
        "KeyId": KEY_ID,
        "PolicyName": "default",
        "Policy": json.dumps(policy, separators=(",", ":")),
    }
    assert json.loads(request.body_bytes) == request.body
    assert request.warnings == []


def test_policy_object_is_serialised_compactly(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], policy: dict[str, Any]
) -> None:
    body = prepared(client, put_key_policy, params).body
    assert isinstance(body["Policy"], str)
    assert body["Policy"] == json.dumps(policy, separators=(",", ":"))
    assert " " not in body["Policy"].replace("Enable IAM User Permissions", "")
    assert json.loads(body["Policy"]) == policy


def test_policy_string_is_sent_as_given(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any]
) -> None:
    text = json.dumps(policy, indent=4)
    body = prepared(client, put_key_policy, {"KeyId": KEY_ID, "Policy": text}).body
    assert body["Policy"] == text


def test_policy_name_defaults_to_default_and_is_always_sent(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any]
) -> None:
    body = prepared(client, put_key_policy, params).body
    assert list(body) == ["KeyId", "PolicyName", "Policy"]
    assert body["PolicyName"] == "default"
    explicit = prepared(client, put_key_policy, {**params, "PolicyName": "default"}).body
    assert explicit == body


@pytest.mark.parametrize("bypass", [True, False])
def test_bypass_boolean_is_sent_as_a_boolean(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], bypass: bool
) -> None:
    body = prepared(client, put_key_policy, {**params, "BypassPolicyLockoutSafetyCheck": bypass}).body
    assert body["BypassPolicyLockoutSafetyCheck"] is bypass
    assert list(body)[-1] == "BypassPolicyLockoutSafetyCheck"


# -- KeyId ------------------------------------------------------------------------------------

KEY_ID_INVALID = (
    "must be a key ID (a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk- followed by 32 hex "
    "digits for a multi-Region key) or a key ARN arn:<partition>:kms:<region>:<account>:key/<key-id> "
    "[KEY_ID_INVALID]"
)


@pytest.mark.parametrize(
    "key_id",
    [KEY_ID, KEY_ID.upper(), MRK_ID, KEY_ARN, f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{MRK_ID}"],
)
def test_key_id_forms_that_are_accepted(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], key_id: str
) -> None:
    assert prepared(client, put_key_policy, {**params, "KeyId": key_id}).body["KeyId"] == key_id


@pytest.mark.parametrize(
    "key_id",
    [
        "not-a-key",
        KEY_ID[:-1],
        KEY_ID + "0",
        "mrk-1234",
        "mrk-" + "g" * 32,
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/not-a-uuid",
        f"arn:aws:kms:us-east-1:12345:key/{KEY_ID}",
        "arn:aws:s3:::my-bucket",
        f"key/{KEY_ID}",
    ],
)
def test_key_id_must_be_a_key_id_or_key_arn(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], key_id: str
) -> None:
    assert problems(client, put_key_policy, {**params, "KeyId": key_id}) == [("KeyId", KEY_ID_INVALID)]


@pytest.mark.parametrize(
    "alias",
    ["alias/x", "alias/my-app/key_1", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/x"],
)
def test_alias_is_refused_with_how_to_find_the_key_id(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], alias: str
) -> None:
    assert problems(client, put_key_policy, {**params, "KeyId": alias}) == [
        (
            "KeyId",
            f"{alias!r} is an alias; PutKeyPolicy does not accept aliases. Use the key ID or key ARN: "
            f"`aws kms describe-key --key-id {alias}` shows it as KeyMetadata.KeyId "
            "(or use ListAliases' TargetKeyId) [KEY_ID_ALIAS]",
        )
    ]


def test_key_id_wrong_type_and_too_long(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any]
) -> None:
    assert problems(client, put_key_policy, {**params, "KeyId": 42}) == [
        ("KeyId", "must be of type string, got integer")
    ]
    found = problems(client, put_key_policy, {**params, "KeyId": "a" * 2049})
    assert ("KeyId", "must be at most 2,048 characters long (is 2,049)") in found


# -- PolicyName -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["AWS_RAM", "Default", "custom"])
def test_policy_name_other_than_default_is_an_error(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], name: str
) -> None:
    assert problems(client, put_key_policy, {**params, "PolicyName": name}) == [
        ("PolicyName", f"{name!r} is not valid: the only valid value is 'default' [POLICY_NAME_INVALID]")
    ]


# -- Policy -----------------------------------------------------------------------------------


def test_policy_syntax_error_reports_line_and_column(client: Client, put_key_policy: CompiledTask) -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [}\n}'
    assert problems(client, put_key_policy, {"KeyId": KEY_ID, "Policy": text}) == [
        (
            "Policy",
            "The policy is not valid JSON: Expecting value at line 3, column 17. Fix the syntax there "
            "(a missing comma or quote, or a trailing comma, is the usual cause). [INVALID_JSON]",
        )
    ]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("[1, 2]", "array"), ('"a policy"', "string"), ("42", "number"), ("true", "boolean"), ("null", "null")],
)
def test_policy_must_be_a_json_object(
    client: Client, put_key_policy: CompiledTask, text: str, kind: str
) -> None:
    assert problems(client, put_key_policy, {"KeyId": KEY_ID, "Policy": text}) == [
        (
            "Policy",
            f"The policy is a JSON {kind}, not an object. Write it as "
            '{"Version": "2012-10-17", "Statement": [...]}. [NOT_AN_OBJECT]',
        )
    ]


def test_policy_given_as_a_json_array_is_not_an_object(client: Client, put_key_policy: CompiledTask) -> None:
    found = problems(client, put_key_policy, {"KeyId": KEY_ID, "Policy": [{"Effect": "Allow"}]})
    assert [field for field, _ in found] == ["Policy"]
    assert "[NOT_AN_OBJECT]" in found[0][1]


def test_policy_over_32768_bytes_reports_the_size(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any]
) -> None:
    compact = json.dumps(policy, separators=(",", ":"))
    padded = compact[:1] + " " * (SIZE_LIMIT + 100 - len(compact)) + compact[1:]  # still valid JSON
    size = len(padded.encode("utf-8"))
    assert size == SIZE_LIMIT + 100
    assert problems(client, put_key_policy, {"KeyId": KEY_ID, "Policy": padded}) == [
        ("Policy", f"is {size:,} bytes (UTF-8); the limit is 32,768 bytes")
    ]


def test_policy_limit_counts_utf8_bytes_not_characters(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any]
) -> None:
    policy["Statement"][0]["Sid"] = "\u00e9" * 17000  # é is allowed, but 2 bytes in UTF-8
    text = json.dumps(policy, separators=(",", ":"), ensure_ascii=False)
    assert len(text) < SIZE_LIMIT < len(text.encode("utf-8"))
    assert problems(client, put_key_policy, {"KeyId": KEY_ID, "Policy": policy}) == [
        ("Policy", f"is {len(text.encode('utf-8')):,} bytes (UTF-8); the limit is 32,768 bytes")
    ]


def test_policy_exactly_at_the_limit_is_accepted(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any]
) -> None:
    compact = json.dumps(policy, separators=(",", ":"))
    padded = compact[:1] + " " * (SIZE_LIMIT - len(compact)) + compact[1:]
    assert len(padded.encode("utf-8")) == SIZE_LIMIT
    assert prepared(client, put_key_policy, {"KeyId": KEY_ID, "Policy": padded}).body["Policy"] == padded


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\u2014", "EM DASH"),
        ("\u201c", "LEFT DOUBLE QUOTATION MARK"),
        ("\u0100", "LATIN CAPITAL LETTER A WITH MACRON"),
    ],
)
def test_policy_character_outside_latin1_names_the_first_one(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any], char: str, name: str
) -> None:
    policy["Statement"][1]["Sid"] = f"Admin{char}one{char}"
    text = json.dumps(policy, indent=2, ensure_ascii=False)
    offset = text.index(char)
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    found = problems(client, put_key_policy, {"KeyId": KEY_ID, "Policy": text})
    assert [field for field, _ in found] == ["Policy"]
    message = found[0][1]
    assert message.startswith(
        f"Character U+{ord(char):04X} ({name}) at line {line}, column {column} (offset {offset}) is not "
        "allowed: a key policy may contain only TAB, LF, CR and U+0020 to U+00FF."
    )
    assert "1 more" in message  # the second occurrence is counted, not listed
    assert message.endswith("[INVALID_CHARACTER]")


def test_policy_object_with_a_character_outside_latin1(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any]
) -> None:
    policy["Statement"][1]["Sid"] = "Admin\u2014one"
    found = problems(client, put_key_policy, {"KeyId": KEY_ID, "Policy": policy})
    assert [field for field, _ in found] == ["Policy"]
    assert found[0][1].startswith("Character U+2014 (EM DASH) at line 1, column ")
    assert found[0][1].endswith("[INVALID_CHARACTER]")


@pytest.mark.parametrize("char", ["\t", "\n", "\r", " ", "~", "\u00a0", "\u00e9", "\u00ff"])
def test_policy_allowed_characters(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any], char: str
) -> None:
    text = json.dumps(policy, ensure_ascii=False)
    text = text[:-1] + char + "}" if char in "\t\n\r " else text.replace('"Admin0"', f'"Admin{char}"')
    assert char in text
    assert prepared(client, put_key_policy, {"KeyId": KEY_ID, "Policy": text}).body["Policy"] == text


# -- BypassPolicyLockoutSafetyCheck -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("false", "must be of type boolean, got string (write true or false without quotes)"),
        ("true", "must be of type boolean, got string (write true or false without quotes)"),
        (0, "must be of type boolean, got integer"),
        (None, "must be of type boolean, got null"),
    ],
)
def test_bypass_must_be_a_real_boolean(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], value: Any, message: str
) -> None:
    assert problems(client, put_key_policy, {**params, "BypassPolicyLockoutSafetyCheck": value}) == [
        ("BypassPolicyLockoutSafetyCheck", message)
    ]


# -- required members and unknown parameters --------------------------------------------------


@pytest.mark.parametrize("member", ["KeyId", "Policy"])
def test_required_member_missing_names_the_expression(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any], member: str
) -> None:
    del params[member]
    assert problems(client, put_key_policy, params) == [
        (member, f"is required, but ${{$.{member}}} selected nothing in the input parameters")
    ]


def test_empty_input_reports_both_required_members(client: Client, put_key_policy: CompiledTask) -> None:
    assert problems(client, put_key_policy, {}) == [
        ("KeyId", "is required, but ${$.KeyId} selected nothing in the input parameters"),
        ("Policy", "is required, but ${$.Policy} selected nothing in the input parameters"),
    ]


def test_unknown_input_parameter_is_a_problem(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any]
) -> None:
    assert problems(client, put_key_policy, {**params, "Bypass": True}) == [
        (
            "Bypass",
            "unknown input parameter; expected one of: BypassPolicyLockoutSafetyCheck, KeyId, Policy, "
            "PolicyName, region",
        )
    ]


@pytest.mark.parametrize("params", [[], "text", 3, None])
def test_input_must_be_an_object(client: Client, put_key_policy: CompiledTask, params: Any) -> None:
    assert problems(client, put_key_policy, params) == [
        ("input", "the input parameters must be a JSON object")
    ]


# -- all problems at once ---------------------------------------------------------------------

FIVE_PROBLEMS = {
    "region": "us-east-1",
    "KeyId": "alias/x",
    "PolicyName": "x",
    "Policy": "{",
    "BypassPolicyLockoutSafetyCheck": "yes",
    "Bogus": 1,
}
FIVE_FIELDS = ["Bogus", "BypassPolicyLockoutSafetyCheck", "KeyId", "Policy", "PolicyName"]


def test_five_problems_are_reported_at_once(client: Client, put_key_policy: CompiledTask) -> None:
    found = problems(client, put_key_policy, FIVE_PROBLEMS)
    assert len(found) == 5
    assert sorted(field for field, _ in found) == FIVE_FIELDS
    messages = dict(found)
    assert messages["KeyId"].endswith("[KEY_ID_ALIAS]")
    assert messages["PolicyName"].endswith("[POLICY_NAME_INVALID]")
    assert messages["Policy"].endswith("[INVALID_JSON]")
    assert messages["BypassPolicyLockoutSafetyCheck"].startswith("must be of type boolean, got string")
    assert messages["Bogus"].startswith("unknown input parameter")


def test_five_problems_through_the_cli(tmp_path: Path) -> None:
    source = write_json(tmp_path / "bad.json", FIVE_PROBLEMS)
    result = CliRunner().invoke(
        main, ["render", "kms.PutKeyPolicy", "--input", source, "--caller-arn", CALLER]
    )
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["statusCode"] is None
    assert document["error"]["code"] == "ValidationError"
    assert document["error"]["message"] == "5 problems found; nothing was sent"
    assert len(document["error"]["problems"]) == 5
    assert sorted(p["field"] for p in document["error"]["problems"]) == FIVE_FIELDS


# -- key ARN and the endpoint -----------------------------------------------------------------


def test_key_arn_region_disagreeing_with_the_endpoint_is_an_error(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any]
) -> None:
    arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
    assert problems(client, put_key_policy, {**params, "KeyId": arn}) == [
        (
            "KeyId",
            "the key ARN is in eu-west-1 but the request goes to us-east-1; set region to eu-west-1 "
            "(or use that Region's key) [KEY_ARN_REGION_MISMATCH]",
        )
    ]


def test_key_arn_region_disagreeing_with_the_region_parameter(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any]
) -> None:
    arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
    found = problems(client, put_key_policy, {**params, "KeyId": arn, "region": "ap-south-1"})
    assert [code.rsplit(" ", 1)[-1] for _, code in found] == ["[KEY_ARN_REGION_MISMATCH]"]
    assert "the request goes to ap-south-1" in found[0][1]


def test_key_arn_partition_disagreeing_with_the_endpoint_is_an_error(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any]
) -> None:
    arn = f"arn:aws-cn:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
    assert problems(client, put_key_policy, {**params, "KeyId": arn}) == [
        (
            "KeyId",
            "the key ARN is in partition aws-cn but the endpoint is in aws [KEY_ARN_PARTITION_MISMATCH]",
        )
    ]


def test_key_arn_region_is_used_when_no_region_is_given(
    regionless_client: Client, params: dict[str, Any]
) -> None:
    arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
    request = regionless_client.prepare(
        regionless_client.compiled_template("kms.PutKeyPolicy"), {**params, "KeyId": arn}
    )
    assert request.url == "https://kms.eu-west-1.amazonaws.com/"
    assert request.endpoint.region == "eu-west-1"
    assert request.endpoint.partition == "aws"


def test_china_key_arn_selects_the_china_endpoint() -> None:
    arn = f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/{KEY_ID}"
    policy = policy_for(f"arn:aws-cn:iam::{ACCOUNT}:user/x")
    client = make_client(plugin_options={"caller_arn": f"arn:aws-cn:iam::{ACCOUNT}:user/x"})
    request = client.prepare(client.compiled_template("kms.PutKeyPolicy"), {"KeyId": arn, "Policy": policy})
    assert request.url == "https://kms.cn-north-1.amazonaws.com.cn/"
    assert request.endpoint.partition == "aws-cn"


def test_no_region_at_all_is_a_problem(regionless_client: Client, params: dict[str, Any]) -> None:
    with pytest.raises(RequestValidationError) as caught:
        regionless_client.prepare(regionless_client.compiled_template("kms.PutKeyPolicy"), params)
    assert [(p.field, p.message) for p in caught.value.problems] == [
        (
            "region",
            "no Region: set the 'region' input parameter, --region, AWS_REGION, "
            "or a region in the AWS profile",
        )
    ]


def test_cross_account_key_arn_is_refused(
    client: Client, put_key_policy: CompiledTask, params: dict[str, Any]
) -> None:
    arn = f"arn:aws:kms:us-east-1:999999999999:key/{KEY_ID}"
    found = problems(client, put_key_policy, {**params, "KeyId": arn})
    assert [field for field, _ in found] == ["KeyId"]
    assert found[0][1].endswith("[CROSS_ACCOUNT]")
    assert "999999999999" in found[0][1]
    assert ACCOUNT in found[0][1]


def test_a_lone_surrogate_through_the_python_api_is_a_problem_not_a_crash(client: Client) -> None:
    params = {"KeyId": KEY_ID, "Policy": {"Statement": [{"Sid": "\ud800"}]}, "\udfff": 1}
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(client.compiled_template("kms.PutKeyPolicy"), params)
    assert sorted(p.field for p in caught.value.problems) == ['$["\udfff"]', "Policy.Statement[0].Sid"]


# -- a policy given as an object: its checks read the object itself, not a parse of its text --


def _findings(client: Client, compiled: CompiledTask, policy: Any) -> list[tuple[str, str, str]]:
    try:
        found = client.prepare(compiled, {"KeyId": KEY_ID, "Policy": policy}).warnings
    except RequestValidationError as exc:
        return sorted(("ERROR", p.field, p.message) for p in exc.problems) + sorted(
            (w["severity"], w["field"], w["message"]) for w in exc.warnings
        )
    return sorted((w.severity, w.field, w.message) for w in found)


def _policy_objects() -> list[Path]:
    return sorted(
        p for p in (Path(__file__).parent / "policies").glob("*.json") if isinstance(_object_or_none(p), dict)
    )


def _object_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


@pytest.mark.parametrize("path", _policy_objects(), ids=lambda p: p.stem)
def test_a_policy_object_is_checked_as_its_text_would_be(
    client: Client, put_key_policy: CompiledTask, path: Path
) -> None:
    policy = json.loads(path.read_text())
    before = json.dumps(policy)
    as_object = _findings(client, put_key_policy, policy)
    assert json.dumps(policy) == before  # the checks read the caller's object and leave it as it was
    as_text = _findings(client, put_key_policy, json.dumps(policy, separators=(",", ":"), ensure_ascii=False))
    assert as_object == as_text


def test_a_policy_object_of_other_python_types_is_checked_from_its_text(
    client: Client, put_key_policy: CompiledTask, policy: dict[str, Any]
) -> None:
    # A tuple is written as a JSON array: the object is not plain JSON, so its text is parsed.
    statement = dict(policy["Statement"][0], Action=("kms:*",), Principal={"AWS": ("*",)})
    odd = dict(policy, Statement=(statement,))
    text = json.dumps(odd, separators=(",", ":"))
    assert _findings(client, put_key_policy, odd) == _findings(client, put_key_policy, text)
    assert any("PUBLIC_PRINCIPAL" in message for _, _, message in _findings(client, put_key_policy, odd))
