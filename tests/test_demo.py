"""`http-task-kms demo` from a fresh process: the README's first command, minus the install."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_puts_and_reads_back_the_policy() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from http_task_kms.cli import run; run()", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # exactly one JSON document
    assert result["ok"] is True
    assert result["roundTrip"] is True
    put, got = result["putKeyPolicy"], result["getKeyPolicy"]
    assert put["statusCode"] == 200
    assert put["changed"] is True
    assert put["sent"] is True
    assert put["request"]["headers"]["Authorization"].endswith("Signature=<redacted>")
    assert put["previousPolicy"]["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert json.loads(got["body"]["Policy"]) == result["policyReadBack"]
    assert [s["Sid"] for s in result["policyReadBack"]["Statement"]] == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
    ]
    assert "Traceback" not in done.stderr
