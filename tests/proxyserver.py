"""A recording HTTP proxy on a loopback address, for tests of where requests go.

It forwards plain-http requests (absolute-form ``GET http://host:port/path``) and tunnels
``CONNECT host:port`` — but only to loopback targets, so a test can never reach further.
:attr:`RecordingProxy.seen` lists what it was asked for: ``("POST", "http://127.0.0.1:…/")``
or ``("CONNECT", "127.0.0.1:…")``. It listens on another loopback address than the servers
(127.0.0.2 by default), so a test can tell a proxied request from a direct one.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RecordingProxy"]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        self.server.owner.record("CONNECT", self.path)
        if not _loopback(host.strip("[]")):
            self.send_error(403)
            return
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        self.send_response(200, "Connection established")
        self.end_headers()
        self._pipe(self.connection, upstream)

    def _forward(self) -> None:
        self.server.owner.record(self.command, self.path)
        parts = urlsplit(self.path)
        if parts.scheme != "http" or not parts.hostname or not _loopback(parts.hostname):
            self.send_error(403)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=5)
        with upstream:
            lines = [f"{self.command} {parts.path or '/'} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "proxy-connection"]
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            self._relay_response(upstream)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

    def _relay_response(self, upstream: socket.socket) -> None:
        reader = upstream.makefile("rb")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = reader.readline()
            if not line:
                break
            head += line
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        self.wfile.write(head + reader.read(length))
        self.wfile.flush()

    @staticmethod
    def _pipe(client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        with upstream:
            while True:
                readable, _, broken = select.select(sockets, [], sockets, 5)
                if broken or not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: RecordingProxy, address: str) -> None:
        self.owner = owner
        super().__init__((address, 0), _ProxyHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away mid-tunnel is not a test failure."""


class RecordingProxy:
    """A forwarding and CONNECT proxy on ``address`` (a loopback address); a context manager."""

    def __init__(self, address: str = "127.0.0.2") -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = _ProxyServer(self, address)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.daemon = True

    def record(self, method: str, target: str) -> None:
        """Note one request made through the proxy."""
        with self._lock:
            self.seen.append((method, target))

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
