"""Shared vocabulary of the key-policy checks: element names, JSONPath helpers, globs.

Pure helpers used by :mod:`~http_task_kms.kms.policy.lint`,
:mod:`~http_task_kms.kms.policy.lockout` and :mod:`~http_task_kms.kms.policy.diff`.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from pydantic import BaseModel, ConfigDict

from ...plugins.types import Severity

__all__ = [
    "CONDITION_OPERATORS",
    "POLICY_ELEMENTS",
    "PRINCIPAL_TYPES",
    "STATEMENT_ELEMENTS",
    "Finding",
    "Severity",
    "as_list",
    "child_path",
    "condition_operator_base",
    "did_you_mean",
    "glob_match",
    "has_condition",
    "indexed_statements",
    "is_object",
    "item_path",
    "iter_statements",
    "json_type",
    "make_finding",
    "statement_label",
    "statement_path",
    "string_items",
]

#: Elements allowed at the top of a policy document.
POLICY_ELEMENTS = ("Version", "Id", "Statement")
#: Elements allowed in a statement.
STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
#: Keys allowed in a ``Principal`` / ``NotPrincipal`` object.
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
#: The IAM condition operators, without ``ForAllValues:``/``ForAnyValue:`` or ``IfExists``.
CONDITION_OPERATORS = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
)


class Finding(BaseModel):
    """One problem in a key policy.

    ``path`` is a JSONPath into the document (``$.Statement[2].Principal``), ``$`` for the
    whole document or its text.
    """

    model_config = ConfigDict(frozen=True)

    severity: Severity
    code: str
    message: str
    path: str


_SET_PREFIXES = ("ForAllValues:", "ForAnyValue:")
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def child_path(path: str, key: str | int) -> str:
    """JSONPath of ``key`` (a member name or list index) under ``path``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER_RE.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """Whether ``value`` is a JSON object (a mapping; a ``dict`` is told at once, without the ABC)."""
    return type(value) is dict or isinstance(value, Mapping)


def as_list(value: Any) -> list[Any]:
    """A policy value that may be one item or a list, as a list (``None`` → ``[]``)."""
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def iter_statements(policy: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(JSONPath, statement)`` pairs; a single statement object is allowed."""
    return [(statement_path(index), item) for index, item in indexed_statements(policy)]


def indexed_statements(policy: Mapping[str, Any]) -> list[tuple[int | None, Any]]:
    """``(index, statement)`` pairs, index None for a single statement object (see :func:`statement_path`)."""
    statement = policy.get("Statement")
    if isinstance(statement, list):
        return list(enumerate(statement))
    if is_object(statement):
        return [(None, statement)]
    return []


def statement_path(index: int | None) -> str:
    """The JSONPath of a statement of :func:`indexed_statements`."""
    return "$.Statement" if index is None else f"$.Statement[{index}]"


def statement_label(statement: Mapping[str, Any], path: str) -> str:
    """How a message names a statement: its Sid and path, or just its path."""
    sid = statement.get("Sid")
    if isinstance(sid, str) and sid:
        return f'"{sid}" ({path})'
    return path


def has_condition(statement: Mapping[str, Any]) -> bool:
    """Whether the statement carries a non-empty ``Condition``."""
    return bool(statement.get("Condition"))


@functools.lru_cache(maxsize=1024)
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = ["." if char == "?" else ".*" if char == "*" else re.escape(char) for char in pattern]
    return re.compile("".join(parts), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def glob_match(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM-style wildcard match: ``*`` is any run of characters, ``?`` one character."""
    return _glob_regex(pattern, ignore_case).fullmatch(value) is not None


def condition_operator_base(operator: str) -> str | None:
    """The base operator of ``operator`` if it is a valid IAM condition operator, else None.

    ``ForAnyValue:StringLikeIfExists`` → ``StringLike``. ``Null`` takes no ``IfExists``.
    """
    base = operator
    for prefix in _SET_PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix) :]
            break
    if base.endswith("IfExists") and base != "IfExists":
        base = base[: -len("IfExists")]
        if base == "Null":
            return None
    return base if base in CONDITION_OPERATORS else None


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type (``object``, ``array``, ``string``...)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object"


def did_you_mean(value: str, choices: tuple[str, ...] | frozenset[str]) -> str:
    """A hint sentence naming the choice closest to ``value``, or ``""`` if none is close."""
    lowered = {choice.lower(): choice for choice in choices}
    if value.lower() in lowered:
        return f' Did you mean "{lowered[value.lower()]}" (names are case-sensitive)?'
    close = difflib.get_close_matches(value, sorted(choices), n=1)
    return f' Did you mean "{close[0]}"?' if close else ""


def make_finding(severity: Severity, code: str, path: str, message: str) -> Finding:
    """Shorthand for a :class:`Finding`."""
    return Finding(severity=severity, code=code, path=path, message=message)


_IS_STR = str.__instancecheck__  # isinstance(x, str), for map() (a loop in C)


def string_items(value: Any) -> list[str] | tuple[str] | None:
    """The items of a string-or-list-of-strings element, or None if ``value`` is not one.

    (See :func:`item_path` for where each item is.)
    """
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(map(_IS_STR, value)):
        return value
    return None


def item_path(path: str, value: str | list[str], index: int) -> str:
    """JSONPath of item ``index`` of the string-or-list element ``value`` at ``path``.

    Built only for a finding: paths are not made for the items nothing is said about.
    """
    return path if isinstance(value, str) else f"{path}[{index}]"
