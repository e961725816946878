"""Where registered secrets hide in a text: every form they take, at a cost that does not grow.

A secret (secret access key, session token) or a request signature may come back from a
server or a library in another form than the one sent: upper-case, percent-encoded
(``%2F``, ``%252F``), JSON- or repr-escaped (``\\/``, ``\\u002b``), with a stray ``\\r``
after it, or cut in two where a text was cut (the response body cap, a shortened message).
:class:`SecretSet` finds them all in a text lower-cased by :func:`lower` (so case never
matters) and returns the spans to mask; :mod:`http_task_kms.redact` masks them.

Its cost is the same on the millionth request as on the first. Secrets are few and
long-lived: the :data:`MAX_SECRETS` most recently used are kept, each with one pattern
for all its forms, compiled once when it is first registered (found by sre's fast
search for its first characters: one pattern of many secrets would be tried at every
position, several times slower). Signatures are one per attempt: the
:data:`MAX_SIGNATURES` most recent are kept in hash tables, looked up from the hex runs
of the text, never scanned one by one.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence

__all__ = [
    "MAX_SECRETS",
    "MAX_SIGNATURES",
    "MIN_PIECE",
    "MIN_SECRET_LENGTH",
    "SecretSet",
    "Span",
    "lower",
    "may_hold_a_signature",
]

#: Shorter values are not registered: they would mask ordinary words.
MIN_SECRET_LENGTH = 16
#: A piece of a secret this long, at the start or end of a text, is masked (a cut secret).
MIN_PIECE = 8
#: Secret keys and session tokens kept (most recently registered first to stay).
MAX_SECRETS = 16
#: Signatures kept (the most recent ones: one per attempt).
MAX_SIGNATURES = 1024

Span = tuple[int, int]

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
#: How JSON and Python print these characters in a string (as two characters).
_SHORT_ESCAPES = {
    "/": "\\/",
    '"': '\\"',
    "'": "\\'",
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_UNESCAPED = {escaped: char for char, escaped in _SHORT_ESCAPES.items()}
#: One encoded character of a lower-cased text (longest forms first).
_ENCODED_CHAR = re.compile(
    r"%25[0-9a-f]{2}|%[0-9a-f]{2}|\\u[0-9a-f]{4}|\\x[0-9a-f]{2}|\\[/\"'\\nrtbf]|.", re.DOTALL
)
#: Characters of a (possibly encoded) base64 or hex secret, for the pieces at a text's ends.
_RUN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+/=%\\_-")
_RUN = re.compile(r"[a-z0-9+/=%\\_-]+")
#: What may follow a cut text: quotes, an ellipsis, white space.
_AFTER_CUT = " \t\r\n\"'.…"
_HEX_MARKS = bytes(ord("h") if chr(i) in "0123456789abcdef" else ord(" ") for i in range(256))
_HEX_RUN = re.compile(b"h" * 16 + b"h*")  # a literal prefix (not h{16}): sre's fast search
_HEX_PREFIX = re.compile(r"[0-9a-f]*")  # signatures are lower-case hex (register_signature)
#: MIN_PIECE characters that may be hex digits or encode them (``%61``, ``%2561``, ``\\u0061``,
#: ``\\x61``): a text without such a run can hold no signature nor any piece of one.
_HEXISH_RUN = re.compile(rf"[0-9a-f%\\ux]{{{MIN_PIECE}}}")


def _hex_length(text: str) -> int:
    """How many lower-case hex characters ``text`` starts with."""
    found = _HEX_PREFIX.match(text)
    return found.end() if found else 0


def may_hold_a_signature(low: str) -> bool:
    """Whether ``low`` (lower-cased) could hold any signature, or a piece of one, in any form.

    False only when no run of :data:`MIN_PIECE` characters in it could spell hex digits:
    then no signature, registered or not, can ever be found in it.
    """
    return _HEXISH_RUN.search(low) is not None


def lower(text: str) -> str:
    """``text`` lower-cased character for character: an offset in it is an offset in ``text``."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


def _encodings(char: str) -> list[str]:
    """Every way an encoder may print ``char`` (lower-case hex): ``/``, ``%2f``, ``\\/`` …"""
    if char.isascii() and char.isalnum():
        return [char]
    utf8 = char.encode("utf-8", "surrogatepass")
    forms = {char, "".join(f"%{b:02x}" for b in utf8), "".join(f"%25{b:02x}" for b in utf8)}
    if ord(char) < 0x10000:
        forms.add(f"\\u{ord(char):04x}")
    if ord(char) < 0x100:
        forms.add(f"\\x{ord(char):02x}")
    if char in _SHORT_ESCAPES:
        forms.add(_SHORT_ESCAPES[char])
    return sorted(forms, key=len, reverse=True)


def _pattern(secret: str) -> str:
    """A regular expression for ``secret`` with each character in any of its encodings."""
    parts = []
    for char in secret:
        forms = _encodings(char)
        parts.append(re.escape(char) if len(forms) == 1 else f"(?:{'|'.join(map(re.escape, forms))})")
    return "".join(parts)


def _decoded(run: str) -> tuple[str, Sequence[int]]:
    """``run`` with its escapes undone, and where in ``run`` each decoded character starts.

    The offsets end with ``len(run)``: decoded character ``i`` is ``run[at[i]:at[i + 1]]``.
    """
    if "%" not in run and "\\" not in run:
        return run, range(len(run) + 1)
    chars, starts = [], []
    for match in _ENCODED_CHAR.finditer(run):
        token = match.group()
        if len(token) == 1:
            chars.append(token)
        elif token[0] == "%":
            chars.append(chr(int(token[-2:], 16)))
        elif token[1] in "ux":
            chars.append(chr(int(token[2:], 16)))
        else:
            chars.append(_UNESCAPED[token])
        starts.append(match.start())
    return "".join(chars), [*starts, len(run)]


class SecretSet:
    """The secrets and recent signatures to mask, bounded; thread-safe."""

    def __init__(self, *, max_secrets: int = MAX_SECRETS, max_signatures: int = MAX_SIGNATURES) -> None:
        self._lock = threading.Lock()
        self._max_secrets, self._max_signatures = max_secrets, max_signatures
        self._secrets: OrderedDict[str, re.Pattern[str]] = OrderedDict()
        # Replaced whole (never changed in place), so readers need no lock.
        # (pattern of each secret, the secrets, the longest's length): one snapshot.
        self._kept: tuple[tuple[re.Pattern[str], ...], tuple[str, ...], int] = ((), (), 0)
        self._generation = 0  # counts the changes of the kept secrets (not of the signatures)
        self._signatures: OrderedDict[str, None] = OrderedDict()
        self._heads: dict[str, tuple[str, ...]] = {}
        self._tails: dict[str, tuple[str, ...]] = {}
        self._counts: Counter[int] = Counter()  # signature lengths (64 for SigV4)
        self._lengths: tuple[int, ...] = ()

    def sizes(self) -> tuple[int, int]:
        """How many (secrets, signatures) are kept."""
        return len(self._secrets), len(self._signatures)

    # -- registering -------------------------------------------------------------------------
    def add_secret(self, secret: str) -> None:
        """Keep ``secret`` (lower-cased); its pattern is compiled only when it is new."""
        secret = lower(secret)
        with self._lock:
            if secret in self._secrets:
                self._secrets.move_to_end(secret)
                return
            self._secrets[secret] = re.compile(_pattern(secret))
            while len(self._secrets) > self._max_secrets:
                self._secrets.popitem(last=False)
            secrets = tuple(self._secrets)
            self._kept = (tuple(self._secrets.values()), secrets, max(map(len, secrets), default=0))
            self._generation += 1  # after the secrets are in place (see ``generation``)

    @property
    def generation(self) -> int:
        """Changes whenever the kept secrets do (a secret added or dropped), never goes back.

        It changes only after the new secrets are in place, so a search that reads it first
        searches for the secrets of that generation or a later one: a text it finds clean may
        be remembered as clean for the generation it read (:func:`~http_task_kms.redact.redact_text`).
        """
        return self._generation

    def add_signature(self, signature: str) -> None:
        """Keep ``signature`` (hex, lower-cased) among the most recent ones; ValueError if not hex."""
        signature = signature.lower()
        if _hex_length(signature) != len(signature):
            raise ValueError("a signature is hexadecimal")  # the pieces are looked for in hex only
        with self._lock:
            if signature in self._signatures:
                self._signatures.move_to_end(signature)
                return
            self._signatures[signature] = None
            self._note(signature, add=True)
            while len(self._signatures) > self._max_signatures:
                self._note(self._signatures.popitem(last=False)[0], add=False)

    def _note(self, signature: str, *, add: bool) -> None:
        """Index (or forget) a signature's first and last characters and its length."""
        self._index(self._heads, signature[:MIN_PIECE], signature, add=add)
        self._index(self._tails, signature[-MIN_PIECE:], signature, add=add)
        self._counts[len(signature)] += 1 if add else -1
        if self._counts[len(signature)] in (0, 1):
            self._lengths = tuple(sorted(n for n, count in self._counts.items() if count > 0))

    @staticmethod
    def _index(table: dict[str, tuple[str, ...]], key: str, value: str, *, add: bool) -> None:
        values = tuple(v for v in table.get(key, ()) if v != value) + ((value,) if add else ())
        if values:
            table[key] = values
        else:
            table.pop(key, None)

    # -- finding -----------------------------------------------------------------------------
    def spans(self, low: str) -> Iterator[Span]:
        """Where a kept secret or signature is in ``low`` (a text lower-cased by :func:`lower`)."""
        patterns, secrets, longest = self._kept
        for pattern in patterns:
            yield from (m.span() for m in pattern.finditer(low))
        if self._lengths:
            yield from self._signature_spans(low)
        if (secrets or self._lengths) and len(low) >= MIN_PIECE:  # a shorter text holds no piece
            limit = max(6 * longest, max(self._lengths, default=0)) + 16
            yield from self._pieces(low, secrets, limit)

    def _signature_spans(self, low: str) -> Iterator[Span]:
        lengths, signatures = self._lengths, self._signatures
        marks = low.encode("ascii", "replace").translate(_HEX_MARKS)  # one byte per character
        for run in _HEX_RUN.finditer(marks):
            start, end = run.span()
            for size in lengths:
                for at in range(start, end - size + 1):
                    if low[at : at + size] in signatures:
                        yield at, at + size

    def _pieces(self, low: str, secrets: tuple[str, ...], limit: int) -> Iterator[Span]:
        """Pieces (at least MIN_PIECE long) of a secret cut at the end or start of ``low``."""
        window = low[-limit - 32 :]
        end = len(low) - len(window) + len(window.rstrip(_AFTER_CUT))
        if end >= MIN_PIECE and all(c in _RUN_CHARS for c in low[end - MIN_PIECE : end]):
            run = _RUN.match(low[max(0, end - limit) : end][::-1])  # backwards from the end
            if run is not None:
                yield from self._head_pieces(low[end - run.end() : end], end - run.end(), secrets)
        window = low[: limit + 32]
        begin = len(window) - len(window.lstrip(_AFTER_CUT))
        run = _RUN.match(low, begin, begin + limit)
        if run is not None and run.end() - begin >= MIN_PIECE:
            yield from self._tail_pieces(run.group(), begin, secrets)

    def _head_pieces(self, run: str, offset: int, secrets: tuple[str, ...]) -> Iterator[Span]:
        """The end of ``run`` is the start of a secret or signature."""
        text, starts = _decoded(run)
        for secret in secrets:
            head = secret[:MIN_PIECE]
            at = text.find(head, max(0, len(text) - len(secret)))
            while at != -1:
                if secret.startswith(text[at:]):
                    yield offset + starts[at], offset + len(run)
                    break
                at = text.find(head, at + 1)
        longest = self._lengths[-1] if self._lengths else 0
        # A signature is hex: its head can only be in the hex characters that end the text.
        hex_tail = _hex_length(text[::-1]) if longest else 0
        for at in range(len(text) - min(longest, hex_tail), len(text) - MIN_PIECE + 1):
            if any(s.startswith(text[at:]) for s in self._heads.get(text[at : at + MIN_PIECE], ())):
                yield offset + starts[at], offset + len(run)
                break

    def _tail_pieces(self, run: str, offset: int, secrets: tuple[str, ...]) -> Iterator[Span]:
        """The start of ``run`` is the end of a secret or signature."""
        text, starts = _decoded(run)
        for secret in secrets:
            tail = secret[-MIN_PIECE:]
            at = text.find(tail, 0, len(secret))
            while at != -1:
                if secret.endswith(text[: at + MIN_PIECE]):
                    yield offset, offset + starts[at + MIN_PIECE]
                    break
                at = text.find(tail, at + 1, len(secret))
        longest = self._lengths[-1] if self._lengths else 0
        # A signature is hex: its tail can only be in the hex characters that start the text.
        hex_head = _hex_length(text) if longest else 0
        for size in range(min(longest, hex_head), MIN_PIECE - 1, -1):
            piece = text[:size]
            if any(s.endswith(piece) for s in self._tails.get(piece[-MIN_PIECE:], ())):
                yield offset, offset + starts[size]
                break
