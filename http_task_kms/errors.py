"""The exception hierarchy of http-task-kms.

::

    HttpTaskError                      base of everything raised on purpose
    ├── SpecError (ValueError)         an OpenAPI document that is not in the AWS JSON convention;
    │                                  ``location`` names the place in the document
    ├── TemplateNotFound (LookupError) no template with that id
    ├── TaskDefinitionError (ValueError)  a builder task / workflow definition that is unusable
    ├── RequestValidationError (ValueError)  the request must not be sent; ``problems`` lists
    │   │                              every ``{field, message}`` at once
    │   └── InputError                 an untrusted file that cannot be used (too large, not
    │                                  UTF-8, not strict JSON, malformed); ``field`` names it
    └── CredentialsError               no usable AWS credentials (message never holds a secret)
        └── CredentialsNotFound        none configured at all (``render`` then shows the
                                       request unsigned; every other failure is an error)

Errors caused by bad input also subclass :class:`ValueError`. Network and AWS failures are
not exceptions: they become a structured :class:`~http_task_kms.result.TestRequestResult`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CredentialsError",
    "CredentialsNotFound",
    "HttpTaskError",
    "InputError",
    "Problem",
    "RequestValidationError",
    "SpecError",
    "TaskDefinitionError",
    "TemplateNotFound",
]


class Problem(BaseModel):
    """One reason a request cannot be sent: the field it concerns and the rule it breaks."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class HttpTaskError(Exception):
    """Base class of every error this package raises on purpose."""


class SpecError(HttpTaskError, ValueError):
    """An OpenAPI document that cannot be turned into task templates."""

    def __init__(self, message: str, *, location: str = "") -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class TemplateNotFound(HttpTaskError, LookupError):
    """No registered template has the requested id."""


class TaskDefinitionError(HttpTaskError, ValueError):
    """A builder Http task or workflow definition that cannot be run."""


class RequestValidationError(HttpTaskError, ValueError):
    """The request must not be sent; ``problems`` names every reason at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
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


class CredentialsNotFound(CredentialsError):
    """No AWS credentials are configured anywhere in the chain (or the profile does not exist)."""
