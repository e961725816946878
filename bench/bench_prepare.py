"""In process: render + every check + sign one PutKeyPolicy, against boto3's client path and
bare botocore signing, interleaved in one process.

Run: ``python bench/bench_prepare.py [--quick] [--rounds N] [--profile]``.

Every call gets a DIFFERENT ~2 KB policy (a counter in one Sid and one role name: nothing can
be memoised away), the same one for every contender in a round:

- ours: the public Python API — ``Client(...).prepare(compiled, params)`` (render, the
  template's schema, the KMS plugin's lint, the lockout and cross-account checks with the
  caller ARN given, the preflight with nothing to fetch, the checks again with its facts),
  then the outgoing request signed by the client's (destination-guarded) SigV4 signer;
- boto3: ``kms.put_key_policy(...)`` on a boto3 client, the network cut at ``before-send``
  (a handler answers an empty 200 ``AWSResponse``): parameter validation, serialisation,
  endpoint resolution, signing, response parsing;
- bare: botocore's ``AWSRequest`` + ``SigV4Auth.add_auth`` + ``.prepare()`` of the body
  (``json.dumps`` of the three members included).

Nothing is sent: every endpoint is ``http://127.0.0.1:9/`` (the discard port), so even a
mistake could not leave the machine. Targets (issue 15): ours ≤ 2.5x bare; boto3 / ours ≥ 1.5.
``--profile`` prints a pyinstrument profile of ours on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from common import (
    ADMIN_ARN,
    Row,
    Target,
    compact,
    interleave,
    parser,
    policy_2kb,
    profile,
    report,
    require,
)

ENDPOINT = "http://127.0.0.1:9/"  # the discard port: nothing is sent, and nothing could leave
REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ACCESS_KEY = "AKIDBENCHEXAMPLE0001"
SECRET_KEY = "bench/secret+key/0123456789abcdefghijklm"
TARGET = "TrentService.PutKeyPolicy"


def ours_contender(policies: Callable[[int], dict[str, Any]]) -> Callable[[int], None]:
    """Our public API: prepare (render + every check, caller given) and sign the outgoing request."""
    from botocore.credentials import Credentials

    from http_task_kms import Client, Options
    from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer

    signer = SigV4Signer(AwsCredentials(credentials=Credentials(ACCESS_KEY, SECRET_KEY)))
    client = Client(
        Options(region=REGION, endpoint_url=ENDPOINT, plugin_options={"caller_arn": ADMIN_ARN}),
        signer=signer,
    )
    compiled = client.compiled_template("kms.PutKeyPolicy")

    def ours(r: int) -> None:
        prepared = client.prepare(compiled, {"KeyId": KEY_ID, "Policy": policies(r)})
        out = client.outgoing(prepared)
        headers = client.signer_for(prepared.credentials_type).sign(
            out.method, out.url, out.headers, out.body, service=out.service, region=out.region
        )
        require("Authorization" in headers, "ours: the request is not signed")
        require(f"change-{r}".encode() in out.body, "ours: the body is not this round's policy")

    return ours


class _EmptyBody:
    """What ``AWSResponse`` reads a body from."""

    def stream(self, **_: Any) -> Any:
        return iter([b""])


def boto3_contender(texts: Callable[[int], str]) -> Callable[[int], None]:
    """boto3's put_key_policy, the network cut at before-send (an empty 200 answer)."""
    import boto3
    from botocore.awsrequest import AWSResponse

    kms = boto3.session.Session().client(
        "kms",
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    seen: list[Any] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        seen.append(request)
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "bench"}, _EmptyBody())

    kms.meta.events.register("before-send.kms.PutKeyPolicy", answer)

    def boto3_path(r: int) -> None:
        kms.put_key_policy(KeyId=KEY_ID, PolicyName="default", Policy=texts(r))
        request = seen.pop()
        require("Authorization" in request.headers, "boto3: the request is not signed")
        require(f"change-{r}".encode() in request.body, "boto3: the body is not this round's policy")

    return boto3_path


def bare_contender(texts: Callable[[int], str]) -> Callable[[int], None]:
    """botocore's AWSRequest + SigV4Auth.add_auth + prepare()."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", REGION)

    def bare(r: int) -> None:
        body = json.dumps({"KeyId": KEY_ID, "PolicyName": "default", "Policy": texts(r)})
        request = AWSRequest(
            method="POST",
            url=ENDPOINT,
            data=body.encode(),
            headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
        )
        auth.add_auth(request)
        prepared = request.prepare()
        require("Authorization" in prepared.headers, "bare: the request is not signed")

    return bare


def main() -> None:
    """Time the three contenders interleaved; print the table (two rows with targets)."""
    cli = parser(__doc__)
    cli.add_argument("--rounds", type=int, help="calls per contender (default 2000, --quick 50)")
    cli.add_argument("--profile", action="store_true", help="a pyinstrument profile of ours (stderr)")
    args = cli.parse_args()
    rounds = args.rounds or (50 if args.quick else 2000)
    warmup = 10 if args.quick else 100
    # Inputs made before timing: round r (and warm-up call -1 - i) has its own policy.
    documents = {r: policy_2kb(counter=r) for r in range(-warmup, rounds)}
    texts = {r: compact(document) for r, document in documents.items()}
    contenders = {
        "ours": ours_contender(documents.__getitem__),
        "boto3 put_key_policy": boto3_contender(texts.__getitem__),
        "bare botocore": bare_contender(texts.__getitem__),
    }
    stats = interleave(contenders, rounds, warmup=warmup)
    size = sum(len(t) for t in texts.values()) / len(texts)
    what = "render + every check + sign one PutKeyPolicy, in process"
    note = f"{size:.0f}-byte policy, new per call, lockout check on"
    rows = [
        Row(
            "prepare", what, stats["ours"], stats["bare botocore"], "ms", "ours/peer", Target(2.5, True), note
        ),
        Row(
            "prepare",
            what,
            stats["ours"],
            stats["boto3 put_key_policy"],
            "ms",
            "peer/ours",
            Target(1.5, False),
            note,
        ),
    ]
    details = [
        f"- {rounds} calls per contender after {warmup} warm-up calls, interleaved; "
        "bare = botocore AWSRequest + SigV4Auth.add_auth + prepare(); "
        "boto3 = put_key_policy with the network cut at before-send",
    ]
    report("bench_prepare: render + check + sign in process", rows, quick=args.quick, details=details)
    if args.profile:
        extra = {r: policy_2kb(counter=r) for r in range(rounds, 2 * rounds)}
        ours = ours_contender(extra.__getitem__)
        counter = iter(range(rounds, 2 * rounds))
        profile(lambda: ours(next(counter)), rounds, title="ours: prepare + sign")


if __name__ == "__main__":
    main()
