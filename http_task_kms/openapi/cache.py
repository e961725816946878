"""A JSON copy of each parsed OpenAPI document in the user's cache directory.

Parsing the 800 KB KMS document as YAML takes about 150 ms; reading the same data as
JSON takes a few. The copy is keyed by the document's path, size and modification time,
so an edited or regenerated document is parsed again, and by :data:`RULES`, so a copy
made under older parsing rules is never trusted. ``parse`` checks the document before
anything is written: a refused document (too large, a "billion laughs", duplicate keys)
raises there and leaves no copy. Any failure to read or write the cache only costs the
YAML parse: the cache is never a reason for an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

__all__ = ["RULES", "cache_dir", "cached_document"]

#: The parsing rules a copy was made under: change it when the loader refuses more.
RULES = "strict-1"


def cache_dir() -> Path:
    """Where the parsed copies live (``$XDG_CACHE_HOME/http-task-kms/specs`` on Linux)."""
    return Path(platformdirs.user_cache_dir("http-task-kms")) / "specs"


def _key(path: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    identity = f"{RULES}\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def cached_document(path: str | Path, parse: Callable[[Path], Any]) -> Any:
    """``parse(path)``, or the JSON copy of an earlier parse of the same file."""
    source = Path(path)
    key = _key(source)
    if key is None:
        return parse(source)
    copy = cache_dir() / f"{key}.json"
    try:
        with open(copy, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        pass
    document = parse(source)
    try:
        text = json.dumps(document, separators=(",", ":"))
        if json.loads(text) != document:
            return document  # YAML-only values (integer keys …): a JSON copy would differ
    except (TypeError, ValueError):
        return document  # dates and other values JSON cannot hold: parse each time
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=copy.parent, suffix=".tmp")
    except OSError:
        return document  # no writable cache: parse each time
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, copy)  # atomic: concurrent processes never see half a file
    except OSError:
        Path(temp).unlink(missing_ok=True)
    return document
