"""Never lose the policy that was there: read it, diff it, back it up, send, then verify.

Before PutKeyPolicy the current policy is read with GetKeyPolicy (the plugin's own template,
through the session: the same signing and transport code), compared statement by statement
with the new one, and written to a backup file (:mod:`.backup`). An equivalent policy is not
sent unless ``force``. A ``MalformedPolicyDocumentException`` about a principal, when every
principal is well-formed, is retried for a bounded time: a principal created moments ago
may not be visible to KMS yet. Lockout and syntax errors are never retried. After a write
that succeeded, the policy is read back until KMS shows it (:mod:`.verify`; ``no_verify``
skips it); a verification that fails makes the result ``ok: false`` with ``statusCode`` 200
and ``error.code`` ``VerificationFailed``.

No lost update: that one read is the backup, the base of the diff (and of the access diff)
and the "previous" policy of the verification, and it is made immediately before the
write — the caller lookup (STS) and every check run before it, and nothing between it and
the write but the diff and the backup file. A window remains between the read and the
write: KMS has no conditional write (no ETag, no "only if unchanged"), so a change someone
else makes in it is overwritten. The verification sees a change that lands after our
write, or that KMS still shows to some reads: a read that is neither our policy nor the
one we read is "changed by someone else". One fully overwritten before the first read
back is not detected: keep the window short.

With ``force`` and a GetKeyPolicy that failed, the policy is sent without a backup and the
result says so loudly: ``backupFile: null`` and a ``NO_BACKUP`` SECURITY_WARNING.

Seams for a caller that changes many keys (``apply``, :mod:`.rollout`): :class:`SafetyHooks`
paces every GetKeyPolicy (``before_read``), may refuse a current policy it does not expect
(``check_current``: a key resumed after an interruption must still show the policy backed up
or the one sent), and learns the backup file immediately before the write (``before_write``:
the rollout journals the key as being sent; one fsynced line, like the backup itself).
:func:`preview_key_policy` is the dry run: the same read, diff and access diff, nothing written.
By default there are no hooks and nothing changes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import jsonutil
from ..config import PRINCIPAL_WAIT_SECONDS
from ..errors import Interrupted, Problem
from ..result import ErrorDetail, TestRequestResult, failed_step, preflight_failure, validation_failure
from .backup import default_backup_dir, write_backup
from .policy.access import access_json
from .policy.diff import diff_policies
from .policy.lint import lint_policy
from .templates import own_template
from .verify import SKIPPED, Verification, VerifySettings, verify_policy

if TYPE_CHECKING:
    from ..plugins.types import PreparedRequest, Session

__all__ = [
    "NO_HOOKS",
    "SafetyHooks",
    "preview_key_policy",
    "put_key_policy_safely",
    "send_with_principal_wait",
]

_PRINCIPAL_WORDS = re.compile(r"principal", re.IGNORECASE)
_LOCKOUT_WORDS = re.compile(r"not allow you to update the key policy", re.IGNORECASE)
_MALFORMED_PRINCIPAL_CODES = frozenset(
    {"PRINCIPAL_ARN_INVALID", "ACCOUNT_ID_INVALID", "PRINCIPAL_TYPE_UNKNOWN"}
)


def _nothing(*_: Any) -> None:
    return None


@dataclass(frozen=True)
class SafetyHooks:
    """What a caller of many changes may add around one (``apply``); each does nothing by default.

    - ``before_read()``: before every GetKeyPolicy of the change (the read, each read back) —
      pacing at its quota;
    - ``check_current(policy)``: the current policy just read; a reason to stop (nothing is
      backed up or sent) or None;
    - ``before_write(backup_file)``: after the backup is written, immediately before
      PutKeyPolicy is sent (``None`` with ``--force`` and no readable policy).
    """

    before_read: Callable[[], object] = _nothing
    check_current: Callable[[str], str | None] = _nothing
    before_write: Callable[[str | None], None] = _nothing


#: No hooks: :func:`put_key_policy_safely` as ``test-request`` runs it.
NO_HOOKS = SafetyHooks()


class _Sender(Protocol):
    def send(self, request: PreparedRequest) -> TestRequestResult: ...


def _principals_well_formed(policy: str) -> bool:
    return not any(f.code in _MALFORMED_PRINCIPAL_CODES for f in lint_policy(policy))


def _may_still_succeed(result: TestRequestResult, policy: str) -> bool:
    """A principal KMS cannot see yet, when the policy's principals are all well-formed."""
    error = result.error
    if error is None or error.code != "MalformedPolicyDocumentException":
        return False
    if _LOCKOUT_WORDS.search(error.message) or not _PRINCIPAL_WORDS.search(error.message):
        return False
    return _principals_well_formed(policy)


def send_with_principal_wait(
    session: _Sender,
    request: PreparedRequest,
    *,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TestRequestResult:
    """Send; retry a not-yet-visible principal with backoff for at most ``wait_seconds``."""
    started, delay, attempts = clock(), 2.0, 0
    policy = request.body.get("Policy", "") if isinstance(request.body, dict) else ""
    while True:
        result = session.send(request)
        attempts += result.attempts
        remaining = wait_seconds - (clock() - started)
        waiting = _may_still_succeed(result, policy)
        if not waiting or remaining <= 0:
            result.attempts = attempts
            if result.error is not None and waiting and wait_seconds > 0:
                result.error.message += f" (still failing after waiting {wait_seconds:g} s for the principal)"
            return result
        sleep(min(delay, remaining))
        delay = min(delay * 2, 15.0)


def _read_current(request: PreparedRequest, session: Session, hooks: SafetyHooks) -> TestRequestResult:
    """GetKeyPolicy for the key, with this plugin's own template, at the request's endpoint."""
    hooks.before_read()
    return session.call(
        own_template("kms.GetKeyPolicy"), {"KeyId": request.body["KeyId"], "PolicyName": "default"}
    )


def _unread(current: TestRequestResult) -> TestRequestResult:
    """The result when the current policy could not be read: that call's error, nothing sent."""
    failed = failed_step(current, "GetKeyPolicy")
    failed.error_message = (
        f"could not read the current key policy to back it up ({failed.error_message}); nothing was "
        "changed. Pass --force to send PutKeyPolicy without a backup"
    )
    result = preflight_failure(failed, request=current.request)
    result.attempts = current.attempts
    result.extra = {"changed": None, "sent": False}
    return result


def _wait(options: Mapping[str, Any]) -> float:
    return float(options.get("principal_wait", PRINCIPAL_WAIT_SECONDS))


def _no_backup_warning(current: TestRequestResult) -> dict[str, Any]:
    """The loud warning of a ``--force`` send whose previous policy could not be read."""
    error = current.error
    code = error.code if error else f"HTTP {current.statusCode}"
    why = f"{code}: {error.message}" if error else "no policy in the answer"
    verb = "was denied" if "AccessDenied" in code else "failed"
    message = (
        f"no backup of the previous policy exists: GetKeyPolicy {verb} ({why}); "
        "the change cannot be rolled back from a file"
    )
    return {
        "severity": "SECURITY_WARNING",
        "code": "NO_BACKUP",
        "field": "KeyId",
        "message": message,
        "path": "$",
    }


def _send_unread(
    request: PreparedRequest, session: Session, current: TestRequestResult, hooks: SafetyHooks
) -> TestRequestResult:
    """``--force`` with no current policy to read: send without a backup, and say so loudly."""
    extra: dict[str, Any] = {"previousPolicy": None, "diff": None, "changed": None, "sent": True}
    extra["backupFile"] = None
    extra["access"] = access_json(None, request.body["Policy"], key_id=request.body["KeyId"])
    result = _write_and_verify(request, session, None, extra, hooks)
    result.warnings.append(_no_backup_warning(current))
    return result


def _unchanged(request: PreparedRequest, extra: dict[str, Any]) -> TestRequestResult:
    skipped = TestRequestResult(ok=True, attempts=0, warnings=[w.model_dump() for w in request.warnings])
    skipped.extra = {
        **extra,
        "sent": False,
        "note": "the new policy is equivalent to the current one: not sent (use --force)",
    }
    return skipped


def _backup(request: PreparedRequest, previous: str, directory: Path) -> Path | TestRequestResult:
    """The backup file of ``previous``, or the refusal when it cannot be written (nothing sent)."""
    try:
        return write_backup(
            directory,
            key_id=request.body["KeyId"],
            region=request.endpoint.region,
            policy=previous,
            endpoint=request.endpoint.url,
        )
    except OSError as exc:
        reason = f"{directory}: {exc.strerror}"
        message = f"cannot write the backup of the current policy to {reason}; nothing was changed"
        return validation_failure([Problem(field="backup-dir", message=message)])


def _verify(
    request: PreparedRequest, session: Session, previous: str | None, hooks: SafetyHooks
) -> Verification:
    """Read the written policy back (GetKeyPolicy through the same session) until KMS shows it."""
    if session.options.get("no_verify"):
        return SKIPPED
    return verify_policy(
        lambda: _read_current(request, session, hooks),
        sent=request.body["Policy"],
        previous=previous,
        settings=VerifySettings.from_options(session.options),
    )


def _not_verified(result: TestRequestResult, verification: Verification) -> None:
    """The write succeeded (its ``statusCode`` stays) but was not verified: ``ok`` false, exit 1."""
    result.ok = False
    result.error = ErrorDetail(
        code="VerificationFailed",
        message=f"PutKeyPolicy succeeded but reading it back did not verify it: {verification.reason}",
        retryable=False,
    )


def _write_and_verify(
    request: PreparedRequest,
    session: Session,
    previous: str | None,
    extra: dict[str, Any],
    hooks: SafetyHooks,
) -> TestRequestResult:
    """Send PutKeyPolicy (with the principal wait), then verify a write that succeeded."""
    shown = {"backupFile": extra["backupFile"], "previousPolicy": extra["previousPolicy"]}
    hooks.before_write(extra["backupFile"])
    try:
        result = send_with_principal_wait(session, request, wait_seconds=_wait(session.options))
    except Interrupted as interrupted:
        interrupted.details.update(shown)
        raise
    result.extra = {**extra, "verification": None}
    if not result.ok:  # nothing was written: nothing to verify
        return result
    try:
        verification = _verify(request, session, previous, hooks)
    except Interrupted as interrupted:
        interrupted.details.update({**shown, "outcome": "written"})
        raise
    result.extra["verification"] = verification.model_dump()
    if verification.verified is False:
        _not_verified(result, verification)
    return result


def _compare(request: PreparedRequest, previous: str) -> dict[str, Any]:
    """What changes, from the one read: the diff, and the access diff next to it.

    Each policy is parsed once for the three (``previousPolicy``, the diff, the access diff),
    the new one not at all when the checks already did.
    """
    shown = _as_json(previous)
    before = shown if isinstance(shown, dict) else _policy_document(previous)
    after = _new_policy(request)
    diff = diff_policies(before, after)
    return {
        "previousPolicy": shown,
        "diff": diff.model_dump(exclude={"changed"}),
        "access": access_json(before, after, key_id=request.body["KeyId"]),
        "changed": diff.changed,
    }


def _new_policy(request: PreparedRequest) -> Any:
    """The policy to send, parsed: the checks' parse of it when the request has one, else its own."""
    policy = request.body["Policy"]
    document = request.documents.get("Policy")
    if document is None or document.text != policy:
        return _policy_document(policy)
    try:
        parsed = document.value()  # its repeated keys are kept as the diffs read them: the last one wins
    except ValueError:
        return policy
    return parsed if isinstance(parsed, dict) else policy


def _policy_document(policy: Any) -> Any:
    """A policy's text parsed as the diffs parse it (a repeated key: the last one wins).

    Text that is no JSON object is left as it is: the diffs raise for it what they always did
    (a JSON string, parsed, would be taken for a policy's text).
    """
    if not isinstance(policy, str):
        return policy
    try:
        parsed = jsonutil.loads(policy, allow_duplicate_keys=True)
    except ValueError:
        return policy
    return parsed if isinstance(parsed, dict) else policy


def _unexpected(current: TestRequestResult, previous: str, reason: str) -> TestRequestResult:
    """``check_current`` refused the policy just read: nothing backed up, nothing sent."""
    result = TestRequestResult(
        ok=False,
        attempts=current.attempts,
        error=ErrorDetail(code="UnexpectedPolicy", message=reason, retryable=False, step="GetKeyPolicy"),
    )
    result.extra = {"previousPolicy": _as_json(previous), "changed": None, "sent": False}
    return result


def _read_previous(
    request: PreparedRequest, session: Session, hooks: SafetyHooks
) -> tuple[TestRequestResult, str | None]:
    """The one GetKeyPolicy read, and the policy text it gave (None when unreadable)."""
    current = _read_current(request, session, hooks)
    previous = current.body.get("Policy") if current.ok and isinstance(current.body, dict) else None
    return current, previous if isinstance(previous, str) else None


def preview_key_policy(
    request: PreparedRequest, session: Session, hooks: SafetyHooks = NO_HOOKS
) -> TestRequestResult:
    """The dry run of :func:`put_key_policy_safely`: read, diff and access-diff; nothing written.

    ``ok`` with ``changed`` (would it be sent), ``previousPolicy``, ``diff``, ``access`` and
    ``sent: false``; a failed GetKeyPolicy is that call's error, as it is for the real change.
    """
    current, previous = _read_previous(request, session, hooks)
    if previous is None:
        return _unread(current)
    refused = hooks.check_current(previous)
    if refused is not None:
        return _unexpected(current, previous, refused)
    warnings = [w.model_dump() for w in request.warnings]
    preview = TestRequestResult(ok=True, attempts=current.attempts, warnings=warnings)
    preview.extra = {**_compare(request, previous), "sent": False}
    return preview


def put_key_policy_safely(
    request: PreparedRequest, session: Session, hooks: SafetyHooks = NO_HOOKS
) -> TestRequestResult:
    """Read, diff and back up the current policy, send PutKeyPolicy (unless unchanged), verify it.

    The one GetKeyPolicy read is made here, immediately before the write (see the module
    documentation, "No lost update"): nothing slow may be added between it and the send.
    """
    options = session.options
    current, previous = _read_previous(request, session, hooks)
    if previous is None:
        return _send_unread(request, session, current, hooks) if options.get("force") else _unread(current)
    refused = hooks.check_current(previous)
    if refused is not None:
        return _unexpected(current, previous, refused)
    extra = _compare(request, previous)
    if not extra["changed"] and not options.get("force"):
        return _unchanged(request, extra)
    backup = _backup(request, previous, Path(options.get("backup_dir") or default_backup_dir()))
    if isinstance(backup, TestRequestResult):
        backup.extra = {**extra, "sent": False}
        return backup
    extra = {**extra, "sent": True, "backupFile": str(backup)}
    return _write_and_verify(request, session, previous, extra, hooks)


def _as_json(text: str) -> Any:
    try:
        return jsonutil.loads(text)
    except ValueError:
        return text
