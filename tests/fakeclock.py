"""A fake run clock for tests: API seconds that pass only when the test says (aiolimiter's way)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Awaitable, TypeVar

T = TypeVar("T")


class FakeClock:
    """API seconds that pass only in advance(); sleepers wake in the order of their wake-up times."""

    scale = 1.0

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), woken))
        await woken

    async def wait_for(self, awaitable: Awaitable[T], seconds: float | None) -> T:
        if seconds is None:
            return await awaitable
        waited = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.sleep(seconds))
        await asyncio.wait({waited, timer}, return_when=asyncio.FIRST_COMPLETED)
        timer.cancel()
        if not waited.done():
            waited.cancel()
            raise asyncio.TimeoutError
        return waited.result()

    def next_wake(self) -> float | None:
        """When the earliest sleeper wakes; None if nothing sleeps."""
        self._forget_cancelled()
        return self._sleepers[0][0] if self._sleepers else None

    def wake_next(self) -> bool:
        """Move time to the earliest sleeper's wake-up and wake that one alone (sleepers due at the
        same time wake one per call, in the order they went to sleep); False if nothing sleeps."""
        self._forget_cancelled()
        if not self._sleepers:
            return False
        when, _, woken = heapq.heappop(self._sleepers)
        self.t = max(self.t, when)
        woken.set_result(None)
        return True

    def _forget_cancelled(self) -> None:
        """Drop sleepers whose sleep was cancelled (a wait_for that got its answer first)."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking each sleeper at its time and letting it run."""
        end = self.t + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= end:
            when, _, woken = heapq.heappop(self._sleepers)
            self.t = max(self.t, when)
            if not woken.done():
                woken.set_result(None)
            await settle()
        self.t = end
        await settle()


async def settle() -> None:
    """Let every ready task run until it waits again."""
    for _ in range(20):
        await asyncio.sleep(0)
