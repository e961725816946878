"""Write ``policy_golden.json.gz``: the exact output of the key-policy linter and lockout check.

The golden file holds inputs and what :func:`~http_task_kms.kms.policy.lint.lint_policy`
and :func:`~http_task_kms.kms.policy.lockout.check_lockout` answered for them: every
finding's severity, code, path and message, in order, and every verdict with its reason
and statements. ``tests/test_policy_golden.py`` holds the implementation to it, so that a
change meant to make the checks faster cannot change what they say.

Two sources of inputs:

- ``recorded``: every distinct input the test suite gave the two functions (recorded once,
  from the suite as it was when the file was first written: the corpus in
  ``tests/policies``, the examples, every rule's own tests, the property tests' draws),
  without the multi-kilobyte texts of the size tests;
- ``generated``: policies built by :func:`generate` (seeded) from the pieces real and broken
  key policies are made of, each linted with and without a key ARN and checked for several
  callers; and the benchmarks' policies (:func:`bench_inputs`).

Run ``python tests/golden/make_policy_golden.py`` to recompute every answer from the
inputs already in the file (and the generated ones) with the code as it is: only when the
checks' output is meant to change, and say why in the commit.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).with_name("policy_golden.json.gz")
ACCOUNT = "111122223333"
OTHER = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARNS = (None, KEY_ARN, f"arn:aws:kms:us-east-1:{OTHER}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
CALLERS = (
    f"arn:aws:sts::{ACCOUNT}:assumed-role/KeyAdmin/alice",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/App/i-0abc",
    f"arn:aws:iam::{ACCOUNT}:user/ci-deployer",
    f"arn:aws:iam::{ACCOUNT}:root",
    f"arn:aws:iam::{OTHER}:user/bob",
    f"arn:aws-cn:iam::{ACCOUNT}:root",
    f"arn:aws:sts::{ACCOUNT}:federated-user/fed",
)
_MISSING = object()
SIDS = [_MISSING, "A", "B", "Enable IAM User Permissions", 5, "", "A"]
EFFECTS = ["Allow", "Allow", "Allow", "Deny", "Deny", _MISSING, "allow", 1, None, "Permit"]
PRINCIPALS = [
    "*",
    {"AWS": "*"},
    {"AWS": ROOT},
    {"AWS": ROOT},
    {"AWS": ACCOUNT},
    {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin", f"arn:aws:iam::{ACCOUNT}:user/ci-deployer"]},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/KeyAdmin"},
    {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/KeyAdmin/alice"},
    {"AWS": f"arn:aws:iam::{OTHER}:root"},
    {"AWS": ["*", ROOT]},
    {"AWS": "12345"},
    {"AWS": "AROAEXAMPLEEXAMPLE12"},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:group/Admins"},
    {"AWS": "arn:aws:s3:::bucket"},
    {"AWS": 5},
    {"AWS": [5, ROOT]},
    {"Service": "logs.us-east-1.amazonaws.com"},
    {"Service": ["cloudtrail.amazonaws.com", "not a service"]},
    {"Federated": "cognito-identity.amazonaws.com"},
    {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    {"Aws": ROOT},
    {"AWS": ROOT, "Service": "logs.amazonaws.com"},
    {},
    [],
    "arn:aws:iam::111122223333:root",
    None,
]
ACTIONS = [
    "kms:*",
    "kms:*",
    "*",
    "kms:PutKeyPolicy",
    "kms:putkeypolicy",
    "kms:Put*",
    "kms:P?tKeyPolicy",
    ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
    ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*"],
    ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
    "kms:ReEncrypt",
    "kms:ReEncrypt*",
    "kms:CreateKey",
    "kms:Create*",
    "kms:Foo*",
    "kms:Decrpyt",
    "s3:GetObject",
    "s3:*",
    "*:*",
    "kms",
    "kms:a:b",
    ":Decrypt",
    5,
    [5, "kms:Decrypt"],
    [],
    ["kms:ListAliases", "kms:GenerateRandom"],
]
RESOURCES = [
    "*",
    "*",
    "*",
    KEY_ARN,
    f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*",
    "arn:aws:kms:*:*:key/*",
    f"arn:aws:kms:us-east-1:{OTHER}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:s3:::bucket",
    "arn:aws:kms:us-east-1:111122223333:alias/a",
    ["*", "arn:aws:s3:::bucket"],
    "arn:*",
    5,
    [],
    [5],
]
CONDITIONS: list[Any] = [
    _MISSING,
    _MISSING,
    _MISSING,
    {},
    {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
    {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*/KeyAdmin"}},
    {"ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:role/Other", "arn:aws:iam::*:role/B*"]}},
    {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
    {"StringNotEquals": {"aws:PrincipalAccount": [OTHER]}},
    {"StringEqualsIfExists": {"aws:PrincipalArn": "${aws:username}"}},
    {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
    {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc"}, "Bool": {"aws:PrincipalIsAWSService": "false"}},
    {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    {"Bool": {"kms:GrantIsForAWSResource": True}},
    {"StringEqulas": {"kms:CallerAccount": ACCOUNT}},
    {"StringEquals": "x"},
    {"StringEquals": {"kms:CallerAccount": {"a": 1}}},
    {"StringEquals": {"aws:ResourceTag/team": "x"}},
    {"StringEquals": {"kms:ResourceAliases": "alias/a"}},
    {"StringEquals": {"kms:Unknown": "x"}},
    {"StringEquals": {"kms:callerAccount": ACCOUNT}},
    {"StringLike": {"s3:prefix": "x"}},
    {"StringLike": {"nocolon": "x"}},
    {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "a*"}},
    {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}},
    {"NullIfExists": {"kms:CallerAccount": "true"}},
    {"Null": {"kms:EncryptionContext:aws:logs:arn": "false"}},
    {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:111122223333:*"}},
    {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
    {"StringLike": {"aws:PrincipalArn": "*"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringEquals": {"kms:CallerAccount": "*"}},
    5,
    "x",
]
EXTRAS = [("Foo", 1), ("action", "kms:*"), ("Principals", "*")]


def _pick(rng: random.Random, pool: list[Any]) -> Any:
    return rng.choice(pool)


def _statement(rng: random.Random) -> Any:
    if rng.random() < 0.03:
        return rng.choice(["a string", 5, None, ["list"]])
    statement: dict[str, Any] = {}
    for element, pool in (("Sid", SIDS), ("Effect", EFFECTS)):
        value = _pick(rng, pool)
        if value is not _MISSING:
            statement[element] = value
    for positive, negative, pool, keep in (
        ("Principal", "NotPrincipal", PRINCIPALS, 0.9),
        ("Action", "NotAction", ACTIONS, 0.93),
        ("Resource", "NotResource", RESOURCES, 0.93),
    ):
        roll = rng.random()
        if roll < keep * 0.88:
            statement[positive] = _pick(rng, pool)
        elif roll < keep:
            statement[negative] = _pick(rng, pool)
        if rng.random() < 0.03:
            statement[positive if negative in statement else negative] = _pick(rng, pool)
    condition = _pick(rng, CONDITIONS)
    if condition is not _MISSING:
        statement["Condition"] = condition
    if rng.random() < 0.05:
        key, value = rng.choice(EXTRAS)
        statement[key] = value
    keys = list(statement)
    if rng.random() < 0.2:
        rng.shuffle(keys)
    return {key: statement[key] for key in keys}


def _document(rng: random.Random) -> Any:
    statements = [_statement(rng) for _ in range(rng.choice([1, 1, 2, 2, 3, 4, 6]))]
    document: dict[str, Any] = {}
    version = rng.choice(["2012-10-17"] * 6 + [_MISSING, "2008-10-17", "2012-10-18", 2012])
    if version is not _MISSING:
        document["Version"] = version
    if rng.random() < 0.1:
        document["Id"] = rng.choice(["key-default-1", 5])
    if rng.random() < 0.06:
        document["Statement"] = statements[0]
    elif rng.random() < 0.03:
        document["Statement"] = rng.choice([[], {}, "x", 5])
    else:
        document["Statement"] = statements
    if rng.random() < 0.03:
        document["Statment"] = []
    return document


def generate(count: int = 700, seed: int = 15) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Lint and lockout inputs for ``count`` seeded policies (every key ARN; some callers each)."""
    rng = random.Random(seed)
    lints: list[dict[str, Any]] = []
    lockouts: list[dict[str, Any]] = []
    for _ in range(count):
        document = _document(rng)
        text = json.dumps(document, indent=rng.choice([None, 2]))
        for key_arn in KEY_ARNS:
            lints.append(
                {
                    "text": text,
                    "key_arn": key_arn,
                    "max_bytes": 32768,
                    "allow_unmanageable_key": rng.random() < 0.2,
                    "allow_public_principal": rng.random() < 0.2,
                }
            )
        for caller in rng.sample(CALLERS, 3):
            lockouts.append({"policy": document, "caller_arn": caller, "key_arn": rng.choice(KEY_ARNS)})
    return lints, lockouts


def bench_inputs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The benchmarks' policies (``bench/``: the 2 KB and 32 KB ones, and ``policy_2kb`` with a counter)."""
    bench = Path(__file__).resolve().parents[2] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import bench_lint  # the benchmarks are no package: imported from their folder
        import common
    finally:
        sys.path.remove(str(bench))
    documents = [json.loads(bench_lint.policy_2kb()), json.loads(bench_lint.policy_32kb())]
    documents += [common.policy_2kb(counter=n) for n in range(3)]
    lints = [
        {
            "text": json.dumps(document, indent=2 if n < 2 else None),
            "key_arn": key_arn,
            "max_bytes": 32768,
            "allow_unmanageable_key": False,
            "allow_public_principal": False,
        }
        for n, document in enumerate(documents)
        for key_arn in KEY_ARNS
    ]
    lockouts = [
        {"policy": document, "caller_arn": caller, "key_arn": key_arn}
        for document in documents
        for caller in (*CALLERS, common.ADMIN_ARN)
        for key_arn in KEY_ARNS[:2]
    ]
    return lints, lockouts


def lint_answer(case: dict[str, Any]) -> list[list[str]]:
    """What ``lint_policy`` says about one lint input: [severity, code, path, message] lists."""
    from http_task_kms.kms.policy.lint import lint_policy

    findings = lint_policy(
        case["text"],
        key_arn=case["key_arn"],
        max_bytes=case["max_bytes"],
        allow_unmanageable_key=case["allow_unmanageable_key"],
        allow_public_principal=case["allow_public_principal"],
    )
    return [[f.severity, f.code, f.path, f.message] for f in findings]


def lockout_answer(case: dict[str, Any]) -> dict[str, Any]:
    """What ``check_lockout`` says about one lockout input."""
    from http_task_kms.kms.policy.lockout import check_lockout

    result = check_lockout(case["policy"], caller_arn=case["caller_arn"], key_arn=case["key_arn"])
    return {"verdict": result.verdict, "reason": result.reason, "statements": list(result.statements)}


def _unique(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for case in cases:
        key = json.dumps(case, sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(case)
    return kept


def build(recorded_lints: list[dict[str, Any]], recorded_lockouts: list[dict[str, Any]]) -> dict[str, Any]:
    """The golden document: every input with its answer."""
    generated_lints, generated_lockouts = generate()
    bench_lints, bench_lockouts = bench_inputs()
    all_lints = _unique(recorded_lints + generated_lints + bench_lints)
    all_lockouts = _unique(recorded_lockouts + generated_lockouts + bench_lockouts)
    lints = [{**case, "findings": lint_answer(case)} for case in all_lints]
    lockouts = [{**case, **lockout_answer(case)} for case in all_lockouts]
    return {"lint": lints, "lockout": lockouts}


def read(path: Path = GOLDEN) -> dict[str, Any]:
    """The golden document (gzip-compressed JSON: its messages repeat, so it is 10 times smaller)."""
    return json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))


def _inputs(golden: dict[str, Any], kind: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{field: case[field] for field in fields} for case in golden[kind]]


LINT_FIELDS = ("text", "key_arn", "max_bytes", "allow_unmanageable_key", "allow_public_principal")
LOCKOUT_FIELDS = ("policy", "caller_arn", "key_arn")


def main(argv: list[str]) -> None:
    """Rewrite the golden file (``--recorded DIR``: take the recorded inputs from JSON-lines files)."""
    if argv[:1] == ["--recorded"]:
        records = [
            json.loads(line)
            for path in sorted(Path(argv[1]).glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
        ]
        lints = [
            {field: r[field] for field in LINT_FIELDS}
            for r in records
            if r["kind"] == "lint" and len(r["text"]) <= 3000
        ]
        lockouts = [{field: r[field] for field in LOCKOUT_FIELDS} for r in records if r["kind"] == "lockout"]
    else:
        old = read()
        made = (*generate(), *bench_inputs())
        generated = {json.dumps(c, sort_keys=True) for cases in made for c in cases}
        lints = _inputs(old, "lint", LINT_FIELDS)
        lints = [c for c in lints if json.dumps(c, sort_keys=True) not in generated]
        lockouts = _inputs(old, "lockout", LOCKOUT_FIELDS)
        lockouts = [c for c in lockouts if json.dumps(c, sort_keys=True) not in generated]
    golden = build(lints, lockouts)
    text = json.dumps(golden, indent=0, separators=(",", ":")) + "\n"
    GOLDEN.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"wrote {GOLDEN}: {len(golden['lint'])} lint and {len(golden['lockout'])} lockout cases")


if __name__ == "__main__":
    main(sys.argv[1:])
