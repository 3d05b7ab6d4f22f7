"""How validate and plan grow for a storyboard of chains (issue 16), and what a resume mid-chain costs.

    .venv/bin/python bench/chains.py [--sizes 1000,10000] [--chain 10] [--run-shots 60]

A manifest of chains: each chain opens on a keyframe still (mode image), then --chain - 1 video
shots, each starting on the last frame of the one before. For each size: `load` (validate: the
schema, the chain rules, the cycle check) and `workflow.prepare` against an empty output folder
(plan: every dependant waits), best of 3. Then a full keyless-style run of --run-shots shots
against a simulator in this process (640 px previews: a frame must pass the API's 300 px rule),
and `workflow.prepare` on the finished folder (what a resume plans: every frame found cut, hashed,
every fingerprint resolved), best of 3. Targets: 10,000 shots validate + plan < 2 s (RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.manifest.checker import load  # noqa: E402
from pipeline.run import workflow  # noqa: E402
from pipeline.run.options import RunOptions  # noqa: E402
from pipeline.run.request import SIM_ENDPOINT  # noqa: E402


def manifest(folder: Path, shots: int, chain: int) -> Path:
    items = []
    for i in range(shots):
        link = i % chain
        sid = f"c{i // chain:04d}-{link:02d}"
        if link == 0:
            items.append({"id": sid, "mode": "image", "prompt": f"Keyframe {i}: a harbour at dawn.", "aspect_ratio": "16:9"})
        else:
            up = f"c{i // chain:04d}-{link - 1:02d}"
            frame = {"shot": up} if link == 1 else {"shot": up, "frame": "last"}
            items.append({"id": sid, "mode": "image_to_video", "first_frame_image": frame,
                          "prompt": f"Shot {i}: the boat leaves the harbour [Push in]."})
    doc = {"version": 1, "name": "chains", "defaults": {"model": "MiniMax-Hailuo-02", "duration": 6,
                                                          "resolution": "768P"}, "shots": items}
    path = folder / "chains.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def best(fn, n: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--chain", type=int, default=10)
    parser.add_argument("--run-shots", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in map(int, args.sizes.split(",")):
            folder = Path(tmp) / str(size)
            folder.mkdir()
            path = manifest(folder, size, args.chain)
            t_load, loaded = best(lambda: load(path))
            t_plan, prepared = best(lambda: workflow.prepare(loaded, SIM_ENDPOINT, folder / "out"))
            waiting = sum(1 for t in prepared.plan.takes if t.spec.waiting)
            print(f"{size:>6} shots: validate {t_load:.2f} s, plan {t_plan:.2f} s, validate + plan "
                  f"{t_load + t_plan:.2f} s ({waiting} dependants waiting), "
                  f"estimated cost ${prepared.plan.known_cost:.2f}")
        if args.run_shots:
            from pipeline.sim.config import SimConfig
            from pipeline.sim.server import Simulator

            folder = Path(tmp) / "run"
            folder.mkdir()
            path = manifest(folder, args.run_shots, args.chain)
            sim = Simulator(SimConfig(time_scale=0.001, rpm=None, render_width=640, render_fps=12,
                                      render_cache_dir=folder / "renders")).start()
            try:
                os.environ.update(MINIMAX_API_KEY="sim-key", MINIMAX_BASE_URL=sim.base_url)
                start = time.perf_counter()
                _, result, _ = asyncio.run(workflow.run(load(path), out_root=folder / "out", backend="api",
                                                        options=RunOptions(time_scale=0.001, rpm=None),
                                                        write_lock_file=False))
                t_run = time.perf_counter() - start
                endpoint = sim.base_url
                t_resume, again = best(lambda: workflow.prepare(load(path), endpoint, folder / "out"))
            finally:
                sim.stop()
            print(f"run of {args.run_shots} chained shots: {t_run:.1f} s, {result.count('done')} done; "
                  f"resume plan {t_resume:.3f} s, {len(again.plan.creates)} to create")


if __name__ == "__main__":
    main()
