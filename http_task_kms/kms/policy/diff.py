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
from typing import Any, TypeGuard

from pydantic import BaseModel, ConfigDict

from ... import jsonutil
from .arns import ACCOUNT_ID_RE, account_root_arn
from .model import STATEMENT_ELEMENTS, as_list, indexed_statements, is_object, statement_path

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
_IS_STR = str.__instancecheck__  # isinstance(x, str), for map() (a loop in C)


def _is_account_id(value: Any) -> bool:
    return isinstance(value, str) and ACCOUNT_ID_RE.match(value) is not None


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


class _Partition:
    """A document's partition, found on first use (call it): only a bare account ID needs
    it, and most policies have none (finding it means writing the whole document as JSON).
    """

    __slots__ = ("_document", "_found")

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._found: str | None = None

    def __call__(self) -> str:
        if self._found is None:
            self._found = _partition(self._document)
        return self._found


def _is_str_list(value: Any) -> TypeGuard[list[str]]:
    return type(value) is list and all(map(_IS_STR, value))


def _sorted_set(value: Any, *, lower: bool = False) -> list[str]:
    if isinstance(value, str):  # one item (most often): the set of one
        return [value.lower() if lower else value]
    if _is_str_list(value):  # a list of strings (the rest of the time): no item to write as JSON
        return sorted({item.lower() for item in value} if lower else set(value))
    items = {item if isinstance(item, str) else json.dumps(item) for item in as_list(value)}
    return sorted({item.lower() for item in items} if lower else items)


def _copy(value: Any) -> Any:
    """A deep copy (an immutable scalar is its own copy, as :func:`copy.deepcopy` returns it)."""
    return value if value is None or isinstance(value, (str, bool, int, float)) else copy.deepcopy(value)


def _principal(value: Any, partition: _Partition) -> Any:
    if not isinstance(value, Mapping):
        return copy.deepcopy(value)
    result: dict[str, list[str]] = {}
    for kind in sorted(value):
        items = _sorted_set(value[kind])
        if kind == "AWS" and any(map(_is_account_id, items)):
            items = sorted({account_root_arn(v, partition()) if ACCOUNT_ID_RE.match(v) else v for v in items})
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
_ELEMENTS = frozenset(STATEMENT_ELEMENTS)


def _element_order(key: str) -> tuple[int, str]:
    return _ELEMENT_INDEX.get(key, len(STATEMENT_ELEMENTS)), key


def _ordered(statement: Mapping[str, Any]) -> list[str]:
    """The statement's element names in :data:`STATEMENT_ELEMENTS` order, then any other by name."""
    if statement.keys() <= _ELEMENTS:  # only known elements (most often): their index is the order
        return sorted(statement, key=_ELEMENT_INDEX.__getitem__)
    return sorted(statement, key=_element_order)


def _statement(statement: Mapping[str, Any], partition: _Partition) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in _ordered(statement):
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


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's statements as written; :class:`ValueError` for the first that is no object."""
    statements = []
    for index, statement in indexed_statements(document):
        if not is_object(statement):
            raise ValueError(f"{statement_path(index)} is not a statement object")
        statements.append(statement)
    return statements


def normalise_policy(policy: str | Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of ``policy`` (JSON text or parsed), as described in the module doc.

    ``Statement`` is always a list, sorted by content. Raises :class:`ValueError` if the
    text is not JSON, the document is not an object, or a statement is not an object.
    """
    document = _load(policy)
    partition = _Partition(document)
    result = {key: _copy(document[key]) for key in document if key != "Statement"}
    statements = [_statement(statement, partition) for statement in _statements(document)]
    result["Statement"] = sorted(statements, key=_canonical)
    return result


def _sid(statement: Mapping[str, Any]) -> str | None:
    sid = statement.get("Sid")
    return sid if isinstance(sid, str) and sid else None


#: A statement as written with its Sid (None when it has none, or not a non-empty string).
_WithSid = tuple[str | None, Mapping[str, Any]]


def _with_sids(statements: list[Mapping[str, Any]]) -> list[_WithSid]:
    return [(_sid(statement), statement) for statement in statements]


def _unique_sids(statements: list[_WithSid]) -> dict[str, Mapping[str, Any]]:
    """The statements whose Sid no other statement of the policy has, by Sid."""
    unique: dict[str, Mapping[str, Any]] = {}
    repeated: set[str] = set()
    for sid, statement in statements:
        if sid in unique:
            repeated.add(sid)
        elif sid is not None:
            unique[sid] = statement
    for sid in repeated:
        del unique[sid]
    return unique


def _plain_principal(value: Any) -> bool:
    """A principal of strings alone, with no bare account ID among its ``AWS`` values."""
    if type(value) is str:
        return True
    if type(value) is not dict or not all(map(_IS_STR, value)):
        return False
    for kind, items in value.items():
        if type(items) is str:
            if kind == "AWS" and ACCOUNT_ID_RE.match(items):
                return False
        elif not _is_str_list(items) or (kind == "AWS" and any(map(ACCOUNT_ID_RE.match, items))):
            return False
    return True


def _plain_condition(value: Any) -> bool:
    """A Condition of operator blocks mapping names to strings or lists of strings."""
    if type(value) is not dict or not all(map(_IS_STR, value)):
        return False
    for block in value.values():
        if type(block) is not dict or not all(map(_IS_STR, block)):
            return False
        if not all(type(values) is str or _is_str_list(values) for values in block.values()):
            return False
    return True


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two statements surely have the same normalised form, told without making it.

    Equal statements of plain shapes normalise alike: strings, lists of strings, principals
    of them (no bare account ID: its form takes each policy's partition), conditions of them.
    Anything else — a number, a boolean (``true`` = ``1`` to Python), a nested list — is
    left to the normalised forms (False).
    """
    if old != new or type(old) is not dict or not all(map(_IS_STR, old)):
        return False
    for key, value in old.items():
        if type(value) is str or _is_str_list(value):
            continue
        if key in _PRINCIPALS:
            if not _plain_principal(value):
                return False
        elif key != "Condition" or not _plain_condition(value):
            return False
    return True


def _without_sid(statement: Mapping[str, Any]) -> str:
    return _canonical({key: value for key, value in statement.items() if key != "Sid"})


def _plain(value: Any) -> bool:
    """None, a string, a list of strings, or an object of them: equal values as JSON only if equal."""
    if value is None or type(value) is str or _is_str_list(value):
        return True
    return (
        type(value) is dict
        and all(map(_IS_STR, value))
        and all(type(item) is str or _is_str_list(item) for item in value.values())
    )


_TOLD_AT_ONCE = ("Effect", "Principal", "Action", "NotAction", "Resource", "NotResource")


def _twins(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Whether the two normalised statements are the same but for their Sid.

    Two plain values (see :func:`_plain`) that differ show that at once: their JSON differs.
    """
    for key in _TOLD_AT_ONCE:
        mine, theirs = left.get(key), right.get(key)
        if mine != theirs and _plain(mine) and _plain(theirs):
            return False
    return _without_sid(left) == _without_sid(right)


#: A normalised statement with its canonical JSON.
_Keyed = tuple[str, dict[str, Any]]


def _multiset_difference(left: list[_Keyed], right: list[_Keyed]) -> list[dict[str, Any]]:
    remaining = Counter(key for key, _ in right)
    result = []
    for key, statement in left:
        if remaining[key]:
            remaining[key] -= 1
        else:
            result.append(statement)
    return result


def _top_level(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The changed top-level elements but ``Statement``: ``{"before": value, "after": value}``."""
    return {
        key: {"before": _copy(old.get(key)), "after": _copy(new.get(key))}
        for key in sorted((set(old) | set(new)) - {"Statement"})
        if old.get(key) != new.get(key)
    }


def _rest(statements: list[_WithSid], matched: set[str], partition: _Partition) -> list[_Keyed]:
    """The normalised statements not matched by Sid, with their canonical JSON, in its order."""
    found = [_statement(s, partition) for sid, s in statements if sid is None or sid not in matched]
    return sorted(((_canonical(statement), statement) for statement in found), key=_first)


def _first(pair: _Keyed) -> str:
    return pair[0]


def diff_policies(before: str | Mapping[str, Any], after: str | Mapping[str, Any]) -> PolicyDiff:
    """The difference between two policies after normalisation (see :func:`normalise_policy`).

    Only what the answer shows is normalised: two statements of one Sid that are equal as
    written and of plain shapes (see :func:`_same`) are not.
    """
    old_document = _load(before)
    old_statements = _with_sids(_statements(old_document))
    new_document = _load(after)
    new_statements = _with_sids(_statements(new_document))
    old_partition, new_partition = _Partition(old_document), _Partition(new_document)
    top_level = _top_level(old_document, new_document)
    old_sids, new_sids = _unique_sids(old_statements), _unique_sids(new_statements)
    modified: list[StatementChange] = []
    matched: set[str] = set()
    for sid in sorted(old_sids.keys() & new_sids.keys()):
        matched.add(sid)
        if _same(old_sids[sid], new_sids[sid]):
            continue
        was, now = _statement(old_sids[sid], old_partition), _statement(new_sids[sid], new_partition)
        if was != now:
            modified.append(StatementChange(sid=sid, before=was, after=now))
    old_rest = _rest(old_statements, matched, old_partition)
    new_rest = _rest(new_statements, matched, new_partition)
    removed = _multiset_difference(old_rest, new_rest)
    added = _multiset_difference(new_rest, old_rest)
    # The same statement under a new (or no) Sid: a modification, not a remove and an add.
    for gone in list(removed):
        twin = next((s for s in added if _twins(s, gone)), None)
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
