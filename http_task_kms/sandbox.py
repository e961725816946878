"""Untrusted expressions run in a worker process that is killed at the deadline.

Why a process: a budget checked between JSONata steps (:mod:`http_task_kms.engines`) stops
loops and recursion, but not one native step (``$pad`` to a gigabyte, ``$distinct`` of a long
array, a backtracking regex), and no thread can be stopped from outside. A worker process can:

- it is started lazily (by the first evaluation that needs it: a ``--help``, or a render with
  only singular JSONPath and our own templates' expressions, never starts one) and reused
  (about 70 ms to start, well under 1 ms per evaluation);
- it sets its own address-space limit (``RLIMIT_AS``: what it had at start plus
  :data:`~http_task_kms.config.EXPRESSION_WORKER_MEMORY_BYTES`), so a huge allocation fails at
  once with MemoryError, reported as a breach;
- it normally reports a breach itself (steps, deadline, sizes, regex timeouts) and lives on;
  if it has not answered :data:`~http_task_kms.config.EXPRESSION_WORKER_GRACE_SECONDS` after
  the deadline, it is killed and waited for (no zombie), and a new one starts when next needed;
- it talks over its own pipes (one JSON document per line; it points its stdin and stdout at
  ``/dev/null``, so that a stray ``print`` cannot corrupt the answers), so our own stdin and
  stdout may be pipes; it ignores SIGINT and exits when its stdin closes (also when we die);
- no thread is started: the answer is awaited with a selector and a timeout.

Up to :data:`~http_task_kms.config.EXPRESSION_WORKERS` workers serve concurrent callers (one
each); more callers wait for one to be free. POSIX only (``selectors`` on pipes; ``RLIMIT_AS``
where ``/proc`` shows the address space, i.e. Linux; elsewhere the kill at the deadline remains).

The worker imports only this module, :mod:`~http_task_kms.engines` and
:mod:`~http_task_kms.config` (not the package, whose ``__init__`` loads botocore).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Final

from . import config, engines
from .engines import Outcome

__all__ = ["evaluate", "serve", "shutdown", "worker_pids"]

_PACKAGE_DIR: Final = str(Path(__file__).resolve().parent)
#: Run as ``python -c _BOOT <package dir>``: import this module without the package's __init__.
_BOOT: Final = (
    "import sys, types\n"
    "del sys.path[0]\n"  # not the current directory
    "package = types.ModuleType('http_task_kms')\n"
    "package.__path__ = [sys.argv[1]]\n"
    "sys.modules['http_task_kms'] = package\n"
    "from http_task_kms.sandbox import serve\n"
    "serve()\n"
)
#: An answer holds a result of at most EXPRESSION_RESULT_BYTES, as ASCII JSON (\\uXXXX: 6 bytes).
_MAX_ANSWER: Final = 6 * config.EXPRESSION_RESULT_BYTES + 4096


class _WorkerGone(Exception):
    """The worker closed its pipe, or answered something that is not an answer."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        if not sys.executable:
            raise OSError("no Python interpreter to start (sys.executable is empty)")
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and code)
            [sys.executable, "-c", _BOOT, _PACKAGE_DIR],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self._requests: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self._answers: int = self.process.stdout.fileno()  # type: ignore[union-attr]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._answers, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process is still running (reaps it if not)."""
        return self.process.poll() is None

    def ask(self, request: bytes, deadline: float) -> dict[str, Any] | None:
        """Send one request; its answer, or None when none came by ``deadline``."""
        try:
            self._requests.write(request)
            self._requests.flush()
        except OSError as exc:  # BrokenPipeError: it died
            raise _WorkerGone(str(exc)) from None
        answer = bytearray()
        while (end := answer.find(b"\n")) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                return None
            try:
                chunk = os.read(self._answers, 1 << 16)
            except OSError as exc:
                raise _WorkerGone(str(exc)) from None
            if not chunk or len(answer) + len(chunk) > _MAX_ANSWER:
                raise _WorkerGone("no answer" if not chunk else "an answer over its size limit")
            answer += chunk
        try:
            decoded = json.loads(answer[:end])
        except ValueError as exc:
            raise _WorkerGone(f"an answer that is not JSON: {exc}") from None
        if not isinstance(decoded, dict) or end != len(answer) - 1:
            raise _WorkerGone("an answer out of step")
        return decoded

    def kill(self) -> None:
        """Kill the process (from any thread); whoever is waiting for an answer sees EOF."""
        if self.process.poll() is None:
            self.process.kill()

    def close_input(self) -> None:
        """Close its stdin: it exits once it has answered the request in hand."""
        with contextlib.suppress(OSError):  # a pipe it had already closed
            self._requests.close()

    def close(self, *, gently: bool = False) -> None:
        """Stop the process and wait for it; ``gently``: first give it a moment to exit on EOF."""
        self.close_input()
        if gently:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.5)
        self.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._selector.get_map() is not None:
            self._selector.close()


class _Pool:
    """Idle workers to reuse, at most ``size`` alive, each serving one caller at a time."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ready = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._starting = 0  # callers starting a worker (they count against the size)

    def _acquire(self) -> _Worker:
        dead = None
        with self._ready:
            while not self._idle and len(self._busy) + self._starting >= self._size:
                self._ready.wait()
            if self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    self._busy.add(worker)
                    return worker
                dead = worker  # killed from outside while idle
            self._starting += 1
        if dead is not None:
            dead.close()
        started = None
        try:
            started = _Worker()  # outside the lock: it takes tens of milliseconds
            return started
        finally:
            with self._ready:
                self._starting -= 1
                if started is not None:
                    self._busy.add(started)
                self._ready.notify()

    def _release(self, worker: _Worker, *, healthy: bool) -> None:
        with self._ready:
            keep = healthy and worker in self._busy  # not if shut down meanwhile
            self._busy.discard(worker)
            if keep:
                self._idle.append(worker)
            self._ready.notify()
        if not keep:
            worker.close()

    def evaluate(self, request: bytes) -> Outcome:
        """One evaluation on a free worker; the deadline is enforced here, by killing it."""
        try:
            worker = self._acquire()
        except OSError as exc:
            return Outcome(error=f"the expression worker could not start: {exc}")
        healthy = False
        try:
            deadline = time.monotonic() + config.EXPRESSION_SECONDS + config.EXPRESSION_WORKER_GRACE_SECONDS
            answer = worker.ask(request, deadline)
            if answer is None:
                return Outcome(exceeded=engines.Budget.TIME)
            healthy = True
            return Outcome(
                value=answer.get("value"),
                found=answer.get("found") is True,
                error=answer.get("error"),
                exceeded=answer.get("exceeded"),
            )
        except _WorkerGone as exc:
            return Outcome(error=f"the expression worker stopped without answering ({exc})")
        finally:
            self._release(worker, healthy=healthy)

    def pids(self) -> list[int]:
        """Process ids of the workers alive now."""
        with self._ready:
            return sorted(w.pid for w in [*self._idle, *self._busy])

    def shutdown(self) -> None:
        """Stop every worker; a busy one is killed, and its caller gets an answer at once."""
        with self._ready:
            idle, busy = self._idle, list(self._busy)
            self._idle, self._busy = [], set()
            self._ready.notify_all()
        for worker in busy:
            worker.kill()  # its caller closes it
        for worker in idle:
            worker.close_input()
        for worker in idle:
            worker.close(gently=True)

    def forget(self) -> None:
        """In a forked child: the workers are the parent's; drop them without stopping them."""
        workers = [*self._idle, *self._busy]
        self._ready = threading.Condition()
        self._idle, self._busy, self._starting = [], set(), 0
        for worker in workers:
            for pipe in (worker.process.stdin, worker.process.stdout):
                if pipe is not None:
                    pipe.close()


_POOL: Final = _Pool(config.EXPRESSION_WORKERS)
atexit.register(_POOL.shutdown)
os.register_at_fork(after_in_child=_POOL.forget)


def evaluate(kind: str, expression: str, data: Any) -> Outcome:
    """Evaluate a ``jsonata`` or ``jsonpath`` expression over ``data`` in a worker, under the budget."""
    try:
        request = json.dumps(
            {"kind": kind, "expression": expression, "data": data},
            ensure_ascii=True,
            allow_nan=False,
            separators=(",", ":"),
        )
    except (TypeError, ValueError, RecursionError) as exc:
        return Outcome(error=f"the input parameters are not JSON: {exc}")
    return _POOL.evaluate(request.encode("ascii") + b"\n")


def worker_pids() -> list[int]:
    """Process ids of the workers alive now (for tests and diagnostics)."""
    return _POOL.pids()


def shutdown() -> None:
    """Stop every worker now (also done at exit); the next evaluation starts a new one."""
    _POOL.shutdown()


# -- in the worker -----------------------------------------------------------------------------


try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]


def _limit_address_space() -> None:
    """RLIMIT_AS = the address space now + the headroom (Linux; elsewhere only the kill applies)."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return
    if resource is None:
        return
    limit = pages * os.sysconf("SC_PAGE_SIZE") + config.EXPRESSION_WORKER_MEMORY_BYTES
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _limit_cpu_time() -> None:
    """Before each request: CPU time so far + the budget + 2 s, so that a worker orphaned in
    the middle of a native step (its parent killed) dies of SIGXCPU instead of running on."""
    if resource is None:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + config.EXPRESSION_SECONDS) + 2
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(
        resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )


def _answer(line: bytes) -> bytes:
    try:
        request = json.loads(line)
        outcome = engines.evaluate(request["kind"], request["expression"], request["data"], engines.Budget())
        text = json.dumps(outcome.to_json(), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except MemoryError:
        text = json.dumps(Outcome(exceeded=engines.Budget.MEMORY).to_json())
    except engines.BudgetExceeded as exc:
        text = json.dumps(Outcome(exceeded=exc.rule).to_json())
    except Exception as exc:
        text = json.dumps(Outcome(error=f"the expression worker failed: {type(exc).__name__}").to_json())
    return text.encode("ascii") + b"\n"


def serve() -> None:
    """The worker's loop: a request per line on stdin, an answer per line on stdout, until EOF."""
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (for the process's life)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_address_space()
    for line in requests:
        _limit_cpu_time()
        answers.write(_answer(line))
        answers.flush()
