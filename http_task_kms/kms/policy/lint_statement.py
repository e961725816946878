"""The statement-level rules of :func:`~http_task_kms.kms.policy.lint.lint_policy`.

The finding codes are documented in :mod:`http_task_kms.kms.policy.lint`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .arns import parse_arn
from .lint_actions import action_problems, statement_actions
from .lint_conditions import lint_condition
from .lint_principals import is_public, lint_allow_risks, lint_principal
from .model import (
    STATEMENT_ELEMENTS,
    Finding,
    child_path,
    did_you_mean,
    glob_match,
    item_path,
    make_finding,
    statement_label,
    string_items,
)

__all__ = ["MISSING_NOTICE", "STAR_NOTICE", "StatementLinter"]

#: What AWS told KMS customers in 2025: from 2025-08-18, CreateKey, ReplicateKey and
#: PutKeyPolicy reject (MalformedPolicyDocumentException) a key policy with a statement that
#: has no Action/NotAction or no Resource, and ``"*"`` is the only Resource value a key
#: policy accepts. Before, such statements were accepted and had no effect, as the PutKeyPolicy
#: API reference said (https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html;
#: the elements of a key policy:
#: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html).
MISSING_NOTICE = (
    "since 2025-08-18 KMS rejects a key policy with a statement that has no Action or NotAction, "
    "or no Resource (MalformedPolicyDocumentException)"
)
STAR_NOTICE = 'AWS\'s notice to KMS customers (2025) says "*" is the only Resource value a key policy accepts'
_EXCLUSIVE_PAIRS = (
    ("Principal", "NotPrincipal"),
    ("Action", "NotAction"),
    ("Resource", "NotResource"),
)


_ELEMENTS = frozenset(STATEMENT_ELEMENTS)


@dataclass(frozen=True)
class StatementLinter:
    """Lints one statement at a time; ``key_arn`` and the operator's acknowledgements are fixed.

    ``allow_public_principal`` is the operator's ``--allow-public-principal``: an Allow to
    ``"*"`` without a Condition is then a SECURITY_WARNING instead of an ERROR.

    One pass over the statement's elements; a statement's label (its Sid and path) is made
    only for a finding's message.
    """

    key_arn: str | None
    allow_public_principal: bool = False

    def lint(self, statement: Mapping[str, Any], path: str) -> list[Finding]:
        """Every finding about one statement object at ``path``."""
        findings = self._structure(statement, path)
        if "Principal" in statement:
            findings += lint_principal(statement["Principal"], path, "Principal")
        if "NotPrincipal" in statement:
            findings += lint_principal(statement["NotPrincipal"], path, "NotPrincipal")
        if statement.get("Effect") == "Allow" and (
            "NotPrincipal" in statement or is_public(statement.get("Principal"))
        ):
            findings += lint_allow_risks(statement, path, allow_public=self.allow_public_principal)
        findings += self._actions(statement, path)
        findings += self._resources(statement, path)
        if "Condition" in statement:
            actions = statement_actions(statement)
            findings += lint_condition(statement["Condition"], f"{path}.Condition", actions)
        return findings

    # -- structure ---------------------------------------------------------------------

    def _structure(self, statement: Mapping[str, Any], path: str) -> list[Finding]:
        findings: list[Finding] = []
        if not _ELEMENTS.issuperset(statement):
            findings += [_unknown_element(key, path) for key in statement if key not in _ELEMENTS]
        if "Sid" in statement and not isinstance(statement["Sid"], str):
            findings.append(
                make_finding("ERROR", "INVALID_TYPE", child_path(path, "Sid"), "Sid must be a string.")
            )
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):  # an Effect may be of any JSON type: no set
            findings.append(_effect_invalid(statement, path, effect))
        if "NotPrincipal" in statement or "NotAction" in statement or "NotResource" in statement:
            for positive, negative in _EXCLUSIVE_PAIRS:
                if positive in statement and negative in statement:
                    findings.append(
                        make_finding(
                            "ERROR",
                            "CONFLICTING_ELEMENTS",
                            path,
                            f"Statement {statement_label(statement, path)} has both {positive} and "
                            f"{negative}, which IAM does not allow in one statement. Keep one of them.",
                        )
                    )
        if "Principal" not in statement and "NotPrincipal" not in statement:
            findings.append(
                make_finding(
                    "ERROR",
                    "PRINCIPAL_MISSING",
                    path,
                    f"Statement {statement_label(statement, path)} names no Principal; KMS rejects "
                    'key-policy statements without one. Add one, e.g. "Principal": {"AWS": '
                    '"arn:aws:iam::111122223333:root"}.',
                )
            )
        return findings

    # -- actions -----------------------------------------------------------------------

    def _actions(self, statement: Mapping[str, Any], path: str) -> list[Finding]:
        element = "Action" if "Action" in statement else "NotAction"
        value = statement.get(element, _ABSENT)
        if value is _ABSENT or value == []:
            return [
                make_finding(
                    "ERROR",
                    "ACTION_MISSING",
                    path,
                    f"Statement {statement_label(statement, path)} has no Action or NotAction, and "
                    f"{MISSING_NOTICE}. Add the KMS actions it is meant to cover, e.g. "
                    '"Action": "kms:Decrypt".',
                )
            ]
        items = string_items(value)
        if items is None:
            return [_not_strings(path, element)]
        found = action_problems(items, element == "NotAction")
        if not found:
            return []
        return [
            make_finding(severity, code, item_path(child_path(path, element), value, index), message)
            for index, (severity, code, message) in found
        ]

    # -- resources ---------------------------------------------------------------------

    def _resources(self, statement: Mapping[str, Any], path: str) -> list[Finding]:
        element = "Resource" if "Resource" in statement else "NotResource"
        value = statement.get(element, _ABSENT)
        if value == "*" and element == "Resource":
            return []
        if value is _ABSENT or value == []:
            return [
                make_finding(
                    "ERROR",
                    "RESOURCE_MISSING",
                    path,
                    f"Statement {statement_label(statement, path)} has no Resource, and "
                    f'{MISSING_NOTICE}. Add "Resource": "*" (in a key policy, "*" means this key).',
                )
            ]
        items = string_items(value)
        if items is None:
            return [_not_strings(path, element)]
        if element == "Resource" and value == ["*"]:
            return []
        check = self._resource if element == "Resource" else self._not_resource
        return [
            found
            for index, resource in enumerate(items)
            if (found := check(resource, item_path(child_path(path, element), value, index))) is not None
        ]

    def _resource(self, resource: str, path: str) -> Finding | None:
        if resource == "*":
            return None
        if self.key_arn is not None:
            if glob_match(resource, self.key_arn, ignore_case=False):
                return _not_star(f'Resource "{resource}" matches this key', path)
            return _ineffective(
                path,
                f'Resource "{resource}" does not match this key ({self.key_arn}); a key '
                "policy only governs its own key, so this has no effect",
            )
        parsed = parse_arn(resource)
        if parsed is not None and parsed.service == "kms" and parsed.resource.startswith("key/"):
            return _not_star(f'Resource "{resource}" is a KMS key ARN', path)
        return _ineffective(
            path,
            f'Resource "{resource}" is not a KMS key ARN; a key policy only governs its own '
            "key, so this has no effect",
        )

    def _not_resource(self, resource: str, path: str) -> Finding | None:
        excluded = resource == "*" or (
            self.key_arn is not None and glob_match(resource, self.key_arn, ignore_case=False)
        )
        if excluded:
            return _ineffective(
                path,
                f'NotResource "{resource}" excludes this key, so the statement never applies to it',
            )
        return _not_star(f'The statement uses NotResource "{resource}" instead of a Resource', path)


_ABSENT: Any = object()  # an element the statement does not have


def _unknown_element(key: str, path: str) -> Finding:
    return make_finding(
        "ERROR",
        "UNKNOWN_ELEMENT",
        child_path(path, key),
        f'"{key}" is not a statement element; allowed are '
        f"{', '.join(STATEMENT_ELEMENTS)}.{did_you_mean(key, STATEMENT_ELEMENTS)}"
        " Remove or rename it.",
    )


def _effect_invalid(statement: Mapping[str, Any], path: str, effect: Any) -> Finding:
    what = "has no Effect" if effect is None else f"has Effect {json.dumps(effect)}"
    hint = did_you_mean(effect, ("Allow", "Deny")) if isinstance(effect, str) else ""
    return make_finding(
        "ERROR",
        "EFFECT_INVALID",
        child_path(path, "Effect") if "Effect" in statement else path,
        f'Statement {statement_label(statement, path)} {what}; it must be "Allow" or "Deny".{hint}',
    )


def _not_strings(path: str, element: str) -> Finding:
    message = f"{element} must be a string or a list of strings."
    return make_finding("ERROR", "INVALID_TYPE", child_path(path, element), message)


def _not_star(subject: str, path: str) -> Finding:
    return make_finding(
        "WARNING",
        "RESOURCE_NOT_STAR",
        path,
        f'{subject}, but {STAR_NOTICE}, so KMS may reject it. Write "Resource": "*" '
        "(in a key policy it means this key).",
    )


def _ineffective(path: str, problem: str) -> Finding:
    return make_finding(
        "WARNING",
        "RESOURCE_INEFFECTIVE",
        path,
        f'{problem}; and {STAR_NOTICE}. Use "Resource": "*", which in a key policy means this key.',
    )
