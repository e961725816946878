"""The principal rules of :func:`~http_task_kms.kms.policy.lint.lint_policy`.

The finding codes are documented in :mod:`http_task_kms.kms.policy.lint`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .arns import classify_aws_principal
from .model import (
    PRINCIPAL_TYPES,
    Finding,
    child_path,
    did_you_mean,
    has_condition,
    is_string_list,
    json_type,
    make_finding,
    string_items,
)

__all__ = ["lint_allow_risks", "lint_principal"]

_SERVICE_PRINCIPAL_RE = re.compile(
    r"^[a-z0-9][a-z0-9.-]*\.(?:amazonaws\.com|amazonaws\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov)$"
)


def lint_allow_risks(statement: Mapping[str, Any], path: str, label: str) -> list[Finding]:
    """The grants-too-much findings of an Allow statement: NotPrincipal, ``*`` unconditioned."""
    findings: list[Finding] = []
    if "NotPrincipal" in statement:
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
    principal = statement.get("Principal")
    public = principal == "*" or (
        isinstance(principal, Mapping)
        and is_string_list(principal.get("AWS"))
        and "*" in ([principal["AWS"]] if isinstance(principal["AWS"], str) else principal["AWS"])
    )
    if public and not has_condition(statement):
        findings.append(
            make_finding(
                "SECURITY_WARNING",
                "PUBLIC_PRINCIPAL",
                child_path(path, "Principal"),
                f'Statement {label} allows any principal ("*") without a Condition, so '
                "anyone in any AWS account gets what it grants. Name the accounts or roles "
                "instead, or add a Condition such as aws:PrincipalOrgID or "
                "kms:CallerAccount.",
            )
        )
    return findings


def lint_principal(principal: Any, path: str) -> list[Finding]:
    """Findings about one Principal / NotPrincipal value at ``path``."""
    if principal == "*":
        return []
    if not isinstance(principal, Mapping) or not principal:
        return [
            make_finding(
                "ERROR",
                "INVALID_TYPE",
                path,
                'A principal must be "*" or a non-empty object such as {"AWS": '
                '["arn:aws:iam::111122223333:role/Admin"]}, '
                f"not a JSON {json_type(principal)}.",
            )
        ]
    findings: list[Finding] = []
    for kind, values in principal.items():
        kind_path = child_path(path, kind)
        if kind not in PRINCIPAL_TYPES:
            findings.append(
                make_finding(
                    "ERROR",
                    "PRINCIPAL_TYPE_UNKNOWN",
                    kind_path,
                    f'"{kind}" is not a principal type; use AWS, Service, Federated or '
                    f"CanonicalUser.{did_you_mean(kind, PRINCIPAL_TYPES)}",
                )
            )
            continue
        if not is_string_list(values):
            findings.append(
                make_finding(
                    "ERROR",
                    "INVALID_TYPE",
                    kind_path,
                    f"{kind} must be a string or a list of strings.",
                )
            )
            continue
        for value, value_path in string_items(values, kind_path):
            if kind == "AWS":
                findings += _aws_principal(value, value_path)
            elif kind == "Service" and not _SERVICE_PRINCIPAL_RE.match(value):
                findings.append(
                    make_finding(
                        "WARNING",
                        "SERVICE_PRINCIPAL_INVALID",
                        value_path,
                        f'Service principal "{value}" is not an AWS service name; those '
                        'look like "<service>.amazonaws.com" (".amazonaws.com.cn" in '
                        "China). Check the spelling in the service's documentation.",
                    )
                )
    return findings


def _aws_principal(value: str, path: str) -> list[Finding]:
    principal = classify_aws_principal(value)
    if principal.kind == "invalid":
        code = "ACCOUNT_ID_INVALID" if value.isdigit() else "PRINCIPAL_ARN_INVALID"
        return [
            make_finding(
                "ERROR",
                code,
                path,
                f'AWS principal "{value}" is not valid: {principal.problem}. Use a 12-digit '
                "account ID or an ARN such as arn:aws:iam::111122223333:root, "
                "arn:aws:iam::111122223333:role/<name> or arn:aws:iam::111122223333:user/<name>.",
            )
        ]
    if principal.kind == "assumed_role":
        return [
            make_finding(
                "WARNING",
                "PRINCIPAL_SESSION_ARN",
                path,
                f'"{value}" is a role session: it stops matching when the session ends. Name '
                f'the role instead: "{principal.role_arn}" (with its path, if it has one).',
            )
        ]
    if principal.kind == "unique_id":
        return [
            make_finding(
                "WARNING",
                "PRINCIPAL_UNIQUE_ID",
                path,
                f'"{value}" is an IAM unique ID, which is what a policy shows after the '
                "principal it named was deleted; it matches no one, even a new principal of "
                "the same name. Replace it with the ARN of the current principal, or remove it.",
            )
        ]
    return []
