"""The progress bar on stderr (rich) — only when stderr is a terminal; otherwise nothing at all.

Done (of all the keys this run works on), changed, unchanged, skipped, failed, the PutKeyPolicy
rate and the time left. stdout never carries it: it holds only the final JSON summary.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO

from .outcome import Outcome, Tally

__all__ = ["Progress", "progress_for"]


class Progress(Protocol):
    """What a run reports to as it goes."""

    def start(self, total: int | None, description: str) -> None:
        """Begin; ``total`` is how many keys this run works on (None: not known yet)."""

    def update(self, outcome: Outcome, tally: Tally) -> None:
        """One key is done."""

    def stop(self) -> None:
        """End (the bar stays on the terminal)."""


class _Silent:
    def start(self, total: int | None, description: str) -> None:
        return None

    def update(self, outcome: Outcome, tally: Tally) -> None:
        return None

    def stop(self) -> None:
        return None


class _Bar:
    """rich's Progress with the rollout's columns."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console  # noqa: PLC0415 - only on a terminal
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn  # noqa: PLC0415
        from rich.progress import Progress as RichProgress  # noqa: PLC0415

        self._progress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "changed {task.fields[changed]} · unchanged {task.fields[unchanged]} · "
                "skipped {task.fields[skipped]} · [red]failed {task.fields[failed]}[/] · "
                "{task.fields[rate]} PutKeyPolicy/s"
            ),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._task: Any = None

    def start(self, total: int | None, description: str) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            description, total=total, changed=0, unchanged=0, skipped=0, failed=0, rate="-"
        )

    def update(self, outcome: Outcome, tally: Tally) -> None:
        rate = tally.achieved_rate()
        self._progress.update(
            self._task,
            advance=1,
            changed=tally.counts["changed"],
            unchanged=tally.counts["unchanged"],
            skipped=tally.counts["skipped"],
            failed=tally.counts["failed"],
            rate=f"{rate:.1f}" if rate is not None else "-",
        )

    def stop(self) -> None:
        self._progress.stop()


def progress_for(stream: TextIO | None = None) -> Progress:
    """A progress bar on ``stream`` (default stderr) if it is a terminal, else nothing."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return _Bar(stream) if isatty is not None and isatty() else _Silent()
