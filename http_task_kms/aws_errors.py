"""What AWS answers mean: error codes, which are worth another attempt, and clock-skew errors.

An AWS JSON service answers an error with ``{"__type": "…#Code", "message": "…"}``; a
query-protocol one (STS) and moto's auth layer with XML. :func:`aws_error` reads either;
:func:`retryable` says whether another attempt can succeed (throttling, 5xx, transient
server errors — never a quota such as ``LimitExceededException``); :func:`is_skew` whether
the service refused the request's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from xml.etree import ElementTree

__all__ = ["THROTTLING_CODES", "TRANSIENT_CODES", "aws_error", "is_skew", "retryable", "xml_texts"]

#: Throttling codes of AWS JSON services: always retryable (LimitExceededException is not one).
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
#: Transient server-side codes worth another attempt.
TRANSIENT_CODES = frozenset(
    {
        "DependencyTimeoutException",
        "KMSInternalException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

_SKEW_CODES = frozenset(
    {
        "RequestTimeTooSkewed",
        "RequestExpired",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "RequestInTheFuture",
    }
)
_SKEW_WORDS = (
    "skew",
    "expired",
    "too far",
    "in the future",
    "request time",
    "signature expired",
    "not yet current",  # KMS, local clock ahead: "Signature not yet current: … is still later than …"
)


def aws_error(status: int, body: Any, reason: str | None) -> tuple[str, str]:
    """(code, message) of an AWS error answer: ``__type`` after its last ``#``, else the status."""
    if isinstance(body, Mapping):
        raw = body.get("__type") or body.get("code") or body.get("Code")
        message = body.get("message") or body.get("Message") or ""
        if isinstance(raw, str) and raw:
            return raw.rsplit("#", 1)[-1].split(":", 1)[0], str(message)
    if isinstance(body, str):
        xml_code, xml_message = xml_texts(body, "Code", "Message")
        if xml_code:
            return xml_code, xml_message or ""
    return f"HTTP{status}", reason or ""


def xml_texts(text: str, *tags: str) -> tuple[str | None, ...]:
    """The text of the first element named by each tag (any namespace), or None each.

    For the XML answers of query-protocol services (STS) and of moto's auth errors; text
    that is not XML (HTML from a proxy, JSON) gives None for every tag.
    """
    try:
        # The standard parser refuses entity expansion bombs (expat >= 2.4); bodies are capped.
        root = ElementTree.fromstring(text)  # noqa: S314
    except ElementTree.ParseError:
        return tuple(None for _ in tags)
    found = (root.find(f".//{{*}}{tag}") for tag in tags)
    return tuple(element.text.strip() if element is not None and element.text else None for element in found)


def retryable(status: int, code: str, catalogue: Iterable[str]) -> bool:
    """Whether another attempt at a request that got this answer can succeed."""
    if code == "LimitExceededException":
        return False  # a quota, not throttling: another attempt fails the same way
    return (
        status >= 500
        or status == 429
        or code in THROTTLING_CODES
        or code in TRANSIENT_CODES
        or code in catalogue
    )


def is_skew(code: str, message: str) -> bool:
    """The service refused the request's time (the local clock, or the server's, is off)."""
    if code not in _SKEW_CODES:
        return False
    return code == "RequestTimeTooSkewed" or any(w in message.lower() for w in _SKEW_WORDS)
