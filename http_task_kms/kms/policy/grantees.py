"""Who a key-policy statement names, as the access diff (:mod:`.access`) compares principals.

Principals as written, normalised only where IAM sees one principal: ``"*"`` and
``{"AWS": "*"}`` are ``"*"``; an account ID is its root ARN in the policies' partition
(:class:`Partition`, found only when a bare account ID needs it); other ``AWS`` values are
their ARN text; the other types keep their type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .arns import ACCOUNT_ID_RE
from .model import as_list, is_object

__all__ = [
    "ANY",
    "Partition",
    "Principal",
    "account_of",
    "not_principal_json",
    "principal_json",
    "principals_of",
    "root_accounts",
]

#: A principal as a hashable pair: ("*", "*"), ("AWS", arn), ("Service", name), …,
#: ("NotPrincipal", canonical JSON of the normalised NotPrincipal).
Principal = tuple[str, str]
ANY: Principal = ("*", "*")
_IS_STR = str.__instancecheck__  # isinstance(x, str), for filter() (a loop in C)
_PARTITION_RE = re.compile(r"arn:(aws(?:-[a-z]+)*):")


def principal_json(principal: Principal) -> Any:
    kind, value = principal
    if kind == "*":
        return "*"
    if kind == "AWS":
        return value
    if kind == "NotPrincipal":
        return {"NotPrincipal": json.loads(value)}
    return {kind: value}


class Partition:
    """The partition of account IDs, found on first use (call it): only a bare account ID needs
    it, and most policies have none (finding it means writing each document as JSON).
    """

    __slots__ = ("_documents", "_found", "_key_arn")

    def __init__(self, key_arn: str | None, documents: tuple[Mapping[str, Any], ...]) -> None:
        self._key_arn, self._documents = key_arn, documents
        self._found: str | None = None

    def __call__(self) -> str:
        if self._found is None:
            self._found = _find_partition(self._key_arn, self._documents)
        return self._found


def _aws(value: str, partition: Partition) -> Principal:
    if value == "*":
        return ANY
    if "0" <= value[:1] <= "9" and ACCOUNT_ID_RE.match(value):  # (an ARN starts with a letter)
        return ("AWS", f"arn:{partition()}:iam::{value}:root")
    return ("AWS", value)


def principals_of(element: Any, partition: Partition) -> set[Principal]:
    """The principals a ``Principal`` element names (non-string values are skipped)."""
    if element == "*":
        return {ANY}
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


def not_principal_json(excluded: set[Principal]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for kind, value in sorted(excluded):
        grouped.setdefault("AWS" if kind == "*" else kind, []).append(value)
    return grouped


def account_of(principal: Principal) -> str | None:
    """``arn:<partition>:iam::<account>:`` of an AWS ARN principal, else None."""
    kind, value = principal
    if kind != "AWS" or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    return f"arn:{parts[1]}:iam::{parts[4]}:" if len(parts) == 6 else None


def root_accounts(principals: Iterable[Principal]) -> frozenset[str]:
    """The ``arn:<partition>:iam::<account>:`` of each account root among ``principals``."""
    return frozenset(
        account for p in principals if (account := account_of(p)) is not None and p[1] == f"{account}root"
    )


def _find_partition(key_arn: str | None, documents: Iterable[Mapping[str, Any]]) -> str:
    for text in [key_arn or "", *(json.dumps(document) for document in documents)]:
        match = _PARTITION_RE.search(text)
        if match:
            return match.group(1)
    return "aws"
