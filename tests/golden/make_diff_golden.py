"""Write ``diff_golden.json.gz``: the exact output of the policy diff and the access diff.

The golden file holds pairs of policies and what the code answered for them, as the JSON
text a result shows (key order included): :func:`~http_task_kms.kms.policy.diff.diff_policies`
(``model_dump()``: the result's ``diff`` and ``changed``),
:func:`~http_task_kms.kms.policy.diff.normalise_policy` of the new policy (what the
verification compares), and :func:`~http_task_kms.kms.policy.access.access_diff`'s
``as_json()`` (the result's ``access``) — or the error each raised (its type and message).
``tests/test_diff_golden.py`` holds the implementation to it, so that a change meant to make
the diffs faster cannot change what they say.

Inputs (each pair once; a policy is JSON text, a string, or else the parsed object itself):

- ``recorded``: every distinct input the test suite gave the two diffs (recorded with
  ``--record``: ``tests/test_policy_diff.py``, ``tests/test_access_diff.py``,
  ``tests/test_verify.py``, ``tests/test_safety_integration.py``), each with its key ARN;
- the corpus: every policy in ``tests/policies`` and ``examples/`` against every other
  (and against no policy, for the access diff), each pair with one of :data:`KEY_ARNS`;
- edits: each policy of the corpus against variants of itself (:func:`variants`:
  statements added, removed, reordered, re-Sid'd; principals, actions, resources and
  conditions changed; Deny, NotPrincipal, NotAction, NotResource, wildcards), both ways;
- seeded pairs from the linter's golden generator (``make_policy_golden._document``:
  real and broken shapes), each against a variant of itself and against the next one;
- the benchmarks' pairs: ``policy_2kb(counter=r)`` against ``counter=r + 1`` (and the
  2 KB and 32 KB policies of ``bench_lint``).

Run ``python tests/golden/make_diff_golden.py`` to recompute every answer with the code as
it is (keeping the recorded inputs): only when the diffs' output is meant to change, and
say why in the commit. ``--record`` first re-records the suite's inputs (with the code as
it is, which must be the code whose output the file pins).
"""

from __future__ import annotations

import copy
import gzip
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT_DIR = HERE.parents[1]
GOLDEN = HERE / "diff_golden.json.gz"
ACCOUNT = "111122223333"
OTHER = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARNS = (
    None,
    KEY_ARN,
    f"arn:aws:kms:us-east-1:{OTHER}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
)
RECORDED_TESTS = (
    "tests/test_policy_diff.py",
    "tests/test_access_diff.py",
    "tests/test_verify.py",
    "tests/test_safety_integration.py",
)


def _import(folder: Path, *names: str) -> list[Any]:
    sys.path.insert(0, str(folder))
    try:
        return [__import__(name) for name in names]
    finally:
        sys.path.remove(str(folder))


# -- the corpus -------------------------------------------------------------------------------


def _policies_in(value: Any) -> Iterator[Any]:
    """Every ``Policy`` value inside an example file (an object or JSON text)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Policy" and isinstance(item, (dict, str)):
                yield item
            else:
                yield from _policies_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _policies_in(item)


def corpus() -> list[str]:
    """The texts of every policy in ``tests/policies`` (broken ones too) and ``examples/``."""
    texts = [
        path.read_text(encoding="utf-8") for path in sorted((ROOT_DIR / "tests/policies").glob("*.json"))
    ]
    for path in sorted((ROOT_DIR / "examples").glob("*.json")):
        for policy in _policies_in(json.loads(path.read_text(encoding="utf-8"))):
            texts.append(policy if isinstance(policy, str) else json.dumps(policy, indent=2))
    return texts


# -- edits ------------------------------------------------------------------------------------

EXTRA_STATEMENTS: list[dict[str, Any]] = [
    {
        "Sid": "New",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/New"},
        "Action": ["kms:Decrypt", "kms:Encrypt"],
        "Resource": "*",
    },
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    },
    {"Sid": "DenyAll", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"},
    {
        "Sid": "NP",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": [ROOT, f"arn:aws:iam::{ACCOUNT}:role/Admin"]},
        "Action": "kms:*",
        "Resource": "*",
    },
    {
        "Sid": "NPc",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": ROOT},
        "Action": "kms:Put*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc"}},
    },
    {
        "Sid": "AllowNP",
        "Effect": "Allow",
        "NotPrincipal": {"AWS": OTHER},
        "Action": "kms:Get*",
        "Resource": "*",
    },
    {
        "Sid": "NA",
        "Effect": "Allow",
        "Principal": {"AWS": OTHER},
        "NotAction": ["kms:Put*", "kms:Schedule*"],
        "Resource": "*",
    },
    {
        "Sid": "NR",
        "Effect": "Allow",
        "Principal": {"Service": "logs.amazonaws.com"},
        "Action": "kms:Encrypt*",
        "NotResource": f"arn:aws:kms:us-east-1:{OTHER}:key/*",
    },
    {
        "Sid": "Svc",
        "Effect": "Allow",
        "Principal": {"Service": ["cloudtrail.amazonaws.com"]},
        "Action": "kms:GenerateDataKey*",
        "Resource": KEY_ARN,
        "Condition": {
            "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:1:trail/*"}
        },
    },
    {
        "Sid": "Wild",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "*",
        "Resource": "arn:aws:kms:*:*:key/*",
        "Condition": {
            "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": ["ec2.us-east-1.amazonaws.com"]}
        },
    },
    {
        "Effect": "Allow",
        "Principal": {"AWS": [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/u"]},
        "Action": "KMS:decrypt",
        "Resource": ["*"],
        "Condition": {},
    },
    {
        "Sid": "Grant",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/App"},
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}},
    },
    {
        "Sid": "Fed",
        "Effect": "Allow",
        "Principal": {
            "Federated": "cognito-identity.amazonaws.com",
            "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        },
        "Action": "kms:Describe?ey",
        "Resource": "arn:*",
    },
    {
        "Sid": "DenyRole",
        "Effect": "Deny",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/App"},
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": 3600}},
    },
    {
        "Sid": "DenyRoot",
        "Effect": "Deny",
        "Principal": {"AWS": ACCOUNT},
        "Action": "kms:ScheduleKeyDeletion",
        "Resource": "*",
    },
]

PRINCIPALS: list[Any] = [
    "*",
    {"AWS": "*"},
    {"AWS": ACCOUNT},
    {"AWS": [ROOT, ROOT, f"arn:aws:iam::{OTHER}:root"]},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/KeyAdmin"},
    {"Service": "logs.us-east-1.amazonaws.com"},
    {"AWS": [5, ROOT]},
    {"aws": ROOT},
]
ACTIONS: list[Any] = [
    "kms:*",
    "*",
    "kms:Get*",
    ["kms:Decrypt", "kms:encrypt", "kms:Decrypt"],
    "kms:CreateKey",
    ["kms:Create*", "kms:Describe*", "kms:Put*"],
    "s3:GetObject",
    "kms:?e*",
    5,
]
CONDITIONS: list[Any] = [
    {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
    {"StringEquals": {"KMS:CallerAccount": [ACCOUNT, ACCOUNT]}, "Bool": {"aws:SecureTransport": True}},
    {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:role/*", "x"]}},
    {"NumericLessThan": {"aws:EpochTime": 1.5}},
    {"StringEquals": "x"},
    {},
]


def _statements(document: Any) -> list[Any] | None:
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        return [statements]
    return statements if isinstance(statements, list) else None


def _edit(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One random edit of a policy (a deep copy; the original is left alone)."""
    edited = copy.deepcopy(document)
    statements = _statements(edited)
    if not statements or rng.random() < 0.15:
        edited["Statement"] = [*(statements or []), copy.deepcopy(rng.choice(EXTRA_STATEMENTS))]
        return edited
    edited["Statement"] = statements
    index = rng.randrange(len(statements))
    statement = statements[index]
    kind = rng.randrange(12)
    if kind == 0:
        del statements[index]
    elif kind == 1:
        rng.shuffle(statements)
    elif kind == 2:
        statements.insert(rng.randrange(len(statements) + 1), copy.deepcopy(rng.choice(EXTRA_STATEMENTS)))
    elif kind == 3:
        statements.append(copy.deepcopy(statement))  # a duplicate
    elif not isinstance(statement, dict):
        statements[index] = copy.deepcopy(rng.choice(EXTRA_STATEMENTS))
    elif kind == 4:
        statement["Sid"] = rng.choice(["Renamed", "", None, statement.get("Sid", "X"), 7])
    elif kind == 5:
        statement.pop("Principal", None)
        statement["NotPrincipal" if rng.random() < 0.3 else "Principal"] = copy.deepcopy(
            rng.choice(PRINCIPALS)
        )
    elif kind == 6:
        statement.pop("Action", None)
        statement["NotAction" if rng.random() < 0.3 else "Action"] = copy.deepcopy(rng.choice(ACTIONS))
    elif kind == 7:
        statement["Condition"] = copy.deepcopy(rng.choice(CONDITIONS))
    elif kind == 8:
        statement.pop("Condition", None)
        statement["Effect"] = "Deny" if statement.get("Effect") == "Allow" else "Allow"
    elif kind == 9:
        statement.pop("Resource", None)
        statement[rng.choice(["Resource", "NotResource"])] = rng.choice(
            ["*", KEY_ARN, ["arn:aws:s3:::b"], "arn:*"]
        )
    elif kind == 10:
        edited[rng.choice(["Version", "Id", "Extra"])] = rng.choice(["2008-10-17", "key-1", 5, None])
    else:
        reordered = list(statement.items())
        rng.shuffle(reordered)
        statements[index] = dict(reordered[::-1])
    return edited


def variants(document: dict[str, Any], rng: random.Random, count: int) -> list[dict[str, Any]]:
    """``count`` edited copies of a policy: one edit each, then some with two or three."""
    found = []
    for n in range(count):
        edited = _edit(document, rng)
        for _ in range(n % 3):
            edited = _edit(edited, rng)
        found.append(edited)
    return found


# -- the cases --------------------------------------------------------------------------------


def _case(before: Any, after: Any, key_arn: str | None) -> dict[str, Any]:
    """One input: each policy is JSON text (a string) or the parsed object itself."""
    return {"before": before, "after": after, "key_arn": key_arn}


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def generated() -> list[dict[str, Any]]:
    """Every input of the corpus, the edits, the seeded pairs and the benchmarks (seeded)."""
    rng = random.Random(15)
    texts = corpus()
    cases = []
    for i, before in enumerate(texts):
        cases.append(_case(None, before, KEY_ARNS[i % len(KEY_ARNS)]))
        for j, after in enumerate(texts):
            cases.append(_case(before, after, KEY_ARNS[(i + j) % len(KEY_ARNS)]))
    for i, text in enumerate(texts):
        document = _parse(text)
        if not isinstance(document, dict):
            continue
        for n, variant in enumerate(variants(document, rng, 14)):
            edited = json.dumps(variant, indent=rng.choice([None, 2]))
            key_arn = KEY_ARNS[(i + n) % len(KEY_ARNS)]
            cases += [_case(text, edited, key_arn), _case(edited, text, key_arn)]
        cases.append(_case(document, variants(document, rng, 1)[0], KEY_ARN))  # as objects
    (make_policy_golden,) = _import(HERE, "make_policy_golden")
    seeded = [make_policy_golden._document(rng) for _ in range(250)]
    for n, document in enumerate(seeded):
        text = json.dumps(document)
        key_arn = KEY_ARNS[n % len(KEY_ARNS)]
        cases.append(_case(text, json.dumps(_edit(document, rng)), key_arn))
        cases.append(_case(text, json.dumps(seeded[(n + 1) % len(seeded)]), key_arn))
    common, bench_lint = _import(ROOT_DIR / "bench", "common", "bench_lint")
    for r in range(6):
        before, after = (
            common.compact(common.policy_2kb(counter=r)),
            common.compact(common.policy_2kb(counter=r + 1)),
        )
        cases.append(_case(before, after, KEY_ARNS[r % 2]))
    cases.append(_case(bench_lint.policy_2kb(), bench_lint.policy_32kb(), None))
    cases.append(_case(bench_lint.policy_32kb(), bench_lint.policy_2kb(), KEY_ARN))
    return cases


def _outcome(run: Callable[[], Any]) -> str:
    """The JSON text of what ``run`` returned (keys in its order), or ``!Type: message``."""
    try:
        return json.dumps(run())
    except Exception as exc:  # the error is the answer pinned
        return f"!{type(exc).__name__}: {exc}"


def answer(case: dict[str, Any]) -> dict[str, str]:
    """What the diff, the normalisation (of ``after``) and the access diff say about one case."""
    from http_task_kms.kms.policy.access import access_diff
    from http_task_kms.kms.policy.diff import diff_policies, normalise_policy

    before, after = case["before"], case["after"]
    found = {"access": _outcome(lambda: access_diff(before, after, key_arn=case["key_arn"]).as_json())}
    if before is not None:
        found["diff"] = _outcome(lambda: diff_policies(before, after).model_dump())
        found["normalised"] = _outcome(lambda: normalise_policy(after))
    return found


def _unique(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for case in cases:
        key = json.dumps(case, sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(case)
    return kept


def read(path: Path = GOLDEN) -> dict[str, Any]:
    """The golden document (gzip-compressed JSON)."""
    return json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))


FIELDS = ("before", "after", "key_arn")


# -- recording the suite's inputs --------------------------------------------------------------


def record() -> list[dict[str, Any]]:
    """Run the tests of :data:`RECORDED_TESTS` with the two diffs wrapped; their distinct inputs."""
    import pytest

    from http_task_kms.kms.policy import access, diff

    found: list[dict[str, Any]] = []

    def keep(before: Any, after: Any, key_arn: Any) -> None:
        if key_arn is not None and not isinstance(key_arn, str):
            return
        try:
            case = _case(before, after, key_arn)
            text = json.dumps(case, allow_nan=False)
        except (TypeError, ValueError):
            return  # not JSON (a NaN, a set): no text of a result could hold it
        if len(text) > 40000 or json.loads(text) != case:
            return  # too big to keep, or not what JSON gives back (a tuple, a dict subclass)
        found.append(json.loads(text))  # as it was at the call (a test may change it later)

    original_diff, original_access = diff.diff_policies, access.access_diff

    def diff_policies(before: Any, after: Any) -> Any:
        keep(before, after, None)
        return original_diff(before, after)

    def access_diff(before: Any, after: Any, *, key_arn: str | None = None) -> Any:
        keep(before, after, key_arn)
        return original_access(before, after, key_arn=key_arn)

    diff.diff_policies, access.access_diff = diff_policies, access_diff  # type: ignore[assignment]
    for module in list(sys.modules.values()):
        if getattr(module, "diff_policies", None) is original_diff:
            module.diff_policies = diff_policies  # type: ignore[attr-defined]
    try:
        pytest.main(
            ["-q", "-p", "no:xdist", "-p", "no:cacheprovider", *(str(ROOT_DIR / t) for t in RECORDED_TESTS)]
        )
    finally:
        diff.diff_policies, access.access_diff = original_diff, original_access
    return _unique(found)


def main(argv: list[str]) -> None:
    """Rewrite the golden file (``--record``: re-record the suite's inputs first)."""
    recorded = record() if "--record" in argv else [{f: c[f] for f in FIELDS} for c in read()["recorded"]]
    made = generated()
    golden = {
        "recorded": [{**case, **answer(case)} for case in recorded],
        "generated": [{**case, **answer(case)} for case in _unique(made)],
    }
    text = json.dumps(golden, indent=0, separators=(",", ":")) + "\n"
    GOLDEN.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    print(
        f"wrote {GOLDEN}: {len(golden['recorded'])} recorded and {len(golden['generated'])} generated cases"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
