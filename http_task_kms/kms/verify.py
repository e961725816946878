"""After a PutKeyPolicy that succeeded: read the policy back until KMS shows it.

GetKeyPolicy does not return the text that was sent: KMS re-serialises it
(``"Version" : "2012-10-17"``, pretty-printed) and may reorder statements, keys and list
items between calls, and a change takes a moment to be visible everywhere. So each read is
compared by meaning (:func:`~.policy.diff.normalise_policy`) with the policy sent and with
the one it replaced (the read made just before the write, :mod:`.safety`):

- equivalent to the one sent: one more in a row; ``reads`` in a row (default 2, ``interval``
  seconds apart) → verified;
- equivalent to the previous one: not visible yet — the count starts over, reading goes on;
- neither: **changed by someone else** (KMS has no conditional write, so another writer may
  have changed the policy between our read and our write, or just after it) → stop, not
  verified;
- a failed read: a retryable one (throttling, 5xx, network — after the transport's own
  attempts) is read again; any other stops, not verified, its error in the reason
  (``AccessDeniedException``: the new policy may not let the caller read it);
- no read starts after ``timeout`` seconds: not verified, the reason says what was last seen.

When the previous policy is unknown (``--force`` after GetKeyPolicy failed), a read that is
not the one sent cannot be told from someone else's change: it counts as not visible yet.
Principals of deleted IAM identities come back as unique IDs (``AIDA…``, ``AROA…``): that is
a real difference, not a re-serialisation — a principal deleted just after the write makes
the read "changed by someone else", which it was.

The loop is pure apart from ``read`` and is paced by an injectable ``sleep`` and ``clock``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..config import VERIFY_INTERVAL_SECONDS, VERIFY_READS, VERIFY_TIMEOUT_SECONDS
from ..errors import Interrupted
from ..result import TestRequestResult
from .policy.diff import diff_policies, normalise_policy

__all__ = ["SKIPPED", "Verification", "VerifySettings", "verify_policy"]

Reader = Callable[[], TestRequestResult]


@dataclass(frozen=True)
class VerifySettings:
    """How many reads in a row must show the policy, how far apart, and for how long at most."""

    reads: int = VERIFY_READS
    interval: float = VERIFY_INTERVAL_SECONDS
    timeout: float = VERIFY_TIMEOUT_SECONDS

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> VerifySettings:
        """The settings of ``--verify-reads``, ``--verify-interval`` and ``--verify-timeout``."""
        return cls(
            reads=max(1, int(options.get("verify_reads", VERIFY_READS))),
            interval=max(0.0, float(options.get("verify_interval", VERIFY_INTERVAL_SECONDS))),
            timeout=max(0.0, float(options.get("verify_timeout", VERIFY_TIMEOUT_SECONDS))),
        )


class Verification(BaseModel):
    """The result's ``verification``: ``verified`` is None when it was skipped (or interrupted)."""

    model_config = ConfigDict(frozen=True)

    verified: bool | None
    reads: int
    elapsedMs: float
    reason: str


#: ``--no-verify``: nothing was read.
SKIPPED = Verification(verified=None, reads=0, elapsedMs=0.0, reason="skipped (--no-verify)")

_Kind = Literal["sent", "waiting", "stop"]


@dataclass(frozen=True)
class _Seen:
    kind: _Kind
    detail: str = ""


def _failed_read(result: TestRequestResult) -> _Seen:
    error = result.error
    what = f"{error.code}: {error.message}" if error else f"HTTP {result.statusCode}"
    if error is not None and error.retryable:
        return _Seen("waiting", f"the last read failed ({what})")
    return _Seen("stop", f"could not read the policy back: GetKeyPolicy failed ({what})")


def _changed_by_someone_else(read: Mapping[str, Any], sent: Mapping[str, Any], number: int) -> str:
    diff = diff_policies(sent, read)
    counts = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.modified)} modified"
    return (
        f"changed by someone else: read {number} shows a policy that is neither the one sent nor the "
        f"previous one (statements against the one sent: {counts}); KMS has no conditional write"
    )


def _classify(
    result: TestRequestResult, sent: Mapping[str, Any], previous: Mapping[str, Any] | None, number: int
) -> _Seen:
    """What read ``number`` shows: the policy sent, not yet (or unknown), or a reason to stop."""
    if not result.ok:
        return _failed_read(result)
    text = result.body.get("Policy") if isinstance(result.body, dict) else None
    if not isinstance(text, str):
        return _Seen("stop", "could not read the policy back: GetKeyPolicy answered without a policy")
    try:
        read = normalise_policy(text)
    except ValueError as exc:
        return _Seen("stop", f"the policy read back is not a key policy ({exc})")
    if read == sent:
        return _Seen("sent")
    if previous is None:
        return _Seen("waiting", "the last read showed another policy (the previous one is unknown)")
    if read == previous:
        return _Seen("waiting", "the last read still showed the previous policy")
    return _Seen("stop", _changed_by_someone_else(read, sent, number))


def _form(policy: str | None) -> dict[str, Any] | None:
    """The normalised previous policy; None when unknown (or not a policy: then nothing equals it)."""
    try:
        return normalise_policy(policy) if policy is not None else None
    except ValueError:
        return None


@dataclass
class _Progress:
    started: float
    reads: int = 0
    in_a_row: int = 0
    not_yet: int = 0
    last: str = ""

    def see(self, seen: _Seen) -> None:
        self.reads += 1
        if seen.kind == "sent":
            self.in_a_row += 1
        else:
            self.in_a_row, self.not_yet, self.last = 0, self.not_yet + 1, seen.detail


def _verified(progress: _Progress, settings: VerifySettings) -> str:
    reason = f"read back as sent {progress.in_a_row} time{'s' if progress.in_a_row != 1 else ''} in a row"
    if progress.in_a_row > 1:
        reason += f", {settings.interval:g} s apart"
    if progress.not_yet:
        reason += f", after {progress.not_yet} read{'s' if progress.not_yet != 1 else ''} not showing it yet"
    return reason


def _timed_out(progress: _Progress, settings: VerifySettings) -> str:
    reason = f"not verified within {settings.timeout:g} s ({progress.reads} reads): "
    if progress.in_a_row:
        return reason + f"only {progress.in_a_row} of {settings.reads} reads in a row showed it"
    return reason + progress.last


def verify_policy(
    read: Reader,
    *,
    sent: str,
    previous: str | None,
    settings: VerifySettings,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Verification:
    """Read with ``read`` (one GetKeyPolicy each) until ``sent`` is shown ``settings.reads`` times in a row.

    ``previous`` is the policy the write replaced (None: unknown). Ends within
    ``settings.timeout`` plus one read. See the module documentation for what each read means.
    """
    sent_form, previous_form = normalise_policy(sent), _form(previous)
    progress = _Progress(started=clock())

    def done(verified: bool | None, reason: str) -> Verification:
        elapsed = round((clock() - progress.started) * 1000, 1)
        return Verification(verified=verified, reads=progress.reads, elapsedMs=elapsed, reason=reason)

    try:
        while True:
            seen = _classify(read(), sent_form, previous_form, progress.reads + 1)
            progress.see(seen)
            if seen.kind == "stop":
                return done(False, seen.detail)
            if progress.in_a_row >= settings.reads:
                return done(True, _verified(progress, settings))
            if clock() - progress.started + settings.interval > settings.timeout:
                return done(False, _timed_out(progress, settings))
            sleep(settings.interval)
    except Interrupted as interrupted:
        interrupted.details["verification"] = done(
            None, "interrupted while reading the policy back"
        ).model_dump()
        raise
