"""Load: thousands of shots against a fast simulator; completes, memory bounded, no descriptor leak.

The runner runs as a child process (the CLI) so its memory and open descriptors are its own.
`pytest -m slow` runs the 10,000-shot version; CI runs a 300-shot one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from runs import cli_env, shots_cmd, t2v_shots, write_manifest

SCALE = 0.001


def proc_figures(pid: int) -> tuple[int, int]:
    """(open descriptors, peak RSS in kB) of a live process, from /proc."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return fds, hwm


def load_run(sim, tmp_path, shots: int) -> dict:
    manifest = write_manifest(tmp_path, t2v_shots(shots))
    # Output to files: a pipe nobody reads until the end fills at 64 KB and blocks the child.
    stdout_file, stderr_file = open(tmp_path / "stdout", "w+"), open(tmp_path / "stderr", "w+")
    child = subprocess.Popen(
        shots_cmd("run", str(manifest), "--out", "out", "--rpm", "100000", "--quiet", "--json",
                  "--no-lock-file", "--time-scale", str(SCALE)),
        cwd=tmp_path, env=cli_env(sim), stdout=stdout_file, stderr=stderr_file, text=True,
    )
    samples = []
    started = time.monotonic()
    while child.poll() is None:
        try:
            samples.append(proc_figures(child.pid))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            break
        time.sleep(0.2)
    child.wait()
    stdout, stderr = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert child.returncode == 0, stderr[-2000:]
    summary = json.loads(stdout)
    fds = [s[0] for s in samples]
    return {"shots": shots, "done": summary["done"], "seconds": round(time.monotonic() - started, 1),
            "peak_rss_mb": round(max(s[1] for s in samples) / 1024, 1),
            "fds_first": fds[0], "fds_max": max(fds), "fds_last": fds[-1], "samples": len(samples)}


def check(figures: dict) -> None:
    assert figures["done"] == figures["shots"]
    # Descriptors: the HTTP pool and the ledger, bounded whatever the number of shots.
    assert figures["fds_max"] <= 100, figures
    assert figures["peak_rss_mb"] < 300, figures


def test_load_300_shots(sim_factory, tmp_path):
    sim = sim_factory(time_scale=SCALE, render_height=32, render_fps=2)
    check(load_run(sim, tmp_path, 300))


@pytest.mark.slow
def test_load_10000_shots(sim_factory, tmp_path):
    sim = sim_factory(time_scale=SCALE, render_height=32, render_fps=2)
    figures = load_run(sim, tmp_path, 10_000)
    print("load suite:", figures)
    check(figures)
