"""Backups of key policies: written whole before a change, read strictly before a rollback.

A backup file holds the policy a PutKeyPolicy replaced, with the key, Region and endpoint it
was read from. It is written (mode 0600) under a temporary name, flushed to disk and renamed,
so it appears whole or not at all; it is read back as untrusted input (bounded, strict JSON,
its fields checked).
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path
from typing import Any

import platformdirs

from ..config import MAX_BACKUP_BYTES
from ..inputs import read_json

__all__ = ["BACKUP_FORMAT", "default_backup_dir", "read_backup", "sync_directory", "write_backup"]

BACKUP_FORMAT = "http-task-kms/key-policy-backup@1"


def default_backup_dir() -> Path:
    """The per-user data directory for policy backups."""
    return Path(platformdirs.user_data_dir("http-task-kms")) / "backups"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[-80:]


def write_backup(directory: Path, *, key_id: str, region: str, policy: str, endpoint: str) -> Path:
    """Write the previous policy to a new file (0600) named for key, Region and UTC time.

    The file appears whole or not at all: it is written under a temporary name, flushed to
    disk, then renamed; if anything fails, nothing is left behind.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{_safe(key_id.rsplit('/', 1)[-1])}_{_safe(region)}_{now:%Y%m%dT%H%M%S%fZ}.json"
    document = {
        "format": BACKUP_FORMAT,
        "keyId": key_id,
        "region": region,
        "endpoint": endpoint,
        "policyName": "default",
        "savedAt": now.isoformat(timespec="seconds"),
        "policy": policy,
    }
    text = json.dumps(document, indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            raise FileExistsError(17, "a backup of that name already exists", str(path))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_directory(directory)
    return path


def sync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` itself durable (where the platform can)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def read_backup(path: str | Path) -> dict[str, Any]:
    """Read a backup file (untrusted: bounded, strict JSON); raises ValueError naming what is wrong.

    At most :data:`~http_task_kms.config.MAX_BACKUP_BYTES` are read; NaN, duplicate keys,
    lone surrogates and deep nesting are refused (an :class:`~http_task_kms.errors.InputError`,
    a ValueError), and so is a field of the wrong type.
    """
    document = read_json(path, field="BACKUP_FILE", limit=MAX_BACKUP_BYTES, label="a backup file")
    if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
        raise ValueError(f"{path} is not an http-task-kms key-policy backup (format {BACKUP_FORMAT})")
    for field in ("keyId", "region", "policy"):
        if not isinstance(document.get(field), str) or not document[field]:
            raise ValueError(f"{path}: '{field}' is missing or not a string")
    for field in ("endpoint", "savedAt"):
        if field in document and not isinstance(document[field], str):
            raise ValueError(f"{path}: '{field}' must be a string")
    if document.get("policyName", "default") != "default":
        raise ValueError(f"{path}: 'policyName' must be 'default' (the only key policy name)")
    return document
