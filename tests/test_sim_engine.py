"""The task engine under a fake clock: lifecycle, concurrency schedule, rate limits, ids."""

from __future__ import annotations

import json

import pytest

from pipeline.minimax.catalogue import RESOLUTION_SIZES
from pipeline.sim import SimConfig
from pipeline.sim.codes import ApiError
from pipeline.sim.engine import Engine, LinkError
from pipeline.sim.ratelimit import BucketLimiter, WindowLimiter
from pipeline.sim.render import VideoCache

BODY = json.dumps({"model": "MiniMax-Hailuo-02", "prompt": "a quiet street"}).encode()


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(clock: Clock, **cfg) -> Engine:
    return Engine(SimConfig(**cfg), now=clock)


def code_of(fn, *args) -> int:
    try:
        fn(*args)
    except ApiError as exc:
        return exc.code
    return 0


def test_status_is_a_function_of_the_clock():
    clock = Clock()
    engine = make(clock, preparing=(2, 2), queueing=(3, 3), processing=(5, 5), time_scale=0.5)
    task = engine.create("sim-key", BODY)
    t0 = clock.t
    for dt, status in [(0, "Preparing"), (0.99, "Preparing"), (1.0, "Queueing"), (2.49, "Queueing"),
                       (2.5, "Processing"), (4.99, "Processing"), (5.0, "Success"), (500, "Success")]:
        clock.t = t0 + dt
        assert engine.query("sim-key", task.task_id)["status"] == status, dt


def test_phase_durations_are_drawn_from_the_ranges_and_scaled():
    clock = Clock()
    engine = make(clock, preparing=(1, 5), queueing=(0, 30), processing=(90, 240), time_scale=0.01)
    for _ in range(50):
        t = engine.create("sim-key", BODY)
        assert 0.01 <= t.queued_at - t.created_at <= 0.05
        assert 0.0 <= t.started_at - t.queued_at <= 0.30
        assert 0.90 <= t.finished_at - t.started_at <= 2.40


def test_concurrency_cap_starts_tasks_in_creation_order_as_slots_free():
    clock = Clock()
    engine = make(clock, concurrency=2, seed=5, preparing=(0, 2), queueing=(0, 5), processing=(10, 40))
    tasks = []
    for _ in range(12):
        tasks.append(engine.create("sim-key", BODY))
        clock.t += 1.5
    starts = [t.started_at for t in tasks]
    assert all(t.started_at >= t.queued_at for t in tasks)
    # at any instant no more than two are Processing, and some had to wait for a slot
    for t in starts:
        assert sum(1 for x in tasks if x.started_at <= t < x.finished_at) <= 2
    assert any(t.started_at > t.queued_at + 5 for t in tasks)
    # a task that waited started exactly when an earlier task finished
    ends = {round(t.finished_at, 9) for t in tasks}
    waited = [t for t in tasks if t.started_at > t.queued_at + 5]
    assert all(round(t.started_at, 9) in ends for t in waited)


def test_concurrency_cap_is_per_key():
    clock = Clock()
    engine = make(clock, keys=("a", "b"), concurrency=1, preparing=(0, 0), queueing=(0, 0), processing=(10, 10))
    first, second, other = engine.create("a", BODY), engine.create("a", BODY), engine.create("b", BODY)
    assert second.started_at == first.finished_at and other.started_at == other.created_at


def test_same_seed_same_ids_and_schedule():
    def run(seed):
        clock = Clock()
        engine = make(clock, seed=seed)
        return [(t.task_id, t.file_id, t.finished_at) for t in (engine.create("sim-key", BODY) for _ in range(5))]

    assert run(1) == run(1) and run(1) != run(2)
    for task_id, file_id, _ in run(1):
        assert task_id.isdigit() and 15 <= len(task_id) <= 18 and 0 < file_id < 2**63


@pytest.mark.parametrize("kind", ["window", "bucket"])
def test_rate_limit_refusals_make_no_task(kind):
    clock = Clock()
    engine = make(clock, rpm=2, rate_limiter=kind)
    assert [code_of(engine.create, "sim-key", BODY) for _ in range(4)] == [0, 0, 1002, 1002]
    assert len(engine.tasks()) == 2


def test_window_is_strict_over_any_sixty_seconds():
    clock, t0 = Clock(), Clock().t
    engine = make(clock, rpm=2, rate_limiter="window")
    for dt, expected in [(0, 0), (10, 0), (30, 1002), (59.9, 1002), (60, 0), (65, 1002), (69.9, 1002), (70, 0)]:
        clock.t = t0 + dt
        assert code_of(engine.create, "sim-key", BODY) == expected, dt


def test_bucket_refills_gradually_and_window_does_not():
    results = {}
    for kind in ("window", "bucket"):
        clock = Clock()
        engine = make(clock, rpm=2, rate_limiter=kind)
        t0 = clock.t
        engine.create("sim-key", BODY)
        engine.create("sim-key", BODY)
        clock.t = t0 + 30  # one token back in the bucket; both still inside the window
        results[kind] = [code_of(engine.create, "sim-key", BODY) for _ in range(2)]
    assert results == {"window": [1002, 1002], "bucket": [0, 1002]}


@pytest.mark.parametrize("kind", ["window", "bucket"])
def test_refused_requests_spend_no_quota(kind):
    clock = Clock()
    engine = make(clock, rpm=1, rate_limiter=kind)
    t0 = clock.t
    assert code_of(engine.create, "sim-key", BODY) == 0
    for dt in range(1, 60):  # hammering while refused
        clock.t = t0 + dt
        assert code_of(engine.create, "sim-key", BODY) == 1002
    assert code_of(engine.create, "sim-key", b'{"model": "nope"}') == 2013  # invalid: no quota either
    clock.t = t0 + 60
    assert code_of(engine.create, "sim-key", BODY) == 0


def test_rate_window_follows_time_scale():
    clock = Clock()
    engine = make(clock, rpm=1, time_scale=0.01)  # a 0.6 s minute
    t0 = clock.t
    assert code_of(engine.create, "sim-key", BODY) == 0
    clock.t = t0 + 0.59
    assert code_of(engine.create, "sim-key", BODY) == 1002
    clock.t = t0 + 0.6001  # (a unix-time float cannot hold t0 + 0.6 exactly)
    assert code_of(engine.create, "sim-key", BODY) == 0


def test_rate_limit_is_per_key():
    clock = Clock()
    engine = make(clock, keys=("a", "b"), rpm=1)
    assert [code_of(engine.create, k, BODY) for k in ("a", "a", "b")] == [0, 1002, 0]


@pytest.mark.parametrize("counted", [False, True])
def test_queries_spend_quota_only_when_configured(counted):
    clock = Clock()
    engine = make(clock, rpm=2, rate_limit_queries=counted)
    task = engine.create("sim-key", BODY)
    codes = [code_of(engine.query, "sim-key", task.task_id) for _ in range(3)]
    assert codes == ([0, 1002, 1002] if counted else [0, 0, 0])
    assert code_of(engine.create, "sim-key", BODY) == (1002 if counted else 0)


def test_auth_order_and_codes():
    engine = make(Clock(), keys=("good",), other_region_keys=("cn",), no_balance_keys=("poor",))
    assert code_of(engine.create, None, BODY) == 1004
    assert code_of(engine.create, "bad", BODY) == 1004
    assert code_of(engine.create, "cn", BODY) == 2049
    assert code_of(engine.create, "poor", BODY) == 1008
    assert code_of(engine.create, "poor", b"{}") == 1008  # balance is checked before the body
    assert code_of(engine.query, "poor", "1") == 2013  # a poor key may still query


def test_links_expire_after_the_scaled_ttl(tmp_path):
    clock = Clock()
    engine = Engine(SimConfig(url_ttl=3600, time_scale=0.01, render_height=32, render_fps=2,
                              preparing=(0, 0), queueing=(0, 0), processing=(1, 1)),
                    now=clock, videos=VideoCache(tmp_path))
    task = engine.create("sim-key", BODY)
    clock.t += 1
    url = engine.retrieve("sim-key", str(task.file_id), "http://sim")["file"]["download_url"]
    token = url.split("/download/")[1].split("?")[0]
    assert engine.download(token).exists()
    clock.t += 35.99
    assert engine.download(token).exists()
    clock.t += 0.01
    with pytest.raises(LinkError) as expired:
        engine.download(token)
    assert expired.value.status == 403
    with pytest.raises(LinkError) as unknown:
        engine.download("nope")
    assert unknown.value.status == 404


@pytest.mark.parametrize("resolution", ["512P", "768P", "1080P"])
def test_reported_size_follows_resolution_and_first_frame(resolution, data_url):
    clock = Clock()
    engine = make(clock)
    t2v = engine.create("sim-key", json.dumps({"model": "MiniMax-Hailuo-02", "prompt": "x",
                                               "resolution": resolution if resolution != "512P" else "768P"}).encode())
    assert (t2v.video_width, t2v.video_height) == RESOLUTION_SIZES[t2v.spec.resolution]
    i2v = engine.create("sim-key", json.dumps({"model": "MiniMax-Hailuo-02", "resolution": resolution,
                                               "first_frame_image": data_url(1000, 400)}).encode())
    height = RESOLUTION_SIZES[resolution][1]
    assert i2v.video_height == height and i2v.video_width == round(height * 2.5 / 2) * 2
    url = engine.create("sim-key", json.dumps({"model": "MiniMax-Hailuo-02", "resolution": resolution,
                                               "first_frame_image": "https://x/y.jpg"}).encode())
    assert (url.video_width, url.video_height) == RESOLUTION_SIZES[resolution]


def test_limiters_directly():
    window, bucket = WindowLimiter(3, 10), BucketLimiter(3, 10)
    for limiter in (window, bucket):
        for t in (0, 0, 0):
            assert limiter.allow(t)
            limiter.take(t)
        assert not limiter.allow(0)
    assert not window.allow(9.99) and window.allow(10)
    assert not bucket.allow(3.3) and bucket.allow(3.34)  # 1 token per 3.33 s
