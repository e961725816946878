"""A minimal, fast KMS on 127.0.0.1 for the throughput benchmark (not a test server: no checks).

Run: ``python bench/fastkms.py`` — prints ``port N`` on stdout once it listens, then serves
until stdin closes (so it never outlives the benchmark that started it).

One asyncio protocol, HTTP/1.1 with keep-alive (and pipelining), answering by ``X-Amz-Target``:

- ``TrentService.PutKeyPolicy``: stores the body's ``Policy`` for its ``KeyId``; ``{}``;
- ``TrentService.GetKeyPolicy``: the stored policy, else AWS's default key policy;
- no target and an ``Action=GetCallerIdentity`` form body: STS's query-protocol XML answer;
- ``GET /__stats``: ``{"requests": N, "byOperation": {...}}`` (not counted itself);
- anything else: a 400 KMS JSON error.

Signatures are not checked (that is what moto's server is for, in ``bench_cold.py``); the
body is parsed as JSON (PutKeyPolicy's, to store its policy), as KMS would.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

ACCOUNT = "111122223333"
CALLER = f"arn:aws:iam::{ACCOUNT}:user/bench-admin"
DEFAULT_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)
STS_ANSWER = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    f"<GetCallerIdentityResult><Arn>{CALLER}</Arn><UserId>AIDABENCHEXAMPLE0001</UserId>"
    f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>bench-sts</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
).encode()

counts: Counter[str] = Counter()
policies: dict[str, str] = {}


def _response(status: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "x-amzn-RequestId: bench\r\n\r\n"
    )
    return head.encode() + body


def _error(code: str, message: str) -> bytes:
    body = json.dumps({"__type": code, "message": message}).encode()
    return _response("400 Bad Request", body, "application/x-amz-json-1.1")


def answer(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """The response to one request (and the count of its operation)."""
    if method == "GET" and path == "/__stats":
        stats = {"requests": sum(counts.values()), "byOperation": dict(counts)}
        return _response("200 OK", json.dumps(stats).encode(), "application/json")
    target = headers.get("x-amz-target", "")
    operation = target.rpartition(".")[2] or ("GetCallerIdentity" if b"GetCallerIdentity" in body else "?")
    counts[operation] += 1
    if operation == "GetCallerIdentity":
        return _response("200 OK", STS_ANSWER, "text/xml")
    try:
        request = json.loads(body)
    except ValueError:
        return _error("SerializationException", "the body is not JSON")
    if target == "TrentService.PutKeyPolicy":
        policies[request["KeyId"]] = request["Policy"]
        return _response("200 OK", b"{}", "application/x-amz-json-1.1")
    if target == "TrentService.GetKeyPolicy":
        found = {"Policy": policies.get(request["KeyId"], DEFAULT_POLICY), "PolicyName": "default"}
        return _response("200 OK", json.dumps(found).encode(), "application/x-amz-json-1.1")
    return _error("UnknownOperationException", f"not served here: {target!r}")


class Http(asyncio.Protocol):
    """HTTP/1.1 keep-alive: requests parsed from a buffer, answered in order."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        while True:
            end = self.pending.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.pending[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.pending) < end + 4 + length:
                return
            body = self.pending[end + 4 : end + 4 + length]
            self.pending = self.pending[end + 4 + length :]
            method, path, _ = lines[0].split(" ", 2)
            self.transport.write(answer(method, path, headers, body))
            if headers.get("connection", "").lower() == "close":
                self.transport.close()
                return


async def serve() -> None:
    """Listen on a free loopback port, say which, serve until stdin closes."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", 0, backlog=128)
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # the benchmark closes it: stop
    server.close()


if __name__ == "__main__":
    asyncio.run(serve())
