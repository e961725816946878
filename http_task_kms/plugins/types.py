"""What a plugin's ``check_request`` hook sees and returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..endpoints import Endpoint
from ..errors import Problem
from ..template import TaskTemplate

__all__ = ["Check", "RequestContext", "Severity"]

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
    """A rendered, schema-valid request about to be signed.

    What a check is about is decided by what goes on the wire: ``signing_name`` (the
    service the request is signed for) and ``target`` (its ``X-Amz-Target`` exactly as it
    will be sent), never by the template's id — a ``--spec`` document may name operations
    as it likes. ``headers`` are the request's headers as they will be sent (before signing).

    ``caller_arn`` resolves the calling identity (``sts:GetCallerIdentity``) on first use
    and caches it; it is None when that is not possible (no credentials, dry run without
    ``--caller-arn``). ``options`` holds command-line switches for plugins. ``endpoint`` is
    None when it could not be resolved; ``valid_so_far`` is False when other problems were
    already found (a check that would need the network should then skip itself, so that
    nothing is sent for bad input). ``dry_run`` is True for ``render``: nothing will be sent,
    and ``caller_arn`` answers only from ``--caller-arn``. ``caller_problem`` says why the last
    lookup failed.
    """

    template: TaskTemplate | None
    body: Any
    endpoint: Endpoint | None
    signing_name: str | None = None
    target: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    caller_arn: Callable[[], str | None] = field(default=lambda: None)
    options: dict[str, Any] = field(default_factory=dict)
    valid_so_far: bool = True
    dry_run: bool = False
    caller_problem: Callable[[], str | None] = field(default=lambda: None)
