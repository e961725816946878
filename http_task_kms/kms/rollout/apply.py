"""The rollout: one policy to every key of a list, resumable from its journal.

:func:`run_rollout` checks everything it can before sending anything — the policy (strict
JSON, placeholders, lint, and the whole PutKeyPolicy check for the first key: the caller is
looked up once, here), the key list (every line), and for a continued run the journal (every
line, against the key list, the policy and the options) — then works through the keys on a
bounded pool of threads sharing one client, each key as :mod:`.change` makes it, journalled:

- a fresh rollout works on every key of the list;
- ``--resume``: keys left ``sending`` by a run that stopped are read again — a key whose policy
  is now the rollout's was written (``done``, no write), one that still holds the policy backed
  up before it is written again, one that holds neither was changed by someone else
  (``failed``, left alone) — and then the keys never reached; a ``done`` key is never touched;
- ``--retry-failed``: only the keys whose last event is ``failed`` (with ``--resume`` too, both);
- ``--dry-run``: every key is read, diffed and access-diffed (events ``preview``); no PutKeyPolicy.

``--all-keys`` first lists the Region's keys into a file beside the journal (so a resumed run
works on the same list) and skips, by DescribeKey, AWS managed keys and keys pending deletion.
The summary counts every key of the rollout by its last event, and this run's own work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...config import ROLLOUT_LISTED_KEYS
from .change import Buckets
from .journal import now
from .keys import iter_keys
from .opening import Opened, open_rollout
from .outcome import Outcome, Tally
from .plan import Item, Plan, RolloutStopped, key_list_beside, policy_sha256
from .pool import run_pool
from .progress import Progress, progress_for
from .state import DONE, FAILED, PENDING, SENDING, SKIPPED, STATE_OF_EVENT, UNCHANGED, reopened_items
from .worker import KeyWorker

if TYPE_CHECKING:
    from ...client import Client

__all__ = ["Plan", "RolloutStopped", "key_list_beside", "policy_sha256", "run_rollout"]


class _Run:
    """One run of a rollout, opened: the keys to work on, their outcomes, the summary."""

    def __init__(self, opened: Opened, progress: Progress) -> None:
        self.opened, self.plan, self.progress = opened, opened.plan, progress
        self.state = opened.state
        self.tally = Tally()

    def items(self) -> Iterator[Item]:
        """The keys this run works on, streamed: an earlier run's open keys first, then the rest."""
        plan, opened = self.plan, self.opened
        if not plan.continuing:
            yield from (Item(index, key) for index, key in iter_keys(opened.keys.path))
            return
        wanted = ({SENDING} if plan.resume else set()) | ({FAILED} if plan.retry_failed else set())
        for reopened in reopened_items(plan.journal, opened.header, self.state, frozenset(wanted)):
            yield Item(reopened.index, reopened.key, reopened.backup_file, again=True)
        if plan.resume:
            states = self.state.states
            yield from (Item(i, key) for i, key in iter_keys(opened.keys.path) if states[i] == PENDING)

    def to_do(self) -> int:
        """How many keys :meth:`items` yields."""
        if not self.plan.continuing:
            return self.opened.keys.count
        states, count = self.state.states, 0
        if self.plan.resume:
            count += states.count(PENDING) + states.count(SENDING)
        if self.plan.retry_failed:
            count += states.count(FAILED)
        return count

    def accept(self, outcome: Outcome) -> str | None:
        """Count one key's outcome (main thread); a reason to stop, or None."""
        self.state.states[outcome.index] = STATE_OF_EVENT[outcome.state]
        self.tally.add(outcome)
        self.progress.update(outcome, self.tally)
        return outcome.fatal

    def _earlier_failures(self) -> list[dict[str, Any]]:
        """Keys that failed in earlier runs and were not tried again (listed from their last event)."""
        if self.plan.retry_failed or not self.plan.continuing or not self.state.tally(FAILED):
            return []
        listed = []
        for reopened in reopened_items(
            self.plan.journal, self.opened.header, self.state, frozenset({FAILED})
        ):
            event = reopened.event
            if event["event"] == "failed":
                listed.append(
                    {
                        "key": reopened.key,
                        "code": event.get("code", "Failed"),
                        "reason": event.get("reason", ""),
                    }
                )
            if len(listed) >= ROLLOUT_LISTED_KEYS:
                break
        return listed

    def summary(self, *, stopped: str | None, interrupted: str | None) -> dict[str, Any]:
        """The one JSON document on stdout."""
        state, tally = self.state, self.tally
        failed = state.tally(FAILED)
        pending = state.tally(PENDING) + state.tally(SENDING)
        if self.plan.dry_run:  # a dry run's journal holds previews only
            changed, unchanged = tally.counts["changed"], tally.counts["unchanged"]
        else:
            changed, unchanged = state.tally(DONE), state.tally(UNCHANGED)
        return {
            "ok": failed == 0 and pending == 0 and stopped is None and interrupted is None,
            "dryRun": self.plan.dry_run,
            "journal": str(self.plan.journal),
            "region": self.plan.region,
            "keys": self.opened.keys.count,
            "changed": changed,
            "unchanged": unchanged,
            "skipped": state.tally(SKIPPED),
            "failed": failed,
            "pending": pending,
            "thisRun": tally.this_run(),
            "failedKeys": (self._earlier_failures() + tally.failed)[:ROLLOUT_LISTED_KEYS],
            "skippedKeys": tally.skipped,
            "elapsedSeconds": round(tally.elapsed, 3),
            "configuredRate": self.plan.rates.put,
            "achievedRate": tally.achieved_rate(),
            "stopped": stopped,
            "interrupted": interrupted,
        }


def run_rollout(client: Client, plan: Plan, progress: Progress | None = None) -> dict[str, Any]:
    """Run (or continue) a rollout; the summary.

    Raises :class:`~http_task_kms.errors.RequestValidationError` for a bad policy, key list,
    journal or options (nothing sent), :class:`RolloutStopped` when a call before the first key
    failed (ListKeys), and :class:`~http_task_kms.errors.PreflightFailed` when the caller
    lookup did.
    """
    buckets = Buckets(plan.rates)
    compiled = client.compiled_template("kms.PutKeyPolicy")
    opened = open_rollout(client, plan, buckets, compiled)
    run = _Run(opened, progress or progress_for())
    opened.journal.write({"event": "run", "at": now(), "mode": plan.mode})
    run.progress.start(run.to_do(), "dry run" if plan.dry_run else "apply")
    try:
        worker = KeyWorker(client, compiled, opened, buckets)
        end = run_pool(run.items(), worker, concurrency=plan.concurrency, accept=run.accept)
    finally:
        run.progress.stop()
        opened.journal.close()
    return run.summary(
        stopped=end.stopped, interrupted=end.interrupted.signal_name if end.interrupted else None
    )
