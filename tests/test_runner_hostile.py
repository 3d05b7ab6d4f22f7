"""The runner against servers that misbehave (issue 12, points 2, 3, 9, 10): every loop that talks
to a server ends, a full disk never tears a paid task's id, a paid task of an edited or removed
shot is followed to its video, one "task not found" is not taken for a loss."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest

from hostile import Hostile
from conftest import fill
from pipeline.run import ledger, request, workflow
from pipeline.run.specs import take_specs
from pipeline.review import summary
from pipeline.errors import AbortError
from pipeline.run.ledger import LedgerFullError, LedgerWriter
from pipeline.manifest.checker import load

from runs import counting_video, point_at, run_inprocess, t2v_shots, write_manifest

SCALE = 0.001
CREATE, QUERY, RETRIEVE = "/v1/video_generation", "/v1/query/video_generation", "/v1/files/retrieve"


def ok(**fields) -> dict:
    return {**fields, "base_resp": {"status_code": 0, "status_msg": "success"}}


@pytest.fixture
def server(tmp_path):
    """A stubborn MiniMax: creates answer task 't1'; the test sets what queries answer."""
    hostile = Hostile()
    hostile.json(CREATE, ok(task_id="t1"))
    video = counting_video(tmp_path / "served.mp4", frames=144)  # 6 s at 24 fps
    data = video.read_bytes()
    hostile.json(RETRIEVE, ok(file={"file_id": 5, "bytes": len(data),
                                    "download_url": f"{hostile.base_url}/file.mp4"}))
    hostile.routes["/file.mp4"] = lambda h: h.raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n" + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    yield hostile
    hostile.close()


def as_sim(hostile: Hostile) -> SimpleNamespace:
    return SimpleNamespace(base_url=hostile.base_url, cfg=SimpleNamespace(time_scale=SCALE))


def queries(hostile: Hostile) -> int:
    return sum(1 for _, path, _ in hostile.seen if path.startswith(QUERY))


def test_success_without_a_file_id_is_not_polled_forever(server, tmp_path, monkeypatch):
    server.json(QUERY, ok(task_id="t1", status="Success", file_id=""))
    manifest = write_manifest(tmp_path, t2v_shots(1))
    _, result = run_inprocess(manifest, as_sim(server), tmp_path / "o", monkeypatch, rpm=600, first_poll=0)
    (take,) = result.results
    assert take.outcome == "pending" and "Success but gives no file_id" in take.detail
    assert queries(server) <= 5  # was 1,148 queries in 120 s


@pytest.mark.parametrize("code", [1002, "1002"])
def test_a_server_that_always_rate_limits_ends_the_take(server, tmp_path, monkeypatch, code):
    server.json(CREATE, {"task_id": "", "base_resp": {"status_code": code, "status_msg": "rate limit exceeded(RPM)"}})
    manifest = write_manifest(tmp_path, t2v_shots(2))
    _, result = run_inprocess(manifest, as_sim(server), tmp_path / "o", monkeypatch, rpm=600)
    assert [t.outcome for t in result.results] == ["pending", "pending"]
    assert "lower --rpm" in result.results[0].detail
    creates = sum(1 for _, path, _ in server.seen if path == CREATE)
    assert creates <= 2 * 20  # retry.MAX_RATE_LIMITED per take; was 197 creates for 2 shots in 120 s
    assert "intent" in (tmp_path / "o" / "test-run" / "ledger.jsonl").read_text()  # and each was proven unmade
    assert ledger.load(tmp_path / "o" / "test-run").get("s001", 1, result.results[0].spec.fingerprint).state == "new"


def test_one_task_not_found_is_asked_again_not_failed(server, tmp_path, monkeypatch):
    answers = iter([{"task_id": "", "base_resp": {"status_code": 2013, "status_msg": "invalid params"}}])

    def query(h):
        body = next(answers, ok(task_id="t1", status="Success", file_id=5))
        data = json.dumps(body).encode()
        h.raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)

    server.routes[QUERY] = query
    manifest = write_manifest(tmp_path, t2v_shots(1))
    _, result = run_inprocess(manifest, as_sim(server), tmp_path / "o", monkeypatch, rpm=600, first_poll=0)
    assert result.results[0].outcome == "done", result.results[0].detail


def test_a_task_the_server_never_knows_fails_after_a_few_asks(server, tmp_path, monkeypatch):
    server.json(QUERY, {"task_id": "", "base_resp": {"status_code": 2013, "status_msg": "invalid params"}})
    manifest = write_manifest(tmp_path, t2v_shots(1))
    _, result = run_inprocess(manifest, as_sim(server), tmp_path / "o", monkeypatch, rpm=600, first_poll=0)
    (take,) = result.results
    assert take.outcome == "failed" and "server has no task t1" in take.detail
    assert queries(server) == 3  # retry.MAX_NOT_FOUND


# -- a paid task of an edited or removed shot -------------------------------------------------


def test_paid_tasks_of_edited_and_removed_shots_are_followed_to_history(sim, api, tmp_path, monkeypatch):
    point_at(sim, monkeypatch)
    manifest = write_manifest(tmp_path, t2v_shots(3))
    out = tmp_path / "o" / "test-run"
    # A first run created three tasks and was stopped before any came back.
    client = api(sim)
    writer = LedgerWriter(ledger.ledger_path(out))
    specs = take_specs(load(manifest), workflow.endpoint_for("api"))
    for spec in specs:
        writer.write_now(ledger.event("intent", spec.shot.id, 1, spec.fingerprint, req=spec.request, cost=0.28))
        task_id = client.create(**request.api_body(spec.shot, tmp_path))["task_id"]
        writer.write_now(ledger.event("submitted", spec.shot.id, 1, spec.fingerprint, task_id=task_id))
    writer.close()
    # Meanwhile s002's prompt was edited and s003 left the manifest.
    shots = t2v_shots(2)
    shots[1]["prompt"] = "Edited: the storm breaks."
    write_manifest(tmp_path, shots)

    prepared, result = run_inprocess(manifest, sim, tmp_path / "o", monkeypatch, rpm=600)
    assert [r.outcome for r in result.results] == ["done", "done"]
    assert result.creates == 1  # only the edited s002; s001's task was polled, never created again
    followed = {r.spec.shot.id: r for r in result.orphans}
    assert set(followed) == {"s002", "s003"} and all(r.outcome == "done" for r in followed.values())
    for old in (specs[1], specs[2]):
        state = ledger.load(out).get(old.shot.id, 1, old.fingerprint)
        assert state.state == "downloaded" and state.file.startswith("history/")
        assert (out / state.file).is_file()
    assert sim.stats()["requests"]["create"] == 3 + 1  # 3 from the first run, 1 now: nothing paid twice
    assert summary.removed_notes(prepared.plan) == [
        "note: s003 take 1 is in the ledger but no longer in the manifest (its paid task is followed; "
        "the video goes to history/)"]
    again = workflow.prepare(load(manifest), workflow.endpoint_for("api"), tmp_path / "o")
    assert again.plan.idle  # the followed videos are known now: nothing more to follow


# -- a full disk -------------------------------------------------------------------------------


def test_a_full_disk_never_tears_the_line_that_holds_a_task_id(small_disk):
    out = small_disk / "out"
    writer = LedgerWriter(ledger.ledger_path(out))  # keeps its 1 MB reserve
    fill(small_disk)
    told: list[Exception] = []
    writer.on_full = told.append
    written = 0
    while writer.full is None:  # tasks keep being paid for while the ledger's last page fills up
        written += 1
        writer.write_now(ledger.event("submitted", f"s{written:04d}", 1, "f" * 16, task_id=f"paid-{written}"))
        assert written < 100_000
    with pytest.raises(LedgerFullError, match="disk .* is full"):
        writer.write_now(ledger.event("intent", "next", 1, "e" * 16, req={}, cost=0.28))  # nothing new is paid for
    # ...but the answer of a create already in flight is still written, into what the reserve gave back.
    writer.write_now(ledger.event("submitted", "in-flight", 1, "d" * 16, task_id="paid-in-flight"))
    written += 1
    writer.close()
    assert len(told) == 1
    view = ledger.load(out)
    assert {s.task_id for s in view.states.values()} == {f"paid-{n}" for n in range(1, written)} | {"paid-in-flight"}
    assert not view.torn_tail and ledger.ledger_path(out).read_bytes().endswith(b"\n")


def test_a_run_on_a_full_disk_stops_before_paying_anything(sim, small_disk, tmp_path, monkeypatch):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    (small_disk / "out").mkdir()
    fill(small_disk)
    with pytest.raises(AbortError, match="free some space"):
        run_inprocess(manifest, sim, small_disk / "out", monkeypatch, rpm=600)
    assert sim.stats()["requests"].get("create", 0) == 0


def test_a_disk_that_fills_mid_run_stops_it_with_exit_3_and_loses_no_paid_task(sim, small_disk, tmp_path):
    from runs import cli_env, shots_cmd

    manifest = write_manifest(tmp_path, t2v_shots(12))  # ~12 x 240 KB of video: more than the 2 MB disk holds
    out = small_disk / "out"
    env = cli_env(sim)
    full = subprocess.run(shots_cmd("run", str(manifest), "--out", str(out), "--rpm", "600", "--quiet",
                                    "--no-lock-file", "--time-scale", str(SCALE)),
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert full.returncode == 3, full.stderr
    assert "Traceback" not in full.stderr, full.stderr
    assert "free space" in full.stderr or "free some space" in full.stderr
    view = ledger.load(out / "test-run")
    paid = {s.task_id for s in view.states.values() if s.task_id}
    # Room again (the user frees space): the next run finishes every paid task, creates no new one for them.
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    creates_before = sim.stats()["requests"]["create"]
    again = subprocess.run(shots_cmd("run", str(manifest), "--out", str(out), "--rpm", "600", "--quiet", "--json",
                                     "--no-lock-file", "--time-scale", str(SCALE)),
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    view = ledger.load(out / "test-run")
    assert paid <= {s.task_id for s in view.states.values() if s.state == "downloaded"}
    assert sim.stats()["requests"]["create"] - creates_before == 12 - len(paid)


def test_tasks_still_generating_when_the_run_ends_are_said_to_be_billed(server, tmp_path, monkeypatch):
    from pipeline.run import retry
    from pipeline.review import summary

    monkeypatch.setattr(retry, "POLL_DEADLINE", 5.0)  # 5 ms at this time scale: the run ends, the task goes on
    server.json(QUERY, ok(task_id="t1", status="Processing"))
    manifest = write_manifest(tmp_path, t2v_shots(1))
    _, result = run_inprocess(manifest, as_sim(server), tmp_path / "o", monkeypatch, rpm=600, first_poll=0)
    (take,) = result.results
    assert take.outcome == "pending" and take.task_made and result.spent == 0
    text = summary.result_text(result, simulated=False)
    assert "1 task(s) created in this run are still generating: they are billed when they finish ($0.28)" in text


def test_sizes_are_never_zero_point_zero_mb():
    from pipeline.run.store import human_size

    assert [human_size(n) for n in (812, 13_400, 999_499, 3_400_000)] == ["812 bytes", "13 KB", "999 KB", "3.4 MB"]


def test_a_ledger_write_that_fails_does_not_strand_the_ones_queued_behind_it(tmp_path, monkeypatch):
    import asyncio

    writer = LedgerWriter(ledger.ledger_path(tmp_path))
    real_write, calls = writer._write, []

    def fail_first(data: bytes) -> None:
        calls.append(data)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")
        real_write(data)

    monkeypatch.setattr(writer, "_write", fail_first)

    async def both():
        first = asyncio.ensure_future(writer.write(ledger.event("submitted", "a", 1, "f" * 16, task_id="1")))
        await asyncio.sleep(0)  # the first batch is on its way to the writing thread
        second = asyncio.ensure_future(writer.write(ledger.event("submitted", "b", 1, "f" * 16, task_id="2")))
        return await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 10)

    first, second = asyncio.run(both())
    writer.close()
    assert isinstance(first, OSError) and second is None
    assert ledger.load(tmp_path).get("b", 1, "f" * 16).task_id == "2"


def test_a_keyless_run_never_follows_the_real_apis_tasks(tmp_path):
    from pipeline.run.ledger import LedgerView, TakeState
    from pipeline.run.plan import make_plan

    manifest = write_manifest(tmp_path, t2v_shots(1))
    api = "https://api.minimax.io"
    (spec_api,) = take_specs(load(manifest), api)
    (spec_sim,) = take_specs(load(manifest), "simulator")
    paid = TakeState("s001", 1, spec_api.fingerprint, "submitted", task_id="real-1", request=spec_api.request)
    view = LedgerView(states={("s001", 1, spec_api.fingerprint): paid}, latest={("s001", 1): spec_api.fingerprint})
    assert make_plan([spec_sim], view, lambda s: None, endpoint="simulator").orphans == []
    # On its own endpoint, a paid task of an earlier version is followed.
    shots = t2v_shots(1)
    shots[0]["prompt"] = "Edited."
    write_manifest(tmp_path, shots)
    (edited,) = take_specs(load(manifest), api)
    assert [o.state.task_id for o in make_plan([edited], view, lambda s: None, endpoint=api).orphans] == ["real-1"]
