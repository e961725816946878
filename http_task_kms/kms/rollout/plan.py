"""What the operator asked for (:class:`Plan`), and what one key stands for (:class:`Item`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import ROLLOUT_CONCURRENCY
from .change import Rates
from .keys import key_id_of
from .placeholders import KeyFacts, PolicyTemplate

__all__ = ["Item", "Plan", "RolloutStopped", "facts_for", "key_list_beside", "policy_sha256"]


@dataclass(frozen=True)
class Plan:
    """``apply``'s options."""

    policy: PolicyTemplate
    policy_sha256: str
    region: str
    journal: Path
    keys_file: Path | None = None
    all_keys: bool = False
    resume: bool = False
    retry_failed: bool = False
    dry_run: bool = False
    concurrency: int = ROLLOUT_CONCURRENCY
    rates: Rates = field(default_factory=Rates)
    caller_arn: str | None = None

    @property
    def continuing(self) -> bool:
        """``--resume`` or ``--retry-failed``: a rollout started before, in this journal."""
        return self.resume or self.retry_failed

    @property
    def mode(self) -> str:
        """How the journal's ``run`` event names this run."""
        if self.dry_run:
            return "dry-run"
        names = [name for name, on in (("resume", self.resume), ("retry-failed", self.retry_failed)) if on]
        return "+".join(names) or "apply"


@dataclass(frozen=True)
class Item:
    """One key to work on: its index in the list, and for a key an earlier run may have written,
    the backup its journal names (``again``: left ``sending`` or ``failed`` by an earlier run)."""

    index: int
    key: str
    backup_file: str | None = None
    again: bool = False


class RolloutStopped(Exception):
    """A call before any key was worked on failed (nothing was changed); ``result`` says which."""

    def __init__(self, result: Any) -> None:
        super().__init__("the rollout stopped before any key was worked on")
        self.result = result


def key_list_beside(journal: Path) -> Path:
    """Where ``--all-keys`` keeps its list: ``<journal>.keys``."""
    return journal.with_name(journal.name + ".keys")


def policy_sha256(data: bytes) -> str:
    """The SHA-256 of the policy file, as the journal records it."""
    return hashlib.sha256(data).hexdigest()


def facts_for(key: str, *, account: str, region: str, partition: str) -> KeyFacts:
    """What the placeholders stand for, for a key of the list (a key ID, or a checked key ARN)."""
    if key.startswith("arn:"):  # arn:<partition>:kms:<region>:<account>:key/<id>
        return KeyFacts(keyId=key_id_of(key), keyArn=key, accountId=key.split(":")[4], region=region)
    arn = f"arn:{partition}:kms:{region}:{account}:key/{key}"
    return KeyFacts(keyId=key, keyArn=arn, accountId=account, region=region)
