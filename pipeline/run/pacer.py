"""How fast a run may ask the server: the create window and its adaptive rate, one create in
transit, the query window, download slots and the cap on tasks in flight."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator

from pipeline.minimax import imagespec
from pipeline.minimax.apierrors import ConcurrencyLimitError, RateLimitError
from pipeline.run import retry
from pipeline.run.limiter import WindowCounter, WindowLimiter

if TYPE_CHECKING:
    from pipeline.run.clock import Clock
    from pipeline.run.options import RunOptions


class Pacer:
    """The run's limits, shared by all its takes. Create it inside the running event loop."""

    def __init__(self, options: RunOptions, clock: Clock):
        self.rate = retry.AdaptiveRate(ceiling=options.rpm)
        self.creates = WindowLimiter(options.rpm, retry.RATE_WINDOW * retry.RATE_WINDOW_MARGIN, clock)
        self.accepted_creates = WindowCounter(retry.RATE_WINDOW, clock)  # creates the server took, per window
        # One create in transit at a time: a 1002 is heard before the next create is sent.
        self._create_transit = asyncio.Lock()
        self.queries = WindowLimiter(options.query_rpm, retry.RATE_WINDOW, clock)
        self.download_slots = asyncio.Semaphore(options.downloads)
        self.in_flight = Slots(options.concurrency)
        # The image API's own window (minimax-api-v2.md B1: 10 RPM), one request in transit at a time.
        self.images = WindowLimiter(imagespec.RPM, retry.RATE_WINDOW * retry.RATE_WINDOW_MARGIN, clock)
        self._image_transit = asyncio.Lock()
        self.live = 0  # tasks this run made (or resumed) that it has not yet seen finish

    def __repr__(self) -> str:
        return f"<Pacer rate={self.rate.rate} creates={self.creates!r} queries={self.queries!r}>"

    @asynccontextmanager
    async def create_turn(self) -> AsyncIterator[None]:
        """The one create in transit, once the adaptive rate's window has room for it. Its stamp
        moves to the end of the turn: the server may have counted it any time up to its answer."""
        async with self._create_transit:
            self.creates.limit = self.rate.allowed
            await self.creates.acquire()
            try:
                yield
            finally:
                self.creates.restamp()  # also when a stopping run sent nothing: no create follows it

    @asynccontextmanager
    async def image_turn(self) -> AsyncIterator[None]:
        """The one image request in transit, once the image API's window has room for it."""
        async with self._image_transit:
            await self.images.acquire()
            try:
                yield
            finally:
                self.images.restamp()

    @asynccontextmanager
    async def no_create_in_transit(self) -> AsyncIterator[None]:
        """While held, no create of this run is on its way: every task it made has its answer (or
        is known lost), so a task list read now shows no task of a take still waiting to hear."""
        async with self._create_transit:
            yield

    def rate_limited(self) -> None:
        """A create was answered 'rate limited': slow down to what the server took in the last window."""
        self.rate.on_rate_limited(self.accepted_creates.recent())

    def created(self) -> None:
        """A create was answered with a task id."""
        self.rate.on_success()

    def over_capacity(self, exc: RateLimitError) -> bool:
        """A 429 that is, or may be, the account's cap on tasks queued or running at once (v2's
        CONN): from now on run no more tasks than the server took. True: the take should wait
        for one of this run's tasks to finish, then create again. False: treat it as a rate limit
        (not a cap, or no other task of this run holds a place to wait for)."""
        if not (isinstance(exc, ConcurrencyLimitError) or exc.maybe_concurrency):
            return False
        if self.live < 1:  # nothing of this run's holds a place: another client's tasks, or a rate
            return False
        self.in_flight.lower(self.live)
        return True


class Slots:
    """A cap on tasks in flight; resumed tasks take a slot without waiting (they already run)."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.used = 0
        self.waiting = 0  # creates held back for want of a slot: a finish seen sooner starts one sooner
        self._freed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Slots {self.used}/{self.limit}>"

    async def acquire(self) -> None:
        self.waiting += 1
        try:
            while self.limit is not None and self.used >= self.limit:
                self._freed.clear()
                await self._freed.wait()
        finally:
            self.waiting -= 1
        self.used += 1

    def force_acquire(self) -> None:
        self.used += 1

    @property
    def over(self) -> bool:
        """More slots are held than the cap now allows (it was lowered after they were taken)."""
        return self.limit is not None and self.used > self.limit

    def lower(self, limit: int) -> None:
        """The server holds fewer tasks at once than the cap said (or no cap was known)."""
        self.limit = limit if self.limit is None else min(self.limit, limit)

    async def wait_for_room(self) -> None:
        """Give the slot back and take one again once another is free (the holder keeps one
        throughout as far as its `release` is concerned, cancelled or not)."""
        self.release()
        try:
            await self.acquire()
        except BaseException:
            self.used += 1
            raise

    def release(self) -> None:
        self.used -= 1
        self._freed.set()
