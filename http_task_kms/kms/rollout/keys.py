"""Key lists: one key ID or key ARN a line, checked whole before anything is sent, then streamed.

A list is an input we do not trust (a file from anywhere, or ListKeys' answers written beside a
journal): at most :data:`~http_task_kms.config.MAX_KEY_LIST_BYTES`, UTF-8, and every line a
key ID (a UUID, or ``mrk-`` and 32 hex digits) or a key ARN in the rollout's Region and
partition — an alias, an ARN of another Region or anything else is a problem naming its line,
every line at once. Blank lines and lines starting with ``#`` are ignored. A key named twice
(also as ID and as ARN) is a problem too: it would be worked on twice.

Memory stays flat in the number of keys: the list is read line by line (twice: once to check
it, once to work through it), and what is kept per key is an 8-byte digest of its key ID
(:attr:`KeyList.digests`), which the journal's entries are checked against on ``--resume``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ...config import MAX_KEY_LIST_BYTES
from ...errors import InputError, Problem, RequestValidationError
from ...inputs import size_text
from ..policy.arns import KEY_ID_RE, is_alias, is_key_arn, parse_arn

__all__ = ["KeyList", "digest", "iter_keys", "key_id_of", "scan_key_list", "write_key_list"]

#: Problems reported by line before the rest are only counted.
_SHOWN_PROBLEMS = 20


def key_id_of(key: str) -> str:
    """The key ID of a key ID or key ARN."""
    return key.rsplit("/", 1)[-1] if key.startswith("arn:") else key


def digest(key: str) -> int:
    """An 8-byte digest of the key a list line names (its key ID, in lower case)."""
    data = key_id_of(key).lower().encode("ascii", "replace")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


@dataclass(frozen=True)
class KeyList:
    """A checked key list: where it is, how many keys, its SHA-256, and a digest per key."""

    path: Path
    count: int
    sha256: str
    digests: array[int]  # array('Q'): one digest per key, in list order

    def matches(self, index: int, key: str) -> bool:
        """Whether ``key`` is the key at ``index`` of this list."""
        return 0 <= index < self.count and self.digests[index] == digest(key)


def _line_problem(key: str, *, region: str, partition: str) -> str | None:
    """Why one (stripped, non-blank) line is not a key of this rollout, or None."""
    if KEY_ID_RE.match(key):
        return None
    shown = key if len(key) <= 120 else key[:120] + "…"
    if is_alias(key):
        return (
            f"{shown!r} is an alias; apply takes key IDs or key ARNs (PutKeyPolicy does not accept "
            "aliases): ListAliases' TargetKeyId is the key ID"
        )
    if not is_key_arn(key):
        return (
            f"{shown!r} is neither a key ID nor a key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)"
        )
    arn = parse_arn(key)
    assert arn is not None  # is_key_arn parsed it
    if arn.region != region:
        return f"the key ARN is in {arn.region}, but the rollout runs in {region} (--region)"
    if arn.partition != partition:
        return f"the key ARN is in partition {arn.partition}, but {region} is in {partition}"
    return None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of every line that names a key; raises InputError."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise InputError(
                    "keys", f"{path}: line {number} is not UTF-8 text (byte {exc.start})"
                ) from None
            if text and not text.startswith("#"):
                yield number, text


def iter_keys(path: Path) -> Iterator[tuple[int, str]]:
    """(index, key) of every key of a list already checked by :func:`scan_key_list`, in order."""
    for index, (_, key) in enumerate(_lines(path)):
        yield index, key


def _size(path: Path, field: str, label: str, limit: int) -> None:
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise InputError(field, f"cannot read {path}: {exc.strerror or exc}") from None
    if size > limit:
        raise InputError(
            field, f"{path} is larger than {size_text(limit)}, the limit for {label}; nothing was read"
        )


def _duplicates(path: Path, digests: array[int]) -> list[Problem]:
    """The lines naming a key an earlier line names too (none, usually: then nothing is read again)."""
    ordered = sorted(digests)
    repeated = {a for a, b in itertools.pairwise(ordered) if a == b}
    if not repeated:
        return []
    first: dict[int, int] = {}
    problems = []
    for number, key in _lines(path):
        value = digest(key)
        if value in repeated:
            if value in first:
                problems.append(
                    Problem(
                        field="keys", message=f"{path}: line {number}: the key of line {first[value]} again"
                    )
                )
            else:
                first[value] = number
    return problems


def scan_key_list(
    path: str | Path,
    *,
    region: str,
    partition: str,
    field: str = "keys",
    label: str = "--keys",
    limit: int = MAX_KEY_LIST_BYTES,
) -> KeyList:
    """Check every line of a key list; raise :class:`RequestValidationError` listing problems by line."""
    path = Path(path)
    _size(path, field, label, limit)
    problems: list[Problem] = []
    more = 0
    digests = array("Q")
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            sha.update(chunk)
    for number, key in _lines(path):
        problem = _line_problem(key, region=region, partition=partition)
        if problem is None:
            digests.append(digest(key))
        elif len(problems) < _SHOWN_PROBLEMS:
            problems.append(Problem(field=field, message=f"{path}: line {number}: {problem}"))
        else:
            more += 1
    if not problems:
        problems = _duplicates(path, digests)
    if more:
        problems.append(
            Problem(field=field, message=f"{path}: {more} more lines are not keys of this rollout")
        )
    if not problems and not digests:
        problems.append(Problem(field=field, message=f"{path} names no key"))
    if problems:
        raise RequestValidationError(problems)
    return KeyList(path=path, count=len(digests), sha256=sha.hexdigest(), digests=digests)


def write_key_list(path: Path, key_ids: Iterable[str], *, limit: int = MAX_KEY_LIST_BYTES) -> int:
    """Write key IDs, one a line, whole or not at all (temporary name, fsync, rename); the count.

    Raises :class:`InputError` (field ``all-keys``) when the list would be over ``limit``.
    """
    temporary = path.with_name(f".{path.name}.partial")
    count = size = 0
    try:
        with open(temporary, "w", encoding="ascii") as handle:
            for key_id in key_ids:
                size += len(key_id) + 1
                if size > limit:
                    raise InputError(
                        "all-keys",
                        f"the Region has more keys than one rollout holds ({size_text(limit)} of key IDs, "
                        f"about {limit // 37:,} keys): list them in parts with --keys",
                    )
                handle.write(key_id + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count
