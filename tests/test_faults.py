"""Faults from a real server on 127.0.0.1: every one ends in a structured result.

Throttling, 5xx, resets, stalls, truncated / non-JSON / huge / gzip-bomb bodies, redirects
to another host, and the CLI's exit codes for each. Retries are checked by attempts and by
the delays the transport asked to sleep (interval x backoffRate^n, equal jitter).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from conftest import signer_for
from faultserver import (
    FaultServer,
    aws_error,
    gzip_bomb,
    html,
    large,
    loopback_only,  # noqa: F401 - a fixture, used by pytestmark
    ok,
    redirect,
    reset,
    server_error,
    stall,
    stall_body,
    throttle,
    truncated,
    verify_sigv4,
)

from http_task_kms import Client, HttpTask, Options
from http_task_kms.cli import main
from http_task_kms.transport import MAX_BODY_BYTES, MAX_DELAY_SECONDS, Attempts, Outgoing, Transport

pytestmark = pytest.mark.usefixtures("loopback_only")

ACCESS_KEY, SECRET = "AKIDFAULTTESTS000001", "faultSECRETfaultSECRETfaultSECRET0123456"
LIST_KEYS = {"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A fault server on 127.0.0.1 (answers 200 ``null`` unless scripted)."""
    with FaultServer() as started:
        yield started


@pytest.fixture
def other() -> Iterator[FaultServer]:
    """A second server on another port: "another host" for redirects."""
    with FaultServer() as started:
        yield started


class Sleeps(list[float]):
    """A ``sleep`` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(server: FaultServer, sleeps: Sleeps) -> Callable[..., Client]:
    """Make a Client for the fault server; jitter 1.0 so delays are exactly interval x rate^n."""

    def make(*, jitter: float = 1.0, **overrides: Any) -> Client:
        options = Options(
            **{
                "region": "us-east-1",
                "endpoint_url": server.url,
                "read_timeout": 0.5,
                "connect_timeout": 0.5,
                **overrides,
            }
        )
        transport = Transport(sleep=sleeps, jitter=lambda: jitter)
        return Client(options, signer=signer_for(ACCESS_KEY, SECRET), transport=transport)

    return make


def task_for(url: str, *, interval: float = 0, attempts: int = 3, rate: float = 2.0) -> HttpTask:
    """A builder Http task (ListKeys) at ``url`` with its own retry object."""
    return HttpTask.model_validate(
        {
            "httpRequest": {"url": url, "method": "POST", "headers": LIST_KEYS, "body": {}},
            "retry": {"intervalSeconds": interval, "maxAttempts": attempts, "backoffRate": rate},
            "connectionTimeoutSeconds": 1,
            "readTimeoutSeconds": 1,
        }
    )


def assert_structured(result: Any) -> dict[str, Any]:
    """The result is the contract's JSON document (serialisable, every field present)."""
    document = json.loads(json.dumps(result.to_json()))
    for name in ("ok", "statusCode", "headers", "body", "error", "requestId", "attempts", "elapsedMs"):
        assert name in document
    if not document["ok"]:
        assert set(document["error"]) >= {"code", "message", "retryable"}
    return document


# -- retries through the Python API ----------------------------------------------------------------
def test_throttling_then_success_is_retried_once(server, client, sleeps):
    server.push(throttle(), ok({"Keys": [], "Truncated": False}))
    result = client().test_request("kms.ListKeys", {})
    assert_structured(result)
    assert result.ok
    assert result.attempts == 2
    assert server.count == 2
    assert result.body == {"Keys": [], "Truncated": False}
    assert sleeps == [1.0]  # the template's retry: 1 s x 2^0, jitter 1.0
    # every attempt is signed afresh and correctly
    assert all(verify_sigv4(r, SECRET, url=server.url) for r in server.received)


def test_throttling_above_a_rate_backs_off_until_under_it(server, client):
    server.throttle_above(2, window=0.4)
    fast = client(max_attempts=1)
    results = [fast.test_request("kms.ListKeys", {}) for _ in range(4)]
    assert [r.ok for r in results] == [True, True, False, False]
    assert {r.error.code for r in results[2:]} == {"ThrottlingException"}
    assert all(r.error.retryable and r.attempts == 1 for r in results[2:])
    # with a real sleep the backoff outlasts the window (0.25 s, then 0.5 s)
    waiting = Client(
        Options(region="us-east-1", endpoint_url=server.url, read_timeout=0.5, connect_timeout=0.5),
        signer=signer_for(ACCESS_KEY, SECRET),
        transport=Transport(jitter=lambda: 1.0),
    )
    result = waiting.test_task(task_for(server.url, interval=0.25, attempts=3), {})
    assert result.ok, result.to_json()
    assert result.attempts in (2, 3)
    assert server.count == 4 + result.attempts


def test_5xx_is_retried_until_attempts_run_out(server, client, sleeps):
    server.default = server_error(503, "ServiceUnavailableException")
    result = client().test_request("kms.ListKeys", {})
    document = assert_structured(result)
    assert not result.ok
    assert result.statusCode == 503
    assert result.attempts == 3
    assert server.count == 3
    assert document["error"] == {
        "code": "ServiceUnavailableException",
        "message": "internal error",
        "retryable": True,
    }
    assert sleeps == [1.0, 2.0]


def test_non_retryable_error_is_sent_once(server, client, sleeps):
    server.default = aws_error("LimitExceededException", "policy over 32 KB")
    result = client().test_request("kms.ListKeys", {})
    assert not result.ok
    assert result.attempts == 1
    assert server.count == 1
    assert sleeps == []
    assert result.error.code == "LimitExceededException"
    assert not result.error.retryable


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (reset(), "ConnectionError"),
        (stall(3), "ReadTimeout"),
        (stall_body(3), "ReadTimeout"),
        (truncated(), "IncompleteResponse"),
    ],
    ids=["reset", "stall", "stall-mid-body", "truncated"],
)
def test_network_faults_are_retryable_and_recovered(server, client, fault, code):
    server.push(fault)
    result = client(max_attempts=1, read_timeout=0.3).test_request("kms.ListKeys", {})
    document = assert_structured(result)
    assert document["statusCode"] is None
    assert document["error"]["code"] == code
    assert document["error"]["retryable"] is True
    assert result.attempts == 1
    server.push(fault, ok({"Keys": []}))
    recovered = client(read_timeout=0.3).test_request("kms.ListKeys", {})
    assert recovered.ok
    assert recovered.attempts == 2
    assert recovered.body == {"Keys": []}


def test_read_timeout_is_bounded_by_the_option(server, client):
    server.default = stall(5)
    started = time.monotonic()
    result = client(max_attempts=2).test_request("kms.ListKeys", {})
    took = time.monotonic() - started
    assert result.error.code == "ReadTimeout"
    assert result.attempts == 2
    assert 1.0 <= took < 2.5  # two attempts of 0.5 s, not two of 5 s


def test_connect_timeout_on_a_full_backlog():
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
        client = Client(
            Options(
                region="us-east-1",
                endpoint_url=f"http://127.0.0.1:{port}/",
                connect_timeout=0.3,
                read_timeout=0.3,
                max_attempts=2,
            ),
            signer=signer_for(ACCESS_KEY, SECRET),
            transport=Transport(sleep=lambda _: None),
        )
        result = client.test_request("kms.ListKeys", {})
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    assert result.error is not None, result.to_json()
    assert result.error.code == "ConnectTimeout", result.to_json()
    assert result.error.retryable
    assert result.attempts == 2


def test_connection_refused_is_a_structured_error(client):
    with FaultServer() as gone:
        url = gone.url
    result = client(endpoint_url=url).test_request("kms.ListKeys", {})
    assert assert_structured(result)["error"]["code"] == "ConnectionError"
    assert result.attempts == 3
    assert result.statusCode is None


@pytest.mark.parametrize(("status", "attempts"), [(502, 3), (400, 1)])
def test_html_body_is_kept_as_text(server, client, status, attempts):
    server.default = html(status)
    result = client().test_request("kms.ListKeys", {})
    assert result.statusCode == status
    assert result.attempts == attempts
    assert isinstance(result.body, str)
    assert "Bad Gateway" in result.body
    assert result.error.code == f"HTTP{status}"
    assert result.error.retryable is (status >= 500)


def _peak_while(func: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        value = func()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_very_large_body_is_capped_and_memory_bounded(server, client):
    size = 50 * 1024 * 1024
    server.push(large(size))
    sender = client()
    result, peak = _peak_while(lambda: sender.test_request("kms.ListKeys", {}))
    document = assert_structured(result)
    assert result.ok
    assert result.attempts == 1
    assert document["bodyTruncated"] is True
    assert isinstance(result.body, str)
    assert len(result.body) == MAX_BODY_BYTES
    assert result.headers["Content-Length"] == str(size)
    assert peak < 16 * MAX_BODY_BYTES < size // 3, f"peak {peak} bytes"


def test_gzip_bomb_is_capped_after_decoding(server, client):
    server.push(gzip_bomb(50 * 1024 * 1024))
    sender = client()
    result, peak = _peak_while(lambda: sender.test_request("kms.ListKeys", {}))
    assert result.bodyTruncated
    assert len(result.body) == MAX_BODY_BYTES
    assert peak < 16 * MAX_BODY_BYTES, f"peak {peak} bytes"


def test_small_body_is_not_marked_truncated(server, client):
    server.push(ok({"Keys": [{"KeyId": "k"}]}))
    document = assert_structured(client().test_request("kms.ListKeys", {}))
    assert "bodyTruncated" not in document
    assert document["body"] == {"Keys": [{"KeyId": "k"}]}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 50_000 + b"]" * 50_000,  # json.loads: RecursionError
        b'{"a":' * 500 + b"1" + b"}" * 500,  # parses, but too deep to print safely
        b'{"Keys": [], "NextMarker": NaN}',  # not JSON: would print as NaN
        b"Infinity",
        b'{"Keys": [], "Size": 1e400}',  # JSON, but a float infinity once parsed
        b'{"Keys": [], "Keys": [{"KeyId": "k"}]}',  # which Keys? kept as it came
        b'{"Keys": [{"KeyId": "\\ud800"}]}',  # a lone surrogate: cannot be printed as UTF-8
    ],
    ids=["deep-array", "deep-object", "nan", "infinity", "1e400", "duplicate-key", "lone-surrogate"],
)
def test_hostile_json_bodies_are_kept_as_text(server, client, raw):
    server.push(ok(raw))
    result = client().test_request("kms.ListKeys", {})
    assert result.ok
    assert result.body == raw.decode()
    text = json.dumps(result.to_json(), allow_nan=False)  # one strict JSON document
    assert json.loads(text)["body"] == raw.decode()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_not_followed_and_credentials_stay_home(server, other, status):
    server.default = redirect(other.url, status=status)
    client = Client(
        Options(region="us-east-1", endpoint_url=server.url, read_timeout=0.5, connect_timeout=0.5),
        signer=signer_for(ACCESS_KEY, SECRET, "redirectTOKENredirectTOKEN"),
        transport=Transport(sleep=lambda _: None),
    )
    result = client.test_request("kms.ListKeys", {})
    document = assert_structured(result)
    assert document["statusCode"] == status
    assert result.attempts == 1
    assert document["error"]["code"] == "Redirect"
    assert document["error"]["retryable"] is False
    assert other.url in document["error"]["message"]
    # the first host got the signed request, with the session token...
    assert server.received[0].header("Authorization")
    assert server.received[0].header("X-Amz-Security-Token") == "redirectTOKENredirectTOKEN"
    # ...the other host received nothing at all: no Authorization, no token
    assert other.count == 0
    assert "redirectTOKENredirectTOKEN" not in json.dumps(document)


# -- retry delays ----------------------------------------------------------------------------------
def _send_to(url: str, transport: Transport, policy: Attempts) -> Any:
    out = Outgoing(
        method="POST",
        url=url,
        headers=LIST_KEYS,
        body=b"{}",
        shown_body={},
        service="kms",
        region="us-east-1",
    )
    return transport.send(out, signer_for(ACCESS_KEY, SECRET), policy)


@pytest.mark.parametrize(
    ("jitter", "expected"),
    [(1.0, [0.3, 0.9, 2.7, 8.1]), (0.0, [0.15, 0.45, 1.35, 4.05])],
)
def test_delays_follow_interval_times_backoff_rate_with_equal_jitter(server, jitter, expected):
    server.default = throttle()
    sleeps = Sleeps()
    transport = Transport(sleep=sleeps, jitter=lambda: jitter)
    result = _send_to(server.url, transport, Attempts(max_attempts=5, interval_seconds=0.3, backoff_rate=3.0))
    assert result.attempts == 5
    assert server.count == 5
    assert sleeps == pytest.approx(expected)


def test_delays_from_a_task_retry_object(server, sleeps, client):
    server.default = server_error()
    result = client(jitter=1.0).test_task(task_for(server.url, interval=0.25, attempts=4, rate=2.0), {})
    assert result.attempts == 4
    assert sleeps == pytest.approx([0.25, 0.5, 1.0])


def test_delays_are_capped_and_jitter_stays_within_bounds(server):
    server.default = server_error()
    sleeps, drawn = Sleeps(), []

    def jitter() -> float:
        drawn.append(random.random())
        return drawn[-1]

    transport = Transport(sleep=sleeps, jitter=jitter)
    policy = Attempts(max_attempts=6, interval_seconds=4.0, backoff_rate=3.0)
    _send_to(server.url, transport, policy)
    bases = [min(4.0 * 3.0**n, MAX_DELAY_SECONDS) for n in range(5)]
    assert len(sleeps) == 5
    for delay, base, j in zip(sleeps, bases, drawn, strict=True):
        assert base / 2 <= delay <= base
        assert delay == pytest.approx(base / 2 + base / 2 * j)
    assert max(sleeps) <= MAX_DELAY_SECONDS


def test_zero_interval_from_the_task_means_no_wait(server):
    server.default = throttle()
    sleeps = Sleeps()
    transport = Transport(sleep=sleeps, jitter=lambda: 1.0)  # full jitter: any wait would show
    options = Options(region="us-east-1", endpoint_url=server.url)
    client = Client(options, signer=signer_for(ACCESS_KEY, SECRET), transport=transport)
    result = client.test_task(task_for(server.url, interval=0, attempts=5), {})
    assert result.attempts == 5
    assert server.count == 5
    assert sleeps == [0.0, 0.0, 0.0, 0.0]  # a pause between attempts, each of nothing


# -- the CLI: exit codes and no tracebacks ------------------------------------------------------------
@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run ``http-task-kms`` in process with env credentials; returns (exit code, JSON, stderr)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("HOME", str(tmp_path))

    def run(*args: str) -> tuple[int, dict[str, Any], str]:
        outcome = CliRunner().invoke(main, list(args))
        if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
            raise AssertionError(f"the CLI raised {outcome.exception!r}") from outcome.exception
        assert "Traceback" not in outcome.stderr
        return outcome.exit_code, json.loads(outcome.stdout), outcome.stderr

    return run


def _task_args(tmp_path: Path, url: str, *, attempts: int = 2) -> list[str]:
    task = task_for(url, interval=0, attempts=attempts).model_dump(mode="json", exclude_none=True)
    (tmp_path / "task.json").write_text(json.dumps(task))
    (tmp_path / "input.json").write_text("{}")
    return [
        "test-request",
        "--task",
        str(tmp_path / "task.json"),
        "--input",
        str(tmp_path / "input.json"),
        "--region",
        "us-east-1",
        "--endpoint-url",  # the operator's endpoint: a task URL on loopback gets nothing otherwise
        url,
        "--read-timeout",
        "0.3",
        "--connect-timeout",
        "0.5",
    ]


@pytest.mark.parametrize(
    ("faults", "exit_code", "code", "attempts"),
    [
        ([ok({"Keys": []})], 0, None, 1),
        ([throttle(), ok()], 0, None, 2),
        ([throttle(), throttle()], 1, "ThrottlingException", 2),
        ([server_error(), server_error()], 1, "KMSInternalException", 2),
        ([aws_error("NotFoundException", "no such key")], 1, "NotFoundException", 1),
        ([reset(), reset()], 1, "ConnectionError", 2),
        ([stall(3), stall(3)], 1, "ReadTimeout", 2),
        ([truncated(), truncated()], 1, "IncompleteResponse", 2),
        ([html(), html()], 1, "HTTP502", 2),
        ([large(8 * 1024 * 1024)], 0, None, 1),
    ],
    ids=[
        "ok",
        "throttle-ok",
        "throttled",
        "5xx",
        "not-found",
        "reset",
        "stall",
        "truncated",
        "html",
        "large",
    ],
)
def test_cli_exit_codes(server, cli, tmp_path, faults, exit_code, code, attempts):
    server.push(*faults)
    status, document, _ = cli(*_task_args(tmp_path, server.url))
    assert status == exit_code
    assert document["attempts"] == attempts
    assert server.count == attempts
    assert (document["error"] or {}).get("code") == code


def test_cli_redirect_is_exit_1_and_nothing_reaches_the_other_host(server, other, cli, tmp_path):
    server.default = redirect(other.url, status=307)
    status, document, _ = cli(*_task_args(tmp_path, server.url))
    assert status == 1
    assert document["error"]["code"] == "Redirect"
    assert document["statusCode"] == 307
    assert other.count == 0


def test_cli_bad_input_is_exit_2_and_nothing_is_sent(server, cli, tmp_path):
    (tmp_path / "input.json").write_text(json.dumps({"NoSuchMember": 1}))
    status, document, _ = cli(
        "test-request",
        "kms.ListKeys",
        "--input",
        str(tmp_path / "input.json"),
        "--endpoint-url",
        server.url,
        "--region",
        "us-east-1",
    )
    assert status == 2
    assert document["error"]["code"] == "ValidationError"
    assert document["statusCode"] is None
    assert server.count == 0


def test_cli_template_mode_throttled_is_exit_1(server, cli, tmp_path):
    server.default = throttle()
    (tmp_path / "input.json").write_text("{}")
    status, document, _ = cli(
        "test-request",
        "kms.ListKeys",
        "--input",
        str(tmp_path / "input.json"),
        "--endpoint-url",
        server.url,
        "--region",
        "us-east-1",
        "--max-attempts",
        "1",
    )
    assert status == 1
    assert document["attempts"] == 1
    assert document["error"]["retryable"] is True


def test_console_entry_point_exit_code_in_a_subprocess(server, tmp_path):
    server.default = reset()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "HOME": str(tmp_path),
    }
    args = _task_args(tmp_path, server.url, attempts=2)
    done = subprocess.run(
        [sys.executable, "-c", "from http_task_kms.cli import run; run()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    document = json.loads(done.stdout)
    assert document["error"]["code"] == "ConnectionError"
    assert document["attempts"] == 2


def test_a_send_carries_what_requests_session_request_would_send(server: FaultServer) -> None:
    """The transport prepares its request itself: the session's headers and cookies are still sent."""
    server.default = ok({"Keys": []}, headers={"Set-Cookie": "lb=node-1; Path=/"})
    transport = Transport(sleep=lambda _: None)
    transport.session.headers["X-Session-Default"] = "kept"
    transport.session.headers["Accept"] = None  # type: ignore[assignment] # removed, as requests removes it
    options = Options(region="us-east-1", endpoint_url=server.url, max_attempts=1)
    client = Client(options, signer=signer_for(ACCESS_KEY, SECRET), transport=transport)
    assert client.test_request("kms.ListKeys", {}).ok
    assert client.test_request("kms.ListKeys", {}).ok
    first, second = server.received[-2:]
    reference = requests.Session()
    reference.headers["X-Session-Default"] = "kept"
    reference.headers["Accept"] = None  # type: ignore[assignment]
    reference.cookies.set("lb", "node-1", domain="127.0.0.1", path="/")
    signed = {k: v for k, v in second.headers if k.lower() not in {"user-agent", "accept-encoding", "cookie"}}
    request = requests.Request("POST", server.url, headers=signed, data=second.body)
    expected = reference.prepare_request(request)
    assert first.header("Cookie") is None
    assert second.header("Cookie") == "lb=node-1"  # the cookie the server set, sent back as requests does
    assert sorted((k.lower(), v) for k, v in second.headers) == sorted(
        (k.lower(), v) for k, v in expected.headers.items()
    )
    assert second.header("Accept") is None
    assert second.header("Content-Length") == str(len(second.body))
