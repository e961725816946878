"""Issue 12, items 6-8: the write is read back until KMS shows it, and nothing is lost silently.

Against moto through :class:`kmsproxy.KmsProxy`, which answers GetKeyPolicy as KMS does
(re-serialised, reordered) and, when scripted, with the old policy (not visible yet) or a
third one (someone else's change). The loop itself is tested with a scripted reader and an
injected clock and sleep: no real waiting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ACCOUNT, KEY_ID, policy_for, write_json
from faultserver import FaultServer, ok, stall
from kmsproxy import OLD, KmsProxy, kms_style

from http_task_kms import Client
from http_task_kms.cli import main
from http_task_kms.errors import Interrupted
from http_task_kms.kms.local import AdminIdentity
from http_task_kms.kms.policy.diff import equivalent
from http_task_kms.kms.verify import Verification, VerifySettings, verify_policy
from http_task_kms.result import ErrorDetail, TestRequestResult

ROLE = f"arn:aws:iam::{ACCOUNT}:role/test-role"
#: Fast verification settings for tests against the local KMS (real, short waits).
FAST = {"verify_interval": 0.05, "verify_timeout": 2.0}
THIRD = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "SomeoneElse",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def _policy(admin: AdminIdentity) -> dict[str, Any]:
    """A policy with lists to reorder: actions, principals and condition values."""
    policy = policy_for(admin.arn)
    policy["Statement"].append(
        {
            "Sid": "Use",
            "Effect": "Allow",
            "Principal": {"AWS": [ROLE, admin.arn]},
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": ["s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"]
                }
            },
        }
    )
    return policy


@pytest.fixture
def proxy(kms_url: str) -> Iterator[KmsProxy]:
    """The re-serialising proxy in front of the local KMS."""
    with KmsProxy(kms_url) as running:
        yield running


@pytest.fixture
def via_proxy(local_client: Callable[..., Client], proxy: KmsProxy) -> Callable[..., Client]:
    """A client of the local KMS through the proxy, with fast verification settings."""

    def make(**plugin_options: Any) -> Client:
        return local_client(endpoint_url=proxy.url, plugin_options={**FAST, **plugin_options})

    return make


def _put(client: Client, key: str, policy: Any) -> dict[str, Any]:
    document: dict[str, Any] = client.test_request(
        "kms.PutKeyPolicy", {"KeyId": key, "Policy": policy}
    ).to_json()
    return document


def _cli(args: list[str], admin: AdminIdentity) -> tuple[int, dict[str, Any]]:
    env = {"AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": admin.secret_access_key}
    outcome = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return outcome.exit_code, json.loads(outcome.stdout)


# -- against moto, through the re-serialising proxy ------------------------------------------------
@pytest.mark.integration
def test_against_moto_itself_the_result_shows_the_verification(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity
) -> None:
    result = _put(local_client(), new_key, _policy(admin))
    assert result["ok"] is True, result
    assert result["verification"]["verified"] is True
    assert result["verification"]["reads"] == 2
    assert result["verification"]["reason"] == "read back as sent 2 times in a row, 0.05 s apart"


@pytest.mark.integration
def test_the_proxy_answers_like_kms_not_like_moto(
    via_proxy: Callable[..., Client], new_key: str, admin: AdminIdentity
) -> None:
    policy = _policy(admin)
    assert _put(via_proxy(), new_key, policy)["sent"] is True
    first, second = (
        via_proxy().test_request("kms.GetKeyPolicy", {"KeyId": new_key}).body["Policy"] for _ in range(2)
    )
    assert '"Version" : "2012-10-17"' in first
    assert first != second  # reordered between calls
    assert json.loads(first) != policy
    assert json.loads(first)["Statement"] != policy["Statement"]


@pytest.mark.integration
def test_a_reserialised_and_reordered_read_back_is_verified_after_two_reads(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity
) -> None:
    result = _put(via_proxy(), new_key, _policy(admin))
    assert result["ok"] is True, result
    verification = result["verification"]
    assert verification["verified"] is True, verification
    assert verification["reads"] == 2
    assert set(verification) == {"verified", "reads", "elapsedMs", "reason"}
    assert verification["elapsedMs"] >= 50  # two reads 0.05 s apart
    assert proxy.reads_after_put() == 2


@pytest.mark.integration
def test_reads_showing_the_old_policy_mean_not_visible_yet(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity
) -> None:
    proxy.after_put(OLD, OLD, OLD)
    result = _put(via_proxy(), new_key, _policy(admin))
    assert result["ok"] is True, result
    assert result["error"] is None
    assert result["verification"]["verified"] is True
    assert result["verification"]["reads"] == 5  # three stale reads, then two in a row
    assert "3" in result["verification"]["reason"]  # says how many reads were stale
    assert proxy.reads_after_put() == 5


@pytest.mark.integration
def test_a_third_policy_is_a_change_by_someone_else(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity
) -> None:
    proxy.after_put(OLD, THIRD)
    result = _put(via_proxy(), new_key, _policy(admin))
    assert result["ok"] is False
    assert result["statusCode"] == 200  # the write itself succeeded
    assert result["sent"] is True
    assert result["error"]["code"] == "VerificationFailed"
    assert result["error"]["retryable"] is False
    assert "changed by someone else" in result["error"]["message"]
    verification = result["verification"]
    assert verification["verified"] is False
    assert verification["reads"] == 2  # it stopped at the third policy
    assert "changed by someone else" in verification["reason"]
    assert proxy.reads_after_put() == 2
    assert Path(result["backupFile"]).is_file()  # the policy before the write is still backed up


@pytest.mark.integration
def test_a_policy_that_stays_old_is_not_verified_within_the_timeout(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity
) -> None:
    proxy.after_put(then=OLD)
    started = time.monotonic()
    result = _put(via_proxy(verify_timeout=0.3), new_key, _policy(admin))
    assert time.monotonic() - started < 0.3 + 1.5
    assert result["ok"] is False
    assert result["statusCode"] == 200
    assert result["error"]["code"] == "VerificationFailed"
    verification = result["verification"]
    assert verification["verified"] is False
    assert "0.3 s" in verification["reason"]
    assert "previous policy" in verification["reason"]
    assert verification["elapsedMs"] < 300 + 200  # no read starts after the timeout
    assert verification["reads"] >= 2  # read again after a stale answer (how often: the machine's speed)


@pytest.mark.integration
def test_no_verify_reads_nothing_after_the_write(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity
) -> None:
    result = _put(via_proxy(no_verify=True), new_key, _policy(admin))
    assert result["ok"] is True
    assert result["verification"] == {
        "verified": None,
        "reads": 0,
        "elapsedMs": 0.0,
        "reason": "skipped (--no-verify)",
    }
    assert proxy.reads_after_put() == 0
    assert proxy.seen[-1] == "PutKeyPolicy"


@pytest.mark.integration
def test_the_one_read_comes_right_before_the_write_and_the_preflight_before_it(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity
) -> None:
    _put(via_proxy(), new_key, _policy(admin))
    assert proxy.seen == ["GetCallerIdentity", "GetKeyPolicy", "PutKeyPolicy", "GetKeyPolicy", "GetKeyPolicy"]


@pytest.mark.integration
def test_force_without_a_readable_policy_says_loudly_that_no_backup_exists(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity, tmp_path: Path
) -> None:
    proxy.deny_reads(1)  # the read before the write only
    result = _put(via_proxy(force=True, backup_dir=str(tmp_path / "b")), new_key, _policy(admin))
    assert result["ok"] is True, result
    assert result["sent"] is True
    assert result["backupFile"] is None
    warning = next(w for w in result["warnings"] if w["code"] == "NO_BACKUP")
    assert warning["severity"] == "SECURITY_WARNING"
    assert warning["message"].startswith("no backup of the previous policy exists: GetKeyPolicy was denied")
    assert "AccessDeniedException" in warning["message"]
    assert "cannot be rolled back from a file" in warning["message"]
    assert not (tmp_path / "b").exists()
    assert result["verification"]["verified"] is True  # read back: only the new policy is known


@pytest.mark.integration
def test_the_cli_shows_the_verification_and_exits_1_when_it_fails(
    proxy: KmsProxy, new_key: str, admin: AdminIdentity, tmp_path: Path
) -> None:
    params = write_json(
        tmp_path / "in.json", {"region": "us-east-1", "KeyId": new_key, "Policy": _policy(admin)}
    )
    base = ["test-request", "kms.PutKeyPolicy", "--input", params, "--endpoint-url", proxy.url]
    base += ["--backup-dir", str(tmp_path / "b"), "--verify-interval", "0.05", "--verify-timeout", "2"]
    code, result = _cli([*base, "--verify-reads", "3"], admin)
    assert code == 0, result
    assert result["verification"]["verified"] is True
    assert result["verification"]["reads"] == 3
    proxy.after_put(then=THIRD)
    code, result = _cli([*base, "--force"], admin)
    assert code == 1
    assert result["statusCode"] == 200
    assert result["error"]["code"] == "VerificationFailed"
    assert "changed by someone else" in result["verification"]["reason"]
    code, result = _cli([*base, "--force", "--no-verify"], admin)
    assert code == 0
    assert result["verification"]["verified"] is None


@pytest.mark.integration
def test_rollback_verifies_too_and_takes_the_options(
    via_proxy: Callable[..., Client], proxy: KmsProxy, new_key: str, admin: AdminIdentity, tmp_path: Path
) -> None:
    changed = _put(via_proxy(backup_dir=str(tmp_path / "b")), new_key, _policy(admin))
    args = [
        "rollback",
        changed["backupFile"],
        "--endpoint-url",
        proxy.url,
        "--backup-dir",
        str(tmp_path / "b2"),
    ]
    code, result = _cli([*args, "--verify-interval", "0.05", "--verify-reads", "2"], admin)
    assert code == 0, result
    assert result["verification"]["verified"] is True
    assert result["verification"]["reads"] == 2
    assert proxy.reads_after_put() == 2


# -- the loop, with a scripted reader and an injected clock: no real waiting ----------------------
SENT = json.dumps(policy_for(f"arn:aws:iam::{ACCOUNT}:user/admin"))
PREVIOUS = json.dumps(policy_for())


class _Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _answer(policy: Any) -> TestRequestResult:
    text = policy if isinstance(policy, str) else json.dumps(policy)
    return TestRequestResult(ok=True, statusCode=200, body={"Policy": text})


def _failure(code: str, *, retryable: bool) -> TestRequestResult:
    return TestRequestResult(
        ok=False,
        statusCode=400 if not retryable else 500,
        error=ErrorDetail(code=code, message="…", retryable=retryable),
    )


def _run(
    answers: list[TestRequestResult],
    *,
    previous: str | None = PREVIOUS,
    settings: VerifySettings | None = None,
) -> tuple[Verification, _Clock, list[TestRequestResult]]:
    clock, script = _Clock(), list(answers)

    def read() -> TestRequestResult:
        return script.pop(0) if len(script) > 1 else script[0]

    verification = verify_policy(
        read,
        sent=SENT,
        previous=previous,
        settings=settings or VerifySettings(),
        sleep=clock.sleep,
        clock=lambda: clock.now,
    )
    return verification, clock, script


def test_two_equivalent_reads_in_a_row_half_a_second_apart_verify() -> None:
    verification, clock, _ = _run([_answer(kms_style(SENT, 1)), _answer(kms_style(SENT, 2))])
    assert verification == Verification(
        verified=True, reads=2, elapsedMs=500.0, reason="read back as sent 2 times in a row, 0.5 s apart"
    )
    assert clock.slept == [0.5]


def test_an_old_read_starts_the_count_over() -> None:
    new, old = _answer(kms_style(SENT)), _answer(kms_style(PREVIOUS))
    verification, clock, _ = _run([new, old, new, old, new, new])
    assert verification.verified is True
    assert verification.reads == 6
    assert "after 2 reads not showing it yet" in verification.reason
    assert clock.slept == [0.5] * 5


def test_a_third_policy_stops_at_once() -> None:
    verification, clock, _ = _run([_answer(PREVIOUS), _answer(THIRD), _answer(SENT)])
    assert verification.verified is False
    assert verification.reads == 2
    assert verification.reason.startswith("changed by someone else: read 2 ")
    assert "0 added, 1 removed, 1 modified" in verification.reason
    assert clock.slept == [0.5]


def test_a_policy_that_stays_old_times_out_without_reading_past_the_timeout() -> None:
    settings = VerifySettings(reads=2, interval=0.5, timeout=3.0)
    verification, clock, _ = _run([_answer(PREVIOUS)], settings=settings)
    assert verification.verified is False
    assert verification.reads == 7  # at 0, 0.5 … 3.0 s
    assert verification.elapsedMs == 3000.0
    assert (
        verification.reason
        == "not verified within 3 s (7 reads): the last read still showed the previous policy"
    )
    assert sum(clock.slept) <= 3.0


def test_one_read_short_of_the_count_at_the_timeout_says_so() -> None:
    settings = VerifySettings(reads=3, interval=1.0, timeout=1.0)
    verification, _, _ = _run([_answer(PREVIOUS), _answer(SENT)], settings=settings)
    assert verification.verified is False
    assert verification.reason.endswith("only 1 of 3 reads in a row showed it")


def test_a_retryable_failed_read_is_read_again_and_another_stops() -> None:
    verification, _, _ = _run([_failure("ThrottlingException", retryable=True), _answer(SENT), _answer(SENT)])
    assert verification.verified is True
    assert verification.reads == 3
    verification, _, _ = _run([_failure("AccessDeniedException", retryable=False), _answer(SENT)])
    assert verification.verified is False
    assert verification.reads == 1
    assert (
        verification.reason
        == "could not read the policy back: GetKeyPolicy failed (AccessDeniedException: …)"
    )
    settings = VerifySettings(timeout=1.0)
    verification, _, _ = _run([_failure("KMSInternalException", retryable=True)], settings=settings)
    assert verification.reason.endswith("the last read failed (KMSInternalException: …)")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (TestRequestResult(ok=True, statusCode=200, body=None), "GetKeyPolicy answered without a policy"),
        (_answer("<html>"), "the policy read back is not a key policy"),
        (_answer("[1]"), "the policy read back is not a key policy"),
    ],
)
def test_an_answer_that_is_no_policy_stops(answer: TestRequestResult, reason: str) -> None:
    verification, _, _ = _run([answer])
    assert verification.verified is False
    assert reason in verification.reason


def test_with_the_previous_policy_unknown_another_policy_means_not_yet() -> None:
    verification, _, _ = _run([_answer(THIRD), _answer(SENT), _answer(SENT)], previous=None)
    assert verification.verified is True
    assert verification.reads == 3


def test_a_forced_resend_of_the_same_policy_is_verified() -> None:
    verification, _, _ = _run([_answer(kms_style(SENT))], previous=SENT)
    assert (verification.verified, verification.reads) == (True, 2)


def test_one_read_and_no_timeout_are_allowed() -> None:
    verification, clock, _ = _run([_answer(SENT)], settings=VerifySettings(reads=1, interval=0.5, timeout=0))
    assert (verification.verified, verification.reads, clock.slept) == (True, 1, [])
    assert verification.reason == "read back as sent 1 time in a row"
    verification, clock, _ = _run([_answer(PREVIOUS)], settings=VerifySettings(reads=1, timeout=0))
    assert (verification.verified, verification.reads, clock.slept) == (False, 1, [])


def test_settings_come_from_the_options() -> None:
    assert VerifySettings.from_options({}) == VerifySettings(reads=2, interval=0.5, timeout=30.0)
    given = {"verify_reads": 4, "verify_interval": 0.1, "verify_timeout": 5}
    assert VerifySettings.from_options(given) == VerifySettings(reads=4, interval=0.1, timeout=5.0)


def test_an_interrupt_while_reading_back_says_what_was_seen() -> None:
    calls = [0]

    def read() -> TestRequestResult:
        calls[0] += 1
        if calls[0] == 2:
            raise Interrupted(2, "SIGINT")
        return _answer(SENT)

    with pytest.raises(Interrupted) as caught:
        verify_policy(read, sent=SENT, previous=PREVIOUS, settings=VerifySettings(), sleep=lambda s: None)
    shown = caught.value.details["verification"]
    assert shown["verified"] is None
    assert shown["reads"] == 1
    assert "interrupted" in shown["reason"]


# -- what counts as the same policy: KMS's re-serialisation and reordering, not unique IDs ---------
KMS_SHOWN = """{
  "Version" : "2012-10-17",
  "Id" : "key-consolepolicy-3",
  "Statement" : [ {
    "Sid" : "Allow use of the key",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : [ "arn:aws:iam::123456789012:user/bob", "arn:aws:iam::123456789012:role/app" ]
    },
    "Action" : [ "kms:ReEncrypt*", "kms:Encrypt", "kms:Decrypt" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:ViaService" : [ "s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com" ]
      }
    }
  }, {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::123456789012:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""
SENT_TEXT = json.dumps(
    {
        "Id": "key-consolepolicy-3",
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "123456789012"},
                "Action": ["kms:*"],
                "Resource": "*",
            },
            {
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": ["ec2.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"]
                    }
                },
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*"],
                "Principal": {
                    "AWS": ["arn:aws:iam::123456789012:role/app", "arn:aws:iam::123456789012:user/bob"]
                },
                "Effect": "Allow",
                "Sid": "Allow use of the key",
            },
        ],
    },
    separators=(",", ":"),
)


def test_kms_reserialisation_and_reordering_are_equivalent() -> None:
    assert KMS_SHOWN != SENT_TEXT
    assert equivalent(SENT_TEXT, KMS_SHOWN)
    for turn in range(6):
        assert equivalent(SENT_TEXT, kms_style(SENT_TEXT, turn))


def test_a_deleted_principal_shown_as_its_unique_id_is_a_real_difference() -> None:
    deleted = KMS_SHOWN.replace("arn:aws:iam::123456789012:user/bob", "AIDAJQABLZS4A3QDU576Q")
    assert not equivalent(SENT_TEXT, deleted)
    verification, _, _ = _run([_answer(deleted)], previous=PREVIOUS)
    assert verification.reason.startswith("changed by someone else")


def test_a_signal_while_reading_back_says_the_write_was_made(tmp_path: Path) -> None:
    """SIGTERM during the verification: the outcome is known (written), the backup is kept."""
    caller = f"arn:aws:iam::{ACCOUNT}:user/admin"
    older = json.dumps(policy_for(caller, f"arn:aws:iam::{ACCOUNT}:role/Old"))
    params = write_json(
        tmp_path / "in.json", {"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy_for(caller)}
    )
    with FaultServer(default=stall(30)) as server:
        server.push(ok({"Policy": older}), ok(None))  # GetKeyPolicy, PutKeyPolicy; then reads stall
        command = [sys.executable, "-c", "from http_task_kms.cli import run; run()", "test-request"]
        command += [
            "kms.PutKeyPolicy",
            "--input",
            params,
            "--endpoint-url",
            server.url,
            "--caller-arn",
            caller,
        ]
        command += ["--backup-dir", str(tmp_path / "b"), "--read-timeout", "20"]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "AWS_ACCESS_KEY_ID": "AKIDVERIFY0000000001",
            "AWS_SECRET_ACCESS_KEY": "verify-secret-verify-secret-verify-0000",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            assert server.wait_until(lambda s: s.count >= 3, timeout=20)  # the first read back
            time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=10)
        finally:
            process.kill()
    assert process.returncode == 143, stderr
    targets = [r.header("X-Amz-Target") for r in server.received]
    assert targets == [f"TrentService.{op}" for op in ("GetKeyPolicy", "PutKeyPolicy", "GetKeyPolicy")]
    result = json.loads(stdout)
    assert result["error"]["code"] == "Interrupted"
    assert result["outcome"] == "written"
    assert result["verification"]["verified"] is None
    assert "interrupted" in result["verification"]["reason"]
    assert Path(result["backupFile"]).is_file()
