"""The rollout's journal: one JSON object a line, appended, flushed and fsynced per event.

Written before and after every key's write, so that a rollout stopped at any moment — SIGKILL
included — can be resumed without applying a key twice or skipping one::

    {"event": "keys", "format": "http-task-kms/rollout-journal@1", "region": …, "count": 200, …}
    {"event": "run", "at": "2026-11-29T12:00:00+00:00", "mode": "apply"}
    {"event": "sending", "i": 0, "key": "1234abcd-…", "backupFile": "…", "policySha256": "…"}
    {"event": "done", "i": 0, "key": "1234abcd-…", "backupFile": "…", "verified": true}
    {"event": "unchanged" | "skipped" | "failed" | "preview", "i": …, "key": …, …}

The first line (:class:`Header`) says what the rollout is: its Region and endpoint, the
SHA-256 of its policy file and of its key list, how many keys. ``i`` is a key's index in the
list. ``sending`` is written (with the backup file of the policy it replaces) after the backup
and immediately before PutKeyPolicy; ``done`` / ``failed`` / ``unchanged`` / ``skipped`` after.

Read back (``--resume``, ``--retry-failed``, ``rollback --journal``) it is untrusted input: at
most :data:`~http_task_kms.config.MAX_JOURNAL_BYTES`, each line at most
:data:`~http_task_kms.config.MAX_JOURNAL_LINE_BYTES` of strict JSON (no duplicate key, NaN,
lone surrogate), each event's fields of the right type and its key the list's key at ``i``;
anything else is a problem naming the line. A last line without its newline is what a write
cut short left behind (the process died inside it, before the write it announced): it is
ignored, and cut off before the next run appends.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ... import jsonutil
from ...config import MAX_JOURNAL_BYTES, MAX_JOURNAL_LINE_BYTES
from ...errors import InputError
from ...inputs import size_text
from ..backup import sync_directory

__all__ = [
    "FORMAT",
    "KEY_EVENTS",
    "Header",
    "JournalWriter",
    "now",
    "read_events",
    "read_header",
]

FORMAT = "http-task-kms/rollout-journal@1"
#: Events about one key (each has ``i`` and ``key``).
KEY_EVENTS = frozenset({"sending", "done", "unchanged", "skipped", "failed", "preview"})
_EVENTS = KEY_EVENTS | {"keys", "run"}
#: Optional fields of key events, and the types they must have.
_FIELDS: dict[str, tuple[type, ...]] = {
    "backupFile": (str, type(None)),
    "policySha256": (str,),
    "verified": (bool, type(None)),
    "code": (str,),
    "reason": (str,),
    "note": (str,),
    "written": (bool,),
    "changed": (bool, type(None)),
}

Source = Literal["keys", "all-keys"]


def now() -> str:
    """The UTC time, as journal events show it."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Header:
    """The journal's first line: what this rollout is."""

    region: str
    endpoint: str | None
    policySha256: str
    source: Source
    keysFile: str
    keysSha256: str
    count: int
    dryRun: bool
    createdAt: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``keys`` event."""
        return {"event": "keys", "format": FORMAT, **asdict(self)}


def _bad(path: Path, number: int, message: str) -> InputError:
    return InputError("journal", f"{path}: line {number}: {message}")


def _header(path: Path, event: Mapping[str, Any]) -> Header:
    if event.get("event") != "keys" or event.get("format") != FORMAT:
        raise _bad(path, 1, f"not the start of an http-task-kms rollout journal (format {FORMAT})")
    types: dict[str, tuple[type, ...]] = {
        "region": (str,),
        "endpoint": (str, type(None)),
        "policySha256": (str,),
        "source": (str,),
        "keysFile": (str,),
        "keysSha256": (str,),
        "count": (int,),
        "dryRun": (bool,),
        "createdAt": (str,),
    }
    for name, allowed in types.items():
        value = event.get(name)
        if not isinstance(value, allowed) or (int in allowed and isinstance(value, bool)):
            raise _bad(path, 1, f"'{name}' is missing or of the wrong type")
    if event["source"] not in ("keys", "all-keys") or event["count"] < 1:
        raise _bad(path, 1, "'source' must be keys or all-keys, and 'count' at least 1")
    return Header(**{name: event[name] for name in types})


def _check_event(path: Path, number: int, event: Any, count: int) -> dict[str, Any]:
    if not isinstance(event, dict) or event.get("event") not in _EVENTS:
        raise _bad(
            path,
            number,
            "not a journal event (an object whose 'event' is one of " + ", ".join(sorted(_EVENTS)) + ")",
        )
    if event["event"] == "keys":
        raise _bad(path, number, "a second 'keys' event: a journal holds one rollout")
    if event["event"] not in KEY_EVENTS:
        return event
    index, key = event.get("i"), event.get("key")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        raise _bad(path, number, f"'i' must be a key's index in the list, 0 to {count - 1}")
    if not isinstance(key, str) or not key:
        raise _bad(path, number, "'key' is missing or not a string")
    for name, allowed in _FIELDS.items():
        if name in event and not isinstance(event[name], allowed):
            raise _bad(path, number, f"'{name}' is of the wrong type")
    return event


def _complete_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of every line ending in a newline; raises for one over the line cap."""
    total = 0
    with open(path, "rb") as handle:
        number = 0
        while True:
            line = handle.readline(MAX_JOURNAL_LINE_BYTES + 1)
            if not line:
                return
            number += 1
            total += len(line)
            if total > MAX_JOURNAL_BYTES:
                raise InputError(
                    "journal",
                    f"{path} is larger than {size_text(MAX_JOURNAL_BYTES)}, the limit for a journal",
                )
            if not line.endswith(b"\n"):
                if len(line) > MAX_JOURNAL_LINE_BYTES:
                    raise _bad(path, number, f"longer than {size_text(MAX_JOURNAL_LINE_BYTES)}")
                return  # the end of a write cut short: ignored
            yield number, line


def _parse(path: Path, number: int, line: bytes) -> Any:
    try:
        return jsonutil.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _bad(path, number, f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _bad(path, number, jsonutil.describe(exc)) from None


def read_header(path: str | Path) -> Header:
    """The journal's first line, checked; raises :class:`InputError` (field ``journal``)."""
    path = Path(path)
    try:
        for number, line in _complete_lines(path):
            return _header(path, _parse(path, number, line))
    except OSError as exc:
        raise InputError("journal", f"cannot read {path}: {exc.strerror or exc}") from None
    raise InputError("journal", f"{path} is empty: no rollout was started in it")


def read_events(path: str | Path, header: Header) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, event) of every event after the header, checked; raises :class:`InputError`."""
    path = Path(path)
    try:
        for number, line in _complete_lines(path):
            if number > 1:
                yield number, _check_event(path, number, _parse(path, number, line), header.count)
    except OSError as exc:
        raise InputError("journal", f"cannot read {path}: {exc.strerror or exc}") from None


class JournalWriter:
    """Appends events to a journal: one line each, flushed and fsynced before :meth:`write` returns.

    Thread-safe. A journal that would grow past :data:`MAX_JOURNAL_BYTES` (it could not be read
    back) refuses the event with an :class:`OSError`: the caller then sends nothing more.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the run; closed by close()
        self._size = self._file.tell()

    @classmethod
    def create(cls, path: str | Path, header: Header) -> JournalWriter:
        """A new journal (refused if the file exists) starting with ``header``."""
        path = Path(path)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(descriptor)
        writer = cls(path)
        writer.write(header.to_json())
        sync_directory(path.parent)
        return writer

    @classmethod
    def reopen(cls, path: str | Path) -> JournalWriter:
        """An existing journal, with the incomplete last line a killed run may have left cut off."""
        path = Path(path)
        with open(path, "r+b") as handle:
            end = handle.seek(0, os.SEEK_END)
            kept, position = 0, end
            while position > 0:
                start = max(0, position - 4096)
                handle.seek(start)
                cut = handle.read(position - start).rfind(b"\n")
                if cut >= 0:
                    kept = start + cut + 1
                    break
                position = start
            if kept != end:
                handle.truncate(kept)
                os.fsync(handle.fileno())
        return cls(path)

    def write(self, event: Mapping[str, Any]) -> None:
        """Append one event and make it durable."""
        line = (json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode()
        with self._lock:
            if self._size + len(line) > MAX_JOURNAL_BYTES or len(line) > MAX_JOURNAL_LINE_BYTES:
                raise OSError(f"the journal {self.path} is full ({size_text(MAX_JOURNAL_BYTES)})")
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._size += len(line)

    def close(self) -> None:
        """Close the file (every event is on disk already)."""
        with self._lock:
            self._file.close()
