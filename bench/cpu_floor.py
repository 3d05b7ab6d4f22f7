"""The least CPU one shot can cost the client: each step every shot must take, timed on its own.

    .venv/bin/python bench/cpu_floor.py [--calls 500]

A shot is at least one create, one or more queries, one retrieve, one download, one video probe
and four ledger events. Each is timed here one at a time (no concurrency, no pool contention)
in a child process, so its CPU (time.process_time, threads included) is the client's alone,
against the simulator in this process (time scale 0.001, 32 px previews). Also timed: a bare
httpx GET (the HTTP library alone) and, if it is installed, a bare aiohttp GET, as the floor a
different HTTP library would set. The floor per shot is the sum of the steps, with the queries
per shot that `shots run` made in bench/scale.py's 10,000-shot run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

BODY = {"model": "MiniMax-Hailuo-02", "prompt": "A lighthouse on a cliff [Push in].", "duration": 6,
        "resolution": "768P"}


async def _time(calls: int, step) -> float:
    """Milliseconds of CPU per call of the coroutine function `step(i)`, best of 3 rounds."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for i in range(calls):
            await step(i)
        best = min(best, (time.process_time() - start) / calls * 1000)
    return best


async def child(base_url: str, calls: int) -> dict[str, float]:
    import httpx

    from pipeline.run import ledger, video
    from pipeline.minimax.client import MiniMaxClient

    out: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    async with MiniMaxClient(common.KEY, base_url) as client:
        task_id = await client.create(BODY)
        while (status := await client.query(task_id)).status != "Success":
            await asyncio.sleep(0.05)
        out["create"] = await _time(calls, lambda i: client.create(BODY))
        out["query"] = await _time(calls, lambda i: client.query(task_id))
        out["retrieve"] = await _time(calls, lambda i: client.retrieve(status.file_id))
        info = await client.retrieve(status.file_id)
        out["download (with fsync)"] = await _time(calls, lambda i: client.download(info.download_url, folder / "v.mp4"))

        async def verify(i: int) -> None:
            video.verify(folder / "v.mp4", 6.0)

        out["video probe"] = await _time(calls, verify)

    writer = ledger.LedgerWriter(folder / "ledger.jsonl")

    async def four_events(i: int) -> None:  # one at a time: each pays its own fsync (a run shares them)
        for kind in ("intent", "submitted", "succeeded", "downloaded"):
            await writer.write(ledger.event(kind, f"s{i}", 1, "0123456789abcdef", task_id="1", file_id="2"))

    out["4 ledger events (each fsynced)"] = await _time(calls // 5, four_events)
    writer.close()

    url = f"{base_url}/v1/query/video_generation"
    headers = {"Authorization": f"Bearer {common.KEY}"}
    async with httpx.AsyncClient() as http:
        async def bare_httpx(i: int) -> None:
            (await http.get(url, params={"task_id": task_id}, headers=headers)).json()

        out["bare httpx GET"] = await _time(calls, bare_httpx)
    try:
        import aiohttp
    except ImportError:
        return out
    async with aiohttp.ClientSession() as session:
        async def bare_aiohttp(i: int) -> None:
            async with session.get(url, params={"task_id": task_id}, headers=headers) as response:
                await response.json()

        out["bare aiohttp GET (not a dependency)"] = await _time(calls, bare_aiohttp)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per step per round (best of 3 rounds)")
    parser.add_argument("--queries-per-shot", type=float, default=3.5,
                        help="queries a shot makes (bench/scale.py's 10,000-shot runs: 3.1-3.8)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.calls))))
        return
    from pipeline.sim import SimConfig, Simulator

    print(common.machine())
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        cfg = SimConfig(keys=(common.KEY,), time_scale=0.001, rpm=None, render_height=32, render_fps=2,
                        url_ttl=1e9, render_cache_dir=Path(tmp) / "renders")
        with Simulator(cfg) as sim:
            run = common.run_child([sys.executable, __file__, "--child", sim.base_url, "--calls", str(args.calls)],
                                   env=common.sim_env(sim.base_url), timeout=1800)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    steps = json.loads(run.stdout)
    q = args.queries_per_shot
    per_shot = {"create": 1, "query": q, "retrieve": 1, "download (with fsync)": 1, "video probe": 1,
                "4 ledger events (each fsynced)": 1}
    rows = [[name, f"{ms:.2f}", per_shot.get(name, "-"),
             f"{ms * per_shot[name]:.2f}" if name in per_shot else "-"] for name, ms in steps.items()]
    floor = sum(steps[name] * n for name, n in per_shot.items())
    print()
    print(f"CPU per call, one call at a time, best of 3 rounds of {args.calls} ({args.calls // 5} for the ledger); "
          f"the client in a child process; load {common.load_average()}")
    print(common.table(["step", "CPU ms per call", "per shot", "CPU ms per shot"], rows))
    print()
    print(f"Floor per shot with {q:g} queries: **{floor:.1f} ms** (target 2 ms). The HTTP requests alone "
          f"({3 + q:g} per shot) are {sum(steps[n] * per_shot[n] for n in ('create', 'query', 'retrieve')) + steps['download (with fsync)']:.1f} ms.")
    if "bare aiohttp GET (not a dependency)" in steps:
        ratio = steps["bare httpx GET"] / steps["bare aiohttp GET (not a dependency)"]
        print(f"A bare aiohttp GET costs 1/{ratio:.1f} of a bare httpx GET.")


if __name__ == "__main__":
    main()
