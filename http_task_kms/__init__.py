"""http-task-kms: AWS KMS operations (and any AWS JSON-protocol service) as workflow-builder
HTTP task templates — rendered, checked, signed and sent.

The host API is small: build a :class:`Client`; its ``registry`` is the catalog (``search``),
each :class:`TaskTemplate` gives its Http task (``to_task``), the JSON Schema of its inputs
(``input_schema``) and, through :func:`reference_page`, its API reference page (Markdown);
then ``test_request`` (send) or ``dry_run`` (render and check, nothing sent), each returning
a :class:`TestRequestResult`. Plugins
implement the hooks in :mod:`http_task_kms.plugins.hookspecs` with :data:`hookimpl`.

Names are imported on first use, so that importing the package (as the command line does
for ``--help``) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client
    from .errors import (
        CredentialsError,
        HttpTaskError,
        Problem,
        RequestValidationError,
        SpecError,
        TaskDefinitionError,
        TemplateNotFound,
    )
    from .openapi.load import templates_from_document, templates_from_file
    from .options import Options
    from .plugins.hookspecs import hookimpl
    from .reference import reference_page
    from .result import TestRequestResult
    from .task import HttpTask
    from .template import ErrorInfo, TaskTemplate

__all__ = [
    "Client",
    "CredentialsError",
    "ErrorInfo",
    "HttpTask",
    "HttpTaskError",
    "Options",
    "Problem",
    "RequestValidationError",
    "SpecError",
    "TaskDefinitionError",
    "TaskTemplate",
    "TemplateNotFound",
    "TestRequestResult",
    "hookimpl",
    "reference_page",
    "templates_from_document",
    "templates_from_file",
]

_WHERE = {
    "Client": ".client",
    "CredentialsError": ".errors",
    "HttpTaskError": ".errors",
    "Problem": ".errors",
    "RequestValidationError": ".errors",
    "SpecError": ".errors",
    "TaskDefinitionError": ".errors",
    "TemplateNotFound": ".errors",
    "templates_from_document": ".openapi.load",
    "templates_from_file": ".openapi.load",
    "Options": ".options",
    "hookimpl": ".plugins.hookspecs",
    "reference_page": ".reference",
    "TestRequestResult": ".result",
    "HttpTask": ".task",
    "ErrorInfo": ".template",
    "TaskTemplate": ".template",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
