"""Where a request goes: the service it is signed for, its Region, its endpoint — checked.

The signing name is the matched operation's, else the service the task's AWS host names.
The endpoint is the operator's (``--endpoint-url``, ``AWS_ENDPOINT_URL_<SERVICE>`` …) when
they configured one for that service, else the task's own URL, else — for a template —
the regional endpoint botocore's rules give. Whatever it is, it must be allowed to
receive credentials for the signing service (:mod:`http_task_kms.destinations`). Pure
apart from reading the AWS config for a default Region (the ``default_region`` callable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import endpoints
from .destinations import OperatorEndpoints, destination_problem, service_from_host
from .errors import Problem
from .options import Options
from .template import TaskTemplate

__all__ = ["Located", "locate"]

_NO_REGION = Problem(
    field="region",
    message="no Region: set the 'region' input parameter, --region, AWS_REGION, "
    "or a region in the AWS profile",
)


@dataclass(frozen=True)
class _Where:
    """A URL to send to, before its Region is known, and what chose it."""

    url: str
    field: str
    configured_by: str | None = None  # the operator's setting, when it is theirs


@dataclass(frozen=True)
class Located:
    """The outcome: endpoint and signing name (None when unknown), and every problem found."""

    endpoint: endpoints.Endpoint | None
    signing_name: str | None
    problems: list[Problem]


def signing_name_of(template: TaskTemplate | None, task_url: str) -> str | None:
    """The service a request is signed for: its operation's, else the one its AWS host names."""
    if template is not None:
        return template.signing_name
    return service_from_host(urlsplit(task_url).hostname or "")


def _where(
    template_mode: bool,
    task_url: str,
    signing_name: str,
    operator: OperatorEndpoints,
    at: endpoints.Endpoint | None,
) -> _Where | None:
    """The operator's endpoint for the service, else ``at``, else the task's URL (None: the template's)."""
    configured = operator.configured(signing_name)
    if configured is not None:
        return _Where(configured.raw or configured.url, configured.field, configured.source)
    if at is not None:
        return _Where(at.url, "httpRequest.url", at.configured_by)
    return None if template_mode else _Where(task_url, "httpRequest.url")


def region_hint(template: TaskTemplate | None, body: Any) -> str | None:
    """A Region named by an ARN of this service among the top-level members (e.g. a key ARN)."""
    if template is None or not isinstance(body, Mapping):
        return None
    for value in body.values():
        if isinstance(value, str) and value.startswith("arn:"):
            parts = value.split(":")
            if len(parts) > 4 and parts[2] == template.signing_name and parts[3]:
                return parts[3]
    return None


def _region(
    params: Mapping[str, Any], options: Options, hint: str | None, default_region: Callable[[], str | None]
) -> tuple[str | None, list[Problem]]:
    """The Region: input parameter, --region, a key ARN's Region, then the AWS config."""
    given = params.get("region")
    if given is not None and not isinstance(given, str):
        return None, [Problem(field="region", message="must be a string such as us-east-1")]
    return given or options.region or hint or default_region(), []


def _url_region(where: _Where, explicit: Any) -> tuple[str | None, list[Problem]]:
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
    template: TaskTemplate | None,
    where: _Where | None,
    region: str,
    operator: OperatorEndpoints,
    *,
    insecure: bool,
) -> endpoints.Endpoint | list[Problem]:
    """The endpoint: the template's regional one, or a URL (the task's or the operator's), checked."""
    if where is None:
        assert template is not None
        found = endpoints.resolve_endpoint(
            template.endpoint_prefix,
            region,
            fips=operator.fips,
            dual_stack=operator.dual_stack,
            service=template.service,
        )
    else:
        allow = insecure and where.configured_by is not None  # only the operator's own may be plain http
        problems = endpoints.check_endpoint_url(where.url, allow_insecure=allow, field=where.field)
        if problems:
            return problems
        found = endpoints.custom_endpoint(where.url, region, configured_by=where.configured_by)
    return [found] if isinstance(found, Problem) else found


@dataclass(frozen=True)
class Request:
    """What locating needs to know of the request being prepared."""

    template: TaskTemplate | None
    template_mode: bool
    task_url: str
    body: Any
    params: Mapping[str, Any]


def locate(
    request: Request,
    *,
    options: Options,
    operator: OperatorEndpoints,
    default_region: Callable[[], str | None],
    at: endpoints.Endpoint | None = None,
) -> Located:
    """Signing name, Region and endpoint of a request, or every problem with where it would go."""
    signing_name = signing_name_of(request.template, request.task_url)
    if signing_name is None:
        return Located(None, None, [_UNKNOWN_SERVICE])
    where = _where(request.template_mode, request.task_url, signing_name, operator, at)
    hint = region_hint(request.template, request.body)
    region, problems = _region(request.params, options, hint, default_region)
    if where is not None and where.configured_by is None:
        url_region, mismatch = _url_region(where, request.params.get("region"))
        region, problems = url_region or region, problems + mismatch
    if problems or region is None:
        return Located(None, signing_name, problems or [_NO_REGION])
    found = _endpoint(request.template, where, region, operator, insecure=options.allow_insecure_endpoint)
    if isinstance(found, list):
        return Located(None, signing_name, found)
    field = where.field if where is not None else "httpRequest.url"
    refused = destination_problem(
        found.url, service=signing_name, region=found.region, operator=operator, field=field
    )
    return Located(None if refused else found, signing_name, [refused] if refused else [])


_UNKNOWN_SERVICE = Problem(
    field="httpRequest.url",
    message="is not an AWS endpoint and X-Amz-Target names no known operation, so the service to sign "
    "for is unknown; use the service's endpoint (https://<service>.<region>.amazonaws.com/)",
)
