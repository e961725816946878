"""Plain text from the HTML fragments of AWS documentation (for builder forms and lists)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "paragraph_labels"]

# "<p> <b>Required permissions</b>: …" or "<p> <b>Related operations:</b> </p>": a paragraph
# that opens with a bold label and a colon (how AWS's API documentation heads its parts).
_LABEL = re.compile(r"<p>\s*<b>([^<>]{1,80})</b>\s*(:?)")  # no backtracking: [^<>] stops at "<"


class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"p", "br", "li", "ul", "ol", "div", "h1", "h2", "h3", "h4", "note"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities decoded, paragraphs kept."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    text = re.sub(r"^-\n+", "- ", "\n".join(lines), flags=re.MULTILINE)  # "<li><p>x" → "- x"
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def paragraph_labels(html: str) -> tuple[str, ...]:
    """The labels of the paragraphs that open with a bold ``label:`` (in order, each once).

    In the plain text (:func:`html_to_text`) such a paragraph starts with ``label:``.
    """
    labels: list[str] = []
    for match in _LABEL.finditer(html):
        bold = html_to_text(match.group(1))
        label = bold.removesuffix(":").strip()
        if (bold.endswith(":") or match.group(2)) and label and ":" not in label and label not in labels:
            labels.append(label)
    return tuple(labels)
