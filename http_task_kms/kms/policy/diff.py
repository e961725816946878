"""Compare two key policies by meaning, not by text.

:func:`normalise_policy` rewrites a policy into a canonical form in which these
differences disappear (each is a difference KMS or IAM does not care about):

- key order, whitespace, and the order of statements;
- a single string versus a list of one; duplicates and order inside a list of actions,
  resources, principals or condition values (compared as sorted sets);
- the case of action names (``KMS:decrypt`` = ``kms:Decrypt``; the normalised form is
  lower case) and of condition key names (also lower-cased);
- a bare account ID in an ``AWS`` principal versus the account's root ARN
  (``123456789012`` = ``arn:aws:iam::123456789012:root``, which is what KMS stores), in
  the partition the policy's other ARNs show (``aws`` when none do);
- a condition value written as a JSON boolean or number versus the same text as a string,
  and an empty ``Condition`` versus none.

:func:`diff_policies` matches statements by ``Sid`` when a Sid is unique on both sides
(same Sid, different content → *modified*), otherwise by normalised content (in one
policy only → *added* / *removed*; the same content under a new Sid → *modified*).
``Version``, ``Id`` and any other top-level element are compared too (``top_level``).
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from ... import jsonutil
from .arns import ACCOUNT_ID_RE, account_root_arn
from .model import STATEMENT_ELEMENTS, as_list, iter_statements

__all__ = [
    "PolicyDiff",
    "StatementChange",
    "diff_policies",
    "equivalent",
    "normalise_policy",
]

_PARTITION_RE = re.compile(r"arn:(aws(?:-[a-z]+)*):")
_LOWER_CASE_SETS = ("Action", "NotAction")
_SETS = ("Resource", "NotResource")
_PRINCIPALS = ("Principal", "NotPrincipal")


class StatementChange(BaseModel):
    """A statement present in both policies (matched by Sid) whose content differs."""

    model_config = ConfigDict(frozen=True)

    sid: str | None
    before: dict[str, Any]
    after: dict[str, Any]


class PolicyDiff(BaseModel):
    """What changed between two policies, in normalised form.

    ``top_level`` maps a changed top-level element (``Version``, ``Id``…) to
    ``{"before": value, "after": value}`` (``None`` where it is absent).
    """

    model_config = ConfigDict(frozen=True)

    changed: bool
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    modified: list[StatementChange]
    top_level: dict[str, dict[str, Any]]


def _load(policy: str | Mapping[str, Any]) -> Mapping[str, Any]:
    # Repeated keys are read last-wins here: the policy stored in KMS may have them (the new
    # one cannot: the linter refuses them), and a diff is for showing, not for deciding.
    document = jsonutil.loads(policy, allow_duplicate_keys=True) if isinstance(policy, str) else policy
    if not isinstance(document, Mapping):
        raise ValueError("a key policy must be a JSON object")
    return document


def _partition(document: Mapping[str, Any]) -> str:
    match = _PARTITION_RE.search(json.dumps(document))
    return match.group(1) if match else "aws"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _sorted_set(value: Any, *, lower: bool = False) -> list[str]:
    if isinstance(value, str):  # one item (most often): the set of one
        return [value.lower() if lower else value]
    items = {item if isinstance(item, str) else json.dumps(item) for item in as_list(value)}
    return sorted({item.lower() for item in items} if lower else items)


def _copy(value: Any) -> Any:
    """A deep copy (an immutable scalar is its own copy, as :func:`copy.deepcopy` returns it)."""
    return value if value is None or isinstance(value, (str, bool, int, float)) else copy.deepcopy(value)


def _principal(value: Any, partition: str) -> Any:
    if not isinstance(value, Mapping):
        return copy.deepcopy(value)
    result: dict[str, list[str]] = {}
    for kind in sorted(value):
        items = _sorted_set(value[kind])
        if kind == "AWS":
            items = sorted({account_root_arn(v, partition) if ACCOUNT_ID_RE.match(v) else v for v in items})
        result[kind] = items
    return result


def _condition(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return copy.deepcopy(value)
    result: dict[str, Any] = {}
    for operator in sorted(value):
        block = value[operator]
        if isinstance(block, Mapping):
            merged: dict[str, set[str]] = {}
            for key, values in block.items():
                merged.setdefault(str(key).lower(), set()).update(_sorted_set(values))
            result[operator] = {key: sorted(merged[key]) for key in sorted(merged)}
        else:
            result[operator] = copy.deepcopy(block)
    return result


_ELEMENT_INDEX = {key: index for index, key in enumerate(STATEMENT_ELEMENTS)}


def _element_order(key: str) -> tuple[int, str]:
    return _ELEMENT_INDEX.get(key, len(STATEMENT_ELEMENTS)), key


def _statement(statement: Mapping[str, Any], partition: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in sorted(statement, key=_element_order):
        value = statement[key]
        if key in _LOWER_CASE_SETS:
            result[key] = _sorted_set(value, lower=True)
        elif key in _SETS:
            result[key] = _sorted_set(value)
        elif key in _PRINCIPALS:
            result[key] = _principal(value, partition)
        elif key == "Condition":
            if value:
                result[key] = _condition(value)
        else:
            result[key] = _copy(value)
    return result


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def normalise_policy(policy: str | Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of ``policy`` (JSON text or parsed), as described in the module doc.

    ``Statement`` is always a list, sorted by content. Raises :class:`ValueError` if the
    text is not JSON, the document is not an object, or a statement is not an object.
    """
    document = _load(policy)
    partition = _partition(document)
    result = {key: _copy(document[key]) for key in document if key != "Statement"}
    statements: list[dict[str, Any]] = []
    for path, statement in iter_statements(document):
        if not isinstance(statement, Mapping):
            raise ValueError(f"{path} is not a statement object")
        statements.append(_statement(statement, partition))
    result["Statement"] = sorted(statements, key=_canonical)
    return result


def _sid(statement: Mapping[str, Any]) -> str | None:
    sid = statement.get("Sid")
    return sid if isinstance(sid, str) and sid else None


def _unique_sids(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    counts = Counter(_sid(statement) for statement in statements)
    return {
        sid: statement
        for statement in statements
        if (sid := _sid(statement)) is not None and counts[sid] == 1
    }


def _without_sid(statement: Mapping[str, Any]) -> str:
    return _canonical({key: value for key, value in statement.items() if key != "Sid"})


def _multiset_difference(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> list[dict[str, Any]]:
    remaining = Counter(_canonical(statement) for statement in right)
    result = []
    for statement in left:
        key = _canonical(statement)
        if remaining[key]:
            remaining[key] -= 1
        else:
            result.append(statement)
    return result


def diff_policies(before: str | Mapping[str, Any], after: str | Mapping[str, Any]) -> PolicyDiff:
    """The difference between two policies after normalisation (see :func:`normalise_policy`)."""
    old, new = normalise_policy(before), normalise_policy(after)
    top_level = {
        key: {"before": old.get(key), "after": new.get(key)}
        for key in sorted((set(old) | set(new)) - {"Statement"})
        if old.get(key) != new.get(key)
    }
    old_sids, new_sids = _unique_sids(old["Statement"]), _unique_sids(new["Statement"])
    modified: list[StatementChange] = []
    matched: set[str] = set()
    for sid in sorted(old_sids.keys() & new_sids.keys()):
        matched.add(sid)
        if old_sids[sid] != new_sids[sid]:
            modified.append(StatementChange(sid=sid, before=old_sids[sid], after=new_sids[sid]))
    old_rest = [s for s in old["Statement"] if _sid(s) not in matched]
    new_rest = [s for s in new["Statement"] if _sid(s) not in matched]
    removed = _multiset_difference(old_rest, new_rest)
    added = _multiset_difference(new_rest, old_rest)
    # The same statement under a new (or no) Sid: a modification, not a remove and an add.
    for gone in list(removed):
        twin = next((s for s in added if _without_sid(s) == _without_sid(gone)), None)
        if twin is not None:
            removed.remove(gone)
            added.remove(twin)
            modified.append(StatementChange(sid=_sid(twin) or _sid(gone), before=gone, after=twin))
    return PolicyDiff(
        changed=bool(added or removed or modified or top_level),
        added=added,
        removed=removed,
        modified=modified,
        top_level=top_level,
    )


def equivalent(before: str | Mapping[str, Any], after: str | Mapping[str, Any]) -> bool:
    """Whether the two policies mean the same after normalisation."""
    return not diff_policies(before, after).changed
