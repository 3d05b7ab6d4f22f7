"""A keyless run (the embedded simulator) interrupted and run again resumes as against the real API.

Each `shots run` is its own process, so the embedded simulator of the second run is not the one
that made the tasks: it finds them in the output folder's .simulator/. The interrupt is driven by
the ledger (the first `submitted` event), never by a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.run import store

from runs import shots_cmd, t2v_shots, write_manifest

NAME = "keyless"
GUARD = 60.0  # seconds: only a failure guard, never how long a test waits when things work


def keyless_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manifest(tmp_path: Path) -> Path:
    shots = t2v_shots(2)
    shots[1]["takes"] = 2
    return write_manifest(tmp_path, shots, name=NAME)


def run_args(path: Path, *extra: str) -> list[str]:
    return shots_cmd("run", str(path), "--out", "out", "--rpm", "600", "--quiet", "--no-lock-file", *extra)


def events(out_dir: Path) -> list[dict]:
    """The ledger's complete lines (a line being written is left for the next look)."""
    try:
        body = (out_dir / "ledger.jsonl").read_bytes()
    except FileNotFoundError:
        return []
    got = []
    for line in body.split(b"\n")[:-1]:
        try:
            got.append(json.loads(line))
        except ValueError:
            pass
    return got


def submitted(evs: list[dict]) -> dict[tuple[str, int], str]:
    return {(e["shot"], e["take"]): e["task_id"] for e in evs if e["e"] == "submitted"}


def interrupted_run(tmp_path: Path, path: Path, sig: int, *extra: str) -> subprocess.CompletedProcess:
    """Start a keyless run, send `sig` as soon as the ledger holds a submitted task, wait for the end."""
    out_dir = tmp_path / "out" / NAME
    proc = subprocess.Popen(run_args(path, *extra), cwd=tmp_path, env=keyless_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + GUARD
        while not submitted(events(out_dir)):
            assert proc.poll() is None, f"the run ended before creating a task: {proc.communicate()}"
            assert time.monotonic() < deadline, "no task was submitted"
            time.sleep(0.005)  # watching the file, not waiting for a moment
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def run_again(tmp_path: Path, path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(run_args(path, *extra), cwd=tmp_path, env=keyless_env(), capture_output=True,
                          text=True, timeout=GUARD)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_an_interrupted_keyless_run_resumes_its_tasks(tmp_path, sig):
    path = manifest(tmp_path)
    out_dir = tmp_path / "out" / NAME
    # kill -9 may land between an intent and its answer: that take is uncertain, and created again.
    extra = ("--resubmit-uncertain",) if sig == signal.SIGKILL else ()
    first = interrupted_run(tmp_path, path, sig, *extra)
    assert first.returncode in ((130,) if sig == signal.SIGINT else (-signal.SIGKILL,)), first.stdout + first.stderr
    before = events(out_dir)
    made = submitted(before)
    assert made and (out_dir / ".simulator").is_dir()

    again = run_again(tmp_path, path, *extra)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "not found" not in again.stdout + again.stderr
    after = events(out_dir)[len(before):]
    # Every task the first run created is polled and downloaded by the second, never created again.
    assert not {(e["shot"], e["take"]) for e in after if e["e"] == "intent"} & made.keys()
    downloaded = {(e["shot"], e["take"]): e["task_id"] for e in after if e["e"] == "downloaded"}
    assert downloaded.keys() == {("s001", 1), ("s002", 1), ("s002", 2)}
    for take, task_id in made.items():
        assert downloaded[take] == task_id
    assert not [e for e in after if e["e"] in ("failed", "create_failed")]
    # Task ids are unique across the two processes.
    all_ids = [e["task_id"] for e in before + after if e["e"] == "submitted"]
    assert len(all_ids) == len(set(all_ids))


def test_a_deleted_video_is_downloaded_again_without_a_new_task(tmp_path):
    path = manifest(tmp_path)
    out_dir = tmp_path / "out" / NAME
    first = run_again(tmp_path, path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = events(out_dir)
    done = {(e["shot"], e["take"]): e for e in before if e["e"] == "downloaded"}
    assert len(done) == 3
    gone = done[("s002", 2)]
    (out_dir / gone["file"]).unlink()

    again = run_again(tmp_path, path)
    assert again.returncode == 0, again.stdout + again.stderr
    after = events(out_dir)[len(before):]
    assert Counter(e["e"] for e in after)["intent"] == 0
    fetched = [e for e in after if e["e"] == "downloaded"]
    assert [(e["shot"], e["take"], e["task_id"], e["file_id"]) for e in fetched] == [
        ("s002", 2, gone["task_id"], gone["file_id"])]
    # The same video as before, made again by a simulator that never rendered it.
    assert store.sha256_of(out_dir / gone["file"]) == gone["sha256"] == fetched[0]["sha256"]
