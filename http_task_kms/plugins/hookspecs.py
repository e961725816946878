"""The host contract: the hooks a plugin may implement.

A plugin is a module or object with functions marked ``@hookimpl`` (from
:mod:`http_task_kms`), registered through the ``http_task_kms`` entry-point group. The
KMS support itself is such a plugin (its entry point is ``kms``); the core's own SigV4
signer is registered the same way (:mod:`http_task_kms.auth`).

Where each hook sits in the flow of one request::

    register_templates ─▶ registry   register_signers ─▶ signers   register_commands ─▶ CLI
    register_overlays ─▶ `spec` (generating a service's OpenAPI document)
    task + input ─render─▶ check_request(facts=None) ─▶ preflight(session) ─▶ check_request(facts)
                 ─▶ send_request(session, facts)  (or the host signs and sends) ─▶ result
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from ..result import TestRequestResult
    from ..template import TaskTemplate
    from .types import Check, PreparedRequest, RequestContext, Session, SignerFactory

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "http_task_kms"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_templates(register: Callable[[TaskTemplate], None]) -> None:
    """Add task templates: call ``register(template)`` once for each.

    Ids must be unique; registering an id twice is an error naming both plugins.
    """


@hookspec
def register_signers(register: Callable[[str, SignerFactory], None]) -> None:
    """Add request signers: call ``register(credentials_type, factory)``.

    A template declares the credentials type it needs (``TaskTemplate.credentials_type``);
    ``factory(profile=...)`` is called when a request first needs that type. The core
    registers ``aws-sigv4`` itself.
    """


@hookspec
def register_overlays(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """Add facts a service's botocore model lacks: call ``register(service, overlays)``.

    Applied when ``http-task-kms spec SERVICE`` generates the service's OpenAPI document.
    ``overlays`` maps a shape name to ``{"schema": {…}, "properties": {name: {…}},
    "required": [...]}`` (see :data:`http_task_kms.openapi.generate.Overlays`).
    """


@hookspec(firstresult=True)
def build_workflow(
    template: TaskTemplate, name: str | None, options: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Make the workflow definition ``http-task-kms workflow ID`` prints, or return None.

    None lets the host make its own: the template's one Http task, wired to the workflow input.
    ``options`` are the plugins' options of the ``workflow`` command (the KMS plugin's
    ``--safe``: back up, change, read back). Raise
    :class:`~http_task_kms.errors.RequestValidationError` for options that do not apply.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``http-task-kms`` group, or options to its ``render`` / ``test-request``.

    Called when the command line is built, so it must stay cheap: import what a command
    needs inside the command. The values of options a plugin adds reach its hooks as
    ``options`` (the context's and the session's), under the option's parameter name.
    """


@hookspec
def check_request(context: RequestContext) -> list[Check] | None:
    """Inspect a rendered request before it is signed and sent: data in, findings out.

    Called twice per request: with ``context.facts`` None (only what the request says),
    then — if that found no error — with the facts the ``preflight`` hooks fetched. A
    finding of severity ``ERROR`` stops the request: nothing is sent and the result lists it
    among ``error.problems``; other severities are reported in the result's ``warnings``.
    """


@hookspec
def preflight(request: PreparedRequest, session: Session) -> Mapping[str, Any] | None:
    """Fetch the facts a plugin's checks need, before anything else is sent; return them (or None).

    The only I/O before the request: through ``session`` (the caller's identity, another
    operation of the same service). Facts of every plugin are merged into one mapping: use
    keys of your own (``"kms.caller"``). In a dry run ``session.dry_run`` is True and nothing
    may be sent. A failed call raises :class:`~http_task_kms.errors.PreflightFailed`.
    """


@hookspec(firstresult=True)
def send_request(
    request: PreparedRequest, session: Session, facts: Mapping[str, Any]
) -> TestRequestResult | None:
    """Take over sending a checked request, or return None to let the host sign and send it.

    The first plugin that returns a result wins. ``session.send(request)`` sends it,
    ``session.call(template, body)`` sends another operation of the same service to the
    same endpoint (the KMS plugin reads and backs up the current key policy this way
    before it changes it). Extra result fields go in ``result.extra``, named
    ``<plugin>.<field>`` (e.g. ``acme.ticket``): the output schema
    (:mod:`http_task_kms.schemas`) allows no other field a plugin has not described.
    """
