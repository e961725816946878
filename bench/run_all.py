"""Run every benchmark (each ``bench/bench_*.py``, ``bench_rollout.py`` too when it is there),
then print one summary: the setup block and the table of every row with a peer.

Run: ``python bench/run_all.py [--quick] [--only NAME ...] [--summary FILE]`` (needs the
``bench`` extra).

``--quick`` passes ``--quick`` to each (a smoke test: CI runs this; every benchmark must run
and succeed, its figures are not checked). Without it, the full runs: the summary (also
written to ``--summary FILE``) is the README's "Performance" setup block and table. Each
benchmark runs in its own process, one after the other, its output passed through; the rows
come back through ``BENCH_ROWS_FILE`` (see ``bench/common.py``). Exit status 1 when any
benchmark failed (all the others still run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROWS_FILE_VARIABLE, Row, parser, setup_block, table

HERE = Path(__file__).resolve().parent
#: The ones with targets first, in the issue's order; any other after them, by name.
FIRST = ("bench_prepare", "bench_cold", "bench_startup", "bench_throughput", "bench_rollout")


def benchmarks() -> list[Path]:
    """Every ``bench_*.py`` here, in :data:`FIRST`'s order, then by name."""
    found = sorted(HERE.glob("bench_*.py"))
    rank = {name: i for i, name in enumerate(FIRST)}
    return sorted(found, key=lambda path: (rank.get(path.stem, len(FIRST)), path.stem))


def main() -> None:
    """Run them, then print the summary; exit 1 if one failed."""
    cli = parser(__doc__)
    cli.add_argument("--only", nargs="+", metavar="NAME", help="only these (e.g. bench_prepare)")
    cli.add_argument("--summary", metavar="FILE", help="also write the summary (Markdown) to FILE")
    args = cli.parse_args()
    chosen = [p for p in benchmarks() if not args.only or p.stem in args.only]
    failed: list[str] = []
    took: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-rows-") as directory:
        rows_file = Path(directory) / "rows.jsonl"
        rows_file.touch()
        env = {**os.environ, ROWS_FILE_VARIABLE: str(rows_file)}
        for path in chosen:
            command = [sys.executable, str(path), *(["--quick"] if args.quick else [])]
            print(f"\n$ {' '.join(command[1:])}", flush=True)
            started = time.monotonic()
            done = subprocess.run(command, env=env, cwd=HERE.parent, check=False)
            took.append(f"{path.stem} {time.monotonic() - started:.1f} s")
            if done.returncode != 0:
                failed.append(f"{path.name} (exit {done.returncode})")
        rows = [
            Row.from_json(json.loads(line)) for line in rows_file.read_text(encoding="utf-8").splitlines()
        ]
    summary = "\n\n".join([setup_block(), table(rows), f"- took: {', '.join(took)}"])
    print(f"\n## Summary{' (--quick: a smoke test, figures not meaningful)' if args.quick else ''}\n")
    print(summary)
    if args.summary:
        Path(args.summary).write_text(summary + "\n", encoding="utf-8")
    if failed:
        print(f"- FAILED: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
