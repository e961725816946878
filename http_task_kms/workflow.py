"""The builder's workflow definitions: checked whole, and the input a task would get from one.

:func:`validate` reports every problem of a definition at once, each at its JSON Pointer:

- its shapes, against the shipped JSON Schema (``schemas/workflow.v1.json``);
- its references: ``startTask`` and every ``nextTask`` name a task of the same graph (each
  branch of a ``Parallel`` task is a graph of its own);
- every task is reachable from ``startTask``, and no chain of ``nextTask`` loops;
- its expressions compile: every Http task's url, headers and body, and every task's
  ``inputParameters``. There, ``$`` is the workflow's input; ``${swf:…}`` is the builder's
  own value; ``${<task name>.output…}`` / ``${<task name>.input…}`` refer to another task,
  which must exist.

:func:`evaluate_input` gives a task the input it would get when the workflow runs: its
``inputParameters`` evaluated over the workflow input. References to other tasks' outputs exist
only in the builder at run time: they are reported, not guessed. Pure: data in, data out.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from .errors import Problem
from .expressions import MISSING, compile_value, placeholders, render, syntax_problems

__all__ = ["SCHEMA_ID", "WorkflowProblem", "evaluate_input", "schema", "task_names", "validate"]

SCHEMA_ID = "urn:http-task-kms:workflow:v1"
_TASK_REFERENCE = re.compile(r"^(?P<name>.+?)\.(?:output|input)(?:[.\[].*)?$", re.DOTALL)


@dataclass(frozen=True)
class WorkflowProblem:
    """One problem of a definition, at its JSON Pointer."""

    pointer: str
    message: str

    def as_json(self) -> dict[str, str]:
        """``{"pointer", "message"}``."""
        return {"pointer": self.pointer, "message": self.message}


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a workflow definition (shipped in the package)."""
    text = resources.files("http_task_kms.schemas").joinpath("workflow.v1.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def _pointer(*parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# -- shapes --------------------------------------------------------------------------------------
def _schema_message(error: ValidationError) -> tuple[list[Any], str]:
    """(where, message) of one schema violation, phrased for a person, never echoing a long value."""
    where, rule, instance = list(error.absolute_path), error.validator, error.instance
    if rule == "required":
        return where, str(error.message).split(" is a required", 1)[0] + " is required"
    if rule == "additionalProperties":
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else set()
        extra = sorted(k for k in instance if k not in known) if isinstance(instance, dict) else []
        return where, f"unknown field(s): {', '.join(extra)}"
    if rule == "oneOf" and isinstance(instance, dict):
        both = "nextTask" in instance and "end" in instance
        return where, "has both nextTask and end: keep one" if both else "needs nextTask or end: true"
    if rule in {"maxLength", "minLength"} and where and where[-1] == "tasks" and isinstance(instance, str):
        return (
            where,
            f"task name {instance[:40]!r}… is over 80 characters" if instance else "a task name is empty",
        )
    if rule == "enum" and isinstance(error.validator_value, list):
        return where, "must be one of: " + ", ".join(json.dumps(v) for v in error.validator_value)
    if rule == "type":
        wanted = error.validator_value
        return where, f"must be of type {' or '.join(wanted) if isinstance(wanted, list) else wanted}"
    return where, str(error.message)[:200]


def _shape_problems(document: Any) -> list[WorkflowProblem]:
    found = []
    for error in sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]):
        where, message = _schema_message(error)
        found.append(WorkflowProblem(_pointer(*where), message))
    return list(dict.fromkeys(found))  # in order, without repeats


# -- the graph -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Graph:
    """One graph of tasks: the workflow's, or a Parallel branch's (``base`` is its pointer)."""

    base: tuple[Any, ...]
    start: Any
    tasks: Mapping[str, Any]


def _graphs(document: Mapping[str, Any], base: tuple[Any, ...] = ()) -> Iterator[_Graph]:
    tasks = document.get("tasks")
    if not isinstance(tasks, Mapping):
        return
    yield _Graph(base, document.get("startTask"), tasks)
    for name, task in tasks.items():
        branches = task.get("branches") if isinstance(task, Mapping) else None
        for i, branch in enumerate(branches if isinstance(branches, list) else []):
            if isinstance(branch, Mapping):
                yield from _graphs(branch, (*base, "tasks", name, "branches", i))


def _next(task: Any) -> Any:
    return task.get("nextTask") if isinstance(task, Mapping) else None


def _reference_problems(graph: _Graph) -> list[WorkflowProblem]:
    names = ", ".join(repr(n) for n in graph.tasks)
    found = []
    if isinstance(graph.start, str) and graph.start not in graph.tasks:
        found.append(WorkflowProblem(_pointer(*graph.base, "startTask"), f"names no task (tasks: {names})"))
    for name, task in graph.tasks.items():
        target = _next(task)
        if isinstance(target, str) and target not in graph.tasks:
            pointer = _pointer(*graph.base, "tasks", name, "nextTask")
            found.append(WorkflowProblem(pointer, f"names no task (tasks: {names})"))
    return found


def _reachability_problems(graph: _Graph) -> list[WorkflowProblem]:
    if graph.start not in graph.tasks:
        return []  # reported as a reference problem
    seen, current = set(), graph.start
    while current in graph.tasks and current not in seen:
        seen.add(current)
        current = _next(graph.tasks[current])
    found = []
    if current in seen:  # the chain came back to a task it had passed
        chain = " → ".join([*_chain(graph, current), current])
        pointer = _pointer(*graph.base, "tasks", _last_before(graph, current), "nextTask")
        found.append(WorkflowProblem(pointer, f"loops back ({chain}): the workflow would never end"))
    for name in graph.tasks:
        if name not in seen:
            message = f"is not reachable from startTask {graph.start!r}"
            found.append(WorkflowProblem(_pointer(*graph.base, "tasks", name), message))
    return found


def _chain(graph: _Graph, first: str) -> list[str]:
    chain, current = [first], _next(graph.tasks[first])
    while current != first and current in graph.tasks and len(chain) <= len(graph.tasks):
        chain.append(current)
        current = _next(graph.tasks[current])
    return chain


def _last_before(graph: _Graph, first: str) -> str:
    return _chain(graph, first)[-1]


# -- expressions ----------------------------------------------------------------------------------
def task_names(document: Any) -> frozenset[str]:
    """Every task name of a definition, branches included."""
    if not isinstance(document, Mapping):
        return frozenset()
    return frozenset(name for graph in _graphs(document) for name in graph.tasks)


def _referenced_task(expression: str) -> str | None:
    match = _TASK_REFERENCE.match(expression)
    return match["name"] if match and not expression.startswith("$") else None


def _strings(value: Any, where: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*where, i))


def _expression_problems(graph: _Graph, names: frozenset[str]) -> list[WorkflowProblem]:
    def accept(expression: str) -> bool:
        return expression.startswith("swf:") or _referenced_task(expression) in names

    found = []
    for name, task in graph.tasks.items():
        if not isinstance(task, Mapping):
            continue
        parts = {"inputParameters": task.get("inputParameters")}
        if task.get("type") == "Http" and isinstance(task.get("httpRequest"), Mapping):
            request = task["httpRequest"]
            parts.update({f"httpRequest/{k}": request.get(k) for k in ("url", "headers", "body")})
        for part, value in parts.items():
            for where, text in _strings(value, ()):
                pointer = _pointer(*graph.base, "tasks", name) + "/" + part + _pointer(*where)
                found += [WorkflowProblem(pointer, m) for m in syntax_problems(text, accept=accept)]
                found += _unknown_references(pointer, text, names)
    return found


def _unknown_references(pointer: str, text: str, names: frozenset[str]) -> list[WorkflowProblem]:
    found = []
    for expression in placeholders(text):
        referenced = _referenced_task(expression)
        if referenced is not None and referenced not in names:
            found.append(
                WorkflowProblem(
                    pointer, f"${{{expression}}} refers to a task {referenced!r} this workflow has not"
                )
            )
    return found


def validate(document: Any) -> list[WorkflowProblem]:
    """Every problem of a workflow definition (empty: it is valid), each at its JSON Pointer."""
    found = _shape_problems(document)
    if not isinstance(document, Mapping):
        return found
    names = task_names(document)
    for graph in _graphs(document):
        found += (
            _reference_problems(graph) + _reachability_problems(graph) + _expression_problems(graph, names)
        )
    return found


# -- a task's input --------------------------------------------------------------------------------
def evaluate_input(
    input_parameters: Mapping[str, Any], workflow_input: Any
) -> tuple[dict[str, Any], list[Problem]]:
    """A task's ``inputParameters`` over the workflow input (``$``), as the builder does at run time.

    A parameter whose placeholders select nothing is left out (as the builder leaves an absent
    value out). One that refers to another task's output or input is reported: it exists only
    when the workflow runs.
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, value in input_parameters.items():
        field = f"inputParameters.{key}"
        referenced = [
            task
            for _, text in _strings(value, ())
            for e in placeholders(text)
            if (task := _referenced_task(e))
        ]
        if referenced:
            problems.append(
                Problem(
                    field=field,
                    message=f"refers to task {referenced[0]!r}, whose data exists only when the workflow "
                    "runs (out of scope for a Test request): give the value in the workflow input instead",
                )
            )
            continue
        out = render(compile_value(value), workflow_input, where=field)
        problems += out.problems
        if out.value is not MISSING and not out.problems:
            values[str(key)] = out.value
    return values, problems
