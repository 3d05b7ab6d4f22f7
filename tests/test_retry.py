"""Retry, polling and pacing policy as tables: pure functions, seeded RNG, no sleeping."""

import random

import pytest

from pipeline.run import retry


@pytest.mark.parametrize(
    "attempt, ceiling",
    [(0, 2.0), (1, 4.0), (2, 8.0), (4, 32.0), (5, 60.0), (30, 60.0)],
)
def test_backoff_is_full_jitter_under_an_exponential_ceiling(attempt, ceiling):
    rng = random.Random(1)
    delays = [retry.backoff_delay(attempt, rng) for _ in range(2000)]
    assert min(delays) >= 0.0
    assert max(delays) <= ceiling
    # Full jitter spreads over the whole range, not just near the ceiling.
    assert min(delays) < ceiling * 0.05 and max(delays) > ceiling * 0.95


def test_rate_limit_backoff_waits_longer_than_a_blip():
    rng_a, rng_b = random.Random(3), random.Random(3)
    blip = retry.backoff_delay(0, rng_a)
    limited = retry.backoff_delay(0, rng_b, base=retry.RATE_LIMIT_BACKOFF_BASE)
    assert limited == pytest.approx(blip * retry.RATE_LIMIT_BACKOFF_BASE / retry.BACKOFF_BASE)


@pytest.mark.parametrize("polls_done, low, high", [
    (0, retry.FIRST_POLL_DELAY, retry.FIRST_POLL_DELAY + retry.POLL_JITTER * retry.POLL_INTERVAL),
    (1, retry.POLL_INTERVAL, retry.POLL_INTERVAL * (1 + retry.POLL_JITTER)),
    (9, retry.POLL_INTERVAL, retry.POLL_INTERVAL * (1 + retry.POLL_JITTER)),
])
def test_poll_delay_jitter_only_adds_and_at_most_a_tenth_of_an_interval(polls_done, low, high):
    rng = random.Random(7)
    delays = [retry.poll_delay(polls_done, rng) for _ in range(500)]
    assert all(low <= d <= high for d in delays)
    assert len({round(d, 6) for d in delays}) > 400  # jittered, not constant


@pytest.mark.parametrize("first", [0.0, 3.0, 45.0, retry.FIRST_POLL_DELAY, 250.0])
def test_queries_per_task_stay_within_the_target_bound(first):
    """ceil(generation / interval) + 1 queries at most, whatever the first poll: later polls only
    ever come an interval or more apart."""
    import math

    rng = random.Random(11)
    for generation in (5, 9.9, 10, 31, 90, 95, 120, 165, 240, 600):
        elapsed, queries = 0.0, 0
        while True:
            elapsed += retry.poll_delay(queries, rng, first=first)
            queries += 1
            if elapsed >= generation:
                break
        assert queries <= math.ceil(generation / retry.POLL_INTERVAL) + 1, (first, generation)


def test_adaptive_rate_halves_but_not_below_what_the_server_accepted():
    rate = retry.AdaptiveRate(ceiling=40)
    rate.on_rate_limited(accepted_in_window=20)  # told 2x the real 20
    assert rate.allowed == 20
    rate = retry.AdaptiveRate(ceiling=20)
    rate.on_rate_limited(accepted_in_window=3)  # a shared account: the server took only 3
    assert rate.allowed == 10
    for _ in range(4):
        rate.on_rate_limited(accepted_in_window=0)
    assert rate.allowed == 1  # never below the floor


def test_adaptive_rate_recovers_fast_to_learned_capacity_then_only_probes():
    rate = retry.AdaptiveRate(ceiling=40)
    rate.on_rate_limited(accepted_in_window=20)
    rate.rate = 10.0  # as if a few more 1002s pushed it down
    for _ in range(150):
        rate.on_success()
    assert rate.allowed == 20  # back to the learned capacity quickly...
    for _ in range(200):  # ...then ~10 windows of clean creates per extra request per window
        rate.on_success()
    assert 20 <= rate.allowed <= 21
    for _ in range(10000):
        rate.on_success()
    assert rate.allowed == 40  # never above the ceiling


def test_unknown_rpm_means_no_limit_until_the_first_rate_limit():
    rate = retry.AdaptiveRate(ceiling=None)
    assert rate.allowed is None
    rate.on_success()
    assert rate.allowed is None
    rate.on_rate_limited(accepted_in_window=5)
    assert rate.allowed == 5


@pytest.mark.parametrize("failures, ends", [(1, False), (retry.MAX_READ_ATTEMPTS - 1, False),
                                            (retry.MAX_READ_ATTEMPTS, True)])
def test_read_failures_end_the_read_at_the_limit(failures, ends):
    reads = retry.ReadFailures(random.Random(1))
    last = [reads.add() for _ in range(failures)][-1]
    assert last is ends


def test_read_failures_back_off_as_their_count_grows_and_reset_on_an_answer():
    reads = retry.ReadFailures(random.Random(1))
    assert reads.backoff() == 0.0  # nothing failed: no wait, no random draw
    reads.add()
    reads.add()
    assert reads.backoff() == retry.backoff_delay(2, random.Random(1))
    reads.reset()
    assert reads.count == 0 and not reads.add()
