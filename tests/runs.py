"""Helpers for tests that run whole manifests against a test-owned simulator.

The runner is pointed at the simulator exactly as a user points it at any server:
MINIMAX_API_KEY and MINIMAX_BASE_URL, plus the simulator's time scale.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from pipeline.run import ledger
from pipeline.manifest.checker import load
from pipeline.run.options import RunOptions
from pipeline.run import workflow

KEY = "sim-key"
ROOT = Path(__file__).resolve().parent.parent


def make_image(path: Path, size=(640, 360), color=(30, 60, 120)) -> Path:
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).ellipse((size[0] // 3, size[1] // 3, size[0] // 3 + 80, size[1] // 3 + 80), fill="white")
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    img.save(buf, "JPEG" if path.suffix == ".jpg" else "PNG")
    path.write_bytes(buf.getvalue())
    return path


def counting_video(path: Path, frames: int = 48, size=(320, 180), fps: int = 24, first_grey: int = 20) -> Path:
    """A video whose frame i is grey level first_grey + 4*i: which frame a reel or a thumbnail
    shows can be read back from its pixels."""
    import av
    from fractions import Fraction

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"crf": "10"}
        for i in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (first_grey + 4 * i,) * 3))
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def t2v_shots(n: int, prefix: str = "s", **extra) -> list[dict]:
    return [{"id": f"{prefix}{i:03d}", "mode": "text_to_video", "prompt": f"Shot {i}: waves at dusk [Push in].",
             **extra} for i in range(1, n + 1)]


def write_manifest(folder: Path, shots: list[dict], name: str = "test-run", **settings) -> Path:
    doc = {"version": 1, "name": name, **settings, "shots": shots}
    path = folder / "shots.yaml"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def point_at(sim, monkeypatch) -> None:
    """Point this process's client at `sim`, as a user does: MINIMAX_API_KEY and MINIMAX_BASE_URL."""
    monkeypatch.setenv("MINIMAX_API_KEY", KEY)
    monkeypatch.setenv("MINIMAX_BASE_URL", sim.base_url)


def run_inprocess(manifest: Path, sim, out: Path, monkeypatch, **kwargs):
    """workflow.run against `sim`; returns (prepared, result)."""
    point_at(sim, monkeypatch)
    option_names = {"rpm", "concurrency", "poll_interval", "seed", "query_rpm", "first_poll"}
    options = RunOptions(time_scale=sim.cfg.time_scale,
                         **{k: kwargs.pop(k) for k in list(kwargs) if k in option_names})
    kwargs.setdefault("write_lock_file", False)
    prepared, result, kind = asyncio.run(
        workflow.run(load(manifest), out_root=out, backend="api", options=options, **kwargs)
    )
    assert kind == "api"
    return prepared, result


def cli_env(sim) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    env.update(MINIMAX_API_KEY=KEY, MINIMAX_BASE_URL=sim.base_url, PYTHONUNBUFFERED="1")
    return env


def shots_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def run_cli(sim, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        shots_cmd(*args, "--time-scale", str(sim.cfg.time_scale)) if args[0] == "run" else shots_cmd(*args),
        env=cli_env(sim), cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def ledger_view(out_dir: Path) -> ledger.LedgerView:
    return ledger.load(out_dir)
