"""A rollout journal written by hand: a header and one ``sending`` event per key (for rollback tests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from http_task_kms.kms.rollout.journal import Header, now


def write_journal(
    path: Path, *, region: str, endpoint: str | None, writes: list[tuple[str, str, str]]
) -> str:
    """A journal whose rollout wrote ``(key, backup file, policy fingerprint)`` for each key."""
    keys = "".join(f"{key}\n" for key, _, _ in writes)
    header = Header(
        region=region,
        endpoint=endpoint,
        policySha256="0" * 64,
        source="keys",
        keysFile=str(path) + ".keys",
        keysSha256=hashlib.sha256(keys.encode()).hexdigest(),
        count=len(writes),
        dryRun=False,
        createdAt=now(),
    )
    lines = [header.to_json(), {"event": "run", "at": now(), "mode": "apply"}]
    for index, (key, backup, fingerprint) in enumerate(writes):
        lines.append(
            {"event": "sending", "i": index, "key": key, "backupFile": backup, "policySha256": fingerprint}
        )
        lines.append({"event": "done", "i": index, "key": key, "backupFile": backup, "verified": True})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return str(path)
