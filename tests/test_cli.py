"""The command line contract: templates, template, render (dry run), exit codes, one JSON document."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from click.testing import CliRunner, Result
from conftest import ACCOUNT, KEY_ID, policy_for, write_json

from http_task_kms.cli import main
from http_task_kms.expressions import compile_value, render
from http_task_kms.plugins.manager import get_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CALLER = f"arn:aws:iam::{ACCOUNT}:user/x"
EXAMPLE_CALLER = "arn:aws:iam::111122223333:role/KMSKeyAdmin"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


def stdout_json(result: Result) -> Any:
    """stdout must be exactly one JSON document."""
    return json.loads(result.stdout)


@pytest.fixture
def params() -> dict[str, Any]:
    """Valid PutKeyPolicy input parameters, Region included."""
    return {
        "region": "us-east-1",
        "KeyId": KEY_ID,
        "Policy": policy_for(CALLER),
        "BypassPolicyLockoutSafetyCheck": False,
    }


@pytest.fixture
def input_file(tmp_path: Path, params: dict[str, Any]) -> str:
    """The input parameters as a file."""
    return write_json(tmp_path / "input.json", params)


@pytest.fixture
def env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static AWS credentials in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)


# -- templates --------------------------------------------------------------------------------


def test_templates_lists_every_kms_operation() -> None:
    result = invoke("templates")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    ids = {line.split()[0] for line in lines}
    operations = botocore.session.get_session().get_service_model("kms").operation_names
    assert ids == {f"kms.{op}" for op in operations}
    assert len(lines) == len(operations)
    assert result.stderr.strip() == f"{len(operations)} template(s)"


def test_templates_json_is_one_document() -> None:
    result = invoke("templates", "--json")
    assert result.exit_code == 0
    listed = stdout_json(result)
    operations = botocore.session.get_session().get_service_model("kms").operation_names
    assert sorted(item["id"] for item in listed) == sorted(f"kms.{op}" for op in operations)
    ids = [item["id"] for item in listed]
    assert ids == ["kms.PutKeyPolicy", *sorted(set(ids) - {"kms.PutKeyPolicy"})]  # the featured one first
    put = next(item for item in listed if item["id"] == "kms.PutKeyPolicy")
    assert put == {
        "id": "kms.PutKeyPolicy",
        "title": "PutKeyPolicy",
        "summary": "Attaches a key policy to the specified KMS key. You can use this operation to set only "
        "the default key policy.",
    }


def test_templates_search_filters() -> None:
    result = invoke("templates", "--json", "--search", "policy")
    assert result.exit_code == 0
    ids = {item["id"] for item in stdout_json(result)}
    expected = {t.id for t in get_registry() if "policy" in f"{t.id}\n{t.title}\n{t.description}".lower()}
    assert ids == expected
    assert {"kms.PutKeyPolicy", "kms.GetKeyPolicy", "kms.ListKeyPolicies"} <= ids
    assert "kms.RetireGrant" not in ids
    assert len(ids) < len(get_registry())


def test_templates_search_is_case_insensitive_and_can_find_nothing() -> None:
    assert {
        item["id"] for item in stdout_json(invoke("templates", "--json", "--search", "PUTKEYPOLICY"))
    } >= {"kms.PutKeyPolicy"}
    nothing = invoke("templates", "--json", "--search", "no-such-text-anywhere")
    assert nothing.exit_code == 0
    assert stdout_json(nothing) == []


# -- template ---------------------------------------------------------------------------------


def test_template_as_a_builder_http_task() -> None:
    result = invoke("template", "kms.PutKeyPolicy", "--format", "task")
    assert result.exit_code == 0, result.output
    task = stdout_json(result)
    assert task["type"] == "Http"
    url = compile_value(task["httpRequest"]["url"])
    assert render(url, {"region": "eu-west-3"}).value == "https://kms.eu-west-3.amazonaws.com/"
    assert render(url, {"region": "cn-north-1"}).value == "https://kms.cn-north-1.amazonaws.com.cn/"
    assert render(url, {}).missing  # no region: a clear "selected nothing", not a broken host
    assert task["httpRequest"] == {
        "url": task["httpRequest"]["url"],
        "method": "POST",
        "headers": {
            "X-Amz-Target": "TrentService.PutKeyPolicy",
            "Content-Type": "application/x-amz-json-1.1",
        },
        "body": {
            "KeyId": "${$.KeyId}",
            "PolicyName": "${$.PolicyName}",
            "Policy": "${$.Policy}",
            "BypassPolicyLockoutSafetyCheck": "${$.BypassPolicyLockoutSafetyCheck}",
        },
    }
    assert task["retry"] == {"intervalSeconds": 1, "maxAttempts": 3, "backoffRate": 2.0}
    assert task["connectionTimeoutSeconds"] == 5
    assert task["readTimeoutSeconds"] == 10
    assert task["credentials"] == "aws-sigv4"
    assert task["inputParameters"]["region"] == "us-east-1"
    assert task["inputParameters"]["PolicyName"] == "default"
    assert task["description"].startswith("Attaches a key policy to the specified KMS key.")
    assert task["end"] is True


def test_template_default_format_is_task() -> None:
    assert stdout_json(invoke("template", "kms.PutKeyPolicy")) == stdout_json(
        invoke("template", "kms.PutKeyPolicy", "--format", "task")
    )


def test_template_as_json_schema() -> None:
    result = invoke("template", "kms.PutKeyPolicy", "--format", "schema")
    assert result.exit_code == 0
    schema = stdout_json(result)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert list(schema["properties"]) == [
        "KeyId",
        "PolicyName",
        "Policy",
        "BypassPolicyLockoutSafetyCheck",
        "region",
    ]
    assert schema["properties"]["Policy"]["x-maxBytes"] == 32768
    assert schema["properties"]["BypassPolicyLockoutSafetyCheck"]["type"] == "boolean"


def test_template_unknown_id_suggests_close_matches() -> None:
    result = invoke("template", "kms.PutKeyPolic")
    assert result.exit_code != 0
    assert "no template 'kms.PutKeyPolic'; did you mean kms.PutKeyPolicy?" in str(result.exception)


def test_template_task_round_trips_through_render(tmp_path: Path, input_file: str) -> None:
    task_file = tmp_path / "task.json"
    task_file.write_text(invoke("template", "kms.PutKeyPolicy").stdout, encoding="utf-8")
    by_task = invoke("render", "--task", str(task_file), "--input", input_file, "--caller-arn", CALLER)
    by_id = invoke("render", "kms.PutKeyPolicy", "--input", input_file, "--caller-arn", CALLER)
    assert by_task.exit_code == 0, by_task.output
    shown = stdout_json(by_task)["request"]
    assert shown.pop("credentials") == "aws-sigv4"  # the task's saved-credentials id, shown as given
    assert shown == stdout_json(by_id)["request"]


# -- render -----------------------------------------------------------------------------------


def test_render_unsigned_without_credentials(input_file: str, params: dict[str, Any]) -> None:
    result = invoke("render", "kms.PutKeyPolicy", "--input", input_file, "--caller-arn", CALLER)
    assert result.exit_code == 0, result.output
    document = stdout_json(result)
    assert document["ok"] is True
    assert document["statusCode"] is None
    assert document["attempts"] == 0
    assert document["error"] is None
    assert document["request"] == {
        "method": "POST",
        "url": "https://kms.us-east-1.amazonaws.com/",
        "headers": {
            "X-Amz-Target": "TrentService.PutKeyPolicy",
            "Content-Type": "application/x-amz-json-1.1",
        },
        "body": {
            "KeyId": KEY_ID,
            "PolicyName": "default",
            "Policy": json.dumps(params["Policy"], separators=(",", ":")),
            "BypassPolicyLockoutSafetyCheck": False,
        },
        "signed": False,
    }
    assert "no AWS credentials found, so the request is shown unsigned" in result.stderr
    assert "dry run: nothing was sent" in result.stderr


def test_render_signed_with_env_credentials(input_file: str, env_credentials: None) -> None:
    result = invoke("render", "kms.PutKeyPolicy", "--input", input_file, "--caller-arn", CALLER)
    assert result.exit_code == 0, result.output
    request = stdout_json(result)["request"]
    assert request["signed"] is True
    headers = request["headers"]
    authorization = headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "/us-east-1/kms/aws4_request, " in authorization
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target, " in authorization
    assert authorization.endswith("Signature=<redacted>")
    assert re.fullmatch(r"\d{8}T\d{6}Z", headers["X-Amz-Date"])
    assert "unsigned" not in result.stderr
    assert SECRET_KEY not in result.stdout + result.stderr


def test_render_with_session_token_redacts_it(
    input_file: str, env_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "FwoGZXIvYXdzEXAMPLETOKEN" + "x" * 40
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    result = invoke("render", "kms.PutKeyPolicy", "--input", input_file, "--caller-arn", CALLER)
    assert result.exit_code == 0, result.output
    headers = stdout_json(result)["request"]["headers"]
    assert "x-amz-security-token" in headers["Authorization"]
    assert "X-Amz-Security-Token" in headers
    assert token not in result.stdout + result.stderr
    assert SECRET_KEY not in result.stdout + result.stderr


def test_render_reads_input_from_stdin(params: dict[str, Any]) -> None:
    result = invoke(
        "render", "kms.PutKeyPolicy", "--input", "-", "--caller-arn", CALLER, stdin=json.dumps(params)
    )
    assert result.exit_code == 0, result.output
    assert stdout_json(result)["request"]["body"]["KeyId"] == KEY_ID


def test_render_invalid_input_json_reports_line_and_column(tmp_path: Path) -> None:
    source = tmp_path / "broken.json"
    source.write_text('{\n  "KeyId": "x"\n  "Policy": {}\n}\n', encoding="utf-8")
    result = invoke("render", "kms.PutKeyPolicy", "--input", str(source))
    assert result.exit_code == 2
    document = stdout_json(result)
    assert document["ok"] is False
    assert document["error"]["code"] == "ValidationError"
    assert document["error"]["problems"] == [
        {"field": "input", "message": "not valid JSON: Expecting ',' delimiter at line 3, column 3"}
    ]


def test_render_invalid_input_json_from_stdin() -> None:
    result = invoke("render", "kms.PutKeyPolicy", "--input", "-", stdin="{not json")
    assert result.exit_code == 2
    [problem] = stdout_json(result)["error"]["problems"]
    assert problem["message"].startswith("not valid JSON: ")
    assert "at line 1, column 2" in problem["message"]


def test_render_missing_input_file(tmp_path: Path) -> None:
    result = invoke("render", "kms.PutKeyPolicy", "--input", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    [problem] = stdout_json(result)["error"]["problems"]
    assert problem["field"] == "input"
    assert "cannot read" in problem["message"]


def test_render_bad_input_exits_2_with_every_problem(tmp_path: Path) -> None:
    source = write_json(tmp_path / "bad.json", {"region": "us-east-1", "KeyId": "alias/x"})
    result = invoke("render", "kms.PutKeyPolicy", "--input", source, "--caller-arn", CALLER)
    assert result.exit_code == 2
    document = stdout_json(result)
    assert document["ok"] is False
    assert document["statusCode"] is None
    assert document["request"] is None
    assert sorted(p["field"] for p in document["error"]["problems"]) == ["KeyId", "Policy"]


def test_render_region_option_and_flags(tmp_path: Path, params: dict[str, Any]) -> None:
    del params["region"]
    source = write_json(tmp_path / "input.json", params)
    result = invoke(
        "render",
        "kms.PutKeyPolicy",
        "--input",
        source,
        "--caller-arn",
        CALLER,
        "--region",
        "eu-west-1",
        "--fips",
        "--dual-stack",
    )
    assert result.exit_code == 0, result.output
    assert stdout_json(result)["request"]["url"] == "https://kms-fips.eu-west-1.api.aws/"


def test_render_endpoint_url_option(input_file: str) -> None:
    result = invoke(
        "render",
        "kms.PutKeyPolicy",
        "--input",
        input_file,
        "--caller-arn",
        CALLER,
        "--endpoint-url",
        "http://127.0.0.1:4566",
    )
    assert result.exit_code == 0, result.output
    assert stdout_json(result)["request"]["url"] == "http://127.0.0.1:4566/"


def test_render_needs_an_id_or_a_task(input_file: str, tmp_path: Path) -> None:
    neither = invoke("render", "--input", input_file)
    assert neither.exit_code == 2
    assert stdout_json(neither)["error"]["problems"][0]["field"] == "ID"
    task = write_json(tmp_path / "task.json", json.loads((EXAMPLES / "put-key-policy.task.json").read_text()))
    both = invoke("render", "kms.PutKeyPolicy", "--task", task, "--input", input_file)
    assert both.exit_code == 2


# -- render --task ----------------------------------------------------------------------------

EXAMPLE_INPUT = EXAMPLES / "put-key-policy.input.json"


def example_input() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE_INPUT.read_text(encoding="utf-8"))
    return loaded


def expected_example_request() -> dict[str, Any]:
    data = example_input()
    return {
        "method": "POST",
        "url": "https://kms.us-east-1.amazonaws.com/",
        "headers": {
            "X-Amz-Target": "TrentService.PutKeyPolicy",
            "Content-Type": "application/x-amz-json-1.1",
        },
        "body": {
            "KeyId": data["KeyId"],
            "PolicyName": "default",
            "Policy": json.dumps(data["Policy"], separators=(",", ":")),
            "BypassPolicyLockoutSafetyCheck": False,
        },
        "signed": False,
    }


def test_example_input_is_realistic() -> None:
    data = example_input()
    assert data["region"] == "us-east-1"
    assert data["BypassPolicyLockoutSafetyCheck"] is False
    principals = [s["Principal"]["AWS"] for s in data["Policy"]["Statement"]]
    assert principals == ["arn:aws:iam::111122223333:root", EXAMPLE_CALLER]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["kms.PutKeyPolicy"], id="template-id"),
        pytest.param(["--task", str(EXAMPLES / "put-key-policy.task.json")], id="task"),
        pytest.param(
            ["--task", str(EXAMPLES / "rotate-key-policy.workflow.json"), "--task-name", "Put key policy"],
            id="workflow",
        ),
        pytest.param(
            ["--task", str(EXAMPLES / "rotate-key-policy.workflow.json")], id="workflow-single-http-task"
        ),
    ],
)
def test_render_accepts_the_examples(args: list[str]) -> None:
    result = invoke("render", *args, "--input", str(EXAMPLE_INPUT), "--caller-arn", EXAMPLE_CALLER)
    assert result.exit_code == 0, result.output
    document = stdout_json(result)
    assert document["ok"] is True
    expected = expected_example_request()
    if "--task" in args:  # a task's saved-credentials id is shown as given
        expected["credentials"] = "aws-sigv4"
    assert document["request"] == expected
    assert "warnings" not in document  # the example policy passes every check


def test_workflow_example_shape() -> None:
    workflow = json.loads((EXAMPLES / "rotate-key-policy.workflow.json").read_text(encoding="utf-8"))
    assert workflow["startTask"] in workflow["tasks"]
    types = {name: task["type"] for name, task in workflow["tasks"].items()}
    assert types["Put key policy"] == "Http"
    assert "Simple" in types.values()
    for task in workflow["tasks"].values():
        assert task.get("end") is True or task.get("nextTask") in workflow["tasks"]


@pytest.mark.parametrize(
    ("task_name", "fragment"),
    [
        ("Record policy change", "is of type 'Simple', not Http"),
        ("Nope", "no task named 'Nope'"),
    ],
)
def test_render_workflow_with_a_wrong_task_name(task_name: str, fragment: str) -> None:
    result = invoke(
        "render",
        "--task",
        str(EXAMPLES / "rotate-key-policy.workflow.json"),
        "--task-name",
        task_name,
        "--input",
        str(EXAMPLE_INPUT),
        "--caller-arn",
        EXAMPLE_CALLER,
    )
    assert result.exit_code != 0
    assert fragment in str(result.exception)


def test_render_task_with_a_bad_http_request(tmp_path: Path) -> None:
    task = json.loads((EXAMPLES / "put-key-policy.task.json").read_text(encoding="utf-8"))
    task["httpRequest"]["method"] = "FETCH"
    del task["httpRequest"]["url"]
    source = write_json(tmp_path / "task.json", task)
    result = invoke("render", "--task", source, "--input", str(EXAMPLE_INPUT), "--caller-arn", EXAMPLE_CALLER)
    assert result.exit_code != 0
    problems = getattr(result.exception, "problems", [])
    assert sorted(p.field for p in problems) == ["task.httpRequest.method", "task.httpRequest.url"]


# -- the console script -----------------------------------------------------------------------


def test_console_script_unknown_template_exits_2_with_one_json_document(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from http_task_kms.cli import run; run()",
            "render",
            "kms.NoSuchOperation",
            "--input",
            str(EXAMPLE_INPUT),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    document = json.loads(completed.stdout)
    assert document["ok"] is False
    assert document["statusCode"] is None
    assert document["error"]["code"] == "ValidationError"
    [problem] = document["error"]["problems"]
    assert problem["message"] == "no template 'kms.NoSuchOperation'; see `http-task-kms templates`"
