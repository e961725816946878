"""A loopback proxy in front of moto that answers GetKeyPolicy the way KMS does.

moto returns the policy text exactly as it was sent; KMS does not. :class:`KmsProxy` listens
on 127.0.0.1, forwards every request to the local KMS byte for byte (the same method, path,
headers — ``Host`` included — and body, so SigV4 signatures still verify: it never re-signs)
and rewrites the ``Policy`` of each GetKeyPolicy answer as KMS would show it:

- re-serialised: pretty-printed with KMS's ``"Version" : "2012-10-17"`` spacing;
- reordered, differently on each read: statements, the keys of every object, and the items
  of every list (``Action``, ``Principal``, ``Resource``, condition values); a list of one
  item becomes the bare item.

Scripting, for the reads that follow the next successful PutKeyPolicy (:meth:`KmsProxy.after_put`):
:data:`OLD` answers with the policy as it was before that write (the last one this proxy
saw read back for the key — the "not visible yet" of eventual consistency), a dict answers
with that policy (someone else's change), :data:`REAL` with what moto holds; after the
script, ``then`` answers every later read. :meth:`KmsProxy.deny_reads` answers the next
GetKeyPolicy calls with AccessDeniedException instead of forwarding them.

:attr:`KmsProxy.seen` lists every request's operation (``X-Amz-Target``'s operation, or
``GetCallerIdentity`` for STS) in the order they arrived.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["OLD", "REAL", "KmsProxy", "kms_style"]

#: Answer with the policy as it was before the write.
OLD = "old"
#: Answer with what the local KMS holds.
REAL = "real"

Answer = str | dict[str, Any]


def _reordered(value: Any, turn: int) -> Any:
    """``value`` with every object's keys and every list's items in another order."""
    if isinstance(value, dict):
        keys = sorted(value, reverse=turn % 2 == 0)
        return {key: _reordered(value[key], turn + 1) for key in keys}
    if isinstance(value, list):
        items = [_reordered(item, turn + 1) for item in value]
        if len(items) == 1 and not isinstance(items[0], (dict, list)):
            return items[0]
        shift = turn % len(items) if items else 0
        return list(reversed(items[shift:] + items[:shift]))
    return value


def kms_style(policy: str | dict[str, Any], turn: int = 0) -> str:
    """``policy`` as KMS shows it: reordered (by ``turn``) and pretty-printed with ``" : "``."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    return json.dumps(_reordered(document, turn), indent=2, separators=(",", " : "))


def _operation(headers: Any, body: bytes) -> str:
    target = headers.get("X-Amz-Target") or ""
    if target:
        return str(target).rpartition(".")[2]
    return "GetCallerIdentity" if b"Action=GetCallerIdentity" in body else "?"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        operation = _operation(self.headers, body)
        owner = self.server.owner
        owner.record(operation)
        if operation == "GetKeyPolicy" and owner.take_denial():
            denied = {"__type": "AccessDeniedException", "message": "not allowed kms:GetKeyPolicy (proxy)"}
            self._answer(400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(denied).encode())
            return
        status, headers, answer = self._forward(body)
        if operation == "GetKeyPolicy" and status == 200:
            answer = owner.rewrite(_key_of(body), answer)
        elif operation == "PutKeyPolicy" and status == 200:
            owner.written(_key_of(body))
        self._answer(status, headers, answer)

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=10
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
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})


def _key_of(body: bytes) -> str:
    try:
        return str(json.loads(body).get("KeyId", ""))
    except ValueError:
        return ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: KmsProxy, upstream: str) -> None:
        self.owner = owner
        parts = urlsplit(upstream)
        assert parts.hostname == "127.0.0.1", "the proxy forwards to loopback only"
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        super().__init__(("127.0.0.1", 0), _Handler)


class KmsProxy:
    """A re-serialising, scriptable proxy in front of the local KMS at ``upstream``."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._turn = 0
        self._last_read: dict[str, str] = {}
        self._script: deque[Answer] = deque()
        self._armed: list[Answer] = []
        self._then: Answer = REAL
        self._pending_then: Answer = REAL
        self._before: dict[str, str] = {}
        self._denials = 0
        self._server = _Server(self, upstream)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.daemon = True

    def __enter__(self) -> KmsProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- scripting -----------------------------------------------------------------------------
    def after_put(self, *answers: Answer, then: Answer = REAL) -> KmsProxy:
        """How to answer the GetKeyPolicy reads after the next successful PutKeyPolicy."""
        with self._lock:
            self._armed, self._pending_then = list(answers), then
        return self

    def deny_reads(self, count: int) -> KmsProxy:
        """Answer the next ``count`` GetKeyPolicy calls with AccessDeniedException."""
        with self._lock:
            self._denials = count
        return self

    def reads_after_put(self) -> int:
        """GetKeyPolicy calls after the last PutKeyPolicy (all of them when there was none)."""
        with self._lock:
            last = max((i for i, op in enumerate(self.seen) if op == "PutKeyPolicy"), default=-1)
            return self.seen[last + 1 :].count("GetKeyPolicy")

    # -- the handler's side ----------------------------------------------------------------------
    def record(self, operation: str) -> None:
        with self._lock:
            self.seen.append(operation)

    def take_denial(self) -> bool:
        with self._lock:
            if self._denials <= 0:
                return False
            self._denials -= 1
            return True

    def written(self, key: str) -> None:
        with self._lock:
            self._before[key] = self._last_read.get(key, "")
            self._script, self._then = deque(self._armed), self._pending_then
            self._armed, self._pending_then = [], REAL

    def rewrite(self, key: str, answer: bytes) -> bytes:
        document = json.loads(answer)
        with self._lock:
            real = document["Policy"]
            choice = self._script.popleft() if self._script else self._then
            self._last_read[key] = real
            self._turn += 1
            shown: str | dict[str, Any] = choice
            if choice == OLD:
                shown = self._before.get(key) or real
            elif choice == REAL:
                shown = real
            document["Policy"] = kms_style(shown, self._turn)
        return json.dumps(document).encode()
