"""Region → endpoint URL, from botocore's partition data and endpoint rule sets.

Supported partitions: ``aws``, ``aws-cn`` and ``aws-us-gov``. For a service botocore
knows, its own endpoint rule set decides (FIPS and dual-stack included); for another
service, the partition's DNS suffixes give ``{prefix}[-fips].{region}.{suffix}``.
A custom endpoint URL is used as given (FIPS and dual-stack do not apply), after checks
that keep credentials from going somewhere unexpected. botocore is imported when an
endpoint is first resolved, not with this module (templates need only its Region pattern).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict

from .config import MAX_REMEMBERED_URL
from .errors import Problem

__all__ = [
    "REGION_PATTERN",
    "SUPPORTED_PARTITIONS",
    "Endpoint",
    "check_endpoint_url",
    "custom_endpoint",
    "partition_of",
    "region_from_host",
    "resolve_endpoint",
]

SUPPORTED_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
#: The shape of a Region name (us-east-1, cn-northwest-1, us-gov-west-1).
REGION_PATTERN = r"[a-z]{2}(-[a-z]+)+-\d+"


class Endpoint(BaseModel):
    """Where a request goes and how it is signed."""

    model_config = ConfigDict(frozen=True)

    url: str
    region: str
    partition: str
    custom: bool = False
    configured_by: str | None = None  # the operator's setting that chose this endpoint, if any


@functools.cache
def _loader() -> Any:
    """botocore's data loader, one per process: it lists botocore's ~450 service directories
    once (to find a service's rule set) and keeps what it has loaded."""
    from botocore.loaders import create_loader  # noqa: PLC0415 - botocore, only when resolving

    return create_loader()


@functools.cache
def _partitions() -> list[dict[str, Any]]:
    data = _loader().load_data("partitions")
    return [p for p in data["partitions"] if p["id"] in SUPPORTED_PARTITIONS]


@functools.cache
def _provider(service: str) -> Any:
    from botocore.endpoint_provider import EndpointProvider  # noqa: PLC0415 - only when resolving

    loader = _loader()
    try:
        ruleset = loader.load_service_model(service, "endpoint-rule-set-1")
    except Exception:
        return None
    return EndpointProvider(ruleset, loader.load_data("partitions"))


def partition_of(region: str) -> dict[str, Any] | None:
    """The partition (botocore's data) that lists ``region`` or whose Region pattern it fits."""
    for partition in _partitions():
        if region in partition["regions"]:
            return partition
    for partition in _partitions():
        if re.fullmatch(partition["regionRegex"].removeprefix("^").removesuffix("$"), region):
            return partition
    return None


def resolve_endpoint(
    prefix: str,
    region: str,
    *,
    fips: bool = False,
    dual_stack: bool = False,
    service: str | None = None,
    global_endpoint: bool = False,
) -> Endpoint | Problem:
    """The regional endpoint of a service, or a problem naming why there is none.

    ``global_endpoint`` asks the rule set for the service's global endpoint where it has one
    (STS: ``sts.amazonaws.com`` in the aws partition).
    """
    partition = partition_of(region)
    if partition is None:
        names = ", ".join(SUPPORTED_PARTITIONS)
        return Problem(field="region", message=f"{region!r} is not a Region of the {names} partitions")
    if region not in partition["regions"]:
        return Problem(
            field="region",
            message=f"{region!r} is not a Region of the {partition['id']} "
            "partition in this botocore's data; if it is new, upgrade botocore, or use "
            "--endpoint-url",
        )
    outputs = partition["outputs"]
    if fips and not outputs.get("supportsFIPS", True):
        return Problem(field="region", message=f"FIPS endpoints are not available in {partition['id']}")
    provider = _provider(service or prefix)
    if provider is not None:
        try:
            extra = {"UseGlobalEndpoint": True} if global_endpoint else {}
            url = provider.resolve_endpoint(Region=region, UseFIPS=fips, UseDualStack=dual_stack, **extra).url
        except Exception as exc:
            return Problem(field="region", message=f"no endpoint for {region}: {exc}")
    else:
        suffix = outputs["dualStackDnsSuffix"] if dual_stack else outputs["dnsSuffix"]
        url = f"https://{prefix}{'-fips' if fips else ''}.{region}.{suffix}"
    return Endpoint(url=url.rstrip("/") + "/", region=region, partition=partition["id"])


_HOST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")


def _valid_host(host: str) -> bool:
    """A DNS name (letters, digits, ``-``, ``_``) or an IP address literal."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return bool(_HOST_NAME.fullmatch(host))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_USER_INFO = "must not carry user info (user:password@); credentials come from the AWS credential chain"
_NOT_ROOT = "must be scheme://host[:port] with no path, query or fragment: AWS JSON APIs are served at '/'"
_PLAIN_HTTP = (
    "plain http is accepted only for loopback endpoints (127.0.0.1, ::1, localhost); use https or pass "
    "--allow-insecure-endpoint"
)


def _unusable(parts: SplitResult) -> str | None:
    """Why a URL is no endpoint at all (a scheme other than http(s), no or an invalid host)."""
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        scheme = f"{parts.scheme}:" if parts.scheme else "a URL without a scheme"
        return f"must be an http(s) URL with a host, not {scheme}"
    if not _valid_host(parts.hostname):
        return f"{parts.hostname!r} is not a valid host name or IP address"
    return None


def check_endpoint_url(
    url: str, *, allow_insecure: bool = False, field: str = "endpoint-url"
) -> list[Problem]:
    """Problems with a custom endpoint URL (empty when it is safe to send credentials to)."""
    check = _url_problems if len(url) <= MAX_REMEMBERED_URL else _url_problems.__wrapped__
    return list(check(url, allow_insecure, field))


@functools.lru_cache(maxsize=256)
def _url_problems(url: str, allow_insecure: bool, field: str) -> tuple[Problem, ...]:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return (Problem(field=field, message=f"not a valid URL: {exc}"),)
    unusable = _unusable(parts)
    if unusable is not None:
        return (Problem(field=field, message=unusable),)
    rules = [
        (parts.username is not None or parts.password is not None, _USER_INFO),
        (parts.path not in {"", "/"} or bool(parts.query) or bool(parts.fragment), _NOT_ROOT),
        (
            parts.scheme == "http" and not _is_loopback(parts.hostname or "") and not allow_insecure,
            _PLAIN_HTTP,
        ),
    ]
    return tuple(Problem(field=field, message=message) for broken, message in rules if broken)


def region_from_host(host: str) -> str | None:
    """The Region named by an AWS endpoint host (``kms-fips.eu-west-1.amazonaws.com``)."""
    labels = host.lower().split(".")
    for label in labels[1:3]:
        if re.fullmatch(REGION_PATTERN, label) and partition_of(label) is not None:
            return label
    return None


def custom_endpoint(url: str, region: str, *, configured_by: str | None = None) -> Endpoint | Problem:
    """An endpoint at a custom URL, signed for ``region`` (``configured_by``: the operator's setting)."""
    build = _custom_endpoint if len(url) + len(region) <= MAX_REMEMBERED_URL else _custom_endpoint.__wrapped__
    return build(url, region, configured_by)


@functools.lru_cache(maxsize=256)
def _custom_endpoint(url: str, region: str, configured_by: str | None) -> Endpoint | Problem:
    partition = partition_of(region)
    if partition is None:
        return Problem(
            field="region",
            message=f"{region!r} is not a Region of the {', '.join(SUPPORTED_PARTITIONS)} partitions",
        )
    parts = urlsplit(url)
    return Endpoint.model_construct(  # valid as built: strings, and the partition's id
        url=f"{parts.scheme}://{parts.netloc}/",
        region=region,
        partition=partition["id"],
        custom=True,
        configured_by=configured_by,
    )
