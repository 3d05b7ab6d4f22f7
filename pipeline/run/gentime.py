"""How long a video takes to generate, learned, and so when to ask a task whether it is done.

A poll before the video exists is a wasted query; one long after it is a late video. The time
depends on the model, resolution and duration, on the server and on the hour, so it is learned
per class (model, resolution, duration) from this run's finished tasks and from earlier runs in
the ledger. The documented 1.5 to 4 minutes (catalogue.expected_generation_seconds) is only the
prior, used when learning is switched off (`scouts=0`).

What polling shows is censored: a finished task tells only that its generation took more than
`lo` (its last "not yet", 0 if none) and at most `hi` (its first "done"), in seconds after the
create was answered. The fraction of a class done by time t is estimated from the points
(lo, not done) and (hi, done) of its recent tasks by isotonic regression (pool adjacent
violators: the maximum-likelihood estimate for such "current status" data), and read at a low
and a high quantile.

The policy, in API seconds (time scale 1; the run's clock scales them), interval I:
- Nothing known for a class: its first SCOUTS tasks are scouts, polled every interval from the
  start at staggered phases (I/3, 2I/3, I), so together they time completions to a third of an
  interval. The class's other tasks wait for the first scout to finish, but no longer than the
  prior: then they are asked once, and if not done wait again for the news (not polled every
  interval: a class of 10-minute videos would cost each of them 50 queries). A scout that ends
  without an answer hands its place to a waiting task.
- An estimate exists: the first poll at `grid_start(low, high, I)`, at or just after the low
  quantile and a whole number of intervals before the high one, then every interval. A class
  that spreads less than an interval is caught by one query at its high quantile; a wider one
  is polled from its low quantile, and the grid passes the high quantile.
- No poll steps over the high quantile (a scout's, or one the jitter moved, lands on it), and a
  task still running once it has passed is late against what the class showed: it is asked
  again after CATCH_UP of an interval instead of a whole one, up to CATCH_UPS times. The
  estimate can then err low at the cost of a few seconds, not an interval.
- While a class has fewer than CONFIDENT observations, first polls are spread over +-I/2 around
  that point (a task already past its spread point is asked at once), so a burst of tasks
  created together samples the curve at many times, not at one.
- A class known only from earlier runs sends REFRESH_SCOUTS scout per run: tasks caught by their
  first poll only say "done by then", so without a scout a server that got faster would never
  be noticed. (A scout in flight at all times was tried: in the model it cut the worst mean lag
  of 200 shots of 90-240 s from 21 to 17 s, and a scout in the last window cost short runs
  their makespan target.) Ledgers written before `gen` was recorded give only such "done by" bounds (their
  first poll was a fixed 90 s): they do not make a class known, they only cap how long its
  waiting tasks wait for the scouts.

Queries per task stay within ceil(generation / I) + 1 whatever the estimate: the first poll comes
at or after the create, and the k-th poll at least (k - 1) intervals after the create
(`next_delay` holds that floor), so the poll before the one that finds the video was sent at
least (k - 2) intervals in, before the generation ended.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

from pipeline.minimax import catalogue

Class = tuple[str, Any, Any]  # (model, resolution, duration) as the request sends them

SCOUTS = 3  # tasks of an unknown class polled every interval from the start
REFRESH_SCOUTS = 1  # per run, for a class known only from earlier runs
LOW_QUANTILE = 0.1  # first polls start about here...
HIGH_QUANTILE = 0.95  # ...and the poll grid passes here
CATCH_UP = 0.3  # of an interval: the next poll of a task running past its class's high quantile
CATCH_UPS = 2  # such quick polls per task at most
CONFIDENT = 5  # observations of a class before its first polls stop being spread
WINDOW = 50  # the most recent observations of a class that count (generation times drift)
GOLDEN = 0.6180339887498949  # spreads the k-th first poll evenly, whatever k


@dataclass(frozen=True)
class Observation:
    cls: Class
    lo: float  # seen unfinished this long after the create's answer (0: never)
    hi: float  # seen finished this long after it
    bound: bool = False  # from a ledger that did not record lo: "done by hi", nothing more


@dataclass(frozen=True)
class Estimate:
    n: int  # observations behind it
    trusted: bool  # some of them are more than "done by" bounds
    low: float  # LOW_QUANTILE of the generation time
    high: float  # HIGH_QUANTILE
    first: float  # the first poll: grid_start(low, high, interval)


@dataclass(frozen=True)
class FirstPoll:
    """When to ask a newly created task first. `delay` None: wait for news of its class."""

    delay: float | None  # seconds after the create's answer; with "wait": poll then if no news came
    source: Literal["learned", "scout", "prior", "wait"]

    @property
    def scout(self) -> bool:
        return self.source == "scout"


def task_class(request: dict[str, Any] | None) -> Class:
    """The class of a canonical request: what its generation time depends on that a run can see."""
    request = request or {}
    return (str(request.get("model", "")), request.get("resolution"), request.get("duration"))


def prior_seconds(cls: Class) -> float:
    """The documented generation time of a class: the prior, when nothing is learned."""
    return catalogue.expected_generation_seconds(cls[0], cls[1] or "")


def done_curve(points: Iterable[tuple[float, int]]) -> list[tuple[float, float]]:
    """(t, estimated fraction done by t) at each distinct t of (t, done 0/1) points: the
    non-decreasing fit closest to them (pool adjacent violators)."""
    cells: dict[float, list[float]] = {}
    for t, done in points:
        cell = cells.setdefault(t, [0.0, 0.0])
        cell[0] += done
        cell[1] += 1
    times = sorted(cells)
    blocks: list[list[float]] = []  # [done, count, distinct times]
    for t in times:
        blocks.append([cells[t][0], cells[t][1], 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            done, count, width = blocks.pop()
            blocks[-1] = [blocks[-1][0] + done, blocks[-1][1] + count, blocks[-1][2] + width]
    curve: list[tuple[float, float]] = []
    for done, count, width in blocks:
        curve += [(t, done / count) for t in times[len(curve):len(curve) + int(width)]]
    return curve


def quantile(curve: list[tuple[float, float]], p: float) -> float:
    """When the curve reaches p, read on the straight line from the point before (between two
    points nothing is known, so no end of the gap is favoured); its last time if it never does."""
    before: tuple[float, float] | None = None
    for t, done in curve:
        if done >= p - 1e-9:
            if before is None or done <= before[1]:
                return t
            return before[0] + (t - before[0]) * (p - before[1]) / (done - before[1])
        before = (t, done)
    return curve[-1][0]


def grid_start(low: float, high: float, interval: float) -> float:
    """The first poll: the latest time at or after `low` a whole number of intervals before `high`."""
    if interval <= 0 or high <= low:
        return max(high, 0.0)
    return max(0.0, high - interval * math.floor((high - low) / interval))


def estimate(observations: Iterable[Observation], interval: float) -> Estimate | None:
    """The first-poll estimate from a class's observations; None when there are none."""
    points: list[tuple[float, int]] = []
    n, trusted = 0, False
    for obs in observations:
        n += 1
        trusted = trusted or not obs.bound
        if 0 < obs.lo < obs.hi:
            points.append((obs.lo, 0))
        points.append((obs.hi, 1))
    if not points:
        return None
    curve = done_curve(points)
    low, high = quantile(curve, LOW_QUANTILE), quantile(curve, HIGH_QUANTILE)
    return Estimate(n, trusted, low, high, grid_start(low, high, interval))


def spread(k: int, interval: float) -> float:
    """The k-th offset of spread first polls, in [-interval/2, interval/2): even for any count."""
    return ((k * GOLDEN) % 1.0 - 0.5) * interval


def scout_phase(j: int, interval: float, scouts: int = SCOUTS) -> float:
    """The first poll of the j-th scout of a class: (j+1)/scouts of an interval after the create."""
    scouts = max(scouts, 1)
    return interval * ((j % scouts) + 1) / scouts


def next_delay(elapsed: float, polls: int, interval: float, high: float | None, catch_ups: int) -> tuple[float, bool]:
    """(seconds until the next poll, whether it is a catch-up) for a task still running `elapsed`
    seconds after its create, asked `polls` times so far, of a class whose high quantile is
    `high` (None: not known): an interval, but a poll that would step over the high quantile
    lands on it, and past it the task is asked again after CATCH_UP of an interval (CATCH_UPS
    times). Never sooner than the budget allows: poll k+1 at least k intervals in."""
    floor = polls * interval - elapsed
    if high is not None and elapsed < high < elapsed + interval:
        return max(high - elapsed, floor), False
    if high is not None and elapsed >= high and catch_ups < CATCH_UPS:
        return max(CATCH_UP * interval, floor), True
    return interval, False


@dataclass
class _ClassState:
    observed: deque[Observation] = field(default_factory=lambda: deque(maxlen=WINDOW))
    from_run: int = 0  # observations made in this run
    scouts_started: int = 0
    scouts_active: int = 0
    spread: int = 0  # first polls spread so far
    cached: Estimate | None = None
    dirty: bool = True


class GenTimes:
    """The learner: fed observations, asked when to poll. Pure: no clock, no I/O.

    `scouts` 0 switches learning off for classes with nothing known: their first poll is the prior.
    """

    def __init__(self, interval: float, history: Iterable[Observation] = (), *, scouts: int = SCOUTS,
                 refresh_scouts: int = REFRESH_SCOUTS):
        self.interval = interval
        self.scouts = scouts
        self.refresh_scouts = min(refresh_scouts, scouts)
        self._classes: dict[Class, _ClassState] = {}
        for obs in history:
            self._state(obs.cls).observed.append(obs)

    def _state(self, cls: Class) -> _ClassState:
        state = self._classes.get(cls)
        if state is None:
            state = self._classes[cls] = _ClassState()
        return state

    def observe(self, obs: Observation) -> None:
        state = self._state(obs.cls)
        state.observed.append(obs)
        state.from_run += 1
        state.dirty = True

    def estimate(self, cls: Class) -> Estimate | None:
        state = self._state(cls)
        if state.dirty:
            state.cached, state.dirty = estimate(state.observed, self.interval), False
        return state.cached

    def high(self, cls: Class) -> float | None:
        """The class's high quantile, if it is known from more than bounds."""
        known = self.estimate(cls)
        return known.high if known is not None and known.trusted else None

    def first_poll(self, cls: Class, elapsed: float = 0.0) -> FirstPoll:
        """When a task of `cls`, created `elapsed` seconds ago, should be asked first (seconds after
        its create). A scout must call scout_ended when it is done."""
        state = self._state(cls)
        known = self.estimate(cls)
        if known is None or not known.trusted:  # nothing, or only "done by" bounds from old ledgers
            cap = prior_seconds(cls) if known is None else known.first
            if self.scouts <= 0:
                return FirstPoll(cap, "prior" if known is None else "learned")
            if state.scouts_active < self.scouts:
                return self._scout(state)
            return FirstPoll(cap, "wait")
        if state.from_run == 0 and state.scouts_started < self.refresh_scouts:
            return self._scout(state)
        delay = known.first
        if known.n < CONFIDENT:  # few observations: spread the first polls to sample the curve
            delay = max(delay + spread(state.spread, self.interval), elapsed, 0.0)  # a task past it: at once
            state.spread += 1
        return FirstPoll(delay, "learned")

    def _scout(self, state: _ClassState) -> FirstPoll:
        phase = scout_phase(state.scouts_started, self.interval, self.scouts)
        state.scouts_started += 1
        state.scouts_active += 1
        return FirstPoll(phase, "scout")

    def next_poll(self, cls: Class, elapsed: float, polls: int, catch_ups: int, scout: bool) -> tuple[float | None, bool]:
        """(seconds until the next poll of a task still running, whether it is a catch-up). None:
        nothing is known of the class yet, wait for news (then ask first_poll again): a task that
        was asked at the prior and is not done does not poll on every interval like a scout."""
        known = self.estimate(cls)
        high = known.high if known is not None and known.trusted else None
        if scout and known is not None and known.n < CONFIDENT:
            high = None  # the first scouts keep their phases: they time the class for the others
        if high is None and not scout and self.scouts > 0:
            return None, False
        return next_delay(elapsed, polls, self.interval, high, catch_ups)

    def scout_ended(self, cls: Class) -> None:
        state = self._state(cls)
        state.scouts_active = max(0, state.scouts_active - 1)


def history_from_view(view: Any, time_scale: float = 1.0) -> list[Observation]:
    """Observations from earlier runs in a LedgerView, oldest first.

    A `succeeded` event written since this module exists carries `gen`: [lo, hi] at time scale 1.
    Older ones have only the submitted and succeeded times (real seconds): an upper bound only
    (their first poll came at a fixed 90 s), scaled by this run's time scale (the same server at
    the same scale is the usual case).
    """
    found: list[tuple[float, Observation]] = []
    for state in view.states.values():
        gen = getattr(state, "generation", None)
        if gen:
            lo, hi, bound = float(gen[0]), float(gen[1]), False
        else:
            sub, done = getattr(state, "submitted_at", None), getattr(state, "succeeded_at", None)
            if sub is None or done is None or done <= sub:
                continue
            lo, hi, bound = 0.0, (done - sub) / (time_scale or 1.0), True
        if hi > 0:
            when = getattr(state, "succeeded_at", None) or state.updated
            found.append((when, Observation(task_class(state.request), lo, hi, bound)))
    found.sort(key=lambda pair: pair[0])
    return [obs for _, obs in found]
