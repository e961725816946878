"""The secret sweep: no secret key, session token or signature in any output, log or file.

Every command runs with distinctive credentials in the environment and ``--debug``
(botocore's DEBUG log of the canonical request included), against the local moto server
(which rejects these credentials: the failure path must not leak either), against a fault
server that echoes the Authorization and token headers back in its body and headers, and
with nothing to talk to. Checked: stdout, stderr, every log record (caplog, root at DEBUG),
the result JSON, and every file written under a temporary HOME and backup directory; in
process and as real subprocesses. The signatures to look for are the real ones: captured
from the signer in process, and from what the fault server received.

The commands come from the command line itself (``main.commands``, plugins' included): a
command without a :class:`Case` in :data:`CASES` fails :func:`test_every_command_is_swept`, and
so does a case naming a command that does not exist. Nothing is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import KEY_ID, policy_for
from faultserver import FaultServer, by_target, echo_secrets, loopback_only, ok  # noqa: F401 - loopback_only
from rolloutfiles import write_journal

from http_task_kms import Client
from http_task_kms.auth.sigv4 import SigV4Signer
from http_task_kms.cli import main

ACCESS = "AKIASWEEPTEST0000001"
SECRET = "SECRETsecretSECRETsecret0123456789abcdef"
TOKEN = "TOKENtokenTOKENtoken" + "sessionTOKENsession0123456789" * 4 + "ENDofTOKEN"
CALLER = "arn:aws:iam::123456789012:user/sweeper"
#: A formatted signature: in an Authorization header, or botocore's "Signature:\n<hex>" log line.
SIGNATURE = re.compile(r"Signature[=:]\s*([0-9a-f]{64})", re.IGNORECASE)
#: What an AWS secret access key looks like (moto makes them from these characters).
SECRET_LIKE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def secret_fragments(*secrets: str) -> list[str]:
    """Each secret, and its head and tail: a truncated message must not leak half a token."""
    found = []
    for secret in secrets:
        found += [secret, secret[:20], secret[-20:]] if len(secret) > 40 else [secret]
    return found


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets (or formatted signatures) found in ``text``, in any case."""
    lowered = text.lower()
    return [s for s in secrets if s and s.lower() in lowered] + SIGNATURE.findall(text)


def test_the_detectors_find_what_they_look_for():
    line = f"Authorization: AWS4-HMAC-SHA256 Credential=A/B, Signature={'ab' * 32}"
    assert leaks(line, []) == ["ab" * 32]
    assert leaks(f"DEBUG botocore.auth: Signature:\n{'0f' * 32}", []) == ["0f" * 32]
    assert leaks(f"message ... {TOKEN[:25]}…", secret_fragments(TOKEN)) == [TOKEN[:20]]
    assert leaks(f"echo {'AB' * 32}", ["ab" * 32]) == ["ab" * 32]
    moto_style = "abcdEFGH1234abcd/FGH1234abcdEFGH1234+bcd"
    assert SECRET_LIKE.findall(f"<SecretAccessKey>{moto_style}</SecretAccessKey>") == [moto_style]
    assert SECRET_LIKE.findall(f"KeyId {KEY_ID} and AKIA{'X' * 16}") == []


# -- the commands ---------------------------------------------------------------------------------
@dataclass
class Sweep:
    """Where a command line points: files, servers and the temporary HOME."""

    tmp: Path
    home: Path
    backups: Path
    fault_url: str
    kms_url: str

    def write(self, name: str, data: Any) -> str:
        path = self.tmp / "inputs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
        return str(path)

    def put_input(self) -> str:
        return self.write("put.json", {"KeyId": KEY_ID, "Policy": policy_for(CALLER)})

    def task(self, url: str) -> str:
        task = Client().registry.get("kms.PutKeyPolicy").to_task()
        task["httpRequest"]["url"] = url
        return self.write(f"task-{abs(hash(url))}.json", task)

    def safe_workflow(self) -> str:
        from http_task_kms.kms.workflow import safe_workflow

        return self.write("safe-workflow.json", safe_workflow())

    def rollout(self) -> list[str]:
        """``apply`` of one key to the fault server, its journal under HOME (a new one each time)."""
        journals = self.home / "rollouts"
        journals.mkdir(exist_ok=True)
        journal = journals / f"sweep-{len(list(journals.iterdir()))}.journal"
        keys = self.write("keys.txt", f"{KEY_ID}\n")
        policy = self.write("rollout-policy.json", policy_for(CALLER))
        return ["--policy", policy, "--keys", keys, "--journal", str(journal), "--verify-interval", "0"]

    def rollout_journal(self) -> str:
        """A journal of a rollout that wrote KEY_ID (to roll back from its backup)."""
        from http_task_kms.kms.rollout.placeholders import fingerprint

        older = json.dumps(policy_for(CALLER, "arn:aws:iam::123456789012:role/old"))
        journal = self.home / f"written-{abs(hash(self.fault_url))}.journal"
        if not journal.exists():
            write_journal(
                journal,
                region="us-east-1",
                endpoint=self.fault_url,
                writes=[(KEY_ID, self.backup_file(), fingerprint(older) or "")],
            )
        return str(journal)

    def backup_file(self) -> str:
        from http_task_kms.kms.backup import write_backup

        path = write_backup(
            self.tmp / "inputs",
            key_id=KEY_ID,
            region="us-east-1",
            policy=json.dumps(policy_for(CALLER)),
            endpoint=self.fault_url,
        )
        return str(path)


@dataclass(frozen=True)
class Case:
    """One command line to sweep, and the exit code it must end with."""

    id: str
    command: str
    argv: Callable[[Sweep], list[str]]
    exit_code: int
    sends_to: str | None = None  # "fault" / "moto": the signed request must really have been sent
    signs: bool = True  # a canonical request is logged, so redaction is really exercised
    extra: dict[str, Any] = field(default_factory=dict)


def _common(s: Sweep) -> list[str]:
    return ["--region", "us-east-1", "--caller-arn", CALLER, "--debug"]


def _send(s: Sweep) -> list[str]:
    return [*_common(s), "--backup-dir", str(s.backups), "--max-attempts", "1", "--principal-wait", "0"]


CASES = [
    Case(
        "render-template",
        "render",
        lambda s: [
            "render",
            "kms.PutKeyPolicy",
            "--input",
            s.put_input(),
            "--endpoint-url",
            s.fault_url,
            *_common(s),
        ],
        0,
    ),
    Case(
        "render-task",
        "render",
        lambda s: [
            "render",
            "--task",
            s.task(s.fault_url),
            "--input",
            s.put_input(),
            "--endpoint-url",  # a task URL on loopback gets credentials only as the operator's endpoint
            s.fault_url,
            *_common(s),
        ],
        0,
    ),
    Case(
        "test-request-template-fault",
        "test-request",
        lambda s: [
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            s.put_input(),
            "--endpoint-url",
            s.fault_url,
            *_send(s),
        ],
        1,
        sends_to="fault",
    ),
    Case(
        "test-request-task-fault",
        "test-request",
        lambda s: [
            "test-request",
            "--task",
            s.task(s.fault_url),
            "--input",
            s.put_input(),
            "--endpoint-url",
            s.fault_url,
            *_send(s),
        ],
        1,
        sends_to="fault",
    ),
    Case(
        "test-request-template-moto",
        "test-request",
        lambda s: [
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            s.put_input(),
            "--endpoint-url",
            s.kms_url,
            *_send(s),
        ],
        1,
        sends_to="moto",
    ),
    Case(
        "test-request-task-moto",
        "test-request",
        lambda s: [
            "test-request",
            "--task",
            s.task(s.kms_url),
            "--input",
            s.put_input(),
            "--endpoint-url",
            s.kms_url,
            *_send(s),
        ],
        1,
        sends_to="moto",
    ),
    Case(
        "test-request-listkeys-moto",
        "test-request",
        lambda s: [
            "test-request",
            "kms.ListKeys",
            "--input",
            s.write("empty.json", {}),
            "--endpoint-url",
            s.kms_url,
            "--region",
            "us-east-1",
            "--debug",
        ],
        1,
        sends_to="moto",
    ),
    Case(
        "rollback-fault",
        "rollback",
        lambda s: [
            "rollback",
            s.backup_file(),
            "--endpoint-url",
            s.fault_url,
            "--caller-arn",
            CALLER,
            "--backup-dir",
            str(s.backups),
            "--debug",
        ],
        1,
        sends_to="fault",
    ),
    Case(
        "apply-fault",
        "apply",
        lambda s: ["apply", *s.rollout(), "--endpoint-url", s.fault_url, *_send(s)],
        1,
        sends_to="fault",
    ),
    Case(
        "rollback-journal-fault",
        "rollback",
        lambda s: [
            "rollback",
            "--journal",
            s.rollout_journal(),
            "--endpoint-url",
            s.fault_url,
            "--caller-arn",
            CALLER,
            "--backup-dir",
            str(s.backups),
            "--max-attempts",
            "1",
            "--debug",
        ],
        1,
        sends_to="fault",
    ),
    Case(
        "lint-policy",
        "lint-policy",
        lambda s: ["lint-policy", s.write("policy.json", policy_for(CALLER)), "--caller-arn", CALLER],
        0,
        signs=False,
    ),
    Case("templates", "templates", lambda s: ["templates", "--json", "--search", "policy"], 0, signs=False),
    Case(
        "template", "template", lambda s: ["template", "kms.PutKeyPolicy", "--format", "task"], 0, signs=False
    ),
    Case("spec", "spec", lambda s: ["spec", "kms", "--output", s.write("kms.yaml", {})], 0, signs=False),
    Case("workflow", "workflow", lambda s: ["workflow", "kms.PutKeyPolicy", "--safe"], 0, signs=False),
    Case(
        "validate-workflow",
        "validate-workflow",
        lambda s: ["validate-workflow", s.safe_workflow()],
        0,
        signs=False,
    ),
    Case(
        "test-request-workflow-input-fault",
        "test-request",
        lambda s: [
            "test-request",
            "--task",
            s.safe_workflow(),
            "--task-name",
            "Put key policy",
            "--workflow-input",
            s.write(
                "workflow-input.json", {"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy_for(CALLER)}
            ),
            "--endpoint-url",
            s.fault_url,
            *_send(s),
        ],
        1,
        sends_to="fault",
    ),
]


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def fault() -> Iterator[FaultServer]:
    """Answers GetKeyPolicy with an older policy; echoes every secret back to anything else."""
    older = json.dumps(policy_for(CALLER, "arn:aws:iam::123456789012:role/old"))
    with FaultServer(default=by_target({"GetKeyPolicy": ok({"Policy": older})}, echo_secrets())) as server:
        yield server


@pytest.fixture
def sweep(tmp_path: Path, fault: FaultServer, kms_url: str, monkeypatch: pytest.MonkeyPatch) -> Sweep:
    """The distinctive credentials in the environment; HOME and data dirs under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    return Sweep(tmp=tmp_path, home=home, backups=home / "backups", fault_url=fault.url, kms_url=kms_url)


@pytest.fixture
def signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature the signer makes in this process (the real ones, to look for)."""
    made: list[str] = []
    original = SigV4Signer.sign

    def sign(self: SigV4Signer, *args: Any, **kwargs: Any) -> dict[str, str]:
        headers = original(self, *args, **kwargs)
        made.append(headers["Authorization"].rsplit("Signature=", 1)[1])
        return headers

    monkeypatch.setattr(SigV4Signer, "sign", sign)
    return made


def files_under(*roots: Path) -> dict[str, str]:
    """Every file under ``roots``: path → content (bytes read as Latin-1, so nothing is lost)."""
    return {
        str(path): path.read_bytes().decode("latin-1")
        for root in roots
        if root.exists()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def assert_no_leaks(outputs: dict[str, str], secrets: list[str]) -> None:
    found = {where: leaks(text, secrets) for where, text in outputs.items()}
    assert not any(found.values()), {where: hits for where, hits in found.items() if hits}


# -- in process: caplog sees every record ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_command_leaks_nothing_in_process(case, sweep, fault, signatures, caplog):
    argv = case.argv(sweep)
    assert argv[0] == case.command  # the case runs the command it is counted for
    caplog.set_level(logging.DEBUG)  # the root: botocore's, urllib3's and moto's loggers included
    outcome = CliRunner().invoke(main, argv)
    crashed = ""
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        crashed = "".join(traceback.format_exception(outcome.exception))
    assert not crashed, crashed
    assert outcome.exit_code == case.exit_code, outcome.stdout
    document = json.loads(outcome.stdout)  # exactly one JSON document

    # the sweep is not vacuous: secrets were used, logged (then scrubbed) and sent
    if case.signs:
        assert signatures, "nothing was signed"
        assert any("CanonicalRequest" in r.getMessage() for r in caplog.records), "no DEBUG signing log"
    if case.sends_to == "fault":
        assert any(r.header("X-Amz-Security-Token") == TOKEN for r in fault.received)
    if case.sends_to == "moto":
        assert "403" in json.dumps(document) or document.get("statusCode") == 403
    if case.sends_to is None:
        assert fault.count == 0  # a dry run sends nothing

    secrets = secret_fragments(SECRET, TOKEN) + signatures + [r.signature or "" for r in fault.received]
    outputs = {
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "caplog": caplog.text,
        "records": "\n".join(f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records),
        "result": json.dumps(document),
        **files_under(sweep.home, sweep.backups),
    }
    assert_no_leaks(outputs, secrets)


def test_success_path_with_real_credentials_leaks_nothing(
    sweep, admin, new_key, signatures, caplog, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin.secret_access_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    caplog.set_level(logging.DEBUG)
    put = sweep.write("admin.json", {"KeyId": new_key, "Policy": policy_for(admin.arn)})
    outcome = CliRunner().invoke(
        main,
        [
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            put,
            "--endpoint-url",
            sweep.kms_url,
            "--region",
            "us-east-1",
            "--caller-arn",
            admin.arn,
            "--backup-dir",
            str(sweep.backups),
            "--debug",
        ],
    )
    assert outcome.exit_code == 0, outcome.stdout
    assert signatures, "nothing was signed"
    assert list(sweep.backups.iterdir()), "the policy was sent and the old one backed up"
    outputs = {
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "caplog": caplog.text,
        **files_under(sweep.home, sweep.backups),
    }
    assert_no_leaks(outputs, [admin.secret_access_key, *signatures])


# -- as real processes: what reaches the terminal -----------------------------------------------------
def _spawn(argv: list[str], env: dict[str, str], prelude: str = "") -> subprocess.Popen[str]:
    code = f"{prelude}\nfrom http_task_kms.cli import run\nrun()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_commands_leak_nothing_as_subprocesses(sweep, fault, tmp_path):
    env = {**os.environ}
    started = {case.id: (case, _spawn(case.argv(sweep), env)) for case in CASES}
    done = {
        name: (case, *process.communicate(timeout=120), process.returncode)
        for name, (case, process) in started.items()
    }
    secrets = secret_fragments(SECRET, TOKEN) + [r.signature or "" for r in fault.received]
    assert any(r.header("X-Amz-Security-Token") == TOKEN for r in fault.received)
    for name, (case, stdout, stderr, status) in done.items():
        assert status == case.exit_code, (name, stdout, stderr[-2000:])
        assert "Traceback" not in stderr, (name, stderr[-3000:])
        json.loads(stdout)
        if case.signs:
            assert "DEBUG http_task_kms.auth.sigv4_fast: CanonicalRequest" in stderr, name
        assert_no_leaks({f"{name} stdout": stdout, f"{name} stderr": stderr}, secrets)
    assert_no_leaks(files_under(sweep.home, sweep.backups), secrets)


def test_demo_never_shows_the_secret_it_creates(tmp_path):
    spy = tmp_path / "spy.txt"  # the demo user's secret, recorded for this test only
    prelude = (
        "import http_task_kms.kms.local as local\n"
        "created = local.LocalKms.create_admin\n"
        "def create_admin(self, *args, **kwargs):\n"
        "    admin = created(self, *args, **kwargs)\n"
        f"    open({str(spy)!r}, 'w').write(admin.secret_access_key)\n"
        "    return admin\n"
        "local.LocalKms.create_admin = create_admin"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp_path), "XDG_DATA_HOME": str(home / "data")}
    process = _spawn(["demo", "--debug"], env, prelude)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    document = json.loads(stdout)
    assert document["ok"] is True
    assert document["putKeyPolicy"]["ok"] is True
    created = spy.read_text()
    assert len(created) == 40
    assert "CreateAccessKey" in stderr
    assert_no_leaks({"stdout": stdout, "stderr": stderr, **files_under(home)}, [created])  # ...scrubbed
    assert SECRET_LIKE.findall(stdout) == []
    assert SECRET_LIKE.findall(stderr) == []
    assert "Signature=<redacted>" in stderr  # moto's own log of the request it checked, scrubbed


def test_every_command_is_swept() -> None:
    """Every command of the command line has a case (``demo`` has its own test above), and no case
    names a command that does not exist: a new command fails here until it joins the sweep."""
    commands = set(main.commands)
    swept = {case.command for case in CASES} | {"demo"}
    assert "demo" in commands
    assert sorted(commands - swept) == [], "commands the sweep does not run"
    assert sorted(swept - commands) == [], "cases for commands that do not exist"
