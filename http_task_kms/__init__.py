"""http-task-kms: AWS KMS operations as workflow-builder HTTP task templates.

The public API is small: build a :class:`Client`, then ``test_request`` (send) or
``prepare`` + ``render`` (dry run). Plugins implement the hooks in
:mod:`http_task_kms.plugins.hookspecs` with :data:`hookimpl`.
"""

from __future__ import annotations

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
from .plugins.hookspecs import hookimpl
from .prepare import Options
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
    "templates_from_document",
    "templates_from_file",
]
