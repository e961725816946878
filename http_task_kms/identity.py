"""Who is calling: ``sts:GetCallerIdentity``, signed and sent by our own signing and transport.

The lookup goes to the STS endpoint of the request's own Region and partition (FIPS and
dual-stack as asked), to ``--sts-endpoint-url`` when given, or — for a custom endpoint such
as the local KMS — to that same endpoint. Only successful lookups are cached, so a passing
network error does not switch the lockout check off for the rest of a long-lived client.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from . import endpoints
from .errors import CredentialsError, Problem
from .prepare import Options
from .result import xml_texts
from .signing import Signer
from .transport import AttemptPolicy, Outgoing, Transport

__all__ = ["CallerIdentity"]

_BODY = urlencode({"Action": "GetCallerIdentity", "Version": "2011-06-15"}).encode()


class CallerIdentity:
    """Resolves and caches the caller's ARN per STS endpoint."""

    def __init__(self, options: Options, transport: Transport, signer: Callable[[], Signer]) -> None:
        self._options = options
        self._transport = transport
        self._signer = signer
        self._known: dict[str, str] = {}
        self.last_error: str | None = None

    def _sts_endpoint(self, endpoint: endpoints.Endpoint) -> endpoints.Endpoint | Problem:
        given = self._options.plugin_options.get("sts_endpoint_url")
        if given:
            return endpoints.custom_endpoint(str(given), endpoint.region)
        if endpoint.custom:
            return endpoint  # the local KMS (moto) answers STS on the same port
        return endpoints.resolve_endpoint(
            "sts",
            endpoint.region,
            fips=self._options.fips,
            dual_stack=self._options.dual_stack,
            service="sts",
        )

    def arn(self, endpoint: endpoints.Endpoint) -> str | None:
        """The caller's ARN for requests to ``endpoint``, or None (``last_error`` says why)."""
        sts = self._sts_endpoint(endpoint)
        if isinstance(sts, Problem):
            self.last_error = sts.message
            return None
        if sts.url in self._known:
            return self._known[sts.url]
        out = Outgoing(
            method="POST",
            url=sts.url,
            body=_BODY,
            shown_body=_BODY.decode(),
            service="sts",
            region=sts.region,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        try:
            result = self._transport.send(out, self._signer(), AttemptPolicy(max_attempts=2))
        except CredentialsError as exc:
            self.last_error = str(exc)
            return None
        arn = xml_texts(result.body, "Arn")[0] if result.ok and isinstance(result.body, str) else None
        if arn is None:
            error = result.error
            self.last_error = f"{error.code}: {error.message}" if error else "no Arn in the answer"
            return None
        self._known[sts.url] = arn
        return arn
