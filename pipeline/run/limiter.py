"""Sliding windows on the run's clock: a count of recent events, and a limiter built on it.

Owned rather than borrowed: the runner needs to move a stamp to when the server heard the
request (restamp), to change the limit as the adaptive rate moves, and to wake a waiter exactly
when a slot frees. asyncio-throttle offers none of these (its waiters poll every 10 ms).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.run.clock import Clock

MIN_WAIT = 0.0005  # real seconds: a wake-up a float's width early sleeps at least this, not zero


class WindowCounter:
    """Events within the last `period` seconds of `clock` (an event exactly `period` old still counts)."""

    def __init__(self, period: float, clock: Clock):
        self.period = period
        self.clock = clock
        self._stamps: deque[float] = deque()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self._stamps)} stamps, period {self.period:g} s>"

    def record(self) -> None:
        self._stamps.append(self.clock.now())

    def restamp(self) -> None:
        """Move the latest event to now: the server counts a request when it arrives, which may be
        any time up to its answer (a first create on a cold connection arrives tens of ms late)."""
        if self._stamps:
            self._stamps[-1] = self.clock.now()

    def recent(self) -> int:
        """Events within the current window."""
        self._forget()
        return len(self._stamps)

    def _forget(self) -> None:
        now = self.clock.now()
        stamps = self._stamps
        while stamps and now - stamps[0] > self.period:
            stamps.popleft()


class WindowLimiter(WindowCounter):
    """At most `limit` acquisitions in any window; None: unlimited (acquire only records).

    One waiter at a time sleeps exactly until the oldest stamp leaves the window; the others
    queue in order behind a lock (waking every waiter every few ms is the whole CPU with
    thousands of takes). `limit` may change at any time: the next check reads it.
    """

    def __init__(self, limit: float | None, period: float, clock: Clock):
        super().__init__(period, clock)
        self.limit: int | None = None if limit is None else max(1, int(limit))
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<WindowLimiter {len(self._stamps)} stamps, limit {self.limit}, period {self.period:g} s>"

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                self._forget()
                if self.limit is None or len(self._stamps) < self.limit:
                    break
                wait = self._stamps[0] + self.period - self.clock.now()
                await self.clock.sleep(max(wait, MIN_WAIT / self.clock.scale))
            self.record()
