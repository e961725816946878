"""Strict JSON: what every parser here uses for text from outside.

Python's :func:`json.loads` accepts ``NaN`` and ``Infinity`` (not JSON) and raises
RecursionError on deeply nested input. :func:`loads` turns both into
:class:`json.JSONDecodeError`, and refuses nesting deeper than :data:`MAX_DEPTH`, so that
what parses here also prints, redacts and serialises without surprises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

__all__ = ["MAX_DEPTH", "dumps", "loads"]

#: Deepest nesting accepted (key policies and AWS answers are a few levels deep).
MAX_DEPTH: Final = 100


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 0)]  # iterative: the value may be nested thousands deep
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def loads(text: str, *, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """Parse strict JSON; raise :class:`json.JSONDecodeError` for anything else."""
    try:
        value = json.loads(text, object_pairs_hook=object_pairs_hook, parse_constant=_no_constant)
    except RecursionError:
        raise json.JSONDecodeError(f"nested more than {MAX_DEPTH} levels deep", text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # from _no_constant
        name = str(exc).split(" ", 1)[0]
        raise json.JSONDecodeError(str(exc), text, max(text.find(name), 0)) from None
    if _too_deep(value, MAX_DEPTH):
        raise json.JSONDecodeError(f"nested more than {MAX_DEPTH} levels deep", text, 0)
    return value


def dumps(value: Any) -> str:
    """Compact JSON; raises ValueError for NaN, infinities and too-deep nesting."""
    if _too_deep(value, MAX_DEPTH):
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
