"""Task + input parameters → a request that is safe to sign, or every reason it is not.

The whole "before anything leaves the machine" step, pure (data in, a request or problems
out): render the expressions (:mod:`.render`); check the headers as they will be sent and
match the operation by its ``X-Amz-Target`` exactly as sent (:mod:`.wire`); apply the
template's defaults and JSON-document members and validate against its schema; find where
the request goes and check it may receive the credentials (:mod:`.locate`); run the
plugins' ``check_request`` hooks. :func:`recheck` runs those hooks again with the facts the
plugins' preflight fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import endpoints, jsonutil
from .destinations import OperatorEndpoints
from .errors import Problem, RequestValidationError
from .expressions import Missing
from .locate import Located, Request, locate
from .options import Options
from .plugins.types import Check, PreparedRequest, RequestContext
from .registry import Registry
from .render import CompiledTask, RenderedTask, render_task
from .template import TaskTemplate
from .wire import TARGET_HEADER, Operations, header_problems, header_value, operation_problems

__all__ = ["Host", "prepare", "recheck"]


@dataclass(frozen=True)
class Host:
    """What preparing needs from its client: plugins, templates, known operations, endpoints."""

    manager: pluggy.PluginManager
    registry: Registry
    operations: Operations
    operator: OperatorEndpoints
    default_region: Callable[[], str | None] = lambda: None


def _complete_body(
    template: TaskTemplate, body: dict[str, Any], plain: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, jsonutil.Document], list[Problem]]:
    """Defaults for absent members; JSON-document members given as objects become strings.

    Each JSON-document member's text is also returned as a :class:`~.jsonutil.Document`: the
    checks of this request share its one parse — none at all for a document that is an
    input parameter of ``plain`` JSON data (:func:`~.jsonutil.is_plain`), as written.
    """
    properties: dict[str, Any] = template.body_schema.get("properties", {})
    completed: dict[str, Any] = {}
    documents: dict[str, jsonutil.Document] = {}
    problems: list[Problem] = []
    for member, prop in properties.items():  # in the document's member order
        if member in body:
            value = given = body[member]
            if prop.get("x-json-document") and isinstance(value, dict | list):
                # Characters kept as they are (not \u-escaped), so that one outside KMS's
                # character set is reported, as it would be in the policy's text.
                try:
                    value = jsonutil.dumps(value)
                except ValueError as exc:
                    problems.append(Problem(field=member, message=f"cannot be written as JSON: {exc}"))
            if prop.get("x-json-document") and isinstance(value, str):
                written_from = given if value is not given and given is plain.get(member) else None
                documents[member] = jsonutil.Document(value, parsed=written_from)
            completed[member] = value
        elif "default" in prop:
            completed[member] = prop["default"]
    completed.update({k: v for k, v in body.items() if k not in properties})  # the schema reports them
    return completed, documents, problems


def _absent(template: TaskTemplate, body: Any, missing: list[Missing], failed: set[str]) -> list[Problem]:
    """Required members whose placeholder selected nothing (unless their rendering already failed)."""
    present = body if isinstance(body, dict) else {}
    return [
        Problem(
            field=item.field,
            message=f"is required, but {item.expression} selected nothing in the input parameters",
        )
        for item in missing
        if item.field in template.required and item.field not in present and item.field not in failed
    ]


def _unknown_parameters(template: TaskTemplate, params: Mapping[str, Any]) -> list[Problem]:
    properties = template.body_schema.get("properties", {})
    unknown = [name for name in params if name not in properties and name != "region"]
    if not unknown:
        return []
    expected = ", ".join(sorted({*template.members, "region"}))
    return [
        Problem(field=name, message=f"unknown input parameter; expected one of: {expected}")
        for name in unknown
    ]


def _template_checks(
    template: TaskTemplate,
    rendered: RenderedTask,
    params: Mapping[str, Any],
    host: Host,
    *,
    template_mode: bool,
    plain: bool,
) -> tuple[Any, dict[str, jsonutil.Document], list[Problem]]:
    """Defaults, JSON documents, required members, the schema, and unknown input parameters.

    ``plain``: the input parameters are plain JSON data (:func:`~.jsonutil.is_plain`).
    """
    body, documents, problems = rendered.body, dict[str, jsonutil.Document](), list[Problem]()
    if isinstance(body, dict):
        body, documents, problems = _complete_body(template, body, params if plain else {})
    reported = {p.field for p in rendered.body_problems}
    absent = _absent(template, body, rendered.missing, reported)
    reported |= {p.field for p in absent}
    problems += absent + [
        p for p in host.registry.validator(template).problems(body) if p.field not in reported
    ]
    if template_mode:
        problems += _unknown_parameters(template, params)
    return body, documents, problems


def _plugin_checks(
    manager: pluggy.PluginManager, context: RequestContext
) -> tuple[list[Problem], list[Check]]:
    problems: list[Problem] = []
    warnings: list[Check] = []
    for found in manager.hook.check_request(context=context):
        for check in found or ():
            if check.severity == "ERROR":
                problems.append(check.as_problem())
            else:
                warnings.append(check)
    return problems, warnings


def _surrogate_problems(params: Mapping[str, Any]) -> list[Problem]:
    return [
        Problem(field=where.removeprefix("$."), message="holds a lone surrogate, which is not text")
        for where in jsonutil.surrogates(params)
    ]


def _checked_params(params: Any) -> bool:
    """Whether the input parameters are plain JSON data; raises for what no request can hold."""
    if not isinstance(params, Mapping):
        raise RequestValidationError(
            [Problem(field="input", message="the input parameters must be a JSON object")]
        )
    if jsonutil.is_plain(params):
        return True
    if lone := _surrogate_problems(params):
        raise RequestValidationError(lone)
    return False


def _body_bytes(body: Any) -> tuple[bytes, list[Problem]]:
    try:
        return (b"" if body is None else jsonutil.dumps(body).encode("utf-8")), []
    except ValueError as exc:
        return b"", [Problem(field="body", message=f"cannot be sent as JSON: {exc}")]


@dataclass
class _Draft:
    """A request being prepared: its parts so far, and every problem found."""

    headers: dict[str, str]
    body: Any
    template: TaskTemplate | None
    target: str | None
    problems: list[Problem]
    documents: dict[str, jsonutil.Document] = field(default_factory=dict)


def _draft(
    compiled: CompiledTask, params: Mapping[str, Any], host: Host, *, plain: bool
) -> tuple[_Draft, str]:
    """Render; check the headers as sent; match the operation; apply and check its template."""
    rendered = render_task(compiled, params)
    headers = rendered.headers
    target = header_value(headers, TARGET_HEADER)
    template = compiled.template or host.operations.template(target)
    draft = _Draft(headers, rendered.body, template, target, rendered.problems + header_problems(headers))
    if template is not None:
        if header_value(headers, "Content-Type") is None:
            headers["Content-Type"] = template.headers["Content-Type"]
        template_mode = compiled.template is not None
        draft.body, draft.documents, found = _template_checks(
            template, rendered, params, host, template_mode=template_mode, plain=plain
        )
        draft.problems += found
    return draft, rendered.url


def _context(draft: _Draft, located: Located, options: Options, *, dry_run: bool) -> RequestContext:
    return RequestContext(
        template=draft.template,
        body=draft.body,
        endpoint=located.endpoint,
        signing_name=located.signing_name,
        target=draft.target,
        headers=dict(draft.headers),
        options=dict(options.plugin_options),
        dry_run=dry_run,
        documents=draft.documents,
    )


def prepare(
    compiled: CompiledTask,
    params: Any,
    *,
    options: Options,
    host: Host,
    dry_run: bool = False,
    at: endpoints.Endpoint | None = None,
) -> PreparedRequest:
    """Render and check one request; raise :class:`RequestValidationError` listing every problem.

    ``at`` sends it to that endpoint (another operation at the endpoint of an earlier request);
    it is checked like any other destination. Nothing here sends anything.
    """
    plain = _checked_params(params)
    draft, task_url = _draft(compiled, params, host, plain=plain)
    where = Request(draft.template, compiled.template is not None, task_url, draft.body, params)
    located = locate(
        where, options=options, operator=host.operator, default_region=host.default_region, at=at
    )
    draft.problems += located.problems
    if located.signing_name is not None:
        allow = options.allow_unknown_operation
        draft.problems += operation_problems(
            draft.target, located.signing_name, host.operations, allow_unknown=allow
        )
    found, warnings = _plugin_checks(host.manager, _context(draft, located, options, dry_run=dry_run))
    body_bytes, unsendable = _body_bytes(draft.body)
    draft.problems += found + unsendable
    if draft.problems or located.endpoint is None or located.signing_name is None:
        raise RequestValidationError(draft.problems, warnings=[w.model_dump() for w in warnings])
    return PreparedRequest(
        method=compiled.task.httpRequest.method,
        url=located.endpoint.url,
        headers=draft.headers,
        body=draft.body,
        body_bytes=body_bytes,
        endpoint=located.endpoint,
        signing_name=located.signing_name,
        template=draft.template,
        task=compiled.task,
        warnings=warnings,
        target=draft.target,
        credentials=None if compiled.template is not None else compiled.task.credentials,
        documents=draft.documents,
    )


def recheck(
    request: PreparedRequest,
    facts: Mapping[str, Any],
    *,
    options: Options,
    manager: pluggy.PluginManager,
    dry_run: bool = False,
) -> None:
    """The plugins' checks again, now with the facts their preflight fetched.

    Raises :class:`RequestValidationError` for an ERROR; other findings join the request's
    warnings.
    """
    context = RequestContext(
        template=request.template,
        body=request.body,
        endpoint=request.endpoint,
        signing_name=request.signing_name,
        target=request.target,
        headers=dict(request.headers),
        options=dict(options.plugin_options),
        dry_run=dry_run,
        facts=facts,
        documents=request.documents,
    )
    problems, warnings = _plugin_checks(manager, context)
    if problems:
        found = [w.model_dump() for w in [*request.warnings, *warnings]]
        raise RequestValidationError(problems, warnings=found)
    request.warnings.extend(warnings)
