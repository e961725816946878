"""The seams into jsonata-python and python-jsonpath: a fresh frame per call, and a budget.

Every evaluation here gets its own bindings frame (jsonata-python otherwise binds ``$`` into
the frame of the compiled expression, which concurrent callers share) and answers with an
:class:`Outcome`, never an exception. With a :class:`Budget` (in the sandbox worker, see
:mod:`http_task_kms.sandbox`) it also counts steps and enforces the limits of
:mod:`http_task_kms.config`:

- jsonata-python calls the functions bound as ``__evaluate_entry`` / ``__evaluate_exit`` in
  the evaluation's frame around every step (its own ``Timebox`` uses them; its ``timeout=`` and
  ``stack=`` options cannot be used on a cached expression: the clock starts when the
  expression is built and the depth is not unwound after an error). Entry counts a step and
  checks the deadline; exit checks the size of what the step made.
- Regular expressions (JSONata regex literals; JSONPath ``match()`` / ``search()``, whose
  pattern may come from the input) run on the ``regex`` package with ``timeout=`` set to what
  is left of the budget. (Compiled outside the worker, to check a task's syntax, JSONata
  regex literals go to ``re``: ``regex`` expands nested repeats such as
  ``(((a{50}){50}){50}){50}`` at compile time, until memory runs out.)
- ``$eval`` is bound to a function that refuses, in every compiled expression.

A breach raises :class:`BudgetExceeded`, a :class:`BaseException` so that the libraries'
``except Exception`` handlers (JSONata's ``and``/``or``, ``$replace``) cannot swallow it.
One native step (``$pad``, ``$distinct`` of a long array) cannot be interrupted from here:
the worker's address-space limit and the kill at the deadline cover that.

This module imports neither pydantic nor the rest of the package, so that a worker starts fast.
"""

from __future__ import annotations

import contextvars
import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NamedTuple

import jsonata
import jsonpath
import regex
from jsonata.regex_engine import RegexFlags
from jsonpath import function_extensions

from . import config

__all__ = [
    "JSONATA",
    "JSONPATH",
    "Budget",
    "BudgetExceeded",
    "Outcome",
    "compile_jsonata",
    "compile_jsonpath",
    "evaluate",
    "evaluate_jsonata",
    "evaluate_jsonpath",
]

JSONATA: Final = "jsonata"
JSONPATH: Final = "jsonpath"


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit:,} bytes"


class BudgetExceeded(BaseException):
    """An evaluation broke a budget; ``rule`` says which, e.g. ``"exceeded 1 s"``."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


class Outcome(NamedTuple):
    """What one evaluation gave: a value (``found``), nothing, an error, or a broken budget.

    ``error`` (the library's message) and ``exceeded`` (the rule, e.g. ``"exceeded 1 s"``) are
    never empty strings.
    """

    value: Any = None
    found: bool = False
    error: str | None = None
    exceeded: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields, for the worker's answer."""
        return self._asdict()


class Budget:
    """What one evaluation may still spend; raises :class:`BudgetExceeded` when it is spent."""

    TIME: Final = f"exceeded {config.EXPRESSION_SECONDS:g} s"
    STRING: Final = f"made a string over {_size(config.EXPRESSION_STRING_BYTES)}"
    ARRAY: Final = f"made an array over {config.EXPRESSION_ARRAY_ITEMS:,} items"
    RESULT: Final = f"gave a result over {_size(config.EXPRESSION_RESULT_BYTES)}"
    EVAL: Final = "called $eval, which is not allowed"
    MEMORY: Final = "exceeded its memory limit"
    DEPTH: Final = "exceeded the recursion depth limit"

    def __init__(
        self, *, seconds: float = config.EXPRESSION_SECONDS, steps: int = config.EXPRESSION_STEPS
    ) -> None:
        self._seconds, self._steps = seconds, steps
        self.deadline = time.monotonic() + seconds
        self.steps_left = steps

    def out_of_time(self) -> BudgetExceeded:
        """The breach of the time limit (to raise)."""
        return BudgetExceeded(f"exceeded {self._seconds:g} s")

    def remaining(self) -> float:
        """Seconds left; raises when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.out_of_time()
        return left

    def step(self) -> None:
        """Count one step; raises when the steps or the time are spent."""
        self.steps_left -= 1
        if self.steps_left < 0:
            raise BudgetExceeded(f"exceeded {self._steps:,} steps")
        if time.monotonic() > self.deadline:
            raise self.out_of_time()

    def check(self, value: Any) -> None:
        """Raise if ``value`` (made along the way) is a string or an array over its limit."""
        if isinstance(value, str):
            limit = config.EXPRESSION_STRING_BYTES
            if len(value) > limit or (
                len(value) * 4 > limit and len(value.encode("utf-8", "surrogatepass")) > limit
            ):
                raise BudgetExceeded(self.STRING)
        elif isinstance(value, list | Mapping) and len(value) > config.EXPRESSION_ARRAY_ITEMS:
            raise BudgetExceeded(self.ARRAY)

    def check_result(self, value: Any) -> None:
        """Raise if the compact JSON of ``value`` is over the result limit."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        if len(text.encode("utf-8", "surrogatepass")) > config.EXPRESSION_RESULT_BYTES:
            raise BudgetExceeded(self.RESULT)

    # jsonata-python's evaluation hooks (bound in the evaluation's own frame)
    def on_entry(self, expr: Any, data: Any, environment: Any) -> None:
        """``__evaluate_entry``: one step."""
        self.step()

    def on_exit(self, expr: Any, data: Any, environment: Any, result: Any) -> None:
        """``__evaluate_exit``: the size of what the step made."""
        self.check(result)


#: The budget of the evaluation running in this context (read by the regex wrappers).
_CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)


def _timed(method: Callable[..., Any], *args: Any) -> Any:
    """Call a ``regex`` pattern method with what is left of the current budget as its timeout."""
    budget = _CURRENT.get()
    if budget is None:
        return method(*args)
    try:
        return method(*args, timeout=budget.remaining())
    except TimeoutError:
        raise budget.out_of_time() from None


def _stopping(matches: Iterator[Any], budget: Budget) -> Iterator[Any]:
    """``finditer``'s matches (found as the caller iterates), the regex timeout as a breach."""
    try:
        yield from matches
    except TimeoutError:
        raise budget.out_of_time() from None


class _TimedPattern:
    """A compiled ``regex`` pattern whose matching stops at the deadline (JSONata's engine API)."""

    def __init__(self, pattern: Any) -> None:
        self._pattern = pattern

    def search(self, string: str) -> Any:
        return _timed(self._pattern.search, string)

    def finditer(self, string: str) -> Iterator[Any]:
        budget, matches = _CURRENT.get(), _timed(self._pattern.finditer, string)
        return matches if budget is None else _stopping(matches, budget)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        return str(_timed(self._pattern.sub, repl, string, count))

    def split(self, string: str, maxsplit: int = 0) -> list[str]:
        return list(_timed(self._pattern.split, string, maxsplit))


def _timed_regex_engine(pattern: str, flags: RegexFlags) -> _TimedPattern:
    """jsonata-python's ``regex_engine``: the ``regex`` package, timed."""
    native = (regex.IGNORECASE if flags.case_insensitive else 0) | (regex.MULTILINE if flags.multiline else 0)
    return _TimedPattern(regex.compile(pattern, native))


class _TimedSearch(function_extensions.Search):
    """RFC 9535 ``search()``, stopped at the deadline (python-jsonpath compiles with ``regex``)."""

    def __call__(self, value: object, pattern: object) -> bool:
        if not isinstance(value, str) or not isinstance(pattern, str):
            return False
        compiled = self.check_cache(pattern)
        return compiled is not None and bool(_timed(compiled.search, value))


class _TimedMatch(function_extensions.Match):
    """RFC 9535 ``match()``, stopped at the deadline."""

    def __call__(self, value: object, pattern: object) -> bool:
        if not isinstance(value, str) or not isinstance(pattern, str):
            return False
        compiled = self.check_cache(pattern)
        return compiled is not None and bool(_timed(compiled.fullmatch, value))


class _Environment(jsonpath.JSONPathEnvironment):
    """RFC 9535 (strict) with timed ``match()`` and ``search()``."""

    def setup_function_extensions(self) -> None:
        super().setup_function_extensions()
        self.function_extensions["match"] = _TimedMatch()
        self.function_extensions["search"] = _TimedSearch()


_ENV: Final = _Environment(strict=True)
if not _ENV.regex_available:  # pragma: no cover - regex is a dependency
    raise ImportError("python-jsonpath must use the 'regex' package (pip install 'python-jsonpath[strict]')")


def _refuse_eval(*_: Any) -> None:
    raise BudgetExceeded(Budget.EVAL)


def compile_jsonata(expression: str, *, timed: bool = False) -> Any:
    """Compile JSONata (``jsonata.Jsonata``); raises on a syntax error.

    ``timed``: regex literals run on the ``regex`` package, stopped at the deadline (in the
    worker). Otherwise they are compiled by ``re`` (which, unlike ``regex``, compiles nested
    repeats such as ``(((a{50}){50}){50}){50}`` without expanding them).
    """
    if timed:
        compiled = jsonata.Jsonata(expression, regex_engine=_timed_regex_engine)
    else:
        compiled = jsonata.Jsonata(expression)
    compiled.register_lambda("eval", _refuse_eval)
    return compiled


def compile_jsonpath(expression: str) -> Any:
    """Compile an RFC 9535 query (``jsonpath.JSONPath``); raises ``jsonpath.JSONPathError``."""
    return _ENV.compile(expression)


def _plain(value: Any) -> Any:
    """jsonata-python's list/dict subclasses → plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _outcome(
    run: Callable[[Any, Any, Budget | None], Outcome], what: Any, data: Any, budget: Budget | None
) -> Outcome:
    """``run(what, data, budget)`` with ``budget`` current; every failure becomes an :class:`Outcome`."""
    token = None if budget is None else _CURRENT.set(budget)
    try:
        found = run(what, data, budget)
        if budget is not None and found.found:
            budget.check_result(found.value)
        return found
    except BudgetExceeded as exc:
        return Outcome(exceeded=exc.rule)
    except RecursionError:
        return Outcome(exceeded=Budget.DEPTH)
    except MemoryError:
        return Outcome(exceeded=Budget.MEMORY)
    except Exception as exc:
        return Outcome(error=str(exc).strip() or type(exc).__name__)
    finally:
        if token is not None:
            _CURRENT.reset(token)


def _run_jsonata(compiled: Any, data: Any, budget: Budget | None) -> Outcome:
    if isinstance(compiled, str):
        compiled = _timed_jsonata(compiled)
    bindings: dict[str, Any] = {}  # not None: jsonata-python then gives this call a frame of its own
    if budget is not None:
        bindings = {"__evaluate_entry": budget.on_entry, "__evaluate_exit": budget.on_exit}
        jsonata.Jsonata.CURRENT.jsonata = compiled  # (the worker has one thread) for $now()'s timestamp
    value = compiled.evaluate(data, bindings)
    return Outcome() if value is None else Outcome(_plain(value), True)


def _run_jsonpath(path: Any, data: Any, budget: Budget | None) -> Outcome:
    if isinstance(path, str):
        path = _cached_jsonpath(path)
    if budget is None:
        found = path.findall(data)
    else:
        found = []
        for match in path.finditer(data):
            found.append(match.obj)
            budget.remaining()
            budget.check(found)
    if not found:
        return Outcome()
    return Outcome(found[0] if path.singular_query() else found, True)


def evaluate_jsonata(compiled: Any, data: Any, budget: Budget | None = None) -> Outcome:
    """Evaluate compiled JSONata over ``data`` in a frame of its own; undefined is not ``found``."""
    return _outcome(_run_jsonata, compiled, data, budget)


def evaluate_jsonpath(path: Any, data: Any, budget: Budget | None = None) -> Outcome:
    """Select with a compiled query: a singular query gives its one value, others a list."""
    return _outcome(_run_jsonpath, path, data, budget)


@functools.lru_cache(maxsize=256)
def _timed_jsonata(expression: str) -> Any:
    return compile_jsonata(expression, timed=True)


@functools.lru_cache(maxsize=256)
def _cached_jsonpath(expression: str) -> Any:
    return compile_jsonpath(expression)


def evaluate(kind: str, expression: str, data: Any, budget: Budget) -> Outcome:
    """Compile (cached; a syntax error is an outcome too) and evaluate under ``budget``.

    What the worker does with a request.
    """
    return _outcome(_run_jsonata if kind == JSONATA else _run_jsonpath, expression, data, budget)
