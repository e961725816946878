"""The KMS plugin: templates from the committed OpenAPI document, its commands, and the
checks, preflight and safe send of PutKeyPolicy. It uses only the public hooks, like any
other plugin; it is imported whenever the command line is built, so it imports nothing
heavy itself (each hook imports what it needs).

What it checks is decided by what goes on the wire — a request signed for ``kms`` whose
``X-Amz-Target`` is exactly ``TrentService.PutKeyPolicy`` — never by a template's id: a
``--spec`` document may name its operations as it likes, and its schema may be
permissive, so such a request is also validated against this plugin's own schema, and the
plugin's own calls (GetKeyPolicy) use its own templates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..plugins.hookspecs import hookimpl
from .templates import SIGNING_NAME, own_template, own_templates, own_validator

if TYPE_CHECKING:
    import click

    from ..plugins.types import Check, PreparedRequest, RequestContext, Session
    from ..result import TestRequestResult
    from ..template import TaskTemplate

__all__ = [
    "PUT_KEY_POLICY",
    "build_workflow",
    "check_request",
    "is_put_key_policy",
    "preflight",
    "register_commands",
    "register_overlays",
    "register_templates",
    "send_request",
]

PUT_KEY_POLICY = "TrentService.PutKeyPolicy"


def is_put_key_policy(signing_name: str | None, target: str | None) -> bool:
    """True for a request that KMS will run as PutKeyPolicy."""
    return signing_name == SIGNING_NAME and target == PUT_KEY_POLICY


@hookimpl
def register_templates(register: Callable[[TaskTemplate], None]) -> None:
    """Register one template per KMS operation."""
    for template in own_templates().values():
        register(template)


@hookimpl
def register_overlays(register: Callable[[str, Mapping[str, Any]], None]) -> None:
    """The facts botocore's KMS model lacks (the 32 KB policy quota, PolicyName's default)."""
    from .overlays import KMS_OVERLAYS  # noqa: PLC0415

    register(SIGNING_NAME, KMS_OVERLAYS)


@hookimpl
def build_workflow(
    template: TaskTemplate, name: str | None, options: Mapping[str, Any]
) -> dict[str, Any] | None:
    """``--safe``: the safe change of a key policy (GetKeyPolicy → PutKeyPolicy → GetKeyPolicy)."""
    if not options.get("safe"):
        return None
    if not is_put_key_policy(template.signing_name, template.target):
        from ..errors import Problem, RequestValidationError  # noqa: PLC0415

        message = (
            f"--safe makes the safe change of a key policy: it applies to kms.PutKeyPolicy, not {template.id}"
        )
        raise RequestValidationError([Problem(field="safe", message=message)])
    from .workflow import safe_workflow  # noqa: PLC0415

    return safe_workflow(name)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """``lint-policy``, ``rollback``, ``apply``, ``demo``; PutKeyPolicy options of render, test-request."""
    from .commands import register  # noqa: PLC0415 - click only

    register(cli)


def _own_schema_checks(context: RequestContext) -> list[Check]:
    """A PutKeyPolicy matched to another document's template is held to this plugin's schema too."""
    from ..plugins.types import Check  # noqa: PLC0415

    own = own_template("kms.PutKeyPolicy")
    if context.template is own:
        return []
    defaults: dict[str, Any] = {
        name: prop["default"] for name, prop in own.body_schema["properties"].items() if "default" in prop
    }
    body = {**defaults, **context.body} if isinstance(context.body, dict) else context.body
    return [
        Check(severity="ERROR", code="SCHEMA", field=p.field, message=p.message)
        for p in own_validator().problems(body)
    ]


@hookimpl
def check_request(context: RequestContext) -> list[Check] | None:
    """PutKeyPolicy: key id, policy name, policy document; with the caller, lockout and cross-account."""
    if not is_put_key_policy(context.signing_name, context.target):
        return None
    from .checks import check_put_key_policy  # noqa: PLC0415

    own = _own_schema_checks(context) if context.facts is None else []
    return own or check_put_key_policy(context)


@hookimpl
def preflight(request: PreparedRequest, session: Session) -> Mapping[str, Any] | None:
    """PutKeyPolicy: who is calling (``--caller-arn``, else sts:GetCallerIdentity) for the lockout check."""
    if not is_put_key_policy(request.signing_name, request.target):
        return None
    from ..errors import CredentialsError  # noqa: PLC0415
    from .checks import CALLER, CALLER_PROBLEM  # noqa: PLC0415

    given = session.options.get("caller_arn")
    if given or session.dry_run:
        return {CALLER: str(given) if given else None}
    try:
        return {CALLER: session.caller_identity()}
    except CredentialsError as exc:  # no credentials at all: LOCKOUT_NOT_CHECKED says so
        return {CALLER: None, CALLER_PROBLEM: str(exc)}


@hookimpl
def send_request(
    request: PreparedRequest, session: Session, facts: Mapping[str, Any]
) -> TestRequestResult | None:
    """PutKeyPolicy: read, diff and back up the current policy first; skip a no-op."""
    if not is_put_key_policy(request.signing_name, request.target):
        return None
    from .safety import put_key_policy_safely  # noqa: PLC0415 - only for PutKeyPolicy

    return put_key_policy_safely(request, session)
