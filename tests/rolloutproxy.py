"""A loopback proxy in front of moto for rollouts: it counts, throttles, pages and rewrites.

:class:`RolloutProxy` listens on 127.0.0.1 and forwards every request to the local KMS byte
for byte (method, path, headers — ``Host`` included — and body: SigV4 signatures still
verify; it never re-signs). Around that:

- it records every PutKeyPolicy per key (:attr:`RolloutProxy.puts`: key → the HTTP status of
  each, ``None`` for one it answered itself) and when each one that was forwarded arrived;
- :meth:`RolloutProxy.throttle` answers ``ThrottlingException`` (HTTP 400, as KMS does) to an
  operation above a rate — a token bucket of its own — without forwarding it;
- :meth:`RolloutProxy.kill_on_put` sends SIGKILL (or another signal) to a process when the
  Nth PutKeyPolicy arrives (and then forwards that request: a write in flight at the kill lands);
- :attr:`RolloutProxy.deny` answers AccessDeniedException to an operation on some keys;
  :attr:`RolloutProxy.by_key` counts every request by (operation, KeyId);
- :attr:`RolloutProxy.aws_managed` names keys whose DescribeKey answer it rewrites to
  ``KeyManager: AWS`` (moto always says ``CUSTOMER``);
- :attr:`RolloutProxy.page_size` pages ListKeys answers (moto returns every key at once) with
  ``Truncated`` / ``NextMarker``, following the request's ``Marker``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RolloutProxy"]

_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})
_THROTTLED = json.dumps(
    {
        "__type": "ThrottlingException",
        "message": "You have exceeded the rate at which you may call KMS. "
        "Reduce the frequency of your calls.",
    }
).encode()


class _Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _operation(headers: Any, body: bytes) -> str:
    target = headers.get("X-Amz-Target") or ""
    if target:
        return str(target).rpartition(".")[2]
    return "GetCallerIdentity" if b"Action=GetCallerIdentity" in body else "?"


def _body(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body are two writes: no delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_POST(self) -> None:
        owner = self.server.owner
        owner.busy(+1)
        try:
            self._handle()
        finally:
            owner.busy(-1)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        operation = _operation(self.headers, body)
        owner = self.server.owner
        request = _body(body)
        key = str(request.get("KeyId", ""))
        if not owner.admit(operation, key):
            self._answer(400, {"Content-Type": "application/x-amz-json-1.1"}, _THROTTLED)
            return
        if key in owner.deny.get(operation, ()):
            denied = {"__type": "AccessDeniedException", "message": f"not allowed kms:{operation} (proxy)"}
            owner.answered(operation, key, 400)
            self._answer(400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(denied).encode())
            return
        status, headers, answer = self._forward(body)
        answer = owner.rewrite(operation, request, status, answer)
        owner.answered(operation, str(request.get("KeyId", "")), status)
        self._answer(status, headers, answer)

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=30
        )
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read()
            headers = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
            return response.status, headers, answer
        finally:
            connection.close()

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            self.send_response_only(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client was killed
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: RolloutProxy, upstream: str) -> None:
        self.owner = owner
        parts = urlsplit(upstream)
        assert parts.hostname == "127.0.0.1", "the proxy forwards to loopback only"
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request is not an error of the proxy."""


class RolloutProxy:
    """Forwards to the local KMS at ``upstream``; counts, throttles, pages and rewrites (see module)."""

    def __init__(self, upstream: str) -> None:
        self._lock = threading.Lock()
        self.seen: Counter[str] = Counter()
        self.puts: defaultdict[str, list[int | None]] = defaultdict(list)
        self.put_times: list[float] = []
        self.put_arrivals = 0
        self.throttled: Counter[str] = Counter()
        self.aws_managed: set[str] = set()
        self.deny: dict[str, set[str]] = {}
        self.by_key: Counter[tuple[str, str]] = Counter()
        self.page_size: int | None = None
        self.list_markers: list[str | None] = []
        self._buckets: dict[str, _Bucket] = {}
        self._kill: tuple[int, int, int] | None = None
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self._server = _Server(self, upstream)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.daemon = True

    def __enter__(self) -> RolloutProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- scripting -----------------------------------------------------------------------------
    def throttle(self, operation: str, rate: float, *, burst: float = 1.0) -> RolloutProxy:
        """Answer ThrottlingException to ``operation`` above ``rate`` per second (``burst`` at once)."""
        with self._lock:
            self._buckets[operation] = _Bucket(rate, burst)
        return self

    def kill_on_put(self, count: int, pid: int, signum: int = signal.SIGKILL) -> RolloutProxy:
        """Signal ``pid`` when PutKeyPolicy number ``count`` arrives (that one is still forwarded)."""
        with self._lock:
            self._kill = (count, pid, signum)
        return self

    def put_count(self) -> int:
        """PutKeyPolicy requests received (throttled ones included)."""
        with self._lock:
            return self.put_arrivals

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled (those of a killed client finish too)."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._in_flight == 0, timeout), "the proxy stayed busy"

    # -- the handler's side ----------------------------------------------------------------------
    def busy(self, change: int) -> None:
        with self._idle:
            self._in_flight += change
            self._idle.notify_all()

    def admit(self, operation: str, key: str) -> bool:
        with self._lock:
            self.seen[operation] += 1
            self.by_key[operation, key] += 1
            bucket = self._buckets.get(operation)
            allowed = bucket is None or bucket.allow()
            if not allowed:
                self.throttled[operation] += 1
            if operation == "PutKeyPolicy":
                self.put_arrivals += 1
                if not allowed:
                    self.puts[key].append(None)
                else:
                    self.put_times.append(time.monotonic())
                kill = self._kill
                if kill is not None and self.put_arrivals >= kill[0]:
                    self._kill = None
                    os.kill(kill[1], kill[2])
            return allowed

    def answered(self, operation: str, key: str, status: int) -> None:
        if operation == "PutKeyPolicy":
            with self._lock:
                self.puts[key].append(status)

    def rewrite(self, operation: str, request: dict[str, Any], status: int, answer: bytes) -> bytes:
        if status != 200 or operation not in ("DescribeKey", "ListKeys"):
            return answer
        document = json.loads(answer)
        if operation == "DescribeKey":
            metadata = document["KeyMetadata"]
            if metadata["KeyId"] in self.aws_managed or metadata["Arn"] in self.aws_managed:
                metadata["KeyManager"] = "AWS"
        elif self.page_size is not None:
            marker = request.get("Marker")
            with self._lock:
                self.list_markers.append(marker)
            start = int(marker) if marker else 0
            keys = document["Keys"]
            document["Keys"] = keys[start : start + self.page_size]
            more = start + self.page_size < len(keys)
            document["Truncated"] = more
            document["NextMarker"] = str(start + self.page_size) if more else None
        return json.dumps(document).encode()
