"""A bounded pool of worker threads fed from a stream: memory flat in the number of items.

At most ``2 * concurrency`` items are submitted and not yet accounted for at any time, so a
list of a million keys costs no more than one of a hundred. Outcomes are accounted for in the
calling (main) thread, one at a time. SIGINT / SIGTERM (:class:`~http_task_kms.errors.Interrupted`,
raised in the main thread) stop the feeding; the items already being worked on finish — their
outcomes are journalled and accounted for — and the interruption is returned; a second one
stops waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from ...errors import Interrupted

__all__ = ["PoolEnd", "run_pool"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PoolEnd(Generic[R]):
    """How the pool ended: every item done, stopped by ``accept``, or interrupted."""

    stopped: str | None = None
    interrupted: Interrupted | None = None


def _account(done: set[Future[R]], accept: Callable[[R], str | None]) -> str | None:
    stop = None
    for future in done:
        stop = accept(future.result()) or stop
    return stop


def run_pool(
    items: Iterable[T],
    work: Callable[[T], R],
    *,
    concurrency: int,
    accept: Callable[[R], str | None],
) -> PoolEnd[R]:
    """Run ``work`` over ``items`` on ``concurrency`` threads; ``accept`` each outcome.

    ``work`` must not raise (it returns an outcome for every failure). ``accept`` returns a
    reason to stop feeding (e.g. the journal cannot be written), or None.
    """
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="apply")
    pending: set[Future[R]] = set()
    stopped: str | None = None
    try:
        for item in items:
            while len(pending) >= 2 * concurrency and not stopped:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                stopped = _account(done, accept)
            if stopped:
                break
            pending.add(pool.submit(work, item))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            stopped = _account(done, accept) or stopped
    except Interrupted as interrupted:
        for future in pending:
            future.cancel()  # not started yet: never started
        started = {f for f in pending if not f.cancelled()}
        while started:  # a second signal raises out of here
            done, started = wait(started, return_when=FIRST_COMPLETED)
            _account(done, accept)
        pool.shutdown(wait=True)
        return PoolEnd(stopped=stopped, interrupted=interrupted)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # the keys under way still finish and are journalled
        raise
    pool.shutdown(wait=True)
    return PoolEnd(stopped=stopped)
