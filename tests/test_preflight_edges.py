"""Edges of the pre-flight step: nothing is sent for bad input, and every refusal is JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import KEY_ID, policy_for, write_json
from faultserver import FaultServer, aws_error, ok

from http_task_kms.cli import main

CALLER = "arn:aws:iam::123456789012:user/admin"
STS_OK = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    f"<Arn>{CALLER}</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>"
    "</GetCallerIdentityResult></GetCallerIdentityResponse>"
)
ENV = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret-value"}


def _cli(*args: str, stdin: str | None = None) -> tuple[int, Any, str]:
    outcome = CliRunner().invoke(main, list(args), env=ENV, input=stdin, catch_exceptions=False)
    return outcome.exit_code, json.loads(outcome.stdout), outcome.stderr


def _run(*args: str) -> tuple[int, Any, str]:
    """The console script (``run``) in a fresh process: usage errors included."""
    done = subprocess.run(
        [sys.executable, "-c", "from http_task_kms.cli import run; run()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **ENV},
    )
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture
def input_file(tmp_path: Path) -> str:
    """Valid PutKeyPolicy input parameters."""
    return write_json(
        tmp_path / "in.json", {"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy_for(CALLER)}
    )


def test_render_is_a_dry_run_even_for_the_caller_lookup(input_file: str) -> None:
    with FaultServer(default=ok(STS_OK)) as server:
        code, result, stderr = _cli(
            "render", "kms.PutKeyPolicy", "--input", input_file, "--endpoint-url", server.url
        )
        assert server.received == []  # not even sts:GetCallerIdentity
    assert code == 0
    assert [w["code"] for w in result["warnings"]] == ["LOCKOUT_NOT_CHECKED"]
    assert "dry run" in stderr


def test_test_request_looks_the_caller_up_at_the_same_endpoint(input_file: str, tmp_path: Path) -> None:
    with FaultServer() as server:
        server.push(ok(STS_OK), ok({"Policy": json.dumps(policy_for(CALLER))}))
        code, result, _ = _cli(
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            input_file,
            "--endpoint-url",
            server.url,
            "--backup-dir",
            str(tmp_path),
        )
        actions = [r.body.decode()[:40] if r.body else r.header("X-Amz-Target") for r in server.received]
    assert code == 0, result
    assert "Action=GetCallerIdentity" in actions[0]
    assert result["changed"] is False  # the same policy: GetKeyPolicy, then nothing more
    assert len(actions) == 2


def test_a_failed_caller_lookup_blocks_test_request_and_sends_nothing_more(
    input_file: str, tmp_path: Path
) -> None:
    with FaultServer(default=aws_error("AccessDenied", "no", status=403)) as server:
        code, result, _ = _cli(
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            input_file,
            "--endpoint-url",
            server.url,
            "--backup-dir",
            str(tmp_path),
            "--max-attempts",
            "1",
        )
        targets = [r.header("X-Amz-Target") for r in server.received]
    assert code == 1  # a request was sent (sts:GetCallerIdentity) and failed: not bad input
    assert result["error"]["step"] == "GetCallerIdentity"
    assert result["error"]["code"] == "AccessDenied"
    assert result["statusCode"] is None
    assert "TrentService.PutKeyPolicy" not in targets
    assert "TrentService.GetKeyPolicy" not in targets


def test_an_unparsable_caller_arn_is_an_error_not_a_skipped_check(input_file: str) -> None:
    code, result, _ = _cli("render", "kms.PutKeyPolicy", "--input", input_file, "--caller-arn", "not-an-arn")
    assert code == 2
    assert [(p["field"], "CALLER_ARN_INVALID" in p["message"]) for p in result["error"]["problems"]] == [
        ("caller-arn", True)
    ]


def test_sts_endpoint_url_is_checked_like_any_endpoint(input_file: str) -> None:
    code, result, _ = _cli(
        "test-request",
        "kms.PutKeyPolicy",
        "--input",
        input_file,
        "--sts-endpoint-url",
        "http://sts.example.com",
    )
    assert code == 2
    assert result["error"]["problems"][0]["field"] == "sts-endpoint-url"
    assert "loopback" in result["error"]["problems"][0]["message"]


def test_a_password_in_an_endpoint_url_is_never_echoed(input_file: str) -> None:
    code, result, _ = _cli(
        "render",
        "kms.PutKeyPolicy",
        "--input",
        input_file,
        "--endpoint-url",
        "ftp://bob:S3cretPassw0rd@h.example",
        "--caller-arn",
        CALLER,
    )
    assert code == 2
    assert "S3cretPassw0rd" not in json.dumps(result)
    assert result["error"]["problems"][0]["message"] == "must be an http(s) URL with a host, not ftp:"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\nb", "must be one line (no CR, LF or NUL)"),
        (
            "price \u20ac5",
            "holds U+20AC; HTTP header values must be Latin-1 (percent- or base64-encode other text)",
        ),
    ],
)
def test_bad_header_values_are_refused_before_sending(tmp_path: Path, value: str, expected: str) -> None:
    task = {
        "type": "Http",
        "httpRequest": {
            "url": "https://kms.us-east-1.amazonaws.com/",
            "method": "POST",
            "body": {},
            "headers": {"X-Amz-Target": "TrentService.ListKeys", "X-Note": "${$.note}"},
        },
    }
    code, result, _ = _cli(
        "test-request",
        "--task",
        write_json(tmp_path / "t.json", task),
        "--input",
        write_json(tmp_path / "in.json", {"note": value, "region": "us-east-1"}),
    )
    assert code == 2
    assert result["error"]["problems"] == [{"field": "httpRequest.headers.X-Note", "message": expected}]


def test_a_task_url_in_another_region_than_the_region_parameter_is_an_error(tmp_path: Path) -> None:
    task = {
        "type": "Http",
        "httpRequest": {
            "url": "https://kms.eu-west-1.amazonaws.com/",
            "method": "POST",
            "body": {},
            "headers": {"X-Amz-Target": "TrentService.ListKeys"},
        },
    }
    code, result, _ = _cli(
        "render",
        "--task",
        write_json(tmp_path / "t.json", task),
        "--input",
        write_json(tmp_path / "in.json", {"region": "us-east-1"}),
    )
    assert code == 2
    assert result["error"]["problems"][0]["field"] == "httpRequest.url"
    assert "eu-west-1" in result["error"]["problems"][0]["message"]


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("eu-fake-9", "'eu-fake-9' is not a Region of the aws partition"),
        ("us-east-1\n", "'us-east-1\\n' is not a Region of the aws, aws-cn, aws-us-gov partitions"),
    ],
)
def test_unknown_regions_are_refused(tmp_path: Path, region: str, message: str) -> None:
    params = write_json(
        tmp_path / "in.json", {"region": region, "KeyId": KEY_ID, "Policy": policy_for(CALLER)}
    )
    code, result, _ = _cli("render", "kms.PutKeyPolicy", "--input", params, "--caller-arn", CALLER)
    assert code == 2
    assert [p["field"] for p in result["error"]["problems"]] == ["region"]
    assert result["error"]["problems"][0]["message"].startswith(message)


def test_a_backup_that_cannot_be_written_changes_nothing(input_file: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with FaultServer() as server:
        server.push(ok({"Policy": json.dumps(policy_for())}))
        code, result, _ = _cli(
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            input_file,
            "--endpoint-url",
            server.url,
            "--caller-arn",
            CALLER,
            "--backup-dir",
            str(blocker / "b"),
        )
        targets = [r.header("X-Amz-Target") for r in server.received]
    assert code == 2
    assert targets == ["TrentService.GetKeyPolicy"]
    assert result["error"]["problems"][0]["field"] == "backup-dir"
    assert result["sent"] is False


def test_non_utf8_input_and_non_object_tasks_are_exit_2(tmp_path: Path) -> None:
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{}")
    code, result, _ = _cli("render", "kms.PutKeyPolicy", "--input", str(binary))
    assert code == 2
    assert result["error"]["problems"][0]["message"].endswith("is not UTF-8 text (byte 0)")
    workflow = write_json(tmp_path / "wf.json", {"tasks": {"a": 5}})
    code, result, _ = _run("render", "--task", workflow, "--task-name", "a", "--input", str(binary))
    assert code == 2
    assert "task 'a' must be a JSON object" in result["error"]["problems"][0]["message"]


def test_usage_errors_are_one_json_document_too() -> None:
    code, result, stderr = _run("test-request", "kms.PutKeyPolicy", "--input", "-", "--max-attempts", "0")
    assert code == 2
    assert result["error"]["code"] == "ValidationError"
    assert result["error"]["problems"][0]["field"] == "max_attempts"
    assert "--max-attempts" in stderr


def test_spec_output_is_a_json_summary_and_an_unwritable_path_is_exit_2(tmp_path: Path) -> None:
    import botocore.session

    operations = len(botocore.session.get_session().get_service_model("kms").operation_names)
    code, result, _ = _cli("spec", "kms", "--output", str(tmp_path / "kms.yaml"))
    assert code == 0
    assert result == {
        "ok": True,
        "output": str(tmp_path / "kms.yaml"),
        "service": "kms",
        "operations": operations,
    }
    assert (tmp_path / "kms.yaml").read_text().count("\n  /#X-Amz-Target=TrentService.") == operations
    code, result, _ = _cli("spec", "kms", "--output", str(tmp_path / "missing" / "kms.yaml"))
    assert code == 2
    assert result["error"]["problems"][0]["field"] == "output"
