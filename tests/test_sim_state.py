"""The simulator's state_dir: tasks and files outlive the simulator that made them.

A second Simulator on the same folder (a new process, as far as the simulator can tell: a new
engine, a new render cache, a new port) answers query, retrieve and download for the first
one's tasks with their original schedule, and never hands out an id the folder already holds.
The real client talks to the real simulator over loopback; nothing of ours is mocked.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from pipeline.minimax.client import MiniMaxClient, ShotRejectedError, TaskNotFoundError
from pipeline.sim import SimConfig, Simulator, add_sim_arguments, config_from_args

KEY = "sim-key"
FAST = 0.001
T2V = {"model": "MiniMax-Hailuo-02", "prompt": "A lighthouse at dusk [Push in].", "duration": 6, "resolution": "768P"}


def run(coro):
    return asyncio.run(coro)


def start(state_dir: Path | None, **overrides) -> Simulator:
    """A simulator with its own temporary render cache, as a fresh process would have."""
    overrides.setdefault("time_scale", FAST)
    return Simulator(SimConfig(state_dir=state_dir, **overrides)).start()


async def until_done(client: MiniMaxClient, task_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        status = await client.query(task_id)
        if status.status in ("Success", "Fail"):
            return status
        assert time.monotonic() < deadline, f"task {task_id} still {status.status}"
        await asyncio.sleep(0.01)


async def fetch(client: MiniMaxClient, file_id: str, path: Path) -> str:
    info = await client.retrieve(file_id)
    got = await client.download(info.download_url, path)
    return got.sha256


def test_a_second_simulator_on_the_same_folder_answers_for_the_first_ones_tasks(tmp_path):
    state = tmp_path / "state"
    first = start(state)
    try:
        async def make():
            async with MiniMaxClient(api_key=KEY, base_url=first.base_url) as client:
                done_id = await client.create(T2V)
                done = await until_done(client, done_id)
                sha = await fetch(client, done.file_id, tmp_path / "first.mp4")
                # Still generating when its simulator goes away: a slow clock for this one only.
                return done_id, done.file_id, sha

        done_id, file_id, sha = run(make())
        schedule = {t["task_id"]: t for t in first.tasks()}
    finally:
        first.stop()

    # The pending task: made by a simulator on a slower clock, so it is mid-flight when it stops.
    slow = start(state, time_scale=0.002)
    try:
        async def make_pending():
            async with MiniMaxClient(api_key=KEY, base_url=slow.base_url) as client:
                return await client.create({**T2V, "prompt": "The keeper turns [Static shot]."})

        pending_id = run(make_pending())
        schedule.update({t["task_id"]: t for t in slow.tasks()})
        assert slow.tasks()[-1]["status"] != "Success"
    finally:
        slow.stop()

    second = start(state)
    try:
        assert {t["task_id"]: (t["created_at"], t["finished_at"], t["file_id"]) for t in second.tasks()} == {
            i: (t["created_at"], t["finished_at"], t["file_id"]) for i, t in schedule.items()
        }

        async def resume():
            async with MiniMaxClient(api_key=KEY, base_url=second.base_url) as client:
                again = await client.query(done_id)
                assert (again.status, again.file_id) == ("Success", file_id)
                # The render cache went with the first simulator: the same video is made again.
                assert await fetch(client, file_id, tmp_path / "again.mp4") == sha
                later = await until_done(client, pending_id)
                assert later.status == "Success"
                await fetch(client, later.file_id, tmp_path / "pending.mp4")
                return await client.create(T2V), later.file_id

        new_id, pending_file = run(resume())
    finally:
        second.stop()
    assert new_id not in (done_id, pending_id)
    assert hashlib.sha256((tmp_path / "again.mp4").read_bytes()).hexdigest() == sha
    # The key is not written down: only a hash of it.
    for path in state.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_ids_from_separate_simulators_with_the_same_seed_do_not_collide(tmp_path):
    def ids(state_dir: Path | None) -> list[tuple[str, str]]:
        sim = start(state_dir, seed=7)
        try:
            async def make():
                async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
                    return [await client.create(T2V) for _ in range(3)]

            made = run(make())
            files = {t["task_id"]: t["file_id"] for t in sim.tasks()}
            return [(task_id, files[task_id]) for task_id in made]
        finally:
            sim.stop()

    one, two, other = ids(tmp_path / "a"), ids(tmp_path / "a"), ids(tmp_path / "b")
    task_ids = [t for t, _ in one + two + other]
    file_ids = [f for _, f in one + two + other]
    assert len(set(task_ids)) == 9 and len(set(file_ids)) == 9
    assert all(t.isdigit() and 15 <= len(t) <= 18 for t in task_ids)
    # Without a state folder the ids stay a function of the seed (reproducible test runs).
    assert ids(None) == ids(None)


def test_a_torn_last_line_loses_only_that_task(tmp_path):
    state = tmp_path / "state"
    sim = start(state)
    try:
        async def make():
            async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
                return await client.create(T2V)

        kept = run(make())
    finally:
        sim.stop()
    journals = [p for p in state.iterdir() if p.suffix == ".jsonl"]
    assert len(journals) == 1
    with open(journals[0], "ab") as f:
        f.write(b'{"task_id": "12345678901234567", "ke')  # a write cut short by kill -9

    sim = start(state)
    try:
        async def more():
            async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
                assert (await until_done(client, kept)).status == "Success"
                return await client.create(T2V)

        added = run(more())
    finally:
        sim.stop()
    sim = start(state)
    try:
        assert [t["task_id"] for t in sim.tasks()] == [kept, added]
    finally:
        sim.stop()


def test_one_state_folder_serves_one_simulator_at_a_time(tmp_path):
    sim = start(tmp_path / "state")
    try:
        with pytest.raises(ValueError, match="in use"):
            start(tmp_path / "state")
    finally:
        sim.stop()
    start(tmp_path / "state").stop()  # free again once the first one stopped


def test_shots_sim_state_dir_option(tmp_path):
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    assert config_from_args(parser.parse_args([])).state_dir is None
    assert Path(config_from_args(parser.parse_args(["--state-dir", str(tmp_path)])).state_dir) == tmp_path


def test_the_client_says_the_server_has_no_such_task_and_does_not_blame_the_key(tmp_path):
    sim = start(None)
    try:
        async def main():
            async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
                with pytest.raises(TaskNotFoundError) as task:
                    await client.query("999999999999999")
                with pytest.raises(TaskNotFoundError) as file:
                    await client.retrieve("123456789012345")
                return task.value, file.value

        task, file = run(main())
    finally:
        sim.stop()
    assert isinstance(task, ShotRejectedError) and task.code == 2013 and task.trace_id
    assert str(task).startswith("the server has no task 999999999999999: "
                                "it may have expired or been made with another key")
    assert str(file).startswith("the server has no file 123456789012345: "
                                "it may have expired or been made with another key")
    for error in (task, file):
        assert "key that created it" not in str(error) and "invalid request" not in str(error)
