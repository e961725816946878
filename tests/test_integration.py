"""End to end against moto's KMS on 127.0.0.1 with its signature check switched on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from conftest import ACCOUNT, TemporaryCredentials, policy_for, signer_for, write_json

from http_task_kms import Client
from http_task_kms.cli import main
from http_task_kms.kms.local import AdminIdentity
from http_task_kms.transport import Transport

pytestmark = pytest.mark.integration


def _stored_policy(client: Client, key_id: str) -> str:
    result = client.test_request("kms.GetKeyPolicy", {"KeyId": key_id, "PolicyName": "default"})
    assert result.ok, result.to_json()
    policy: str = result.body["Policy"]
    return policy


def test_signed_put_key_policy_is_accepted_and_read_back_exactly(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity
) -> None:
    client = local_client()
    policy = policy_for(admin.arn)
    result = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": policy})
    assert result.ok, result.to_json()
    assert (result.statusCode, result.error, result.attempts) == (200, None, 1)
    assert result.requestId  # from x-amzn-RequestId
    assert result.elapsedMs > 0
    sent = result.request
    assert sent is not None
    assert sent.body["PolicyName"] == "default"
    assert "Signature=<redacted>" in sent.headers["Authorization"]
    assert _stored_policy(client, new_key) == json.dumps(policy, separators=(",", ":"))


def test_policy_string_is_sent_verbatim(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity
) -> None:
    text = json.dumps(policy_for(admin.arn), indent=4)  # the user's own formatting is kept
    client = local_client()
    assert client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": text}).ok
    assert _stored_policy(client, new_key) == text


class _TamperingSession(requests.Session):
    """Changes the body after it was signed, as a man in the middle would."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if isinstance(request.body, bytes):
            request.body = request.body.replace(b'"default"', b'"default" ')
            request.prepare_content_length(request.body)
        return super().send(request, **kwargs)


def test_request_altered_after_signing_is_rejected(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity
) -> None:
    client = local_client(plugin_options={"force": True})
    client.transport = Transport(session=_TamperingSession())
    before = _stored_policy(local_client(), new_key)
    result = client.send(
        client.prepare(
            client.compiled_template("kms.PutKeyPolicy"),
            {"KeyId": new_key, "Policy": policy_for(admin.arn, "arn:aws:iam::123456789012:role/x")},
        )
    )
    assert not result.ok
    assert result.statusCode == 403
    assert result.error is not None
    assert result.error.code == "SignatureDoesNotMatch"
    assert result.error.retryable is False
    assert result.attempts == 1
    assert isinstance(result.body, str)
    assert "<Code>SignatureDoesNotMatch</Code>" in result.body
    assert _stored_policy(local_client(), new_key) == before


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    runner = CliRunner()
    outcome = runner.invoke(main, args, env=env, catch_exceptions=False)
    return outcome.exit_code, json.loads(outcome.stdout), outcome.stderr


def test_cli_wrong_secret_is_a_structured_error_exit_1(
    kms_url: str, admin: AdminIdentity, tmp_path: Path
) -> None:
    params = write_json(
        tmp_path / "in.json",
        {
            "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "Policy": policy_for(admin.arn),
            "region": "us-east-1",
        },
    )
    code, result, _ = _cli(
        [
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            params,
            "--endpoint-url",
            kms_url,
            "--caller-arn",
            admin.arn,
            "--backup-dir",
            str(tmp_path),
        ],
        env={"AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": "not-the-secret-at-all"},
    )
    assert code == 1
    assert result["ok"] is False
    assert result["error"]["code"] == "SignatureDoesNotMatch"  # from GetKeyPolicy: nothing was changed


def test_cli_unknown_key_is_not_found_exit_1(kms_url: str, admin: AdminIdentity, tmp_path: Path) -> None:
    params = write_json(
        tmp_path / "in.json",
        {"KeyId": "0000abcd-12ab-34cd-56ef-1234567890ab", "Policy": policy_for(admin.arn)},
    )
    code, result, _ = _cli(
        [
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            params,
            "--endpoint-url",
            kms_url,
            "--region",
            "us-east-1",
            "--force",
            "--backup-dir",
            str(tmp_path),
        ],
        env={"AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": admin.secret_access_key},
    )
    assert code == 1
    assert result["statusCode"] == 400
    assert result["error"]["code"] == "NotFoundException"
    assert result["error"]["retryable"] is False


def test_temporary_credentials_sign_the_session_token(
    local_client: Callable[..., Client], role_session: TemporaryCredentials, new_key: str
) -> None:
    signer = signer_for(
        role_session.access_key_id, role_session.secret_access_key, role_session.session_token
    )
    client = local_client(signer=signer)
    assert client.caller_arn() == role_session.arn  # sts:GetCallerIdentity through our own code
    policy = policy_for(f"arn:aws:iam::{ACCOUNT}:role/test-role")
    result = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": policy})
    assert result.ok, result.to_json()
    assert result.request is not None
    assert result.request.headers["X-Amz-Security-Token"] == "<redacted>"
    assert "x-amz-security-token" in result.request.headers["Authorization"]
    wrong = local_client(
        signer=signer_for(role_session.access_key_id, role_session.secret_access_key, "WRONG")
    )
    refused = wrong.test_request("kms.GetKeyPolicy", {"KeyId": new_key})
    assert refused.statusCode == 403
    assert not refused.ok


def test_task_file_runs_exactly_as_configured(
    kms_url: str, admin: AdminIdentity, new_key: str, tmp_path: Path
) -> None:
    task = {
        "type": "Http",
        "httpRequest": {
            "url": "https://kms.${$.region}.amazonaws.com/",
            "method": "POST",
            "headers": {
                "X-Amz-Target": "TrentService.GetKeyPolicy",
                "Content-Type": "application/x-amz-json-1.1",
            },
            "body": {"KeyId": "${$.key}", "PolicyName": "default"},
        },
        "retry": {"intervalSeconds": 0, "maxAttempts": 1, "backoffRate": 1},
        "connectionTimeoutSeconds": 2,
        "readTimeoutSeconds": 3,
    }
    workflow = {
        "name": "wf",
        "startTask": "Read",
        "tasks": {"Read": {**task, "end": True}, "Other": {"type": "Simple", "end": True}},
    }
    code, result, _ = _cli(
        [
            "test-request",
            "--task",
            write_json(tmp_path / "wf.json", workflow),
            "--task-name",
            "Read",
            "--input",
            write_json(tmp_path / "in.json", {"region": "us-east-1", "key": new_key}),
            "--endpoint-url",
            kms_url,
        ],
        env={"AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": admin.secret_access_key},
    )
    assert code == 0, result
    assert json.loads(result["body"]["Policy"])["Version"] == "2012-10-17"
    assert result["request"]["body"] == {"KeyId": new_key, "PolicyName": "default"}
