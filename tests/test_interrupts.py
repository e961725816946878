"""SIGINT / SIGTERM during a send: one JSON result, the outcome unknown, the backup kept whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import KEY_ID, policy_for, write_json
from faultserver import FaultServer, Received, by_target, check, ok, stall

from http_task_kms import schemas
from http_task_kms.kms import schemas as kms_schemas

CALLER = "arn:aws:iam::123456789012:user/admin"
STS_OK = (
    "<GetCallerIdentityResponse><GetCallerIdentityResult>"
    f"<Arn>{CALLER}</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>"
)


def _is_sts(received: Received) -> bool:
    return b"Action=GetCallerIdentity" in received.body


def _answers() -> object:
    older = json.dumps(policy_for(CALLER, "arn:aws:iam::123456789012:role/Old"))
    return check(
        _is_sts,
        ok(STS_OK.encode(), headers={"Content-Type": "text/xml"}),
        by_target({"GetKeyPolicy": ok({"Policy": older})}, stall(30)),
    )


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_send_gives_one_result_and_keeps_the_backup(
    tmp_path: Path, signum: int, exit_code: int
) -> None:
    params = write_json(
        tmp_path / "in.json", {"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy_for(CALLER)}
    )
    backups = tmp_path / "backups"
    with FaultServer(default=_answers()) as server:  # type: ignore[arg-type]
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from http_task_kms.cli import run; run()",
                "test-request",
                "kms.PutKeyPolicy",
                "--input",
                params,
                "--endpoint-url",
                server.url,
                "--backup-dir",
                str(backups),
                "--read-timeout",
                "20",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(tmp_path),
                "AWS_ACCESS_KEY_ID": "AKIDINTERRUPT0000001",
                "AWS_SECRET_ACCESS_KEY": "interrupt-secret-interrupt-secret-0000",
                "AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            },
        )
        try:
            sent = server.wait_until(
                lambda s: any(r.header("X-Amz-Target") == "TrentService.PutKeyPolicy" for r in s.received),
                timeout=20,
            )
            assert sent, process.stderr.read() if process.stderr else ""
            time.sleep(0.2)  # the client is now waiting for the answer
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=10)
        finally:
            process.kill()
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    result = json.loads(stdout)  # exactly one JSON document
    assert result["ok"] is False
    assert result["error"]["code"] == "Interrupted"
    assert result["outcome"] == "unknown"
    schemas.validator(f"{kms_schemas.OUTPUT_ID}#/$defs/test-request", kms_schemas.document()).validate(result)
    backup = Path(result["backupFile"])
    assert backup.parent == backups
    assert json.loads(backup.read_text())["keyId"] == KEY_ID  # written whole before the send
    assert [p.name for p in backups.iterdir()] == [backup.name]  # no partial or temporary file


def test_a_backup_that_cannot_be_written_whole_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from http_task_kms.kms import backup as safety

    def broken_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safety.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        safety.write_backup(tmp_path, key_id=KEY_ID, region="us-east-1", policy="{}", endpoint="https://x/")
    assert list(tmp_path.iterdir()) == []
