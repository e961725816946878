"""Start-up: a fresh ``http-task-kms --help`` and ``http-task-kms templates`` against ``python -c pass``.

Run: ``python bench/bench_startup.py [--quick] [--rounds N] [--profile]``.

Each is a fresh process of the venv's own console script (its ``python`` for ``-c pass``),
interleaved round by round, with HOME and the cache directory in a temporary directory (one
warm-up run each first, none with ``--quick``: ``templates`` fills our parsed-spec cache
there, as any second run on a machine finds it). Reported as the difference of medians
over ``python -c pass``. Target (issue 15): ``--help`` ≤ +0.10 s. Also shown: how many
modules each imports (``python -X importtime``, beyond ``python -c pass``'s) and which of
botocore, requests, jsonschema, pydantic, yaml, jsonata and click are among them.
``--profile``: the 15 slowest imports (cumulative) of each command, from ``-X importtime``.
Also timed, in the same rounds: the ladder under a cold Test request — each rung a fresh
process that imports a little more (the command line and entry points, pydantic,
botocore.session and requests, our own modules) up to ``render kms.PutKeyPolicy`` (every
check, signed with fixed test credentials, nothing sent), each against ``python -c pass``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import Row, Target, interleave, isolated_env, need, parser, report

HEAVY = ("botocore", "requests", "jsonschema", "pydantic", "yaml", "jsonata", "click")
#: What a cold Test request cannot do without, imported alone: the command line and plugins
#: (click, pluggy and the entry-point scan), the models (pydantic), botocore's credential chain
#: and configuration (botocore.session) and the HTTP client (requests) — the floor of
#: bench_cold's "ours", to read against its peers' whole runs.
LIBRARIES = (
    "import click, pluggy, importlib.metadata, pydantic, botocore.session, requests; pydantic.BaseModel"
)


def commands() -> dict[str, list[str]]:
    """The contenders' command lines."""
    script = need("http-task-kms")["http-task-kms"]
    return {
        "--help": [script, "--help"],
        "templates": [script, "templates"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }


_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


OURS = "import http_task_kms.client, http_task_kms.cli"


def ladder(directory: Path) -> dict[str, list[str]]:
    """The rungs under a cold Test request, each a fresh process importing a little more."""
    script = need("http-task-kms")["http-task-kms"]
    given = directory / "input.json"
    given.write_text(json.dumps({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Policy": _POLICY}))
    python = [sys.executable, "-c"]
    return {
        "python -c pass": [*python, "pass"],
        "+ click, pluggy, importlib.metadata": [*python, "import click, pluggy, importlib.metadata"],
        "+ pydantic": [*python, "import click, pluggy, importlib.metadata, pydantic; pydantic.BaseModel"],
        "+ botocore.session, requests (the libraries alone)": [*python, LIBRARIES],
        "+ our modules (http_task_kms.client, .cli)": [*python, OURS],
        "render kms.PutKeyPolicy (every check, signed, nothing sent)": [
            script, "render", "kms.PutKeyPolicy", "--input", str(given), "--region", "us-east-1",
            "--caller-arn", "arn:aws:iam::111122223333:root",
        ],
    }  # fmt: skip


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{argv[1:]} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stderr


def imports(argv: list[str], env: dict[str, str]) -> list[tuple[str, int]]:
    """(module, cumulative µs) of every module the command imports (``-X importtime``)."""
    # The console script is a Python file: run it with the same interpreter, with -X importtime.
    command = [sys.executable, "-X", "importtime", *(argv[1:] if argv[0] == sys.executable else argv)]
    found = []
    for line in _run(command, env).splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            found.append((name.strip(), int(cumulative)))
    return found


def _process(argv: list[str], env: dict[str, str]) -> Callable[[int], None]:
    def run(_: int) -> None:
        _run(argv, env)

    return run


def main() -> None:
    """Time the fresh processes interleaved, count their imports, print the table."""
    cli = parser(__doc__)
    cli.add_argument("--rounds", type=int, help="runs per command (default 20, --quick 2)")
    cli.add_argument("--profile", action="store_true", help="the slowest imports of each command (stderr)")
    args = cli.parse_args()
    rounds = args.rounds or (1 if args.quick else 20)
    warmup = 0 if args.quick else 1
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as directory:
        # Fixed test credentials: render signs (so the credential chain runs) and sends nothing.
        home = Path(directory) / "home"
        env = isolated_env(home, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="x")
        argvs = commands()
        rungs = {name: argv for name, argv in ladder(Path(directory)).items() if name not in argvs}
        every = {**argvs, **rungs}
        stats = interleave({name: _process(argv, env) for name, argv in every.items()}, rounds, warmup=warmup)
        modules = {name: imports(argv, env) for name, argv in argvs.items()}
    baseline = {name for name, _ in modules["python -c pass"]}
    details = [f"- {rounds} run(s) per command after {warmup} warm-up run(s) each, interleaved"]
    for name in ("--help", "templates"):
        names = {module for module, _ in modules[name]}
        heavy = [h for h in HEAVY if h in names]
        details.append(
            f"- `http-task-kms {name}` imports {len(names - baseline)} modules beyond python -c pass's "
            f"{len(baseline)}; among them: {', '.join(heavy) or 'none of ' + ', '.join(HEAVY)}"
        )
    crt = [micros for module, micros in modules["--help"] if module.startswith("awscrt")]
    if crt:
        details.append(
            f"- botocore imports awscrt when it is installed (awscurl, a peer, depends on it): "
            f"{max(crt) / 1000:.0f} ms of `--help`'s imports here; a plain install has no awscrt"
        )
    python = stats["python -c pass"]
    rows = [
        Row(
            "startup",
            "`http-task-kms --help`, fresh process",
            stats["--help"],
            python,
            "s",
            "ours-peer",
            Target(0.10, True),
        ),
        Row(
            "startup",
            "`http-task-kms templates`, fresh process",
            stats["templates"],
            python,
            "s",
            "ours-peer",
        ),
    ]
    rows += [
        Row("floor", f"cold Test request's ladder: {name}", stats[name], python, "s", "ours-peer")
        for name in rungs
    ]
    report("bench_startup: fresh processes", rows, quick=args.quick, details=details)
    if args.profile:
        for name in ("--help", "templates"):
            top = sorted(modules[name], key=lambda item: -item[1])[:15]
            print(f"# slowest imports (cumulative µs) of http-task-kms {name}", file=sys.stderr)
            for module, micros in top:
                print(f"{micros:>9} {module}", file=sys.stderr)


if __name__ == "__main__":
    main()
