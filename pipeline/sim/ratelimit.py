"""Per-key request limits as pure functions of a clock value (no sleeping, no threads).

`window` is the strict reading of "R per minute": at most R requests in any window of the
given length. `bucket` holds R tokens and refills R per window, so it lets up to 2R through
in the first window. Only an admitted request spends quota (`take`), never a refused one.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol


class Limiter(Protocol):
    def allow(self, now: float) -> bool: ...
    def take(self, now: float) -> None: ...


class WindowLimiter:
    """At most `limit` takes in any `window` seconds (a take older than `window` no longer counts)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._times: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()

    def allow(self, now: float) -> bool:
        self._forget(now)
        return len(self._times) < self.limit

    def take(self, now: float) -> None:
        self._forget(now)
        self._times.append(now)

    def __repr__(self) -> str:
        return f"<WindowLimiter {len(self._times)}/{self.limit} per {self.window:g}s>"


class BucketLimiter:
    """A token bucket: `limit` tokens, refilling `limit` per `window` seconds, starting full."""

    def __init__(self, limit: int, window: float) -> None:
        self.capacity = float(limit)
        self.rate = limit / window
        self._tokens = float(limit)
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now

    def allow(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= 1.0 - 1e-9

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0

    def __repr__(self) -> str:
        return f"<BucketLimiter {self._tokens:.2f}/{self.capacity:g} tokens>"


def make_limiter(kind: str, limit: int, window: float) -> Limiter:
    return {"window": WindowLimiter, "bucket": BucketLimiter}[kind](limit, window)
