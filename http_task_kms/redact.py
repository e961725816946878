"""Keep secrets out of results, logs and files.

Three kinds of secret exist here: the secret access key, the session token and the
request signature. :func:`redact_headers` masks them in a request shown to the user; a
logging filter (installed by :func:`install_log_filter` in the LogRecord factory) scrubs
every log record when it is created, whatever the logger (botocore's signer logs the
canonical request, session token included) and the level.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "REDACTED",
    "install_log_filter",
    "redact_headers",
    "redact_text",
    "redact_value",
    "register",
    "register_authorization",
]

REDACTED: Final = "<redacted>"
_SIGNATURE = re.compile(r"(Signature[=:]\s*)[0-9a-fA-F]{16,}")
_TOKEN_LINE = re.compile(r"(x-amz-security-token[:=]\s*)[^\s,&]+", re.IGNORECASE)
# Secrets this process never registered: e.g. an access key created through an API
# (IAM CreateAccessKey, STS AssumeRole), in a response body that botocore logs at DEBUG.
_NAMED_SECRET = re.compile(
    r"(?P<name>(?:SecretAccessKey|SessionToken|secret_?access_?key|session_?token|security_?token)"
    r"""(?:\s*>\s*|["']?\s*[:=]\s*["']?|\s+))(?P<value>[A-Za-z0-9/+=]{16,})""",
    re.IGNORECASE,
)
_SECRET_HEADERS = frozenset({"x-amz-security-token"})

_lock = threading.Lock()
_secrets: set[str] = set()


def register(*secrets: str | None) -> None:
    """Remember values that must never be printed (secret keys, tokens)."""
    with _lock:
        _secrets.update(s for s in secrets if s and len(s) >= 4)


def register_authorization(header: str) -> None:
    """Remember the signature inside an Authorization header."""
    match = re.search(r"Signature=([0-9a-fA-F]+)", header)
    if match:
        register(match.group(1))


def redact_text(text: str) -> str:
    """``text`` with every known secret, signature and session token masked."""
    text = _SIGNATURE.sub(r"\1" + REDACTED, text)
    text = _TOKEN_LINE.sub(r"\1" + REDACTED, text)
    text = _NAMED_SECRET.sub(r"\g<name>" + REDACTED, text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


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
    """Headers safe to show: the signature and session token masked."""
    shown = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            shown[name] = REDACTED
        elif name.lower() == "authorization":
            shown[name] = _SIGNATURE.sub(r"\1" + REDACTED, value)
        else:
            shown[name] = redact_text(value)
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


def install_log_filter() -> None:
    """Scrub every log record, whatever its logger and level (idempotent)."""
    with _lock:
        factory = logging.getLogRecordFactory()
        if not isinstance(factory, _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(factory))
