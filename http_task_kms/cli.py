"""The ``http-task-kms`` command line: parse, call the API, print one JSON document.

Exit codes: 0 success; 1 the request was sent and failed; 2 bad input or a failed check
(nothing was sent). Human messages go to stderr.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from . import config, inputs, jsonutil, redact
from .client import Client
from .errors import (
    CredentialsError,
    HttpTaskError,
    InputError,
    Interrupted,
    Problem,
    RequestValidationError,
    SpecError,
    TaskDefinitionError,
    TemplateNotFound,
)
from .kms.local import LocalKmsUnavailable
from .prepare import Options
from .result import ErrorDetail, TestRequestResult, validation_failure
from .task import select_task

__all__ = ["main", "run"]

F = TypeVar("F", bound=Callable[..., Any])
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _emit(document: Any) -> None:
    # allow_nan=False: stdout is strict JSON; inputs and answers are parsed strictly, so a
    # non-finite number here is a bug (reported as InternalError), never Infinity on stdout.
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False))


def _fail(problems: list[Problem]) -> NoReturn:
    _emit(validation_failure(problems).to_json())
    sys.exit(EXIT_INVALID)


def _read_text(source: str, what: str, *, limit: int, label: str) -> str:
    """A file's text (``-``: standard input), at most ``limit`` bytes of UTF-8; else exit 2."""
    try:
        return inputs.read_text(source, field=what, limit=limit, label=label)
    except InputError as exc:
        _fail(exc.problems)


def _read_json(source: str, what: str, *, limit: int, label: str) -> Any:
    """A file's strict JSON (no duplicate keys, NaN, lone surrogates, deep nesting); else exit 2."""
    try:
        return inputs.read_json(source, field=what, limit=limit, label=label)
    except InputError as exc:
        _fail(exc.problems)


def _exit_code(result: TestRequestResult) -> int:
    if result.ok:
        return EXIT_OK
    return (
        EXIT_INVALID
        if result.statusCode is None and result.error is not None and result.error.code == "ValidationError"
        else EXIT_FAILED
    )


def endpoint_options(func: F) -> F:
    """Where requests go and with which credentials: shared by every command that sends."""
    decorators = [
        click.option("--region", help="AWS Region (after the 'region' input parameter)."),
        click.option("--endpoint-url", help="Send to this endpoint instead (e.g. a local KMS)."),
        click.option("--fips", is_flag=True, help="Use the FIPS endpoint."),
        click.option("--dual-stack", is_flag=True, help="Use the dual-stack (IPv6) endpoint."),
        click.option("--profile", help="AWS profile (config and credentials files)."),
        click.option(
            "--allow-insecure-endpoint", is_flag=True, help="Allow plain http to a non-loopback endpoint."
        ),
        click.option(
            "--caller-arn", help="Caller identity for the lockout check (skips sts:GetCallerIdentity)."
        ),
        click.option("--sts-endpoint-url", help="Where to call sts:GetCallerIdentity."),
        click.option("--debug", is_flag=True, help="DEBUG logging on stderr (secrets are always redacted)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def request_options(func: F) -> F:
    """The options shared by ``render`` and ``test-request``."""
    decorators = [
        click.option(
            "--input", "input_file", required=True, metavar="FILE|-", help="Input parameters (JSON)."
        ),
        click.option(
            "--task", "task_file", metavar="FILE", help="A builder Http task or a workflow definition."
        ),
        click.option("--task-name", help="The task to run in a workflow definition."),
        click.option(
            "--spec",
            type=click.Path(exists=True, dir_okay=False),
            help="Templates from this OpenAPI document.",
        ),
        click.option(
            "--allow-unknown-operation",
            is_flag=True,
            help="Send a request whose X-Amz-Target names no known operation of its service (unchecked).",
        ),
        endpoint_options,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def send_options(func: F) -> F:
    """The options only ``test-request`` has."""
    decorators = [
        click.option("--connect-timeout", type=click.FloatRange(min=0.1), help="Seconds (task default 5)."),
        click.option("--read-timeout", type=click.FloatRange(min=0.1), help="Seconds (task default 10)."),
        click.option(
            "--max-attempts", type=click.IntRange(min=1, max=20), help="Overrides the task's retry."
        ),
        click.option("--force", is_flag=True, help="Send even when the policy equals the current one."),
        click.option(
            "--backup-dir", type=click.Path(file_okay=False), help="Where previous policies are saved."
        ),
        click.option(
            "--principal-wait",
            type=click.FloatRange(min=0),
            default=120.0,
            show_default=True,
            help="Seconds to retry a not-yet-visible new principal (0: off).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _setup_logging(debug: bool) -> None:
    redact.install_log_filter()
    if debug:
        logging.basicConfig(
            level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )


def _client(spec: str | None, **kw: Any) -> Client:
    plugin_keys = ("caller_arn", "sts_endpoint_url", "force", "backup_dir", "principal_wait")
    plugin_options = {k: kw.pop(k) for k in plugin_keys if k in kw and kw[k] is not None}
    for key in ("input_file", "task_file", "task_name", "debug"):
        kw.pop(key, None)
    try:
        return Client(Options(**kw, plugin_options=plugin_options), spec=spec)
    except RequestValidationError as exc:
        _fail(exc.problems)


def _compiled(client: Client, template_id: str | None, task_file: str | None, task_name: str | None) -> Any:
    if (template_id is None) == (task_file is None):
        _fail([Problem(field="ID", message="give either a template ID or --task FILE (not both)")])
    if task_file is not None:
        from .prepare import compile_task  # noqa: PLC0415

        document = _read_json(task_file, "task", limit=config.MAX_TASK_BYTES, label="--task")
        _, task = select_task(document, task_name)
        return compile_task(task)
    return client.compiled_template(str(template_id))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="http-task-kms")
def main() -> None:
    """AWS KMS (PutKeyPolicy first) as workflow-builder HTTP tasks: render, check, sign, send."""


@main.command()
@click.option("--search", help="Only templates whose id, title or description contain TEXT.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option(
    "--spec", type=click.Path(exists=True, dir_okay=False), help="Templates from this OpenAPI document."
)
def templates(search: str | None, as_json: bool, spec: str | None) -> None:
    """List the task templates."""
    registry = Client(spec=spec).registry
    found = registry.search(search) if search else list(registry)
    if as_json:
        _emit([{"id": t.id, "title": t.title, "summary": t.description.split("\n", 1)[0]} for t in found])
        return
    for t in found:
        click.echo(f"{t.id:<45} {t.description.split(chr(10), 1)[0][:70]}")
    click.echo(f"{len(found)} template(s)", err=True)


@main.command()
@click.argument("template_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["task", "schema"]), default="task", show_default=True)
@click.option("--spec", type=click.Path(exists=True, dir_okay=False))
def template(template_id: str, fmt: str, spec: str | None) -> None:
    """Print a template as a builder Http task or as the JSON Schema of its inputs."""
    chosen = Client(spec=spec).registry.get(template_id)
    _emit(chosen.to_task() if fmt == "task" else chosen.input_schema())


@main.command()
@click.argument("template_id", metavar="[ID]", required=False)
@request_options
def render(template_id: str | None, **kw: Any) -> None:
    """Dry run: print the signed request that would be sent (secrets redacted); send nothing."""
    _setup_logging(kw["debug"])
    client = _client(kw.pop("spec"), **dict(kw))
    compiled = _compiled(client, template_id, kw["task_file"], kw["task_name"])
    params = _read_json(kw["input_file"], "input", limit=config.MAX_INPUT_BYTES, label="--input")
    try:
        prepared = client.prepare(compiled, params, dry_run=True)
    except RequestValidationError as exc:
        _fail(exc.problems)
    result = client.render(prepared)
    if result.request is not None and not result.request.signed:
        click.echo("note: no AWS credentials found, so the request is shown unsigned", err=True)
    click.echo("dry run: nothing was sent", err=True)
    _emit(result.to_json())


@main.command("test-request")
@click.argument("template_id", metavar="[ID]", required=False)
@request_options
@send_options
def test_request(template_id: str | None, **kw: Any) -> None:
    """Send the request once (with the task's retries) and print the structured result."""
    _setup_logging(kw["debug"])
    client = _client(kw.pop("spec"), **dict(kw))
    compiled = _compiled(client, template_id, kw["task_file"], kw["task_name"])
    params = _read_json(kw["input_file"], "input", limit=config.MAX_INPUT_BYTES, label="--input")
    result = client.test_compiled(compiled, params)
    _emit(result.to_json())
    sys.exit(_exit_code(result))


@main.command()
@click.argument("service", default="kms")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
def spec(service: str, output: str | None) -> None:
    """Generate the OpenAPI document of an AWS JSON-protocol service from botocore's model.

    Without --output the YAML document is printed; with it, a JSON summary.
    """
    from openapi_spec_validator import validate  # noqa: PLC0415

    from .openapi.generate import dump_yaml, generate_openapi  # noqa: PLC0415

    document = generate_openapi(service)
    validate(document)  # never write a document the loader's peers would reject
    text = dump_yaml(document)
    if not output:
        click.echo(text, nl=False)  # the document itself is the output
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        _fail([Problem(field="output", message=f"cannot write {output}: {exc.strerror}")])
    click.echo(f"wrote {output}", err=True)
    _emit({"ok": True, "output": output, "service": service, "operations": len(document["paths"])})


@main.command()
@click.option("--debug", is_flag=True, help="DEBUG logging on stderr (secrets are always redacted).")
def demo(debug: bool) -> None:
    """Run a PutKeyPolicy Test request against an embedded KMS (moto) on 127.0.0.1."""
    _setup_logging(debug)
    from .kms.demo import run_demo  # noqa: PLC0415 - imports moto

    click.echo("starting the embedded KMS (moto) on 127.0.0.1 …", err=True)
    document = run_demo()
    _emit(document)
    sys.exit(EXIT_OK if document["ok"] else EXIT_FAILED)


@main.command("lint-policy")
@click.argument("source", metavar="FILE|-")
@click.option("--caller-arn", help="Also check that this principal keeps kms:PutKeyPolicy (lockout check).")
@click.option("--key-arn", help="The key the policy is for (checks Resource and the lockout on it).")
def lint_policy_command(source: str, caller_arn: str | None, key_arn: str | None) -> None:
    """Lint a key policy offline; exit 0 when there is no ERROR, 2 otherwise."""
    from .kms.policy.lint import lint_policy  # noqa: PLC0415
    from .kms.policy.lockout import check_lockout  # noqa: PLC0415

    text = _read_text(source, "FILE", limit=config.MAX_POLICY_FILE_BYTES, label="lint-policy FILE")
    findings = lint_policy(text, key_arn=key_arn)
    document: dict[str, Any] = {"ok": True, "findings": [f.model_dump() for f in findings]}
    policy = _strict_policy(text) if caller_arn else None
    if caller_arn and isinstance(policy, dict):  # not when a duplicate key makes it ambiguous
        lockout = check_lockout(policy, caller_arn=caller_arn, key_arn=key_arn)
        document["lockout"] = lockout.model_dump()
        if lockout.verdict == "FAIL":
            document["findings"].append(
                {
                    "severity": "ERROR",
                    "code": "LOCKOUT_FAIL",
                    "message": lockout.reason,
                    "path": lockout.statements[0] if lockout.statements else "$",
                }
            )
    document["ok"] = not any(f["severity"] == "ERROR" for f in document["findings"])
    _emit(document)
    sys.exit(EXIT_OK if document["ok"] else EXIT_INVALID)


def _strict_policy(text: str) -> Any:
    """The policy as strict JSON, or None (the lint findings then say what is wrong)."""
    try:
        return jsonutil.loads(text)
    except ValueError:
        return None


@main.command()
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@endpoint_options
@send_options
def rollback(backup_file: str, **kw: Any) -> None:
    """Restore a backed-up key policy to its own key and endpoint, through every PutKeyPolicy check."""
    from .kms.rollback import restore_parameters, rollback_problems  # noqa: PLC0415
    from .kms.safety import read_backup  # noqa: PLC0415

    _setup_logging(kw["debug"])
    try:
        backup = read_backup(backup_file)
    except (OSError, ValueError) as exc:
        _fail([Problem(field="BACKUP_FILE", message=str(exc))])
    region = kw.pop("region")
    client = _client(None, region=backup["region"], **kw)
    problems = rollback_problems(backup, client.endpoints, region=region)
    if problems:
        _fail(problems)
    result = client.test_request("kms.PutKeyPolicy", restore_parameters(backup))
    result.extra.update({"keyId": backup["keyId"], "region": backup["region"], "restoredFrom": backup_file})
    _emit(result.to_json())
    sys.exit(_exit_code(result))


_ERROR_FIELDS: dict[type[HttpTaskError], str] = {
    TemplateNotFound: "ID",
    LocalKmsUnavailable: "local",
    SpecError: "spec",
    TaskDefinitionError: "task",
    CredentialsError: "credentials",
}


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum, signal.Signals(signum).name)


def _interrupted(exc: Interrupted) -> NoReturn:
    """One JSON result for a command stopped by a signal; exit 128 + the signal's number."""
    click.echo(f"interrupted by {exc.signal_name}", err=True)
    result = TestRequestResult(
        ok=False,
        error=ErrorDetail(
            code="Interrupted",
            message=f"interrupted by {exc.signal_name}: a request may have reached the service or not; "
            "check the resource's state before running it again",
        ),
    )
    result.extra = {"outcome": "unknown", "backupFile": None, **exc.details}
    _emit(result.to_json())
    sys.exit(128 + exc.signal_number)


def run() -> None:
    """Entry point: every outcome is one JSON document on stdout and an exit code, never a traceback.

    SIGINT and SIGTERM end the command with one JSON result too (``error.code`` ``Interrupted``,
    ``outcome`` ``unknown``) and exit 130 / 143.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupted)
    try:
        main(standalone_mode=False)
    except Interrupted as exc:
        _interrupted(exc)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        param = getattr(exc, "param", None)  # BadParameter and MissingParameter name theirs
        field = param.name if param is not None and param.name else "arguments"
        click.echo(f"error: {exc.format_message()}", err=True)
        _emit(validation_failure([Problem(field=field, message=exc.format_message())]).to_json())
        sys.exit(EXIT_INVALID)
    except click.ClickException as exc:
        exc.show()
        _emit(validation_failure([Problem(field="arguments", message=exc.format_message())]).to_json())
        sys.exit(EXIT_INVALID)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILED)
    except HttpTaskError as exc:
        field = next((name for kind, name in _ERROR_FIELDS.items() if isinstance(exc, kind)), "input")
        problems = getattr(exc, "problems", None) or [Problem(field=field, message=str(exc))]
        _emit(validation_failure(problems).to_json())
        sys.exit(EXIT_INVALID)
    except Exception as exc:
        message = redact.redact_text(f"{type(exc).__name__}: {exc}")
        click.echo(f"internal error: {message} (please report it)", err=True)
        _emit(TestRequestResult(ok=False, error=ErrorDetail(code="InternalError", message=message)).to_json())
        sys.exit(EXIT_FAILED)
