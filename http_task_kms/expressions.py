"""The builder's expressions over a task's input parameters.

- ``${<JSONPath>}`` (RFC 9535, python-jsonpath in strict mode) selects from the input
  parameters. A value that is exactly one placeholder keeps the JSON type it selects; a
  placeholder inside a longer string is interpolated as text.
- ``$${`` escapes a placeholder: it renders literally as ``${``.
- A string starting with ``jsonata:`` is a JSONata expression (jsonata-python).
- ``${swf:…}`` names a value only the builder has at run time.

Values are compiled once (:func:`compile_value`) and rendered many times
(:meth:`Node.render`). Rendering never raises for bad data: it returns the value, the
problems, and the placeholders that selected nothing (so that the caller can decide
whether that member was required).

Budgets. A task's expressions are untrusted: JSONata is a full language (recursion, ranges,
``$pad``, ``$sort``, ``$eval``) and a JSONPath ``match()``/``search()`` may take its pattern
from the input. So every ``jsonata:`` value and every non-singular JSONPath query runs in a
worker process under the budget of :mod:`http_task_kms.config` (1 s, 100,000 steps, strings
up to 1 MiB, arrays up to 100,000 items, a result up to 1 MiB, no ``$eval``); see
:mod:`http_task_kms.sandbox` for why a process and :mod:`http_task_kms.engines` for the
checks. A breach is a problem on the field ("JSONata evaluation exceeded 1 s"), reported by
the worker, or by us when it had to be killed at the deadline. Two kinds run in process,
because they are cheap and cannot loop: singular JSONPath queries (``${$.KeyId}``: a walk of
at most a few names and indexes) and our own templates' expressions (``compile_value(...,
own=True)``, e.g. :meth:`TaskTemplate.url_expression`). Every evaluation, here or there, has
its own bindings frame, so concurrent renders of one compiled value never see each other's input.

Imports. The engines (python-jsonpath, jsonata-python, regex: about 40 ms) are imported when
first needed, not with this module. A template's own values need none of them: a
placeholder that is a plain member name (``${$.KeyId}``) is a lookup in the input
parameters — exactly what the query selects from a JSON object — and a template's URL
expression is compiled when it is first rendered (a template's endpoint comes from its
Region, so usually never).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .errors import Problem

if TYPE_CHECKING:
    from .engines import Outcome

__all__ = [
    "MISSING",
    "Missing",
    "Node",
    "Rendered",
    "compile_value",
    "placeholders",
    "render",
    "syntax_problems",
]

JSONATA_PREFIX: Final = "jsonata:"
#: ``$.<name>`` with an ASCII member-name shorthand (RFC 9535): one member of an object.
_MEMBER: Final = re.compile(r"\$\.([A-Za-z_][A-Za-z0-9_]*)")


class _MissingType:
    """The value of a placeholder that selected nothing."""

    _instance: _MissingType | None = None

    def __new__(cls) -> _MissingType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _MissingType()


@dataclass(frozen=True)
class Missing:
    """A placeholder at ``field`` whose ``expression`` selected nothing."""

    field: str
    expression: str


@dataclass
class Rendered:
    """What rendering produced: a value (or MISSING), problems, and empty selections."""

    value: Any
    problems: list[Problem] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)


class Node:
    """A compiled value; :meth:`render` evaluates it over input parameters."""

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        """Evaluate over ``params``; record problems and empty selections in ``out``."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Literal(Node):
    value: Any

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        return self.value


@dataclass(frozen=True)
class _Invalid(Node):
    message: str

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        out.problems.append(Problem(field=where, message=self.message))
        return MISSING


@dataclass(frozen=True)
class _Select(Node):
    expression: str
    path: Any  # jsonpath.JSONPath (untyped library); None for a member name, compiled when needed
    singular: bool
    member: str | None = None  # ``$.<member>``: over a dict, a lookup selects what the query does

    @functools.cached_property
    def query(self) -> Any:
        """The compiled query (``jsonpath.JSONPath``)."""
        from . import engines  # noqa: PLC0415 - python-jsonpath, only when a query is run

        return self.path if self.path is not None else engines.compile_jsonpath(self.expression)

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        if self.member is not None and type(params) is dict:
            if self.member in params:
                return params[self.member]
            out.missing.append(Missing(field=where, expression="${" + self.expression + "}"))
            return MISSING
        from . import engines, sandbox  # noqa: PLC0415 - the engines, only when a query is run

        if self.singular:  # a few names and indexes: cheap, in process
            outcome = engines.evaluate_jsonpath(self.query, params)
        else:
            outcome = sandbox.evaluate(engines.JSONPATH, self.expression, params)
        if outcome.error is not None:
            first_line = outcome.error.splitlines()[0]  # never empty (see engines.Outcome)
            out.problems.append(Problem(field=where, message=f"${{{self.expression}}}: {first_line}"))
        return _taken(outcome, "JSONPath", "${" + self.expression + "}", where, out)


@dataclass(frozen=True)
class _Jsonata(Node):
    expression: str
    compiled: Any  # jsonata.Jsonata; None for our own expression until it is first rendered
    own: bool  # one of our templates' expressions: evaluated in process

    @functools.cached_property
    def program(self) -> Any:
        """The compiled expression (``jsonata.Jsonata``)."""
        from . import engines  # noqa: PLC0415 - jsonata-python, only when an expression is run

        return self.compiled if self.compiled is not None else engines.compile_jsonata(self.expression)

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        from . import engines, sandbox  # noqa: PLC0415 - the engines, only when an expression is run

        if self.own:
            outcome = engines.evaluate_jsonata(self.program, params)
        else:
            outcome = sandbox.evaluate(engines.JSONATA, self.expression, params)
        if outcome.error is not None:
            out.problems.append(
                Problem(field=where, message=f"JSONata {self.expression!r} failed: {outcome.error}")
            )
        return _taken(outcome, "JSONata", JSONATA_PREFIX + self.expression, where, out)


def _taken(outcome: Outcome, language: str, expression: str, where: str, out: Rendered) -> Any:
    """The value of an outcome; a broken budget is a problem, nothing found is missing."""
    if outcome.exceeded is not None:
        out.problems.append(Problem(field=where, message=f"{language} evaluation {outcome.exceeded}"))
    elif outcome.error is None and not outcome.found:
        out.missing.append(Missing(field=where, expression=expression))
    return outcome.value if outcome.found else MISSING


@dataclass(frozen=True)
class _Interpolate(Node):
    parts: tuple[str | _Select, ...]

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        text: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                text.append(part)
                continue
            value = part.render(params, where, _scratch := Rendered(None))
            out.problems.extend(_scratch.problems)
            if _scratch.problems:
                return MISSING
            if value is MISSING or value is None:
                what = "selected nothing" if value is MISSING else "selected null"
                out.problems.append(
                    Problem(
                        field=where,
                        message=f"${{{part.expression}}} {what} in the input parameters, "
                        "so it cannot be interpolated into the text",
                    )
                )
                return MISSING
            text.append(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))
        return "".join(text)


@dataclass(frozen=True)
class _Object(Node):
    members: tuple[tuple[str, Node], ...]

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        result: dict[str, Any] = {}
        for key, node in self.members:
            value = node.render(params, _join(where, key), out)
            if value is not MISSING:
                result[key] = value
        return result


@dataclass(frozen=True)
class _Array(Node):
    items: tuple[Node, ...]

    def render(self, params: Any, where: str, out: Rendered) -> Any:
        result = []
        for i, node in enumerate(self.items):
            value = node.render(params, f"{where}[{i}]", out)
            if value is MISSING:
                out.problems.append(Problem(field=f"{where}[{i}]", message="an array item selected nothing"))
            else:
                result.append(value)
        return result


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _scan_placeholder(text: str, start: int) -> int:
    """Index just past the ``}`` closing the placeholder opened at ``start`` (``${``), or -1."""
    depth, quote, i = 0, "", start + 2
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return i + 1
            depth -= 1
        i += 1
    return -1


def _compile_select(expression: str) -> Node:
    expression = expression.strip()
    if expression.startswith("swf:"):
        return _Invalid(
            f"${{{expression}}} is a value only the workflow builder provides at run time; "
            "put the value in the input parameters to test this request here"
        )
    if not expression.startswith("$"):
        return _Invalid(
            f"${{{expression}}} is not a JSONPath query: it must start with '$', e.g. ${{$.KeyId}}"
        )
    member = _MEMBER.fullmatch(expression)
    if member is not None:  # always valid RFC 9535, and singular: compiled only if ever needed
        return _Select(expression, None, True, member[1])
    import jsonpath  # noqa: PLC0415 - python-jsonpath, only for a query that is not a member name

    from . import engines  # noqa: PLC0415

    try:
        path = engines.compile_jsonpath(expression)
    except jsonpath.JSONPathError as exc:
        return _Invalid(f"${{{expression}}} is not valid JSONPath (RFC 9535): {_first_line(exc)}")
    return _Select(expression, path, bool(getattr(path, "singular_query", lambda: False)()))


def _compile_string(text: str, *, own: bool) -> Node:
    if text.startswith(JSONATA_PREFIX):
        expression = text[len(JSONATA_PREFIX) :]
        if own:  # ours (a template's URL): valid, compiled when first rendered
            return _Jsonata(expression, None, own)
        from . import engines  # noqa: PLC0415 - jsonata-python, only for an expression

        try:
            return _Jsonata(expression, engines.compile_jsonata(expression), own)
        except Exception as exc:
            return _Invalid(f"{text!r} is not a valid JSONata expression: {exc}")
    parts: list[str | Node] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
        elif text.startswith("${", i):
            end = _scan_placeholder(text, i)
            if end < 0:
                return _Invalid(f"unclosed placeholder at character {i + 1} of {text!r}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_compile_select(text[i + 2 : end - 1]))
            i = end
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    if not any(isinstance(p, Node) for p in parts):
        return _Literal("".join(p for p in parts if isinstance(p, str)))
    if len(parts) == 1:
        return parts[0]  # type: ignore[return-value]  # exactly one Node: keeps its JSON type
    invalid = next((p for p in parts if isinstance(p, _Invalid)), None)
    if invalid is not None:
        return invalid
    return _Interpolate(tuple(p for p in parts if isinstance(p, str | _Select)))


def compile_value(value: Any, *, own: bool = False) -> Node:
    """Compile a JSON value whose strings may hold placeholders or a ``jsonata:`` expression.

    ``own``: the value is one of our templates' expressions (trusted and cheap), so its JSONata
    is evaluated in process rather than in the budgeted worker.
    """
    if isinstance(value, str):
        return _compile_string(value, own=own)
    if isinstance(value, Mapping):
        return _Object(tuple((str(k), compile_value(v, own=own)) for k, v in value.items()))
    if isinstance(value, list):
        return _Array(tuple(compile_value(v, own=own) for v in value))
    return _Literal(value)


def placeholders(text: str) -> list[str]:
    """The expressions of the ``${…}`` placeholders in ``text`` (escapes skipped; none in ``jsonata:``)."""
    if text.startswith(JSONATA_PREFIX):
        return []
    found, i = [], 0
    while i < len(text):
        if text.startswith("$${", i):
            i += 3
        elif text.startswith("${", i) and (end := _scan_placeholder(text, i)) > 0:
            found.append(text[i + 2 : end - 1].strip())
            i = end
        else:
            i += 1
    return found


def syntax_problems(text: str, *, accept: Callable[[str], bool] = lambda _: False) -> list[str]:
    """What is wrong with the expressions of ``text`` as written (empty: they compile).

    ``accept(expression)`` passes a placeholder that is no JSONPath query but is valid where the
    text is used (the builder's ``swf:`` values, a workflow's references to its tasks).
    """
    if text.startswith(JSONATA_PREFIX):
        node = _compile_string(text, own=False)
        return [node.message] if isinstance(node, _Invalid) else []
    problems = []
    for expression in placeholders(text):
        if not accept(expression):
            node = _compile_select(expression)
            problems += [node.message] if isinstance(node, _Invalid) else []
    whole = _compile_string(text, own=False)
    if isinstance(whole, _Invalid) and whole.message.startswith("unclosed placeholder"):
        problems.append(whole.message)
    return problems


def render(node: Node, params: Any, *, where: str = "") -> Rendered:
    """Render a compiled value over the input parameters."""
    out = Rendered(None)
    out.value = node.render(params, where, out)
    return out
