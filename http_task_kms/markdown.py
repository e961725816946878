"""Markdown that text from an untrusted document cannot break out of.

A ``--spec`` document's texts end up in a reference page that a builder renders. Every
character that could open Markdown structure or raw HTML (a heading, emphasis, a link, a
table cell, a tag, an entity) is backslash-escaped (CommonMark: any ASCII punctuation may
be), values go into code spans with a fence longer than any backtick run inside them,
and control characters are shown, not obeyed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["cell", "code", "paragraphs", "table", "text"]

# A backslash only matters before ASCII punctuation (or at a line's end: a hard break).
_SPECIAL = re.compile(r"\\(?=[!-/:-@\[-`{-~\n]|\Z)|[`*_\[\]<>&|#~]")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _visible(value: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", value)


def text(value: str) -> str:
    """``value`` as literal Markdown text (line breaks kept)."""
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), _visible(value))


def code(value: str, *, in_table: bool = False) -> str:
    """``value`` as one code span (on one line; ``|`` escaped inside a table cell)."""
    value = _visible(value).replace("\n", "\\n")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith(("`", " ")) or value.endswith(("`", " ")) else ""
    span = f"{fence}{pad}{value}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def paragraphs(plain: str) -> list[str]:
    """The blank-line separated paragraphs of plain text, each as Markdown (``- `` items stay items)."""
    found = []
    for paragraph in plain.split("\n\n"):
        if not paragraph.strip():
            continue
        if paragraph.startswith("- "):
            found.append("- " + text(paragraph[2:]))
        else:
            found.append(text(paragraph))
    return found


def cell(plain: str, extra: Sequence[str] = ()) -> str:
    """Plain text (and ``extra`` lines, already Markdown) as one table cell: ``<br>`` for breaks."""
    parts = []
    for paragraph in paragraphs(plain):
        item = paragraph.startswith("- ")
        parts.append(("• " + paragraph[2:] if item else paragraph).replace("\n", "<br>"))
    lines = [line.replace("\n", "<br>") for line in extra]
    if parts and lines:
        return "<br><br>".join(parts) + "<br><br>" + "<br>".join(lines)
    return "<br><br>".join(parts) or "<br>".join(lines)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table whose cells are already Markdown (see :func:`cell`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
