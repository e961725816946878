"""SigV4 written out for the requests this tool sends; botocore's ``SigV4Auth`` stays the reference.

:func:`sign` signs a request of the shape a JSON-protocol call has — an ``http(s)`` URL whose
path is plain segments, any query, ASCII headers none of which botocore's signer rewrites or
reads (``Authorization``, ``Date``, ``X-Amz-Date``, ``X-Amz-Security-Token``,
``X-Amz-Content-SHA256``), a bytes body — exactly as botocore does, in a fifth of the time
(no ``AWSRequest``, no header-message object, one-shot HMACs). For any other request it
returns ``None`` and the caller signs with botocore. Each step mirrors the botocore method
named in its docstring; botocore's own lists (the headers it never signs, the timestamp
format) are imported, not copied. ``tests/test_sigv4_fast.py`` holds it to AWS's SigV4 test
suite and to botocore on thousands of random requests.

The signing time is read from ``botocore.auth.get_current_datetime`` at each call, as
botocore's signer reads it: one clock for both.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

import botocore.auth
from botocore.auth import EMPTY_SHA256_HASH, SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP

__all__ = ["LOG", "canonical_request", "sign", "string_to_sign"]

#: Headers botocore's signer deletes, sets or reads: a request holding one is left to it.
_BOTOCORE_OWNED = frozenset(
    {"authorization", "date", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}
)
_NOT_SIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)
#: A path that botocore's normalisation (dot segments, repeated slashes, quoting) leaves as it is.
_PLAIN_PATH = re.compile(r"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+)*/?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: An HTTP header name (RFC 9110 token); botocore strips the names it lists as signed, not those it signs.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: DEBUG: the canonical request and the string to sign, as botocore logs them (never the signature);
#: http_task_kms.auth.sigv4 scrubs this logger's records.
LOG = logging.getLogger(__name__)


def _host(parts: SplitResult) -> str | None:
    """botocore's ``_host_from_url``: the lower-cased host, with its port unless the default one."""
    if len(parts.netloc) > _REMEMBERED_NETLOC:
        return _netloc_host.__wrapped__(parts.scheme, parts.netloc)
    return _netloc_host(parts.scheme, parts.netloc)


_REMEMBERED_NETLOC = 300  # a host name is at most 253 characters


@functools.lru_cache(maxsize=64)
def _netloc_host(scheme: str, netloc: str) -> str | None:
    parts = SplitResult(scheme, netloc, "", "", "")
    if "@" in netloc or "[" in netloc or not parts.hostname:
        return None  # user info, an IPv6 literal: botocore's
    try:
        port = parts.port
    except ValueError:
        return None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        return f"{parts.hostname}:{port}"
    return parts.hostname


def _query(query: str) -> str:
    """botocore's ``_canonical_query_string_url``: pairs sorted as written, not re-encoded."""
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


def _signed_headers(url: SplitResult, headers: Mapping[str, str]) -> dict[str, str] | None:
    """botocore's ``headers_to_sign``: lower-cased name → value, with ``host``; None if not covered."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        if not (
            isinstance(name, str) and isinstance(value, str) and _TOKEN.fullmatch(name) and value.isascii()
        ):
            return None
        lower = name.lower()
        if lower in found:
            return None  # two values for one name: botocore joins them
        if lower not in _NOT_SIGNED:
            found[lower] = value
    if "host" not in found:
        host = _host(url)
        if host is None:
            return None
        found["host"] = host
    return found


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str] | None:
    """botocore's ``canonical_request`` and the signed-header names; None for a request not covered.

    ``headers`` are the headers as they will be sent, ``X-Amz-Date`` included, without
    ``Authorization``.
    """
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not _PLAIN_PATH.fullmatch(parts.path):
        return None
    signed = _signed_headers(parts, headers)
    if signed is None:
        return None
    names = sorted(signed)
    lines = "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names)
    signed_names = ";".join(names)
    payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256_HASH
    path = parts.path or "/"
    return (
        f"{method.upper()}\n{path}\n{_query(parts.query)}\n{lines}\n{signed_names}\n{payload}",
        signed_names,
    )


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    """botocore's ``string_to_sign``."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"


@functools.lru_cache(maxsize=16)
def _signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The key derived from the secret for the day, Region and service (four HMACs): the same
    all day, so kept (in memory only, a few at a time) as the AWS SDKs keep it."""
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode("utf-8"), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode("utf-8"), "sha256")
    return key


def _signature(secret_key: str, date: str, region: str, service: str, text: str) -> str:
    """botocore's ``signature``: ``text`` signed with the day's derived key."""
    return hmac.digest(_signing_key(secret_key, date, region, service), text.encode("utf-8"), "sha256").hex()


def _timestamp(clock_offset: float) -> str:
    now: datetime.datetime = botocore.auth.get_current_datetime()  # type: ignore[attr-defined]
    if clock_offset:  # as http_task_kms.auth.sigv4's botocore signer: whole seconds, then moved
        now = now.replace(microsecond=0) + datetime.timedelta(seconds=clock_offset)
    return now.strftime(SIGV4_TIMESTAMP)


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key: str,
    secret_key: str,
    token: str | None,
    service: str,
    region: str,
    clock_offset: float = 0.0,
) -> dict[str, str] | None:
    """``headers`` plus X-Amz-Date, X-Amz-Security-Token (if ``token``) and Authorization, in
    botocore's order; or None when the request is not of the shape covered here."""
    if any(isinstance(name, str) and name.lower() in _BOTOCORE_OWNED for name in headers):
        return None
    timestamp = _timestamp(clock_offset)
    sent = {**headers, "X-Amz-Date": timestamp}
    if token:
        sent["X-Amz-Security-Token"] = token
    canonical = canonical_request(method, url, sent, body)
    if canonical is None:
        return None
    text, signed_names = canonical
    date = timestamp[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = string_to_sign(timestamp, scope, text)
    LOG.debug("CanonicalRequest:\n%s", text)
    LOG.debug("StringToSign:\n%s", to_sign)
    signature = _signature(secret_key, date, region, service, to_sign)
    credential = f"Credential={access_key}/{scope}"
    sent["Authorization"] = (
        f"AWS4-HMAC-SHA256 {credential}, SignedHeaders={signed_names}, Signature={signature}"
    )
    return sent
