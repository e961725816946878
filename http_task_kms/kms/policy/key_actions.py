"""The KMS actions a key-policy statement grants on a key, for the access diff (:mod:`.access`).

``Action`` and ``NotAction`` are expanded through the IAM data file (:mod:`.iam`): IAM globs,
case-insensitive; ``NotAction`` is every KMS action authorised on a key except those listed;
only actions authorised on a key count. :func:`on_key` says whether a statement's
``Resource`` (or ``NotResource``) can be the key. Each pattern's expansion is remembered
(bounded); :class:`KeyActions` remembers an action list's for one access diff only.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from . import iam
from .arns import parse_arn
from .model import as_list, glob_match

__all__ = ["KeyActions", "every_key_action", "named_key_actions", "on_key"]

_IS_STR = str.__instancecheck__  # isinstance(x, str), for filter() (a loop in C)


@functools.cache
def _key_actions() -> tuple[str, ...]:
    reference = iam.load()
    return tuple(name for name, action in reference.actions.items() if action.on_key)


@functools.lru_cache(maxsize=4096)
def _expand(pattern: str) -> frozenset[str]:
    return frozenset(iam.expand(pattern)) & frozenset(_key_actions())


@functools.cache
def every_key_action() -> frozenset[str]:
    return frozenset(_key_actions())


def named_key_actions(element: Any) -> frozenset[str]:
    """The key actions an ``Action`` or ``NotAction`` element names (non-strings are skipped)."""
    if isinstance(element, str):  # one pattern (most often): its expansion as it is
        return _expand(element)
    patterns = filter(_IS_STR, element) if type(element) is list else filter(_IS_STR, as_list(element))
    return frozenset().union(*map(_expand, patterns))


class KeyActions:
    """The key actions of the action lists of one access diff, each worked out once for both policies.

    (A list of patterns repeats: key users' statements share one, and most statements of the
    new policy are the current one's. Kept for one call only, as many as its statements.)
    """

    def __init__(self) -> None:
        self._named: dict[tuple[str, ...], frozenset[str]] = {}
        self._grants: dict[frozenset[str], dict[str, tuple[str, ...]]] = {}

    def named(self, element: Any) -> frozenset[str]:
        """:func:`named_key_actions` of an ``Action`` or ``NotAction`` element, remembered by its patterns."""
        if type(element) is not list:
            return named_key_actions(element)
        try:
            key = tuple(element)  # what is not a string is skipped: 1 and True may share a key
            found = self._named.get(key)
        except TypeError:  # an object or a list among the patterns (skipped too)
            return named_key_actions(element)
        if found is None:
            found = self._named[key] = named_key_actions(element)
        return found

    def of(self, statement: Mapping[str, Any]) -> frozenset[str]:
        """The key actions a statement's ``Action`` (or every key action but its ``NotAction``) names."""
        if "Action" in statement:
            return self.named(statement["Action"])
        if "NotAction" in statement:
            return every_key_action() - self.named(statement["NotAction"])
        return frozenset()

    def unconditional(self, actions: frozenset[str]) -> dict[str, tuple[str, ...]]:
        """``{action: ()}`` for each of ``actions`` (to be read, never changed)."""
        found = self._grants.get(actions)
        if found is None:
            found = self._grants[actions] = dict.fromkeys(actions, ())
        return found


def _can_be_key(pattern: str, key_arn: str | None) -> bool:
    """Whether a Resource pattern can name the key (without its ARN: any KMS key ARN pattern)."""
    if pattern == "*":
        return True
    if key_arn is not None:
        return glob_match(pattern, key_arn, ignore_case=False)
    parsed = parse_arn(pattern)
    if parsed is None:
        return "*" in pattern or "?" in pattern  # arn:* and the like
    return glob_match(parsed.service, "kms", ignore_case=False) and (
        parsed.resource.startswith("key/") or parsed.resource[0] in "*?"
    )


def on_key(statement: Mapping[str, Any], key_arn: str | None) -> bool:
    """Whether the statement's Resource can be this key (or its NotResource does not exclude it)."""
    if "Resource" in statement:
        if statement["Resource"] == "*":  # the most common Resource by far
            return True
        patterns = [p for p in as_list(statement["Resource"]) if isinstance(p, str)]
        return any(_can_be_key(pattern, key_arn) for pattern in patterns)
    if "NotResource" in statement:
        patterns = [p for p in as_list(statement["NotResource"]) if isinstance(p, str)]
        return not any(p == "*" or (key_arn and glob_match(p, key_arn, ignore_case=False)) for p in patterns)
    return False
