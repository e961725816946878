"""A token bucket that paces one operation at its request quota, and slows down when throttled.

Each :meth:`TokenBucket.take` reserves the next free slot — ``1 / rate`` seconds after the
previous one — and sleeps until it comes, so callers from any number of threads are served
first come, first served, never faster than ``rate`` per second over any stretch longer than
the burst (``capacity`` tokens, 1 by default: the slots are evenly spaced). A slot that was
not used (the key needed no write) is given back with :meth:`refund`.

AIMD, as TCP does it: :meth:`throttled` (the service answered ThrottlingException, or a call
needed a retry) multiplies the rate by ``backoff`` (0.7, CUBIC's factor) — at most once per ``cooldown``
seconds, and not again for calls paced before that slowdown, so one burst of throttled answers
counts once — down to ``floor``; from the end of that cooldown the rate
grows back by ``ceiling / recovery`` per second without throttling, up to ``ceiling`` (the
configured rate, never more).

Pure apart from the ``clock`` and ``sleep`` it is given; thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """Paces calls to ``rate`` per second (a debt-based token bucket with AIMD back-off)."""

    def __init__(
        self,
        rate: float,
        *,
        capacity: float = 1.0,
        floor: float | None = None,
        backoff: float = 0.7,
        recovery: float = 10.0,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs a rate above 0 and a capacity of at least 1")
        self.ceiling = float(rate)
        self.floor = min(self.ceiling, 1.0) if floor is None else min(float(floor), self.ceiling)
        self._rate = self.ceiling
        self._capacity = float(capacity)
        self._backoff = backoff
        self._recovery = recovery
        self._cooldown = cooldown
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = self._capacity
        self._updated = clock()
        self._slowed_at: float | None = None
        self.taken = 0
        self.slowdowns = 0

    @property
    def rate(self) -> float:
        """The current rate (requests per second): the configured one unless throttled lately."""
        with self._lock:
            self._advance(self._clock())
            return self._rate

    def _advance(self, now: float) -> None:
        """Refill the tokens earned since the last update, and recover the rate additively."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        if self._rate < self.ceiling and self._slowed_at is not None:
            recovering = now - max(self._updated, self._slowed_at + self._cooldown)  # after the cooldown
            if recovering > 0:
                self._rate = min(self.ceiling, self._rate + recovering * self.ceiling / self._recovery)
        self._updated = now

    def take(self) -> float:
        """Wait for the next slot; returns when it was (the clock's time)."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
            self.taken += 1
        if wait > 0:
            self._sleep(wait)
        return now + wait

    def refund(self) -> None:
        """Give back a slot that was not used (a write found nothing to change)."""
        with self._lock:
            self._advance(self._clock())
            self._tokens = min(self._capacity, self._tokens + 1.0)
            self.taken -= 1

    def throttled(self, slot: float | None = None) -> bool:
        """The service pushed back on a call made in ``slot`` (:meth:`take`'s time): slow down.

        The rate is multiplied by ``backoff`` (0.7) at most once per cooldown, and not for a
        call whose slot came before the last slowdown (it was paced at the old rate). True if
        the rate was lowered.
        """
        with self._lock:
            now = self._clock()
            self._advance(now)
            if self._slowed_at is not None and (
                now - self._slowed_at < self._cooldown or (slot is not None and slot <= self._slowed_at)
            ):
                return False
            self._rate = max(self.floor, self._rate * self._backoff)
            self._slowed_at = now
            self.slowdowns += 1
            return True
