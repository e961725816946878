"""Benchmarks of the PutKeyPolicy path, each quoted against a peer measured in the same run.

Run: ``python bench/bench_put_key_policy.py [--rounds N]`` (needs the ``local`` extra).

- load: importing the package, loading the KMS OpenAPI document and building every template
  (once per process), against creating a botocore KMS client (botocore loads its model).
- prepare: render + validate one PutKeyPolicy with a ~2 KB policy (lint included, lockout
  check with a given caller), and prepare + sign, against botocore's own request
  preparation for the same call (serialise + sign, no send).
- round trip: one signed PutKeyPolicy against moto's server on 127.0.0.1 (signature check
  on), against botocore's ``put_key_policy`` to the same server.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def _median_ms(func: Callable[[], Any], rounds: int) -> float:
    for _ in range(min(20, rounds)):
        func()  # warm-up
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _fresh_process_ms(code: str, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


LOAD_OURS = """
import time; t = time.perf_counter()
from http_task_kms.plugins.manager import get_registry
assert len(get_registry()) > 50
print((time.perf_counter() - t) * 1000)
"""
LOAD_BOTOCORE = """
import time; t = time.perf_counter()
import botocore.session
botocore.session.get_session().create_client("kms", region_name="us-east-1",
    aws_access_key_id="a", aws_secret_access_key="b")
print((time.perf_counter() - t) * 1000)
"""


def _policy_2kb(account: str, admin_arn: str) -> dict[str, Any]:
    """The demo's policy (default + key administrators) plus key-user statements, ~2 KB."""
    from http_task_kms.kms.demo import sample_policy

    statements: list[dict[str, Any]] = sample_policy(account, admin_arn)["Statement"]
    i = 0
    while len(json.dumps({"Version": "2012-10-17", "Statement": statements})) < 2048:
        statements.append(
            {
                "Sid": f"Allow use of the key {i}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/app-{i}"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
            }
        )
        i += 1
    return {"Version": "2012-10-17", "Statement": statements}


def main() -> None:
    """Run every benchmark and print one JSON document of medians and ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds

    import botocore.session
    from botocore.credentials import Credentials

    from http_task_kms import Client, Options
    from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer
    from http_task_kms.kms.local import LocalKms

    report: dict[str, Any] = {"rounds": rounds}
    ours, peer = _fresh_process_ms(LOAD_OURS), _fresh_process_ms(LOAD_BOTOCORE)
    report["load_ms"] = {
        "http_task_kms": ours,
        "botocore_create_client": peer,
        "ratio": round(ours / peer, 2),
    }

    with LocalKms() as kms:
        admin = kms.create_admin("bench-admin")
        kms.require_signatures()
        account = admin.arn.split(":")[4]
        policy = _policy_2kb(account, admin.arn)
        signer = SigV4Signer(
            AwsCredentials(credentials=Credentials(admin.access_key_id, admin.secret_access_key))
        )
        client = Client(
            Options(
                region="us-east-1",
                endpoint_url=kms.url,
                plugin_options={"caller_arn": admin.arn, "force": True},
            ),
            signer=signer,
        )
        botocore_kms = botocore.session.get_session().create_client(
            "kms",
            endpoint_url=kms.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key_id,
            aws_secret_access_key=admin.secret_access_key,
        )
        key_id = botocore_kms.create_key()["KeyMetadata"]["KeyId"]
        params = {"KeyId": key_id, "Policy": policy}
        text = json.dumps(policy, separators=(",", ":"))
        compiled = client.compiled_template("kms.PutKeyPolicy")
        report["policy_bytes"] = len(text)

        render_validate = _median_ms(lambda: client.prepare(compiled, params), rounds)

        def prepare_sign() -> None:
            out = client.outgoing(client.prepare(compiled, params))
            signer.sign(out.method, out.url, out.headers, out.body, service=out.service, region=out.region)

        def botocore_prepare_sign() -> None:
            model = botocore_kms.meta.service_model.operation_model("PutKeyPolicy")
            request_dict = botocore_kms._convert_to_request_dict(
                {"KeyId": key_id, "PolicyName": "default", "Policy": text},
                model,
                endpoint_url=kms.url,
                context={},
                headers={},
            )
            request = botocore_kms._endpoint.create_request(request_dict, model)
            assert "Authorization" in request.headers

        ours_prep = _median_ms(prepare_sign, rounds)
        peer_prep = _median_ms(botocore_prepare_sign, rounds)
        report["render_validate_ms"] = render_validate
        report["prepare_sign_ms"] = {
            "http_task_kms": ours_prep,
            "botocore": peer_prep,
            "ratio": round(ours_prep / peer_prep, 2),
        }

        def round_trip() -> None:
            assert client.send(client.prepare(compiled, params)).ok

        def botocore_round_trip() -> None:
            botocore_kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=text)

        trips = max(50, rounds // 3)
        ours_rt, peer_rt = _median_ms(round_trip, trips), _median_ms(botocore_round_trip, trips)
        report["round_trip_ms"] = {
            "http_task_kms": ours_rt,
            "botocore": peer_rt,
            "ratio": round(ours_rt / peer_rt, 2),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
