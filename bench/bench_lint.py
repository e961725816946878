"""The cost of linting one key policy: a ~2 KB policy and a realistic ~32 KB one.

Run: ``python bench/bench_lint.py [--rounds N] [--quick]``. Prints the median of ``lint_policy`` (the
offline lint that ``lint-policy``, ``render`` and ``test-request`` run on every PutKeyPolicy)
over ``N`` runs after a warm-up — of the same text again, and of ``N`` copies whose account
(so every principal and ARN) differs, which the memoised look-ups have not seen — for:

- 2 KB: the console's default key policy (root, key administrators, key users, grants for
  AWS resources) plus key-user statements up to 2,048 bytes;
- 32 KB: the same head, then many statements of the shapes real key policies have (key users
  with their own roles, service principals with ``aws:SourceArn`` / ``aws:SourceAccount`` and
  encryption-context conditions, ``kms:ViaService`` + ``kms:CallerAccount`` statements for
  ``"*"``, grants for AWS resources, conditioned Denies) up to just under 32,768 bytes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from common import ADMIN_ACTIONS, USE

ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def _median_ms(func: Callable[[], Any], rounds: int) -> float:
    for _ in range(min(20, rounds)):
        func()  # warm-up
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _head() -> list[dict[str, Any]]:
    """The console's default key policy for one administrator role and one user role."""
    role = f"arn:aws:iam::{ACCOUNT}:role"
    return [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Allow access for Key Administrators",
            "Effect": "Allow",
            "Principal": {"AWS": f"{role}/KeyAdmin"},
            "Action": ADMIN_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": {"AWS": f"{role}/App"},
            "Action": USE,
            "Resource": "*",
        },
        {
            "Sid": "Allow attachment of persistent resources",
            "Effect": "Allow",
            "Principal": {"AWS": f"{role}/App"},
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]


def _shape(i: int) -> dict[str, Any]:
    """The ``i``-th statement of the 32 KB policy: one of five real shapes, in turn."""
    region = ("us-east-1", "eu-west-1", "ap-southeast-2")[i % 3]
    log_group = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:group-{i}"
    shapes: list[dict[str, Any]] = [
        {
            "Sid": f"Allow use of the key by app {i}",
            "Effect": "Allow",
            "Principal": {
                "AWS": [
                    f"arn:aws:iam::{ACCOUNT}:role/team-{i}/app-{i}",
                    f"arn:aws:iam::{ACCOUNT}:user/deployer-{i}",
                ]
            },
            "Action": USE,
            "Resource": "*",
        },
        {
            "Sid": f"Allow CloudWatch Logs {i}",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_group}},
        },
        {
            "Sid": f"Allow access through EBS {i}",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [*USE, "kms:CreateGrant"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": f"ec2.{region}.amazonaws.com",
                    "kms:CallerAccount": ACCOUNT,
                }
            },
        },
        {
            "Sid": f"Allow CloudTrail {i}",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": f"arn:aws:cloudtrail:{region}:{ACCOUNT}:trail/t-{i}"},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"
                },
            },
        },
        {
            "Sid": f"Deny outside the organisation {i}",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"aws:PrincipalOrgID": f"o-{i:010d}"},
                "Bool": {"aws:PrincipalIsAWSService": "false"},
            },
        },
    ]
    return shapes[i % len(shapes)]


def _fill(statements: list[dict[str, Any]], limit: int, make: Callable[[int], dict[str, Any]]) -> str:
    """The policy text with statements from ``make`` added while it stays within ``limit`` bytes."""
    i = 0
    while True:
        candidate = [*statements, make(i)]
        text = json.dumps({"Version": "2012-10-17", "Statement": candidate}, indent=2)
        if len(text.encode()) > limit:
            return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
        statements, i = candidate, i + 1


def policy_2kb() -> str:
    """The console's default key policy plus key-user statements, up to 2 KB."""
    return _fill(_head(), 2048, lambda i: {**_shape(0), "Sid": f"Allow use of the key {i}"})


def policy_32kb() -> str:
    """A realistic policy just under the 32 KB quota: the head, then many real shapes."""
    return _fill(_head(), 32768 - 64, _shape)


def _variants(text: str, count: int) -> list[str]:
    """``count`` copies of ``text`` whose principals and ARNs differ (every memo misses once)."""
    return [text.replace(ACCOUNT, f"{100000000000 + n:012d}") for n in range(count)]


def _median_cold_ms(texts: list[str]) -> float:
    from http_task_kms.kms.policy.lint import lint_policy

    samples = []
    for text in texts:
        started = time.perf_counter()
        lint_policy(text)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    """Print the median lint time of the 2 KB and the 32 KB policy (same text; fresh principals)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="20 rounds: a smoke test (CI)")
    args = parser.parse_args()
    rounds = 20 if args.quick else args.rounds
    from http_task_kms.kms.policy.lint import lint_policy

    lint_policy(policy_2kb())  # load the IAM reference once
    for name, text in (("2 KB", policy_2kb()), ("32 KB", policy_32kb())):
        findings = lint_policy(text)
        statements = len(json.loads(text)["Statement"])
        same = _median_ms(lambda text=text: lint_policy(text), rounds)  # type: ignore[misc]
        fresh = _median_cold_ms(_variants(text, rounds))
        codes = sorted({f.code for f in findings}) or "none"
        print(
            f"lint {name:>5} ({len(text.encode())} bytes, {statements} statements): "
            f"{same:.3f} ms the same policy again, {fresh:.3f} ms a policy with fresh principals "
            f"(medians of {rounds}); findings: {codes}"
        )


if __name__ == "__main__":
    main()
