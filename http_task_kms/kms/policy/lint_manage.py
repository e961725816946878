"""Can anyone ever change this key's policy again? The UNMANAGEABLE_KEY rule, offline.

Whoever calls PutKeyPolicy, KMS refuses a policy that would not let the caller call it
again (unless BypassPolicyLockoutSafetyCheck is true — then the key may be left
unmanageable for good). A policy under which *no* AWS principal can call
``kms:PutKeyPolicy`` fails that check for every caller, so it is refused here without
knowing who calls (no ``--caller-arn`` needed):

- an Allow *covers* ``kms:PutKeyPolicy`` when its Action (or everything its NotAction
  leaves) matches it and its Resource can be this key;
- it *applies to an AWS principal* when its Principal names ``"*"``, an account (the root
  ARN or a bare account ID: delegation to the account's IAM policies), an IAM user or role,
  a role session or a federated user — conditioned or not; Service, Federated and
  CanonicalUser principals do not count. An Allow with NotPrincipal counts (it applies to
  everyone it does not list);
- it is *cancelled* for a principal by a Deny without a Condition that covers
  ``kms:PutKeyPolicy`` on this key and names that principal, its account, or ``"*"``
  (a Deny with NotPrincipal cancels it only when it lists nothing of that principal's
  account).

Anything undecidable counts in the policy's favour: the rule reports only a policy that
surely leaves the key without a manager. ``BypassPolicyLockoutSafetyCheck`` does not
silence it (it bypasses KMS's check, not this one); only the operator's
``--allow-unmanageable-key`` turns the ERROR into a SECURITY_WARNING.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .arns import classify_aws_principal, parse_arn
from .lint_actions import covers_put_key_policy
from .model import (
    Finding,
    as_list,
    glob_match,
    has_condition,
    is_object,
    iter_statements,
    make_finding,
    statement_label,
)

__all__ = ["DEFAULT_KEY_POLICY_DOC", "lint_manageable"]

DEFAULT_KEY_POLICY_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
_AWS_KINDS = frozenset({"any", "account", "root", "user", "role", "assumed_role", "federated_user"})
_EVERYONE = "*"
_ALL_BUT = "all but those listed in NotPrincipal"


@dataclass(frozen=True)
class _Grantee:
    """One AWS principal value an Allow grants kms:PutKeyPolicy to, with its account."""

    value: str
    account: str | None


def _may_cover_key(statement: Mapping[str, Any], key_arn: str | None) -> bool:
    """Whether the statement's Resource can be this key (unknown counts as yes)."""
    if statement.get("Resource") == "*":
        return True
    if "Resource" in statement:
        items = [i for i in as_list(statement["Resource"]) if isinstance(i, str)]
        if key_arn is not None:
            return any(glob_match(item, key_arn, ignore_case=False) for item in items)
        return any(item == "*" or _kms_key_pattern(item) for item in items)
    if "NotResource" in statement:
        items = [i for i in as_list(statement["NotResource"]) if isinstance(i, str)]
        if "*" in items:
            return False
        return key_arn is None or not any(glob_match(i, key_arn, ignore_case=False) for i in items)
    return False


def _surely_covers_key(statement: Mapping[str, Any], key_arn: str | None) -> bool:
    """Whether the statement's Resource is surely this key (for a Deny to cancel an Allow)."""
    items = [i for i in as_list(statement.get("Resource")) if isinstance(i, str)]
    if "*" in items:
        return True
    return key_arn is not None and any(glob_match(item, key_arn, ignore_case=False) for item in items)


def _kms_key_pattern(item: str) -> bool:
    parsed = parse_arn(item)
    return parsed is not None and parsed.service in ("kms", "*") and parsed.resource[:4] in ("key/", "*")


def _aws_values(principal: Any) -> list[str]:
    if principal == "*":
        return [_EVERYONE]
    if not is_object(principal):
        return []
    return [value for value in as_list(principal.get("AWS")) if isinstance(value, str)]


def _grantees(statement: Mapping[str, Any]) -> list[_Grantee]:
    if "NotPrincipal" in statement and "Principal" not in statement:
        excluded = _aws_values(statement["NotPrincipal"])
        return [] if _EVERYONE in excluded else [_Grantee(_ALL_BUT, None)]
    grantees = []
    for value in _aws_values(statement.get("Principal")):
        principal = classify_aws_principal(value)
        if principal.kind in _AWS_KINDS:
            grantees.append(_Grantee(value, principal.account))
    return grantees


def _accounts(values: list[str]) -> set[str | None]:
    return {classify_aws_principal(v).account for v in values if v != _EVERYONE}


def _cancels(deny: Mapping[str, Any], grantee: _Grantee) -> bool:
    """Whether an unconditioned Deny (already known to cover the action and key) cancels ``grantee``."""
    if "NotPrincipal" in deny and "Principal" not in deny:
        listed = _aws_values(deny["NotPrincipal"])
        if grantee.value in (_EVERYONE, _ALL_BUT):
            return not listed
        return grantee.value not in listed and grantee.account not in _accounts(listed)
    named = _aws_values(deny.get("Principal"))
    if _EVERYONE in named:
        return True
    if grantee.value in (_EVERYONE, _ALL_BUT):
        return False
    if grantee.value in named:
        return True
    whole_accounts = {p.account for p in map(classify_aws_principal, named) if p.kind in ("account", "root")}
    return grantee.account in whole_accounts


def _no_grantee(allow: Mapping[str, Any], label: str) -> str:
    if "Principal" not in allow and "NotPrincipal" not in allow:
        return f"{label} allows it but names no principal"
    return f"{label} allows it to no AWS account, role or user (service principals cannot manage a key)"


def _account_hint(document: Mapping[str, Any], key_arn: str | None) -> str:
    """The account to write into the suggested root statement: the key's, or one the policy names."""
    key = parse_arn(key_arn) if key_arn else None
    if key is not None and key.account:
        return key.account
    for _, statement in iter_statements(document):
        if is_object(statement):
            for value in _aws_values(statement.get("Principal")):
                account = classify_aws_principal(value).account
                if account:
                    return account
    return "<account-id>"


def lint_manageable(
    document: Mapping[str, Any],
    statements: Sequence[tuple[str, Mapping[str, Any]]] | None = None,
    *,
    key_arn: str | None = None,
    acknowledged: bool = False,
) -> list[Finding]:
    """UNMANAGEABLE_KEY when no AWS principal could ever call kms:PutKeyPolicy under ``document``.

    ``statements`` are its statement objects with their paths, if the caller has them already.
    ``acknowledged`` is the operator's ``--allow-unmanageable-key``: the finding is then a
    SECURITY_WARNING instead of an ERROR.
    """
    if statements is None:
        statements = [(p, s) for p, s in iter_statements(document) if is_object(s)]
    if not statements:
        return []  # STATEMENT_MISSING or INVALID_TYPE says what is wrong
    denies = [
        (path, s)
        for path, s in statements
        if s.get("Effect") == "Deny"
        and not has_condition(s)
        and covers_put_key_policy(s)
        and _surely_covers_key(s, key_arn)
    ]
    notes: list[str] = []
    for path, allow in statements:  # the Allows that grant it, in order, until one surely does
        if allow.get("Effect") != "Allow" or not covers_put_key_policy(allow):
            continue
        if not _may_cover_key(allow, key_arn):
            continue
        label = statement_label(allow, path)
        grantees = _grantees(allow)
        if not grantees:
            notes.append(_no_grantee(allow, label))
            continue
        if any(not any(_cancels(deny, g) for _, deny in denies) for g in grantees):
            return []  # someone keeps kms:PutKeyPolicy
        cancelling = sorted(
            {statement_label(d, p) for p, d in denies if any(_cancels(d, g) for g in grantees)}
        )
        notes.append(f"{label} allows it, but the Deny in {', '.join(cancelling)} overrides it")
    return [_finding(document, notes, key_arn=key_arn, acknowledged=acknowledged)]


def _finding(
    document: Mapping[str, Any], notes: list[str], *, key_arn: str | None, acknowledged: bool
) -> Finding:
    account = _account_hint(document, key_arn)
    why = f" ({'; '.join(notes)})" if notes else ""
    problem = (
        "no statement lets any AWS principal (an account, IAM role or user) call kms:PutKeyPolicy on "
        f"this key{why}, so nobody could ever change its policy again: KMS refuses such a policy "
        "(MalformedPolicyDocumentException), and with BypassPolicyLockoutSafetyCheck it would leave "
        "the key unmanageable for good"
    )
    path = "$.Statement" if "Statement" in document else "$"
    if acknowledged:
        return make_finding(
            "SECURITY_WARNING",
            "UNMANAGEABLE_KEY",
            path,
            f"Acknowledged by --allow-unmanageable-key: {problem}.",
        )
    fix = (
        'Add the default key policy\'s statement {"Sid": "Enable IAM User Permissions", "Effect": '
        f'"Allow", "Principal": {{"AWS": "arn:aws:iam::{account}:root"}}, "Action": "kms:*", '
        '"Resource": "*"}, which lets the account\'s IAM policies decide who manages the key '
        f"({DEFAULT_KEY_POLICY_DOC}), or allow kms:PutKeyPolicy to the role that administers it. "
        "BypassPolicyLockoutSafetyCheck does not accept this; only the operator can, with "
        "--allow-unmanageable-key."
    )
    return make_finding("ERROR", "UNMANAGEABLE_KEY", path, f"{problem[0].upper()}{problem[1:]}. {fix}")
