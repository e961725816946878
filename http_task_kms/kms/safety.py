"""Never lose the policy that was there: read it, diff it, back it up, then send.

Before PutKeyPolicy the current policy is read with GetKeyPolicy (through the same
signing and transport code), compared statement by statement with the new one, and
written to a backup file. An equivalent policy is not sent unless ``force``. A
``MalformedPolicyDocumentException`` about a principal, when every principal is
well-formed, is retried for a bounded time: a principal created moments ago may not be
visible to KMS yet. Lockout and syntax errors are never retried.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from .. import jsonutil
from ..config import MAX_BACKUP_BYTES
from ..errors import Interrupted, Problem
from ..inputs import read_json
from ..result import TestRequestResult, failed_step, preflight_failure, validation_failure
from .policy.diff import diff_policies
from .policy.lint import lint_policy

if TYPE_CHECKING:
    from ..client import Client
    from ..prepare import PreparedRequest

__all__ = ["BACKUP_FORMAT", "default_backup_dir", "put_key_policy_safely", "read_backup", "write_backup"]

BACKUP_FORMAT = "http-task-kms/key-policy-backup@1"
_PRINCIPAL_WORDS = re.compile(r"principal", re.IGNORECASE)
_LOCKOUT_WORDS = re.compile(r"not allow you to update the key policy", re.IGNORECASE)
_MALFORMED_PRINCIPAL_CODES = frozenset(
    {"PRINCIPAL_ARN_INVALID", "ACCOUNT_ID_INVALID", "PRINCIPAL_TYPE_UNKNOWN"}
)


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
    _sync_directory(directory)
    return path


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform can)."""
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
    client: Client,
    request: PreparedRequest,
    *,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TestRequestResult:
    """Send; retry a not-yet-visible principal with backoff for at most ``wait_seconds``."""
    started, delay, attempts = clock(), 2.0, 0
    while True:
        result = client.send(request)
        attempts += result.attempts
        policy = request.body.get("Policy", "") if isinstance(request.body, dict) else ""
        remaining = wait_seconds - (clock() - started)
        if not _may_still_succeed(result, policy) or remaining <= 0:
            result.attempts = attempts
            if result.error is not None and _may_still_succeed(result, policy) and wait_seconds > 0:
                result.error.message += f" (still failing after waiting {wait_seconds:g} s for the principal)"
            return result
        sleep(min(delay, remaining))
        delay = min(delay * 2, 15.0)


def _read_current(request: PreparedRequest, client: Client) -> TestRequestResult:
    """GetKeyPolicy for the key, with this plugin's own template, at the request's endpoint."""
    from .plugin import own_template  # noqa: PLC0415 - the plugin module imports this one lazily

    key = {"KeyId": request.body["KeyId"], "PolicyName": "default"}
    return client.call(own_template("kms.GetKeyPolicy"), key, like=request)


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


def put_key_policy_safely(request: PreparedRequest, client: Client) -> TestRequestResult:
    """Read, diff and back up the current policy, then send PutKeyPolicy (unless unchanged)."""
    body: dict[str, Any] = request.body
    options = client.options.plugin_options
    force = bool(options.get("force"))
    current = _read_current(request, client)
    previous = current.body.get("Policy") if current.ok and isinstance(current.body, dict) else None
    if not isinstance(previous, str):
        if not force:
            return _unread(current)
        result = send_with_principal_wait(
            client, request, wait_seconds=float(options.get("principal_wait", 120))
        )
        result.extra = {
            "previousPolicy": None,
            "diff": None,
            "changed": None,
            "sent": True,
            "backupFile": None,
        }
        return result
    diff = diff_policies(previous, body["Policy"])
    extra: dict[str, Any] = {
        "previousPolicy": _as_json(previous),
        "diff": diff.model_dump(exclude={"changed"}),
        "changed": diff.changed,
    }
    if not diff.changed and not force:
        skipped = TestRequestResult(ok=True, attempts=0, warnings=[w.model_dump() for w in request.warnings])
        skipped.extra = {
            **extra,
            "sent": False,
            "note": "the new policy is equivalent to the current one: not sent (use --force)",
        }
        return skipped
    backup_dir = Path(options.get("backup_dir") or default_backup_dir())
    try:
        backup = write_backup(
            backup_dir,
            key_id=body["KeyId"],
            region=request.endpoint.region,
            policy=previous,
            endpoint=request.endpoint.url,
        )
    except OSError as exc:
        refused = validation_failure(
            [
                Problem(
                    field="backup-dir",
                    message=f"cannot write the backup of the "
                    f"current policy to {backup_dir}: {exc.strerror}; nothing was changed",
                )
            ]
        )
        refused.extra = {**extra, "sent": False}
        return refused
    try:
        result = send_with_principal_wait(
            client, request, wait_seconds=float(options.get("principal_wait", 120))
        )
    except Interrupted as interrupted:
        interrupted.details.update({"backupFile": str(backup), "previousPolicy": extra["previousPolicy"]})
        raise
    result.extra = {**extra, "sent": True, "backupFile": str(backup)}
    return result


def _as_json(text: str) -> Any:
    try:
        return jsonutil.loads(text)
    except ValueError:
        return text
