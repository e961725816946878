"""Offline evaluation of the condition keys whose value follows from the caller alone.

Three-valued: ``True``, ``False``, or ``None`` for "cannot be decided offline". Only
``aws:PrincipalArn`` and ``aws:PrincipalAccount`` with the String/Arn equality and
wildcard operators (and their ``IfExists`` forms: these keys are always present for an
IAM caller) are decided; every other condition is ``None``, never silently true.

For a role session, ``aws:PrincipalArn`` is the role's ARN, whose path the session ARN
does not show: a role ARN with the session's role name is taken as a match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .arns import AwsPrincipal, classify_aws_principal, parse_arn
from .model import as_list, glob_match, is_object

__all__ = ["Tri", "evaluate_condition", "tri_and", "tri_any", "tri_not"]

#: True, False, or None for "cannot be decided offline".
Tri = bool | None

_DECIDABLE_OPERATORS = {
    "StringEquals": (False, False),  # (wildcards, negated)
    "StringNotEquals": (False, True),
    "StringLike": (True, False),
    "StringNotLike": (True, True),
    "ArnEquals": (True, False),  # ArnEquals and ArnLike both accept wildcards
    "ArnLike": (True, False),
    "ArnNotEquals": (True, True),
    "ArnNotLike": (True, True),
}


def tri_and(*values: Tri) -> Tri:
    """Three-valued AND: False wins, then None."""
    if False in values:  # a Tri is only ever True, False or None
        return False
    if None in values:
        return None
    return True


def tri_any(values: Iterable[Tri]) -> Tri:
    """Three-valued OR: True wins, then None."""
    results = list(values)
    if any(value is True for value in results):
        return True
    if all(value is False for value in results):
        return False
    return None


def tri_not(value: Tri) -> Tri:
    """Three-valued NOT: None stays None."""
    return None if value is None else not value


def evaluate_condition(condition: Any, caller: AwsPrincipal) -> tuple[Tri, str]:
    """Whether ``condition`` holds for ``caller``: True, False or None (undecidable), and why.

    Only ``aws:PrincipalArn`` and ``aws:PrincipalAccount`` under the String/Arn equality
    and wildcard operators are decided; everything else is None.
    """
    if not condition:
        return True, ""
    if not is_object(condition):
        return None, "its Condition is malformed"
    results: list[Tri] = []
    unknown: list[str] = []
    for operator, block in condition.items():
        if not is_object(block):
            return None, "its Condition is malformed"
        for key, values in block.items():
            result = _decide(str(operator), str(key), as_list(values), caller)
            results.append(result)
            if result is None:
                unknown.append(f"{operator} {key}")
    outcome = tri_and(*results)
    if outcome is None:
        return None, f"its Condition ({', '.join(unknown)}) cannot be evaluated offline"
    if outcome is False:
        return False, "its Condition does not match the caller"
    return True, "its Condition matches the caller"


def _decide(operator: str, key: str, values: list[Any], caller: AwsPrincipal) -> Tri:
    base = operator.removesuffix("IfExists")  # the keys decided here always exist
    if base not in _DECIDABLE_OPERATORS or key.lower() not in (
        "aws:principalarn",
        "aws:principalaccount",
    ):
        return None
    if not values or not all(isinstance(v, str) and "${" not in v for v in values):
        return None
    wildcards, negated = _DECIDABLE_OPERATORS[base]
    if key.lower() == "aws:principalaccount":
        actual = caller.account or ""
        matched = tri_any(_compare(v, actual, wildcards) for v in values)
    else:
        matched = tri_any(_principal_arn_matches(v, wildcards, caller) for v in values)
    return tri_not(matched) if negated else matched


def _principal_arn_matches(value: str, wildcards: bool, caller: AwsPrincipal) -> Tri:
    if caller.kind != "assumed_role":
        return _compare(value, caller.value, wildcards)
    # A session's aws:PrincipalArn is its role's ARN, whose path the session ARN hides.
    role_arn = caller.role_arn or ""
    if _compare(value, role_arn, wildcards):
        return True
    other = classify_aws_principal(value)
    if other.kind == "role":
        return (other.partition, other.account, other.name) == (
            caller.partition,
            caller.account,
            caller.name,
        )
    if not wildcards or ("*" not in value and "?" not in value):
        return False
    # A pattern whose account or last segment is literal and differs cannot match
    # whatever the role's path is.
    parsed = parse_arn(value)
    last = value.rpartition("/")[2] if "/" in value else None
    if last is not None and not any(c in last for c in "*?") and last != caller.name:
        return False
    literal_account = parsed is not None and not any(c in parsed.account for c in "*?")
    if literal_account and parsed is not None and parsed.account != caller.account:
        return False
    return None


def _compare(pattern: str, actual: str, wildcards: bool) -> bool:
    if wildcards:
        return glob_match(pattern, actual, ignore_case=False)
    return pattern == actual
