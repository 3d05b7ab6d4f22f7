"""Retry, backoff, polling and pacing decisions: small pure functions beside named constants.

Times are API seconds (real seconds at time scale 1.0); the run's clock (pipeline/run/clock.py)
scales them when it drives the simulator's fast clock, so the same policy runs in tests and
against the real API.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BACKOFF_BASE = 2.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 60.0
RATE_LIMIT_BACKOFF_BASE = 10.0  # a 1002 says "later", not "again": wait longer than for a blip
MAX_CREATE_ATTEMPTS = 8  # creates refused with proof that no task was made
MAX_READ_ATTEMPTS = 10  # consecutive failures of one query/retrieve/download before the take fails
POLL_INTERVAL = 10.0  # the documented recommendation
FIRST_POLL_DELAY = 90.0  # the documented 1.5 to 4 minutes: only when asked for a fixed first poll
POLL_JITTER = 0.1  # up to +10% of an interval, so polls of tasks created together spread out
POLL_DEADLINE = 3600.0  # a task still unfinished after an hour is reported, not polled forever
RATE_WINDOW = 60.0  # "requests per minute", read strictly as any 60 s window
RATE_WINDOW_MARGIN = 1.02  # our send time is not the server's receive time
MAX_RATE_LIMITED = 20  # rate-limit answers to one take's create before it waits for the next run
MAX_NOT_FOUND = 3  # "no such task" answers to a query of a task we created, before it counts as failed
MAX_EMPTY_SUCCESS = 5  # "Success" answers with no file_id before the take is left pending
REQUEST_BUDGET = 30  # requests one take may make beyond one per poll interval of its life


def request_budget(elapsed: float, interval: float = POLL_INTERVAL) -> int:
    """Requests a take may have made after `elapsed` seconds (time scale 1): a tight loop against
    a misbehaving server ends the take as pending; honest polling (one per interval) never does."""
    return REQUEST_BUDGET + int(elapsed / max(interval, 1e-9))


def backoff_delay(attempt: int, rng: random.Random, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng.uniform(0.0, min(cap, base * (2 ** max(0, attempt))))


def poll_delay(polls_done: int, rng: random.Random, *, first: float = FIRST_POLL_DELAY,
               interval: float = POLL_INTERVAL) -> float:
    """Seconds to wait before the next query of a task that has been polled `polls_done` times.

    The jitter only adds, and by at most POLL_JITTER of an interval: polls at least an interval
    apart after any first poll keep a task within ceil(generation / interval) + 1 queries, and a
    first poll aimed at a learned completion time (pipeline/run/gentime.py) stays where it was aimed.
    """
    if polls_done == 0:
        return first + rng.uniform(0.0, POLL_JITTER * interval)
    return interval * rng.uniform(1.0, 1.0 + POLL_JITTER)


class ReadFailures:
    """Consecutive failures of one read (a task's queries, a take's retrieve and download): each
    is followed by a backoff, and the MAX_READ_ATTEMPTS-th ends the take, pending."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.count = 0

    def add(self) -> bool:
        """Count one failure; True when it is the last one allowed."""
        self.count += 1
        return self.count >= MAX_READ_ATTEMPTS

    def reset(self) -> None:
        """The read got an answer: the next failure is a first one again."""
        self.count = 0

    def backoff(self) -> float:
        """Seconds to wait before trying again (0 with no failure counted)."""
        return backoff_delay(self.count, self.rng) if self.count else 0.0


PROBE_STEP = 0.1  # above the learned capacity, creep up ten times slower: one probe per ~10 windows


@dataclass
class AdaptiveRate:
    """Creates per window, AIMD: decrease on a rate-limit answer, creep back up to the ceiling.

    The decrease halves the rate but never below what the server just accepted in the last
    window: that many creates were proven fine, and a windowed server refills on schedule. Up to
    that learned capacity the rate climbs one per window per `rate` successes; above it, it only
    probes (PROBE_STEP), so an overestimated RPM costs a handful of 1002 answers, not a steady
    stream. `ceiling` None means the RPM is unknown: no limit until the server says so.
    """

    ceiling: float | None
    rate: float | None = None
    learned: float | None = None
    floor: float = 1.0

    def __post_init__(self) -> None:
        if self.rate is None:
            self.rate = self.ceiling

    def on_rate_limited(self, accepted_in_window: int) -> None:
        current = self.rate if self.rate is not None else float(max(accepted_in_window, 1)) * 2
        self.learned = max(self.floor, float(accepted_in_window))
        self.rate = max(self.floor, min(current, max(current / 2, float(accepted_in_window))))

    def on_success(self) -> None:
        if self.rate is None:
            return
        step = 1.0 if self.learned is None or self.rate < self.learned else PROBE_STEP
        top = self.ceiling if self.ceiling is not None else float("inf")
        self.rate = min(top, self.rate + step / max(self.rate, 1.0))

    @property
    def allowed(self) -> int | None:
        """Whole creates allowed per window now; None for no limit."""
        return None if self.rate is None else max(int(self.floor), int(self.rate))
