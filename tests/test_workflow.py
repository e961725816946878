"""Workflow definitions: the schema, `validate-workflow`, `workflow ID [--safe]`, `--workflow-input`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import policy_for, write_json
from jsonschema import Draft202012Validator

from http_task_kms import Client
from http_task_kms.cli import main
from http_task_kms.kms.local import AdminIdentity
from http_task_kms.kms.workflow import BACKUP, PUT, READ_BACK, safe_workflow
from http_task_kms.workflow import evaluate_input, schema, validate
from http_task_kms.workflow_build import single_task_workflow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    outcome = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return outcome.exit_code, json.loads(outcome.stdout)


def problems_of(document: Any) -> set[tuple[str, str]]:
    return {(p.pointer, p.message) for p in validate(document)}


# -- the schema and the examples -------------------------------------------------------------------
def test_the_schema_is_a_valid_json_schema_shipped_in_the_package() -> None:
    Draft202012Validator.check_schema(schema())
    assert schema()["$id"] == "urn:http-task-kms:workflow:v1"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.workflow.json")), ids=lambda p: p.name)
def test_the_examples_validate(path: Path) -> None:
    assert validate(json.loads(path.read_text(encoding="utf-8"))) == []
    code, report = cli("validate-workflow", str(path))
    assert (code, report["ok"], report["problems"]) == (0, True, [])


# -- every generated definition validates -------------------------------------------------------------
def test_every_template_makes_a_valid_workflow() -> None:
    for template in Client().registry:
        definition = single_task_workflow(template)
        assert validate(definition) == [], template.id
        task = definition["tasks"][definition["startTask"]]
        assert task["inputParameters"]["region"] == "${$.region}"
        assert all(task["inputParameters"][m] == "${$." + m + "}" for m in template.members), template.id


def test_the_safe_workflow_is_backup_put_read_back() -> None:
    code, definition = cli("workflow", "kms.PutKeyPolicy", "--safe", "--name", "Rotate")
    assert code == 0
    assert definition["name"] == "Rotate"
    assert validate(definition) == []
    tasks = definition["tasks"]
    assert definition["startTask"] == BACKUP
    assert (tasks[BACKUP]["nextTask"], tasks[PUT]["nextTask"], tasks[READ_BACK]["end"]) == (
        PUT,
        READ_BACK,
        True,
    )
    targets = [tasks[name]["httpRequest"]["headers"]["X-Amz-Target"] for name in (BACKUP, PUT, READ_BACK)]
    assert targets == ["TrentService.GetKeyPolicy", "TrentService.PutKeyPolicy", "TrentService.GetKeyPolicy"]
    assert "any 2xx" in definition["description"]
    assert "records the read-back for the audit" in tasks[READ_BACK]["description"]
    assert all(t["inputParameters"]["KeyId"] == "${$.KeyId}" for t in tasks.values())


def test_safe_is_for_put_key_policy_only() -> None:
    code, result = cli("workflow", "kms.ListKeys", "--safe")
    assert code == 2
    assert result["error"]["problems"][0]["field"] == "safe"


# -- broken definitions: every problem, each at its pointer ---------------------------------------------
HTTP = {"type": "Http", "httpRequest": {"url": "https://kms.us-east-1.amazonaws.com/", "method": "POST"}}
BROKEN: list[tuple[str, Any, set[tuple[str, str]]]] = [
    ("not-an-object", [], {("", "must be of type object")}),
    (
        "missing-start-and-tasks",
        {"name": "x"},
        {("", "'startTask' is required"), ("", "'tasks' is required")},
    ),
    (
        "dangling-start-and-next",
        {"startTask": "Nope", "tasks": {"A": {**HTTP, "nextTask": "Gone"}}},
        {
            ("/startTask", "names no task (tasks: 'A')"),
            ("/tasks/A/nextTask", "names no task (tasks: 'A')"),
        },
    ),
    (
        "unreachable-and-loop",
        {
            "startTask": "A",
            "tasks": {
                "A": {**HTTP, "nextTask": "B"},
                "B": {"type": "Simple", "nextTask": "A"},
                "C": {"type": "Simple", "end": True},
            },
        },
        {
            ("/tasks/B/nextTask", "loops back (A → B → A): the workflow would never end"),
            ("/tasks/C", "is not reachable from startTask 'A'"),
        },
    ),
    (
        "both-and-neither",
        {"startTask": "A", "tasks": {"A": {**HTTP, "nextTask": "B", "end": True}, "B": {"type": "Simple"}}},
        {("/tasks/A", "has both nextTask and end: keep one"), ("/tasks/B", "needs nextTask or end: true")},
    ),
    (
        "shapes",
        {
            "startTask": "A",
            "tasks": {
                "A": {
                    "type": "Http",
                    "httpRequest": {"url": "https://x/", "method": "FETCH"},
                    "retry": {"maxAttempts": 0},
                    "colour": "blue",
                    "end": True,
                },
                "B" * 81: {"type": "Simple", "end": True},
                "C": {"type": "Bogus", "end": True},
            },
            "extra": 1,
        },
        {
            ("", "unknown field(s): extra"),
            ("/tasks", f"task name {'B' * 40!r}… is over 80 characters"),
            ("/tasks/A", "unknown field(s): colour"),
            (
                "/tasks/A/httpRequest/method",
                'must be one of: "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"',
            ),
            ("/tasks/A/retry/maxAttempts", "0 is less than the minimum of 1"),
            ("/tasks/C/type", 'must be one of: "Http", "Simple", "Parallel", "Terminate"'),
            (f"/tasks/{'B' * 81}", "is not reachable from startTask 'A'"),
            ("/tasks/C", "is not reachable from startTask 'A'"),
        },
    ),
    (
        "expressions",
        {
            "startTask": "A",
            "tasks": {
                "A": {
                    "type": "Http",
                    "inputParameters": {
                        "k": "${$.keyId",
                        "p": "${Nope.output.policy}",
                        "ok": "${B.output.x}",
                    },
                    "httpRequest": {
                        "url": "https://kms.${region}.amazonaws.com/",
                        "method": "POST",
                        "headers": {"X-Note": "jsonata:(1 +"},
                        "body": {"KeyId": "${$..[?(]}", "Flag": "${swf:sequenceNumber}"},
                    },
                    "nextTask": "B",
                },
                "B": {"type": "Simple", "end": True},
            },
        },
        {
            ("/tasks/A/inputParameters/k", "unclosed placeholder at character 1 of '${$.keyId'"),
            (
                "/tasks/A/inputParameters/p",
                "${Nope.output.policy} refers to a task 'Nope' this workflow has not",
            ),
            (
                "/tasks/A/inputParameters/p",
                "${Nope.output.policy} is not a JSONPath query: it must start with '$', e.g. ${$.KeyId}",
            ),
            (
                "/tasks/A/httpRequest/url",
                "${region} is not a JSONPath query: it must start with '$', e.g. ${$.KeyId}",
            ),
        },
    ),
    (
        "parallel-branches",
        {
            "startTask": "P",
            "tasks": {
                "P": {
                    "type": "Parallel",
                    "branches": [{"startTask": "X", "tasks": {"Y": {"type": "Terminate"}}}],
                    "end": True,
                }
            },
        },
        {
            ("/tasks/P/branches/0/startTask", "names no task (tasks: 'Y')"),
        },
    ),
]


@pytest.mark.parametrize(("name", "document", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_definition_reports_every_problem_at_its_pointer(
    name: str, document: Any, expected: set[tuple[str, str]]
) -> None:
    found = problems_of(document)
    if name in {"expressions"}:  # parser messages of the libraries: the places, and ours, exactly
        assert expected <= found
        places = {pointer for pointer, _ in found}
        assert places == {
            "/tasks/A/inputParameters/k",
            "/tasks/A/inputParameters/p",
            "/tasks/A/httpRequest/url",
            "/tasks/A/httpRequest/headers/X-Note",
            "/tasks/A/httpRequest/body/KeyId",
        }
    else:
        assert found == expected


def test_a_broken_definition_through_the_cli_is_exit_2_with_every_pointer(tmp_path: Path) -> None:
    document = BROKEN[3][1]
    code, report = cli("validate-workflow", write_json(tmp_path / "wf.json", document))
    assert code == 2
    assert report["ok"] is False
    assert {(p["pointer"], p["message"]) for p in report["problems"]} == BROKEN[3][2]


# -- a task's input from the workflow input -------------------------------------------------------------
def test_input_parameters_are_evaluated_over_the_workflow_input() -> None:
    values, problems = evaluate_input(
        {"a": "${$.k}", "b": "${$.absent}", "c": {"d": "${$.k}", "e": "x-${$.k}"}, "f": 3},
        {"k": "v"},
    )
    assert problems == []
    assert values == {"a": "v", "c": {"d": "v", "e": "x-v"}, "f": 3}  # what selects nothing is left out


def test_a_reference_to_another_tasks_output_is_out_of_scope(tmp_path: Path) -> None:
    workflow = safe_workflow()
    workflow["tasks"][PUT]["inputParameters"]["Policy"] = f"${{{BACKUP}.output.body.Policy}}"
    code, result = cli(
        "render",
        "--task",
        write_json(tmp_path / "wf.json", workflow),
        "--task-name",
        PUT,
        "--workflow-input",
        write_json(
            tmp_path / "in.json", {"region": "us-east-1", "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}
        ),
    )
    assert code == 2
    [problem] = result["error"]["problems"]
    assert problem["field"] == "inputParameters.Policy"
    assert "out of scope" in problem["message"]
    assert BACKUP in problem["message"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["kms.ListKeys", "--workflow-input", "{in}"], "workflow-input"),
        (["--task", "{wf}", "--task-name", PUT, "--input", "{in}", "--workflow-input", "{in}"], "input"),
        (["--task", "{wf}", "--task-name", PUT], "input"),
    ],
)
def test_input_and_workflow_input_are_one_or_the_other(tmp_path: Path, args: list[str], field: str) -> None:
    files = {
        "{in}": write_json(tmp_path / "in.json", {}),
        "{wf}": write_json(tmp_path / "wf.json", safe_workflow()),
    }
    code, result = cli("render", *[files.get(a, a) for a in args])
    assert code == 2
    assert result["error"]["problems"][0]["field"] == field


# -- each task of the safe workflow, against moto, from one workflow input ------------------------------
def test_each_task_of_the_safe_workflow_runs_against_moto_from_one_workflow_input(
    kms_url: str, admin: AdminIdentity, new_key: str, tmp_path: Path
) -> None:
    workflow = write_json(tmp_path / "safe.json", safe_workflow())
    policy = policy_for(admin.arn)
    workflow_input = write_json(
        tmp_path / "in.json", {"region": "us-east-1", "KeyId": new_key, "Policy": policy}
    )
    env = {"AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": admin.secret_access_key}
    results = {}
    for name in (BACKUP, PUT, READ_BACK):
        code, result = cli(
            "test-request",
            "--task",
            workflow,
            "--task-name",
            name,
            "--workflow-input",
            workflow_input,
            "--endpoint-url",
            kms_url,
            "--backup-dir",
            str(tmp_path / "backups"),
            "--verify-interval",
            "0.05",
            env=env,
        )
        assert code == 0, result
        results[name] = result
    assert results[BACKUP]["inputParameters"] == {
        "region": "us-east-1",
        "KeyId": new_key,
        "PolicyName": "default",
    }
    assert json.loads(results[BACKUP]["body"]["Policy"]) != policy  # the key's policy before the change
    assert results[PUT]["changed"] is True
    assert results[PUT]["verification"]["verified"] is True
    assert results[PUT]["inputParameters"]["Policy"] == policy
    assert json.loads(results[READ_BACK]["body"]["Policy"]) == policy  # recorded for the audit


def test_the_committed_safe_workflow_example_is_what_the_command_prints() -> None:
    committed = json.loads((EXAMPLES / "change-key-policy.workflow.json").read_text(encoding="utf-8"))
    assert committed == safe_workflow(), (
        "regenerate: http-task-kms workflow kms.PutKeyPolicy --safe > examples/…"
    )
