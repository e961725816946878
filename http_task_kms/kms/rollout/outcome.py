"""What became of one key in a run, and the running count of a run (:class:`Tally`)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ...config import ROLLOUT_LISTED_KEYS

__all__ = ["Outcome", "Tally"]


@dataclass(frozen=True)
class Outcome:
    """One key's end in this run.

    ``state`` is ``done`` (written and verified, or found written after an interruption),
    ``unchanged``, ``skipped``, ``failed`` or ``preview`` (``--dry-run``: ``changed`` says
    whether it would be written); ``sent``: a PutKeyPolicy was sent for it; ``fatal``: the run
    must stop (the journal cannot be written).
    """

    index: int
    key: str
    state: str
    code: str | None = None
    reason: str | None = None
    changed: bool | None = None
    sent: bool = False
    throttled: bool = False
    resumed: bool = False
    fatal: str | None = None


@dataclass
class Tally:
    """This run's counts, keys listed by name (at most ``ROLLOUT_LISTED_KEYS`` each), the writes' times."""

    started: float = field(default_factory=time.monotonic)
    counts: Counter[str] = field(default_factory=Counter)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    written: int = 0
    throttled: int = 0
    resumed: int = 0
    first_write: float | None = None
    last_write: float | None = None

    def add(self, outcome: Outcome) -> None:
        """Count one key's outcome."""
        state = outcome.state
        if state == "preview":
            state = "changed" if outcome.changed else "unchanged"
        elif state == "done":
            state = "changed"
        self.counts[state] += 1
        if outcome.resumed:
            self.resumed += 1
        if outcome.throttled:
            self.throttled += 1
        if outcome.sent:
            self.sent += 1
        if outcome.sent and outcome.state == "done":  # written: when it was known to be
            now = time.monotonic()
            self.written += 1
            self.first_write = now if self.first_write is None else self.first_write
            self.last_write = now
        listed = {"key": outcome.key, "reason": outcome.reason or ""}
        if outcome.state == "failed" and len(self.failed) < ROLLOUT_LISTED_KEYS:
            self.failed.append({**listed, "code": outcome.code or "Failed"})
        elif outcome.state == "skipped" and len(self.skipped) < ROLLOUT_LISTED_KEYS:
            self.skipped.append(listed)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def achieved_rate(self) -> float | None:
        """Keys written per second, from this run's first written key to its last (None: fewer than 2)."""
        if self.written < 2 or self.first_write is None or self.last_write is None:
            return None
        span = self.last_write - self.first_write
        return round((self.written - 1) / span, 2) if span > 0 else None

    def this_run(self) -> dict[str, int]:
        """The ``thisRun`` counts of the summary."""
        return {
            "changed": self.counts["changed"],
            "unchanged": self.counts["unchanged"],
            "skipped": self.counts["skipped"],
            "failed": self.counts["failed"],
            "resumed": self.resumed,
            "putKeyPolicy": self.sent,
            "throttled": self.throttled,
        }
