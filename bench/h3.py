"""The H3 row of bench/throughput.py: N MiniMax-H3 shots against a v2 simulator whose account may
run CONN tasks at once (queued 0 s, running 60-180 s simulated), with CONN told to the run or not.

    .venv/bin/python bench/h3.py [--shots 100] [--conn 15] [--time-scale 0.01] [--over-cap reject]

Rows: `known` (concurrency = CONN: no 429 expected) and `unknown` (no concurrency: the run learns
the cap from the server's 429s, or, with --over-cap queue, from nothing: tasks wait queued there).
Makespan is from the first task's creation to the last video on disk, in simulated seconds. Its
lower bound is the schedule of the very tasks the server made (their running times, in creation
order) on CONN slots, each starting the moment one frees: no client can finish earlier.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.manifest.checker import load  # noqa: E402
from pipeline.run import workflow  # noqa: E402
from pipeline.run.options import RunOptions  # noqa: E402
from pipeline.sim import SimConfig, Simulator, V2Config  # noqa: E402

KEY = "bench-key"


def manifest(folder: Path, n: int) -> Path:
    shots = [{"id": f"h{i:03d}", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9",
              "resolution": "768P", "duration": 4, "prompt": f"Shot {i}: gulls over the harbour."}
             for i in range(1, n + 1)]
    path = folder / "h3.yaml"
    path.write_text(json.dumps({"version": 1, "name": "h3-bench", "shots": shots}), encoding="utf-8")
    return path


def lower_bound(tasks: list[dict], conn: int, scale: float) -> float:
    """Simulated seconds: the server's running times, in creation order, on `conn` slots from 0."""
    slots: list[float] = []
    end = 0.0
    for task in sorted(tasks, key=lambda t: t["created_at"]):
        run = (task["finished_at"] - task["started_at"]) / scale
        start = heapq.heappop(slots) if len(slots) >= conn else 0.0
        heapq.heappush(slots, start + run)
        end = max(end, start + run)
    return end


def measure(name: str, args: argparse.Namespace, tmp: Path) -> dict:
    v2 = V2Config(conn_cap=args.conn, over_cap=args.over_cap, queued=(0.0, 0.0), running=(60.0, 180.0))
    cfg = SimConfig(keys=(KEY,), time_scale=args.time_scale, seed=args.seed, render_height=90, render_fps=12)
    folder = tmp / name
    folder.mkdir()
    with Simulator(cfg, v2=v2) as sim:
        import os

        os.environ.update(MINIMAX_API_KEY=KEY, MINIMAX_BASE_URL=sim.base_url)
        options = RunOptions(time_scale=args.time_scale, rpm=args.rpm, seed=args.seed,
                             concurrency=args.conn if name == "known" else None)
        _, result, _ = asyncio.run(workflow.run(load(manifest(folder, args.shots)), out_root=folder / "out",
                                                backend="api", options=options, write_lock_file=False))
        tasks = [t for t in sim.v2_tasks() if t["status"] == "succeeded"]
        ledger = folder / "out" / "h3-bench" / "ledger.jsonl"
        last = max(e["t"] for e in map(json.loads, ledger.read_text().splitlines()) if e["e"] == "downloaded")
    first = min(t["created_at"] for t in tasks)
    makespan = (last - first) / args.time_scale
    bound = lower_bound(tasks, args.conn, args.time_scale)
    return {"row": name, "done": result.count("done"), "tasks": len(sim.v2_tasks()), "creates": result.creates,
            "429s": result.rate_limited, "makespan_s": round(makespan), "bound_s": round(bound),
            "ratio": round(makespan / bound, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--conn", type=int, default=15)
    parser.add_argument("--over-cap", choices=("reject", "queue"), default="reject")
    parser.add_argument("--rpm", type=float, default=None, help="creates per minute the run is told (default: unknown)")
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", default="known,unknown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shots-h3-bench-") as tmp:
        rows = [measure(name, args, Path(tmp)) for name in args.rows.split(",")]
    print(f"H3: {args.shots} shots, CONN {args.conn} ({args.over_cap} over it), running 60-180 s, "
          f"time scale {args.time_scale}")
    print(f"{'row':8} {'done':>5} {'tasks':>6} {'429s':>5} {'makespan s':>11} {'bound s':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['row']:8} {r['done']:>5} {r['tasks']:>6} {r['429s']:>5} {r['makespan_s']:>11} "
              f"{r['bound_s']:>8} {r['ratio']:>6}")


if __name__ == "__main__":
    main()
