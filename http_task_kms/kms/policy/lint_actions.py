"""The action rules of :func:`~http_task_kms.kms.policy.lint.lint_policy`, from the IAM reference.

A key policy grants IAM actions, and those are listed in the IAM service authorization
reference (:mod:`.iam`, the committed ``iam-kms.json``), not in botocore's operation names:
``kms:ReEncrypt`` is an operation whose permissions are ``kms:ReEncryptFrom`` and
``kms:ReEncryptTo``, so a statement naming it grants nothing (UNKNOWN_KMS_ACTION). An action
the reference lists with no resource type (``kms:CreateKey``, ``kms:ListAliases``,
``kms:GenerateRandom``, the custom key store actions …) is authorised only on ``"*"`` in an
IAM policy, so a key policy cannot grant it (ACTION_NOT_ON_KEY).

:func:`statement_actions` (the KMS actions a statement's Action or NotAction covers) is
shared with the condition-key rules; :func:`covers_put_key_policy` (whether it covers
``kms:PutKeyPolicy``) with the manageability and lockout checks. Look-ups are memoised per
action pattern (never per element or statement): policies repeat their patterns, and the
reference never changes in a process. A statement's patterns are looked up together
(:func:`action_problems`), so that a statement of patterns already seen clean costs one set
comparison.

The finding codes are documented in :mod:`http_task_kms.kms.policy.lint`.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection, Mapping
from typing import Any

from . import iam
from .model import Severity, as_list, string_items

__all__ = [
    "action_problem",
    "action_problems",
    "all_actions",
    "covers_put_key_policy",
    "matching_actions",
    "statement_actions",
]

_WILDCARDS = ("*", "?")
#: The access-control guide's list of what a key policy cannot grant, cited in messages.
_KEY_RESOURCE_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html"


@functools.cache
def all_actions() -> frozenset[str]:
    """Every KMS IAM action, as AWS spells it (``kms:ReEncryptFrom``)."""
    return frozenset(iam.load().actions)


@functools.lru_cache(maxsize=4096)
def matching_actions(pattern: str) -> frozenset[str]:
    """The KMS actions an Action pattern matches (``*``, ``kms:*``, ``kms:Get*``; any case)."""
    return frozenset(iam.expand(pattern))


def statement_actions(statement: Mapping[str, Any]) -> frozenset[str]:
    """The KMS actions a statement's Action (or everything but its NotAction) covers."""
    if "Action" in statement:
        element, inverted = statement["Action"], False
    elif "NotAction" in statement:
        element, inverted = statement["NotAction"], True
    else:
        return frozenset()
    if isinstance(element, str):
        return _covered((element,), inverted)
    return _covered(tuple([item for item in as_list(element) if isinstance(item, str)]), inverted)


@functools.lru_cache(maxsize=4096)
def _covered(patterns: tuple[str, ...], inverted: bool) -> frozenset[str]:
    matched = frozenset().union(*(matching_actions(item) for item in patterns))
    return all_actions() - matched if inverted else matched


@functools.cache
def _lower_names() -> Mapping[str, str]:
    return {name.lower(): name for name in all_actions()}


@functools.cache
def _off_key() -> frozenset[str]:
    """The actions no key policy can grant: authorised on no resource type, only on ``"*"``."""
    return frozenset(name for name, action in iam.load().actions.items() if not action.on_key)


#: A finding without its path: (severity, code, message).
_Problem = tuple[Severity, str, str]
#: At most this many patterns, of at most _MEMO_LENGTH characters, are remembered in each memo
#: below: they come from untrusted input (IAM action names are under 50 characters).
_MEMO_SIZE = 4096
_MEMO_LENGTH = 128
#: Patterns known to need no finding in an Action element.
_CLEAN: set[str] = set()
#: Patterns known to match kms:PutKeyPolicy, and known not to.
_PUT: set[str] = set()
_NOT_PUT: set[str] = set()
_PUT_KEY_POLICY = "kms:PutKeyPolicy"


def action_problems(actions: Collection[str], negated: bool) -> list[tuple[int, _Problem]]:
    """``(index, problem)`` for each item of an Action (``negated`` False) or NotAction element's strings."""
    if not negated and _CLEAN.issuperset(actions):
        return []
    found = []
    for index, action in enumerate(actions):
        problem = action_problem(action, negated)
        if problem is not None:
            found.append((index, problem))
        elif not negated and len(_CLEAN) < _MEMO_SIZE and len(action) <= _MEMO_LENGTH:
            _CLEAN.add(action)
    return found


def _names_put_key_policy(patterns: Collection[str]) -> bool:
    for pattern in patterns:
        matched = _PUT_KEY_POLICY in matching_actions(pattern)
        memo = _PUT if matched else _NOT_PUT
        if len(memo) < _MEMO_SIZE and len(pattern) <= _MEMO_LENGTH:
            memo.add(pattern)
        if matched:
            return True
    return False


def _some_strings(value: Any) -> list[str]:
    """The strings of a list that holds other things too (none of anything else)."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def covers_put_key_policy(statement: Mapping[str, Any]) -> bool:
    """Whether the statement's Action (or everything but its NotAction) covers kms:PutKeyPolicy.

    The same as ``"kms:PutKeyPolicy" in statement_actions(statement)``, without building the
    set: items that are not strings are ignored, as there.
    """
    if "Action" in statement:
        value, negated = statement["Action"], False
    elif "NotAction" in statement:
        value, negated = statement["NotAction"], True
    else:
        return False
    items = string_items(value)
    patterns: Collection[str] = items if items is not None else _some_strings(value)
    if not _PUT.isdisjoint(patterns):
        return not negated
    if _NOT_PUT.issuperset(patterns):
        return negated
    return _names_put_key_policy(patterns) != negated


@functools.lru_cache(maxsize=4096)
def action_problem(action: str, negated: bool) -> _Problem | None:
    """What is wrong with one item of an Action (``negated`` False) or NotAction element, if anything.

    Memoised (policies repeat their actions); the finding's path is added by the caller.
    """
    if action == "*":
        return None
    service, colon, name = action.partition(":")
    if not colon or not service or not name or ":" in name:
        return (
            "ERROR",
            "INVALID_ACTION",
            f'Action "{action}" is not of the form service:Action; write e.g. '
            f'"kms:{action.rpartition(":")[2] or "Decrypt"}".',
        )
    if any(char in service for char in _WILDCARDS):
        return None
    if service.lower() != "kms":
        return (
            "WARNING",
            "NON_KMS_ACTION",
            f'Action "{action}" belongs to {service}, not KMS; a key policy controls '
            "only KMS operations on its key, so it has no effect here. Remove it or "
            "move it to an IAM policy.",
        )
    if any(char in name for char in _WILDCARDS):
        return _wildcard(action, negated=negated)
    known = _lower_names().get(action.lower())
    if known is None:
        return _unknown(action)
    if not negated and known in _off_key():
        return _not_on_key(f'"{action}" is')
    return None


def _wildcard(action: str, *, negated: bool) -> _Problem | None:
    matched = matching_actions(action)
    if not matched:
        return (
            "ERROR",
            "KMS_WILDCARD_MATCHES_NOTHING",
            f'"{action}" matches no KMS action. Check the spelling of the prefix, or '
            "list the actions explicitly.",
        )
    if not negated and matched <= _off_key():
        names = ", ".join(sorted(matched))
        return _not_on_key(f'"{action}" matches only {names}, which are')
    return None


@functools.cache
def _operations_lower() -> Mapping[str, tuple[str, tuple[str, ...]]]:
    """Lower-cased operation → (operation, its actions), for operations that are not actions."""
    return {op.lower(): (op, actions) for op, actions in iam.OPERATION_ACTIONS.items()}


def _not_on_key(subject: str) -> _Problem:
    return (
        "WARNING",
        "ACTION_NOT_ON_KEY",
        f"{subject} not authorised on a KMS key (the IAM service authorization reference lists "
        'no resource type for it: only "*" in an IAM policy), so a key policy cannot grant '
        f"it and this has no effect. Grant it in an IAM policy instead (see {_KEY_RESOURCE_DOC}).",
    )


def _unknown(action: str) -> _Problem:
    operation = action.partition(":")[2]
    needed = _operations_lower().get(operation.lower())
    if needed:
        operation, actions = needed
        names = " and ".join(actions)
        return (
            "ERROR",
            "UNKNOWN_KMS_ACTION",
            f'"{action}" is an API operation, not an IAM action, so it grants nothing: the '
            f"{operation} operation needs {names}. Name those (or a pattern such as "
            f'"kms:{operation}*" that matches them).',
        )
    lowered = _lower_names()
    close = difflib.get_close_matches(action.lower(), sorted(lowered), n=1)
    hint = f' Did you mean "{lowered[close[0]]}"?' if close else ""
    return (
        "ERROR",
        "UNKNOWN_KMS_ACTION",
        f'"{action}" is not a KMS action in the IAM service authorization reference, so it '
        f"grants nothing.{hint}",
    )
