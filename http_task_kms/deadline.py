"""A deadline per attempt: connect within the connect timeout, the response within the read timeout.

urllib3's timeouts bound each read of the socket, not the attempt: a server that sends a
header line or a body byte just within every read timeout keeps the attempt alive as long
as it likes. Here every read of the socket is given only what is left before the phase's
deadline as its timeout (never more than the timeout itself: the per-read bound stays), and
a read with nothing left raises :class:`TimeoutError` (what a socket timeout raises), so
urllib3 and requests report it as they report any timeout. No thread, no timer: the clock
is read before each read of the socket.

- **Connect**: from the start of the connect until the connection is ready: TCP connect
  (the connect timeout per address tried, as urllib3 does; a DNS lookup is not
  interrupted), then a proxy's answer to ``CONNECT`` and the TLS handshake within what is
  left (CPython bounds a whole handshake by the socket's timeout). Past it: urllib3's
  ``ConnectTimeoutError``, which requests raises as ``ConnectTimeout``.
- **Read**: from when the request has been written until the status line, the headers and
  the body have been read (as far as the caller reads it): ``ReadTimeoutError``, which
  requests raises as ``ReadTimeout`` (or as ``ConnectionError`` around it, mid-body).

A connection whose read timed out is closed and discarded by urllib3, as after any error.
Not covered: through an ``https://`` proxy (TLS inside TLS) urllib3 reads the inner
records in a loop of its own, so there each read is bounded, not the whole response.
"""

from __future__ import annotations

import contextvars
import http.client
import io
import socket
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import PoolManager, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError

__all__ = ["DeadlineAdapter"]

#: The deadline (``time.monotonic()``) for the response being read on this thread, if any.
_RESPONSE_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "response_deadline", default=None
)


def _deadline_after(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _left(deadline: float) -> float:
    """Seconds left before ``deadline``; :class:`TimeoutError` when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out (the attempt's deadline passed)")
    return left


class _DeadlineReader(io.RawIOBase):
    """A socket's raw reader whose every read ends by ``deadline``."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # counted by the socket, as http.client's own
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_left(self._deadline))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading through a :class:`_DeadlineReader` when a deadline is set."""

    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        deadline = _RESPONSE_DEADLINE.get()
        if deadline is not None:
            plain, self.fp = self.fp, io.BufferedReader(_DeadlineReader(sock, deadline))
            plain.close()


class _DeadlineHTTPConnection(HTTPConnection):
    """urllib3's connection, with a deadline for the connect and one for the response."""

    response_class = _DeadlineResponse
    _connect_deadline: float | None = None

    def connect(self) -> None:
        """Connect (TCP, a proxy's CONNECT, TLS) by the connect timeout, or ``ConnectTimeoutError``."""
        self._connect_deadline = deadline = _deadline_after(self.timeout)
        token = _RESPONSE_DEADLINE.set(deadline)  # a proxy's answer to CONNECT
        try:
            super().connect()
        except TimeoutError as exc:  # a socket timeout: the handshake's or the CONNECT answer's
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from exc
        finally:
            _RESPONSE_DEADLINE.reset(token)

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._bound_by_connect_deadline(sock)
        return sock

    def _tunnel(self) -> None:
        super()._tunnel()
        if self.sock is not None:
            self._bound_by_connect_deadline(self.sock)  # the TLS handshake through the tunnel

    def _bound_by_connect_deadline(self, sock: socket.socket) -> None:
        if self._connect_deadline is not None:
            try:
                sock.settimeout(_left(self._connect_deadline))
            except TimeoutError:
                sock.close()
                raise

    def getresponse(self) -> Any:
        """The response; its status line, headers and body are read by the read timeout."""
        token = _RESPONSE_DEADLINE.set(_deadline_after(self.timeout))
        try:
            return super().getresponse()
        finally:
            _RESPONSE_DEADLINE.reset(token)


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, HTTPSConnection):
    """The same for https."""


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections keep a deadline per attempt (direct or through a proxy).

    The deadlines are the request's ``timeout=(connect, read)``.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # not SOCKS: its connections are its own
            manager.pool_classes_by_scheme = _POOLS
        return manager
