"""Checks of a rendered PutKeyPolicy request — pure: data in, findings out.

Two passes, as the host runs them (:func:`check_put_key_policy`): first what the request
itself says (key id, policy name, the policy's lint — UNMANAGEABLE_KEY included, which needs
no caller); then, with the caller the plugin's preflight found (facts ``kms.caller`` /
``kms.caller_problem``), :func:`caller_checks`: the cross-account guard and the lockout
check, which ``lint-policy --caller-arn`` runs too.

The operator's acknowledgements come from the plugin options (``context.options``):
``allow_unmanageable_key`` (``--allow-unmanageable-key``) and ``allow_public_principal``
(``--allow-public-principal``; ``Options(plugin_options={"allow_public_principal": True})``
in the host API). Nothing in a task or its input can set them.

Codes: KEY_ID_ALIAS, KEY_ID_INVALID, KEY_ARN_REGION_MISMATCH, KEY_ARN_PARTITION_MISMATCH,
POLICY_NAME_INVALID, CALLER_ARN_INVALID, CROSS_ACCOUNT, LOCKOUT_FAIL, LOCKOUT_BYPASSED,
LOCKOUT_UNCERTAIN, LOCKOUT_DELEGATED, LOCKOUT_NOT_CHECKED, plus the key-policy lint codes of
:mod:`http_task_kms.kms.policy.lint` (field ``Policy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import jsonutil
from ..endpoints import Endpoint
from ..plugins.types import Check, RequestContext
from .policy.arns import KEY_ID_RE, classify_aws_principal, is_alias, is_key_arn, parse_arn
from .policy.lint import lint_policy
from .policy.lockout import CALLER_KINDS, LockoutResult, check_lockout

__all__ = ["CALLER", "CALLER_PROBLEM", "caller_checks", "check_put_key_policy", "key_arn_for"]

#: The facts the preflight adds: the caller's ARN (None if unknown), and why it is unknown.
CALLER, CALLER_PROBLEM = "kms.caller", "kms.caller_problem"

# Reported by the schema's x-maxBytes rule already (with the size): not twice.
_SCHEMA_DUPLICATES = frozenset({"POLICY_TOO_LARGE"})


def _error(code: str, field: str, message: str, path: str = "$") -> Check:
    return Check(severity="ERROR", code=code, field=field, message=message, path=path)


def _alias(key_id: str) -> Check:
    return _error(
        "KEY_ID_ALIAS",
        "KeyId",
        f"{key_id!r} is an alias; PutKeyPolicy does not accept aliases. Use the key ID "
        f"or key ARN: `aws kms describe-key --key-id {key_id}` shows it as "
        "KeyMetadata.KeyId (or use ListAliases' TargetKeyId)",
    )


_KEY_ID_INVALID = _error(
    "KEY_ID_INVALID",
    "KeyId",
    "must be a key ID (a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk- "
    "followed by 32 hex digits for a multi-Region key) or a key ARN "
    "arn:<partition>:kms:<region>:<account>:key/<key-id>",
)


def _key_arn_checks(key_arn: str, endpoint: Endpoint | None) -> list[Check]:
    """A key ARN must be in the Region and partition the request goes to."""
    arn = parse_arn(key_arn)
    if arn is None or endpoint is None:
        return []
    problems = []
    if arn.region != endpoint.region:
        message = (
            f"the key ARN is in {arn.region} but the request goes to {endpoint.region}; "
            f"set region to {arn.region} (or use that Region's key)"
        )
        problems.append(_error("KEY_ARN_REGION_MISMATCH", "KeyId", message))
    if arn.partition != endpoint.partition:
        message = f"the key ARN is in partition {arn.partition} but the endpoint is in {endpoint.partition}"
        problems.append(_error("KEY_ARN_PARTITION_MISMATCH", "KeyId", message))
    return problems


def _key_id_checks(key_id: Any, context: RequestContext) -> list[Check]:
    if not isinstance(key_id, str) or not key_id or KEY_ID_RE.match(key_id):
        return []  # the schema reports type and length
    if is_alias(key_id):
        return [_alias(key_id)]
    if not is_key_arn(key_id):
        return [_KEY_ID_INVALID]
    return _key_arn_checks(key_id, context.endpoint)


def key_arn_for(key_id: str, *, account: str | None, region: str, partition: str) -> str | None:
    """The key ARN named by a key ID or ARN (a bare key ID needs the caller's account)."""
    if is_key_arn(key_id):
        return key_id
    if KEY_ID_RE.match(key_id) and account:
        return f"arn:{partition}:kms:{region}:{account}:key/{key_id}"
    return None


def _not_checked(context: RequestContext, reason: str | None) -> Check:
    if context.dry_run:
        return Check(
            severity="WARNING",
            code="LOCKOUT_NOT_CHECKED",
            field="Policy",
            message="dry run: the caller is not looked up (nothing is sent), so the lockout "
            "check did not run; pass --caller-arn to run it",
        )
    return _error(
        "LOCKOUT_NOT_CHECKED",
        "caller-arn",
        "the caller's identity could not be determined with sts:GetCallerIdentity"
        f"{f' ({reason})' if reason else ''}, so the lockout check cannot run and nothing was "
        "sent; check the credentials and the STS endpoint (--sts-endpoint-url), or pass "
        "--caller-arn ARN",
    )


def _cross_account(key_arn: str | None, caller_account: str) -> list[Check]:
    parsed_key = parse_arn(key_arn) if key_arn else None
    if parsed_key is None or parsed_key.account == caller_account:
        return []
    return [
        _error(
            "CROSS_ACCOUNT",
            "KeyId",
            f"the key belongs to account {parsed_key.account} but the caller is in account "
            f"{caller_account}; PutKeyPolicy cannot be used across accounts. Run it with "
            "credentials of the key's account",
        )
    ]


def _lockout_finding(verdict: LockoutResult, caller: str, bypass: bool) -> list[Check]:
    """The finding of a lockout verdict (none for a plain PASS)."""
    where = verdict.statements[0] if verdict.statements else "$"
    if verdict.verdict == "FAIL" and bypass:
        message = (
            f"LOCKOUT RISK: {verdict.reason} BypassPolicyLockoutSafetyCheck is true, so the policy is "
            f"sent anyway, and {caller} may never be able to change this key's policy again"
        )
        return [
            Check(
                severity="SECURITY_WARNING",
                code="LOCKOUT_BYPASSED",
                field="Policy",
                path=where,
                message=message,
            )
        ]
    if verdict.verdict == "FAIL":
        message = (
            f"{verdict.reason} KMS refuses such a policy; with BypassPolicyLockoutSafetyCheck true it "
            f"would accept it and lock {caller} out of this key's policy"
        )
        return [_error("LOCKOUT_FAIL", "Policy", message, where)]
    severity = {"UNCERTAIN": "WARNING", "PASS_DELEGATED": "SUGGESTION"}.get(verdict.verdict)
    if severity is None:
        return []
    code = "LOCKOUT_UNCERTAIN" if verdict.verdict == "UNCERTAIN" else "LOCKOUT_DELEGATED"
    return [Check(severity=severity, code=code, field="Policy", path=where, message=verdict.reason)]


def _caller_arn_invalid(caller: str) -> Check:
    problem = classify_aws_principal(caller).problem
    return _error(
        "CALLER_ARN_INVALID",
        "caller-arn",
        f"{caller!r} is not the ARN of an IAM user, role, role session, federated user or root "
        f"(as sts:GetCallerIdentity returns it){f': {problem}' if problem else ''}; use e.g. "
        "arn:aws:sts::111122223333:assumed-role/Admin/alice or arn:aws:iam::111122223333:role/Admin",
    )


def caller_checks(
    policy: Mapping[str, Any],
    caller: str,
    *,
    key_id: str | None,
    endpoint: Endpoint | None = None,
    bypass: bool = False,
) -> tuple[list[Check], LockoutResult | None]:
    """The checks that need the caller (CALLER_ARN_INVALID, CROSS_ACCOUNT, LOCKOUT_*) and the verdict.

    Shared by the PutKeyPolicy checks' second pass and ``lint-policy --caller-arn``. ``key_id``
    is the request's KeyId (a bare key ID needs ``endpoint`` and the caller's account to make
    a key ARN) or ``lint-policy``'s ``--key-arn``; ``bypass`` is BypassPolicyLockoutSafetyCheck.
    The verdict is None when the caller or the key rules the lockout check out.
    """
    principal = classify_aws_principal(caller)
    if principal.kind not in CALLER_KINDS or not principal.account:
        return [_caller_arn_invalid(caller)], None
    key_arn = key_id
    if key_id is not None and endpoint is not None:
        key_arn = key_arn_for(
            key_id, account=principal.account, region=endpoint.region, partition=endpoint.partition
        )
    crossing = _cross_account(key_arn, principal.account)
    if crossing:
        return crossing, None
    verdict = check_lockout(policy, caller_arn=caller, key_arn=key_arn)
    return _lockout_finding(verdict, caller, bypass), verdict


def _second_pass(body: Mapping[str, Any], context: RequestContext, facts: Mapping[str, Any]) -> list[Check]:
    """Cross-account guard and lockout check, for the caller the preflight found."""
    caller = facts.get(CALLER)
    if not caller:
        return [_not_checked(context, facts.get(CALLER_PROBLEM))]
    key_id, endpoint = body.get("KeyId"), context.endpoint
    if not isinstance(key_id, str) or endpoint is None:
        return []
    policy = _policy(context, body["Policy"]).value()  # the first pass found it valid
    bypass = body.get("BypassPolicyLockoutSafetyCheck") is True
    found, _ = caller_checks(policy, str(caller), key_id=key_id, endpoint=endpoint, bypass=bypass)
    return found


def _policy_name_checks(name: Any) -> list[Check]:
    if isinstance(name, str) and name != "default":
        return [
            _error(
                "POLICY_NAME_INVALID",
                "PolicyName",
                f"{name!r} is not valid: the only valid value is 'default'",
            )
        ]
    return []


def _policy(context: RequestContext, text: str) -> jsonutil.Document:
    """The policy as the host read it for this request (one parse for both passes)."""
    document = context.documents.get("Policy")
    return document if document is not None and document.text == text else jsonutil.Document(text)


def _lint(policy: jsonutil.Document, key_id: Any, options: Mapping[str, Any]) -> list[Check]:
    key_arn = key_id if isinstance(key_id, str) and is_key_arn(key_id) else None
    findings = lint_policy(
        policy,
        key_arn=key_arn,
        allow_unmanageable_key=options.get("allow_unmanageable_key") is True,
        allow_public_principal=options.get("allow_public_principal") is True,
    )
    return [
        Check(severity=f.severity, code=f.code, field="Policy", message=f.message, path=f.path)
        for f in findings
        if f.code not in _SCHEMA_DUPLICATES
    ]


def check_put_key_policy(context: RequestContext) -> list[Check]:
    """Every finding about a PutKeyPolicy body, at once (the caller's, in the second pass)."""
    body = context.body
    if not isinstance(body, Mapping):
        return []
    text = body.get("Policy")
    if context.facts is not None:
        return _second_pass(body, context, context.facts) if isinstance(text, str) else []
    return [
        *_key_id_checks(body.get("KeyId"), context),
        *_policy_name_checks(body.get("PolicyName")),
        *(_lint(_policy(context, text), body.get("KeyId"), context.options) if isinstance(text, str) else []),
    ]
