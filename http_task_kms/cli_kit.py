"""What a command needs, for the core's commands and the plugins' alike.

Printing one JSON document, failing with a ValidationError result (exit 2), reading an
untrusted file (bounded, strict), the exit code of a result, logging with secrets scrubbed,
a client from command-line values, and the shared endpoint and sending options. Cheap to
import: what it needs beyond click is imported when used.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import config
from .errors import InputError, Problem, RequestValidationError

if TYPE_CHECKING:
    from .client import Client
    from .result import TestRequestResult
    from .transport import Transport

__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_OK",
    "decorate",
    "emit",
    "endpoint_options",
    "exit_code",
    "fail",
    "make_client",
    "read_json",
    "read_text",
    "send_options",
    "setup_logging",
]

F = TypeVar("F", bound=Callable[..., Any])
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
#: Parameters of the core's commands that are not request options (the rest of the core's go
#: into :class:`~http_task_kms.options.Options`; any other is a plugin's).
_COMMAND_ONLY = frozenset({"input_file", "task_file", "task_name", "debug", "spec"})


def emit(document: Any) -> None:
    """Print one JSON document on stdout (strict JSON: never NaN or Infinity)."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False))


def fail(problems: list[Problem]) -> NoReturn:
    """Print the ValidationError result listing ``problems`` and exit 2."""
    from .result import validation_failure  # noqa: PLC0415

    emit(validation_failure(problems).to_json())
    sys.exit(EXIT_INVALID)


def read_text(source: str, what: str, *, limit: int, label: str) -> str:
    """A file's text (``-``: standard input), at most ``limit`` bytes of UTF-8; else exit 2."""
    from . import inputs  # noqa: PLC0415

    try:
        return inputs.read_text(source, field=what, limit=limit, label=label)
    except InputError as exc:
        fail(exc.problems)


def read_json(source: str, what: str, *, limit: int, label: str) -> Any:
    """A file's strict JSON (no duplicate keys, NaN, lone surrogates, deep nesting); else exit 2."""
    from . import inputs  # noqa: PLC0415

    try:
        return inputs.read_json(source, field=what, limit=limit, label=label)
    except InputError as exc:
        fail(exc.problems)


def exit_code(result: TestRequestResult) -> int:
    """0 for success, 2 for a request refused before sending, 1 for any other failure."""
    if result.ok:
        return EXIT_OK
    refused = (
        result.statusCode is None and result.error is not None and result.error.code == "ValidationError"
    )
    return EXIT_INVALID if refused else EXIT_FAILED


def setup_logging(debug: bool) -> None:
    """Scrub secrets from every log record of the process; DEBUG logging on stderr if asked."""
    import logging  # noqa: PLC0415 - not for --help

    from . import redact  # noqa: PLC0415

    redact.install_log_filter()
    if debug:
        logging.basicConfig(
            level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )


def make_client(spec: str | None = None, *, transport: Transport | None = None, **given: Any) -> Client:
    """A client for these command-line values: the core's become Options, any other a plugin option."""
    from .client import Client  # noqa: PLC0415
    from .options import Options  # noqa: PLC0415

    core = {k: v for k, v in given.items() if k in Options.model_fields and k != "plugin_options"}
    plugin = {k: v for k, v in given.items() if k not in core and k not in _COMMAND_ONLY and v is not None}
    try:
        return Client(Options(**core, plugin_options=plugin), spec=spec, transport=transport)
    except RequestValidationError as exc:
        fail(exc.problems)


def decorate(func: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def endpoint_options(func: F) -> F:
    """Where requests go and with which credentials: shared by every command that sends."""
    return decorate(
        func,
        [
            click.option("--region", help="AWS Region (after the 'region' input parameter)."),
            click.option("--endpoint-url", help="Send to this endpoint instead (e.g. a local KMS)."),
            click.option("--fips", is_flag=True, help="Use the FIPS endpoint."),
            click.option("--dual-stack", is_flag=True, help="Use the dual-stack (IPv6) endpoint."),
            click.option("--profile", help="AWS profile (config and credentials files)."),
            click.option(
                "--allow-insecure-endpoint", is_flag=True, help="Allow plain http to a non-loopback endpoint."
            ),
            click.option("--sts-endpoint-url", help="Where to call sts:GetCallerIdentity."),
            click.option(
                "--debug", is_flag=True, help="DEBUG logging on stderr (secrets are always redacted)."
            ),
        ],
    )


def send_options(func: F) -> F:
    """Attempts and timeouts: the options of every command that sends."""
    return decorate(
        func,
        [
            click.option(
                "--connect-timeout",
                type=click.FloatRange(min=0.1),
                help=f"Seconds (task default {config.CONNECT_TIMEOUT_SECONDS}).",
            ),
            click.option(
                "--read-timeout",
                type=click.FloatRange(min=0.1),
                help=f"Seconds (task default {config.READ_TIMEOUT_SECONDS}).",
            ),
            click.option(
                "--max-attempts", type=click.IntRange(min=1, max=20), help="Overrides the task's retry."
            ),
        ],
    )
