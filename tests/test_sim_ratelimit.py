"""Rate limits over HTTP, on a scaled clock where one "minute" is one real second.
(The exact boundaries are tested under a fake clock in test_sim_engine.py.)"""

from __future__ import annotations

import time

T2V = {"model": "MiniMax-Hailuo-02", "prompt": "rain on a window"}
MINUTE = 1.0  # real seconds per simulated minute below
SCALE = MINUTE / 60


def codes(client, n: int) -> list[int]:
    return [client.create(**T2V)["base_resp"]["status_code"] for _ in range(n)]


def test_window_limit_answers_1002_and_refusals_spend_nothing(sim_factory, api):
    sim = sim_factory(rpm=2, rate_limiter="window", time_scale=SCALE)
    client = api(sim)
    start = time.monotonic()
    assert codes(client, 3) == [0, 0, 1002]
    refused = client.create(**T2V)
    assert refused == {"task_id": "", "base_resp": {"status_code": 1002, "status_msg": "rate limit exceeded(RPM)"}}
    time.sleep(max(0.0, start + 0.5 - time.monotonic()))
    assert codes(client, 3) == [1002] * 3  # still inside the window; if these spent quota...
    time.sleep(max(0.0, start + MINUTE + 0.1 - time.monotonic()))
    assert codes(client, 3) == [0, 0, 1002]  # ...these would wait until 1.5 s
    assert len(sim.tasks()) == 4 and sim.stats()["answers"]["1002"] == 6


def test_bucket_limit_refills_one_token_at_a_time(sim_factory, api):
    sim = sim_factory(rpm=2, rate_limiter="bucket", time_scale=SCALE)
    client = api(sim)
    start = time.monotonic()
    assert codes(client, 3) == [0, 0, 1002]
    time.sleep(max(0.0, start + MINUTE / 2 + 0.1 - time.monotonic()))  # one token back
    assert codes(client, 2) == [0, 1002]
    assert len(sim.tasks()) == 3


def test_queries_limited_only_when_asked(sim_factory, api):
    free = api(sim_factory(rpm=1, time_scale=SCALE))
    task_id = free.create(**T2V)["task_id"]
    assert [free.query(task_id)["base_resp"]["status_code"] for _ in range(3)] == [0, 0, 0]
    counted = api(sim_factory(rpm=1, time_scale=SCALE, rate_limit_queries=True))
    task_id = counted.create(**T2V)["task_id"]
    assert counted.query(task_id)["base_resp"]["status_code"] == 1002
