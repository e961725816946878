"""Sending: one ``requests.Session``, timeouts, retries with jitter, re-signing per attempt.

The only module that talks to the network. Redirects are never followed (a 3xx is the
result, so credentials never reach another host); TLS certificates are always verified
(``AWS_CA_BUNDLE`` / ``REQUESTS_CA_BUNDLE`` are honoured); a response body is read up to
:data:`MAX_BODY_BYTES` and marked truncated beyond that; what the server sends back is
redacted like everything else (a server may echo the signature or the session token).
Only retryable failures are retried: throttling, HTTP 5xx, transient server errors,
connection errors and timeouts. A skew error is signed once more with the server's clock.
"""

from __future__ import annotations

import email.utils
import ipaddress
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from .aws_errors import aws_error, is_skew, retryable
from .deadline import DeadlineAdapter
from .errors import CredentialsError
from .plugins.types import Signer
from .redact import redact_headers, redact_text, redact_value
from .result import ErrorDetail, TestRequestResult, parse_body, shown_request

__all__ = ["MAX_BODY_BYTES", "Attempts", "Outgoing", "Transport"]

from . import config
from .config import (
    MAX_BODY_BYTES,
    MAX_CLOCK_CORRECTION_SECONDS,
    MAX_DELAY_SECONDS,
    MIN_CLOCK_CORRECTION_SECONDS,
)


@dataclass(frozen=True)
class Attempts:
    """How many attempts, how long to wait between them, and the timeouts of each."""

    max_attempts: int = config.MAX_ATTEMPTS
    interval_seconds: float = config.RETRY_INTERVAL_SECONDS
    backoff_rate: float = config.BACKOFF_RATE
    connect_timeout: float = config.CONNECT_TIMEOUT_SECONDS
    read_timeout: float = config.READ_TIMEOUT_SECONDS

    def delay(self, attempt: int, jitter: float) -> float:
        """Pause after failed attempt ``attempt`` (1-based): exponential, with equal jitter."""
        base = min(self.interval_seconds * self.backoff_rate ** (attempt - 1), MAX_DELAY_SECONDS)
        return base / 2 + base / 2 * jitter


@dataclass(frozen=True)
class Outgoing:
    """One request to send: signed afresh for every attempt."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    shown_body: Any
    service: str
    region: str
    retryable_codes: frozenset[str] = frozenset()


@dataclass
class _Answer:
    status: int
    reason: str
    headers: dict[str, str]
    body: Any
    truncated: bool
    request_id: str | None


def _ca_bundle() -> str | bool:
    """AWS_CA_BUNDLE, else requests' own variables, else the default trust store (never off)."""
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(name):
            return os.environ[name]
    return True


def _read_capped(response: requests.Response, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            response.close()
            return b"".join(chunks)[:cap], True
    return b"".join(chunks), False


def _prepared(
    session: requests.Session, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> requests.PreparedRequest:
    """The request ``session.request`` would send, for :meth:`requests.Session.send`.

    The session's headers (None removes one), cookies, auth and hooks are merged in as
    ``Session.prepare_request`` merges them, without its per-request copy of the cookie jar
    and of each setting (about 30 us of a send's 700).
    """
    merged = CaseInsensitiveDict(session.headers)
    merged.update(headers)
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method=method.upper(),
        url=url,
        headers=CaseInsensitiveDict({name: value for name, value in merged.items() if value is not None}),
        data=body or {},
        params=session.params or None,  # None: no query to encode (as an empty one encodes)
        auth=session.auth,
        cookies=session.cookies,
        hooks=session.hooks,
    )
    return prepared


def _on_loopback(proxy: str) -> bool:
    host = (urlsplit(proxy if "://" in proxy else f"http://{proxy}").hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _proxies(url: str) -> dict[str, str]:
    """The environment's proxies for ``url``; for plain http only those on loopback.

    A plain-http request carries the access key ID and the session token in the clear: a
    proxy elsewhere would read them. https goes through ``HTTPS_PROXY`` by CONNECT, which
    sees only the host name. ``NO_PROXY`` is honoured (requests applies it).
    """
    proxies: dict[str, str] = requests.utils.get_environ_proxies(url)
    if urlsplit(url).scheme.lower() != "http":
        return proxies
    return {name: proxy for name, proxy in proxies.items() if name == "no" or _on_loopback(proxy)}


def _server_clock_offset(headers: Mapping[str, str], now: float) -> float | None:
    date = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if not date:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return None
    return server - now


class Transport:
    """Sends signed requests over one connection-reusing session."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
        max_body_bytes: int = MAX_BODY_BYTES,
        pool_size: int = 10,
    ) -> None:
        """``pool_size``: connections kept per host (at least as many as threads sending at once)."""
        self.session = session or requests.Session()
        # The environment is read once per endpoint (below), not on every request as requests
        # does by default; this also keeps ~/.netrc credentials out of our requests.
        self.session.trust_env = False
        self._environment: dict[str, dict[str, Any]] = {}  # by endpoint URL: a checked destination
        # Each attempt has a deadline: connect by the connect timeout, the whole response by the
        # read timeout (not only each read of it).
        self.session.mount("https://", DeadlineAdapter(max_retries=0, pool_maxsize=pool_size))
        self.session.mount("http://", DeadlineAdapter(max_retries=0, pool_maxsize=pool_size))
        self._sleep, self._jitter, self._wall_clock = sleep, jitter, wall_clock
        self._max_body = max_body_bytes
        #: Clock corrections by endpoint (``scheme://host:port``): each server corrects its own.
        self.clock_offsets: dict[str, float] = {}

    def _settings(self, url: str) -> dict[str, Any]:
        """What ``Session.send`` needs of the environment for ``url`` — proxies (HTTPS_PROXY,
        NO_PROXY …) and the CA bundle — read once, merged with the session's as requests does."""
        if url not in self._environment:
            proxies, verify = _proxies(url), _ca_bundle()
            merged = self.session.merge_environment_settings(url, proxies, True, verify, None)
            self._environment[url] = dict(merged)
        return self._environment[url]

    def _attempt(self, out: Outgoing, headers: Mapping[str, str], plan: Attempts) -> _Answer | ErrorDetail:
        settings = self._settings(out.url)
        try:
            prepared = _prepared(self.session, out.method, out.url, headers, out.body)
            response = self.session.send(
                prepared, allow_redirects=False, timeout=(plan.connect_timeout, plan.read_timeout), **settings
            )
            with response:
                raw, truncated = _read_capped(response, self._max_body)
        except (requests.exceptions.RequestException, OSError, UnicodeError, ValueError) as exc:
            return _failure(exc, plan)
        request_id = response.headers.get("x-amzn-RequestId") or response.headers.get("x-amz-request-id")
        # What the server sends back is redacted too: an echo (AWS's SignatureDoesNotMatch
        # quotes the canonical request, session token included) must not reach the result.
        return _Answer(
            response.status_code,
            redact_text(response.reason or ""),
            redact_headers(response.headers),
            redact_value(parse_body(raw, response.headers.get("Content-Type"))),
            truncated,
            redact_text(request_id) if request_id else None,
        )

    def _sign(self, out: Outgoing, signer: Signer, origin: str) -> dict[str, str]:
        offset = self.clock_offsets.get(origin, 0.0)
        return signer.sign(
            out.method,
            out.url,
            out.headers,
            out.body,
            service=out.service,
            region=out.region,
            clock_offset=offset,
        )

    def _corrects_clock(self, answer: _Answer | ErrorDetail, result: TestRequestResult, origin: str) -> bool:
        """A skew error with a usable ``Date``: keep the server's clock for this endpoint (True)."""
        error = result.error
        if not isinstance(answer, _Answer) or error is None or not is_skew(error.code, error.message):
            return False
        offset = _server_clock_offset(answer.headers, self._wall_clock())
        if offset is not None and abs(offset) > MAX_CLOCK_CORRECTION_SECONDS:
            _refuse_correction(result, offset)
        elif offset is not None and abs(offset) > MIN_CLOCK_CORRECTION_SECONDS:
            self.clock_offsets[origin] = offset
            return True
        return False

    def send(self, out: Outgoing, signer: Signer, plan: Attempts) -> TestRequestResult:
        """Send with retries; always returns a result, never raises for network or AWS errors.

        Each attempt is signed afresh; a skew error is signed once more with the server's clock.
        Raises :class:`~http_task_kms.errors.CredentialsError` only when nothing was sent.
        """
        started, origin = time.perf_counter(), _origin(out.url)
        attempts, skew_corrected = 0, False
        result: TestRequestResult | None = None
        while True:
            attempts += 1
            try:
                headers = self._sign(out, signer, origin)
            except CredentialsError as exc:
                if result is None:
                    raise  # nothing was sent: the caller reports it as such
                return _lost_credentials(result, exc, attempts, started)
            answer = self._attempt(out, headers, plan)
            result = self._result(answer, out, headers, attempts)
            if not skew_corrected and self._corrects_clock(answer, result, origin):
                skew_corrected = True
                continue  # sign once more with the server's clock, as the AWS SDKs do
            retryable = result.error is not None and result.error.retryable
            if result.ok or not retryable or attempts >= plan.max_attempts:
                result.elapsedMs = _elapsed_ms(started)
                return result
            self._sleep(plan.delay(attempts, self._jitter()))

    def _result(
        self, answer: _Answer | ErrorDetail, out: Outgoing, headers: Mapping[str, str], attempts: int
    ) -> TestRequestResult:
        shown = shown_request(out.method, out.url, headers, out.shown_body, signed=True)
        if isinstance(answer, ErrorDetail):
            return TestRequestResult(ok=False, error=answer, attempts=attempts, request=shown)
        ok = 200 <= answer.status < 300
        error = None
        if not ok:
            code, message = aws_error(answer.status, answer.body, answer.reason)
            if 300 <= answer.status < 400:
                code = "Redirect"
                message = (
                    f"the endpoint answered {answer.status} (Location: "
                    f"{answer.headers.get('Location', '-')}); redirects are not followed"
                )
            error = ErrorDetail(
                code=code, message=message, retryable=retryable(answer.status, code, out.retryable_codes)
            )
        return TestRequestResult(
            ok=ok,
            statusCode=answer.status,
            reasonPhrase=answer.reason,
            headers=answer.headers,
            body=answer.body,
            bodyTruncated=answer.truncated,
            error=error,
            requestId=answer.request_id,
            attempts=attempts,
            request=shown,
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _refuse_correction(result: TestRequestResult, offset: float) -> None:
    """A server clock more than a day off: one of the two clocks is wrong; do not follow it."""
    if result.error is not None:
        result.error.message += (
            f" (the server's clock is {offset / 3600:+.1f} h from ours, more than a day: the local "
            "clock or the server is wrong, so the request is not signed again with its time)"
        )
        result.error.retryable = False


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _lost_credentials(
    result: TestRequestResult, exc: CredentialsError, attempts: int, started: float
) -> TestRequestResult:
    """An earlier attempt was sent: report its outcome, and why there is no other."""
    previous = result.error.code if result.error else "an error"
    result.error = ErrorDetail(
        code="CredentialsError",
        retryable=False,
        message=f"{redact_text(str(exc))} (before attempt {attempts}; "
        f"the previous attempt failed with {previous})",
    )
    result.elapsedMs = _elapsed_ms(started)
    return result


def _failure(exc: Exception, plan: Attempts) -> ErrorDetail:
    """What an attempt that raised amounts to: a structured, redacted error (retryable or not)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return ErrorDetail(code="TLSError", message=redact_text(str(exc)), retryable=False)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ErrorDetail(
            code="ConnectTimeout", retryable=True, message=f"no connection within {plan.connect_timeout:g} s"
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return _read_timeout(plan)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        message = f"the response ended early or could not be decoded: {type(exc).__name__}"
        return ErrorDetail(code="IncompleteResponse", retryable=True, message=message)
    if isinstance(exc, requests.exceptions.ConnectionError):
        if exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError):
            return _read_timeout(plan)  # the body stalled: requests wraps that as ConnectionError
        return ErrorDetail(code="ConnectionError", retryable=True, message=redact_text(_root_cause(exc)))
    if isinstance(exc, requests.exceptions.RequestException):
        return ErrorDetail(code=type(exc).__name__, retryable=False, message=redact_text(str(exc)))
    if isinstance(exc, OSError):  # e.g. AWS_CA_BUNDLE names a file that does not exist
        code = "TLSError" if "certificate" in str(exc).lower() else "ConnectionError"
        return ErrorDetail(code=code, retryable=False, message=redact_text(str(exc)))
    # UnicodeError, ValueError: e.g. a header value that is not Latin-1
    return ErrorDetail(
        code="InvalidRequest",
        retryable=False,
        message=f"the request could not be sent: {redact_text(str(exc))}",
    )


def _read_timeout(plan: Attempts) -> ErrorDetail:
    return ErrorDetail(
        code="ReadTimeout", retryable=True, message=f"no response within {plan.read_timeout:g} s"
    )


def _root_cause(exc: BaseException) -> str:
    seen = exc
    while seen.__context__ is not None and seen.__context__ is not seen:
        seen = seen.__context__
    text = str(seen) or type(seen).__name__
    return text if len(text) < 300 else text[:300] + "…"
