"""The cost of the per-attempt deadline on the fast path, against requests' own adapter.

Run: ``python bench/bench_deadlines.py [--rounds N] [--quick]``.

A minimal keep-alive server on 127.0.0.1 (plain http and TLS with a certificate made at run
time) answers every request at once with a small JSON body. Each round sends a POST the way
``Transport`` does (``stream=True``, body read in chunks, one session, connections reused),
once through ``requests.adapters.HTTPAdapter`` (before) and once through
``DeadlineAdapter`` (after), interleaved so both see the same machine load. Prints medians
per request (µs) and the difference.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from certs import self_signed_cert  # the tests' certificate helper (no pytest needed)

from http_task_kms.deadline import DeadlineAdapter

ANSWER = b'{"Keys": [], "Truncated": false}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n%s" % (
    len(ANSWER),
    ANSWER,
)


def _serve(listener: socket.socket, tls: ssl.SSLContext | None) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_answer, args=(conn, tls), daemon=True).start()


def _answer(conn: socket.socket, tls: ssl.SSLContext | None) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock: socket.socket = tls.wrap_socket(conn, server_side=True) if tls else conn
    pending = b""
    with sock:
        while True:
            while b"\r\n\r\n" not in pending:
                data = sock.recv(65536)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            lines = head.lower().split(b"\r\n")
            length = next((int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length:")), 0)
            while len(pending) < length:
                pending += sock.recv(65536)
            pending = pending[length:]
            sock.sendall(RESPONSE)


def _one(session: requests.Session, url: str, verify: str | bool) -> None:
    response = session.request(
        "POST", url, data=b"{}", timeout=(5.0, 10.0), stream=True, verify=verify, allow_redirects=False
    )
    with response:
        body = b"".join(response.iter_content(chunk_size=65536))
    assert body == ANSWER


def _session(adapter: HTTPAdapter) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _measure(url: str, verify: str | bool, rounds: int, block: int) -> dict[str, Any]:
    sessions = {
        "before": _session(HTTPAdapter(max_retries=0)),
        "after": _session(DeadlineAdapter(max_retries=0)),
    }
    samples: dict[str, list[float]] = {name: [] for name in sessions}
    for session in sessions.values():
        for _ in range(50):
            _one(session, url, verify)  # warm-up: connect, caches
    for _ in range(rounds):
        for name, session in sessions.items():
            started = time.perf_counter()
            for _ in range(block):
                _one(session, url, verify)
            samples[name].append((time.perf_counter() - started) / block * 1e6)
    before, after = statistics.median(samples["before"]), statistics.median(samples["after"])
    return {
        "before_us": round(before, 1),
        "after_us": round(after, 1),
        "overhead_us": round(after - before, 1),
    }


def main() -> None:
    """Print one JSON document: per-request medians before and after, plain http and TLS."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--block", type=int, default=20, help="requests per sample")
    parser.add_argument("--quick", action="store_true", help="10 rounds of 5: a smoke test (CI)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.block = 10, 5
    report: dict[str, Any] = {"rounds": args.rounds, "block": args.block}
    with tempfile.TemporaryDirectory() as directory:
        cert, context = self_signed_cert(Path(directory))
        for scheme, tls, verify in (("http", None, False), ("https", context, str(cert))):
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            threading.Thread(target=_serve, args=(listener, tls), daemon=True).start()
            url = f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/"
            report[scheme] = _measure(url, verify, args.rounds, args.block)
            listener.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
