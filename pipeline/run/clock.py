"""The run's clock: every wait and deadline is written in API seconds and scaled here, once.

Against the real API the scale is 1; against the simulator's fast clock it is below 1 (a
simulated minute of 0.6 s at 0.01). Tests pass a fake clock that moves only when told.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """What the runner, its pacer and its limiters read time from."""

    scale: float  # real seconds per API second

    def now(self) -> float:
        """Monotonic time in API seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` API seconds."""
        ...

    async def wait_for(self, awaitable: Awaitable[T], seconds: float | None) -> T:
        """`awaitable`'s result, or asyncio.TimeoutError after `seconds` API seconds (None: no limit)."""
        ...


class ScaledClock:
    """time.monotonic and asyncio.sleep, `scale` real seconds per API second."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __repr__(self) -> str:
        return f"<ScaledClock scale={self.scale:g}>"

    def now(self) -> float:
        return time.monotonic() / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.scale)

    async def wait_for(self, awaitable: Awaitable[T], seconds: float | None) -> T:
        return await asyncio.wait_for(awaitable, None if seconds is None else seconds * self.scale)
