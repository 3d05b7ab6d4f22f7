"""MiniMax-H3 runs end to end: the runner on the v2 dialect against the simulator's v2 side.

The real client and runner, over loopback HTTP: a lost create answer looked up in the task list
(one fit adopted, none resubmitted, several left uncertain), the account's cap on tasks at once
(rejected with 429, or held queued), `shots cancel`, and H3's durations on the 17-frame grid,
probed and recorded in the ledger and the lock file.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import av
import pytest

from pipeline.manifest.checker import load
from pipeline.run import ledger, workflow
from pipeline.run.ledger import LedgerWriter, event
from pipeline.run.options import RunOptions
from pipeline.sim import SimConfig, Simulator, V2Config
from runs import KEY, ROOT, point_at, run_cli, run_inprocess, shots_cmd, write_manifest

FAST = 0.001


@pytest.fixture
def start_sim(tmp_path):
    started = []

    def start(**v2) -> Simulator:
        cfg = SimConfig(keys=(KEY,), time_scale=FAST, render_height=90, render_fps=12,
                        render_cache_dir=tmp_path / f"renders-{len(started)}")
        sim = Simulator(cfg, v2=V2Config(**v2)).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def h3_shots(n: int, **extra) -> list[dict]:
    """n text shots of distinct shapes (durations 4.. s): each lost create has one fit at most."""
    return [{"id": f"h{i:02d}", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9",
             "resolution": "768P", "duration": 3 + i, "prompt": f"Shot {i}: the lighthouse at dusk.", **extra}
            for i in range(1, n + 1)]


def downloaded(out_dir: Path) -> dict[str, dict]:
    return {e["shot"]: e for e in map(json.loads, (out_dir / "ledger.jsonl").read_text().splitlines())
            if e["e"] == "downloaded"}


def test_h3_takes_are_on_the_frame_grid_with_audio_and_their_probed_seconds_recorded(start_sim, tmp_path,
                                                                                       monkeypatch):
    sim = start_sim()
    manifest = write_manifest(tmp_path, h3_shots(2), name="grid")
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, write_lock_file=True)
    assert [r.outcome for r in result.results] == ["done", "done"]
    events = downloaded(prepared.out_dir)
    for shot, frames in (("h01", 107), ("h02", 124)):  # 4 s -> 107 frames, 5 s -> 124 (24 fps)
        with av.open(str(prepared.out_dir / f"{shot}.mp4")) as video:
            stream = video.streams.video[0]
            assert stream.frames == frames and int(stream.average_rate) == 24
            assert video.streams.audio and video.streams.audio[0].channels == 2
        assert events[shot]["seconds"] == pytest.approx(frames / 24, abs=0.01)
    lock = json.loads((tmp_path / "shots.yaml.lock.json").read_text())
    assert lock["takes"]["h01"]["seconds"] == pytest.approx(107 / 24, abs=0.01)


def test_every_lost_create_answer_is_found_in_the_task_list_and_never_paid_twice(start_sim, tmp_path,
                                                                                  monkeypatch):
    sim = start_sim(faults={"drop_create": 1.0})  # each task is made, each answer lost
    manifest = write_manifest(tmp_path, h3_shots(3), name="lost")
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"] * 3
    assert len(sim.v2_tasks()) == 3  # one task per take: none created twice
    events = [json.loads(line) for line in (prepared.out_dir / "ledger.jsonl").read_text().splitlines()]
    adopted = [e for e in events if e["e"] == "submitted"]
    assert len(adopted) == 3 and all(e.get("adopted") is True for e in adopted)
    assert {e["task_id"] for e in adopted} == {t["task_id"] for t in sim.v2_tasks()}
    status = run_cli(sim, "status", str(manifest), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("(adopted)") == 3 and "found in the v2 task list" in status.stdout


def _crash_after_intent(manifest: Path, out_root: Path, sim, *, tasks: int, shape_of_shot: dict,
                        answer_given_up: bool = True) -> Path:
    """The ledger of a run killed while its create was in flight, after the server made `tasks`
    tasks of the take's shape (made here with a client written from the notes)."""
    import httpx

    prepared = workflow.prepare(load(manifest), sim.base_url, out_root)
    spec = prepared.specs[0]
    out_dir = prepared.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = LedgerWriter(ledger.ledger_path(out_dir))
    writer.write_now(event("intent", *spec.ledger_key, req=spec.request, cost=0.32))
    for _ in range(tasks):
        answer = httpx.post(f"{sim.base_url}/v2/video_generation", headers={"Authorization": f"Bearer {KEY}"},
                            json={"model": "MiniMax-H3", "content": [{"type": "text", "text": "anything"}],
                                  **shape_of_shot})
        assert answer.status_code == 200, answer.text
    if answer_given_up:  # else killed mid-create: the ledger ends at the intent
        writer.write_now(event("uncertain", *spec.ledger_key, reason="the create's answer was lost"))
    writer.close()
    return out_dir


SHAPE = {"resolution": "768P", "duration": 4, "ratio": "16:9"}


@pytest.mark.parametrize("made, outcome, tasks_after, given_up", [
    (1, "done", 1, True), (0, "done", 1, True), (2, "uncertain", 2, True), (1, "done", 1, False), (0, "done", 1, False)])
def test_a_take_left_uncertain_by_a_crash_is_looked_up_when_resumed(start_sim, tmp_path, monkeypatch,
                                                                     made, outcome, tasks_after, given_up):
    sim = start_sim()
    manifest = write_manifest(tmp_path, h3_shots(1), name="crash")
    out_dir = _crash_after_intent(manifest, tmp_path / "out", sim, tasks=made, shape_of_shot=SHAPE,
                                  answer_given_up=given_up)
    plan = workflow.prepare(load(manifest), sim.base_url, tmp_path / "out").plan
    assert plan.takes[0].action == "look up lost task"
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    take = result.results[0]
    assert take.outcome == outcome
    assert len(sim.v2_tasks()) == tasks_after  # one fit: adopted; none: created once; several: nothing new
    state = ledger.load(out_dir).current("h01", 1)
    if made == 1:
        assert state.adopted and state.task_id == sim.v2_tasks()[0]["task_id"]
    if made == 2:
        assert all(t["task_id"] in take.detail for t in sim.v2_tasks())  # the user is told which tasks fit


@pytest.mark.parametrize("over_cap", ["reject", "queue"])
def test_an_unknown_cap_on_tasks_at_once_is_learned_and_the_run_finishes(start_sim, tmp_path, monkeypatch,
                                                                          over_cap):
    sim = start_sim(conn_cap=2, over_cap=over_cap)
    manifest = write_manifest(tmp_path, h3_shots(6), name="conn")
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    assert [r.outcome for r in result.results] == ["done"] * 6
    assert len(sim.v2_tasks()) == 6
    # Refused: one 429 teaches the cap (the run's 2 tasks on the server), then no create is
    # sent past it. Held queued: nothing to learn, nothing refused.
    assert result.rate_limited == (1 if over_cap == "reject" else 0)


def test_with_the_cap_known_no_create_is_refused(start_sim, tmp_path, monkeypatch):
    sim = start_sim(conn_cap=2, over_cap="reject")
    manifest = write_manifest(tmp_path, h3_shots(6), name="conn-known")
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600, concurrency=2)
    assert [r.outcome for r in result.results] == ["done"] * 6
    assert result.rate_limited == 0


def _run_until_all_generating(manifest: Path, out_root: Path, sim, monkeypatch) -> None:
    """A run stopped (as by Ctrl-C) once every take's task is created: the tasks stay on the server."""
    point_at(sim, monkeypatch)
    takes = len(load(manifest).shots)
    generating: set[str] = set()

    def on_start(prepared, banner):
        def on_phase(spec, phase):
            if phase == "generating":
                generating.add(spec.label)
                if len(generating) == takes:
                    os.kill(os.getpid(), signal.SIGINT)  # the run's own handler: a graceful stop
        return on_phase

    asyncio.run(workflow.run(load(manifest), out_root=out_root, backend="api",
                             options=RunOptions(time_scale=FAST, rpm=600), on_start=on_start,
                             write_lock_file=False))


def test_shots_cancel_cancels_queued_tasks_for_free_and_the_next_run_creates_them_again(start_sim, tmp_path,
                                                                                        monkeypatch):
    sim = start_sim(queued=(1e6, 1e6))  # every task stays queued
    manifest = write_manifest(tmp_path, h3_shots(2), name="cancel")
    _run_until_all_generating(manifest, tmp_path / "out", sim, monkeypatch)
    cancelled = asyncio.run(workflow.cancel(load(manifest), out_root=tmp_path / "out", backend="api"))
    assert [c.result for c in cancelled] == ["cancelled", "cancelled"]
    assert {t["status"] for t in sim.v2_tasks()} == {"cancelled"}
    view = ledger.load(tmp_path / "out" / "cancel")
    assert all(view.current(s, 1).state == "new" for s in ("h01", "h02"))
    plan = workflow.prepare(load(manifest), sim.base_url, tmp_path / "out").plan
    assert [t.action for t in plan.takes] == ["submit", "submit"]


def test_a_task_followed_to_its_end_by_a_resumed_run_is_counted_as_spent_there(start_sim, tmp_path, monkeypatch):
    sim = start_sim()
    manifest = write_manifest(tmp_path, h3_shots(2), name="followed")
    _run_until_all_generating(manifest, tmp_path / "out", sim, monkeypatch)
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done", "done"] and result.creates == 0
    assert result.spent == pytest.approx(0.08 * 4 + 0.08 * 5)  # the interrupted run said "billed when they finish"


def test_a_running_task_is_reported_not_cancelled(start_sim, tmp_path, monkeypatch):
    sim = start_sim(queued=(0, 0), running=(1e6, 1e6))
    manifest = write_manifest(tmp_path, h3_shots(1), name="running")
    _run_until_all_generating(manifest, tmp_path / "out", sim, monkeypatch)
    result = run_cli(sim, "cancel", str(manifest), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "running: it cannot be cancelled" in result.stdout and "running: running" not in result.stdout
    assert ledger.load(tmp_path / "out" / "running").current("h01", 1).state == "submitted"


def test_the_h3_example_runs_keyless_from_another_folder(tmp_path):
    import shutil
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    manifest = ROOT / "manifests" / "h3.yaml"
    copy = tmp_path / "project"
    (copy / "manifests").mkdir(parents=True)
    (copy / "manifests" / "h3.yaml").write_bytes(manifest.read_bytes())
    shutil.copytree(ROOT / "manifests" / "assets" / "h3", copy / "manifests" / "assets" / "h3")
    (copy / ".git").mkdir()  # a project: its outputs/ is found from any working folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run(shots_cmd("run", str(copy / "manifests" / "h3.yaml")), cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "SIMULATOR" in run.stderr
    out_dir = copy / "outputs" / "keepers-night-h3"
    events = downloaded(out_dir)
    assert len(events) == 6 and all(e["seconds"] > 4 for e in events.values())
    again = subprocess.run(shots_cmd("run", str(copy / "manifests" / "h3.yaml"), "--json"), cwd=elsewhere,
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["creates"] == 0
