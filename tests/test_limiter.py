"""The run's clock, its sliding windows and its pacer, on a fake clock: no test sleeps for real.

As aiolimiter's tests do, time moves only when the test moves it; a waiter wakes when the fake
clock passes the time it asked to sleep until.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, TypeVar

import pytest

from pipeline.run import clock as clocklib
from pipeline.run import retry
from pipeline.run.limiter import MIN_WAIT, WindowCounter, WindowLimiter
from pipeline.run.options import RunOptions
from pipeline.run.pacer import Pacer, Slots

from fakeclock import FakeClock, settle

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    """asyncio.run, asserting that the test took no real time worth the name."""
    began = time.monotonic()
    result = asyncio.run(coro)  # type: ignore[arg-type]
    assert time.monotonic() - began < 1.0
    return result


# -- the scaled clock -------------------------------------------------------------------------


def test_scaled_clock_scales_sleeps_and_reads_api_seconds(monkeypatch):
    asked = []

    async def fake_sleep(seconds):
        asked.append(seconds)

    monkeypatch.setattr(clocklib.time, "monotonic", lambda: 12.0)
    monkeypatch.setattr(clocklib.asyncio, "sleep", fake_sleep)
    clock = clocklib.ScaledClock(0.01)
    assert clock.now() == pytest.approx(1200.0)
    asyncio.run(clock.sleep(60.0))
    assert asked == [pytest.approx(0.6)]


def test_scaled_clock_times_out_in_api_seconds():
    clock = clocklib.ScaledClock(0.001)

    async def main():
        never = asyncio.Event()
        with pytest.raises(asyncio.TimeoutError):
            await clock.wait_for(never.wait(), 50.0)  # 50 ms

    run(main())


# -- the window counter -----------------------------------------------------------------------


@pytest.mark.parametrize("at, counted", [(5.0, 2), (9.999, 2), (10.0, 2), (10.001, 1), (15.0, 1), (15.001, 0)])
def test_counter_window_edges(at, counted):
    """Events at 0 and 5 in a 10 s window: one exactly `period` old still counts, a moment later not."""
    clock = FakeClock()
    counter = WindowCounter(10.0, clock)
    counter.record()
    clock.t = 5.0
    counter.record()
    clock.t = at
    assert counter.recent() == counted


def test_restamp_moves_the_latest_event_to_now():
    clock = FakeClock()
    counter = WindowCounter(10.0, clock)
    counter.restamp()  # nothing to move
    assert counter.recent() == 0
    counter.record()
    clock.t = 3.0
    counter.restamp()
    clock.t = 12.5
    assert counter.recent() == 1  # stamped at 3, not 0
    clock.t = 13.01
    assert counter.recent() == 0


# -- the limiter ------------------------------------------------------------------------------


def test_limiter_waits_exactly_until_the_oldest_stamp_leaves():
    clock = FakeClock()
    limiter = WindowLimiter(2, 10.0, clock)

    async def main():
        await limiter.acquire()
        await clock.advance(4.0)
        await limiter.acquire()
        third = asyncio.ensure_future(limiter.acquire())
        await clock.advance(5.9)  # t = 9.9
        assert not third.done()
        await clock.advance(0.1)  # t = 10: the first stamp is exactly a window old, still counted
        assert not third.done()
        await clock.advance(MIN_WAIT)
        assert third.done()
        assert clock.slept == [pytest.approx(6.0), MIN_WAIT]  # one sleep to the edge, one just past it
        assert limiter.recent() == 2

    run(main())


def test_limiter_takes_a_float_limit_as_whole_acquisitions_at_least_one():
    clock = FakeClock()
    assert WindowLimiter(2.7, 60.0, clock).limit == 2
    assert WindowLimiter(0.2, 60.0, clock).limit == 1
    assert WindowLimiter(None, 60.0, clock).limit is None


def test_unlimited_limiter_never_sleeps_but_counts():
    clock = FakeClock()
    limiter = WindowLimiter(None, 60.0, clock)

    async def main():
        for _ in range(1000):
            await limiter.acquire()

    run(main())
    assert clock.slept == []
    assert limiter.recent() == 1000


def test_a_changed_limit_applies_to_the_next_acquisition():
    clock = FakeClock()
    limiter = WindowLimiter(1, 10.0, clock)

    async def main():
        await limiter.acquire()
        limiter.limit = 2  # the adaptive rate climbed: room for one more now
        await asyncio.wait_for(limiter.acquire(), 1.0)
        assert clock.slept == []
        limiter.limit = 1  # and fell: both stamps must leave the window first
        waiter = asyncio.ensure_future(limiter.acquire())
        await clock.advance(10.0 + MIN_WAIT)
        assert waiter.done()
        assert clock.t == pytest.approx(10.0 + MIN_WAIT)
        limiter.limit = None
        await asyncio.wait_for(limiter.acquire(), 1.0)

    run(main())


def test_waiters_are_served_in_order_one_window_apart():
    clock = FakeClock()
    limiter = WindowLimiter(1, 10.0, clock)
    served: list[tuple[str, float]] = []

    async def take(name: str) -> None:
        await limiter.acquire()
        served.append((name, clock.now()))

    async def main():
        await take("first")
        waiters = [asyncio.ensure_future(take(name)) for name in "abc"]
        for _ in range(40):
            await clock.advance(1.0)
        await asyncio.gather(*waiters)

    run(main())
    assert [name for name, _ in served] == ["first", "a", "b", "c"]
    times = [when for _, when in served]
    assert times[0] == 0.0
    for before, after in zip(times, times[1:]):
        assert 10.0 < after - before <= 11.0  # each as soon as the one before leaves the window


# -- the pacer --------------------------------------------------------------------------------


def test_create_turns_follow_the_rate_window_with_its_margin():
    clock = FakeClock()
    window = retry.RATE_WINDOW * retry.RATE_WINDOW_MARGIN
    pacer = Pacer(RunOptions(rpm=2), clock)
    sent: list[float] = []

    async def create() -> None:
        async with pacer.create_turn():
            sent.append(clock.now())
            await clock.sleep(0.5)  # the create's answer comes half a second later
        pacer.created()

    async def main():
        creates = [asyncio.ensure_future(create()) for _ in range(5)]
        while not all(c.done() for c in creates):
            await clock.advance(0.25)

    run(main())
    # One in transit at a time, two per window; each stamp moves to its create's answer (0.5 s on),
    # so the third waits until a window after the first's answer, not after its sending.
    answered = [when + 0.5 for when in sent]
    assert sent[:2] == [0.0, 0.5]
    assert sent[2] == pytest.approx(answered[0] + window, abs=0.01)
    assert sent[3] == pytest.approx(answered[1] + window, abs=0.01)
    assert sent[4] == pytest.approx(answered[2] + window, abs=0.01)


def test_a_rate_limit_answer_slows_creates_to_what_the_server_took():
    clock = FakeClock()
    pacer = Pacer(RunOptions(rpm=10), clock)
    for _ in range(3):
        pacer.accepted_creates.record()
    pacer.rate_limited()
    assert pacer.rate.allowed == 5  # halved, not below the 3 it took
    pacer.created()
    assert pacer.rate.rate > 5


def test_in_flight_slots():
    async def main():
        slots = Slots(1)
        await slots.acquire()
        slots.force_acquire()  # a resumed task: over the cap, without waiting
        waiter = asyncio.ensure_future(slots.acquire())
        await settle()
        slots.release()
        await settle()
        assert not waiter.done()  # one still over the cap
        slots.release()
        await settle()
        assert waiter.done() and slots.used == 1

    run(main())
