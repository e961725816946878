"""The ``http-task-kms`` command line: parse, call the API, print one JSON document.

The core's commands are generic (``templates``, ``template``, ``render``, ``test-request``,
``spec``); plugins add theirs and their options through the ``register_commands`` hook
(the KMS plugin adds ``lint-policy``, ``rollback``, ``demo`` and options of its own). The
values of options a plugin adds reach its hooks as ``options``. Building the command line
imports nothing heavy: each command imports what it needs.

Exit codes: 0 success; 1 a request was sent and failed; 2 bad input or a failed check
(nothing was sent); 130 / 143 interrupted by SIGINT / SIGTERM. Human messages go to stderr.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import config
from .cli_kit import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    decorate,
    emit,
    endpoint_options,
    exit_code,
    fail,
    make_client,
    read_json,
    send_options,
    setup_logging,
)
from .errors import HttpTaskError, Interrupted, Problem, RequestValidationError

if TYPE_CHECKING:
    from .client import Client
    from .registry import Registry
    from .render import CompiledTask

__all__ = ["main", "run"]


def _request_options(func: Any) -> Any:
    """The options shared by ``render`` and ``test-request``."""
    return decorate(
        func,
        [
            click.option(
                "--input", "input_file", metavar="FILE|-", help="The task's input parameters (JSON)."
            ),
            click.option(
                "--workflow-input",
                metavar="FILE|-",
                help="The workflow's input (JSON): the task's inputParameters are evaluated over it first.",
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
        ],
    )


def _inputs(client: Client, template_id: str | None, kw: dict[str, Any]) -> tuple[CompiledTask, Any, Any]:
    """The compiled task, its input parameters, and (from --workflow-input) how they were evaluated."""
    from .render import compile_task  # noqa: PLC0415
    from .task import select_task  # noqa: PLC0415

    if (template_id is None) == (kw["task_file"] is None):
        fail([Problem(field="ID", message="give either a template ID or --task FILE (not both)")])
    if (kw["input_file"] is None) == (kw["workflow_input"] is None):
        message = "give either --input FILE (the task's input parameters) or --workflow-input FILE (not both)"
        fail([Problem(field="input", message=message)])
    if template_id is not None:
        if kw["workflow_input"] is not None:
            message = "needs --task: a task's inputParameters are what map the workflow input to its input"
            fail([Problem(field="workflow-input", message=message)])
        return client.compiled_template(template_id), _read_input(kw["input_file"]), None
    document = read_json(kw["task_file"], "task", limit=config.MAX_TASK_BYTES, label="--task")
    _, task = select_task(document, kw["task_name"])
    if kw["workflow_input"] is None:
        return compile_task(task), _read_input(kw["input_file"]), None
    from .workflow import evaluate_input  # noqa: PLC0415 - JSON Schema and expressions: only here

    limit, label = config.MAX_WORKFLOW_INPUT_BYTES, "--workflow-input"
    workflow_input = read_json(kw["workflow_input"], "workflow-input", limit=limit, label=label)
    params, problems = evaluate_input(task.inputParameters, workflow_input)
    if problems:
        fail(problems)
    return compile_task(task), params, params


def _read_input(source: str) -> Any:
    return read_json(source, "input", limit=config.MAX_INPUT_BYTES, label="--input")


def _shown_inputs(result: Any, evaluated: Any) -> None:
    """The input parameters evaluated from the workflow input, in the result (secrets masked)."""
    from .redact import redact_value  # noqa: PLC0415

    if evaluated is not None:
        result.extra["inputParameters"] = redact_value(evaluated)


def _registry(spec: str | None) -> Registry:
    """The templates (the plugins', or a ``--spec`` document's): no client, nothing to send with."""
    from .plugins.manager import get_registry  # noqa: PLC0415

    return get_registry(spec)


# -- the core's commands -------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="http-task-kms")
def main() -> None:
    """AWS KMS (and other AWS JSON-protocol services) as workflow-builder HTTP tasks: check, sign, send."""


@main.command()
@click.option("--search", help="Only templates whose id, title or description contain TEXT.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option(
    "--spec", type=click.Path(exists=True, dir_okay=False), help="Templates from this OpenAPI document."
)
def templates(search: str | None, as_json: bool, spec: str | None) -> None:
    """List the task templates."""
    registry = _registry(spec)
    found = registry.search(search) if search else list(registry)
    if as_json:
        emit([{"id": t.id, "title": t.title, "summary": t.description.split("\n", 1)[0]} for t in found])
        return
    for t in found:
        click.echo(f"{t.id:<45} {t.description.split(chr(10), 1)[0][:70]}")
    click.echo(f"{len(found)} template(s)", err=True)


@main.command()
@click.argument("template_id", metavar="ID")
@click.option(
    "--format", "fmt", type=click.Choice(["task", "schema", "reference"]), default="task", show_default=True
)
@click.option("--spec", type=click.Path(exists=True, dir_okay=False))
def template(template_id: str, fmt: str, spec: str | None) -> None:
    """Print a template as a builder Http task, the JSON Schema of its inputs, or its API reference page.

    ``reference`` prints Markdown, as it is (not JSON).
    """
    chosen = _registry(spec).get(template_id)
    if fmt == "reference":
        from .reference import reference_page  # noqa: PLC0415

        click.echo(reference_page(chosen))
        return
    emit(chosen.to_task() if fmt == "task" else chosen.input_schema())


@main.command()
@click.argument("template_id", metavar="[ID]", required=False)
@_request_options
def render(template_id: str | None, **kw: Any) -> None:
    """Dry run: print the signed request that would be sent (secrets redacted); send nothing."""
    setup_logging(kw["debug"])
    client = make_client(**kw)
    compiled, params, evaluated = _inputs(client, template_id, kw)
    result = client.dry_run(compiled, params)
    _shown_inputs(result, evaluated)
    if not result.ok:
        emit(result.to_json())
        sys.exit(exit_code(result))
    if result.request is not None and not result.request.signed:
        click.echo("note: no AWS credentials found, so the request is shown unsigned", err=True)
    click.echo("dry run: nothing was sent", err=True)
    emit(result.to_json())


@main.command("test-request")
@click.argument("template_id", metavar="[ID]", required=False)
@_request_options
@send_options
def test_request(template_id: str | None, **kw: Any) -> None:
    """Send the request once (with the task's retries) and print the structured result."""
    setup_logging(kw["debug"])
    client = make_client(**kw)
    compiled, params, evaluated = _inputs(client, template_id, kw)
    result = client.test_request(compiled, params)
    _shown_inputs(result, evaluated)
    emit(result.to_json())
    sys.exit(exit_code(result))


_SPEC_EXTRA_MISSING = (
    "the spec command needs openapi-spec-validator, which is not installed: pip install 'http-task-kms[spec]'"
)


@main.command()
@click.argument("service", default="kms")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
def spec(service: str, output: str | None) -> None:
    """Generate the OpenAPI document of an AWS JSON-protocol service from botocore's model.

    Without --output the YAML document is printed; with it, a JSON summary. Needs the
    ``spec`` extra (openapi-spec-validator checks the document before it is written).
    """
    try:
        from openapi_spec_validator import validate  # noqa: PLC0415 - the `spec` extra
    except ImportError:
        fail([Problem(field="spec", message=_SPEC_EXTRA_MISSING)])

    from .openapi.generate import dump_yaml, generate_openapi  # noqa: PLC0415
    from .plugins.manager import get_plugin_manager  # noqa: PLC0415

    overlays: dict[str, Any] = {}
    get_plugin_manager().hook.register_overlays(register=overlays.__setitem__)
    document = generate_openapi(service, overlays=overlays.get(service))
    validate(document)  # never write a document the loader's peers would reject
    text = dump_yaml(document)
    if not output:
        click.echo(text, nl=False)  # the document itself is the output
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        fail([Problem(field="output", message=f"cannot write {output}: {exc.strerror}")])
    click.echo(f"wrote {output}", err=True)
    emit({"ok": True, "output": output, "service": service, "operations": len(document["paths"])})


@main.command("workflow")
@click.argument("template_id", metavar="ID")
@click.option("--name", help="The workflow's name (default: the template's title).")
@click.option(
    "--spec", type=click.Path(exists=True, dir_okay=False), help="Templates from this OpenAPI document."
)
def workflow_command(template_id: str, name: str | None, spec: str | None, **plugin_options: Any) -> None:
    """Print a workflow definition whose Http task takes its input from the workflow input."""
    from .workflow import validate  # noqa: PLC0415
    from .workflow_build import single_task_workflow  # noqa: PLC0415

    client = make_client(spec, **plugin_options)
    template = client.registry.get(template_id)
    try:
        built = client.manager.hook.build_workflow(
            template=template, name=name, options=client.options.plugin_options
        )
    except RequestValidationError as exc:
        fail(exc.problems)
    definition = built if built is not None else single_task_workflow(template, name=name)
    problems = validate(definition)
    if problems:  # what we make must pass our own check: a bug otherwise
        raise RuntimeError(
            f"the generated workflow is not valid: {problems[0].pointer}: {problems[0].message}"
        )
    emit(definition)


@main.command("validate-workflow")
@click.argument("source", metavar="FILE|-")
def validate_workflow_command(source: str) -> None:
    """Check a workflow definition: its shapes, references, reachability, loops and expressions."""
    from .workflow import task_names, validate  # noqa: PLC0415

    document = read_json(source, "FILE", limit=config.MAX_TASK_BYTES, label="validate-workflow FILE")
    problems = validate(document)
    name = document.get("name") if isinstance(document, dict) else None
    report = {"ok": not problems, "name": name, "tasks": len(task_names(document))}
    emit({**report, "problems": [p.as_json() for p in problems]})
    sys.exit(EXIT_INVALID if problems else EXIT_OK)


def _add_plugin_commands() -> None:
    from .plugins.manager import get_plugin_manager  # noqa: PLC0415

    get_plugin_manager().hook.register_commands(cli=main)


_add_plugin_commands()


# -- the entry point -------------------------------------------------------------------------------
def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum, signal.Signals(signum).name)


def _interrupted(exc: Interrupted) -> NoReturn:
    """One JSON result for a command stopped by a signal; exit 128 + the signal's number."""
    from .result import ErrorDetail, TestRequestResult  # noqa: PLC0415

    click.echo(f"interrupted by {exc.signal_name}", err=True)
    message = (
        f"interrupted by {exc.signal_name}: a request may have reached the service or not; "
        "check the resource's state before running it again"
    )
    result = TestRequestResult(ok=False, error=ErrorDetail(code="Interrupted", message=message))
    result.extra = {"outcome": "unknown", "backupFile": None, **exc.details}
    emit(result.to_json())
    sys.exit(128 + exc.signal_number)


def _usage_failure(exc: click.ClickException) -> NoReturn:
    param = getattr(exc, "param", None)  # BadParameter and MissingParameter name theirs
    field = param.name if param is not None and param.name else "arguments"
    click.echo(f"error: {exc.format_message()}", err=True)
    fail([Problem(field=field, message=exc.format_message())])


def _internal_error(exc: Exception) -> NoReturn:
    from .redact import redact_text  # noqa: PLC0415
    from .result import ErrorDetail, TestRequestResult  # noqa: PLC0415

    message = redact_text(f"{type(exc).__name__}: {exc}")
    click.echo(f"internal error: {message} (please report it)", err=True)
    emit(TestRequestResult(ok=False, error=ErrorDetail(code="InternalError", message=message)).to_json())
    sys.exit(EXIT_FAILED)


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
    except click.ClickException as exc:
        _usage_failure(exc)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILED)
    except HttpTaskError as exc:
        fail(getattr(exc, "problems", None) or [Problem(field=exc.field, message=str(exc))])
    except Exception as exc:
        _internal_error(exc)
