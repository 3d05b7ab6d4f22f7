"""`shots finalize` with a key, against `shots sim` in its own process: `shots run` at 768P, then
`shots finalize` (the account is not whitelisted, so each final goes by the content form with its
draft as base_video), then a second finalize that does nothing. Nothing here shares a process or
an object with the code under test.

Needs `shots finalize` wired into pipeline/cli.py (finalize.add_finalize_parser)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import av
import pytest

KEY = "sim-key"
SCALE = "0.001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sim_process():
    """`shots sim` on a free port with small, quick previz; yields the environment a user sets."""
    port = str(free_port())
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "sim", "--port", port, "--time-scale", SCALE,
                             "--key", KEY, "--render-height", "90"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")})
    try:
        line = proc.stderr.readline()  # the banner comes once the port is bound: an event, not a sleep
        assert f"127.0.0.1:{port}" in line, line
        yield {**{k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")},
               "MINIMAX_API_KEY": KEY, "MINIMAX_BASE_URL": f"http://127.0.0.1:{port}"}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def shots(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], check=False, env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_finalize_with_a_key_against_shots_sim(sim_process, tmp_path):
    shots_doc = {"version": 1, "name": "keyed", "shots": [
        {"id": f"h{i}", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9", "resolution": "768P",
         "duration": 3 + i, "prompt": f"Shot {i}: the keeper turns to the window."} for i in (1, 2)]}
    manifest = tmp_path / "shots.yaml"
    manifest.write_text(json.dumps(shots_doc), encoding="utf-8")
    out = str(tmp_path / "out")
    run = shots(sim_process, tmp_path, "run", str(manifest), "--out", out, "--time-scale", SCALE, "--json", "--quiet")
    assert run.returncode == 0, run.stderr
    plan = shots(sim_process, tmp_path, "finalize", str(manifest), "--out", out, "--dry-run", "--json",
                 "--backend", "api")
    assert plan.returncode == 0, plan.stderr
    assert [(f["shot"], f["action"], f["cost"]) for f in json.loads(plan.stdout)["finals"]] == [
        ("h1", "submit", 0.2), ("h2", "submit", 0.25)]
    first = shots(sim_process, tmp_path, "finalize", str(manifest), "--out", out, "--time-scale", SCALE, "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["backend"] == "api" and result["done"] == 2 and result["creates"] == 2
    assert result["spent"] == pytest.approx(0.45)
    assert KEY not in first.stderr + first.stdout  # never printed
    for name, frames in (("h1.final.mp4", 107), ("h2.final.mp4", 124)):
        with av.open(str(tmp_path / "out" / "keyed" / name)) as clip:
            assert clip.streams.video[0].frames == frames and clip.streams.audio
    again = shots(sim_process, tmp_path, "finalize", str(manifest), "--out", out, "--time-scale", SCALE, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["creates"] == 0
