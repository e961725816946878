"""Keep secrets out of results, logs and files.

Three kinds of secret exist here: the secret access key, the session token and the
request signature. :mod:`http_task_kms.auth.sigv4` registers each (:func:`register`,
:func:`register_authorization`); :func:`redact_text` masks them in every form they may
come back in (upper-case, percent-encoded, JSON- or repr-escaped, or cut in two where a
text was cut: see :mod:`http_task_kms.secretforms`), and masks the values this process
never registered that are named as secrets (``Signature=<hex>``, ``X-Amz-Security-Token:
…``, ``SecretAccessKey …``: an access key created through an API, in a response body
that botocore logs at DEBUG). :func:`redact_headers` masks a request or response's
headers, names included.

Logs: the command line, which owns its process, installs :func:`install_log_filter` (the
LogRecord factory scrubs every record of every logger). As a library, nothing changes the
process's logging: :func:`protect_logger` puts a scrubbing filter on the loggers whose
records carry what we sign — botocore's signer logs the canonical request (session token
included) and the signature — which the signer does when it first signs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from .secretforms import MIN_SECRET_LENGTH, SecretSet, Span, lower, may_hold_a_signature

__all__ = [
    "CLEAN_TEXTS",
    "MAX_CLEAN_LENGTH",
    "REDACTED",
    "install_log_filter",
    "protect_logger",
    "redact_headers",
    "redact_text",
    "redact_value",
    "register",
    "register_authorization",
    "register_signature",
    "registered",
]

REDACTED: Final = "<redacted>"
# Matched on the lower-cased text; the group "value" is masked.
_IS = r"""(?:["']?\s*[=:]\s*["']?|%3d|%3a|%253d|%253a|\\u003d)"""
_NAMED: Final = (
    re.compile(r"signature" + _IS + r"(?P<value>[0-9a-f]{16,})"),
    re.compile(r"x-amz-security-token" + _IS + r"""(?P<value>[^\s,&"'<>]+)"""),
    re.compile(
        r"s(?:ecret_?access_?key|ession_?token|ecurity_?token)"
        r"""(?:\s*>\s*|["']?\s*[:=]\s*["']?|\s+)"""
        r"(?P<value>(?:[a-z0-9/+=]|%[0-9a-f]{2}|\\/|\\u00[0-9a-f]{2}){16,})"
    ),
)
_AUTHORIZATION_SIGNATURE = re.compile(r"Signature=([0-9a-fA-F]{16,})")
_HEX = re.compile(r"[0-9a-f]+")
_SECRET_HEADERS = frozenset({"x-amz-security-token"})

#: Short texts remembered as clean (with the generation of the secrets they were searched for).
CLEAN_TEXTS: Final = 4096
#: The longest text remembered as clean (header names and values, reason phrases).
MAX_CLEAN_LENGTH: Final = 256

_lock = threading.Lock()
_registry = SecretSet()
_clean: dict[str, int] = {}  # a text -> the secrets' generation it was found clean for


def register(*secrets: str | None) -> None:
    """Remember values that must never be printed (secret keys, tokens).

    Surrounding white space is dropped (a token read with a trailing ``\\r`` is masked in
    a message that prints it escaped); values shorter than
    :data:`~http_task_kms.secretforms.MIN_SECRET_LENGTH` are ignored.
    """
    for secret in secrets:
        value = (secret or "").strip()
        if len(value) >= MIN_SECRET_LENGTH:
            _registry.add_secret(value)


def register_signature(signature: str) -> None:
    """Remember a request signature (hex); only the most recent ones are kept."""
    value = signature.strip().lower()
    if len(value) >= MIN_SECRET_LENGTH and _HEX.fullmatch(value):
        _registry.add_signature(value)


def register_authorization(header: str) -> None:
    """Remember the signature inside an Authorization header."""
    match = _AUTHORIZATION_SIGNATURE.search(header)
    if match:
        register_signature(match.group(1))


def registered() -> tuple[int, int]:
    """How many (secrets, signatures) are remembered: both bounded."""
    return _registry.sizes()


def redact_text(text: str) -> str:
    """``text`` with every known secret, signature and session token masked, in any form.

    A short text found clean that could hold no signature in any form (a header name, a
    content type, a host) is remembered as clean until the registered secrets change, so
    that the same header is not searched again on every response (:data:`CLEAN_TEXTS`).
    """
    if not text:
        return text
    generation = _registry.generation  # read before the search: see SecretSet.generation
    if _clean.get(text) == generation:
        return text
    low = lower(text)
    spans = [m.span("value") for pattern in _NAMED for m in pattern.finditer(low)]
    spans.extend(_registry.spans(low))
    if spans:
        return _masked(text, spans)
    if len(text) <= MAX_CLEAN_LENGTH and not may_hold_a_signature(low):
        _remember_clean(text, generation)
    return text


def _remember_clean(text: str, generation: int) -> None:
    """Note ``text`` as clean for ``generation``; the memory is emptied whenever it is full."""
    if len(_clean) >= CLEAN_TEXTS:
        _clean.clear()
    _clean[text] = generation


def _masked(text: str, spans: Iterable[Span]) -> str:
    """``text`` with each span replaced by REDACTED (overlapping or touching spans merged)."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, done = [], 0
    for start, end in merged:
        parts += [text[done:start], REDACTED]
        done = end
    parts.append(text[done:])
    return "".join(parts)


def redact_value(value: Any) -> Any:
    """A JSON value with :func:`redact_text` applied to every string in it (keys included)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {redact_text(str(k)): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to show: secrets masked in names and values; the session token's value."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        key = redact_text(name)
        text = REDACTED if name.strip().lower() in _SECRET_HEADERS else redact_text(value)
        shown[key] = f"{shown[key]}, {text}" if key in shown else text  # two names masked alike
    return shown


def _scrub(record: logging.LogRecord) -> None:
    """Replace the record's message (and traceback) by their redacted text."""
    try:
        message = record.getMessage()
    except Exception:
        return  # a broken record must not break logging
    cleaned = redact_text(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None


class _RedactingFactory:
    """Wraps the LogRecord factory: every record of every logger is scrubbed when created.

    A filter on a logger sees only the records logged *at* that logger, not those of its
    children (``botocore.retries.standard``) nor of other libraries running in the same
    process (moto's server logs the Authorization header of the requests it checks).
    """

    def __init__(self, wrapped: Callable[..., logging.LogRecord]) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.wrapped(*args, **kwargs)
        _scrub(record)
        return record


class _ScrubFilter(logging.Filter):
    """A logger filter that scrubs the records logged at its logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


def protect_logger(name: str) -> None:
    """Scrub the records logged at logger ``name`` (idempotent; no other logger is touched)."""
    logger = logging.getLogger(name)
    with _lock:
        if not any(isinstance(f, _ScrubFilter) for f in logger.filters):
            logger.addFilter(_ScrubFilter())


def install_log_filter() -> None:
    """Scrub every log record, whatever its logger and level (idempotent)."""
    with _lock:
        factory = logging.getLogRecordFactory()
        if not isinstance(factory, _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(factory))
