"""Where a signed request may go: the signing service's own endpoints, or the operator's.

A signed request carries the access key ID, the session token in plain text and a
signature that its receiver can replay to AWS for minutes. So credentials are attached
only when the request's destination is

- a host that botocore's endpoint rule set resolves for the signing service and the
  Region, with FIPS and dual-stack each on and off (STS: its global endpoint too), over
  https on port 443 — for a service botocore does not know, the partition's
  ``<service>[-fips].<region>.<dnsSuffix>`` forms;
- a VPC endpoint of that service and Region:
  ``vpce-<id>-<suffix>[-<az>].<service>[-fips].<region>.vpce.<dnsSuffix>``;
- or exactly an endpoint the operator configured (:class:`OperatorEndpoints`).

Hosts are compared for equality, lower-cased and with one trailing dot stripped — never
by suffix or substring, so ``kms.us-east-1.amazonaws.com.evil.example.com`` is just
another host. Everything is decided from the URL text alone: nothing is resolved or
connected before the answer is yes.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.utils import CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES

from . import endpoints
from .config import MAX_REMEMBERED_URL
from .errors import DestinationRefused, Problem
from .plugins.types import Signer

__all__ = [
    "Configured",
    "GuardedSigner",
    "OperatorEndpoints",
    "aws_hosts",
    "destination_problem",
    "is_aws_endpoint",
    "normal_url",
    "service_from_host",
]

_MAX_HOST = 253  # the longest DNS name
_MAX_REMEMBERED = 64  # signing names whose configured endpoint an OperatorEndpoints keeps
_VPCE = re.compile(
    r"vpce-[a-z0-9]+-[a-z0-9]+(?:-(?P<az>[a-z0-9-]+?))?\.(?P<service>[a-z0-9]+(?:-[a-z0-9]+)*?)(?P<fips>-fips)?"
    rf"\.(?P<region>{endpoints.REGION_PATTERN})\.vpce\.(?P<suffix>[a-z0-9.-]+)"
)


@dataclass(frozen=True)
class Configured:
    """An endpoint the operator configured: its URL (``scheme://host[:port]/``) and where it was set.

    ``source`` is the setting (``--endpoint-url``, ``AWS_ENDPOINT_URL_KMS``, …); ``field`` the
    name problems with it are reported under.
    """

    url: str
    source: str
    raw: str = ""  # as the operator wrote it (checked for user info, paths …), when it differs

    @property
    def field(self) -> str:
        """``endpoint-url`` for the ``--endpoint-url`` flag, the variable's name, or ``profile``."""
        if self.source.startswith("--"):
            return self.source[2:]
        return self.source if self.source.startswith("AWS_") else "profile"


def _split(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL; the host lower-cased without one trailing dot."""
    return _split_short(url) if len(url) <= MAX_REMEMBERED_URL else _split_short.__wrapped__(url)


@functools.lru_cache(maxsize=256)
def _split_short(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    return parts.scheme.lower(), host.removesuffix("."), port


def normal_url(url: str) -> str:
    """``scheme://host[:port]/`` of a URL, for comparing endpoints."""
    split = _split(url)
    if split is None:
        return url
    scheme, host, port = split
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}{'' if port is None else f':{port}'}/"


@functools.cache
def aws_hosts(service: str, region: str) -> frozenset[str]:
    """Every host botocore resolves for ``service`` in ``region`` (FIPS, dual-stack, STS global)."""
    hosts = set()
    for fips in (False, True):
        for dual_stack in (False, True):
            found = endpoints.resolve_endpoint(
                service, region, fips=fips, dual_stack=dual_stack, service=service
            )
            if isinstance(found, endpoints.Endpoint):
                split = _split(found.url)
                if split is not None:
                    hosts.add(split[1])
    if service == "sts":
        found = endpoints.resolve_endpoint(service, region, service=service, global_endpoint=True)
        split = _split(found.url) if isinstance(found, endpoints.Endpoint) else None
        if split is not None:
            hosts.add(split[1])
    return frozenset(hosts)


def _vpce_matches(host: str, service: str, region: str) -> bool:
    match = _VPCE.fullmatch(host)
    if match is None or match["service"] != service or match["region"] != region:
        return False
    partition = endpoints.partition_of(region)
    return partition is not None and match["suffix"] == partition["outputs"]["dnsSuffix"]


def is_aws_endpoint(url: str, *, service: str, region: str) -> bool:
    """True when ``url`` is one of the service's own AWS endpoints in ``region`` (https, port 443)."""
    split = _split(url)
    if split is None:
        return False
    scheme, host, port = split
    if scheme != "https" or port not in (None, 443) or len(host) > _MAX_HOST:
        return False
    return host in aws_hosts(service, region) or _vpce_matches(host, service, region)


def service_from_host(host: str) -> str | None:
    """The service an AWS endpoint host names (``kms-fips.eu-west-1.amazonaws.com`` → ``kms``)."""
    host = host.lower().removesuffix(".")
    if len(host) > _MAX_HOST:
        return None
    match = _VPCE.fullmatch(host)
    if match is not None:
        return match["service"]
    labels = host.split(".")
    if len(labels) >= 3 and endpoints.region_from_host(host) == labels[1]:
        return labels[0].removesuffix("-fips")
    return None


def _configured(url: str, source: str) -> Configured:
    return Configured(normal_url(url), source, url)


def _service_id(service: str) -> str:
    """The snake-case service ID of the SDKs' endpoint settings (``secretsmanager`` → ``secrets_manager``)."""
    return CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES.get(service, service).replace("-", "_")


class OperatorEndpoints:
    """The operator's endpoint settings: command-line flags first, then the SDK's own settings.

    The order is the SDKs' documented one: ``--endpoint-url`` (``--sts-endpoint-url`` first
    for STS), ``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL``, the profile's
    ``services`` section, the profile's ``endpoint_url`` — all but the flags skipped when
    ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` (or the profile's
    ``ignore_configured_endpoint_urls``) is true. FIPS and dual-stack come from the flags,
    ``AWS_USE_FIPS_ENDPOINT`` / ``AWS_USE_DUALSTACK_ENDPOINT`` and the profile's
    ``use_fips_endpoint`` / ``use_dualstack_endpoint``. Each is read once, when first needed,
    and kept (as a botocore client reads its settings once, when it is created).
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        sts_endpoint_url: str | None = None,
        fips: bool = False,
        dual_stack: bool = False,
        session: Callable[[], Any] = lambda: None,
        environ: Callable[[], Any] = lambda: os.environ,
    ) -> None:
        self._flags = {"endpoint": endpoint_url, "sts": sts_endpoint_url}
        self._fips, self._dual_stack = fips, dual_stack
        self._session = session
        self._environ = environ
        self._configured: dict[str, Configured | None] = {}  # by signing name

    def _setting(self, name: str) -> Any:
        session = self._session()
        return None if session is None else session.get_config_variable(name)

    @functools.cached_property
    def fips(self) -> bool:
        """FIPS endpoints: ``--fips``, else the SDK setting."""
        return self._fips or bool(self._setting("use_fips_endpoint"))

    @functools.cached_property
    def dual_stack(self) -> bool:
        """Dual-stack endpoints: ``--dual-stack``, else the SDK setting."""
        return self._dual_stack or bool(self._setting("use_dualstack_endpoint"))

    def configured(self, service: str) -> Configured | None:
        """The endpoint the operator configured for ``service`` (a signing name), or None."""
        if service not in self._configured:
            if len(self._configured) >= _MAX_REMEMBERED:  # the names come from tasks: bounded
                self._configured.clear()
            self._configured[service] = self._read_configured(service)
        return self._configured[service]

    def _read_configured(self, service: str) -> Configured | None:
        if service == "sts" and self._flags["sts"]:
            return _configured(self._flags["sts"], "--sts-endpoint-url")
        if self._flags["endpoint"]:
            return _configured(self._flags["endpoint"], "--endpoint-url")
        if self._setting("ignore_configured_endpoint_urls"):
            return None
        found = self._from_sdk_settings(service)
        return None if found is None else _configured(*found)

    def _from_sdk_settings(self, service: str) -> tuple[str, str] | None:
        service_id = _service_id(service)
        environ = self._environ()
        for name in (f"AWS_ENDPOINT_URL_{service_id.upper()}", "AWS_ENDPOINT_URL"):
            if environ.get(name):
                return str(environ[name]), name
        session = self._session()
        if session is None:
            return None
        profile = session.get_scoped_config()
        section_name = profile.get("services")
        section = session.full_config.get("services", {}).get(section_name, {}) if section_name else {}
        service_url = section.get(service_id, {}).get("endpoint_url") if isinstance(section, dict) else None
        if service_url:
            return str(service_url), f"the profile's services section {section_name!r}"
        if profile.get("endpoint_url"):
            return str(profile["endpoint_url"]), "the profile's endpoint_url"
        return None

    def allows(self, url: str, *, service: str, region: str) -> bool:
        """True when credentials for ``service`` may be sent to ``url``."""
        configured = self.configured(service)
        if configured is not None and normal_url(url) == configured.url:
            return True
        return is_aws_endpoint(url, service=service, region=region)


def destination_problem(
    url: str, *, service: str, region: str, operator: OperatorEndpoints, field: str
) -> Problem | None:
    """Why a request signed for ``service`` in ``region`` must not go to ``url`` (None: it may)."""
    if operator.allows(url, service=service, region=region):
        return None
    hosts = sorted(aws_hosts(service, region))
    shown = ", ".join(hosts[:4]) + (" …" if len(hosts) > 4 else "") if hosts else f"none known for {region}"
    return Problem(
        field=field,
        message=f"credentials for {service} go only to its own endpoints in {region} (https on port "
        f"443: {shown}, or a VPC endpoint vpce-….{service}.{region}.vpce.…) or to the endpoint the "
        "operator configured; to send elsewhere, the operator passes --endpoint-url (or sets "
        f"AWS_ENDPOINT_URL_{_service_id(service).upper()})",
    )


class GuardedSigner:
    """Wraps a signer: refuses to sign for a destination that may not receive the credentials.

    The last line of defence — :func:`~http_task_kms.prepare.prepare` refuses such a request
    with a clear problem first — for every signed call, a plugin's included.
    """

    def __init__(self, inner: Signer, operator: OperatorEndpoints) -> None:
        self.inner = inner
        self._operator = operator

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        service: str,
        region: str,
        clock_offset: float = 0.0,
    ) -> dict[str, str]:
        """Sign with the wrapped signer, or raise :class:`DestinationRefused`."""
        refused = destination_problem(
            url, service=service, region=region, operator=self._operator, field="url"
        )
        if refused is not None:
            raise DestinationRefused([refused])
        signed: dict[str, str] = self.inner.sign(
            method, url, headers, body, service=service, region=region, clock_offset=clock_offset
        )
        return signed
