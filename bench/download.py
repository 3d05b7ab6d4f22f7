"""Download throughput and memory: MiniMaxClient.download of 50, 200 and 500 MB from the simulator.

    .venv/bin/python bench/download.py [--sizes-mb 50,200,500] [--repeat 3]

The simulator (in this process) streams pseudo-random bytes from `GET /_sim/blob?bytes=N`; each
download runs in a child process, so its peak RSS (os.wait4) is the client's alone. The client
streams to a file on disk, hashing as it goes, and fsyncs at the end: the time includes the fsync.
A child that downloads 0 bytes gives the baseline RSS (Python, httpx and the client imported).
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

MB = 1_000_000


def child(url: str, target: Path) -> None:
    from pipeline.minimax.client import MiniMaxClient

    async def go() -> dict:
        async with MiniMaxClient(api_key=common.KEY, base_url=url.split("/_sim")[0]) as client:
            start = time.perf_counter()
            got = await client.download(url, target)
            return {"bytes": got.bytes, "seconds": time.perf_counter() - start, "sha256": got.sha256}

    print(json.dumps(asyncio.run(go())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="50,200,500")
    parser.add_argument("--repeat", type=int, default=3, help="downloads per size (best throughput is reported)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    from pipeline.sim import SimConfig, Simulator

    print(common.machine())
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-download-") as tmp, \
            Simulator(SimConfig(keys=(common.KEY,), render_cache_dir=Path(tmp) / "renders")) as sim:
        target = Path(tmp) / "video.mp4.part"
        for mb in [0] + [int(x) for x in args.sizes_mb.split(",")]:
            runs = []
            for _ in range(args.repeat if mb else 1):
                url = f"{sim.base_url}/_sim/blob?bytes={mb * MB}"
                run = common.run_child([sys.executable, str(Path(__file__).resolve()), "--child", url, str(target)],
                                       timeout=600)
                if run.returncode != 0:
                    raise SystemExit(f"download of {mb} MB failed: {run.stderr[-2000:]}")
                got = json.loads(run.stdout)
                if got["bytes"] != mb * MB or target.stat().st_size != mb * MB:
                    raise SystemExit(f"{mb} MB: got {got['bytes']} bytes")
                target.unlink()
                runs.append((got["seconds"], run.maxrss_mb, run.cpu))
            best_s = min(r[0] for r in runs)
            rows.append([f"{mb:,}" if mb else "0 (baseline)",
                         f"{mb / best_s:,.0f}" if mb else "-",
                         ", ".join(f"{mb / r[0]:,.0f}" for r in runs) if mb else "-",
                         f"{max(r[1] for r in runs):.1f}", f"{min(r[2] for r in runs):.2f}"])
            print(f"  {mb} MB: done", file=sys.stderr, flush=True)
    print(f"load average after: {common.load_average()}")
    print()
    print(common.table(["size MB", "MB/s (best)", "MB/s (each run)", "peak RSS MB (max)", "child CPU s (min)"], rows))


if __name__ == "__main__":
    main()
