"""The narrow session a plugin gets for one request (:class:`~http_task_kms.plugins.types.Session`).

It can send the request, call another operation of the same service at the same endpoint,
and tell the caller's identity — each through the host's own preparing, signing (for a
destination the operator allows) and sending. It holds no client: only those three doors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .endpoints import Endpoint
from .plugins.types import PreparedRequest
from .result import TestRequestResult
from .template import TaskTemplate

__all__ = ["DryRunRefused", "RequestSession"]


class DryRunRefused(RuntimeError):
    """A plugin tried to send during a dry run (a plugin bug: check ``session.dry_run``)."""


class RequestSession:
    """The session of one prepared request."""

    def __init__(
        self,
        request: PreparedRequest,
        *,
        options: Mapping[str, Any],
        dry_run: bool,
        send: Callable[[PreparedRequest], TestRequestResult],
        prepare: Callable[[TaskTemplate, Mapping[str, Any], Endpoint], PreparedRequest],
        identity: Callable[[Endpoint], str],
    ) -> None:
        self._request = request
        self._options = dict(options)
        self._dry_run = dry_run
        self._send, self._prepare, self._identity = send, prepare, identity

    @property
    def dry_run(self) -> bool:
        """True for ``render``: nothing may be sent."""
        return self._dry_run

    @property
    def options(self) -> Mapping[str, Any]:
        """The plugins' command-line options."""
        return self._options

    def caller_identity(self) -> str:
        """The caller's ARN for the request's endpoint (sts:GetCallerIdentity, cached per process)."""
        self._refuse_in_dry_run("look the caller up")
        return self._identity(self._request.endpoint)

    def call(self, template: TaskTemplate, body: Mapping[str, Any]) -> TestRequestResult:
        """Another operation of the same service, at the same endpoint (its body checked by ``template``)."""
        self._refuse_in_dry_run(f"call {template.operation}")
        if template.signing_name != self._request.signing_name:
            raise ValueError(
                f"{template.id} is signed for {template.signing_name}, not {self._request.signing_name}: "
                "a session calls operations of its request's own service"
            )
        return self._send(self._prepare(template, body, self._request.endpoint))

    def send(self, request: PreparedRequest) -> TestRequestResult:
        """Sign and send ``request`` with its task's retries and timeouts."""
        self._refuse_in_dry_run("send")
        return self._send(request)

    def _refuse_in_dry_run(self, what: str) -> None:
        if self._dry_run:
            raise DryRunRefused(f"a dry run sends nothing: cannot {what}")
