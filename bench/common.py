"""What every benchmark shares: interleaved timing, medians and p90, ratios against a peer
measured in the same run, targets (met / not met), the setup block and a Markdown table.

A benchmark builds :class:`Row` objects from :class:`Stats` and hands them to :func:`report`,
which prints the setup block and the table. Every comparison is a ratio (or, for start-up,
a difference) of medians measured in ONE run, with the contenders interleaved round by
round (the first of each round rotates), so that both sides see the same machine load.

``--quick`` makes every benchmark short (a smoke test: CI runs them all this way; its
figures mean little). When ``BENCH_ROWS_FILE`` names a file, :func:`report` also appends its
rows to it as JSON lines: ``bench/run_all.py`` collects the table of every benchmark that way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's scripts: http-task-kms, aws, awscurl
ACCOUNT = "111122223333"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:user/bench-admin"
ROWS_FILE_VARIABLE = "BENCH_ROWS_FILE"

#: The packages whose versions the setup block shows (those not installed are shown as such).
PACKAGES = (
    "http-task-kms",
    "botocore",
    "boto3",
    "awscli",
    "awscurl",
    "requests",
    "urllib3",
    "pydantic",
    "jsonschema",
    "moto",
    "pyinstrument",
)


# -- statistics ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    """Samples of one contender (seconds, or a rate), with their median and p90."""

    name: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        """The 90th percentile (nearest rank; the largest sample when there are few)."""
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]

    @property
    def p10(self) -> float:
        """The 10th percentile (nearest rank): the "p90" of a rate, where higher is better."""
        ordered = sorted(self.samples)
        return ordered[max(0, round(0.1 * len(ordered)) - 1)]


def interleave(
    contenders: dict[str, Callable[[int], Any]],
    rounds: int,
    *,
    warmup: int = 0,
    after: Callable[[str], None] | None = None,
) -> dict[str, Stats]:
    """Time each contender once per round, round-robin, the first of each round rotating.

    Each contender is called with the round's number (``-1 - i`` for warm-up call ``i``), so
    that all of them can be given the same, fresh input for that round. ``after(name)`` runs
    after each call, untimed (a check that it did its job). Returns the seconds each call took.
    """
    names = list(contenders)
    for i in range(warmup):
        for name in names:
            contenders[name](-1 - i)
            if after is not None:
                after(name)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            contenders[name](r)
            samples[name].append(time.perf_counter() - started)
            if after is not None:
                after(name)
    return {name: Stats(name, tuple(found)) for name, found in samples.items()}


# -- rows and targets ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A goal on a row's comparison: ``value <= limit`` (``at_most``) or ``value >= limit``."""

    limit: float
    at_most: bool

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        return value <= self.limit if self.at_most else value >= self.limit

    def describe(self, unit: str) -> str:
        """``≤ 2.5x`` / ``≥ 1.5x`` / ``≤ +0.10 s``."""
        sign = "≤" if self.at_most else "≥"
        return f"{sign} +{self.limit:.2f} s" if unit == "s" else f"{sign} {self.limit:g}x"


@dataclass(frozen=True)
class Row:
    """One line of a benchmark's table: ours against a peer, compared as the target says.

    ``compare`` is ``"ours/peer"`` or ``"peer/ours"`` (a ratio of medians) or ``"ours-peer"``
    (a difference of medians, in seconds). ``unit`` is how a median is shown: ``"ms"`` or
    ``"s"`` for durations, or a rate's unit (``"/s"``).
    """

    bench: str
    what: str
    ours: Stats
    peer: Stats
    unit: str
    compare: str = "ours/peer"
    target: Target | None = None
    note: str = ""

    @property
    def value(self) -> float:
        """The comparison: a ratio of medians, or the difference of medians in seconds."""
        ours, peer = self.ours.median, self.peer.median
        if self.compare == "ours-peer":
            return ours - peer
        return ours / peer if self.compare == "ours/peer" else peer / ours

    def shown_value(self) -> str:
        """The comparison as the table shows it."""
        if self.compare == "ours-peer":
            return f"{self.value:+.3f} s"
        return f"{self.value:.2f}x ({self.compare})"

    def verdict(self) -> str:
        """``met`` / ``not met`` against the target, or ``—`` when the row has none."""
        if self.target is None:
            return "—"
        return "met" if self.target.met(self.value) else "**not met**"

    def shown_target(self) -> str:
        """The target as the table shows it."""
        if self.target is None:
            return "—"
        return self.target.describe("s" if self.compare == "ours-peer" else "x")

    def to_json(self) -> dict[str, Any]:
        """The row as one JSON object (for ``BENCH_ROWS_FILE``)."""
        found = dataclasses.asdict(self)
        found["ours"] = {"name": self.ours.name, "samples": list(self.ours.samples)}
        found["peer"] = {"name": self.peer.name, "samples": list(self.peer.samples)}
        return found

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        """A row written by :meth:`to_json`."""
        target = Target(**data["target"]) if data.get("target") else None
        return cls(
            bench=data["bench"],
            what=data["what"],
            ours=Stats(data["ours"]["name"], tuple(data["ours"]["samples"])),
            peer=Stats(data["peer"]["name"], tuple(data["peer"]["samples"])),
            unit=data["unit"],
            compare=data["compare"],
            target=target,
            note=data.get("note", ""),
        )


def shown(stats: Stats, unit: str) -> str:
    """``1.05 ms (p90 1.31)``; for a rate, its median and p10 (``176 /s (p10 160)``)."""
    if unit == "ms":
        return f"{stats.median * 1e3:.3f} ms (p90 {stats.p90 * 1e3:.3f})"
    if unit == "s":
        return f"{stats.median:.3f} s (p90 {stats.p90:.3f})"
    return f"{stats.median:.0f} {unit} (p10 {stats.p10:.0f})"


# -- the table and the setup block -----------------------------------------------------------------
TABLE_HEAD = (
    "| benchmark | what | ours (median, p90) | peer (median, p90) | comparison | target | met? |\n"
    "|---|---|---|---|---|---|---|"
)


def table_line(row: Row) -> str:
    """One row of the Markdown table."""
    what = f"{row.what} ({row.note})" if row.note else row.what
    cells = (
        row.bench,
        what,
        f"{row.ours.name}: {shown(row.ours, row.unit)}",
        f"{row.peer.name}: {shown(row.peer, row.unit)}",
        row.shown_value(),
        row.shown_target(),
        row.verdict(),
    )
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def table(rows: Iterable[Row]) -> str:
    """The Markdown table of ``rows``."""
    return "\n".join([TABLE_HEAD, *(table_line(row) for row in rows)])


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (uncommitted changes)" if dirty else "")


def setup_block() -> str:
    """The machine, Python and package versions, as Markdown."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = "unknown"
    if hasattr(os, "getloadavg"):
        averages = os.getloadavg()
        load = ", ".join(f"{x:.2f}" for x in averages)
        if averages[0] > (usable or 1):
            load += " (busy: more runnable tasks than CPUs, so the figures are noisier)"
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    return "\n".join(
        [
            f"- machine: {os.cpu_count()} CPUs ({usable} usable), {_cpu_model()}; "
            f"{platform.system()} {platform.release()}; load average {load}",
            f"- Python {platform.python_version()} ({platform.python_implementation()}), {sys.executable}",
            f"- packages: {versions}",
            f"- http-task-kms commit: {_commit()}",
        ]
    )


def report(title: str, rows: Sequence[Row], *, quick: bool, details: Sequence[str] = ()) -> None:
    """Print the setup block, ``details`` and the table; append the rows to ``BENCH_ROWS_FILE``."""
    print(f"## {title}{' (--quick: a smoke test, figures not meaningful)' if quick else ''}\n")
    print(setup_block() + "\n")
    for line in details:
        print(line)
    if details:
        print()
    print(table(rows) + "\n", flush=True)
    rows_file = os.environ.get(ROWS_FILE_VARIABLE)
    if rows_file:
        with open(rows_file, "a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row.to_json()) + "\n")


# -- arguments, inputs, helpers --------------------------------------------------------------------
def parser(description: str | None) -> argparse.ArgumentParser:
    """An argument parser with ``--quick`` (and the module's docstring as its description)."""
    found = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    found.add_argument("--quick", action="store_true", help="a few rounds only: a smoke test (CI)")
    return found


def require(condition: bool, message: str) -> None:
    """Stop the benchmark (exit 1, naming what went wrong) unless ``condition``: a check, even under -O."""
    if not condition:
        raise SystemExit(f"benchmark check failed: {message}")


def need(*programs: str) -> dict[str, str]:
    """The venv's console scripts by name; exit naming the bench extra when one is missing."""
    found = {name: str(BIN / name) for name in programs}
    missing = [name for name, path in found.items() if not Path(path).exists()]
    if missing:
        raise SystemExit(
            f"missing {', '.join(missing)} in {BIN}: pip install -e '.[bench]' (the peers of the benchmarks)"
        )
    return found


USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]


def policy_2kb(
    account: str = ACCOUNT, admin_arn: str = ADMIN_ARN, counter: int | None = None
) -> dict[str, Any]:
    """AWS's default key policy, a key-administrators statement and key users, about 2 KB.

    With ``counter``, one statement's Sid and one role name carry it, so every call of a
    benchmark sees a policy text (and one principal) it has not seen before.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Allow access for Key Administrators",
            "Effect": "Allow",
            "Principal": {"AWS": admin_arn},
            "Action": ADMIN_ACTIONS,
            "Resource": "*",
        },
    ]
    if counter is not None:
        statements.append(
            {
                "Sid": f"Allow use of the key by change {counter}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/change-{counter}"},
                "Action": USE,
                "Resource": "*",
            }
        )
    i = 0
    while len(json.dumps({"Version": "2012-10-17", "Statement": statements})) < 2048:
        statements.append(
            {
                "Sid": f"Allow use of the key {i}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/app-{i}"},
                "Action": USE,
                "Resource": "*",
            }
        )
        i += 1
    return {"Version": "2012-10-17", "Statement": statements}


def compact(document: Any) -> str:
    """JSON text without spaces (what a policy's text is in every request body here)."""
    return json.dumps(document, separators=(",", ":"))


def profile(func: Callable[[], Any], calls: int, *, title: str) -> None:
    """Run ``func`` ``calls`` times under pyinstrument and print its text report on stderr."""
    try:
        from pyinstrument import Profiler
    except ImportError as exc:
        raise SystemExit("--profile needs pyinstrument: pip install -e '.[bench]'") from exc
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(calls):
        func()
    profiler.stop()
    print(f"# profile: {title} ({calls} calls)", file=sys.stderr)
    print(profiler.output_text(unicode=True, color=False, show_all=False), file=sys.stderr)


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any AWS setting or proxy, HOME and AWS files in ``home``.

    Only the operator's harmless variables (PATH, locale, …) are kept; ``extra`` is added.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        **extra,
    )
    return env
