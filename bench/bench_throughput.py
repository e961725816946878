"""PutKeyPolicy at concurrency 8 to a fast loopback KMS: ours against one shared boto3 client.

Run: ``python bench/bench_throughput.py [--quick] [--requests N] [--rounds R] [--profile]``.

The server is ``bench/fastkms.py`` in its own process (its own core and GIL), counting the
HTTP requests it serves; its capacity is shown first, measured with a raw keep-alive
client (8 connections, 8 requests pipelined on each), so that it is seen not to be the
bottleneck. Then, interleaved round by round, each contender sends N PutKeyPolicy (each to
its own key, each policy ~2 KB and different) from 8 threads:

- ours: the public Python API, one shared ``Client`` (one HTTP session, one caller-identity
  cache: the caller's ``sts:GetCallerIdentity`` is made once, in the warm-up) and
  ``client.test_request(compiled, params)`` per key — every check, then the KMS plugin's
  safe send: GetKeyPolicy (backup to a file, diff), PutKeyPolicy, then the verification's
  reads. Three settings: ``no_verify`` (``--no-verify``: 2 HTTP requests per PutKeyPolicy —
  the target's row, as in the issue's "176 PutKeyPolicy/s, about 350 HTTP/s"), the default
  verification (2 reads 0.5 s apart: it mostly waits), and ``verify_interval 0``
  (``--verify-interval 0``: 2 reads at once);
- boto3: one ``boto3`` KMS client shared by the 8 threads, ``put_key_policy`` per key (one
  HTTP request each).

Reported: HTTP requests/s as counted by the server, and PutKeyPolicy/s. Target (issue 15):
ours (``--no-verify``) ≥ 1.0x boto3 in HTTP requests/s. ``--profile``: pyinstrument of ours
(no verify), in one thread, on stderr.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import Row, Stats, Target, compact, parser, policy_2kb, profile, report, require

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
ACCESS_KEY = "AKIDBENCHEXAMPLE0001"
SECRET_KEY = "bench/secret+key/0123456789abcdefghijklm"
THREADS = 8


class FastKms:
    """``bench/fastkms.py`` in a subprocess: its URL and its request counts."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "fastkms.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("port "):
            raise SystemExit(f"fastkms.py did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/"

    def served(self) -> dict[str, Any]:
        """``{"requests": N, "byOperation": {...}}`` so far."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", "/__stats")
            found: dict[str, Any] = json.loads(connection.getresponse().read())
            return found
        finally:
            connection.close()

    def stop(self) -> None:
        """Close its stdin (it stops), then make sure."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def key_id(i: int) -> str:
    """The i-th key of a batch (a key id KMS's pattern accepts)."""
    return f"1234abcd-0000-4000-8000-{i:012d}"


# -- the server's capacity ---------------------------------------------------------------------------
def _raw_request(port: int, i: int) -> bytes:
    body = json.dumps(
        {"KeyId": f"capacity-{i}", "PolicyName": "default", "Policy": compact(policy_2kb(counter=i))}
    )
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Amz-Target: TrentService.PutKeyPolicy\r\n"
        f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body.encode()


def _raw_connection(port: int, request: bytes, batches: int, depth: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(batches):
            sock.sendall(request * depth)
            seen = b""
            while seen.count(b"HTTP/1.1 200") < depth or not seen.endswith(b"{}"):
                data = sock.recv(65536)
                if not data:
                    raise SystemExit("fastkms.py closed a connection")
                seen += data


def capacity(server: FastKms, requests: int, depth: int = 8) -> float:
    """HTTP requests/s the server answers to 8 raw keep-alive connections, ``depth`` pipelined."""
    request = _raw_request(server.port, 0)
    batches = max(1, requests // (THREADS * depth))
    before = int(server.served()["requests"])
    threads = [
        threading.Thread(target=_raw_connection, args=(server.port, request, batches, depth))
        for _ in range(THREADS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    served = int(server.served()["requests"]) - before
    require(served == batches * depth * THREADS, f"the server counted {served} raw requests")
    return served / elapsed


# -- the contenders -------------------------------------------------------------------------------
Put = Callable[[str, int], None]


def ours_put(url: str, backups: Path, **plugin_options: Any) -> Put:
    """One shared Client; a put is ``test_request`` with every check and the safe send."""
    from botocore.credentials import Credentials

    from http_task_kms import Client, Options
    from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer

    signer = SigV4Signer(AwsCredentials(credentials=Credentials(ACCESS_KEY, SECRET_KEY)))
    options = Options(
        region=REGION, endpoint_url=url, plugin_options={"backup_dir": str(backups), **plugin_options}
    )
    client = Client(options, signer=signer)
    compiled = client.compiled_template("kms.PutKeyPolicy")

    def put(key: str, counter: int) -> None:
        result = client.test_request(compiled, {"KeyId": key, "Policy": policy_2kb(counter=counter)})
        if not (result.ok and result.extra.get("sent")):
            raise SystemExit(f"ours: PutKeyPolicy failed: {json.dumps(result.to_json())[:2000]}")

    return put


def boto3_put(url: str) -> Put:
    """One boto3 client shared by every thread."""
    import boto3

    kms = boto3.session.Session().client(
        "kms",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )

    def put(key: str, counter: int) -> None:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=compact(policy_2kb(counter=counter)))

    return put


class Batches:
    """Runs batches of puts from 8 threads; records PutKeyPolicy/s and HTTP requests/s."""

    def __init__(self, server: FastKms) -> None:
        self.server = server
        self.pool = ThreadPoolExecutor(max_workers=THREADS)
        self.counter = 0
        self.puts: dict[str, list[float]] = {}
        self.http: dict[str, list[float]] = {}
        self.per_put: dict[str, dict[str, float]] = {}

    def run(self, name: str, put: Put, count: int, *, record: bool = True) -> None:
        """``count`` puts, each to its own key with its own policy, 8 at a time."""
        base, self.counter = self.counter, self.counter + count
        before = self.server.served()
        started = time.perf_counter()
        list(self.pool.map(lambda i: put(key_id(i % 100_000), base + i), range(count)))
        elapsed = time.perf_counter() - started
        after = self.server.served()
        if not record:
            return
        self.puts.setdefault(name, []).append(count / elapsed)
        self.http.setdefault(name, []).append((after["requests"] - before["requests"]) / elapsed)
        self.per_put[name] = {
            op: (n - before["byOperation"].get(op, 0)) / count for op, n in after["byOperation"].items()
        }

    def stats(self, name: str) -> tuple[Stats, Stats]:
        """(HTTP requests/s, PutKeyPolicy/s) of ``name``."""
        return Stats(name, tuple(self.http[name])), Stats(name, tuple(self.puts[name]))


def _rows(batches: Batches, names: dict[str, str]) -> list[Row]:
    peer_http, peer_puts = batches.stats(names["boto3"])
    rows = []
    for mode in ("no_verify", "default", "interval0"):
        ours_http, ours_puts = batches.stats(names[mode])
        target = Target(1.0, False) if mode == "no_verify" else None
        what = "HTTP requests/s at concurrency 8 to a fast loopback server, preflight cached"
        rows.append(Row("throughput", what, ours_http, peer_http, "/s", "ours/peer", target))
        what = "PutKeyPolicy/s, the same"
        rows.append(Row("throughput", what, ours_puts, peer_puts, "/s", "ours/peer"))
    return rows


def _operations(per_put: dict[str, float]) -> str:
    return ", ".join(f"{op} {n:.2f}" for op, n in sorted(per_put.items()) if n)


def _measure(batches: Batches, contenders: dict[str, tuple[Put, int]], rounds: int, warmup: int) -> None:
    """A warm-up batch of each (connections, the caller's identity), then rounds, interleaved."""
    for name, (put, _) in contenders.items():
        batches.run(name, put, warmup, record=False)
    order = list(contenders)
    for r in range(rounds):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            put, n = contenders[name]
            batches.run(name, put, n)


def main() -> None:
    """Measure the server's capacity, then the contenders interleaved; print the table."""
    cli = parser(__doc__)
    cli.add_argument("--requests", type=int, help="PutKeyPolicy per batch (default 400, --quick 40)")
    cli.add_argument("--rounds", type=int, help="batches per contender (default 5, --quick 1)")
    cli.add_argument("--profile", action="store_true", help="a pyinstrument profile of ours (stderr)")
    args = cli.parse_args()
    count = args.requests or (40 if args.quick else 400)
    rounds = args.rounds or (1 if args.quick else 5)
    waiting = THREADS * (1 if args.quick else 4)  # the default verification waits 0.5 s per put
    server = FastKms()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-throughput-") as directory:
            backups = Path(directory)
            raw = capacity(server, 2000 if args.quick else 40_000)
            names = {
                "no_verify": "ours --no-verify",
                "default": "ours, default verification",
                "interval0": "ours --verify-interval 0",
                "boto3": "boto3 (one shared client)",
            }
            contenders: dict[str, tuple[Put, int]] = {
                names["no_verify"]: (ours_put(server.url, backups, no_verify=True), count),
                names["default"]: (ours_put(server.url, backups), waiting),
                names["interval0"]: (ours_put(server.url, backups, verify_interval=0), count),
                names["boto3"]: (boto3_put(server.url), count),
            }
            batches = Batches(server)
            try:
                _measure(batches, contenders, rounds, THREADS if args.quick else 4 * THREADS)
            finally:
                batches.pool.shutdown(wait=True, cancel_futures=True)
            details = [
                "- the server's capacity (raw client, 8 keep-alive connections, 8 pipelined): "
                f"{raw:.0f} HTTP/s",
                f"- {rounds} batch(es) per contender, interleaved: {count} PutKeyPolicy per batch "
                f"({waiting} with the default verification, which waits 0.5 s per put); rates: median, p10",
                *(
                    f"- HTTP requests per PutKeyPolicy, {name}: {_operations(batches.per_put[name])}"
                    for name in contenders
                ),
                "- the target's row: ours --no-verify (GetKeyPolicy + PutKeyPolicy per put)",
            ]
            report(
                "bench_throughput: PutKeyPolicy at concurrency 8",
                _rows(batches, names),
                quick=args.quick,
                details=details,
            )
            if args.profile:
                put = contenders[names["no_verify"]][0]
                counter = iter(range(10**6, 2 * 10**6))
                profile(lambda: put(key_id(1), next(counter)), count, title="ours --no-verify, one thread")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
