"""``rollback --journal FILE``: every key a rollout wrote goes back to the policy it had before.

For each key the journal shows a write for (``sending``), its first backup — the policy before
the rollout touched it — is restored as ``rollback BACKUP_FILE`` restores one: only the policy
is taken from the (untrusted) backup, only to its own key, Region and endpoint, through every
PutKeyPolicy check, backing up what it replaces. A key is restored only while it still holds
the rollout's policy (the fingerprint the journal recorded): one that already holds the backed-up
policy is ``unchanged`` (a write that never landed, or a rollback run before — running it again
is safe), one that holds neither was changed since, by someone else, and is left alone
(``failed``). Paced and pooled like ``apply``; nothing is journalled (the journal is only read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...config import ROLLOUT_CONCURRENCY
from ...errors import InputError
from ...redact import redact_text
from ..backup import read_backup
from ..rollback import restore_parameters, rollback_problems
from ..safety import SafetyHooks
from .change import Buckets, Rates, change_key, reason_of
from .journal import Header, read_events, read_header
from .outcome import Outcome, Tally
from .placeholders import fingerprint
from .pool import run_pool
from .progress import Progress, progress_for

if TYPE_CHECKING:
    from ...client import Client

__all__ = ["run_restore"]


@dataclass(frozen=True)
class _Written:
    index: int
    key: str
    backup_file: str
    policy_sha256: str


def _first_writes(path: Path, header: Header) -> Iterator[_Written]:
    """The first ``sending`` event of each key (its backup is the policy before the rollout)."""
    seen = bytearray(header.count)
    for _, event in read_events(path, header):
        if event["event"] == "sending" and not seen[event["i"]] and event.get("backupFile"):
            seen[event["i"]] = 1
            yield _Written(event["i"], event["key"], event["backupFile"], event.get("policySha256", ""))


class _Restore:
    def __init__(
        self,
        client: Client,
        journal: Path,
        *,
        region: str | None,
        concurrency: int,
        rates: Rates,
        progress: Progress,
    ) -> None:
        self.client, self.journal, self.region = client, journal, region
        self.concurrency, self.rates, self.progress = concurrency, rates, progress
        self.buckets = Buckets(rates)
        self.compiled = client.compiled_template("kms.PutKeyPolicy")
        self.tally = Tally()
        self.header: Header

    def _failed(self, item: _Written, code: str, reason: str) -> Outcome:
        return Outcome(item.index, item.key, "failed", code=code, reason=reason)

    def _check(self, item: _Written, before: str | None) -> Callable[[str], str | None]:
        def check(current: str) -> str | None:
            if fingerprint(current) in (item.policy_sha256, before):
                return None
            return (
                "changed since the rollout: the key holds neither the rollout's policy nor the one backed "
                f"up before it ({item.backup_file}); left as it is"
            )

        return check

    def work(self, item: _Written) -> Outcome:
        """Restore one key (never raises)."""
        try:
            return self._work(item)
        except Exception as exc:  # a bug of ours: this key's failure
            return self._failed(item, "InternalError", redact_text(f"{type(exc).__name__}: {exc}"))

    def _work(self, item: _Written) -> Outcome:
        try:
            backup = read_backup(item.backup_file)
        except (OSError, ValueError) as exc:
            return self._failed(item, "BackupUnreadable", str(exc))
        if backup["keyId"] != item.key:
            return self._failed(item, "BackupUnreadable", f"{item.backup_file} is a backup of another key")
        problems = rollback_problems(backup, self.client.endpoints, region=self.region)
        if problems:
            return self._failed(
                item, "ValidationError", "; ".join(f"{p.field}: {p.message}" for p in problems)
            )
        hooks = SafetyHooks(
            before_read=self.buckets.get.take, check_current=self._check(item, fingerprint(backup["policy"]))
        )
        change = change_key(
            self.client, self.compiled, restore_parameters(backup), hooks=hooks, buckets=self.buckets
        )
        code, reason = reason_of(change.result) if change.state == "failed" else (None, None)
        return Outcome(
            item.index,
            item.key,
            change.state,
            code=code,
            reason=reason,
            sent=change.sent,
            throttled=change.throttled,
        )

    def accept(self, outcome: Outcome) -> str | None:
        self.tally.add(outcome)
        self.progress.update(outcome, self.tally)
        return None

    def run(self) -> dict[str, Any]:
        self.header = read_header(self.journal)
        if self.header.dryRun:
            raise InputError(
                "journal", f"{self.journal} is a dry run's journal: it wrote nothing to roll back"
            )
        total = sum(
            1 for _ in _first_writes(self.journal, self.header)
        )  # every line checked before anything is sent
        self.progress.start(total, "rollback")
        try:
            end = run_pool(
                _first_writes(self.journal, self.header),
                self.work,
                concurrency=self.concurrency,
                accept=self.accept,
            )
        finally:
            self.progress.stop()
        counts = self.tally.counts
        interrupted = end.interrupted.signal_name if end.interrupted else None
        return {
            "ok": counts["failed"] == 0 and interrupted is None,
            "journal": str(self.journal),
            "region": self.header.region,
            "keys": total,
            "restored": counts["changed"],
            "unchanged": counts["unchanged"],
            "failed": counts["failed"],
            "failedKeys": self.tally.failed,
            "putKeyPolicy": self.tally.sent,
            "elapsedSeconds": round(self.tally.elapsed, 3),
            "configuredRate": self.rates.put,
            "achievedRate": self.tally.achieved_rate(),
            "interrupted": interrupted,
        }


def run_restore(
    client: Client,
    journal: Path,
    *,
    region: str | None = None,
    concurrency: int = ROLLOUT_CONCURRENCY,
    rates: Rates | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Restore every key the rollout of ``journal`` wrote; the summary.

    Raises :class:`~http_task_kms.errors.InputError` for a journal that cannot be read (nothing sent).
    """
    restore = _Restore(
        client,
        journal,
        region=region,
        concurrency=concurrency,
        rates=rates or Rates(),
        progress=progress or progress_for(),
    )
    return restore.run()
