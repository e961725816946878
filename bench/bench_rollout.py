"""Benchmarks of ``apply``: the share of the PutKeyPolicy quota a rollout achieves, and its memory.

Run: ``python bench/bench_rollout.py [--quick]`` (``--quick``: small sizes, seconds; CI runs it
as a smoke test, without asserting on timings).

- quota: a rollout at ``--rate 15`` (the PutKeyPolicy quota) against a loopback KMS stub that
  answers ThrottlingException above 15 PutKeyPolicy per second (a token bucket of 3): the rate
  the stub accepted writes at, and the rollout's own ``achievedRate``, as a share of the
  configured rate, and how many keys failed (target: at least 95 %, none). Then ``--rate 30``
  against the same 15 per second, to see the back-off: the share of the quota, and no failures.
- memory: the tracemalloc peak of a whole rollout (client made, keys checked, journalled,
  backed up, written, read back) against a fast stub (no throttling, ``--rate 100000``), for
  2,000 and for 20,000 keys, each in a fresh process (target: 20,000 keys at most 1.2 times 2,000).

The stub runs in its own process (its memory and CPU are not the rollout's): GetCallerIdentity,
GetKeyPolicy and PutKeyPolicy over a dictionary; it checks no signature. Public tools only
(``tracemalloc``, ``time``, ``subprocess``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
CALLER = f"arn:aws:iam::{ACCOUNT}:user/bench"
_STS = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    f"<Arn>{CALLER}</Arn><UserId>AIDABENCH</UserId><Account>{ACCOUNT}</Account>"
    "</GetCallerIdentityResult></GetCallerIdentityResponse>"
).encode()


def _policy(sid: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::${$.accountId}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": CALLER},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": "${$.accountId}"}},
            },
        ],
    }


# -- the stub (its own process) ------------------------------------------------------------------
class _Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, limit: float | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.policies: dict[str, str] = {}
        self.lock = threading.Lock()
        self.limit, self.tokens, self.at = limit, 3.0, time.monotonic()
        self.accepted: list[float] = []
        self.throttled = 0

    def admit(self) -> bool:
        if self.limit is None:
            return True
        with self.lock:
            now = time.monotonic()
            self.tokens = min(3.0, self.tokens + (now - self.at) * self.limit)
            self.at = now
            if self.tokens < 1:
                self.throttled += 1
                return False
            self.tokens -= 1
            self.accepted.append(now)
            return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body are two writes: no delayed-ACK stall
    server: _Stub

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def _send(self, status: int, body: bytes, kind: str = "application/x-amz-json-1.1") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        stub = self.server
        rate = None
        if len(stub.accepted) > 1:
            rate = (len(stub.accepted) - 1) / (stub.accepted[-1] - stub.accepted[0])
        self._send(200, json.dumps({"acceptedRate": rate, "throttled": stub.throttled}).encode())
        stub.accepted.clear()
        stub.throttled = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        if not target:
            self._send(200, _STS, "text/xml")
            return
        request = json.loads(body)
        key, stub = request["KeyId"], self.server
        if target.endswith("GetKeyPolicy"):
            default = json.dumps(_policy("Before"))
            self._send(
                200, json.dumps({"Policy": stub.policies.get(key, default), "PolicyName": "default"}).encode()
            )
        elif target.endswith("PutKeyPolicy"):
            if not stub.admit():
                self._send(400, b'{"__type": "ThrottlingException", "message": "Rate exceeded"}')
                return
            stub.policies[key] = request["Policy"]
            self._send(200, b"")
        else:
            self._send(400, b'{"__type": "UnsupportedOperationException", "message": "stub"}')


def serve(limit: float | None) -> None:
    """Run the stub until stdin closes; its URL on the first line of stdout."""
    stub = _Stub(limit)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{stub.server_address[1]}/", flush=True)
    sys.stdin.read()


class Stub:
    """The stub in a child process."""

    def __init__(self, limit: float | None = None) -> None:
        args = [sys.executable, __file__, "--serve"] + ([f"--limit={limit}"] if limit else [])
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def accepted(self) -> dict[str, Any]:
        """The rate PutKeyPolicy was accepted at since the last call, and how many were throttled."""
        import urllib.request

        with urllib.request.urlopen(self.url, timeout=5) as answer:  # loopback
            result: dict[str, Any] = json.load(answer)
            return result

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


# -- a rollout, in this process --------------------------------------------------------------------
def rollout(url: str, keys: int, rate: float, work: Path, *, sid: str) -> dict[str, Any]:
    """``apply`` of a fresh policy to ``keys`` new keys through the host API; its summary."""
    from http_task_kms import Client, Options
    from http_task_kms.kms.rollout.apply import Plan, policy_sha256, run_rollout
    from http_task_kms.kms.rollout.change import Rates
    from http_task_kms.kms.rollout.placeholders import PolicyTemplate
    from http_task_kms.transport import Transport

    key_file = work / f"{sid}.keys"
    key_file.write_text("".join(f"{uuid.uuid4()}\n" for _ in range(keys)), encoding="ascii")
    policy = _policy(sid)
    plugin_options = {
        "backup_dir": str(work / f"{sid}-backups"),
        "caller_arn": None,
        "verify_reads": 1,
        "verify_interval": 0.0,
    }
    options = Options(region="us-east-1", endpoint_url=url, plugin_options=plugin_options)
    client = Client(options, transport=Transport(pool_size=16))
    plan = Plan(
        policy=PolicyTemplate(policy),
        policy_sha256=policy_sha256(json.dumps(policy).encode()),
        region="us-east-1",
        journal=work / f"{sid}.journal",
        keys_file=key_file,
        rates=Rates(put=rate, get=max(rate * 4, 100.0)),
        concurrency=16,
    )
    return run_rollout(client, plan)


def _environment() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDBENCHMARK0000001")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmarkSECRETbenchmarkSECRETbenchmark0")
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def memory_run(url: str, keys: int, work: Path) -> None:
    """One rollout under tracemalloc (in a fresh process); prints its peak and time as JSON."""
    import tracemalloc

    _environment()
    tracemalloc.start()
    started = time.perf_counter()
    summary = rollout(url, keys, 100_000.0, work, sid=f"Memory{keys}")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "keys": keys,
                "peakBytes": peak,
                "seconds": elapsed,
                "changed": summary["changed"],
                "failed": summary["failed"],
            }
        )
    )


def _memory(url: str, keys: int, work: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--memory-run", str(keys), "--url", url, "--work", str(work)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _quota(keys: int, rate: float, work: Path, sid: str) -> dict[str, Any]:
    stub = Stub(limit=15.0)
    try:
        summary = rollout(stub.url, keys, rate, work, sid=sid)
        seen = stub.accepted()
    finally:
        stub.close()
    return {"summary": summary, "stub": seen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--memory-run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.limit)
        return
    if args.memory_run:
        memory_run(args.url, args.memory_run, Path(args.work))
        return
    _environment()
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None  # journal fsyncs and backups off the disk
    with tempfile.TemporaryDirectory(dir=base) as directory:
        work = Path(directory)
        quota_keys, small, large = (30, 40, 400) if args.quick else (300, 2_000, 20_000)
        for rate in (15.0, 30.0):
            measured = _quota(quota_keys, rate, work, sid=f"Quota{int(rate)}")
            summary, stub = measured["summary"], measured["stub"]
            accepted = stub["acceptedRate"] or 0.0
            share = (
                f"{accepted / rate:.1%} of the configured rate"
                if rate <= 15.0
                else f"{accepted / 15.0:.1%} of the quota (the configured rate is {rate / 15.0:g} times it)"
            )
            print(
                f"quota, --rate {rate:g} against 15/s: {summary['changed']} keys changed, "
                f"{summary['failed']} failed; the stub accepted {accepted:.2f} PutKeyPolicy/s = {share}; "
                f"the rollout's achievedRate {summary['achievedRate']}; throttled answers "
                f"{stub['throttled']}, keys that saw throttling {summary['thisRun']['throttled']}"
            )
        stub = Stub()
        try:
            peaks = {keys: _memory(stub.url, keys, work) for keys in (small, large)}
        finally:
            stub.close()
        for keys, run in peaks.items():
            print(
                f"memory, {keys:>6} keys: tracemalloc peak {run['peakBytes'] / 1e6:.2f} MB "
                f"({run['seconds']:.1f} s, {run['changed']} changed, {run['failed']} failed)"
            )
        ratio = peaks[large]["peakBytes"] / peaks[small]["peakBytes"]
        print(f"memory, {large} keys / {small} keys: {ratio:.2f}x (target at most 1.2x)")


if __name__ == "__main__":
    main()
