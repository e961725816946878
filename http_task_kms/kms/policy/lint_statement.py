"""The statement-level rules of :func:`~http_task_kms.kms.policy.lint.lint_policy`.

The finding codes are documented in :mod:`http_task_kms.kms.policy.lint`.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .arns import parse_arn
from .lint_principals import lint_allow_risks, lint_principal
from .model import (
    CONDITION_OPERATORS,
    STATEMENT_ELEMENTS,
    Finding,
    child_path,
    condition_operator_base,
    did_you_mean,
    glob_match,
    is_string_list,
    make_finding,
    statement_label,
    string_items,
)

__all__ = ["KMS_PERMISSION_ONLY_ACTIONS", "StatementLinter"]

#: IAM permissions of KMS that are not API operations (ReEncrypt is authorised as
#: ReEncryptFrom on the source key and ReEncryptTo on the destination key; multi-Region
#: key replication uses SynchronizeMultiRegionKey).
KMS_PERMISSION_ONLY_ACTIONS = frozenset(
    {"kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:SynchronizeMultiRegionKey"}
)
_EXCLUSIVE_PAIRS = (
    ("Principal", "NotPrincipal"),
    ("Action", "NotAction"),
    ("Resource", "NotResource"),
)
_WILDCARDS = ("*", "?")


def _all_operator_spellings() -> frozenset[str]:
    names = set(CONDITION_OPERATORS)
    names |= {f"{name}IfExists" for name in CONDITION_OPERATORS if name != "Null"}
    names |= {f"{prefix}{name}" for prefix in ("ForAllValues:", "ForAnyValue:") for name in names}
    return frozenset(names)


_OPERATOR_SPELLINGS = _all_operator_spellings()


@dataclass(frozen=True)
class StatementLinter:
    """Lints one statement at a time; ``key_arn`` and the KMS action set are fixed."""

    key_arn: str | None
    kms_actions: frozenset[str]

    def lint(self, statement: Mapping[str, Any], path: str) -> list[Finding]:
        """Every finding about one statement object at ``path``."""
        label = statement_label(statement, path)
        findings = self._structure(statement, path, label)
        effect = statement.get("Effect")
        for element in ("Principal", "NotPrincipal"):
            if element in statement:
                findings += lint_principal(statement[element], child_path(path, element))
        if effect == "Allow":
            findings += lint_allow_risks(statement, path, label)
        findings += self._actions(statement, path, label)
        findings += self._resources(statement, path, label)
        if "Condition" in statement:
            findings += self._condition(statement["Condition"], child_path(path, "Condition"))
        return findings

    # -- structure ---------------------------------------------------------------------

    def _structure(self, statement: Mapping[str, Any], path: str, label: str) -> list[Finding]:
        findings: list[Finding] = []
        for key in statement:
            if key not in STATEMENT_ELEMENTS:
                findings.append(
                    make_finding(
                        "ERROR",
                        "UNKNOWN_ELEMENT",
                        child_path(path, key),
                        f'"{key}" is not a statement element; allowed are '
                        f"{', '.join(STATEMENT_ELEMENTS)}.{did_you_mean(key, STATEMENT_ELEMENTS)}"
                        " Remove or rename it.",
                    )
                )
        if "Sid" in statement and not isinstance(statement["Sid"], str):
            findings.append(
                make_finding("ERROR", "INVALID_TYPE", child_path(path, "Sid"), "Sid must be a string.")
            )
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            what = "has no Effect" if effect is None else f"has Effect {json.dumps(effect)}"
            hint = did_you_mean(effect, ("Allow", "Deny")) if isinstance(effect, str) else ""
            findings.append(
                make_finding(
                    "ERROR",
                    "EFFECT_INVALID",
                    child_path(path, "Effect") if "Effect" in statement else path,
                    f'Statement {label} {what}; it must be "Allow" or "Deny".{hint}',
                )
            )
        for positive, negative in _EXCLUSIVE_PAIRS:
            if positive in statement and negative in statement:
                findings.append(
                    make_finding(
                        "ERROR",
                        "CONFLICTING_ELEMENTS",
                        path,
                        f"Statement {label} has both {positive} and {negative}, which IAM "
                        "does not allow in one statement. Keep one of them.",
                    )
                )
        if "Principal" not in statement and "NotPrincipal" not in statement:
            findings.append(
                make_finding(
                    "ERROR",
                    "PRINCIPAL_MISSING",
                    path,
                    f"Statement {label} names no Principal; KMS rejects key-policy statements "
                    'without one. Add one, e.g. "Principal": {"AWS": '
                    '"arn:aws:iam::111122223333:root"}.',
                )
            )
        return findings

    # -- actions -----------------------------------------------------------------------

    def _actions(self, statement: Mapping[str, Any], path: str, label: str) -> list[Finding]:
        element = "Action" if "Action" in statement else "NotAction"
        if element not in statement or statement[element] == []:
            return [
                make_finding(
                    "WARNING",
                    "ACTION_MISSING",
                    path,
                    f"Statement {label} has no Action or NotAction, so it has no effect. Add "
                    'the KMS actions it is meant to cover, e.g. "Action": "kms:Decrypt".',
                )
            ]
        value, element_path = statement[element], child_path(path, element)
        if not is_string_list(value):
            return [
                make_finding(
                    "ERROR",
                    "INVALID_TYPE",
                    element_path,
                    f"{element} must be a string or a list of strings.",
                )
            ]
        findings: list[Finding] = []
        for action, action_path in string_items(value, element_path):
            findings += self._action(action, action_path)
        return findings

    def _action(self, action: str, path: str) -> list[Finding]:
        if action == "*":
            return []
        service, colon, name = action.partition(":")
        if not colon or not service or not name or ":" in name:
            return [
                make_finding(
                    "ERROR",
                    "INVALID_ACTION",
                    path,
                    f'Action "{action}" is not of the form service:Action; write e.g. '
                    f'"kms:{action.rpartition(":")[2] or "Decrypt"}".',
                )
            ]
        if any(char in service for char in _WILDCARDS):
            return []
        if service.lower() != "kms":
            return [
                make_finding(
                    "WARNING",
                    "NON_KMS_ACTION",
                    path,
                    f'Action "{action}" belongs to {service}, not KMS; a key policy controls '
                    "only KMS operations on its key, so it has no effect here. Remove it or "
                    "move it to an IAM policy.",
                )
            ]
        lowered = _known_lower(self.kms_actions)
        if any(char in name for char in _WILDCARDS):
            if _wildcard_matches_any(action.lower(), self.kms_actions):
                return []
            return [
                make_finding(
                    "ERROR",
                    "KMS_WILDCARD_MATCHES_NOTHING",
                    path,
                    f'"{action}" matches no KMS action. Check the spelling of the prefix, or '
                    "list the actions explicitly.",
                )
            ]
        if action.lower() in lowered:
            return []
        close = difflib.get_close_matches(action.lower(), sorted(lowered), n=1)
        hint = f' Did you mean "{lowered[close[0]]}"?' if close else ""
        return [
            make_finding(
                "ERROR",
                "UNKNOWN_KMS_ACTION",
                path,
                f'"{action}" is not a KMS action.{hint} See the KMS API reference for the operation names.',
            )
        ]

    # -- resources ---------------------------------------------------------------------

    def _resources(self, statement: Mapping[str, Any], path: str, label: str) -> list[Finding]:
        element = "Resource" if "Resource" in statement else "NotResource"
        if element not in statement or statement[element] == []:
            return [
                make_finding(
                    "WARNING",
                    "RESOURCE_MISSING",
                    path,
                    f"Statement {label} has no Resource or NotResource, so it has no effect. "
                    'Add "Resource": "*" (in a key policy, "*" means this key).',
                )
            ]
        value, element_path = statement[element], child_path(path, element)
        if not is_string_list(value):
            return [
                make_finding(
                    "ERROR",
                    "INVALID_TYPE",
                    element_path,
                    f"{element} must be a string or a list of strings.",
                )
            ]
        findings: list[Finding] = []
        for resource, resource_path in string_items(value, element_path):
            message = (
                self._resource_problem(resource)
                if element == "Resource"
                else self._not_resource_problem(resource)
            )
            if message:
                findings.append(make_finding("WARNING", "RESOURCE_INEFFECTIVE", resource_path, message))
        return findings

    def _resource_problem(self, resource: str) -> str | None:
        if resource == "*":
            return None
        if self.key_arn is not None:
            if glob_match(resource, self.key_arn, ignore_case=False):
                return None
            return (
                f'Resource "{resource}" does not match this key ({self.key_arn}); a key '
                'policy only governs its own key, so this has no effect. Use "*", which in a '
                "key policy means this key."
            )
        parsed = parse_arn(resource)
        if parsed is not None and parsed.service == "kms" and parsed.resource.startswith("key/"):
            return None
        return (
            f'Resource "{resource}" is not a KMS key ARN; a key policy only governs its own '
            'key, so this has no effect. Use "*", which in a key policy means this key.'
        )

    def _not_resource_problem(self, resource: str) -> str | None:
        excluded = resource == "*" or (
            self.key_arn is not None and glob_match(resource, self.key_arn, ignore_case=False)
        )
        if not excluded:
            return None
        return (
            f'NotResource "{resource}" excludes this key, so the statement never applies to '
            'it. Use "Resource": "*" instead.'
        )

    # -- conditions --------------------------------------------------------------------

    def _condition(self, condition: Any, path: str) -> list[Finding]:
        if not isinstance(condition, Mapping):
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
            operator_path = child_path(path, operator)
            if condition_operator_base(operator) is None:
                findings.append(
                    make_finding(
                        "ERROR",
                        "CONDITION_OPERATOR_UNKNOWN",
                        operator_path,
                        f'"{operator}" is not an IAM condition operator.'
                        f"{did_you_mean(operator, _OPERATOR_SPELLINGS)} Operators are names "
                        "such as StringEquals or ArnLike, optionally prefixed with "
                        "ForAllValues:/ForAnyValue: or suffixed with IfExists.",
                    )
                )
            if not isinstance(block, Mapping) or not all(
                _is_condition_value(value) for value in block.values()
            ):
                findings.append(
                    make_finding(
                        "ERROR",
                        "INVALID_TYPE",
                        operator_path,
                        f"{operator} must map condition keys to a value or a list of values, "
                        'e.g. {"kms:CallerAccount": "111122223333"}.',
                    )
                )
        return findings


def _is_condition_value(value: Any) -> bool:
    scalar = (str, bool, int, float)
    return isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(item, scalar) for item in value)
    )


@functools.cache
def _known_lower(kms_actions: frozenset[str]) -> dict[str, str]:
    """Lower-cased name → name of every action a key policy may name (computed once)."""
    return {action.lower(): action for action in kms_actions | KMS_PERMISSION_ONLY_ACTIONS}


@functools.lru_cache(maxsize=4096)
def _wildcard_matches_any(pattern: str, kms_actions: frozenset[str]) -> bool:
    """Whether an action glob matches any KMS action (memoised: policies repeat their globs)."""
    return any(glob_match(pattern, candidate, ignore_case=True) for candidate in _known_lower(kms_actions))
