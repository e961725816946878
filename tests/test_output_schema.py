"""Every command's output validates against the shipped, versioned output schema.

Every command of the command line (discovered from the click group itself, so a new command
without a case fails here) runs in process through the console entry point, in its success
and its failure paths, against the local moto KMS and the fault server; what it prints is
validated against ``$defs/<command>`` of the KMS plugin's schema (the default installation:
the core and the KMS plugin) and against the definition the case expects. An output that is
not JSON (a table, YAML, Markdown) must be one the schema says is not JSON. Deliberately
wrong documents fail validation.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from conftest import policy_for
from faultserver import FaultServer, aws_error, by_target, large, ok
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from rolloutfiles import write_journal

from http_task_kms import Client, schemas
from http_task_kms.cli import main, run
from http_task_kms.kms import schemas as kms_schemas
from http_task_kms.kms.backup import write_backup
from http_task_kms.kms.rollout.placeholders import fingerprint

CALLER = "arn:aws:iam::123456789012:user/schema"
OLDER = json.dumps(policy_for(CALLER, "arn:aws:iam::123456789012:role/old"))
CORE, KMS = schemas.OUTPUT_ID, kms_schemas.OUTPUT_ID
#: Each format of `template --format`, and the definition of its output (None: not JSON).
TEMPLATE_FORMATS: dict[str, str | None] = {"task": "task", "schema": "inputSchema", "reference": None}


@functools.cache
def validator(ref: str) -> Draft202012Validator:
    """A validator for ``ref`` among the core's and the KMS plugin's schemas."""
    return schemas.validator(ref, kms_schemas.document())


def errors(ref: str, document: Any) -> list[str]:
    """Why ``document`` is not valid under ``ref`` (empty when it is)."""
    found = list(validator(ref).iter_errors(document))
    best = best_match(found)
    return [] if best is None else [f"{best.json_path}: {best.message}", *(e.message for e in found[:5])]


# -- the environment of a case ---------------------------------------------------------------------
@dataclass
class Env:
    """Files, servers and credentials a command line points at."""

    tmp: Path
    fault: FaultServer
    kms_url: str
    admin_arn: str
    make_key: Callable[[], str]
    put_policy: Callable[[str, dict[str, Any]], None]

    def write(self, name: str, data: Any) -> str:
        path = self.tmp / "inputs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return str(path)

    @property
    def backups(self) -> str:
        return str(self.tmp / "backups")

    def put(self, key_id: str = "1234abcd-12ab-34cd-56ef-1234567890ab", *principals: str) -> str:
        return self.write(
            f"put-{key_id}.json", {"KeyId": key_id, "Policy": policy_for(*(principals or (CALLER,)))}
        )

    def backup(self) -> str:
        path = write_backup(
            self.tmp / "inputs",
            key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
            region="us-east-1",
            policy=json.dumps(policy_for(CALLER)),
            endpoint=self.fault.url,
        )
        return str(path)

    def closed_port_url(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Case:
    """One command line, the exit code it must end with, and the definition its output must meet.

    ``expect`` is ``<$id>#/$defs/<name>``; for an output that is not JSON, the phrase with
    which the schema's description says so.
    """

    command: str
    name: str
    args: Callable[[Env], list[str]]
    exit_code: int
    expect: str
    json: bool = True
    creds: str | None = None  # "admin": the moto user's keys; "fake": keys no server knows
    answers: Callable[[Env], Any] | None = None  # the fault server's default behaviour
    check: Callable[[Any], None] | None = None  # more about this output
    own_process: bool = False  # the demo's moto must not share this process's moto state

    @property
    def id(self) -> str:
        return f"{self.command}-{self.name}"

    def argv(self, env: Env) -> list[str]:
        return [self.command, *self.args(env)]


_case = Case


def _has(*names: str) -> Callable[[Any], None]:
    def check(document: Any) -> None:
        missing = [n for n in names if n not in document]
        assert not missing, (missing, sorted(document))

    return check


def _warned(document: Any) -> None:
    assert any(w["code"] == "LOCKOUT_NOT_CHECKED" for w in document["warnings"]), document


def _truncated(document: Any) -> None:
    assert document["bodyTruncated"] is True


def _failed_step(document: Any) -> None:
    assert document["error"]["step"] == "GetKeyPolicy"
    assert document["sent"] is False


def _unchanged(document: Any) -> None:
    assert (document["sent"], document["changed"]) == (False, False)
    assert document["note"]


def _forced(document: Any) -> None:
    assert document["sent"] is True
    assert (document["previousPolicy"], document["diff"], document["backupFile"]) == (None, None, None)


def _openapi_yaml(text: str) -> None:
    assert yaml.safe_load(text)["openapi"] == "3.0.3"


def _demo_round_trip(document: Any) -> None:
    """The README's first command: the policy is put, signed as the demo user, and read back."""
    assert document["ok"] is True
    assert document["roundTrip"] is True
    put, got = document["putKeyPolicy"], document["getKeyPolicy"]
    assert (put["statusCode"], put["changed"], put["sent"]) == (200, True, True)
    assert put["request"]["headers"]["Authorization"].endswith("Signature=<redacted>")
    assert put["previousPolicy"]["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert json.loads(got["body"]["Policy"]) == document["policyReadBack"]
    assert [s["Sid"] for s in document["policyReadBack"]["Statement"]] == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
    ]


def _lockout(document: Any) -> None:
    assert document["lockout"]["verdict"] == "FAIL"


def _restored(env: Env) -> list[str]:
    return [
        env.backup(),
        "--endpoint-url",
        env.fault.url,
        "--caller-arn",
        CALLER,
        "--backup-dir",
        env.backups,
        "--no-verify",  # the fault server stores no policy to read back
    ]


def _put_moto(env: Env, *, again: bool = False) -> list[str]:
    key = env.make_key()
    policy = policy_for(env.admin_arn)
    if again:
        env.put_policy(key, policy)
    source = env.write(f"admin-{key}.json", {"KeyId": key, "Policy": policy})
    return [
        "kms.PutKeyPolicy",
        "--input",
        source,
        "--endpoint-url",
        env.kms_url,
        "--region",
        "us-east-1",
        "--caller-arn",
        env.admin_arn,
        "--backup-dir",
        env.backups,
    ]


def _apply(env: Env, keys: list[str], policy: dict[str, Any]) -> list[str]:
    """``apply`` to the local KMS, as the admin (the journal beside the inputs)."""
    journal = env.tmp / "inputs" / f"rollout-{len(list(env.tmp.glob('inputs/rollout-*')))}.journal"
    journal.parent.mkdir(exist_ok=True)
    return [
        "--policy",
        env.write("rollout-policy.json", policy),
        "--keys",
        env.write("rollout-keys.txt", "".join(f"{key}\n" for key in keys)),
        "--journal",
        str(journal),
        "--endpoint-url",
        env.kms_url,
        "--region",
        "us-east-1",
        "--backup-dir",
        env.backups,
        "--verify-interval",
        "0.01",
    ]


_NO_SUCH_KEY = "0badc0de-0000-4000-8000-000000000000"


def _applied(document: Any) -> None:
    assert (document["changed"], document["failed"], document["thisRun"]["putKeyPolicy"]) == (2, 0, 2)


def _one_failed(document: Any) -> None:
    assert (document["changed"], document["failed"]) == (1, 1)
    assert document["failedKeys"][0]["code"] == "NotFoundException"


def _rolled_back_journal(env: Env) -> list[str]:
    """A rollout that wrote one key (policy B over A, A backed up), for ``rollback --journal``."""
    key = env.make_key()
    before, after = policy_for(env.admin_arn, "arn:aws:iam::123456789012:role/old"), policy_for(env.admin_arn)
    env.put_policy(key, before)
    backup = write_backup(
        env.tmp / "inputs", key_id=key, region="us-east-1", policy=json.dumps(before), endpoint=env.kms_url
    )
    env.put_policy(key, after)
    journal = write_journal(
        env.tmp / "rolled-back.journal",
        region="us-east-1",
        endpoint=env.kms_url,
        writes=[(key, str(backup), fingerprint(after) or "")],
    )
    return [
        *("--journal", journal, "--endpoint-url", env.kms_url),
        *("--backup-dir", env.backups, "--verify-interval", "0.01"),
    ]


def _restored_one(document: Any) -> None:
    assert (document["restored"], document["failed"]) == (1, 0)


def _fault(env: Env, *rest: str) -> list[str]:
    return ["--endpoint-url", env.fault.url, "--region", "us-east-1", "--caller-arn", CALLER, *rest]


def _send(env: Env, *rest: str) -> list[str]:
    return [*_fault(env, "--backup-dir", env.backups, "--max-attempts", "1", "--principal-wait", "0"), *rest]


_PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Foo*", "Resource": "*"}],
}
_GET_OK = ok({"Policy": OLDER})


def _choices(command: str, param: str) -> list[str]:
    """The values of a click Choice option of a command."""
    [option] = [p for p in main.commands[command].params if p.name == param]
    assert isinstance(option.type, click.Choice)
    return [str(choice) for choice in option.type.choices]


def _format_case(fmt: str) -> Case:
    known = fmt in TEMPLATE_FORMATS
    name = TEMPLATE_FORMATS.get(fmt)
    return Case(
        "template",
        f"format-{fmt}",
        lambda e: ["kms.PutKeyPolicy", "--format", fmt],
        0,
        f"{CORE}#/$defs/{name}" if name else "`template --format reference` (Markdown)",
        json=name is not None or not known,  # an unknown format fails test_every_command_has_cases
    )


def _cases() -> list[Case]:
    return [
        _case(
            "templates", "json", lambda e: ["--json", "--search", "policy"], 0, f"{CORE}#/$defs/templateList"
        ),
        _case("templates", "table", lambda e: [], 0, "`templates` without `--json`", json=False),
        _case(
            "templates",
            "bad-spec",
            lambda e: ["--json", "--spec", e.write("bad.yaml", "openapi: 3.0.3\n")],
            2,
            f"{KMS}#/$defs/result",
        ),
        *(_format_case(fmt) for fmt in _choices("template", "fmt")),
        _case("template", "unknown-id", lambda e: ["kms.NoSuchOperation"], 2, f"{KMS}#/$defs/result"),
        _case(
            "template",
            "bad-format",
            lambda e: ["kms.PutKeyPolicy", "--format", "nope"],
            2,
            f"{KMS}#/$defs/result",
        ),
        _case(
            "render",
            "signed",
            lambda e: ["kms.PutKeyPolicy", "--input", e.put(), *_fault(e)],
            0,
            f"{KMS}#/$defs/result",
            creds="fake",
        ),
        _case(
            "render",
            "unsigned-with-warnings",
            lambda e: ["kms.PutKeyPolicy", "--input", e.put(), "--region", "us-east-1"],
            0,
            f"{KMS}#/$defs/result",
            check=_warned,
        ),
        _case(
            "render",
            "bad-input",
            lambda e: [
                "kms.PutKeyPolicy",
                "--input",
                e.write("typo.json", {"Keyid": "x"}),
                "--region",
                "us-east-1",
            ],
            2,
            f"{KMS}#/$defs/result",
        ),
        _case(
            "test-request",
            "put-key-policy-moto",
            _put_moto,
            0,
            f"{KMS}#/$defs/result",
            creds="admin",
            check=_has("previousPolicy", "diff", "changed", "sent", "backupFile"),
        ),
        _case(
            "test-request",
            "put-key-policy-unchanged",
            lambda e: _put_moto(e, again=True),
            0,
            f"{KMS}#/$defs/result",
            creds="admin",
            check=_unchanged,
        ),
        _case(
            "test-request",
            "list-keys-moto",
            lambda e: [
                "kms.ListKeys",
                "--input",
                e.write("empty.json", {}),
                "--endpoint-url",
                e.kms_url,
                "--region",
                "us-east-1",
            ],
            0,
            f"{KMS}#/$defs/result",
            creds="admin",
        ),
        _case(
            "test-request",
            "aws-error",
            lambda e: ["kms.PutKeyPolicy", "--input", e.put(), *_send(e)],
            1,
            f"{KMS}#/$defs/result",
            creds="fake",
            answers=lambda e: by_target(
                {"GetKeyPolicy": _GET_OK}, aws_error("KMSInvalidStateException", "disabled")
            ),
            check=_has("previousPolicy", "diff", "backupFile"),
        ),
        _case(
            "test-request",
            "failed-get-key-policy",
            lambda e: ["kms.PutKeyPolicy", "--input", e.put(), *_send(e)],
            1,
            f"{KMS}#/$defs/result",
            creds="fake",
            answers=lambda e: aws_error("AccessDeniedException", "not allowed"),
            check=_failed_step,
        ),
        _case(
            "test-request",
            "forced-without-backup",
            lambda e: ["kms.PutKeyPolicy", "--input", e.put(), *_send(e, "--force", "--no-verify")],
            0,
            f"{KMS}#/$defs/result",
            creds="fake",
            answers=lambda e: by_target({"GetKeyPolicy": aws_error("AccessDeniedException", "no")}, ok()),
            check=_forced,
        ),
        _case(
            "test-request",
            "truncated-body",
            lambda e: ["kms.ListKeys", "--input", e.write("empty.json", {}), *_send(e)],
            0,
            f"{KMS}#/$defs/result",
            creds="fake",
            answers=lambda e: large(size=2 * 1024 * 1024),
            check=_truncated,
        ),
        _case(
            "test-request",
            "connection-refused",
            lambda e: [
                "kms.ListKeys",
                "--input",
                e.write("empty.json", {}),
                "--endpoint-url",
                e.closed_port_url(),
                "--region",
                "us-east-1",
                "--max-attempts",
                "1",
            ],
            1,
            f"{KMS}#/$defs/result",
            creds="fake",
        ),
        _case(
            "test-request",
            "bad-input",
            lambda e: ["kms.PutKeyPolicy", "--input", e.write("typo.json", {"Keyid": "x"}), *_send(e)],
            2,
            f"{KMS}#/$defs/result",
            creds="fake",
        ),
        _case(
            "spec",
            "output",
            lambda e: ["ec2-instance-connect", "-o", str(e.tmp / "spec.yaml")],
            0,
            f"{CORE}#/$defs/specSummary",
        ),
        _case(
            "spec",
            "yaml",
            lambda e: ["ec2-instance-connect"],
            0,
            "`spec` without `-o`",
            json=False,
            check=_openapi_yaml,
        ),
        _case("spec", "unknown-service", lambda e: ["nosuchservice"], 2, f"{KMS}#/$defs/result"),
        _case("workflow", "one-task", lambda e: ["kms.ListKeys"], 0, "urn:http-task-kms:workflow:v1"),
        _case(
            "workflow", "safe", lambda e: ["kms.PutKeyPolicy", "--safe"], 0, "urn:http-task-kms:workflow:v1"
        ),
        _case("workflow", "safe-elsewhere", lambda e: ["kms.ListKeys", "--safe"], 2, f"{KMS}#/$defs/result"),
        _case("workflow", "unknown-id", lambda e: ["kms.NoSuchOperation"], 2, f"{KMS}#/$defs/result"),
        _case(
            "validate-workflow",
            "valid",
            lambda e: [
                str(Path(__file__).resolve().parent.parent / "examples" / "rotate-key-policy.workflow.json")
            ],
            0,
            f"{CORE}#/$defs/workflowReport",
        ),
        _case(
            "validate-workflow",
            "broken",
            lambda e: [
                e.write("broken-workflow.json", {"startTask": "A", "tasks": {"B": {"type": "Simple"}}})
            ],
            2,
            f"{CORE}#/$defs/workflowReport",
        ),
        _case(
            "validate-workflow", "not-json", lambda e: [e.write("nope.json", "{")], 2, f"{KMS}#/$defs/result"
        ),
        _case(
            "lint-policy",
            "clean",
            lambda e: [e.write("p.json", policy_for(CALLER))],
            0,
            f"{KMS}#/$defs/lintReport",
        ),
        _case(
            "lint-policy",
            "findings",
            lambda e: [e.write("public.json", _PUBLIC)],
            2,
            f"{KMS}#/$defs/lintReport",
        ),
        _case(
            "lint-policy",
            "lockout",
            lambda e: [
                e.write("p.json", policy_for(CALLER)),
                "--caller-arn",
                "arn:aws:iam::999999999999:user/x",
            ],
            2,
            f"{KMS}#/$defs/lintReport",
            check=_lockout,
        ),
        _case(
            "lint-policy", "missing-file", lambda e: [str(e.tmp / "absent.json")], 2, f"{KMS}#/$defs/result"
        ),
        _case(
            "rollback",
            "restored",
            _restored,
            0,
            f"{KMS}#/$defs/rollbackResult",
            creds="fake",
            answers=lambda e: by_target({"GetKeyPolicy": _GET_OK}, ok()),
        ),
        _case(
            "rollback",
            "refused-put",
            _restored,
            1,
            f"{KMS}#/$defs/rollbackResult",
            creds="fake",
            answers=lambda e: by_target({"GetKeyPolicy": _GET_OK}, aws_error("NotFoundException", "no key")),
        ),
        _case(
            "rollback",
            "region-disagrees",
            lambda e: [*_restored(e), "--region", "eu-west-1"],
            2,
            f"{KMS}#/$defs/result",
            creds="fake",
        ),
        _case(
            "rollback",
            "journal",
            _rolled_back_journal,
            0,
            f"{KMS}#/$defs/rollbackJournal",
            creds="admin",
            check=_restored_one,
        ),
        _case(
            "apply",
            "moto",
            lambda e: _apply(e, [e.make_key(), e.make_key()], policy_for(e.admin_arn)),
            0,
            f"{KMS}#/$defs/applySummary",
            creds="admin",
            check=_applied,
        ),
        _case(
            "apply",
            "a-key-fails",
            lambda e: _apply(e, [e.make_key(), _NO_SUCH_KEY], policy_for(e.admin_arn)),
            1,
            f"{KMS}#/$defs/applySummary",
            creds="admin",
            check=_one_failed,
        ),
        _case(
            "apply",
            "bad-policy",
            lambda e: _apply(e, ["1234abcd-12ab-34cd-56ef-1234567890ab"], _PUBLIC),
            2,
            f"{KMS}#/$defs/result",
            creds="admin",
        ),
        _case(
            "demo",
            "embedded-kms",
            lambda e: [],
            0,
            f"{KMS}#/$defs/demoReport",
            own_process=True,  # from a fresh process, as the README's quick start runs it
            check=_demo_round_trip,
        ),
        _case("demo", "usage-error", lambda e: ["--no-such-option"], 2, f"{KMS}#/$defs/result"),
    ]


CASES = _cases()


# -- running a command -------------------------------------------------------------------------------
def run_command(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """The console entry point in process: (exit code, stdout, stderr)."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(sys, "argv", ["http-task-kms", *argv])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    try:
        run()
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_process(argv: list[str]) -> tuple[int, str, str]:
    """The console entry point in a fresh process with no AWS config at all: (exit code, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", "from http_task_kms.cli import run; run()", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    return done.returncode, done.stdout, done.stderr


def strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def env(tmp_path, kms_url, admin, local_client, monkeypatch) -> Iterator[Env]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))

    def make_key() -> str:
        created = local_client().test_request("kms.CreateKey", {"Description": "schema test key"})
        assert created.ok, created.to_json()
        return str(created.body["KeyMetadata"]["KeyId"])

    def put_policy(key: str, policy: dict[str, Any]) -> None:
        assert local_client().test_request("kms.PutKeyPolicy", {"KeyId": key, "Policy": policy}).ok

    with FaultServer() as fault:
        yield Env(tmp_path, fault, kms_url, admin.arn, make_key, put_policy)


def _credentials(case: Case, admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.creds == "admin":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin.access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin.secret_access_key)
    elif case.creds == "fake":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASCHEMATEST000001")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "schemaSECRETschemaSECRETschemaSECRET0000")


# -- every command, every path ---------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_command_output_validates_against_the_shipped_schema(case, env, admin, monkeypatch, capsys):
    _credentials(case, admin, monkeypatch)
    if case.answers is not None:
        env.fault.default = case.answers(env)
    if case.own_process:
        code, stdout, stderr = run_process(case.argv(env))
    else:
        code, stdout, stderr = run_command(case.argv(env), monkeypatch, capsys)
    assert code == case.exit_code, (stdout[-3000:], stderr[-3000:])
    assert "Traceback" not in stderr
    if not case.json:
        with pytest.raises(json.JSONDecodeError):
            json.loads(stdout)
        assert case.expect in kms_schemas.document()["description"], (
            "the schema must say this output is not JSON"
        )
        assert stdout.strip()
        return
    document = strict_json(stdout)  # exactly one strict JSON document
    assert "InternalError" not in stdout
    assert errors(f"{KMS}#/$defs/{case.command}", document) == []
    assert errors(case.expect, document) == []
    if case.check is not None:
        case.check(document)


def test_every_command_has_a_success_and_a_failure_case():
    """A new command, or a new format of `template`, fails here until it has cases and a schema."""
    commands = set(main.commands)
    by_command: dict[str, set[int]] = {}
    for case in CASES:
        by_command.setdefault(case.command, set()).add(case.exit_code)
    assert set(by_command) - commands == set(), "a case names a command that does not exist"
    assert commands - set(by_command) == set(), "a command without cases"
    one_sided = {name: codes for name, codes in by_command.items() if 0 not in codes or codes == {0}}
    assert one_sided == {}, "every command needs a success case and a failure case"
    assert commands <= set(kms_schemas.document()["$defs"]), "a command without $defs/<command>"
    offered = set(_choices("template", "fmt"))
    assert offered - set(TEMPLATE_FORMATS) == set(), "a format of `template --format` without a case"
    assert {"task", "schema"} <= offered


# -- the schema itself -------------------------------------------------------------------------------
def test_the_schemas_are_valid_2020_12_and_versioned():
    for document in (schemas.output_document(), kms_schemas.document()):
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schemas.output_document()["$id"] == "urn:http-task-kms:output:v1"
    assert kms_schemas.document()["$id"] == "urn:http-task-kms:kms:output:v1"
    assert schemas.VERSION == 1


def test_the_schemas_are_shipped_as_package_data():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = data["tool"]["setuptools"]["package-data"]
    assert "*.json" in package_data["http_task_kms.schemas"]
    assert "*.json" in package_data["http_task_kms.kms.schemas"]
    assert (root / "http_task_kms" / "schemas" / "output.v1.json").is_file()
    assert (root / "http_task_kms" / "kms" / "schemas" / "output.v1.json").is_file()


# -- the schema describes the models, field for field -------------------------------------------------
def _defs(document: dict[str, Any]) -> dict[str, Any]:
    defs: dict[str, Any] = document["$defs"]
    return defs


def test_the_schema_names_every_field_of_the_result_models_and_no_other():
    from http_task_kms.errors import Problem
    from http_task_kms.kms.policy.diff import PolicyDiff, StatementChange
    from http_task_kms.kms.policy.lockout import LockoutResult
    from http_task_kms.kms.policy.model import Finding
    from http_task_kms.plugins.types import Check
    from http_task_kms.result import ErrorDetail, RequestShown, TestRequestResult

    core, kms = _defs(schemas.output_document()), _defs(kms_schemas.document())
    result_fields = set(core["resultFields"]["properties"])
    core_extras = {"sent", "outcome", "backupFile", "inputParameters"}  # set through `extra` by the core
    assert result_fields - core_extras == set(TestRequestResult.model_fields) - {"extra"}
    assert set(core["error"]["properties"]) == set(ErrorDetail.model_fields)
    assert set(core["request"]["properties"]) == set(RequestShown.model_fields)
    assert set(core["problem"]["properties"]) == {f.name for f in dataclasses.fields(Problem)}
    assert set(core["warning"]["properties"]) == set(Check.model_fields)
    assert set(kms["finding"]["properties"]) == set(Finding.model_fields)
    assert set(kms["lockout"]["properties"]) == set(LockoutResult.model_fields)
    assert set(kms["policyDiff"]["properties"]) == set(PolicyDiff.model_fields) - {"changed"}
    modified = kms["policyDiff"]["properties"]["modified"]["items"]["properties"]
    assert set(modified) == set(StatementChange.model_fields)
    assert set(kms["resultExtras"]["properties"]).isdisjoint(result_fields)


def test_every_field_has_a_description():
    def undocumented(properties: dict[str, Any], where: str) -> list[str]:
        return [f"{where}.{name}" for name, node in properties.items() if not node.get("description")]

    core, kms = _defs(schemas.output_document()), _defs(kms_schemas.document())
    missing = undocumented(core["resultFields"]["properties"], "result")
    missing += undocumented(kms["resultExtras"]["properties"], "result")
    missing += undocumented(core["error"]["properties"], "error")
    assert missing == []


# -- wrong documents fail ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """A real result: PutKeyPolicy rendered (nothing is sent), with a warning."""
    params = {
        "region": "us-east-1",
        "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "Policy": policy_for(CALLER),
    }
    document: dict[str, Any] = Client().dry_run("kms.PutKeyPolicy", params).to_json()
    assert errors(f"{KMS}#/$defs/render", document) == []
    assert document["warnings"]
    return document


@pytest.fixture(scope="module")
def refused() -> dict[str, Any]:
    """A real refusal: bad input, every problem listed."""
    document: dict[str, Any] = Client().dry_run("kms.PutKeyPolicy", {"Keyid": "x"}).to_json()
    assert errors(f"{KMS}#/$defs/render", document) == []
    assert document["error"]["code"] == "ValidationError"
    return document


def _with(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(document))
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return changed


_DELETE = object()
WRONG_RESULTS = {
    "a typo of one of our fields": ("backupfile", "x"),
    "a field nobody declared": ("verified", True),
    "attempts as a string": ("attempts", "1"),
    "a status code that is no HTTP status": ("statusCode", 42),
    "a negative elapsed time": ("elapsedMs", -1.0),
    "a header value that is not a string": ("headers", {"x-amzn-RequestId": 5}),
    "a typo in the request": ("request.sigend", True),
    "the request without its url": ("request.url", _DELETE),
    "a warning of an unknown severity": ("warnings.0.severity", "FATAL"),
    "an empty warnings list": ("warnings", []),
    "ok with an error": ("error", {"code": "X", "message": "m", "retryable": False}),
    "bodyTruncated false (only ever present as true)": ("bodyTruncated", False),
}
WRONG_REFUSALS = {
    "an error without retryable": ("error.retryable", _DELETE),
    "a ValidationError without its problems": ("error.problems", _DELETE),
    "a problem without its field": ("error.problems.0.field", _DELETE),
    "an error with a field nobody declared": ("error.hint", "try again"),
    "a failure without an error": ("error", None),
}


@pytest.mark.parametrize("wrong", WRONG_RESULTS, ids=list(WRONG_RESULTS))
def test_a_wrong_result_fails_validation(rendered, wrong):
    path, value = WRONG_RESULTS[wrong]
    assert errors(f"{KMS}#/$defs/test-request", _with(rendered, path, value)) != []
    assert errors(f"{CORE}#/$defs/test-request", _with(rendered, path, value)) != []


@pytest.mark.parametrize("wrong", WRONG_REFUSALS, ids=list(WRONG_REFUSALS))
def test_a_wrong_refusal_fails_validation(refused, wrong):
    path, value = WRONG_REFUSALS[wrong]
    assert errors(f"{KMS}#/$defs/render", _with(refused, path, value)) != []


def test_plugin_extras_our_own_listed_and_a_third_party_s_namespaced(rendered):
    namespaced = {**rendered, "acme.ticket": {"id": 7}, "acme-audit.recorded": True}
    assert errors(f"{CORE}#/$defs/result", namespaced) == []
    assert errors(f"{KMS}#/$defs/result", namespaced) == []
    kms_fields = {**rendered, "previousPolicy": {"Version": "2012-10-17"}, "changed": True, "note": "n"}
    assert errors(f"{KMS}#/$defs/result", kms_fields) == []
    assert errors(f"{CORE}#/$defs/result", kms_fields) != []  # the core alone has no KMS fields
    assert errors(f"{KMS}#/$defs/result", {**rendered, "handledBy": "x"}) != []  # not namespaced
    assert errors(f"{KMS}#/$defs/result", {**rendered, "changed": "yes"}) != []
    assert errors(f"{KMS}#/$defs/result", {**rendered, "diff": {"added": []}}) != []


_SUMMARY: dict[str, Any] = {
    "ok": False,
    "dryRun": False,
    "journal": "r.journal",
    "region": "us-east-1",
    "keys": 3,
    "changed": 2,
    "unchanged": 0,
    "skipped": 0,
    "failed": 1,
    "pending": 0,
    "thisRun": {
        "changed": 2,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
        "resumed": 0,
        "putKeyPolicy": 3,
        "throttled": 0,
    },
    "failedKeys": [{"key": "k", "code": "AccessDeniedException", "reason": "no"}],
    "skippedKeys": [],
    "elapsedSeconds": 1.5,
    "configuredRate": 15.0,
    "achievedRate": 14.2,
    "stopped": None,
    "interrupted": None,
}


def test_wrong_documents_of_the_other_commands_fail_validation():
    template = Client().registry.get("kms.PutKeyPolicy")
    task, schema = template.to_task(), template.input_schema()
    finding = {"severity": "ERROR", "code": "PUBLIC_PRINCIPAL", "message": "m", "path": "$"}
    wrong = {
        f"{KMS}#/$defs/templates": [[{"id": "kms.PutKeyPolicy", "title": "t", "summary": "s", "extra": 1}]],
        f"{CORE}#/$defs/task": [_with(task, "httpRequest", _DELETE), {**task, "retries": 3}],
        f"{CORE}#/$defs/inputSchema": [
            _with(schema, "properties.region", _DELETE),
            _with(schema, "properties.KeyId.type", 5),  # not a JSON Schema
        ],
        f"{KMS}#/$defs/spec": [{"ok": True, "output": "f.yaml", "service": "kms", "operations": "56"}],
        f"{KMS}#/$defs/lint-policy": [
            {"ok": True},
            {"ok": False, "findings": [{**finding, "severity": "FATAL"}]},
            {
                "ok": False,
                "findings": [finding],
                "lockout": {"verdict": "MAYBE", "reason": "", "statements": []},
            },
        ],
        f"{KMS}#/$defs/rollbackResult": [Client().dry_run("kms.ListKeys", {}).to_json()],  # no keyId
        f"{KMS}#/$defs/apply": [
            {"ok": True, "changed": 3},  # not a summary, and not a result
            {**_SUMMARY, "failedKeys": [{"key": "k"}]},  # a failed key without its reason
            {**_SUMMARY, "thisRun": {**_SUMMARY["thisRun"], "retried": 1}},  # a count nobody declared
            {**_SUMMARY, "changed": -1},
        ],
        f"{KMS}#/$defs/rollbackJournal": [{**_SUMMARY}],
    }
    assert errors(f"{KMS}#/$defs/apply", _SUMMARY) == []
    for ref, documents in wrong.items():
        for document in documents:
            assert errors(ref, document) != [], (ref, document)
    assert errors(f"{CORE}#/$defs/task", task) == []
    assert errors(f"{CORE}#/$defs/inputSchema", schema) == []
