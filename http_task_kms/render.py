"""A task compiled once, rendered over input parameters many times.

:func:`compile_task` compiles a task's url, headers and body expressions
(:mod:`http_task_kms.expressions`); :func:`render_task` evaluates them over one set of input
parameters. Pure: data in, data (and problems) out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import Problem
from .expressions import Missing, Node, compile_value, render
from .task import HttpTask
from .template import TaskTemplate, is_url_expression

__all__ = ["CompiledTask", "RenderedTask", "compile_task", "render_task"]


@dataclass(frozen=True)
class CompiledTask:
    """A task whose expressions are compiled once, ready to render many times.

    ``template`` is set for a template's own task (its endpoint then comes from the Region,
    not from its URL text).
    """

    task: HttpTask
    template: TaskTemplate | None
    url: Node
    headers: Node
    body: Node


@dataclass
class RenderedTask:
    """A task's url, headers and body over one set of input parameters, and what went wrong."""

    url: str
    headers: dict[str, str]
    body: Any
    missing: list[Missing] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    body_problems: list[Problem] = field(default_factory=list)


_NO_URL = compile_value("")


def compile_task(task: HttpTask, template: TaskTemplate | None = None) -> CompiledTask:
    """Compile a task's url, headers and body expressions."""
    request = task.httpRequest
    return CompiledTask(
        task,
        template,
        compile_value(request.url, own=is_url_expression(request.url)),  # ours: in process
        compile_value(request.headers),
        compile_value(request.body),
    )


def render_task(compiled: CompiledTask, params: Mapping[str, Any]) -> RenderedTask:
    """Evaluate the task's expressions over ``params`` (never raises for bad data)."""
    url_out = render(
        _NO_URL if compiled.template is not None else compiled.url, params, where="httpRequest.url"
    )
    headers_out = render(compiled.headers, params, where="httpRequest.headers")
    body_out = render(compiled.body, params)
    problems = url_out.problems + headers_out.problems + body_out.problems
    problems += [
        Problem(field=m.field, message=f"{m.expression} selected nothing in the input parameters")
        for m in url_out.missing
    ]
    headers = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (headers_out.value or {}).items()}
    return RenderedTask(
        url=str(url_out.value or ""),
        headers=headers,
        body=body_out.value,
        missing=body_out.missing,
        problems=problems,
        body_problems=body_out.problems,
    )
