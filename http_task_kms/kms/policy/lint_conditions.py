"""The Condition rules of :func:`~http_task_kms.kms.policy.lint.lint_policy`.

- Operators must be IAM condition operators, and each block must map condition keys to
  values (CONDITION_OPERATOR_UNKNOWN, INVALID_TYPE).
- KMS refuses some condition keys in a key policy outright — "These condition keys are not
  permitted in a key policy: aws:ResourceTag, kms:ResourceTag, kms:ResourceAliases"
  (AWS KMS Developer Guide, ABAC for AWS KMS:
  https://docs.aws.amazon.com/kms/latest/developerguide/abac.html) — so such a policy is an
  ERROR (CONDITION_KEY_NOT_PERMITTED). The IAM reference lists ``aws:ResourceTag/${TagKey}``
  and ``kms:ResourceAliases`` for every action on a key (they come with the ``key`` resource
  type), so they are subtracted here rather than taken as applicable.
- A ``kms:`` key must be a KMS condition key of the IAM service authorization reference
  (CONDITION_KEY_UNKNOWN), and one that applies to at least one of the statement's actions
  (CONDITION_KEY_NOT_APPLICABLE): a request never carries any other, so the condition does
  not test what it seems to. Templated keys resolve (``kms:EncryptionContext:aws:logs:arn``
  is ``kms:EncryptionContext:${EncryptionContextKey}``). Global ``aws:`` keys are always
  known; keys of other services are never in a KMS request (CONDITION_KEY_NOT_APPLICABLE).

:func:`restricts_caller` tells whether a Condition limits who may call — what makes an
Allow to ``"*"`` less than public (:mod:`.lint_principals`).

The finding codes are documented in :mod:`http_task_kms.kms.policy.lint`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from . import iam
from .model import (
    CONDITION_OPERATORS,
    Finding,
    Severity,
    as_list,
    child_path,
    did_you_mean,
    is_object,
    make_finding,
)

__all__ = ["CALLER_KEYS", "NOT_PERMITTED_KEYS", "lint_condition", "resolve_key", "restricts_caller"]

#: Condition keys KMS refuses in a key policy (the quoted sentence of the Developer Guide).
NOT_PERMITTED_KEYS = ("aws:ResourceTag", "kms:ResourceTag", "kms:ResourceAliases")
#: Condition keys whose value depends on who calls (or on whose behalf a service calls): a
#: positive test of one restricts the callers of an Allow to ``"*"`` (IAM Access Analyzer
#: treats these as limiting a public principal too).
CALLER_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceOwner",
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:userid",
        "aws:username",
        "kms:CallerAccount",
    )
)
_POSITIVE_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "IpAddress"}
)
_ABAC_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/abac.html"
_NOT_TESTED = (
    "so the condition does not test what it seems to (a positive operator never matches; a negated "
    "one, or one ending in IfExists, always does)"
)
_TEMPLATE_PART = re.compile(r"\$\{[^}]*\}")


def _all_operator_spellings() -> frozenset[str]:
    names = set(CONDITION_OPERATORS)
    names |= {f"{name}IfExists" for name in CONDITION_OPERATORS if name != "Null"}
    names |= {f"{prefix}{name}" for prefix in ("ForAllValues:", "ForAnyValue:") for name in names}
    return frozenset(names)


_OPERATOR_SPELLINGS = _all_operator_spellings()


def _not_permitted(lowered: str) -> bool:
    return any(lowered == key.lower() or lowered.startswith(f"{key.lower()}/") for key in NOT_PERMITTED_KEYS)


@functools.cache
def _known_keys() -> tuple[Mapping[str, str], tuple[tuple[str, re.Pattern[str]], ...]]:
    """Every KMS condition key of the reference: plain ones by lower-cased name, and templates.

    The service's own list plus every key an action lists (the reference lists
    ``kms:RecipientAttestation:PCR8:ServiceName`` on actions only).
    """
    reference = iam.load()
    names = set(reference.service_condition_keys)
    names |= {key for action in reference.actions.values() for key in action.condition_keys}
    kms_names = sorted(name for name in names if name.lower().startswith("kms:"))
    plain = {name.lower(): name for name in kms_names if "${" not in name}
    templates = tuple(
        (name, re.compile(".+".join(re.escape(p) for p in _TEMPLATE_PART.split(name)), re.I | re.S))
        for name in kms_names
        if "${" in name
    )
    return plain, templates


@functools.lru_cache(maxsize=4096)
def resolve_key(key: str) -> str | None:
    """The reference's name of the ``kms:`` condition key ``key`` (templates resolved), or None."""
    plain, templates = _known_keys()
    exact = plain.get(key.lower())
    if exact is not None:
        return exact
    return next((name for name, pattern in templates if pattern.fullmatch(key)), None)


@functools.lru_cache(maxsize=1024)
def _keys_of(actions: frozenset[str]) -> frozenset[str]:
    reference = iam.load().actions
    return frozenset(key for action in actions for key in reference[action].condition_keys)


@functools.lru_cache(maxsize=1024)
def _actions_with(key: str) -> tuple[str, ...]:
    return tuple(sorted(name for name, action in iam.load().actions.items() if key in action.condition_keys))


def _names(names: tuple[str, ...] | list[str], limit: int = 4) -> str:
    """``a``, ``a and b``, ``a, b and c``; past ``limit`` names, ``a, b, c, d and 5 more``."""
    shown = list(names[:limit])
    if len(names) > limit:
        shown.append(f"{len(names) - limit} more")
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


#: A finding without its path: (severity, code, message).
_Problem = tuple[Severity, str, str]


@functools.lru_cache(maxsize=4096)
def _key_problem(key: str, actions: frozenset[str]) -> _Problem | None:
    """What is wrong with a condition key in a statement covering ``actions`` (memoised)."""
    lowered = key.lower()
    if _not_permitted(lowered):
        return (
            "ERROR",
            "CONDITION_KEY_NOT_PERMITTED",
            f'Condition key "{key}" is not permitted in a key policy, and KMS rejects the policy '
            '(MalformedPolicyDocumentException): "These condition keys are not permitted in a key '
            'policy: aws:ResourceTag, kms:ResourceTag, kms:ResourceAliases". Test tags and aliases '
            f"in IAM policies instead (ABAC, {_ABAC_DOC}), or remove the condition.",
        )
    service, colon, _ = key.partition(":")
    if not colon or not service:
        return (
            "WARNING",
            "CONDITION_KEY_UNKNOWN",
            f'"{key}" is not a condition key: keys are written service:name, such as aws:SourceArn '
            f"or kms:ViaService. A request never has it, {_NOT_TESTED}.",
        )
    if service.lower() == "aws":
        return None  # global keys exist for every service
    if service.lower() != "kms":
        return (
            "WARNING",
            "CONDITION_KEY_NOT_APPLICABLE",
            f'"{key}" is a condition key of {service}, not of KMS: a request to KMS never carries '
            f"it, {_NOT_TESTED}. Use an aws: or kms: key, or remove it.",
        )
    known = resolve_key(key)
    if known is None:
        plain, _ = _known_keys()
        hint = did_you_mean(key, frozenset(plain.values()))
        return (
            "WARNING",
            "CONDITION_KEY_UNKNOWN",
            f'"{key}" is not a KMS condition key in the IAM service authorization reference, so a '
            f"request never has it, {_NOT_TESTED}.{hint}",
        )
    if not actions or known in _keys_of(actions):
        return None
    return (
        "WARNING",
        "CONDITION_KEY_NOT_APPLICABLE",
        f'"{key}" is not a condition key of any action this statement covers '
        f"({_names(sorted(actions))}): requests for them never carry it, {_NOT_TESTED}. It applies "
        f"to {_names(_actions_with(known))}.",
    )


def _is_condition_value(value: Any) -> bool:
    scalar = (str, bool, int, float)
    return isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(item, scalar) for item in value)
    )


def lint_condition(condition: Any, path: str, actions: frozenset[str]) -> list[Finding]:
    """Findings about a statement's Condition at ``path``; ``actions`` are the statement's."""
    if not is_object(condition):
        return [
            make_finding(
                "ERROR",
                "INVALID_TYPE",
                path,
                "Condition must be an object: {operator: {condition key: value(s)}}.",
            )
        ]
    findings: list[Finding] = []
    for operator, block in condition.items():
        if operator not in _OPERATOR_SPELLINGS:  # what condition_operator_base() takes
            findings.append(
                make_finding(
                    "ERROR",
                    "CONDITION_OPERATOR_UNKNOWN",
                    child_path(path, operator),
                    f'"{operator}" is not an IAM condition operator.'
                    f"{did_you_mean(operator, _OPERATOR_SPELLINGS)} Operators are names "
                    "such as StringEquals or ArnLike, optionally prefixed with "
                    "ForAllValues:/ForAnyValue: or suffixed with IfExists.",
                )
            )
        findings += _block_findings(operator, block, path, actions)
    return findings


def _block_findings(operator: str, block: Any, path: str, actions: frozenset[str]) -> list[Finding]:
    """Findings about the block of ``operator`` in the Condition at ``path`` (paths made only for them)."""
    findings: list[Finding] = []
    if not is_object(block) or not all(_is_condition_value(v) for v in block.values()):
        findings.append(
            make_finding(
                "ERROR",
                "INVALID_TYPE",
                child_path(path, operator),
                f"{operator} must map condition keys to a value or a list of values, "
                'e.g. {"kms:CallerAccount": "111122223333"}.',
            )
        )
    if is_object(block):
        for key in block:
            problem = _key_problem(str(key), actions)
            if problem is not None:
                severity, code, message = problem
                where = child_path(child_path(path, operator), str(key))
                findings.append(make_finding(severity, code, where, message))
    return findings


def restricts_caller(condition: Any) -> bool:
    """Whether ``condition`` positively tests who calls (an account, organisation, ARN, source…).

    Only plain (or ``ForAnyValue:``) StringEquals/StringLike/ArnEquals/ArnLike/IpAddress tests
    of a :data:`CALLER_KEYS` key count, with a value that is not only wildcards: an ``IfExists``
    or negated test lets a caller without the key, or with any other value, through.
    """
    if not is_object(condition):
        return False
    for operator, block in condition.items():
        base = str(operator).removeprefix("ForAnyValue:")
        if base not in _POSITIVE_OPERATORS or not is_object(block):
            continue
        for key, values in block.items():
            if str(key).lower() in CALLER_KEYS and any(
                isinstance(value, str) and value.strip("*?") for value in as_list(values)
            ):
                return True
    return False
