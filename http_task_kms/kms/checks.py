"""Pre-flight checks of a rendered PutKeyPolicy request (pure apart from ``caller_arn``).

Codes: KEY_ID_ALIAS, KEY_ID_INVALID, KEY_ARN_REGION_MISMATCH, KEY_ARN_PARTITION_MISMATCH,
POLICY_NAME_INVALID, CROSS_ACCOUNT, LOCKOUT_FAIL, LOCKOUT_BYPASSED, LOCKOUT_UNCERTAIN,
LOCKOUT_DELEGATED, LOCKOUT_NOT_CHECKED, plus the key-policy lint codes of
:mod:`http_task_kms.kms.policy.lint` (field ``Policy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import jsonutil
from ..plugins.types import Check, RequestContext
from .policy.arns import KEY_ID_RE, is_alias, is_key_arn, parse_arn
from .policy.lint import lint_policy
from .policy.lockout import check_lockout

__all__ = ["check_put_key_policy", "key_arn_for"]

# Reported by the schema's x-maxBytes rule already (with the size): not twice.
_SCHEMA_DUPLICATES = frozenset({"POLICY_TOO_LARGE"})


def _error(code: str, field: str, message: str, path: str = "$") -> Check:
    return Check(severity="ERROR", code=code, field=field, message=message, path=path)


def _key_id_checks(key_id: Any, context: RequestContext) -> list[Check]:
    if not isinstance(key_id, str) or not key_id:
        return []  # the schema reports type and length
    if is_alias(key_id):
        return [
            _error(
                "KEY_ID_ALIAS",
                "KeyId",
                f"{key_id!r} is an alias; PutKeyPolicy does not accept aliases. Use the key ID "
                f"or key ARN: `aws kms describe-key --key-id {key_id}` shows it as "
                "KeyMetadata.KeyId (or use ListAliases' TargetKeyId)",
            )
        ]
    if KEY_ID_RE.match(key_id):
        return []
    if not is_key_arn(key_id):
        return [
            _error(
                "KEY_ID_INVALID",
                "KeyId",
                "must be a key ID (a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk- "
                "followed by 32 hex digits for a multi-Region key) or a key ARN "
                "arn:<partition>:kms:<region>:<account>:key/<key-id>",
            )
        ]
    arn = parse_arn(key_id)
    endpoint = context.endpoint
    if arn is None or endpoint is None:
        return []
    problems = []
    if arn.region != endpoint.region:
        problems.append(
            _error(
                "KEY_ARN_REGION_MISMATCH",
                "KeyId",
                f"the key ARN is in {arn.region} but the request goes to {endpoint.region}; "
                f"set region to {arn.region} (or use that Region's key)",
            )
        )
    if arn.partition != endpoint.partition:
        problems.append(
            _error(
                "KEY_ARN_PARTITION_MISMATCH",
                "KeyId",
                f"the key ARN is in partition {arn.partition} but the endpoint is in {endpoint.partition}",
            )
        )
    return problems


def key_arn_for(key_id: str, *, account: str | None, region: str, partition: str) -> str | None:
    """The key ARN named by a key ID or ARN (a bare key ID needs the caller's account)."""
    if is_key_arn(key_id):
        return key_id
    if KEY_ID_RE.match(key_id) and account:
        return f"arn:{partition}:kms:{region}:{account}:key/{key_id}"
    return None


def _caller_checks(
    body: Mapping[str, Any], policy: Mapping[str, Any], context: RequestContext
) -> list[Check]:
    """Cross-account guard and lockout check: they need the caller's identity."""
    caller = context.caller_arn()
    if not caller:
        if context.dry_run:
            return [
                Check(
                    severity="WARNING",
                    code="LOCKOUT_NOT_CHECKED",
                    field="Policy",
                    message="dry run: the caller is not looked up (nothing is sent), so the lockout "
                    "check did not run; pass --caller-arn to run it",
                )
            ]
        reason = context.caller_problem()
        return [
            _error(
                "LOCKOUT_NOT_CHECKED",
                "caller-arn",
                "the caller's identity could not be determined with sts:GetCallerIdentity"
                f"{f' ({reason})' if reason else ''}, so the lockout check cannot run and nothing was "
                "sent; check the credentials and the STS endpoint (--sts-endpoint-url), or pass "
                "--caller-arn ARN",
            )
        ]
    caller_arn = parse_arn(caller)
    if caller_arn is None or not caller_arn.account:
        return [
            _error(
                "CALLER_ARN_INVALID",
                "caller-arn",
                f"{caller!r} is not an IAM or STS ARN such as arn:aws:iam::111122223333:role/Admin",
            )
        ]
    key_id = body.get("KeyId")
    endpoint = context.endpoint
    if not isinstance(key_id, str) or endpoint is None:
        return []
    key_arn = key_arn_for(
        key_id, account=caller_arn.account, region=endpoint.region, partition=endpoint.partition
    )
    parsed_key = parse_arn(key_arn) if key_arn else None
    if parsed_key is not None and parsed_key.account != caller_arn.account:
        return [
            _error(
                "CROSS_ACCOUNT",
                "KeyId",
                f"the key belongs to account {parsed_key.account} but the caller is in account "
                f"{caller_arn.account}; PutKeyPolicy cannot be used across accounts. Run it with "
                "credentials of the key's account",
            )
        ]
    result = check_lockout(policy, caller_arn=caller, key_arn=key_arn)
    where = result.statements[0] if result.statements else "$"
    if result.verdict == "FAIL":
        if body.get("BypassPolicyLockoutSafetyCheck") is True:
            return [
                Check(
                    severity="SECURITY_WARNING",
                    code="LOCKOUT_BYPASSED",
                    field="Policy",
                    path=where,
                    message=f"LOCKOUT RISK: {result.reason}. BypassPolicyLockoutSafetyCheck is "
                    "true, so the policy is sent anyway; the caller may never be able to change "
                    "this key's policy again",
                )
            ]
        return [
            _error(
                "LOCKOUT_FAIL",
                "Policy",
                f"{result.reason}. This policy would lock {caller} out of the key; add a statement "
                "allowing it kms:PutKeyPolicy (or set BypassPolicyLockoutSafetyCheck to true if "
                "that is really intended)",
                where,
            )
        ]
    if result.verdict == "UNCERTAIN":
        return [
            Check(
                severity="WARNING",
                code="LOCKOUT_UNCERTAIN",
                field="Policy",
                path=where,
                message=result.reason,
            )
        ]
    if result.verdict == "PASS_DELEGATED":
        return [
            Check(
                severity="SUGGESTION",
                code="LOCKOUT_DELEGATED",
                field="Policy",
                path=where,
                message=result.reason,
            )
        ]
    return []


def check_put_key_policy(context: RequestContext) -> list[Check]:
    """Every finding about a PutKeyPolicy body, at once."""
    body = context.body
    if not isinstance(body, Mapping):
        return []
    checks = _key_id_checks(body.get("KeyId"), context)
    name = body.get("PolicyName")
    if isinstance(name, str) and name != "default":
        checks.append(
            _error(
                "POLICY_NAME_INVALID",
                "PolicyName",
                f"{name!r} is not valid: the only valid value is 'default'",
            )
        )
    text = body.get("Policy")
    if not isinstance(text, str):
        return checks
    key_id = body.get("KeyId")
    key_arn = key_id if isinstance(key_id, str) and is_key_arn(key_id) else None
    findings = [f for f in lint_policy(text, key_arn=key_arn) if f.code not in _SCHEMA_DUPLICATES]
    checks += [
        Check(severity=f.severity, code=f.code, field="Policy", message=f.message, path=f.path)
        for f in findings
    ]
    if context.valid_so_far and not any(c.severity == "ERROR" for c in checks):
        policy = jsonutil.loads(text)  # the linter found it valid
        checks += _caller_checks(body, policy, context)
    return checks
