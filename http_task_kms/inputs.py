"""The one reader for files we do not trust: bounded, strict UTF-8, strict JSON.

Every file option of the command line (``--input``, ``--task``, ``lint-policy FILE``,
backups; later ``--workflow-input``, key lists) goes through :func:`read_text` or
:func:`read_json` with its cap from :mod:`http_task_kms.config`. At most ``limit + 1``
bytes are read, from a file or from standard input (``-``), so a huge file or an endless
stream is refused without filling memory. Every failure is an
:class:`~http_task_kms.errors.InputError` naming the field and the rule.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

from . import jsonutil
from .errors import InputError

__all__ = ["read_json", "read_text", "size_text"]


def size_text(limit: int) -> str:
    """``1 MiB (1048576 bytes)``: a cap as the messages show it."""
    mib = limit / (1024 * 1024)
    return f"{mib:g} MiB ({limit} bytes)" if mib >= 1 else f"{limit} bytes"


_CHUNK = 64 * 1024


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit + 1`` bytes, in chunks (``read(n)`` would allocate all of ``n`` up front)."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_bytes(source: str | Path, limit: int, stdin: BinaryIO | None) -> bytes:
    if str(source) == "-":
        return _read_capped(stdin if stdin is not None else sys.stdin.buffer, limit)
    with open(source, "rb") as handle:
        return _read_capped(handle, limit)


def read_text(
    source: str | Path, *, field: str, limit: int, label: str | None = None, stdin: BinaryIO | None = None
) -> str:
    """The text of ``source`` (``-``: standard input), at most ``limit`` bytes of UTF-8.

    ``label`` names the input in messages (the option, e.g. ``--input``; default ``field``).
    """
    name = label or field
    shown = "standard input" if str(source) == "-" else str(source)
    try:
        data = _read_bytes(source, limit, stdin)
    except OSError as exc:
        raise InputError(field, f"cannot read {shown}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(
            field,
            f"{shown} is larger than {size_text(limit)}, the limit for {name}; "
            "nothing past the limit was read",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(field, f"{shown} is not UTF-8 text (byte {exc.start})") from None


def read_json(
    source: str | Path, *, field: str, limit: int, label: str | None = None, stdin: BinaryIO | None = None
) -> Any:
    """:func:`read_text`, parsed as strict JSON (:func:`http_task_kms.jsonutil.loads`)."""
    text = read_text(source, field=field, limit=limit, label=label, stdin=stdin)
    try:
        return jsonutil.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(field, jsonutil.describe(exc)) from None
