"""A deadline per attempt: a server that trickles cannot hold an attempt past its timeouts.

Each read of a trickling server comes well within the read timeout, so per-read timeouts
alone never fire: a header line, a body byte or a TLS handshake byte every 50 ms. The
attempt must still end within ``timeout + 0.5 s`` as ``ReadTimeout`` (status line, headers
and body) or ``ConnectTimeout`` (TCP connect, TLS handshake, a proxy's answer to CONNECT),
retryable, with as many attempts as allowed, over plain http and over TLS, and leave no
thread or socket behind. Every server here is on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import signer_for
from faultserver import (
    FaultServer,
    TrickleRelay,
    full_backlog,
    loopback_only,  # noqa: F401 - a fixture, used by pytestmark
    ok,
    self_signed_cert,
    silent_listener,
    trickle_body,
    trickle_headers,
)

from http_task_kms import Client, HttpTask, Options
from http_task_kms.cli import main
from http_task_kms.transport import Transport

pytestmark = pytest.mark.usefixtures("loopback_only")

ACCESS_KEY, SECRET = "AKIDDEADLINETESTS001", "deadlineSECRETdeadlineSECRETdeadline0123"
LIST_KEYS = {"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"}
GRACE = 0.5  # how long past its deadline an attempt may take to end
INTERVAL = 0.05  # one header line / body byte / handshake byte this often
#: The servers stop by themselves after this long: on code without deadlines a trickle test
#: then fails on its time bound instead of hanging.
LIFETIME = 4.0


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A self-signed certificate for 127.0.0.1 and the server's SSL context."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(params=["http", "https"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_server(
    cert: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., FaultServer]]:
    """Start a fault server over ``scheme``; for https, trusted through AWS_CA_BUNDLE."""
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    started: list[FaultServer] = []

    def make(scheme: str = "http", **kw: Any) -> FaultServer:
        if scheme == "https":
            monkeypatch.setenv("AWS_CA_BUNDLE", str(cert[0]))
        server = FaultServer(tls=cert[1] if scheme == "https" else None, lifetime=LIFETIME, **kw)
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()


def client_for(url: str, *, read: float = 0.25, connect: float = 0.25, attempts: int = 2) -> Client:
    return Client(
        Options(
            region="us-east-1",
            endpoint_url=url,
            read_timeout=read,
            connect_timeout=connect,
            max_attempts=attempts,
        ),
        signer=signer_for(ACCESS_KEY, SECRET),
        transport=Transport(sleep=lambda _: None),
    )


def timed(client: Client) -> tuple[Any, float]:
    started = time.monotonic()
    result = client.test_request("kms.ListKeys", {})
    return result, time.monotonic() - started


# -- the read deadline: status line, headers and body ---------------------------------------------
@pytest.mark.parametrize(
    "trickle", [trickle_headers(INTERVAL), trickle_body(INTERVAL)], ids=["headers", "body"]
)
def test_a_trickled_response_ends_as_read_timeout_within_the_deadline(make_server, scheme, trickle):
    server = make_server(scheme, default=trickle)
    result, took = timed(client_for(server.url, attempts=2))
    assert result.error is not None, result.to_json()
    assert result.error.code == "ReadTimeout", result.to_json()
    assert result.error.retryable
    assert result.statusCode is None
    assert result.attempts == 2
    assert server.count == 2
    assert 2 * 0.25 <= took < 2 * (0.25 + GRACE), f"took {took:.2f} s"


def test_a_slow_answer_within_the_deadline_is_kept(make_server, scheme):
    server = make_server(scheme, default=trickle_body(INTERVAL, body=b"[1, 2]"))  # 0.3 s in all
    result, _ = timed(client_for(server.url, read=0.6, attempts=1))
    assert result.ok, result.to_json()
    assert result.body == [1, 2]


def test_cli_trickled_response_is_exit_1_read_timeout_within_two_deadlines(
    make_server, tmp_path, monkeypatch
):
    server = make_server("http", default=trickle_headers(INTERVAL))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("HOME", str(tmp_path))
    task = HttpTask.model_validate(
        {
            "httpRequest": {"url": server.url, "method": "POST", "headers": LIST_KEYS, "body": {}},
            "retry": {"intervalSeconds": 0, "maxAttempts": 3, "backoffRate": 2.0},
        }
    )
    (tmp_path / "task.json").write_text(json.dumps(task.model_dump(mode="json", exclude_none=True)))
    (tmp_path / "input.json").write_text("{}")
    args = ["test-request", "--task", str(tmp_path / "task.json"), "--input", str(tmp_path / "input.json")]
    started = time.monotonic()
    outcome = CliRunner().invoke(
        main,
        [
            *args,
            "--region",
            "us-east-1",
            "--endpoint-url",
            server.url,
            "--read-timeout",
            "1",
            "--max-attempts",
            "2",
        ],
    )
    took = time.monotonic() - started
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    document = json.loads(outcome.stdout)
    assert outcome.exit_code == 1
    assert document["error"]["code"] == "ReadTimeout"
    assert document["attempts"] == 2
    assert server.count == 2
    assert took < 2 * (1 + GRACE), f"took {took:.2f} s"


# -- the connect deadline: TCP connect, TLS handshake, a proxy's CONNECT ---------------------------
def test_a_stalled_connect_ends_as_connect_timeout_within_the_deadline():
    with full_backlog() as url:
        result, took = timed(client_for(url, read=5.0, attempts=2))
    assert result.error is not None, result.to_json()
    assert result.error.code == "ConnectTimeout", result.to_json()
    assert result.error.retryable
    assert result.attempts == 2
    assert took < 2 * (0.25 + GRACE), f"took {took:.2f} s"


def test_a_silent_tls_handshake_ends_as_connect_timeout(make_server):
    with silent_listener("https") as url:
        result, took = timed(client_for(url, read=5.0, attempts=2))
    assert result.error is not None, result.to_json()
    assert result.error.code == "ConnectTimeout", result.to_json()
    assert result.error.retryable
    assert result.attempts == 2
    assert took < 2 * (0.25 + GRACE), f"took {took:.2f} s"


def test_a_trickled_tls_handshake_ends_as_connect_timeout(make_server):
    server = make_server("https", default=ok({"Keys": []}))
    with TrickleRelay(server.url, interval=INTERVAL, lifetime=LIFETIME) as relay:
        result, took = timed(client_for(relay.url, read=5.0, attempts=2))
    assert result.error is not None, result.to_json()
    assert result.error.code == "ConnectTimeout", result.to_json()
    assert result.error.retryable
    assert result.attempts == 2
    assert server.count == 0  # no request got through the handshake
    assert took < 2 * (0.25 + GRACE), f"took {took:.2f} s"


def test_a_proxy_trickling_its_connect_answer_ends_as_connect_timeout(make_server, monkeypatch):
    proxy = make_server("http", default=trickle_headers(INTERVAL))
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    # The origin is never reached: the tunnel is never set up.
    result, took = timed(client_for("https://127.0.0.1:9/", read=5.0, attempts=2))
    assert result.error is not None, result.to_json()
    assert result.error.code == "ConnectTimeout", result.to_json()
    assert result.attempts == 2
    assert [r.method for r in proxy.received] == ["CONNECT", "CONNECT"]
    assert took < 2 * (0.25 + GRACE), f"took {took:.2f} s"


# -- nothing left behind; the fast path unchanged -------------------------------------------------
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _settled(before: set[threading.Thread], timeout: float = 3.0) -> set[threading.Thread]:
    """Threads started since ``before`` that are still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        extra = set(threading.enumerate()) - before
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.02)


def test_no_thread_or_socket_is_left_behind(make_server, scheme):
    threads, fds = set(threading.enumerate()), _open_fds()
    server = make_server(scheme)
    server.push(trickle_headers(INTERVAL), trickle_body(INTERVAL))
    server.default = ok({"Keys": []})
    client = client_for(server.url, read=0.3, attempts=1)
    codes = [client.test_request("kms.ListKeys", {}).to_json()["error"] for _ in range(2)]
    assert [c and c["code"] for c in codes] == ["ReadTimeout", "ReadTimeout"]
    adapter = client.transport.session.get_adapter(server.url)
    pooled = adapter.poolmanager.connection_from_url(server.url).pool.queue
    assert all(conn is None or conn.sock is None for conn in pooled)  # discarded, not kept
    server.stop()  # its handler threads end with it
    assert _settled(threads) == set()
    assert _open_fds() <= fds


def test_fast_requests_reuse_one_connection_and_a_timed_out_one_is_discarded(make_server, scheme):
    server = make_server(scheme, default=ok({"Keys": []}))
    client = client_for(server.url, read=0.3, attempts=1)
    assert all(client.test_request("kms.ListKeys", {}).ok for _ in range(10))
    assert len({r.client_port for r in server.received}) == 1
    server.push(trickle_body(INTERVAL))
    assert client.test_request("kms.ListKeys", {}).error.code == "ReadTimeout"
    assert client.test_request("kms.ListKeys", {}).ok
    first, timed_out, after = server.received[0], server.received[10], server.received[11]
    assert timed_out.client_port == first.client_port  # the pooled connection was used...
    assert after.client_port != timed_out.client_port  # ...and not after its timeout
