"""SigV4 with botocore: the golden vector, fresh signatures per attempt, credential handling."""

from __future__ import annotations

import datetime
import hashlib
import re
from unittest import mock

import pytest
from botocore.credentials import Credentials

from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer
from http_task_kms.errors import CredentialsError

GOLDEN_BODY = (
    '{"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "PolicyName": "default", '
    '"Policy": "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}", '
    '"BypassPolicyLockoutSafetyCheck": false}'
)
GOLDEN_HEADERS = {"X-Amz-Target": "TrentService.PutKeyPolicy", "Content-Type": "application/x-amz-json-1.1"}
FROZEN_AT = datetime.datetime(2026, 11, 29, 12, 29, 53)


def _sign(signer: SigV4Signer, body: str = GOLDEN_BODY, **kw: object) -> dict[str, str]:
    with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN_AT):
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


def test_golden_vector() -> None:
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
