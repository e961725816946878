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

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ... import jsonutil
from . import iam
from .arns import ACCOUNT_ID_RE, is_key_arn, parse_arn
from .model import as_list, glob_match, indexed_statements, is_object

__all__ = ["AccessDiff", "Grant", "access_diff", "access_json"]

#: A principal as a hashable pair: ("*", "*"), ("AWS", arn), ("Service", name), …,
#: ("NotPrincipal", canonical JSON of the normalised NotPrincipal).
Principal = tuple[str, str]
_ANY: Principal = ("*", "*")
_IS_STR = str.__instancecheck__  # isinstance(x, str), for filter() (a loop in C)
_PARTITION_RE = re.compile(r"arn:(aws(?:-[a-z]+)*):")


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
            "principal": _show(self.principal),
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
                    "principal": _show(before.principal),
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
            {"principal": _show(p), "gained": c[0], "lost": c[1], "changedConditions": c[2]}
            for p, c in sorted(counts.items(), key=lambda item: item[0])
        ]


# -- principals ------------------------------------------------------------------------


def _show(principal: Principal) -> Any:
    kind, value = principal
    if kind == "*":
        return "*"
    if kind == "AWS":
        return value
    if kind == "NotPrincipal":
        return {"NotPrincipal": json.loads(value)}
    return {kind: value}


class _Partition:
    """The partition of account IDs, found on first use (call it): only a bare account ID needs
    it, and most policies have none (finding it means writing each document as JSON).
    """

    __slots__ = ("_documents", "_found", "_key_arn")

    def __init__(self, key_arn: str | None, documents: tuple[Mapping[str, Any], ...]) -> None:
        self._key_arn, self._documents = key_arn, documents
        self._found: str | None = None

    def __call__(self) -> str:
        if self._found is None:
            self._found = _partition(self._key_arn, self._documents)
        return self._found


def _aws(value: str, partition: _Partition) -> Principal:
    if value == "*":
        return _ANY
    if "0" <= value[:1] <= "9" and ACCOUNT_ID_RE.match(value):  # (an ARN starts with a letter)
        return ("AWS", f"arn:{partition()}:iam::{value}:root")
    return ("AWS", value)


def _principals(element: Any, partition: _Partition) -> set[Principal]:
    """The principals a ``Principal`` element names (non-string values are skipped)."""
    if element == "*":
        return {_ANY}
    if not is_object(element):
        return set()
    found: set[Principal] = set()
    for kind, values in element.items():
        if isinstance(values, str):  # one principal of the kind (most often)
            found.add(_aws(values, partition) if kind == "AWS" else (str(kind), values))
            continue
        for value in filter(_IS_STR, as_list(values)):
            found.add(_aws(value, partition) if kind == "AWS" else (str(kind), value))
    return found


def _not_principal_json(excluded: set[Principal]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for kind, value in sorted(excluded):
        grouped.setdefault("AWS" if kind == "*" else kind, []).append(value)
    return grouped


def _account_of(principal: Principal) -> str | None:
    """``arn:<partition>:iam::<account>:`` of an AWS ARN principal, else None."""
    kind, value = principal
    if kind != "AWS" or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    return f"arn:{parts[1]}:iam::{parts[4]}:" if len(parts) == 6 else None


def _root_accounts(principals: Iterable[Principal]) -> frozenset[str]:
    """The ``arn:<partition>:iam::<account>:`` of each account root among ``principals``."""
    return frozenset(
        account for p in principals if (account := _account_of(p)) is not None and p[1] == f"{account}root"
    )


# -- actions, resources, conditions ------------------------------------------------------


@functools.cache
def _key_actions() -> tuple[str, ...]:
    reference = iam.load()
    return tuple(name for name, action in reference.actions.items() if action.on_key)


@functools.lru_cache(maxsize=4096)
def _expand(pattern: str) -> frozenset[str]:
    return frozenset(iam.expand(pattern)) & frozenset(_key_actions())


@functools.cache
def _every_key_action() -> frozenset[str]:
    return frozenset(_key_actions())


def _named(element: Any) -> frozenset[str]:
    """The key actions an ``Action`` or ``NotAction`` element names (non-strings are skipped)."""
    if isinstance(element, str):  # one pattern (most often): its expansion as it is
        return _expand(element)
    patterns = filter(_IS_STR, element) if type(element) is list else filter(_IS_STR, as_list(element))
    return frozenset().union(*map(_expand, patterns))


class _Actions:
    """The key actions of the action lists of one access diff, each worked out once for both policies.

    (A list of patterns repeats: key users' statements share one, and most statements of the
    new policy are the current one's. Kept for one call only, as many as its statements.)
    """

    def __init__(self) -> None:
        self._named: dict[tuple[str, ...], frozenset[str]] = {}
        self._grants: dict[frozenset[str], dict[str, tuple[str, ...]]] = {}

    def named(self, element: Any) -> frozenset[str]:
        """:func:`_named` of an ``Action`` or ``NotAction`` element."""
        if type(element) is not list:
            return _named(element)
        try:
            key = tuple(element)  # what is not a string is skipped: 1 and True may share a key
            found = self._named.get(key)
        except TypeError:  # an object or a list among the patterns (skipped too)
            return _named(element)
        if found is None:
            found = self._named[key] = _named(element)
        return found

    def of(self, statement: Mapping[str, Any]) -> frozenset[str]:
        """The key actions a statement's ``Action`` (or every key action but its ``NotAction``) names."""
        if "Action" in statement:
            return self.named(statement["Action"])
        if "NotAction" in statement:
            return _every_key_action() - self.named(statement["NotAction"])
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


def _on_key(statement: Mapping[str, Any], key_arn: str | None) -> bool:
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
            if grantee in self.excluded or _ANY in self.excluded:
                return None
            if grantee == _ANY:
                return self.public_block
        elif not (
            grantee in self.principals
            or _ANY in self.principals
            or (self.roots and _account_of(grantee) in self.roots)
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
        if _on_key(statement, key_arn):
            yield statement


def _grantees(statement: Mapping[str, Any], partition: _Partition) -> set[Principal]:
    if "Principal" in statement:
        return _principals(statement["Principal"], partition)
    if "NotPrincipal" in statement and statement["NotPrincipal"] != "*":
        excluded = _principals(statement["NotPrincipal"], partition)
        return {("NotPrincipal", json.dumps(_not_principal_json(excluded), sort_keys=True))}
    return set()


def _deny(statement: Mapping[str, Any], partition: _Partition) -> _Deny | None:
    condition = statement.get("Condition") or {}
    block = _block(condition) if condition else None
    if "Principal" in statement:
        named = frozenset(_principals(statement["Principal"], partition))
        return _Deny(named, None, block, roots=_root_accounts(named))
    if "NotPrincipal" not in statement:
        return None  # KMS refuses a statement without a principal
    excluded = _principals(statement["NotPrincipal"], partition)
    public = _block(condition, {"NotPrincipal": _not_principal_json(excluded)})
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
    allowed: _Table, statement: Mapping[str, Any], principals: set[Principal], union: _Union, known: _Actions
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
    policy: Mapping[str, Any], *, key_arn: str | None, partition: _Partition, known: _Actions
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


def _partition(key_arn: str | None, documents: Iterable[Mapping[str, Any]]) -> str:
    for text in [key_arn or "", *(json.dumps(document) for document in documents)]:
        match = _PARTITION_RE.search(text)
        if match:
            return match.group(1)
    return "aws"


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
    partition = _Partition(key_arn, (new_document, old_document))
    known = _Actions()
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
