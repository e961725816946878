"""One key of a rollout, journalled: eligibility (``--all-keys``), the change, its journal events.

:class:`KeyWorker` runs in the pool's threads, all sharing one client, one set of buckets and
one journal. Per key: DescribeKey for ``--all-keys`` (skip AWS managed keys and keys pending
deletion); for a key an earlier run may have written, the rule that its policy must still be
the one backed up before that write, or the rollout's own (anything else: changed by someone
else, left alone); then :func:`~.change.change_key`, whose ``before_write`` hook journals the
key as ``sending`` — with its backup file — immediately before PutKeyPolicy; then its outcome
(``done``, ``unchanged``, ``failed`` with the reason, ``preview``). A journal that cannot be
written is fatal: the run stops sending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...redact import redact_text
from ..backup import read_backup
from ..safety import SafetyHooks
from .change import Buckets, Change, change_key, reason_of
from .listing import eligibility
from .opening import Opened
from .outcome import Outcome
from .placeholders import fingerprint
from .plan import Item

if TYPE_CHECKING:
    from ...client import Client
    from ...render import CompiledTask

__all__ = ["KeyWorker"]

Check = Callable[[str], "str | None"]


def _preview(result: Any) -> dict[str, Any]:
    """A dry run's journal entry: would it change, and the sizes of the diff and the access diff."""
    extra = result.extra
    diff = extra.get("diff") or {}
    access = extra.get("access") or {}
    return {
        "changed": extra.get("changed"),
        "diff": {name: len(diff.get(name) or []) for name in ("added", "removed", "modified")},
        "access": {
            **{name: len(access.get(name) or []) for name in ("gained", "lost", "changedConditions")},
            "summary": access.get("summary") or [],
        },
        "warnings": sorted({w["code"] for w in result.warnings}),
    }


class KeyWorker:
    """Works on one key at a time (any number of them, on any threads)."""

    def __init__(self, client: Client, compiled: CompiledTask, opened: Opened, buckets: Buckets) -> None:
        self.client, self.compiled, self.opened, self.buckets = client, compiled, opened, buckets
        self.journal = opened.journal

    def __call__(self, item: Item) -> Outcome:
        """One key, journalled; never raises (an unexpected error is the key's failure, or fatal)."""
        try:
            return self._work(item)
        except OSError as exc:  # the journal cannot be written: nothing more may be sent
            return Outcome(
                item.index, item.key, "failed", code="JournalError", reason=str(exc), fatal=str(exc)
            )
        except Exception as exc:  # a bug of ours: this key's failure, the run goes on
            code, reason = "InternalError", redact_text(f"{type(exc).__name__}: {exc}")
            try:
                return self._failed(item, code, reason)
            except OSError as journal_error:
                return Outcome(
                    item.index, item.key, "failed", code=code, reason=reason, fatal=str(journal_error)
                )

    def _failed(self, item: Item, code: str, reason: str, **more: Any) -> Outcome:
        self.journal.write(
            {"event": "failed", "i": item.index, "key": item.key, "code": code, "reason": reason, **more}
        )
        return Outcome(item.index, item.key, "failed", code=code, reason=reason, resumed=item.again)

    def _skipped(self, item: Item, code: str, reason: str) -> Outcome:
        self.journal.write(
            {"event": "skipped", "i": item.index, "key": item.key, "code": code, "reason": reason}
        )
        return Outcome(item.index, item.key, "skipped", code=code, reason=reason, resumed=item.again)

    def _expected(self, item: Item, new: str | None) -> Check | Outcome | None:
        """For a key an earlier run may have written: its policy must be the backed-up one, or ours."""
        if item.backup_file is None:
            return None
        try:
            backup = read_backup(item.backup_file)
        except (OSError, ValueError) as exc:
            reason = f"cannot read the backup the journal names: {exc}"
            return self._failed(item, "BackupUnreadable", reason, backupFile=item.backup_file)
        if backup["keyId"] != item.key:
            reason = f"the backup {item.backup_file} is of another key"
            return self._failed(item, "BackupUnreadable", reason, backupFile=item.backup_file)
        before = fingerprint(backup["policy"])

        def check(current: str) -> str | None:
            if fingerprint(current) in (new, before):
                return None
            return (
                "changed by someone else since this rollout's write was interrupted: its policy is neither "
                f"the one backed up before it ({item.backup_file}) nor the rollout's; left as it is"
            )

        return check

    def _work(self, item: Item) -> Outcome:
        plan = self.opened.plan
        if plan.all_keys:
            self.buckets.describe.take()
            found = eligibility(self.client, item.key, plan.region)
            if found is not None:
                state, code, reason = found
                return (
                    self._skipped(item, code, reason)
                    if state == "skipped"
                    else self._failed(item, code, reason)
                )
        params = self.opened.params(item.key)
        new = fingerprint(params["Policy"])
        expected = self._expected(item, new)
        if isinstance(expected, Outcome):
            return expected
        sent: dict[str, Any] = {}

        def before_write(backup: str | None) -> None:
            event = {"event": "sending", "i": item.index, "key": item.key, "backupFile": backup}
            self.journal.write({**event, "policySha256": new or ""})
            sent["backupFile"] = backup

        hooks = SafetyHooks(
            before_read=self.buckets.get.take,
            check_current=expected or (lambda current: None),
            before_write=before_write,
        )
        change = change_key(
            self.client, self.compiled, params, hooks=hooks, buckets=self.buckets, dry_run=plan.dry_run
        )
        return self._settle(item, change, sent)

    def _settle(self, item: Item, change: Change, sent: dict[str, Any]) -> Outcome:
        result, base = change.result, {"i": item.index, "key": item.key}

        def outcome(state: str, **more: Any) -> Outcome:
            return Outcome(
                item.index,
                item.key,
                state,
                sent=change.sent,
                throttled=change.throttled,
                resumed=item.again,
                **more,
            )

        if change.state == "preview":
            self.journal.write({"event": "preview", **base, **_preview(result)})
            return outcome("preview", changed=bool(result.extra.get("changed")))
        if change.state == "failed":
            code, reason = reason_of(result)
            backup = sent.get("backupFile", item.backup_file)
            more: dict[str, Any] = {"backupFile": backup} if backup is not None else {}
            if change.sent:
                more["written"] = result.statusCode == 200
            self.journal.write({"event": "failed", **base, "code": code, "reason": reason, **more})
            return outcome("failed", code=code, reason=reason)
        if change.state == "unchanged" and item.backup_file is not None:
            note = "found written: the policy reads back as the rollout's (the earlier write landed)"
            self.journal.write({"event": "done", **base, "backupFile": item.backup_file, "note": note})
            return outcome("done", reason=note)
        if change.state == "unchanged":
            self.journal.write({"event": "unchanged", **base})
            return outcome("unchanged")
        verification = result.extra.get("verification") or {}
        event = {"event": "done", **base, "backupFile": result.extra.get("backupFile")}
        self.journal.write({**event, "verified": verification.get("verified")})
        return outcome("done")
