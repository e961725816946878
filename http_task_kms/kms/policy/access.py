"""Who gains and who loses access: an offline access diff between two key policies.

IAM Access Analyzer's CheckNoNewAccess answers "does the new policy grant new access?"
remotely; :func:`access_diff` answers "which principal gains or loses which KMS action, and
under which conditions?" here, before anything is sent. Each policy is reduced to its
*grants*, one per (principal, action), and the two sets are compared:

- ``gained`` — pairs only the new policy grants; ``lost`` — pairs only the current one grants
  (items ``{"principal", "action", "conditions", "deniedWhen"}``); ``changedConditions`` —
  pairs both grant under different conditions (``{"principal", "action", "before", "after"}``,
  each side ``{"conditions", "deniedWhen"}``).
  With no current policy (a new key, or one GetKeyPolicy could not read) ``gained`` lists all
  access the new policy grants and ``previousKnown`` says whether there was a policy to compare.
- **Principals as written**, normalised only where IAM sees one principal: ``"*"`` and
  ``{"AWS": "*"}`` are ``"*"``; an account ID is its root ARN
  (``111122223333`` = ``arn:aws:iam::111122223333:root``, in the key's partition, else the one
  the policies show, else ``aws``); other ``AWS`` values are their ARN text;
  ``{"Service": "logs.amazonaws.com"}`` (and ``Federated``, ``CanonicalUser``) keep their
  type. An Allow with ``NotPrincipal`` (which AWS does not support) grants to the principal
  ``{"NotPrincipal": {…}}``, as written.
- **Actions**: ``Action`` and ``NotAction`` are expanded through the IAM data file
  (:mod:`.iam`): IAM globs (``kms:Get*``, ``kms:*``, ``*``), case-insensitive; ``NotAction``
  is every KMS action authorised on a key except those listed. Only actions authorised on a
  key count: ``kms:CreateKey`` in a key policy grants nothing. A statement counts only when
  its ``Resource`` can be this key (``*``; with ``key_arn``, a pattern matching it; without,
  any pattern that can be a KMS key's ARN) or its ``NotResource`` does not exclude it.
- **Conditions**: ``conditions`` is the list of the ``Condition`` blocks of the statements
  that grant the pair — access when *any* of them holds; ``[]`` means unconditional (an
  unconditioned grant makes the pair unconditional, whatever else grants it). Blocks are
  normalised as in :mod:`.diff`: condition key names lower-cased, values as sorted unique
  strings.
- **Deny**: an unconditioned Deny whose principal covers the grant's (the same principal,
  ``"*"``, or the root of the grant principal's account) removes the pair; a conditioned one
  keeps it and adds its block to ``deniedWhen`` — access is denied whenever *any* block of
  ``deniedWhen`` holds. A Deny with ``NotPrincipal`` applies to the grants of principals it
  does not list; on a grant to ``"*"`` it is a ``deniedWhen`` block with a ``NotPrincipal``
  member (denied for everyone but those). A Deny naming a narrower principal than the
  grant's (one role of an account granted as a whole) is not shown on that grant.
- ``summary`` counts, per principal, the actions gained and lost and the pairs whose
  conditions changed (``kms:*`` alone gives one entry per key action, 47 today).

Every list is sorted by principal (``"*"``, then ``AWS`` ARNs, then the other types by type
name and value), then action: the same policies give the same JSON. Pure and fast: no
pydantic, no I/O, each pattern's expansion cached, no object per (principal, action) until
the output (a 32 KB policy of the tests: about 20 ms, its JSON included).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ... import jsonutil
from .arns import is_key_arn
from .grantees import (
    ANY,
    Partition,
    Principal,
    account_of,
    not_principal_json,
    principal_json,
    principals_of,
    root_accounts,
)
from .key_actions import KeyActions, on_key
from .model import as_list, indexed_statements, is_object

__all__ = ["AccessDiff", "Grant", "access_diff", "access_json"]


class Grant(NamedTuple):
    """One (principal, action) a policy grants: when (``conditions``) and when denied.

    A named tuple rather than a dataclass: a 32 KB policy can make thousands of them.
    """

    principal: Principal
    action: str
    conditions: tuple[str, ...]  # canonical JSON blocks, sorted; () = unconditional
    denied_when: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """``{"principal", "action", "conditions", "deniedWhen"}``."""
        return {
            "principal": principal_json(self.principal),
            "action": self.action,
            "conditions": list(map(json.loads, self.conditions)),  # fresh objects
            "deniedWhen": list(map(json.loads, self.denied_when)),
        }

    def terms(self) -> dict[str, Any]:
        """``{"conditions": [...], "deniedWhen": [...]}`` as JSON objects."""
        return {
            "conditions": list(map(json.loads, self.conditions)),  # fresh objects
            "deniedWhen": list(map(json.loads, self.denied_when)),
        }


@dataclass(frozen=True)
class AccessDiff:
    """The access gained, lost and re-conditioned between two policies (see the module doc)."""

    previous_known: bool
    gained: tuple[Grant, ...]
    lost: tuple[Grant, ...]
    changed: tuple[tuple[Grant, Grant], ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The result's ``access`` field."""
        return {
            "previousKnown": self.previous_known,
            "gained": [grant.as_json() for grant in self.gained],
            "lost": [grant.as_json() for grant in self.lost],
            "changedConditions": [
                {
                    "principal": principal_json(before.principal),
                    "action": before.action,
                    "before": before.terms(),
                    "after": after.terms(),
                }
                for before, after in self.changed
            ],
            "summary": self._summary(),
        }

    def _summary(self) -> list[dict[str, Any]]:
        counts: dict[Principal, list[int]] = {}
        lists = (self.gained, self.lost, tuple(after for _, after in self.changed))
        for index, grants_ in enumerate(lists):
            for grant in grants_:
                counts.setdefault(grant.principal, [0, 0, 0])[index] += 1
        return [
            {"principal": principal_json(p), "gained": c[0], "lost": c[1], "changedConditions": c[2]}
            for p, c in sorted(counts.items(), key=lambda item: item[0])
        ]


# -- principals ------------------------------------------------------------------------


# -- conditions ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _block(condition: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """A Condition block in canonical JSON (key names lower-cased, values sorted and unique)."""
    block: dict[str, Any] = dict(extra or {})
    for operator, keys in condition.items():
        if not isinstance(keys, Mapping):
            block[str(operator)] = keys
            continue
        merged: dict[str, set[str]] = {}
        for key, values in keys.items():
            merged.setdefault(str(key).lower(), set()).update(_text(v) for v in as_list(values))
        block[str(operator)] = {key: sorted(values) for key, values in merged.items()}
    return json.dumps(block, sort_keys=True, separators=(",", ":"))


# -- one policy's grants ------------------------------------------------------------------

_REMOVES = "removes"
#: Per principal, per action: the sorted canonical blocks (``()``: unconditional). Nested
#: dicts and shared tuples rather than an object per pair: a 32 KB policy makes thousands.
_Table = dict[Principal, dict[str, tuple[str, ...]]]


@dataclass(frozen=True)
class _Deny:
    """A Deny statement: whom it names (or excludes) and its condition block (None: none)."""

    principals: frozenset[Principal]
    excluded: frozenset[Principal] | None  # a NotPrincipal Deny: everyone but these
    block: str | None
    public_block: str | None = None  # a NotPrincipal Deny on a grant to "*"
    roots: frozenset[str] = frozenset()  # the accounts whose root it names: it covers their principals

    def verdict(self, grantee: Principal) -> str | None:
        """:data:`_REMOVES`, a ``deniedWhen`` block, or None when the Deny does not apply.

        It applies to the principals it names, to every principal for ``"*"``, and to the
        principals of an account whose root it names; a NotPrincipal Deny to all others.
        """
        if self.excluded is not None:
            if grantee in self.excluded or ANY in self.excluded:
                return None
            if grantee == ANY:
                return self.public_block
        elif not (
            grantee in self.principals
            or ANY in self.principals
            or (self.roots and account_of(grantee) in self.roots)
        ):
            return None
        return _REMOVES if self.block is None else self.block


@dataclass(frozen=True)
class _Access:
    """What one policy grants: ``allowed`` conditions and ``denied`` blocks per principal and action."""

    allowed: _Table
    denied: _Table

    def grant(self, principal: Principal, action: str) -> Grant:
        """The :class:`Grant` of a pair this policy grants."""
        denied = self.denied.get(principal, {}).get(action, ())
        return Grant(principal, action, self.allowed[principal][action], denied)

    def grants(self, principal: Principal, actions: list[str]) -> list[Grant]:
        """The :class:`Grant` of each of ``actions`` to ``principal`` (pairs this policy grants)."""
        if not actions:
            return []
        table, denied = self.allowed[principal], self.denied.get(principal, {})
        return [Grant(principal, action, table[action], denied.get(action, ())) for action in actions]

    def when(self, principal: Principal, action: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The conditions and deny blocks of a pair this policy grants (to compare two policies)."""
        return self.allowed[principal][action], self.denied.get(principal, {}).get(action, ())


def _statements(document: Mapping[str, Any], key_arn: str | None) -> Iterator[Mapping[str, Any]]:
    for _, statement in indexed_statements(document):
        if not is_object(statement) or statement.get("Effect") not in ("Allow", "Deny"):
            continue
        condition = statement.get("Condition")
        if condition is not None and not isinstance(condition, Mapping):
            continue  # KMS refuses it; the lint reports it
        if on_key(statement, key_arn):
            yield statement


def _grantees(statement: Mapping[str, Any], partition: Partition) -> set[Principal]:
    if "Principal" in statement:
        return principals_of(statement["Principal"], partition)
    if "NotPrincipal" in statement and statement["NotPrincipal"] != "*":
        excluded = principals_of(statement["NotPrincipal"], partition)
        return {("NotPrincipal", json.dumps(not_principal_json(excluded), sort_keys=True))}
    return set()


def _deny(statement: Mapping[str, Any], partition: Partition) -> _Deny | None:
    condition = statement.get("Condition") or {}
    block = _block(condition) if condition else None
    if "Principal" in statement:
        named = frozenset(principals_of(statement["Principal"], partition))
        return _Deny(named, None, block, roots=root_accounts(named))
    if "NotPrincipal" not in statement:
        return None  # KMS refuses a statement without a principal
    excluded = principals_of(statement["NotPrincipal"], partition)
    public = _block(condition, {"NotPrincipal": not_principal_json(excluded)})
    return _Deny(frozenset(), frozenset(excluded), block, public)


class _Union:
    """Sorted unions of condition blocks, each made once (shared by every pair that has it)."""

    def __init__(self) -> None:
        self._made: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}

    def add(self, blocks: tuple[str, ...], block: str) -> tuple[str, ...]:
        if block in blocks:
            return blocks
        key = (blocks, block)
        if key not in self._made:
            self._made[key] = tuple(sorted((*blocks, block)))
        return self._made[key]


def _allow(
    allowed: _Table,
    statement: Mapping[str, Any],
    principals: set[Principal],
    union: _Union,
    known: KeyActions,
) -> None:
    actions = known.of(statement)
    if not statement.get("Condition"):
        unconditional = known.unconditional(actions)  # one unconditioned grant is enough
        for principal in principals:
            allowed.setdefault(principal, {}).update(unconditional)
        return
    block = _block(statement["Condition"])
    own = (block,)
    for principal in principals:
        table = allowed.setdefault(principal, {})
        for action in actions:
            current = table.get(action)
            if current is None:
                table[action] = own
            elif current:
                table[action] = union.add(current, block)


def _apply_denies(allowed: _Table, denies: Mapping[str, list[_Deny]]) -> _Table:
    """Remove what unconditioned Denies take away; return the blocks of the conditioned ones."""
    denied: _Table = {}
    for principal, table in allowed.items():
        for action in table.keys() & denies.keys():
            verdicts = {deny.verdict(principal) for deny in denies[action]}
            if _REMOVES in verdicts:
                del table[action]
            elif blocks := tuple(sorted(v for v in verdicts if v is not None)):
                denied.setdefault(principal, {})[action] = blocks
    return denied


def _policy_access(
    policy: Mapping[str, Any], *, key_arn: str | None, partition: Partition, known: KeyActions
) -> _Access:
    """Every (principal, action) ``policy`` grants on the key, with its conditions and denies."""
    allowed: _Table = {}
    denies: dict[str, list[_Deny]] = {}
    union = _Union()
    for statement in _statements(policy, key_arn):
        if statement["Effect"] == "Allow":
            _allow(allowed, statement, _grantees(statement, partition), union, known)
        elif (deny := _deny(statement, partition)) is not None:
            for action in known.of(statement):
                denies.setdefault(action, []).append(deny)
    return _Access(allowed, _apply_denies(allowed, denies))


# -- two policies ---------------------------------------------------------------------------


def _document(policy: str | Mapping[str, Any]) -> Mapping[str, Any]:
    # Repeated keys are read last-wins, as in the diff: the stored policy may have them (the
    # new one cannot: the linter refuses them before this runs).
    document = jsonutil.loads(policy, allow_duplicate_keys=True) if isinstance(policy, str) else policy
    if not isinstance(document, Mapping):
        raise ValueError("a key policy must be a JSON object")
    return document


def access_diff(
    before: str | Mapping[str, Any] | None,
    after: str | Mapping[str, Any],
    *,
    key_arn: str | None = None,
) -> AccessDiff:
    """Who gains and loses which key action from ``before`` (None: no policy known) to ``after``.

    Policies are JSON text or parsed objects; :class:`ValueError` if one is not a JSON object.
    ``key_arn`` decides a ``Resource`` other than ``*`` and the partition of account IDs.
    """
    new_document = _document(after)
    old_document = _document(before) if before is not None else {}
    partition = Partition(key_arn, (new_document, old_document))
    known = KeyActions()
    old = _policy_access(old_document, key_arn=key_arn, partition=partition, known=known)
    new = _policy_access(new_document, key_arn=key_arn, partition=partition, known=known)
    gained: list[Grant] = []
    lost: list[Grant] = []
    changed: list[tuple[Grant, Grant]] = []
    for principal in sorted(old.allowed.keys() | new.allowed.keys()):
        was, now = old.allowed.get(principal, {}), new.allowed.get(principal, {})
        if was == now and old.denied.get(principal) == new.denied.get(principal):
            continue  # the same grants under the same conditions and denies: nothing to show
        gained += new.grants(principal, sorted(now.keys() - was.keys()))
        lost += old.grants(principal, sorted(was.keys() - now.keys()))
        changed += (
            (old.grant(principal, action), new.grant(principal, action))
            for action in sorted(was.keys() & now.keys())
            if old.when(principal, action) != new.when(principal, action)
        )
    return AccessDiff(before is not None, tuple(gained), tuple(lost), tuple(changed))


def access_json(
    before: str | Mapping[str, Any] | None, after: str | Mapping[str, Any], *, key_id: str | None = None
) -> dict[str, Any]:
    """The ``access`` field of a PutKeyPolicy result; ``key_id`` is used when it is a key ARN."""
    key_arn = key_id if isinstance(key_id, str) and is_key_arn(key_id) else None
    return access_diff(before, after, key_arn=key_arn).as_json()
