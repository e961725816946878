"""What goes on the wire decides what a request is — never a template id or a document's word.

A request's operation is its ``X-Amz-Target`` header exactly as it will be sent, signed
for its signing name. :class:`Operations` knows every operation the plugins and the
``--spec`` document describe; :func:`operation_problems` refuses a target that would
reach a known operation while escaping its checks: one that differs from it only by
surrounding whitespace or letter case, or — for a service we know — one that names none of
its operations (unless the operator allows that). :func:`header_problems` refuses headers
that are not what HTTP sends verbatim: invalid names, control characters, non-Latin-1
values, and two names that differ only in case (which one a server reads is anyone's guess).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import Problem
from .template import TaskTemplate

__all__ = [
    "TARGET_HEADER",
    "Operations",
    "header_field",
    "header_problems",
    "header_value",
    "operation_problems",
]

TARGET_HEADER = "X-Amz-Target"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: Anything a header value may not hold: a control character (CR, LF and NUL among them) or
#: a character beyond Latin-1.
_NOT_SENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]")


def header_field(name: str) -> str:
    """The problem field of a task header."""
    return f"httpRequest.headers.{name}"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The value of a header, by case-insensitive name (the first, when names repeat)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


class Operations:
    """Every known operation, by its exact ``X-Amz-Target``.

    ``trusted`` are the installed plugins' templates: their spelling of a target is the
    right one. ``preferred`` (a ``--spec`` document's) win for a target they spell the same
    way — a newer description of the same operation — but a target of theirs that only
    respells a trusted one, or has surrounding whitespace, is not an operation: it is how a
    hostile document would escape the checks.
    """

    def __init__(self, trusted: Iterable[TaskTemplate], preferred: Iterable[TaskTemplate] = ()) -> None:
        trusted = list(trusted)
        spelled = {_fold(t.target): t.target for t in trusted}
        self._by_target: dict[str, TaskTemplate] = {}
        for template in [*preferred, *trusted]:
            target = template.target
            if target != target.strip() or spelled.setdefault(_fold(target), target) != target:
                continue
            self._by_target.setdefault(target, template)
        self._folded = spelled
        self.services = frozenset(t.signing_name for t in [*self._by_target.values(), *trusted])

    def template(self, target: str | None) -> TaskTemplate | None:
        """The template of exactly this target."""
        return self._by_target.get(target) if target is not None else None

    def respelled(self, target: str) -> str | None:
        """The known target that ``target`` spells with other case or surrounding whitespace."""
        known = self._folded.get(_fold(target))
        if known is not None and known != target:
            return known
        return target.strip() if target != target.strip() else None


def _fold(target: str) -> str:
    return target.strip().casefold()


def operation_problems(
    target: str | None, signing_name: str, operations: Operations, *, allow_unknown: bool
) -> list[Problem]:
    """Why this target must not be signed for ``signing_name`` and sent (empty: it may)."""
    field = header_field(TARGET_HEADER)
    if target is not None and operations.template(target) is not None:
        return []
    known = operations.respelled(target) if target is not None else None
    if known is not None:
        return [
            Problem(
                field=field,
                message=f"{target!r} is {known!r} spelled with other letter case or surrounding "
                f"whitespace; a service may read it as {known}, so it would skip that operation's "
                f"checks. Write it exactly as {known!r}",
            )
        ]
    if signing_name in operations.services and not allow_unknown:
        what = f"{target!r} names" if target is not None else "a request without it names"
        return [
            Problem(
                field=field,
                message=f"{what} no operation of {signing_name}, so none of its checks can run; "
                "check the spelling (`http-task-kms templates` lists them), or the operator may pass "
                "--allow-unknown-operation to send it unchecked",
            )
        ]
    return []


def header_problems(headers: Mapping[str, str]) -> list[Problem]:
    """Headers must be sent as written: HTTP token names, unique ignoring case, one-line Latin-1 values."""
    problems = []
    seen: dict[str, str] = {}
    for name, value in headers.items():
        field = header_field(name)
        if not _HEADER_NAME.fullmatch(name):
            problems.append(Problem(field=field, message="is not a valid HTTP header name"))
            continue
        if name.lower() in seen:
            first = seen[name.lower()]
            problems.append(
                Problem(
                    field=header_field(first),
                    message=f"is given twice, as {first!r} and {name!r} (header names ignore case); "
                    "which one a server reads is undefined: keep one",
                )
            )
        seen.setdefault(name.lower(), name)
        problems += _value_problems(field, value)
    return problems


def _value_problems(field: str, value: str) -> list[Problem]:
    if _NOT_SENDABLE.search(value) is None:
        return []
    if any(c in value for c in "\r\n\0"):
        return [Problem(field=field, message="must be one line (no CR, LF or NUL)")]
    if _CONTROL.search(value):
        code = ord(_CONTROL.search(value).group())  # type: ignore[union-attr]
        return [Problem(field=field, message=f"holds the control character U+{code:04X}")]
    bad = next((c for c in value if ord(c) >= 256), None)
    if bad is not None:
        return [
            Problem(
                field=field,
                message=f"holds U+{ord(bad):04X}; HTTP header "
                "values must be Latin-1 (percent- or base64-encode other text)",
            )
        ]
    return []
