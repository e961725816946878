"""Task + input parameters → a request that is safe to sign, or every reason it is not.

This is the whole "before anything leaves the machine" step: render the expressions,
check the headers as they will be sent, match the request to its operation by its
``X-Amz-Target`` exactly as sent, apply the template's defaults and JSON-document members,
validate against the schema, resolve the endpoint and Region, check that the destination
may receive credentials for the signing service, and run the plugins' ``check_request``
hooks. Pure apart from reading the AWS config for a default Region and the caller lookup
that a plugin's check may ask for (both through :class:`Host`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pluggy
from pydantic import BaseModel, ConfigDict

from . import endpoints, jsonutil
from .destinations import OperatorEndpoints, destination_problem, service_from_host
from .errors import Problem, RequestValidationError
from .expressions import Missing, Node, compile_value, render
from .plugins.types import Check, RequestContext
from .task import HttpTask
from .template import TaskTemplate, is_url_expression
from .validation import BodyValidator
from .wire import TARGET_HEADER, Operations, header_problems, header_value, operation_problems

__all__ = ["CompiledTask", "Host", "Options", "PreparedRequest", "compile_task", "compiled_for", "prepare"]


class Options(BaseModel):
    """Command-line choices that shape a request (all optional)."""

    model_config = ConfigDict(frozen=True)

    region: str | None = None
    endpoint_url: str | None = None
    fips: bool = False
    dual_stack: bool = False
    profile: str | None = None
    allow_insecure_endpoint: bool = False
    allow_unknown_operation: bool = False
    connect_timeout: float | None = None
    read_timeout: float | None = None
    max_attempts: int | None = None
    plugin_options: dict[str, Any] = {}


@dataclass(frozen=True)
class Host:
    """What preparing needs from its client: plugins, known operations, the operator's endpoints."""

    manager: pluggy.PluginManager
    operations: Operations
    operator: OperatorEndpoints
    default_region: Callable[[], str | None] = lambda: None
    caller_arn: Callable[[endpoints.Endpoint], str | None] = lambda _: None
    caller_problem: Callable[[], str | None] = lambda: None


@dataclass(frozen=True)
class CompiledTask:
    """A task whose expressions are compiled once, ready to render many times."""

    task: HttpTask
    template: TaskTemplate | None
    url: Node
    headers: Node
    body: Node


@dataclass
class PreparedRequest:
    """A checked request, not yet signed."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    body_bytes: bytes
    endpoint: endpoints.Endpoint
    signing_name: str
    template: TaskTemplate | None
    task: HttpTask
    warnings: list[Check] = field(default_factory=list)
    target: str | None = None
    credentials: str | None = None  # a task's saved-credentials id: shown, never used to pick keys

    @property
    def credentials_type(self) -> str:
        """The signer this request needs: its template's declared credentials type."""
        return self.template.credentials_type if self.template else "aws-sigv4"


_NO_URL = compile_value("")


def compile_task(task: HttpTask, template: TaskTemplate | None = None) -> CompiledTask:
    """Compile a task's url, headers and body expressions."""
    request = task.httpRequest
    return CompiledTask(
        task,
        template,
        compile_value(request.url, own=is_url_expression(request.url)),  # ours: in process
        compile_value(request.headers),
        compile_value(request.body),
    )


# Per template object (templates live as long as their registry): id → (template, compiled).
_COMPILED: dict[int, tuple[TaskTemplate, CompiledTask, BodyValidator]] = {}


def _compiled_template(template: TaskTemplate) -> tuple[CompiledTask, BodyValidator]:
    cached = _COMPILED.get(id(template))
    if cached is None or cached[0] is not template:
        task = HttpTask.model_validate(template.to_task())
        cached = (template, compile_task(task, template), BodyValidator(template.body_schema))
        _COMPILED[id(template)] = cached
    return cached[1], cached[2]


def compiled_for(template: TaskTemplate) -> CompiledTask:
    """The template's own task, compiled once per process."""
    return _compiled_template(template)[0]


def _validator(template: TaskTemplate) -> BodyValidator:
    return _compiled_template(template)[1]


def _complete_body(template: TaskTemplate, body: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Defaults for absent members; JSON-document members given as objects become strings."""
    properties: dict[str, Any] = template.body_schema.get("properties", {})
    completed: dict[str, Any] = {}
    problems: list[Problem] = []
    for member, prop in properties.items():  # in the document's member order
        if member in body:
            value = body[member]
            if prop.get("x-json-document") and isinstance(value, dict | list):
                # Characters kept as they are (not \u-escaped), so that one outside KMS's
                # character set is reported, as it would be in the policy's text.
                try:
                    value = jsonutil.dumps(value)
                except ValueError as exc:
                    problems.append(Problem(field=member, message=f"cannot be written as JSON: {exc}"))
            completed[member] = value
        elif "default" in prop:
            completed[member] = prop["default"]
    completed.update({k: v for k, v in body.items() if k not in properties})  # the schema reports them
    return completed, problems


def _region_hint(template: TaskTemplate | None, body: Any) -> str | None:
    """A Region named by an ARN of this service among the top-level members (e.g. a key ARN)."""
    if template is None or not isinstance(body, Mapping):
        return None
    for value in body.values():
        if isinstance(value, str) and value.startswith("arn:"):
            parts = value.split(":")
            if len(parts) > 4 and parts[2] == template.signing_name and parts[3]:
                return parts[3]
    return None


@dataclass(frozen=True)
class _Where:
    """Where a request goes, before its Region is known: a URL and what chose it."""

    url: str
    field: str
    configured_by: str | None = None  # the operator's setting, when it is theirs


def _destination(template_mode: bool, task_url: str, signing_name: str | None, host: Host) -> _Where | None:
    """The operator's endpoint for the signing service, else the task's URL (None: the template's)."""
    configured = host.operator.configured(signing_name) if signing_name else None
    if configured is not None:
        return _Where(configured.raw or configured.url, configured.field, configured.source)
    return None if template_mode else _Where(task_url, "httpRequest.url")


def _task_region(where: _Where, explicit: Any) -> tuple[str | None, list[Problem]]:
    """The Region a task's own URL names (it must agree with an explicit one)."""
    host_region = endpoints.region_from_host(urlsplit(where.url).hostname or "")
    if host_region and isinstance(explicit, str) and explicit and host_region != explicit:
        return None, [
            Problem(
                field="httpRequest.url",
                message=f"the URL's host is in {host_region} but the "
                f"region is {explicit}: make them agree (the signature is per Region)",
            )
        ]
    return host_region, []


def _endpoint(
    template: TaskTemplate | None, where: _Where | None, region: str, host: Host, *, allow_insecure: bool
) -> endpoints.Endpoint | list[Problem]:
    """The endpoint: the template's regional one, or a URL (the task's or the operator's), checked."""
    if where is None and template is not None:
        found = endpoints.resolve_endpoint(
            template.endpoint_prefix,
            region,
            fips=host.operator.fips,
            dual_stack=host.operator.dual_stack,
            service=template.service,
        )
        return [found] if isinstance(found, Problem) else found
    assert where is not None
    problems = endpoints.check_endpoint_url(
        where.url, allow_insecure=allow_insecure and where.configured_by is not None, field=where.field
    )
    if problems:
        return problems
    found = endpoints.custom_endpoint(where.url, region, configured_by=where.configured_by)
    return [found] if isinstance(found, Problem) else found


def _template_checks(
    template: TaskTemplate,
    body: Any,
    missing: list[Missing],
    params: Mapping[str, Any],
    *,
    template_mode: bool,
    failed: set[str],
) -> tuple[Any, list[Problem]]:
    """Defaults, JSON documents, required members, the schema, and unknown input parameters.

    ``failed``: members whose rendering was already reported (not reported again as absent).
    """
    problems: list[Problem] = []
    reported = set(failed)
    if isinstance(body, dict):
        body, problems = _complete_body(template, body)
        for item in missing:
            if item.field in template.required and item.field not in body:
                reported.add(item.field)
                problems.append(
                    Problem(
                        field=item.field,
                        message=f"is required, but {item.expression} "
                        "selected nothing in the input parameters",
                    )
                )
    problems += [p for p in _validator(template).problems(body) if p.field not in reported]
    if template_mode:
        known = set(template.members) | {"region"}
        expected = ", ".join(sorted(known))
        problems += [
            Problem(field=name, message=f"unknown input parameter; expected one of: {expected}")
            for name in params
            if name not in known
        ]
    return body, problems


def _region(
    params: Mapping[str, Any], options: Options, hint: str | None, default_region: Callable[[], str | None]
) -> tuple[str | None, list[Problem]]:
    """The Region: input parameter, --region, a key ARN's Region, then the AWS config."""
    given = params.get("region")
    if given is not None and not isinstance(given, str):
        return None, [Problem(field="region", message="must be a string such as us-east-1")]
    return given or options.region or hint or default_region(), []


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


@dataclass
class _Draft:
    """A request while it is being prepared: what is known so far, and every problem found."""

    headers: dict[str, str]
    body: Any
    template: TaskTemplate | None
    target: str | None
    problems: list[Problem] = field(default_factory=list)


def _render(compiled: CompiledTask, params: Mapping[str, Any], host: Host) -> tuple[_Draft, str]:
    """Render the expressions; check the headers; match the operation by its target as sent."""
    template_mode = compiled.template is not None
    # A template's endpoint comes from the Region (or the operator), not from its URL text.
    url_out = render(_NO_URL if template_mode else compiled.url, params, where="httpRequest.url")
    headers_out = render(compiled.headers, params, where="httpRequest.headers")
    body_out = render(compiled.body, params)
    problems = url_out.problems + headers_out.problems + body_out.problems
    problems += [
        Problem(field=m.field, message=f"{m.expression} selected nothing in the input parameters")
        for m in url_out.missing
    ]
    headers = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (headers_out.value or {}).items()}
    problems += header_problems(headers)
    target = header_value(headers, TARGET_HEADER)
    template = compiled.template or host.operations.template(target)
    draft = _Draft(headers, body_out.value, template, target, problems)
    if template is not None:
        if header_value(headers, "Content-Type") is None:
            headers["Content-Type"] = template.headers["Content-Type"]
        draft.body, found = _template_checks(
            template,
            draft.body,
            body_out.missing,
            params,
            template_mode=template_mode,
            failed={p.field for p in body_out.problems},
        )
        draft.problems += found
    return draft, str(url_out.value or "")


def _signing_name(draft: _Draft, task_url: str) -> str | None:
    """The service the request is signed for: its operation's, else the one its AWS host names."""
    if draft.template is not None:
        return draft.template.signing_name
    return service_from_host(urlsplit(task_url).hostname or "")


def _locate(
    draft: _Draft,
    task_url: str,
    *,
    params: Mapping[str, Any],
    options: Options,
    host: Host,
    at: endpoints.Endpoint | None,
    template_mode: bool,
) -> tuple[endpoints.Endpoint | None, str | None]:
    """The endpoint and signing name, with every problem of where the request would go."""
    signing_name = _signing_name(draft, task_url)
    if signing_name is None:
        draft.problems.append(
            Problem(
                field="httpRequest.url",
                message="is not an AWS endpoint and X-Amz-Target names no known operation, so the "
                "service to sign for is unknown; use the service's endpoint "
                "(https://<service>.<region>.amazonaws.com/)",
            )
        )
        return None, None
    draft.problems += operation_problems(
        draft.target, signing_name, host.operations, allow_unknown=options.allow_unknown_operation
    )
    where = (
        _destination(template_mode, task_url, signing_name, host)
        if at is None
        else _Where(at.url, "httpRequest.url", at.configured_by)
    )
    region, found = _region(params, options, _region_hint(draft.template, draft.body), host.default_region)
    if where is not None and where.configured_by is None:
        host_region, mismatch = _task_region(where, params.get("region"))
        region, found = host_region or region, found + mismatch
    draft.problems += found
    if found:
        return None, signing_name
    if region is None:
        draft.problems.append(
            Problem(
                field="region",
                message="no Region: set the 'region' input parameter, --region, "
                "AWS_REGION, or a region in the AWS profile",
            )
        )
        return None, signing_name
    resolved = _endpoint(draft.template, where, region, host, allow_insecure=options.allow_insecure_endpoint)
    if isinstance(resolved, list):
        draft.problems += resolved
        return None, signing_name
    refused = destination_problem(
        resolved.url,
        service=signing_name,
        region=resolved.region,
        operator=host.operator,
        field=where.field if where is not None else "httpRequest.url",
    )
    if refused is not None:
        draft.problems.append(refused)
        return None, signing_name
    return resolved, signing_name


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
    it is checked like any other destination.
    """
    if not isinstance(params, Mapping):
        raise RequestValidationError(
            [Problem(field="input", message="the input parameters must be a JSON object")]
        )
    lone = jsonutil.surrogates(params)
    if lone:
        raise RequestValidationError(
            [
                Problem(field=where.removeprefix("$."), message="holds a lone surrogate, which is not text")
                for where in lone
            ]
        )
    draft, task_url = _render(compiled, params, host)
    endpoint, signing_name = _locate(
        draft,
        task_url,
        params=params,
        options=options,
        host=host,
        at=at,
        template_mode=compiled.template is not None,
    )
    context = RequestContext(
        template=draft.template,
        body=draft.body,
        endpoint=endpoint,
        signing_name=signing_name,
        target=draft.target,
        headers=dict(draft.headers),
        caller_arn=(lambda: None) if endpoint is None else functools.partial(host.caller_arn, endpoint),
        dry_run=dry_run,
        caller_problem=host.caller_problem,
        options=dict(options.plugin_options),
        valid_so_far=not draft.problems,
    )
    found, warnings = _plugin_checks(host.manager, context)
    draft.problems += found
    try:
        body_bytes = b"" if draft.body is None else jsonutil.dumps(draft.body).encode("utf-8")
    except ValueError as exc:
        draft.problems.append(Problem(field="body", message=f"cannot be sent as JSON: {exc}"))
    if draft.problems or endpoint is None or signing_name is None:
        raise RequestValidationError(draft.problems)
    return PreparedRequest(
        method=compiled.task.httpRequest.method,
        url=endpoint.url,
        headers=draft.headers,
        body=draft.body,
        body_bytes=body_bytes,
        endpoint=endpoint,
        signing_name=signing_name,
        template=draft.template,
        task=compiled.task,
        warnings=warnings,
        target=draft.target,
        credentials=None if compiled.template is not None else compiled.task.credentials,
    )
