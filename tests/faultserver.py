"""A scriptable fault-injection HTTP(S) server on 127.0.0.1, for tests.

A real :class:`http.server.ThreadingHTTPServer` in a daemon thread, on a free loopback
port. Each test scripts it with a queue of *behaviours* (one per request, in order; when
the queue is empty the ``default`` behaviour answers) and reads back every request it
received (:attr:`FaultServer.received`), headers and body included.

Behaviours: :func:`ok`, :func:`aws_error`, :func:`throttle`, :func:`server_error`,
:func:`html`, :func:`reset`, :func:`stall`, :func:`stall_body`, :func:`trickle_headers`,
:func:`trickle_body`, :func:`truncated`, :func:`large`, :func:`gzip_bomb`, :func:`redirect`,
:func:`skewed`, :func:`echo_secrets`, :func:`echo_form` (one secret echoed in one disguise),
:func:`by_target` (answer by operation) and :func:`check` (answer by a predicate over the
request). :meth:`FaultServer.throttle_above` throttles every request over a rate, before
the queue is consulted. A ``CONNECT`` request (a client using the server as its proxy) is
answered by the behaviours too.

Bounded: at most ``max_requests`` requests are answered (later ones are reset), stalls end
when the server stops, and the server stops by itself after ``lifetime`` seconds.

Also here: :func:`full_backlog` (a port whose connects stall), :func:`silent_listener` (a
port that accepts and never speaks: a stalled TLS handshake), :class:`TrickleRelay` (a TCP
relay that passes the server's bytes on one at a time: a trickled TLS handshake),
:func:`verify_sigv4` (an independent SigV4 check of a received request),
:func:`self_signed_cert` (a certificate for an https server, made at test time) and
:func:`loopback_only` (a guard that fails a test trying to reach anything but loopback).
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import gzip
import hashlib
import hmac
import ipaddress
import json
import re
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from certs import self_signed_cert  # re-exported: the tests take it from here

__all__ = [
    "ECHO_FORMS",
    "REFUSED",
    "FaultServer",
    "Received",
    "TrickleRelay",
    "aws_error",
    "by_target",
    "check",
    "echo_form",
    "echo_secrets",
    "full_backlog",
    "gzip_bomb",
    "html",
    "large",
    "loopback_only",
    "ok",
    "redirect",
    "reset",
    "self_signed_cert",
    "server_error",
    "silent_listener",
    "skewed",
    "stall",
    "stall_body",
    "throttle",
    "trickle_body",
    "trickle_headers",
    "truncated",
    "verify_sigv4",
]


@dataclass(frozen=True)
class Received:
    """One request as the server received it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    at: float
    client_port: int = 0  # the client's side of the connection: one port, one connection

    def header(self, name: str) -> str | None:
        """The value of a header (case-insensitive), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def header_names(self) -> set[str]:
        """Lower-cased names of every header received."""
        return {k.lower() for k, _ in self.headers}

    @property
    def authorization(self) -> dict[str, str]:
        """The parts of a SigV4 Authorization header (Credential, SignedHeaders, Signature)."""
        value = self.header("Authorization") or ""
        if not value.startswith("AWS4-HMAC-SHA256 "):
            return {}
        parts = {}
        for item in value[len("AWS4-HMAC-SHA256 ") :].split(","):
            name, _, part = item.strip().partition("=")
            parts[name] = part
        return parts

    @property
    def access_key(self) -> str | None:
        """The access key id of the SigV4 credential scope."""
        credential = self.authorization.get("Credential")
        return credential.split("/", 1)[0] if credential else None

    @property
    def signature(self) -> str | None:
        """The 64-hex SigV4 signature."""
        return self.authorization.get("Signature")

    @property
    def amz_date(self) -> datetime.datetime | None:
        """X-Amz-Date as an aware UTC datetime."""
        value = self.header("X-Amz-Date")
        if not value:
            return None
        return datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK waits
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5)
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError):
                self.server.owner.note_tls_failure()
                raise
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received = Received(
            method=self.command,
            path=self.path,
            headers=tuple((k, v) for k, v in self.headers.items()),
            body=body,
            at=time.time(),
            client_port=int(self.client_address[1]),
        )
        behaviour = self.server.owner.next_behaviour(received)
        try:
            behaviour(self, received)
        except OSError:
            self.close_connection = True  # the client went away (after a cap, a timeout...)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_CONNECT = _serve

    # -- helpers for behaviours -------------------------------------------------------------
    def answer(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        date: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Send a whole response (the Date header from ``date``, else the real clock)."""
        self.send_response_only(status, reason)
        all_headers = {
            "Date": email.utils.formatdate(time.time() if date is None else date, usegmt=True),
            "Content-Length": str(len(body)),
            "x-amzn-RequestId": f"req-{self.server.owner.count:04d}",
            **(headers or {}),
        }
        for name, value in all_headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reset_connection(self) -> None:
        """Close with SO_LINGER 0: the client sees a TCP RST (connection reset by peer)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.rfile.close()  # the makefile holds a reference that would delay the close
        self.connection.close()


Behaviour = Callable[[_Handler, Received], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: FaultServer, tls: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.tls = tls
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.tls is not None:  # handshake in the handler thread, not in the accept loop
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Faults are the point here: no tracebacks on stderr."""


class FaultServer:
    """A scriptable HTTP(S) server on 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        default: Behaviour | None = None,
        max_requests: int = 500,
        lifetime: float = 60.0,
    ) -> None:
        self.default: Behaviour = default or ok()
        self.max_requests = max_requests
        self.lifetime = lifetime
        self.received: list[Received] = []
        self.tls_failures = 0
        self.stopping = threading.Event()
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._rate: float | None = None
        self._window_seconds = 1.0
        self._window: deque[float] = deque()
        self._server = _Server(self, tls)
        host, port = self._server.server_address[:2]
        self.url = f"{'https' if tls else 'http'}://{host}:{port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.daemon = True
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FaultServer:
        """Serve in a daemon thread; stop by itself after ``lifetime`` seconds."""
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and release stalled handlers (idempotent)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------
    def push(self, *behaviours: Behaviour) -> FaultServer:
        """Answer the next requests with these behaviours, in order."""
        with self._lock:
            self._queue.extend(behaviours)
        return self

    def throttle_above(self, rate: float | None, *, window: float = 1.0) -> FaultServer:
        """Answer ThrottlingException to requests over ``rate`` in any ``window`` seconds."""
        with self._lock:
            self._rate, self._window_seconds = rate, window
            self._window.clear()
        return self

    @property
    def count(self) -> int:
        """How many requests were received."""
        with self._lock:
            return len(self.received)

    def next_behaviour(self, received: Received) -> Behaviour:
        """Record the request; choose how to answer it."""
        with self._lock:
            self.received.append(received)
            if len(self.received) > self.max_requests:
                return reset()
            if self._rate is not None:
                now = time.monotonic()
                while self._window and now - self._window[0] >= self._window_seconds:
                    self._window.popleft()
                if len(self._window) >= self._rate:
                    return throttle()
                self._window.append(now)
            return self._queue.popleft() if self._queue else self.default

    def wait_until(self, predicate: Callable[[FaultServer], bool], timeout: float = 3.0) -> bool:
        """Poll ``predicate(self)`` (handlers run in other threads) until true or ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def note_tls_failure(self) -> None:
        """A client gave up during the TLS handshake."""
        with self._lock:
            self.tls_failures += 1


# -- behaviours --------------------------------------------------------------------------------
def _json_bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def ok(body: Any = None, *, status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    """A 2xx answer with a JSON body (``None`` → ``null``; bytes sent as they are)."""
    payload = _json_bytes(body)

    def behave(handler: _Handler, _: Received) -> None:
        handler.answer(status, payload, {"Content-Type": "application/x-amz-json-1.1", **(headers or {})})

    return behave


def aws_error(
    code: str,
    message: str = "",
    *,
    status: int = 400,
    message_key: str = "message",
    date_offset: float | None = None,
    headers: dict[str, str] | None = None,
    now: float | None = None,
) -> Behaviour:
    """An AWS JSON error ``{"__type": code, message_key: message}``; Date moved by ``date_offset``.

    ``now`` (epoch seconds) is the server's clock before the offset; the real one when None.
    """
    payload = json.dumps({"__type": code, message_key: message}).encode()

    def behave(handler: _Handler, _: Received) -> None:
        date = None if date_offset is None else (time.time() if now is None else now) + date_offset
        handler.answer(
            status, payload, {"Content-Type": "application/x-amz-json-1.1", **(headers or {})}, date=date
        )

    return behave


def throttle() -> Behaviour:
    """400 ThrottlingException (retryable)."""
    return aws_error("ThrottlingException", "Rate exceeded")


def server_error(status: int = 500, code: str = "KMSInternalException") -> Behaviour:
    """A 5xx AWS JSON error (retryable)."""
    return aws_error(code, "internal error", status=status)


def html(status: int = 502) -> Behaviour:
    """A load balancer's HTML page instead of JSON."""
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"

    def behave(handler: _Handler, _: Received) -> None:
        handler.answer(status, page, {"Content-Type": "text/html"})

    return behave


def reset() -> Behaviour:
    """Reset the connection (SO_LINGER 0, close) without answering."""

    def behave(handler: _Handler, _: Received) -> None:
        handler.reset_connection()

    return behave


def stall(seconds: float = 3.0) -> Behaviour:
    """Say nothing for ``seconds`` (or until the server stops), then close."""

    def behave(handler: _Handler, _: Received) -> None:
        handler.server.owner.stopping.wait(seconds)
        handler.close_connection = True

    return behave


def stall_body(seconds: float = 3.0) -> Behaviour:
    """Send the status line, headers and part of the body, then say nothing for ``seconds``."""

    def behave(handler: _Handler, _: Received) -> None:
        handler.send_response_only(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b'{"Keys": [')
        handler.wfile.flush()
        handler.server.owner.stopping.wait(seconds)
        handler.close_connection = True

    return behave


def _trickle(handler: _Handler, pieces: Iterator[bytes], interval: float) -> None:
    """Write one piece per ``interval`` until they run out, the client goes or the server stops."""
    owner = handler.server.owner
    for piece in pieces:
        if owner.stopping.wait(interval):
            break
        handler.wfile.write(piece)  # unbuffered: one piece, one segment (TCP_NODELAY)
    handler.close_connection = True


def trickle_headers(interval: float = 0.1, *, lines: int = 10_000) -> Behaviour:
    """The status line, then one header line per ``interval``, never the blank line that ends them.

    Each line comes well within any read timeout, so only a deadline for the whole response
    ends the wait. As an answer to ``CONNECT``, a proxy that trickles its answer.
    """

    def behave(handler: _Handler, _: Received) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        _trickle(handler, (b"X-Trickle-%d: x\r\n" % n for n in range(lines)), interval)

    return behave


def trickle_body(interval: float = 0.1, *, body: bytes = b" " * 10_000) -> Behaviour:
    """Status line and headers (``Content-Length``) at once, then one byte of ``body`` per ``interval``."""

    def behave(handler: _Handler, _: Received) -> None:
        handler.send_response_only(200)
        handler.send_header("Content-Type", "application/x-amz-json-1.1")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        _trickle(handler, (body[n : n + 1] for n in range(len(body))), interval)

    return behave


def truncated(declared: int = 1000, sent: bytes = b'{"KeyMetadata": {"KeyId": "12') -> Behaviour:
    """Declare ``Content-Length: declared`` but send only ``sent``, then close."""

    def behave(handler: _Handler, _: Received) -> None:
        handler.send_response_only(200)
        handler.send_header("Content-Type", "application/x-amz-json-1.1")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(sent)
        handler.close_connection = True

    return behave


def large(size: int = 50 * 1024 * 1024, chunk: int = 64 * 1024) -> Behaviour:
    """A 200 with a ``size``-byte body streamed in ``chunk``-byte pieces (one buffer, reused)."""
    piece = b"x" * chunk

    def behave(handler: _Handler, _: Received) -> None:
        handler.send_response_only(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        left = size
        while left > 0 and not handler.server.owner.stopping.is_set():
            handler.wfile.write(piece if left >= chunk else piece[:left])
            left -= chunk
        handler.close_connection = True

    return behave


def gzip_bomb(size: int = 50 * 1024 * 1024) -> Behaviour:
    """A small gzip body (``Content-Encoding: gzip``) that inflates to ``size`` bytes."""
    payload = gzip.compress(b"\0" * size, compresslevel=9)

    def behave(handler: _Handler, _: Received) -> None:
        handler.answer(200, payload, {"Content-Type": "application/json", "Content-Encoding": "gzip"})

    return behave


def redirect(location: str, *, status: int = 302) -> Behaviour:
    """A redirect to ``location`` (e.g. another FaultServer: "another host")."""

    def behave(handler: _Handler, _: Received) -> None:
        handler.answer(status, b"", {"Location": location})

    return behave


def skewed(
    offset: float = 3600.0,
    *,
    code: str = "InvalidSignatureException",
    message: str | None = None,
    now: float | None = None,
) -> Behaviour:
    """The clock-skew error KMS sends, with a ``Date`` header ``offset`` seconds from now.

    ``now`` (epoch seconds) is the server's clock before the offset; the real one when None.
    """

    def behave(handler: _Handler, received: Received) -> None:
        base = time.time() if now is None else now
        server_time = datetime.datetime.fromtimestamp(base + offset, datetime.timezone.utc)
        stamp = server_time.strftime("%Y%m%dT%H%M%SZ")
        sent = received.header("X-Amz-Date") or "-"
        if message is not None:
            text = message
        elif offset >= 0:
            text = f"Signature expired: {sent} is now earlier than {stamp} ({stamp} - 5 min.)"
        else:
            text = f"Signature not yet current: {sent} is still later than {stamp} ({stamp} + 5 min.)"
        aws_error(code, text, date_offset=offset, now=base)(handler, received)

    return behave


def echo_secrets(status: int = 403) -> Behaviour:
    """A hostile or verbose server: echoes the Authorization and token headers in body and headers.

    Like AWS's SignatureDoesNotMatch, whose message quotes the canonical request (with the
    session token in it). Also the signature upper-cased, and the token as a header's name.
    """

    def behave(handler: _Handler, received: Received) -> None:
        canonical = "\n".join(f"{k.lower()}:{v}" for k, v in received.headers)
        token = received.header("X-Amz-Security-Token")
        payload = json.dumps(
            {
                "__type": "SignatureDoesNotMatch",
                "message": "The request signature we calculated does not match the signature you "
                f"provided. The Canonical String for this request should have been '{canonical}'",
                "Authorization": received.header("Authorization"),
                "nested": [{"token": token}, {"upper": (received.signature or "").upper()}],
            }
        ).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Echo-Authorization": received.header("Authorization") or "",
            "X-Echo-Token": token or "",
        }
        if token:
            headers[token] = "echoed"
        handler.answer(status, payload, headers)

    return behave


ECHO_FORMS = ("header-name", "reason", "json-escaped", "percent-encoded", "upper-case", "cut-by-cap")


def echo_form(form: str, *, secret: str = "token", cap: int = 1024 * 1024) -> Behaviour:
    """Echo the session token (``secret="token"``) or the signature (``"signature"``) in one form.

    ``form`` is one of :data:`ECHO_FORMS`: as a response header's name; in the reason
    phrase; JSON-escaped inside a JSON string (``\\/`` as PHP writes it, ``\\u002B`` as
    .NET does); percent-encoded (upper- and lower-case hex); upper-cased; or at the end
    of a body that a ``cap``-byte limit cuts 30 characters into the secret.
    """

    def behave(handler: _Handler, received: Received) -> None:
        value = (received.header("X-Amz-Security-Token") if secret == "token" else received.signature) or ""
        status, reason, headers = 403, None, {"Content-Type": "application/x-amz-json-1.1"}
        message = "denied"
        if form == "header-name":
            headers[value] = "echoed"
        elif form == "reason":
            reason = f"Denied for {value}"
        elif form == "json-escaped":
            php = value.replace("/", "\\/")
            dotnet = "".join(f"\\u{ord(c):04X}" if c in "+/=" else c for c in value)
            message = f'{{"echo": "{php}", "again": "{dotnet}"}}'
        elif form == "percent-encoded":
            upper = urllib.parse.quote(value, safe="")
            lower = re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), upper)
            message = f"see https://example.invalid/?t={upper} or ?t={lower}"
        elif form == "upper-case":
            message = f"expected {value.upper()}"
        elif form == "cut-by-cap":
            body = b"x" * (cap - 30) + value.encode() + b" and the rest"
            handler.answer(status, body, {"Content-Type": "text/plain"})
            return
        else:
            raise ValueError(f"unknown echo form {form!r}")
        payload = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        handler.answer(status, payload, headers, reason=reason)

    return behave


def by_target(answers: dict[str, Behaviour], default: Behaviour) -> Behaviour:
    """Answer by the request's ``X-Amz-Target`` operation (e.g. ``{"GetKeyPolicy": ok(...)}``)."""

    def behave(handler: _Handler, received: Received) -> None:
        operation = (received.header("X-Amz-Target") or "").rsplit(".", 1)[-1]
        answers.get(operation, default)(handler, received)

    return behave


def check(predicate: Callable[[Received], bool], then: Behaviour, otherwise: Behaviour) -> Behaviour:
    """Answer with ``then`` when ``predicate(request)`` holds, else ``otherwise``."""

    def behave(handler: _Handler, received: Received) -> None:
        (then if predicate(received) else otherwise)(handler, received)

    return behave


# -- connections that stall or trickle before HTTP begins ---------------------------------------
@contextlib.contextmanager
def full_backlog() -> Iterator[str]:
    """An ``http://127.0.0.1:port/`` URL whose listener never accepts and whose backlog is full.

    A connect to it gets no SYN-ACK: it stalls until the client's connect timeout.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):  # fill the accept queue: later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        for sock in [*fillers, listener]:
            sock.close()


@contextlib.contextmanager
def silent_listener(scheme: str = "https") -> Iterator[str]:
    """A ``scheme://127.0.0.1:port/`` URL that accepts connections (the kernel does) and never speaks.

    TCP connects at once; a TLS handshake then waits for a ServerHello that never comes.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()


class TrickleRelay:
    """A TCP relay on 127.0.0.1 to ``target`` that passes the target's bytes on one per ``interval``.

    In front of an https :class:`FaultServer` the TLS handshake itself trickles (each byte
    well within any read timeout). The client's bytes go through at once. Bounded: it stops
    by itself after ``lifetime`` seconds; use as a context manager.
    """

    def __init__(self, target: str, *, interval: float = 0.05, lifetime: float = 10.0) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 443)
        self.interval = interval
        self.stopping = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self.url = f"{parts.scheme}://127.0.0.1:{self._listener.getsockname()[1]}/"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._timer = threading.Timer(lifetime, self.stopping.set)
        self._timer.daemon = True

    def __enter__(self) -> TrickleRelay:
        self._threads[0].start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._timer.cancel()
        for thread in list(self._threads):
            thread.join(timeout=2)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.target, timeout=2)
            for source, sink, step in ((client, upstream, 65536), (upstream, client, 1)):
                thread = threading.Thread(target=self._pump, args=(source, sink, step), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket, step: int) -> None:
        source.settimeout(0.05)
        pending = b""
        try:
            while not self.stopping.is_set():
                if not pending:
                    try:
                        pending = source.recv(65536)
                    except TimeoutError:
                        continue
                    if not pending:
                        break
                sink.sendall(pending[:step])
                pending = pending[step:]
                if step == 1 and self.stopping.wait(self.interval):
                    break
        except OSError:
            pass  # either side went away
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


# -- SigV4, independently of botocore -----------------------------------------------------------
def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_sigv4(received: Received, secret: str, *, url: str) -> bool:
    """True when ``received`` carries a valid SigV4 signature made with ``secret``.

    Written from the SigV4 description (not with botocore), for a request to ``url`` at
    path ``/`` with no query string.
    """
    auth = received.authorization
    if not auth or received.amz_date is None:
        return False
    _, date, region, service, terminator = auth["Credential"].split("/")
    amz_date = received.header("X-Amz-Date") or ""
    if terminator != "aws4_request" or not amz_date.startswith(date):
        return False
    signed = auth["SignedHeaders"].split(";")
    values = {name: (received.header(name) or "").strip() for name in signed}
    if "host" in values and not values["host"]:
        values["host"] = urlsplit(url).netloc
    canonical = "\n".join(
        [
            received.method,
            urlsplit(received.path).path or "/",
            "",
            "".join(f"{name}:{' '.join(values[name].split())}\n" for name in signed),
            auth["SignedHeaders"],
            hashlib.sha256(received.body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, auth.get("Signature", ""))


# -- a guard: nothing but loopback --------------------------------------------------------------
def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


#: What :func:`loopback_only` refused during the current test (host names and addresses).
REFUSED: list[str] = []


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse any connection or DNS lookup to anything but loopback; lists the refused targets.

    The list is also :data:`REFUSED`, for tests that use the fixture through ``usefixtures``.
    """
    refused = REFUSED
    refused.clear()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _guard(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            refused.append(str(host))
            raise ConnectionRefusedError(f"test guard: no traffic to {host!r}, only to loopback")

    def connect(self: socket.socket, address: Any) -> None:
        _guard(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _guard(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host is not None:
            _guard((host,))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused
