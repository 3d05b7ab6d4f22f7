"""The learned first poll (pipeline/run/gentime.py) as tables: pure functions, no clock, no sleeping.

The last tests drive the learner through a small discrete-event model of the runner (creates
in rate windows, scouts, waiters, polls) for servers that generate in 10 s to 10 minutes, and
check the makespan against the lower bound and every shot's queries against its budget.
"""

import heapq
import math
import random

import pytest

from pipeline.run import gentime, ledger
from pipeline.run.gentime import FirstPoll, GenTimes, Observation

CLS = ("MiniMax-Hailuo-02", "768P", 6)
I = 10.0


@pytest.mark.parametrize("points, curve", [
    ([(5, 1)], [(5, 1.0)]),
    ([(5, 0), (10, 1)], [(5, 0.0), (10, 1.0)]),
    # A violation (done at 5, not done at 8) is pooled into one level.
    ([(5, 1), (8, 0), (12, 1)], [(5, 0.5), (8, 0.5), (12, 1.0)]),
    ([(3, 0), (3, 1), (6, 1)], [(3, 0.5), (6, 1.0)]),
    ([(4, 0), (6, 0), (7, 1), (9, 0), (11, 1), (12, 1)],
     [(4, 0.0), (6, 0.0), (7, 0.5), (9, 0.5), (11, 1.0), (12, 1.0)]),
])
def test_done_curve_is_the_closest_non_decreasing_fit(points, curve):
    got = gentime.done_curve(points)
    assert [t for t, _ in got] == [t for t, _ in curve]
    assert [f for _, f in got] == pytest.approx([f for _, f in curve])


@pytest.mark.parametrize("curve, p, expected", [
    ([(10, 1.0)], 0.95, 10),
    ([(10, 0.0), (14, 1.0)], 0.95, 13.8),  # nothing known between 10 and 14: on the straight line
    ([(10, 0.0), (14, 1.0)], 0.1, 10.4),
    ([(10, 0.5), (20, 1.0)], 0.1, 10),  # reached at the first point
    ([(10, 0.0), (20, 0.5)], 0.95, 20),  # never reached: the last time
])
def test_quantile_reads_the_curve_between_its_points(curve, p, expected):
    assert gentime.quantile(curve, p) == pytest.approx(expected)


@pytest.mark.parametrize("low, high, first", [
    (9.0, 12.0, 12.0),  # spread under an interval: one poll at the high quantile
    (25.0, 36.0, 26.0),  # 26 then 36: the grid passes the high quantile
    (100.0, 260.0, 100.0),
    (95.0, 263.0, 103.0),
    (30.0, 30.0, 30.0),
    (0.0, 5.0, 5.0),
])
def test_the_first_poll_starts_a_grid_that_passes_the_high_quantile(low, high, first):
    got = gentime.grid_start(low, high, I)
    assert got == pytest.approx(first)
    assert low <= got < low + I or got == high
    assert ((high - got) / I) == pytest.approx(round((high - got) / I))


@pytest.mark.parametrize("elapsed, polls, high, catch_ups, expected", [
    (12.0, 1, None, 0, (10.0, False)),  # nothing known: every interval
    (1.0, 1, 12.0, 0, (10.0, False)),  # not yet at the high quantile
    (6.7, 1, 12.0, 0, (5.3, False)),  # the next poll would step over it: lands on it
    (6.7, 2, 12.0, 0, (13.3, False)),  # ...but not before the budget allows poll 3 (20 s in)
    (12.5, 1, 12.0, 0, (3.0, True)),  # past it: again after CATCH_UP of an interval
    (15.5, 2, 12.0, 1, (4.5, True)),  # ...but not before the budget allows poll 3 (20 s in)
    (21.0, 3, 12.0, 2, (10.0, False)),  # CATCH_UPS used up
    (300.0, 20, 250.0, 0, (3.0, True)),
    (31.0, 1, 31.0, 0, (3.0, True)),
])
def test_next_delay_catches_up_past_the_high_quantile_within_the_budget(elapsed, polls, high, catch_ups, expected):
    assert gentime.next_delay(elapsed, polls, I, high, catch_ups) == pytest.approx(expected)


def test_nothing_known_three_staggered_scouts_then_the_rest_wait():
    gen = GenTimes(I)
    plans = [gen.first_poll(CLS) for _ in range(5)]
    assert [p.source for p in plans] == ["scout", "scout", "scout", "wait", "wait"]
    assert [p.delay for p in plans[:3]] == pytest.approx([I / 3, 2 * I / 3, I])
    assert plans[3] == FirstPoll(120.0, "wait")  # for news, at most until the documented prior
    gen.scout_ended(CLS)  # a scout failed: its place goes to a waiting task
    assert gen.first_poll(CLS).source == "scout"
    assert gen.first_poll(("S2V-01", None, None)).source == "scout"  # each class learns for itself


def test_with_learning_off_the_documented_prior_is_the_first_poll():
    assert GenTimes(I, scouts=0).first_poll(CLS) == FirstPoll(120.0, "prior")
    assert GenTimes(I, scouts=0).first_poll(("MiniMax-Hailuo-02", "1080P", 6)) == FirstPoll(240.0, "prior")


def test_the_first_observation_schedules_the_waiting_tasks_spread_around_it():
    gen = GenTimes(I)
    for _ in range(3):
        gen.first_poll(CLS)
    gen.observe(Observation(CLS, 3.3, 13.4))
    gen.scout_ended(CLS)
    est = gen.estimate(CLS)  # one task, finished in (3.3, 13.4]: the high quantile on the line between
    assert (est.low, est.high, est.first) == pytest.approx((4.31, 12.895, 12.895))
    # Created 2 s ago: spread over +-I/2 around it, none in the past.
    delays = [gen.first_poll(CLS, elapsed=2.0).delay for _ in range(4)]
    assert all(est.first - I / 2 <= d < est.first + I / 2 for d in delays)
    assert len({round(d, 3) for d in delays}) == 4
    # Waited 18 s for the news: past every spread point, asked at once.
    assert [gen.first_poll(CLS, elapsed=18.0).delay for _ in range(4)] == [18.0] * 4


def test_a_confident_estimate_is_the_same_for_every_task():
    gen = GenTimes(I, [Observation(CLS, 0.0, t) for t in (9.0, 10.0, 11.0, 12.0, 12.5)]
                   + [Observation(CLS, 8.0, 18.0)])
    gen.observe(Observation(CLS, 0.0, 11.5))  # this run has seen one: no refresh scout
    plans = [gen.first_poll(CLS, elapsed=0.5) for _ in range(5)]
    # Unfinished at 8, every other point "done": the curve rises from 8 to 9, and a task still
    # running at 8.95 is caught up with (next_delay), not left for an interval.
    assert {p.source for p in plans} == {"learned"}
    assert [p.delay for p in plans] == pytest.approx([8.95] * 5)


@pytest.mark.parametrize("observations, low, high, first", [
    # 10 s generations caught by first polls, one scout unfinished at 7.4: the curve rises 7.4 -> 10.2.
    ([(0, 10.2), (0, 10.9), (0, 11.4), (7.4, 12.0), (0, 11.8), (0, 12.3)], 7.68, 10.06, 10.06),
    # 90-240 s, each seen unfinished and finished an interval apart: half done from 100 to 240 s.
    ([(lo, lo + 10) for lo in range(90, 250, 10)], 92.0, 249.0, 99.0),
    # About 600 s, a narrow spread.
    ([(590, 600), (595, 605), (600, 610), (0, 612), (0, 615)], 596.0, 604.5, 604.5),
    # Nothing but "done by" points: their earliest.
    ([(0, 12), (0, 14)], 12.0, 12.0, 12.0),
])
def test_estimates_from_observations(observations, low, high, first):
    est = gentime.estimate([Observation(CLS, lo, hi) for lo, hi in observations], I)
    assert (est.low, est.high, est.first) == pytest.approx((low, high, first))
    assert est.n == len(observations) and est.trusted


def test_a_class_known_from_earlier_runs_sends_one_refresh_scout_per_run():
    history = [Observation(CLS, 0.0, 11.0 + i / 10) for i in range(10)]
    gen = GenTimes(I, history)
    plans = [gen.first_poll(CLS) for _ in range(4)]
    assert [p.source for p in plans] == ["scout", "learned", "learned", "learned"]
    assert [p.delay for p in plans] == pytest.approx([I / 3, 11.0, 11.0, 11.0])
    gen.scout_ended(CLS)
    assert gen.first_poll(CLS).source == "learned"


def test_tasks_asked_at_the_prior_and_not_done_wait_for_news_instead_of_polling():
    gen = GenTimes(I)
    for _ in range(3):
        gen.first_poll(CLS)
    assert gen.next_poll(CLS, 120.5, 1, 0, scout=False) == (None, False)
    assert gen.next_poll(CLS, 120.5, 1, 0, scout=True) == (I, False)  # scouts go on
    gen.observe(Observation(CLS, 590.0, 600.0))
    assert gen.next_poll(CLS, 130.0, 1, 0, scout=False) == (I, False)
    assert GenTimes(I, scouts=0).next_poll(CLS, 130.0, 1, 0, scout=False) == (I, False)  # learning off


def test_old_ledger_bounds_alone_do_not_hold_tasks_back_to_90_s():
    """Events from before `gen` was recorded say only "done by" (the old first poll was 90 s):
    the class is scouted, and waiting tasks poll at those bounds only if the scouts say nothing sooner."""
    history = [Observation(CLS, 0.0, 92.0 + i, bound=True) for i in range(10)]
    gen = GenTimes(I, history)
    assert [gen.first_poll(CLS).source for _ in range(3)] == ["scout"] * 3
    wait = gen.first_poll(CLS)
    assert wait == FirstPoll(92.0, "wait")
    gen.observe(Observation(CLS, 6.7, 16.9))
    assert gen.first_poll(CLS).delay < 30


def test_history_comes_from_the_ledger_view_new_and_old_events():
    req = {"model": "MiniMax-Hailuo-02", "prompt": "p", "duration": 6, "resolution": "768P"}
    events = [
        {"e": "intent", "t": 100.0, "shot": "a", "take": 1, "fp": "f1", "req": req},
        {"e": "submitted", "t": 100.5, "shot": "a", "take": 1, "fp": "f1", "task_id": "1"},
        {"e": "succeeded", "t": 200.5, "shot": "a", "take": 1, "fp": "f1", "task_id": "1", "file_id": "9"},
        {"e": "intent", "t": 300.0, "shot": "b", "take": 1, "fp": "f2", "req": req},
        {"e": "submitted", "t": 300.1, "shot": "b", "take": 1, "fp": "f2", "task_id": "2"},
        {"e": "succeeded", "t": 300.3, "shot": "b", "take": 1, "fp": "f2", "task_id": "2", "file_id": "8",
         "gen": [9.1, 11.2]},
        {"e": "downloaded", "t": 300.4, "shot": "b", "take": 1, "fp": "f2", "file": "b.mp4", "bytes": 1,
         "sha256": "x"},
        {"e": "intent", "t": 400.0, "shot": "c", "take": 1, "fp": "f3", "req": req},  # never answered
    ]
    view = ledger.replay(events)
    state = view.get("b", 1, "f2")
    assert (state.submitted_at, state.succeeded_at, state.generation) == (300.1, 300.3, [9.1, 11.2])
    assert gentime.history_from_view(view, time_scale=0.5) == [
        Observation(CLS, 0.0, 200.0, bound=True),  # 100 real seconds at time scale 0.5
        Observation(CLS, 9.1, 11.2),
    ]


# -- the policy over whole runs, in a discrete-event model of the runner --------------------------


def simulate(gens, created, *, interval=I, jitter=0.1, latency=0.05, history=(), seed=1):
    """Per task: (seen done at, queries). Mirrors Runner._poll: scouts; tasks waiting for news of
    their class (at most until the prior); first polls plus up to `jitter` of an interval, never
    before the budget allows; later polls from GenTimes.next_poll."""
    rng = random.Random(seed)
    gen = GenTimes(interval, history)
    n = len(gens)
    events = [(created[i], i, "plan") for i in range(n)]
    heapq.heapify(events)
    lo, queries, seen, scout, catch_ups = [0.0] * n, [0] * n, [None] * n, [False] * n, [0] * n
    waiting: set[int] = set()

    def first(t, i, delay):
        due = created[i] + delay + rng.uniform(0, jitter * interval)
        heapq.heappush(events, (max(t, due, created[i] + queries[i] * interval), i, "poll"))

    while events:
        t, i, kind = heapq.heappop(events)
        elapsed = t - created[i]
        if kind == "plan":
            plan = gen.first_poll(CLS, elapsed)
            if plan.source == "wait":
                waiting.add(i)
                heapq.heappush(events, (created[i] + plan.delay, i, "cap"))
            else:
                scout[i] = scout[i] or plan.scout
                first(t, i, plan.delay)
            continue
        if kind == "cap":
            if i in waiting:  # no news in time: asked at the cap
                waiting.discard(i)
                first(t, i, elapsed)
            continue
        queries[i] += 1
        if elapsed + latency >= gens[i]:  # the server sees the query `latency` after it is sent
            seen[i] = t + 2 * latency
            gen.observe(Observation(CLS, lo[i], elapsed + 2 * latency))
            if scout[i]:
                gen.scout_ended(CLS)
            for j in waiting:
                heapq.heappush(events, (seen[i], j, "plan"))
            waiting.clear()
            continue
        lo[i] = elapsed
        step, caught = gen.next_poll(CLS, elapsed + 2 * latency, queries[i], catch_ups[i], scout[i])
        catch_ups[i] += caught
        if step is None:
            waiting.add(i)
        else:
            heapq.heappush(events, (t + 2 * latency + step * rng.uniform(1, 1 + jitter), i, "poll"))
    return seen, queries


REGIMES = {  # preparing, queueing, processing: as bench/throughput.py --regimes
    "10 s": ((1, 2), (0, 1), (7, 9)),
    "30 s": ((1, 3), (0, 5), (22, 28)),
    "90-240 s": ((1, 5), (0, 30), (90, 240)),
    "600 s": ((1, 5), (0, 30), (570, 630)),
    "10 minutes+-": ((1, 5), (0, 60), (500, 700)),
}


def draw(regime, n, seed, rpm=20):
    rng = random.Random(seed)
    prep, queue, proc = REGIMES[regime]
    gens = [rng.uniform(*prep) + rng.uniform(*queue) + rng.uniform(*proc) for _ in range(n)]
    # Creates as the runner sends them: R per window (2% margin), ~0.1 s apart.
    created = [(i // rpm) * 60 * 1.02 + (i % rpm) * 0.1 for i in range(n)]
    bound = max((i // rpm) * 60 + g for i, g in enumerate(gens))
    return gens, created, bound


@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("n", [30, 200])
def test_every_regime_near_the_lower_bound_and_within_the_query_budget(regime, n):
    for seed in range(10):
        gens, created, bound = draw(regime, n, seed)
        seen, queries = simulate(gens, created, seed=seed)
        makespan = max(seen) + 0.5  # + a download
        assert makespan <= 1.10 * bound, (regime, n, seed, makespan, bound)
        for g, q in zip(gens, queries):
            assert q <= math.ceil(g / I) + 1, (regime, seed, g, q)


@pytest.mark.parametrize("regime", ["10 s", "90-240 s"])
def test_a_second_run_starts_from_the_first_runs_observations(regime):
    gens, created, _ = draw(regime, 30, 1)
    seen, _ = simulate(gens, created)
    history = [Observation(CLS, 0.0, s - c) for s, c in zip(seen, created)]  # "done by" only: the worst case
    gens2, created2, bound2 = draw(regime, 30, 2)
    seen2, queries2 = simulate(gens2, created2, history=history)
    assert max(seen2) + 0.5 <= 1.10 * bound2
    assert all(q <= math.ceil(g / I) + 1 for g, q in zip(gens2, queries2))


@pytest.mark.parametrize("interval", [0.5, 10.0, 30.0])
@pytest.mark.parametrize("generation", [3.0, 9.5, 10.0, 31.0, 95.0, 240.0, 601.0])
def test_queries_stay_within_the_budget_whatever_the_estimate(interval, generation):
    """Any first poll, then next_delay (catch-ups included) with the jitter that only adds."""
    rng = random.Random(5)
    for first in (0.0, 0.3 * interval, generation / 2, generation - 0.01, generation, 2 * generation):
        for high in (None, 0.0, generation / 3, generation * 0.9):
            t, polls, catch_ups = first, 0, 0
            while True:
                polls += 1
                if t >= generation:
                    break
                step, caught = gentime.next_delay(t, polls, interval, high, catch_ups)
                catch_ups += caught
                t += step * rng.uniform(1.0, 1.1)
            assert polls <= math.ceil(generation / interval) + 1, (first, high)
