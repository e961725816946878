"""Who is calling: ``sts:GetCallerIdentity``, signed and sent by our own signing and transport.

The lookup goes to the STS endpoint the operator configured (``--sts-endpoint-url``, then
``--endpoint-url`` — a local KMS such as moto answers STS on the same port — then the SDKs'
``AWS_ENDPOINT_URL_STS`` / ``AWS_ENDPOINT_URL`` / profile settings), else to AWS's STS
endpoint of the request's own Region and partition (FIPS and dual-stack as configured).
Only successful lookups are cached (per STS endpoint, behind a lock, so concurrent
requests on a fresh client make one call). An answer that is an error is the request's
:class:`~http_task_kms.errors.PreflightFailed`: the request is not sent, and the result
says that this call failed and why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import urlencode

from . import endpoints
from .aws_errors import xml_texts
from .destinations import OperatorEndpoints
from .errors import PreflightFailed, Problem
from .plugins.types import Signer
from .result import failed_step
from .transport import Attempts, Outgoing, Transport

__all__ = ["STEP", "CallerIdentity"]

STEP = "GetCallerIdentity"
_BODY = urlencode({"Action": "GetCallerIdentity", "Version": "2011-06-15"}).encode()


class CallerIdentity:
    """Resolves and caches the caller's ARN per STS endpoint."""

    def __init__(
        self, operator: OperatorEndpoints, transport: Transport, signer: Callable[[], Signer]
    ) -> None:
        self._operator = operator
        self._transport = transport
        self._signer = signer
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def sts_endpoint(self, endpoint: endpoints.Endpoint) -> endpoints.Endpoint | Problem:
        """Where to ask, for a request to ``endpoint``."""
        configured = self._operator.configured("sts")
        if configured is not None:
            return endpoints.custom_endpoint(configured.url, endpoint.region, configured_by=configured.source)
        return endpoints.resolve_endpoint(
            "sts",
            endpoint.region,
            fips=self._operator.fips,
            dual_stack=self._operator.dual_stack,
            service="sts",
        )

    def arn(self, endpoint: endpoints.Endpoint) -> str:
        """The caller's ARN for requests to ``endpoint``.

        Raises :class:`~http_task_kms.errors.CredentialsError` without credentials, and
        :class:`~http_task_kms.errors.PreflightFailed` when STS answers with an error or
        cannot be reached.
        """
        sts = self.sts_endpoint(endpoint)
        if isinstance(sts, Problem):
            raise PreflightFailed(step=STEP, code="NoEndpoint", message=sts.message)
        with self._lock:  # one lookup per endpoint, however many threads ask at once
            if sts.url not in self._known:
                self._known[sts.url] = self._look_up(sts)
            return self._known[sts.url]

    def _look_up(self, sts: endpoints.Endpoint) -> str:
        out = Outgoing(
            method="POST",
            url=sts.url,
            body=_BODY,
            shown_body=_BODY.decode(),
            service="sts",
            region=sts.region,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        result = self._transport.send(out, self._signer(), Attempts(max_attempts=2))
        arn = xml_texts(result.body, "Arn")[0] if result.ok and isinstance(result.body, str) else None
        if arn is None:
            raise failed_step(result, STEP)
        return arn
