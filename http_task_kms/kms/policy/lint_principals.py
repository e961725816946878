"""The principal rules of :func:`~http_task_kms.kms.policy.lint.lint_policy`.

The finding codes are documented in :mod:`http_task_kms.kms.policy.lint`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .arns import classify_aws_principal
from .lint_conditions import restricts_caller
from .model import (
    PRINCIPAL_TYPES,
    Finding,
    Severity,
    child_path,
    did_you_mean,
    has_condition,
    is_object,
    item_path,
    json_type,
    make_finding,
    statement_label,
    string_items,
)

__all__ = ["is_public", "lint_allow_risks", "lint_principal"]

#: A finding without its path: (severity, code, message).
_Problem = tuple[Severity, str, str]

_PRINCIPAL_TYPES = frozenset(PRINCIPAL_TYPES)
#: The kinds of AWS principal value no finding is about.
_PLAIN_KINDS = frozenset({"any", "account", "root", "user", "role", "federated_user"})
_SERVICE_PRINCIPAL_RE = re.compile(
    r"^[a-z0-9][a-z0-9.-]*\.(?:amazonaws\.com|amazonaws\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov)$"
)


def is_public(principal: Any) -> bool:
    """Whether a Principal value names everyone: ``"*"`` or an ``AWS`` list holding ``"*"``."""
    if principal == "*":
        return True
    if not is_object(principal):
        return False
    aws = string_items(principal.get("AWS"))
    return aws is not None and "*" in aws


def lint_allow_risks(statement: Mapping[str, Any], path: str, *, allow_public: bool = False) -> list[Finding]:
    """The grants-too-much findings of an Allow: NotPrincipal, and ``"*"`` without a caller condition.

    An Allow to ``"*"`` with no Condition at all lets anyone in any account use (or manage)
    the key: an ERROR that only the operator's ``allow_public`` (``--allow-public-principal``)
    turns into a SECURITY_WARNING. One whose Condition restricts no caller
    (:func:`~.lint_conditions.restricts_caller`) is a SECURITY_WARNING.
    """
    findings: list[Finding] = []
    if "NotPrincipal" in statement:
        label = statement_label(statement, path)
        findings.append(
            make_finding(
                "SECURITY_WARNING",
                "NOT_PRINCIPAL_WITH_ALLOW",
                child_path(path, "NotPrincipal"),
                f"Statement {label} allows every principal except those listed in "
                "NotPrincipal, including principals of every other AWS account (AWS "
                "documents NotPrincipal as supported with Deny only). List who may use the "
                "key in Principal instead.",
            )
        )
    if not is_public(statement.get("Principal")):
        return findings
    where, label = child_path(path, "Principal"), statement_label(statement, path)
    if not has_condition(statement):
        findings.append(_public_unconditioned(label, where, allow_public=allow_public))
    elif not restricts_caller(statement.get("Condition")):
        findings.append(
            make_finding(
                "SECURITY_WARNING",
                "PUBLIC_PRINCIPAL_UNRESTRICTED",
                where,
                f'Statement {label} allows any principal ("*"), and its Condition restricts no '
                "caller: none of its tests is a positive test of aws:PrincipalAccount, "
                "aws:PrincipalOrgID, aws:PrincipalOrgPaths, aws:PrincipalArn, aws:SourceAccount, "
                "aws:SourceArn, kms:CallerAccount or a similar key, so principals of any AWS account "
                "that meet it (kms:ViaService, an encryption context) get what it grants. Add one, "
                "such as kms:CallerAccount or aws:PrincipalOrgID.",
            )
        )
    return findings


def _public_unconditioned(label: str, path: str, *, allow_public: bool) -> Finding:
    what = (
        f'Statement {label} allows any principal ("*") with no Condition, so anyone in any AWS '
        "account gets what it grants on this key"
    )
    if allow_public:
        return make_finding(
            "SECURITY_WARNING",
            "PUBLIC_PRINCIPAL",
            path,
            f"Acknowledged by --allow-public-principal: {what[0].lower()}{what[1:]}.",
        )
    return make_finding(
        "ERROR",
        "PUBLIC_PRINCIPAL",
        path,
        f"{what}. Name the accounts or roles instead, or add a Condition that restricts the caller, "
        "such as aws:PrincipalOrgID or kms:CallerAccount. Nothing in a task or its input can accept "
        "this: only the operator, with --allow-public-principal.",
    )


def lint_principal(principal: Any, statement_path: str, element: str) -> list[Finding]:
    """Findings about the ``element`` (Principal or NotPrincipal) of the statement at ``statement_path``."""
    if principal == "*":
        return []
    aws = principal.get("AWS") if type(principal) is dict and len(principal) == 1 else None
    if isinstance(aws, str) and classify_aws_principal(aws).kind in _PLAIN_KINDS:
        return []  # the usual shape: {"AWS": "<one account, user or role>"}
    if not is_object(principal) or not principal:
        return [
            make_finding(
                "ERROR",
                "INVALID_TYPE",
                child_path(statement_path, element),
                'A principal must be "*" or a non-empty object such as {"AWS": '
                '["arn:aws:iam::111122223333:role/Admin"]}, '
                f"not a JSON {json_type(principal)}.",
            )
        ]
    findings: list[Finding] = []
    for kind, values in principal.items():
        if kind not in _PRINCIPAL_TYPES:
            path = child_path(statement_path, element)
            findings.append(
                make_finding(
                    "ERROR",
                    "PRINCIPAL_TYPE_UNKNOWN",
                    child_path(path, kind),
                    f'"{kind}" is not a principal type; use AWS, Service, Federated or '
                    f"CanonicalUser.{did_you_mean(kind, PRINCIPAL_TYPES)}",
                )
            )
            continue
        items = string_items(values)
        if items is None:
            message = f"{kind} must be a string or a list of strings."
            where = child_path(child_path(statement_path, element), kind)
            findings.append(make_finding("ERROR", "INVALID_TYPE", where, message))
        elif kind in ("AWS", "Service"):
            findings += _values(kind, values, items, statement_path, element)
    return findings


def _values(kind: str, values: Any, items: Sequence[str], statement_path: str, element: str) -> list[Finding]:
    """Findings about the principal values ``items`` (of ``values``) of type ``kind``."""
    findings: list[Finding] = []
    for index, value in enumerate(items):
        if kind == "AWS":
            if classify_aws_principal(value).kind in _PLAIN_KINDS:
                continue
            problem = _aws_problem(value)
        elif _SERVICE_PRINCIPAL_RE.match(value):
            continue
        else:
            problem = _service_problem(value)
        if problem is not None:
            path = child_path(child_path(statement_path, element), kind)
            findings.append(make_finding(problem[0], problem[1], item_path(path, values, index), problem[2]))
    return findings


def _service_problem(value: str) -> _Problem | None:
    if _SERVICE_PRINCIPAL_RE.match(value):
        return None
    return (
        "WARNING",
        "SERVICE_PRINCIPAL_INVALID",
        f'Service principal "{value}" is not an AWS service name; those '
        'look like "<service>.amazonaws.com" (".amazonaws.com.cn" in '
        "China). Check the spelling in the service's documentation.",
    )


def _aws_problem(value: str) -> _Problem | None:
    principal = classify_aws_principal(value)
    if principal.kind == "invalid":
        code = "ACCOUNT_ID_INVALID" if value.isdigit() else "PRINCIPAL_ARN_INVALID"
        return (
            "ERROR",
            code,
            f'AWS principal "{value}" is not valid: {principal.problem}. Use a 12-digit '
            "account ID or an ARN such as arn:aws:iam::111122223333:root, "
            "arn:aws:iam::111122223333:role/<name> or arn:aws:iam::111122223333:user/<name>.",
        )
    if principal.kind == "assumed_role":
        return (
            "WARNING",
            "PRINCIPAL_SESSION_ARN",
            f'"{value}" is a role session principal: it matches every session of role '
            f'{principal.name} named "{principal.session}" (this one, and any later one that '
            "whoever may assume the role starts with that session name) and no other session "
            f'of the role. To grant the role, name "{principal.role_arn}" (with its path, if '
            "it has one).",
        )
    if principal.kind == "unique_id":
        return (
            "WARNING",
            "PRINCIPAL_UNIQUE_ID",
            f'"{value}" is an IAM unique ID, which is what a policy shows after the '
            "principal it named was deleted; it matches no one, even a new principal of "
            "the same name. Replace it with the ARN of the current principal, or remove it.",
        )
    return None
