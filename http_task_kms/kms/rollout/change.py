"""One key's change, as ``test-request`` makes it, paced: checks, read, diff, (backup, write, read-back).

:func:`change_key` runs the host's preparing (schema, lint, the caller lookup — cached — and
the lockout and cross-account checks) and then :mod:`..safety`: first its dry run
(:func:`~..safety.preview_key_policy`: read, diff, access diff), which settles an unchanged key
without spending a PutKeyPolicy slot; for a key that changes, it waits for the next
PutKeyPolicy slot and only then runs :func:`~..safety.put_key_policy_safely`, whose own read is
the one the write is based on — so waiting for the quota never widens the window between
that read and the write. Every GetKeyPolicy is paced through the hooks' ``before_read``.

A call that needed more than one attempt (the service throttled it, or failed transiently) or
that ended throttled slows its bucket down (:meth:`~.bucket.TokenBucket.throttled`); a write
that ended throttled — KMS refused it before applying it — is made afresh in a later slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...aws_errors import THROTTLING_CODES
from ...config import DESCRIBE_KEY_RATE, GET_KEY_POLICY_RATE, LIST_KEYS_RATE, PUT_KEY_POLICY_RATE
from ...errors import HttpTaskError, PreflightFailed, RequestValidationError
from ...redact import redact_text
from ...result import ErrorDetail, TestRequestResult, preflight_failure, validation_failure
from ..safety import SafetyHooks, preview_key_policy, put_key_policy_safely
from .bucket import TokenBucket

if TYPE_CHECKING:
    from ...client import Client
    from ...plugins.types import PreparedRequest, Session
    from ...render import CompiledTask

__all__ = ["THROTTLED_ROUNDS", "Buckets", "Change", "Rates", "change_key", "reason_of"]

#: How many more times a key whose PutKeyPolicy stayed throttled (after the transport's own
#: attempts) is changed afresh, each time in a slot of the slowed-down bucket.
THROTTLED_ROUNDS = 5


@dataclass(frozen=True)
class Rates:
    """Requests per second of each operation a rollout makes (per account and Region)."""

    put: float = PUT_KEY_POLICY_RATE
    get: float = GET_KEY_POLICY_RATE
    describe: float = DESCRIBE_KEY_RATE
    list: float = LIST_KEYS_RATE


class Buckets:
    """One token bucket per operation, at its rate."""

    def __init__(self, rates: Rates) -> None:
        self.put = TokenBucket(rates.put)
        self.get = TokenBucket(rates.get)
        self.describe = TokenBucket(rates.describe)
        self.list = TokenBucket(rates.list)


@dataclass(frozen=True)
class Change:
    """How one key's change ended: ``done`` (written), ``unchanged``, ``preview`` or ``failed``."""

    state: str
    result: TestRequestResult
    sent: bool = False
    throttled: bool = False


def _pushed_back(result: TestRequestResult) -> bool:
    """The service throttled this call (or failed it transiently) at least once."""
    throttled = result.error is not None and result.error.code in THROTTLING_CODES
    return throttled or result.attempts > 1


def reason_of(result: TestRequestResult) -> tuple[str, str]:
    """The code and reason a failed key is journalled and listed with (secrets redacted)."""
    error = result.error
    if error is None:
        return "Failed", f"HTTP {result.statusCode}"
    text = error.message
    if error.problems:
        text += ": " + "; ".join(f"{p.field}: {p.message}" for p in error.problems)
    text = redact_text(text)
    return error.code, text if len(text) <= 1000 else text[:1000] + "…"


def _refused(exc: Exception) -> TestRequestResult:
    if isinstance(exc, RequestValidationError):
        return validation_failure(exc.problems, warnings=exc.warnings)
    if isinstance(exc, PreflightFailed):
        return preflight_failure(exc)
    message = redact_text(str(exc))
    return TestRequestResult(ok=False, error=ErrorDetail(code=type(exc).__name__, message=message))


def change_key(
    client: Client,
    compiled: CompiledTask,
    params: dict[str, Any],
    *,
    hooks: SafetyHooks,
    buckets: Buckets,
    dry_run: bool = False,
) -> Change:
    """Check, read and diff one key; unless ``dry_run`` or unchanged, back it up, write and verify it."""
    try:
        prepared = client.prepare(compiled, params)
    except (RequestValidationError, PreflightFailed, HttpTaskError) as exc:
        return Change("failed", _refused(exc))
    session = client.session_for(prepared)
    preview = preview_key_policy(prepared, session, hooks)
    read_throttled = _pushed_back(preview)
    if read_throttled:
        buckets.get.throttled()
    if not preview.ok:
        return Change("failed", preview, throttled=read_throttled)
    if dry_run:
        return Change("preview", preview, throttled=read_throttled)
    if not preview.extra.get("changed"):
        return Change("unchanged", preview, throttled=read_throttled)
    return _write(prepared, session, hooks, buckets, read_throttled)


def _write(
    prepared: PreparedRequest, session: Session, hooks: SafetyHooks, buckets: Buckets, read_throttled: bool
) -> Change:
    """Wait for a PutKeyPolicy slot, then change the key; a write throttled to the end goes again.

    A throttled PutKeyPolicy is refused before KMS applies it, so the key is changed afresh —
    read, backed up, journalled, written — in the next slot of the slowed-down bucket, at
    most :data:`THROTTLED_ROUNDS` more times.
    """
    throttled = False
    for _ in range(1 + THROTTLED_ROUNDS):
        slot = buckets.put.take()
        try:
            result = put_key_policy_safely(prepared, session, hooks)
        except HttpTaskError as exc:  # e.g. credentials lost before the write: nothing sent
            buckets.put.refund()
            return Change("failed", _refused(exc), throttled=throttled or read_throttled)
        sent = bool(result.extra.get("sent"))
        if not sent:
            buckets.put.refund()
        if sent and _pushed_back(result):
            throttled = True
            buckets.put.throttled(slot)
        if not (sent and result.error is not None and result.error.code in THROTTLING_CODES):
            break
    state = "failed" if not result.ok else "done" if sent else "unchanged"
    return Change(state, result, sent=sent, throttled=throttled or read_throttled)
