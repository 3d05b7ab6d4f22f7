"""The two narrowest crash windows (issue 12): a kill between a create's answer and its ledger
line, and kills while the ledger is written on a disk that fills up. Neither may lose a paid
task: it is downloaded, or reported uncertain (the v1 API cannot be asked which tasks exist),
never forgotten. Every signal follows an event (a request the simulator counts, a ledger line),
never a sleep."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.run import ledger

from runs import cli_env, shots_cmd, t2v_shots, write_manifest

SCALE = 0.001
WAIT = 60.0  # bounds waits that take milliseconds, so that a broken run fails instead of hanging


def wait_until(what: str, ready, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while not ready():
        assert proc is None or proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT} s"
        time.sleep(0.002)


def run(manifest: Path, out: Path, sim, *extra: str, wait: bool = True):
    argv = shots_cmd("run", str(manifest), "--out", str(out), "--rpm", "600", "--quiet", "--json", "--no-lock-file",
                     "--time-scale", str(SCALE), *extra)
    if not wait:
        return subprocess.Popen(argv, env=cli_env(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, env=cli_env(sim), capture_output=True, text=True, timeout=120)


def test_a_kill_between_a_create_answer_and_its_ledger_line_is_reported_not_lost(sim_factory, tmp_path):
    # Each create waits a second in the simulator before the task is made: time to freeze the
    # client (SIGSTOP) while its create is in flight, so that it cannot write the answer down.
    sim = sim_factory(time_scale=SCALE, faults={"slow": 1.0}, slow_seconds=1.0)
    manifest = write_manifest(tmp_path, t2v_shots(1))
    out = tmp_path / "out"
    proc = run(manifest, out, sim, wait=False)
    wait_until("create request", lambda: sim.stats()["requests"].get("create", 0) >= 1, proc)
    proc.send_signal(signal.SIGSTOP)
    wait_until("task made", lambda: sim.stats()["tasks_created"] >= 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=WAIT)

    view = ledger.load(out / "test-run")
    (state,) = view.states.values()
    assert state.state == "intent"  # the answer never reached the ledger: the take is uncertain
    status = subprocess.run(shots_cmd("status", str(manifest), "--out", str(out), "--json"), env=cli_env(sim),
                            capture_output=True, text=True, timeout=60)
    (row,) = json.loads(status.stdout)["takes"]
    assert status.returncode == 1 and row["state"] == "intent"  # shown, never silently dropped
    plan = subprocess.run(shots_cmd("plan", str(manifest), "--out", str(out), "--reason"), env=cli_env(sim),
                          capture_output=True, text=True, timeout=60)
    assert "uncertain: skipped" in plan.stdout and "a billed task may exist" in plan.stdout
    again = run(manifest, out, sim)  # a plain re-run never pays for it again
    assert again.returncode == 1 and json.loads(again.stdout)["creates"] == 0


@pytest.mark.parametrize("kill_after", ["submitted", "succeeded", "downloaded"])
def test_kills_on_a_disk_that_fills_up_lose_no_paid_task(sim_factory, small_disk, tmp_path, kill_after):
    sim = sim_factory(time_scale=SCALE)
    manifest = write_manifest(tmp_path, t2v_shots(10))  # more video than the 2 MB disk holds
    out = small_disk / "out"
    ledger_file = out / "test-run" / "ledger.jsonl"

    def events(kind: str) -> int:
        try:
            return sum(1 for line in ledger_file.read_text().splitlines() if f'"e":"{kind}"' in line)
        except FileNotFoundError:
            return 0

    exits = []
    for round_ in range(3):  # kill right after an event, while the disk fills
        seen = events(kill_after)
        proc = run(manifest, out, sim, wait=False)
        try:
            wait_until(f"a new {kill_after}", lambda: events(kill_after) > seen or proc.poll() is not None)
        finally:
            if proc.poll() is None:
                proc.kill()
            exits.append(proc.wait(timeout=WAIT))
        ledger.load(out / "test-run")  # replays after every kill: nothing torn
    final = run(manifest, out, sim)
    assert final.returncode == 3 and "free" in final.stderr and "Traceback" not in final.stderr  # the disk is full

    view = ledger.load(out / "test-run")
    paid = {s.task_id for s in view.states.values() if s.task_id}
    subprocess.run(["mount", "-o", "remount,size=32m", str(small_disk)], check=True)  # the user frees space
    done = run(manifest, out, sim, "--resubmit-uncertain")
    assert done.returncode == 0, done.stderr
    view = ledger.load(out / "test-run")
    downloaded = {s.task_id for s in view.states.values() if s.state == "downloaded"}
    assert paid <= downloaded  # every task paid for before, during and after the full disk has its video
    assert len(downloaded) == 10
