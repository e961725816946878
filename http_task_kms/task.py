"""The builder's Http task and workflow definition formats (see the README)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import config
from .errors import Problem, RequestValidationError, TaskDefinitionError

__all__ = ["HttpRequestConfig", "HttpTask", "RetrySettings", "select_task"]

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class RetrySettings(BaseModel):
    """The task's ``retry`` object: interval, attempts, and how the interval grows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intervalSeconds: float = Field(default=config.RETRY_INTERVAL_SECONDS, ge=0, le=3600)
    maxAttempts: int = Field(default=config.MAX_ATTEMPTS, ge=1, le=20)
    backoffRate: float = Field(default=config.BACKOFF_RATE, ge=1, le=10)


class HttpRequestConfig(BaseModel):
    """``httpRequest``: url and method are required; headers and body may hold expressions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    method: Method
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None


class HttpTask(BaseModel):
    """A builder Http task (unknown builder fields such as ``end`` are kept, not used)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["Http"] = "Http"
    description: str | None = None
    credentials: str | None = None
    inputParameters: dict[str, Any] = Field(default_factory=dict)
    httpRequest: HttpRequestConfig
    retry: RetrySettings | None = None
    connectionTimeoutSeconds: int = Field(default=config.CONNECT_TIMEOUT_SECONDS, ge=1, le=300)
    readTimeoutSeconds: int = Field(default=config.READ_TIMEOUT_SECONDS, ge=1, le=3600)

    @classmethod
    def parse(cls, data: Any, *, where: str = "task") -> HttpTask:
        """Validate a task object; every problem is reported at once, with its field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    Problem(field=".".join([where, *map(str, err["loc"])]), message=err["msg"])
                    for err in exc.errors()
                ]
            ) from None


def select_task(document: Any, task_name: str | None = None) -> tuple[str, HttpTask]:
    """The Http task in a file: a task object, or a workflow definition plus a task name."""
    if not isinstance(document, Mapping):
        raise TaskDefinitionError(
            "the task file must hold a JSON object: an Http task or a workflow definition"
        )
    if "tasks" not in document:
        if task_name is not None:
            raise TaskDefinitionError(
                "--task-name applies to a workflow definition, but this file is a single task"
            )
        return str(document.get("name", "task")), HttpTask.parse(document)
    tasks = document["tasks"]
    if not isinstance(tasks, Mapping) or not tasks:
        raise TaskDefinitionError(
            "workflow definition: 'tasks' must be a non-empty object keyed by task name"
        )
    if not all(isinstance(task, Mapping) for task in tasks.values()):
        bad = next(name for name, task in tasks.items() if not isinstance(task, Mapping))
        raise TaskDefinitionError(f"workflow definition: task {bad!r} must be a JSON object")
    http = [name for name, task in tasks.items() if task.get("type") == "Http"]
    if task_name is None:
        if len(http) != 1:
            raise TaskDefinitionError(
                f"the workflow has {len(http)} Http tasks; choose one with --task-name "
                f"({', '.join(map(repr, http)) or 'none'})"
            )
        task_name = http[0]
    if task_name not in tasks:
        raise TaskDefinitionError(f"no task named {task_name!r}; tasks: {', '.join(map(repr, tasks))}")
    if task_name not in http:
        raise TaskDefinitionError(f"task {task_name!r} is of type {tasks[task_name].get('type')!r}, not Http")
    return task_name, HttpTask.parse(tasks[task_name], where=f"tasks.{task_name}")
