"""The exception hierarchy of http-task-kms.

::

    HttpTaskError                      base of everything raised on purpose
    ├── SpecError (ValueError)         an OpenAPI document that is not in the AWS JSON convention;
    │                                  ``location`` names the place in the document
    ├── TemplateNotFound (LookupError) no template with that id
    ├── TaskDefinitionError (ValueError)  a builder task / workflow definition that is unusable
    ├── RequestValidationError (ValueError)  the request must not be sent; ``problems`` lists
    │   │                              every ``{field, message}`` at once
    │   ├── InputError                 an untrusted file that cannot be used (too large, not
    │   │                              UTF-8, not strict JSON, malformed); ``field`` names it
    │   └── DestinationRefused         credentials would go to a host neither AWS's nor the operator's
    ├── CredentialsError               no usable AWS credentials (message never holds a secret)
    │   └── CredentialsNotFound        none configured at all (``render`` then shows the
    │                                  request unsigned; every other failure is an error)
    └── PreflightFailed                a call made before the request (sts:GetCallerIdentity, or
                                       a plugin's) failed; ``step`` names it, the rest is its error

    Interrupted (BaseException)        SIGINT or SIGTERM arrived; ``details`` holds what a result
                                       must still say (e.g. the backup written before the send)

Errors caused by bad input also subclass :class:`ValueError`. Network and AWS failures are
not exceptions: they become a structured :class:`~http_task_kms.result.TestRequestResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "CredentialsError",
    "CredentialsNotFound",
    "DestinationRefused",
    "HttpTaskError",
    "InputError",
    "Interrupted",
    "PreflightFailed",
    "Problem",
    "RequestValidationError",
    "SpecError",
    "TaskDefinitionError",
    "TemplateNotFound",
]


@dataclass(frozen=True)
class Problem:
    """One reason a request cannot be sent: the field it concerns and the rule it breaks.

    A frozen dataclass, not a pydantic model, so that this module imports only the standard
    library and the command line can raise and catch these errors without loading pydantic
    (``--help``); pydantic models hold it as they would a model (``ErrorDetail.problems``).
    """

    field: str
    message: str

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not isinstance(self.message, str):
            raise TypeError("a Problem's field and message are strings")  # as the model refused others


class HttpTaskError(Exception):
    """Base class of every error this package raises on purpose.

    ``field`` names what a command-line user should look at when it is reported as a problem.
    """

    field: str = "input"


class SpecError(HttpTaskError, ValueError):
    """An OpenAPI document that cannot be turned into task templates."""

    field = "spec"

    def __init__(self, message: str, *, location: str = "") -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class TemplateNotFound(HttpTaskError, LookupError):
    """No registered template has the requested id."""

    field = "ID"


class TaskDefinitionError(HttpTaskError, ValueError):
    """A builder Http task or workflow definition that cannot be run."""

    field = "task"


class RequestValidationError(HttpTaskError, ValueError):
    """The request must not be sent; ``problems`` names every reason at once.

    ``warnings`` are the findings that did not block it (a plugin check's SECURITY_WARNING,
    WARNING or SUGGESTION, as dicts), reported with the problems so that fixing them never
    reveals a warning in the next round.
    """

    def __init__(self, problems: list[Problem], *, warnings: list[dict[str, Any]] | None = None) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings or [])
        lines = "; ".join(f"{p.field}: {p.message}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s): {lines}")


class InputError(RequestValidationError):
    """An untrusted input file that cannot be used; ``str()`` is the reason alone."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__([Problem(field=field, message=message)])
        self.field = field
        self.reason = message

    def __str__(self) -> str:
        return self.reason

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        return (type(self), (self.field, self.reason))


class CredentialsError(HttpTaskError):
    """AWS credentials could not be found or loaded."""

    field = "credentials"


class CredentialsNotFound(CredentialsError):
    """No AWS credentials are configured anywhere in the chain (or the profile does not exist)."""


class DestinationRefused(RequestValidationError):
    """A signed request whose destination is neither the service's own endpoint nor the operator's."""


class PreflightFailed(HttpTaskError):
    """A call made before the request failed, so the request itself was not sent.

    ``step`` names the call (``"GetCallerIdentity"``); ``code``, ``message``, ``retryable``
    and ``status_code`` are its own error (``status_code`` None when no answer came).
    """

    def __init__(
        self, *, step: str, code: str, message: str, retryable: bool = False, status_code: int | None = None
    ) -> None:
        self.step, self.code, self.error_message = step, code, message
        self.retryable, self.status_code = retryable, status_code
        super().__init__(f"{step} failed: {code}: {message}")


class Interrupted(BaseException):
    """SIGINT or SIGTERM during a command (a BaseException, so that nothing swallows it).

    Code that knows something the final result must say — the backup file written before a
    send — adds it to ``details`` and lets the exception go on.
    """

    def __init__(self, signal_number: int, signal_name: str) -> None:
        self.signal_number, self.signal_name = signal_number, signal_name
        self.details: dict[str, object] = {}
        super().__init__(f"interrupted by {signal_name}")
