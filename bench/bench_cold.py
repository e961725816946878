"""One cold PutKeyPolicy from a fresh process to moto (signature check on), against the AWS CLI,
a minimal boto3 script and awscurl, alternating.

Run: ``python bench/bench_cold.py [--quick] [--rounds N] [--profile]`` (needs the ``bench``
extra: moto, awscli, awscurl, boto3).

moto's server runs in this process on 127.0.0.1 (``http_task_kms.kms.local.LocalKms``), with
an IAM user allowed ``kms:*`` and a key, its SigV4 check switched on. Each contender is a
fresh process with the same environment: that user's access key and ``AWS_ENDPOINT_URL``
(moto) in environment variables, HOME, the AWS config and credentials files and the cache
directory in a temporary directory (nothing of the machine's AWS setup), and the policy
(~2 KB, different on every run) in a file:

- ours: ``http-task-kms test-request kms.PutKeyPolicy --input FILE`` — its whole preflight
  (sts:GetCallerIdentity for the lockout check, GetKeyPolicy for the backup and diff), the
  backup file, PutKeyPolicy and the verification: once with the default verification (2
  reads 0.5 s apart) and once with ``--verify-interval 0`` (the target's: no wait between
  the reads);
- aws CLI (v1): ``aws kms put-key-policy --key-id K --policy-name default --policy file://FILE``;
- boto3: ``python -c`` a three-line script (``boto3.client("kms").put_key_policy(...)``);
- awscurl: ``awscurl --service kms -X POST -H X-Amz-Target… -d @BODY --fail-with-body URL``.

Every run must exit 0, and the policy it wrote is then read back (GetKeyPolicy, signed, from
this process, outside the timing) and must be the one it sent. One warm-up run of each
first, none with ``--quick`` (the disk cache, our parsed-spec cache in the temporary cache
directory). Targets (issue 15), on ``--verify-interval 0``: ours ≤ 0.5x the aws CLI, ≤ 1.0x awscurl.
``--profile`` runs ours once more under pyinstrument and prints its profile on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    Row,
    Target,
    compact,
    interleave,
    isolated_env,
    need,
    parser,
    policy_2kb,
    report,
)

REGION = "us-east-1"
BOTO3_SCRIPT = (
    "import sys, boto3\n"
    "policy = open(sys.argv[2], encoding='utf-8').read()\n"
    "boto3.client('kms').put_key_policy(KeyId=sys.argv[1], PolicyName='default', Policy=policy)\n"
)


class Workspace:
    """The temporary directory: policy files, backups, HOME; a fresh policy per run."""

    def __init__(self, root: Path, account: str, admin_arn: str, key_id: str) -> None:
        self.root, self.account, self.admin_arn, self.key_id = root, account, admin_arn, key_id
        self.backups = root / "backups"
        self.counter = 0
        self.sent = ""

    def next_policy(self) -> dict[str, Any]:
        """A policy no run has sent before; remembered as the one to find after the run."""
        self.counter += 1
        policy = policy_2kb(self.account, self.admin_arn, counter=self.counter)
        self.sent = compact(policy)
        return policy

    def write(self, name: str, content: str) -> Path:
        """A file of this run."""
        path = self.root / name
        path.write_text(content, encoding="utf-8")
        return path


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise SystemExit(
            f"{Path(argv[0]).name} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def contenders(space: Workspace, url: str, env: dict[str, str]) -> dict[str, Callable[[], None]]:
    """Each contender: write this run's policy to a file, then run the fresh process."""
    tools = need("http-task-kms", "aws", "awscurl")
    key = space.key_id

    def ours(*options: str) -> Callable[[], None]:
        def run() -> None:
            params = {"KeyId": key, "Policy": space.next_policy()}
            file = space.write("input.json", json.dumps(params))
            argv = [tools["http-task-kms"], "test-request", "kms.PutKeyPolicy", "--input", str(file)]
            _run([*argv, "--backup-dir", str(space.backups), *options], env)

        return run

    def aws_cli() -> None:
        file = space.write("policy.json", compact(space.next_policy()))
        _run(
            [
                tools["aws"],
                "kms",
                "put-key-policy",
                "--key-id",
                key,
                "--policy-name",
                "default",
                "--policy",
                f"file://{file}",
            ],
            env,
        )

    def boto3_script() -> None:
        file = space.write("policy.json", compact(space.next_policy()))
        _run([sys.executable, "-c", BOTO3_SCRIPT, key, str(file)], env)

    def awscurl() -> None:
        policy = compact(space.next_policy())
        body = space.write("body.json", json.dumps({"KeyId": key, "PolicyName": "default", "Policy": policy}))
        _run(
            [
                tools["awscurl"],
                "--service",
                "kms",
                "--region",
                REGION,
                "-X",
                "POST",
                "-H",
                "X-Amz-Target: TrentService.PutKeyPolicy",
                "-H",
                "Content-Type: application/x-amz-json-1.1",
                "-d",
                f"@{body}",
                "--fail-with-body",
                url,
            ],
            env,
        )

    return {
        "ours, default verification": ours(),
        "ours --verify-interval 0": ours("--verify-interval", "0"),
        "aws CLI": aws_cli,
        "boto3 script": boto3_script,
        "awscurl": awscurl,
    }


def read_back(kms: Any, key_id: str) -> Callable[[], str]:
    """The key's policy as moto shows it (GetKeyPolicy, signed as the admin)."""

    def read() -> str:
        found: str = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        return found

    return read


def main() -> None:
    """Start moto, run the contenders interleaved, check each run, print the table."""
    cli = parser(__doc__)
    cli.add_argument("--rounds", type=int, help="runs per contender (default 15, --quick 1)")
    cli.add_argument(
        "--profile", action="store_true", help="a pyinstrument profile of one run of ours (stderr)"
    )
    args = cli.parse_args()
    rounds = args.rounds or (1 if args.quick else 15)
    warmup = 0 if args.quick else 1
    need("http-task-kms", "aws", "awscurl")
    from http_task_kms.kms.local import LocalKms
    from http_task_kms.kms.policy.diff import normalise_policy

    with LocalKms(region=REGION) as local, tempfile.TemporaryDirectory(prefix="bench-cold-") as directory:
        admin = local.create_admin("bench-admin")
        key_id = local._client("kms").create_key()["KeyMetadata"]["KeyId"]
        local.require_signatures()
        kms = local._client("kms", (admin.access_key_id, admin.secret_access_key))
        space = Workspace(Path(directory), admin.arn.split(":")[4], admin.arn, key_id)
        env = isolated_env(
            Path(directory) / "home",
            AWS_ACCESS_KEY_ID=admin.access_key_id,
            AWS_SECRET_ACCESS_KEY=admin.secret_access_key,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_ENDPOINT_URL=local.url,
        )
        current = read_back(kms, key_id)

        def written(name: str) -> None:
            if normalise_policy(current()) != normalise_policy(space.sent):
                raise SystemExit(f"{name}: the policy read back is not the one it sent")

        runs = contenders(space, local.url, env)
        stats = interleave(
            {name: _ignore_round(run) for name, run in runs.items()}, rounds, warmup=warmup, after=written
        )
        if args.profile:
            _profile(space, env)
    ours, ours0 = stats["ours, default verification"], stats["ours --verify-interval 0"]
    what = "one cold PutKeyPolicy from a fresh process to moto (SigV4 on), preflight included"
    rows = [
        Row("cold", what, ours0, stats["aws CLI"], "s", "ours/peer", Target(0.5, True)),
        Row("cold", what, ours0, stats["awscurl"], "s", "ours/peer", Target(1.0, True)),
        Row("cold", what, ours0, stats["boto3 script"], "s", "ours/peer"),
        Row(
            "cold", what, ours, stats["aws CLI"], "s", "ours/peer", note="default verification: a 0.5 s wait"
        ),
        Row(
            "cold", what, ours, stats["awscurl"], "s", "ours/peer", note="default verification: a 0.5 s wait"
        ),
    ]
    details = [
        f"- {rounds} run(s) per contender after {warmup} warm-up run(s) each, interleaved; "
        "every run exited 0 and its policy was read back from moto (untimed)",
        "- ours makes 5 requests (GetCallerIdentity, GetKeyPolicy, PutKeyPolicy, 2 GetKeyPolicy "
        "reads) and writes a backup file; the peers make 1",
    ]
    report("bench_cold: one PutKeyPolicy from a fresh process", rows, quick=args.quick, details=details)


def _ignore_round(run: Callable[[], None]) -> Callable[[int], None]:
    return lambda _: run()


def _profile(space: Workspace, env: dict[str, str]) -> None:
    """One run of ours (``--verify-interval 0``) under pyinstrument, its text report on stderr."""
    tools = need("http-task-kms")
    params = {"KeyId": space.key_id, "Policy": space.next_policy()}
    file = space.write("input.json", json.dumps(params))
    argv = [
        sys.executable,
        "-m",
        "pyinstrument",
        "--renderer",
        "text",
        "--interval",
        "0.0002",
        "-o",
        str(space.root / "profile.txt"),
        tools["http-task-kms"],
        "test-request",
        "kms.PutKeyPolicy",
        "--input",
        str(file),
        "--backup-dir",
        str(space.backups),
        "--verify-interval",
        "0",
    ]
    _run(argv, env)
    print("# profile: one cold run of ours (--verify-interval 0)", file=sys.stderr)
    print((space.root / "profile.txt").read_text(encoding="utf-8"), file=sys.stderr)


if __name__ == "__main__":
    main()
