"""Cost of one ``redact_text`` call on a ~2 KB result text, by how many signatures were made.

Run: ``python bench/bench_redact.py [--quick]``. A request makes one signature per attempt and calls
the redactor about 11 times; the cost must not grow with the number of requests sent.
Uses only ``register`` / ``register_authorization``, so it runs against older versions too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time

from http_task_kms import redact

SECRET = "bEnChSeCrEt/KEY+0123456789abcdefGHIJKLmn"
TOKEN = "IQoJb3JpZ2luX2VjBENCH/token+" + "c2Vzc2lvbi90b2tlbitiZW5jaA" * 30 + "=="


def result_text() -> str:
    """A failed PutKeyPolicy result as the CLI prints it, cut to 2,048 characters."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    document = {
        "ok": False,
        "statusCode": 400,
        "reasonPhrase": "Bad Request",
        "headers": {
            "Date": "Tue, 01 Dec 2026 07:39:20 GMT",
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-RequestId": "7b8c9d0e-1f2a-3b4c-5d6e-7f8091a2b3c4",
        },
        "body": {
            "__type": "MalformedPolicyDocumentException",
            "message": "The new key policy will not allow you to update the key policy in the future. " * 6,
        },
        "request": {
            "method": "POST",
            "url": "https://kms.us-east-1.amazonaws.com/",
            "headers": {
                "X-Amz-Target": "TrentService.PutKeyPolicy",
                "X-Amz-Date": "20261201T073920Z",
                "X-Amz-Security-Token": redact.REDACTED,
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE000000001/20261201/us-east-1/"
                "kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                f"Signature={redact.REDACTED}",
            },
            "body": {
                "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
                "PolicyName": "default",
                "Policy": json.dumps(policy),
            },
        },
    }
    text = json.dumps(document)
    while len(text) < 2048:
        text += " and more of an ordinary result"
    return text[:2048]


def per_call_us(text: str, calls: int) -> float:
    for _ in range(20):
        redact.redact_text(text)
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            redact.redact_text(text)
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def main() -> None:
    """Print the cost per call after 0, 10 and 50,000 signatures (``--quick``: 0, 10 and 1,000)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer signatures and calls: a smoke test (CI)")
    quick = parser.parse_args().quick
    text = result_text()
    redact.register(SECRET, TOKEN)  # what signing registers with session credentials
    made = 0
    for target in (0, 10, 1000 if quick else 50_000):
        while made < target:
            signature = hashlib.sha256(f"signature {made}".encode()).hexdigest()
            redact.register_authorization(f"AWS4-HMAC-SHA256 Credential=A/B, Signature={signature}")
            made += 1
        calls = 100 if quick else 2000 if target < 1000 else 50
        print(f"{target:>6} signatures made: {per_call_us(text, calls):9.1f} µs per redact_text")


if __name__ == "__main__":
    main()
