"""Task + input parameters → a request that is safe to sign, or every reason it is not.

This is the whole "before anything leaves the machine" step: render the expressions,
match the request to its template (by ``X-Amz-Target``), apply the template's defaults
and JSON-document members, validate against the schema, resolve the endpoint and Region,
and run the plugins' ``check_request`` hooks. Pure apart from reading the AWS config for
a default Region (through the ``default_region`` callable).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pluggy
from pydantic import BaseModel, ConfigDict

from . import endpoints, jsonutil
from .checks import Check, RequestContext
from .errors import Problem, RequestValidationError
from .expressions import Missing, Node, compile_value, render
from .task import HttpTask
from .template import TaskTemplate, is_url_expression
from .validation import BodyValidator

__all__ = ["CompiledTask", "Options", "PreparedRequest", "compile_task", "compiled_for", "prepare"]


class Options(BaseModel):
    """Command-line choices that shape a request (all optional)."""

    model_config = ConfigDict(frozen=True)

    region: str | None = None
    endpoint_url: str | None = None
    fips: bool = False
    dual_stack: bool = False
    profile: str | None = None
    allow_insecure_endpoint: bool = False
    connect_timeout: float | None = None
    read_timeout: float | None = None
    max_attempts: int | None = None
    plugin_options: dict[str, Any] = {}


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


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


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


def _endpoint(
    template: TaskTemplate | None,
    url: str,
    region: str | None,
    options: Options,
    *,
    template_mode: bool,
    explicit_region: str | None,
) -> endpoints.Endpoint | list[Problem]:
    """Where the request goes: the template's regional endpoint, the task's URL, or --endpoint-url."""
    if options.endpoint_url:
        url = options.endpoint_url
    elif not template_mode:
        host_region = endpoints.region_from_host(urlsplit(url).hostname or "")
        if host_region and explicit_region and host_region != explicit_region:
            return [
                Problem(
                    field="httpRequest.url",
                    message=f"the URL's host is in {host_region} but the "
                    f"region is {explicit_region}: make them agree (the signature is per Region)",
                )
            ]
        region = host_region or region
    if region is None:
        return [
            Problem(
                field="region",
                message="no Region: set the 'region' input parameter, --region, "
                "AWS_REGION, or a region in the AWS profile",
            )
        ]
    if template_mode and not options.endpoint_url and template is not None:
        found = endpoints.resolve_endpoint(
            template.endpoint_prefix,
            region,
            fips=options.fips,
            dual_stack=options.dual_stack,
            service=template.service,
        )
        return [found] if isinstance(found, Problem) else found
    problems = endpoints.check_endpoint_url(
        url,
        allow_insecure=options.allow_insecure_endpoint,
        field="endpoint-url" if options.endpoint_url else "httpRequest.url",
    )
    if problems:
        return problems
    found = endpoints.custom_endpoint(url, region)
    return [found] if isinstance(found, Problem) else found


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _header_problems(headers: Mapping[str, str]) -> list[Problem]:
    """Header names must be HTTP tokens; values Latin-1 text on one line (else nothing is sent)."""
    problems = []
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            problems.append(Problem(field=f"headers.{name}", message="is not a valid HTTP header name"))
        elif any(c in value for c in "\r\n\0"):
            problems.append(Problem(field=f"headers.{name}", message="must be one line (no CR, LF or NUL)"))
        elif not all(ord(c) < 256 for c in value):
            bad = next(c for c in value if ord(c) >= 256)
            problems.append(
                Problem(
                    field=f"headers.{name}",
                    message=f"holds U+{ord(bad):04X}; HTTP header "
                    "values must be Latin-1 (percent- or base64-encode other text)",
                )
            )
    return problems


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


def prepare(
    compiled: CompiledTask,
    params: Any,
    *,
    options: Options,
    manager: pluggy.PluginManager,
    template_for: Callable[[str], TaskTemplate | None],
    default_region: Callable[[], str | None] = lambda: None,
    caller_arn: Callable[[endpoints.Endpoint], str | None] = lambda _: None,
    dry_run: bool = False,
    caller_problem: Callable[[], str | None] = lambda: None,
) -> PreparedRequest:
    """Render and check one request; raise :class:`RequestValidationError` listing every problem."""
    template_mode = compiled.template is not None
    if not isinstance(params, Mapping):
        raise RequestValidationError(
            [Problem(field="input", message="the input parameters must be a JSON object")]
        )
    # A template's endpoint comes from the Region (or --endpoint-url), not from its URL text.
    url_out = render(_NO_URL if template_mode else compiled.url, params, where="httpRequest.url")
    headers_out = render(compiled.headers, params, where="headers")
    body_out = render(compiled.body, params)
    problems = url_out.problems + headers_out.problems + body_out.problems
    problems += [
        Problem(field=m.field, message=f"{m.expression} selected nothing in the input parameters")
        for m in url_out.missing
    ]
    headers = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (headers_out.value or {}).items()}
    problems += _header_problems(headers)
    target = _header(headers, "X-Amz-Target")
    template = compiled.template or (template_for(target) if target else None)
    body = body_out.value
    if template is not None:
        if _header(headers, "Content-Type") is None:
            headers["Content-Type"] = template.headers["Content-Type"]
        body, found = _template_checks(
            template,
            body,
            body_out.missing,
            params,
            template_mode=template_mode,
            failed={p.field for p in body_out.problems},
        )
        problems += found
    region, found = _region(params, options, _region_hint(template, body), default_region)
    problems += found
    resolved = (
        []
        if found
        else _endpoint(
            template,
            str(url_out.value or ""),
            region,
            options,
            template_mode=template_mode,
            explicit_region=params.get("region"),
        )
    )
    endpoint = None if isinstance(resolved, list) else resolved
    problems += resolved if isinstance(resolved, list) else []
    context = RequestContext(
        template=template,
        body=body,
        endpoint=endpoint,
        caller_arn=(lambda: None) if endpoint is None else functools.partial(caller_arn, endpoint),
        dry_run=dry_run,
        caller_problem=caller_problem,
        options=dict(options.plugin_options),
        valid_so_far=not problems,
    )
    found, warnings = _plugin_checks(manager, context)
    problems += found
    try:
        body_bytes = b"" if body is None else jsonutil.dumps(body).encode("utf-8")
    except ValueError as exc:
        problems.append(Problem(field="body", message=f"cannot be sent as JSON: {exc}"))
    if problems or endpoint is None:
        raise RequestValidationError(problems)
    host = urlsplit(endpoint.url).hostname or ""
    signing_name = template.signing_name if template else host.split(".")[0].replace("-fips", "")
    return PreparedRequest(
        method=compiled.task.httpRequest.method,
        url=endpoint.url,
        headers=headers,
        body=body,
        body_bytes=body_bytes,
        endpoint=endpoint,
        signing_name=signing_name,
        template=template,
        task=compiled.task,
        warnings=warnings,
    )
