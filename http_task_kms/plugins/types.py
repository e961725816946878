"""What plugin hooks receive and return: plain data, and the narrow :class:`Session`.

Nothing here does anything: these are the shapes of the host contract
(:mod:`http_task_kms.plugins.hookspecs`). A request flows one way —
render → :class:`RequestContext` checks (pure) → preflight (the only I/O before sending,
through a :class:`Session`) → checks again with the facts it found → sign → send — and a
plugin sees each stage only through these types, never the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ..endpoints import Endpoint
from ..errors import Problem
from ..jsonutil import Document
from ..result import TestRequestResult
from ..task import HttpTask
from ..template import TaskTemplate

__all__ = ["Check", "PreparedRequest", "RequestContext", "Session", "Severity", "Signer", "SignerFactory"]

Severity = Literal["ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION"]


class Check(BaseModel):
    """One finding about a request: ERROR blocks it, the rest are warnings."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    code: str
    field: str
    message: str
    path: str = "$"

    def as_problem(self) -> Problem:
        """This finding as a ``{field, message}`` validation problem."""
        where = "" if self.path in {"", "$"} else f" at {self.path}"
        return Problem(field=self.field, message=f"{self.message} [{self.code}{where}]")


@dataclass(frozen=True)
class RequestContext:
    """A rendered request about to be signed, as a ``check_request`` hook sees it.

    What a check is about is decided by what goes on the wire: ``signing_name`` (the
    service the request is signed for) and ``target`` (its ``X-Amz-Target`` exactly as it
    will be sent), never by the template's id — a ``--spec`` document may name operations
    as it likes. ``headers`` are the request's headers as they will be sent (before signing);
    ``options`` the plugins' command-line options; ``dry_run`` is True for ``render``.

    Checks run twice. First with ``facts`` None: only what the request itself says (pure,
    nothing has been sent). Then — when the first pass found no error — with the facts the
    plugins' ``preflight`` hooks fetched (a mapping: each plugin reads its own keys).

    ``documents`` holds the body's JSON-document members (``x-json-document``, e.g. a key
    policy) as read once for both passes: a check parses ``documents[member].value()``
    instead of the member's text again.
    """

    template: TaskTemplate | None
    body: Any
    endpoint: Endpoint | None
    signing_name: str | None = None
    target: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    facts: Mapping[str, Any] | None = None
    documents: Mapping[str, Document] = field(default_factory=dict)


@dataclass
class PreparedRequest:
    """A checked request, not yet signed."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    body_bytes: bytes
    endpoint: Endpoint
    signing_name: str
    template: TaskTemplate | None
    task: HttpTask
    warnings: list[Check] = field(default_factory=list)
    target: str | None = None
    credentials: str | None = None  # a task's saved-credentials id: shown, never used to pick keys
    facts: dict[str, Any] = field(default_factory=dict)  # what the plugins' preflight found
    documents: dict[str, Document] = field(default_factory=dict)  # the body's JSON documents, read once

    @property
    def credentials_type(self) -> str:
        """The signer this request needs: its template's declared credentials type."""
        return self.template.credentials_type if self.template else "aws-sigv4"


class Session(Protocol):
    """What a plugin may do for one request: the narrow door to the network.

    Given to ``preflight`` and ``send_request``. Everything it sends is signed by the host
    for a destination the operator allows, with the host's retries and timeouts.
    """

    @property
    def dry_run(self) -> bool:
        """True for ``render``: nothing may be sent (``send`` and ``call`` refuse)."""
        ...

    @property
    def options(self) -> Mapping[str, Any]:
        """The plugins' command-line options (e.g. ``caller_arn``, ``backup_dir``)."""
        ...

    def caller_identity(self) -> str:
        """The caller's ARN (``sts:GetCallerIdentity``), cached per process.

        Raises :class:`~http_task_kms.errors.CredentialsError` when there are no credentials,
        :class:`~http_task_kms.errors.PreflightFailed` when STS answers with an error.
        """
        ...

    def call(self, template: TaskTemplate, body: Mapping[str, Any]) -> TestRequestResult:
        """Send another operation of the same service to the same endpoint (e.g. a read before a write)."""
        ...

    def send(self, request: PreparedRequest) -> TestRequestResult:
        """Sign and send ``request`` (the one the hook was given)."""
        ...


class Signer(Protocol):
    """Signs one attempt of a request: returns the headers to send (the input is not changed)."""

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
        """Return ``headers`` plus the authentication headers for this attempt.

        ``clock_offset`` (seconds) corrects the local clock after the service reported skew.
        """
        ...


class SignerFactory(Protocol):
    """Makes the signer for one credentials type (called once per process and profile)."""

    def __call__(self, *, profile: str | None) -> Signer:
        """A signer using the credentials of ``profile`` (None: the default chain)."""
        ...
