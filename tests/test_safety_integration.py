"""Issue 4 against moto: backup, diff, no-op, rollback, and a lockout FAIL that sends nothing."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from conftest import ACCOUNT, policy_for

from http_task_kms import Client
from http_task_kms.cli import main
from http_task_kms.kms.backup import BACKUP_FORMAT, read_backup
from http_task_kms.kms.local import AdminIdentity
from http_task_kms.kms.safety import send_with_principal_wait
from http_task_kms.result import ErrorDetail, TestRequestResult

pytestmark = pytest.mark.integration


def _stored(client: Client, key_id: str) -> str:
    result = client.test_request("kms.GetKeyPolicy", {"KeyId": key_id})
    assert result.ok, result.to_json()
    text: str = result.body["Policy"]
    return text


def test_previous_policy_is_backed_up_and_diffed(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity, tmp_path: Path
) -> None:
    client = local_client(plugin_options={"backup_dir": str(tmp_path / "b")})
    original = _stored(client, new_key)
    result = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": policy_for(admin.arn)})
    assert result.ok, result.to_json()
    extra = result.to_json()
    assert extra["changed"] is True
    assert extra["sent"] is True
    assert extra["previousPolicy"] == json.loads(original)
    assert [s["Sid"] for s in extra["diff"]["added"]] == ["Admin0"]
    assert extra["diff"]["removed"] == []
    assert extra["diff"]["modified"] == []
    backup = Path(extra["backupFile"])
    assert backup.parent == tmp_path / "b"
    assert new_key in backup.name
    assert "us-east-1" in backup.name
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    saved = read_backup(backup)
    assert saved["format"] == BACKUP_FORMAT
    assert saved["policy"] == original
    assert saved["keyId"] == new_key


def test_equivalent_policy_is_not_sent_unless_forced(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity, tmp_path: Path
) -> None:
    client = local_client(plugin_options={"backup_dir": str(tmp_path)})
    policy = policy_for(admin.arn)
    assert client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": policy}).ok
    backups = set(tmp_path.iterdir())
    # Same meaning, other spelling: statement order, one-element lists, account ID for its root ARN.
    same = {
        "Version": "2012-10-17",
        "Statement": [
            {**policy["Statement"][1], "Action": ["kms:*"]},
            {**policy["Statement"][0], "Principal": {"AWS": ACCOUNT}},
        ],
    }
    skipped = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": same})
    data = skipped.to_json()
    assert skipped.ok
    assert data["changed"] is False
    assert data["sent"] is False
    assert skipped.attempts == 0
    assert set(tmp_path.iterdir()) == backups  # nothing sent, nothing backed up
    assert _stored(client, new_key) == json.dumps(policy, separators=(",", ":"))
    forced = local_client(plugin_options={"backup_dir": str(tmp_path), "force": True})
    result = forced.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": same})
    assert result.ok
    assert result.to_json()["sent"] is True
    assert _stored(client, new_key) == json.dumps(same, separators=(",", ":"))


def test_lockout_fail_sends_nothing(
    local_client: Callable[..., Client], new_key: str, tmp_path: Path
) -> None:
    client = local_client(plugin_options={"backup_dir": str(tmp_path)})
    before = _stored(client, new_key)
    other_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlySomeoneElse",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    result = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": other_only})
    assert not result.ok
    assert result.statusCode is None
    assert result.attempts == 0
    assert result.error is not None
    assert result.error.problems
    problem = result.error.problems[0]
    assert problem.field == "Policy"
    assert "LOCKOUT_FAIL" in problem.message
    assert "lock" in problem.message
    assert _stored(client, new_key) == before
    assert list(tmp_path.iterdir()) == []


def test_lockout_bypass_sends_with_a_loud_warning(
    local_client: Callable[..., Client], new_key: str, tmp_path: Path
) -> None:
    client = local_client(plugin_options={"backup_dir": str(tmp_path)})
    other_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    result = client.test_request(
        "kms.PutKeyPolicy", {"KeyId": new_key, "Policy": other_only, "BypassPolicyLockoutSafetyCheck": True}
    )
    assert result.ok
    assert [w["code"] for w in result.warnings] == ["LOCKOUT_BYPASSED"]
    assert result.warnings[0]["message"].startswith("LOCKOUT RISK")


def test_cross_account_key_arn_is_refused_before_sending(
    local_client: Callable[..., Client], tmp_path: Path
) -> None:
    client = local_client()
    key_arn = "arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    result = client.test_request("kms.PutKeyPolicy", {"KeyId": key_arn, "Policy": policy_for()})
    assert result.error is not None
    assert result.error.code == "ValidationError"
    assert result.error.problems is not None
    assert any("CROSS_ACCOUNT" in p.message and p.field == "KeyId" for p in result.error.problems)


def test_rollback_restores_the_backup(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity, kms_url: str, tmp_path: Path
) -> None:
    client = local_client(plugin_options={"backup_dir": str(tmp_path / "b")})
    original = _stored(client, new_key)
    changed = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": policy_for(admin.arn)})
    backup = changed.to_json()["backupFile"]
    outcome = CliRunner().invoke(
        main,
        ["rollback", backup, "--endpoint-url", kms_url, "--backup-dir", str(tmp_path / "b2")],
        env={"AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": admin.secret_access_key},
        catch_exceptions=False,
    )
    assert outcome.exit_code == 0, outcome.stdout
    result = json.loads(outcome.stdout)
    assert result["changed"] is True
    assert result["previousPolicy"] == policy_for(admin.arn)
    assert _stored(client, new_key) == original
    assert len(list((tmp_path / "b2").iterdir())) == 1  # the replaced policy was backed up too


class _Scripted:
    """A stand-in for Client.send that answers from a script (principal-wait logic only)."""

    def __init__(self, answers: list[TestRequestResult]) -> None:
        self.answers = answers
        self.sent = 0

    def send(self, request: Any) -> TestRequestResult:
        self.sent += 1
        return self.answers.pop(0).model_copy(deep=True)


def _malformed(message: str) -> TestRequestResult:
    return TestRequestResult(
        ok=False,
        statusCode=400,
        attempts=1,
        error=ErrorDetail(code="MalformedPolicyDocumentException", message=message),
    )


class _Request:
    body: ClassVar[dict[str, str]] = {
        "Policy": json.dumps(policy_for(f"arn:aws:iam::{ACCOUNT}:role/just-created"))
    }


def test_principal_wait_retries_an_invisible_new_principal_then_succeeds() -> None:
    script = _Scripted(
        [
            _malformed("Policy contains a statement with one or more invalid principals."),
            _malformed("Policy contains a statement with one or more invalid principals."),
            TestRequestResult(ok=True, statusCode=200, attempts=1),
        ]
    )
    slept: list[float] = []
    result = send_with_principal_wait(
        script,
        _Request(),
        wait_seconds=120,
        sleep=slept.append,  # type: ignore[arg-type]
        clock=lambda: 0.0,
    )
    assert result.ok
    assert result.attempts == 3
    assert slept == [2.0, 4.0]


@pytest.mark.parametrize(
    ("message", "policy_principal"),
    [
        ("The new key policy will not allow you to update the key policy in the future.", "role/x"),
        (
            "Policy contains a statement with one or more invalid principals.",
            "role/x*",
        ),  # malformed: permanent
        ("The policy is not syntactically correct.", "role/x"),
    ],
)
def test_principal_wait_never_retries_what_cannot_succeed(message: str, policy_principal: str) -> None:
    request = type(
        "R", (), {"body": {"Policy": json.dumps(policy_for(f"arn:aws:iam::{ACCOUNT}:{policy_principal}"))}}
    )()
    script = _Scripted([_malformed(message), TestRequestResult(ok=True, statusCode=200, attempts=1)])
    result = send_with_principal_wait(
        script, request, wait_seconds=120, sleep=lambda s: None, clock=lambda: 0.0
    )  # type: ignore[arg-type]
    assert not result.ok
    assert script.sent == 1


def test_principal_wait_is_bounded() -> None:
    now = [0.0]
    script = _Scripted([_malformed("invalid principals")] * 50)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    result = send_with_principal_wait(script, _Request(), wait_seconds=10, sleep=sleep, clock=lambda: now[0])  # type: ignore[arg-type]
    assert not result.ok
    assert now[0] <= 10
    assert script.sent == 4
    assert result.error is not None
    assert "waiting 10 s" in result.error.message
    disabled = _Scripted([_malformed("invalid principals")])
    assert not send_with_principal_wait(disabled, _Request(), wait_seconds=0, sleep=sleep).ok  # type: ignore[arg-type]
    assert disabled.sent == 1
