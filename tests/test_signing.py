"""SigV4 with botocore: AWS's own test suite, fresh signatures per attempt, credential handling.

The expected values come from AWS's SigV4 test suite (``tests/sigv4/``, see its README), not
from a library. The signing time is frozen by patching ``botocore.auth.get_current_datetime``:
botocore has no public seam for the clock of ``SigV4Auth.add_auth``, which reads that module
attribute (it is not underscored, but not documented either; ``kms.md`` notes it).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
from pathlib import Path
from unittest import mock

import pytest
from botocore.credentials import Credentials
from faultserver import Received, verify_sigv4

from http_task_kms.auth import sigv4_fast
from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer, sign_with_botocore
from http_task_kms.errors import CredentialsError

SUITE = Path(__file__).resolve().parent / "sigv4"
SUITE_KEY, SUITE_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0)
SUITE_HOST = "example.amazonaws.com"
CASES = sorted(path.with_suffix("") for path in SUITE.rglob("*.req"))


def _frozen(at: datetime.datetime) -> mock._patch[mock.MagicMock]:
    """botocore's signing clock stopped at ``at`` (see the module docstring)."""
    return mock.patch("botocore.auth.get_current_datetime", return_value=at)


def _suite_file(case: Path, suffix: str) -> str | None:
    path = case.with_suffix(suffix)
    return path.read_bytes().decode("utf-8") if path.exists() else None


def _parse_request(text: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """A suite ``.req``: method, path with query, headers as written, body."""
    head, _, body = text.partition("\n\n")
    request_line, *header_lines = head.split("\n")
    method, target = request_line.rsplit(" ", 1)[0].split(" ", 1)
    headers = [(name, value) for name, _, value in (line.partition(":") for line in header_lines)]
    return method, target, headers, body.encode("utf-8")


def _suite_token(headers: list[tuple[str, str]]) -> str | None:
    return next((value for name, value in headers if name.lower() == "x-amz-security-token"), None)


def _suite_case(case: Path) -> tuple[str, str, dict[str, str], bytes, str | None]:
    """A suite case as our signers take it: method, URL, headers without the signer's, body, token."""
    method, target, headers, body = _parse_request(_suite_file(case, ".req") or "")
    given = {
        name: value for name, value in headers if name.lower() not in {"x-amz-date", "x-amz-security-token"}
    }
    return method, f"https://{SUITE_HOST}{target}", given, body, _suite_token(headers)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_aws_sigv4_test_suite(case: Path) -> None:
    """Our signer gives the suite's Authorization header (and X-Amz-Date, the session token)."""
    method, url, given, body, token = _suite_case(case)
    signer = SigV4Signer(AwsCredentials(credentials=Credentials(SUITE_KEY, SUITE_SECRET, token)))
    with _frozen(SUITE_TIME):
        signed = signer.sign(method, url, given, body, service="service", region="us-east-1")
    assert signed["Authorization"] == _suite_file(case, ".authz")
    assert signed["X-Amz-Date"] == "20150830T123600Z"
    if token is not None:
        assert signed["X-Amz-Security-Token"] == token


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_both_signers_on_the_suite(case: Path, caplog: pytest.LogCaptureFixture) -> None:
    """sigv4_fast covers every suite case and gives its canonical request and string to sign; so
    does botocore's SigV4Auth (the reference, and the fallback), as it logs them."""
    method, url, given, body, token = _suite_case(case)
    keys = {"access_key": SUITE_KEY, "secret_key": SUITE_SECRET, "token": token}
    caplog.set_level(logging.DEBUG, logger="botocore.auth")
    with _frozen(SUITE_TIME):
        fast = sigv4_fast.sign(method, url, given, body, service="service", region="us-east-1", **keys)
        reference = sign_with_botocore(
            method,
            url,
            given,
            body,
            credentials=Credentials(SUITE_KEY, SUITE_SECRET, token).get_frozen_credentials(),
            service="service",
            region="us-east-1",
        )
    assert fast is not None
    assert fast == reference
    assert fast["Authorization"] == _suite_file(case, ".authz")
    canonical = sigv4_fast.canonical_request(
        method, url, {k: v for k, v in fast.items() if k != "Authorization"}, body
    )
    assert canonical is not None
    scope = "20150830/us-east-1/service/aws4_request"
    ours = {
        "CanonicalRequest": canonical[0],
        "StringToSign": sigv4_fast.string_to_sign("20150830T123600Z", scope, canonical[0]),
    }
    logged = {
        name: record.getMessage().removeprefix(f"{name}:\n")
        for record in caplog.records
        for name in ("CanonicalRequest", "StringToSign")
        if record.getMessage().startswith(f"{name}:\n")
    }
    if token is None:  # a session token is redacted in botocore's log
        assert logged == ours
    for name, suffix in (("CanonicalRequest", ".creq"), ("StringToSign", ".sts")):
        expected = _suite_file(case, suffix)
        if expected is not None:
            assert ours[name] == expected


def test_the_suite_files_agree_with_each_other() -> None:
    """The copied files are whole: each string to sign hashes its canonical request."""
    assert len(CASES) >= 6
    checked = 0
    for case in CASES:
        creq, sts = _suite_file(case, ".creq"), _suite_file(case, ".sts")
        assert _suite_file(case, ".authz"), case.name
        if creq is not None and sts is not None:
            assert sts.splitlines()[-1] == hashlib.sha256(creq.encode()).hexdigest(), case.name
            checked += 1
    assert checked >= 2


PATH_ONLY = [case for case in CASES if "?" not in (_suite_file(case, ".req") or "").split("\n", 1)[0]]


@pytest.mark.parametrize("case", PATH_ONLY, ids=[case.name for case in PATH_ONLY])
def test_the_tests_own_sigv4_verifier_accepts_the_suite_and_refuses_a_changed_byte(case: Path) -> None:
    """tests/faultserver.py's independent verifier (which other tests trust) agrees with AWS's suite."""
    method, target, headers, body = _parse_request(_suite_file(case, ".req") or "")
    authorization = ("Authorization", _suite_file(case, ".authz") or "")
    received = Received(method, target, (*headers, authorization), body, at=0.0)
    assert verify_sigv4(received, SUITE_SECRET, url=f"https://{SUITE_HOST}")
    assert not verify_sigv4(received, SUITE_SECRET[:-1] + "X", url=f"https://{SUITE_HOST}")
    changed = Received(method, target, (*headers, authorization), body + b"x", at=0.0)
    assert not verify_sigv4(changed, SUITE_SECRET, url=f"https://{SUITE_HOST}")


# -- a regression value for the KMS request (produced by botocore, checked against an independent
# signer): it pins what the suite above cannot, the exact PutKeyPolicy request we sign.

GOLDEN_BODY = (
    '{"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "PolicyName": "default", '
    '"Policy": "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}", '
    '"BypassPolicyLockoutSafetyCheck": false}'
)
GOLDEN_HEADERS = {"X-Amz-Target": "TrentService.PutKeyPolicy", "Content-Type": "application/x-amz-json-1.1"}
FROZEN_AT = datetime.datetime(2026, 11, 29, 12, 29, 53)


def _sign(signer: SigV4Signer, body: str = GOLDEN_BODY, **kw: object) -> dict[str, str]:
    with _frozen(FROZEN_AT):
        return signer.sign(
            "POST",
            "https://kms.us-east-1.amazonaws.com/",
            GOLDEN_HEADERS,
            body.encode(),
            service="kms",
            region="us-east-1",
            **kw,
        )  # type: ignore[arg-type]


def _signature(headers: dict[str, str]) -> str:
    match = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"])
    assert match is not None
    return match.group(1)


def test_put_key_policy_regression_value() -> None:
    assert hashlib.sha256(GOLDEN_BODY.encode()).hexdigest() == (
        "502efd7fe04f8fac078420ab4ec93b460a4731e536a2ef42d0722ebd4459fec8"
    )
    headers = _sign(SigV4Signer(AwsCredentials(credentials=Credentials("testing", "testing"))))
    assert headers["X-Amz-Date"] == "20261129T122953Z"
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in headers["Authorization"]
    assert "Credential=testing/20261129/us-east-1/kms/aws4_request" in headers["Authorization"]
    assert _signature(headers) == "81a7b48d4f0196c8c2ed5c8804b263ed0a6d7d733eb1240409ffcae66dee026a"


def test_session_token_is_signed_and_sent() -> None:
    headers = _sign(SigV4Signer(AwsCredentials(credentials=Credentials("testing", "testing", "tok"))))
    assert headers["X-Amz-Security-Token"] == "tok"
    assert "x-amz-security-token" in headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert _signature(headers) != "81a7b48d4f0196c8c2ed5c8804b263ed0a6d7d733eb1240409ffcae66dee026a"


def test_input_headers_are_not_mutated_and_body_change_changes_signature() -> None:
    signer = SigV4Signer(AwsCredentials(credentials=Credentials("testing", "testing")))
    before = dict(GOLDEN_HEADERS)
    first = _sign(signer)
    assert before == GOLDEN_HEADERS
    assert _signature(_sign(signer, GOLDEN_BODY.replace("false", "true "))) != _signature(first)


def test_clock_offset_moves_the_signing_time() -> None:
    headers = _sign(
        SigV4Signer(AwsCredentials(credentials=Credentials("testing", "testing"))), clock_offset=3600.0
    )
    assert headers["X-Amz-Date"] == "20261129T132953Z"
    assert "/20261129/us-east-1/kms/" in headers["Authorization"]


def test_no_credentials_is_a_clear_error() -> None:
    with pytest.raises(CredentialsError, match="no AWS credentials found"):
        AwsCredentials().frozen()


def test_profile_region_and_unknown_profile(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config"
    config.write_text("[profile dev]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert AwsCredentials(profile="dev").region() == "eu-west-3"
    with pytest.raises(CredentialsError, match="nope"):
        AwsCredentials(profile="nope").region()


def test_environment_credentials_are_resolved_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secretenv")
    credentials = AwsCredentials()
    assert credentials.frozen().access_key == "AKIDENV"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCHANGED")
    assert credentials.frozen().access_key == "AKIDENV"  # the chain ran once per process


def test_a_client_reads_the_aws_configuration_and_credentials_through_one_botocore_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its endpoint settings, its Region and its signer's credentials: one session (each costs
    # botocore ~10 ms of handler registration), made when first needed.
    import botocore.session

    from http_task_kms import Client, Options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secretenv")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    made: list[object] = []
    real = botocore.session.Session.__init__

    def counted(self: botocore.session.Session, *args: object, **kwargs: object) -> None:
        made.append(self)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(botocore.session.Session, "__init__", counted)
    client = Client(Options(plugin_options={"caller_arn": "arn:aws:iam::111122223333:root"}))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    compiled = client.compiled_template("kms.PutKeyPolicy")
    result = client.dry_run(compiled, {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Policy": policy})
    assert result.ok
    assert result.request is not None
    assert "Credential=AKIDENV/" in result.request.headers["Authorization"]
    assert result.request.url == "https://kms.us-east-1.amazonaws.com/"  # the Region from the environment
    assert len(made) == 1
