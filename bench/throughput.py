"""Makespan, requests per shot and client cost of three ways to generate N shots, against the simulator.

    .venv/bin/python bench/throughput.py [--shots 200] [--seed-shots 10] [--time-scale 0.05]
    .venv/bin/python bench/throughput.py --regimes all [--regime-shots 30] [--regime-clients shots,fixed90]

Each client runs in a child process (its CPU and peak RSS are its own, from os.wait4) against a
fresh simulator in this process with the same seed, so the i-th accepted task gets the same
preparing/queueing/processing times whichever client drives it:

  seed     the official example's loop: one shot at a time, create, sleep 10 s, query every 10 s
           until Success, retrieve, download. Run on --seed-shots shots and extrapolated linearly.
  naive    asyncio.gather of every shot: no rate limit, any error retried after 1 s, polls every 10 s.
  shots    `shots run` (the CLI, a subprocess) told the true RPM.
  shots-2x `shots run --rpm 2R`: the RPM overestimated twice.
  shots-unknown  workflow.run in-process with RunOptions(rpm=None): the RPM unknown (the CLI has no flag
           for that), in its own child process too.

Makespan is from the first create the simulator accepted to the last video on disk, in simulated
seconds (wall / time scale); the lower bound is common.lower_bound (RESULTS.md explains it).
All waits are scaled, so a client's fixed costs (a create's two fsyncs and its round trip, a
render on retrieve, a download's verify) weigh 1/time_scale times more here than against the real
API, and the request rate the client must sustain is 1/time_scale times higher: at 0.02 the
client and the simulator saturate the 2 shared cores and the makespan measures that, not the
schedule. The default 0.05 keeps a run of all five clients under ~5 minutes.

--regimes runs `shots run --rpm R` (no other setting) against servers that generate in about
10 s, 30 s, 90-240 s and 600 s (REGIMES: preparing + queueing + processing, simulated seconds),
each at its own time scale (short generations need a slower clock, or the client's fixed costs
would weigh as much as the schedule), and prints one row per regime. `fixed90` is the same run
in-process with RunOptions(first_poll=90): the first poll fixed at 90 s, as before it was learned.

--h3 prints the H3 row instead (bench/h3.py: MiniMax-H3 shots against the v2 simulator's cap on
tasks at once, with the cap told to the run and not); the options after --h3 are h3.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

POLL = 10.0  # the documented poll interval, simulated seconds
ENDPOINTS = ("create", "query", "retrieve", "download")


@dataclass(frozen=True)
class Regime:
    """A server's generation time, in simulated seconds, and the clock to run it at."""

    preparing: tuple[float, float]
    queueing: tuple[float, float]
    processing: tuple[float, float]
    time_scale: float

    def describe(self) -> str:
        lo = self.preparing[0] + self.queueing[0] + self.processing[0]
        hi = self.preparing[1] + self.queueing[1] + self.processing[1]
        return f"{lo:g}-{hi:g} s"


REGIMES = {
    "10s": Regime(preparing=(1, 2), queueing=(0, 1), processing=(7, 9), time_scale=0.5),
    "30s": Regime(preparing=(1, 3), queueing=(0, 5), processing=(22, 28), time_scale=0.25),
    "90-240s": Regime(preparing=(1, 5), queueing=(0, 30), processing=(90, 240), time_scale=0.05),
    "600s": Regime(preparing=(1, 5), queueing=(0, 30), processing=(570, 630), time_scale=0.05),
}
DEFAULT_TIMING = Regime(preparing=(1, 5), queueing=(0, 30), processing=(90, 240), time_scale=0.05)


def _body(i: int) -> dict[str, Any]:
    return {"model": "MiniMax-Hailuo-02", "prompt": common.prompt(i), "duration": 6, "resolution": "768P"}


# -- the clients, each run as `throughput.py --client NAME` in a child process ---------------------


def seed_client(base: str, n: int, scale: float, out: Path) -> list[dict[str, Any]]:
    """The seed example's loop (requests there, httpx here; same calls, same sleeps)."""
    import httpx

    headers = {"Authorization": f"Bearer {common.KEY}"}
    shots = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for i in range(n):
            r = http.post("/v1/video_generation", json=_body(i))
            r.raise_for_status()
            task_id = r.json()["task_id"]
            queries = 0
            while True:
                time.sleep(POLL * scale)
                r = http.get("/v1/query/video_generation", params={"task_id": task_id})
                r.raise_for_status()
                queries += 1
                answer = r.json()
                if answer["status"] == "Success":
                    file_id = answer["file_id"]
                    break
                if answer["status"] == "Fail":
                    raise RuntimeError(f"task {task_id} failed")
            r = http.get("/v1/files/retrieve", params={"file_id": file_id})
            r.raise_for_status()
            video = httpx.get(r.json()["file"]["download_url"])
            video.raise_for_status()
            (out / f"s{i:06d}.mp4").write_bytes(video.content)
            shots.append({"task_id": task_id, "queries": queries, "done": time.time()})
    return shots


async def naive_client(base: str, n: int, scale: float, out: Path) -> list[dict[str, Any]]:
    """Everything at once: no rate limit, any error retried after 1 s, polls every 10 s."""
    import httpx

    headers = {"Authorization": f"Bearer {common.KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:

        async def call(method: str, url: str, **kw: Any) -> dict[str, Any]:
            while True:
                try:
                    r = await http.request(method, url, **kw)
                    r.raise_for_status()
                    data = r.json()
                    if data["base_resp"]["status_code"] == 0:
                        return data
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                await asyncio.sleep(1.0 * scale)

        async def shot(i: int) -> dict[str, Any]:
            task_id = (await call("POST", "/v1/video_generation", json=_body(i)))["task_id"]
            queries = 0
            while True:
                await asyncio.sleep(POLL * scale)
                queries += 1
                answer = await call("GET", "/v1/query/video_generation", params={"task_id": task_id})
                if answer["status"] in ("Success", "Fail"):
                    break
            info = await call("GET", "/v1/files/retrieve", params={"file_id": answer["file_id"]})
            while True:
                try:
                    video = await http.get(info["file"]["download_url"])
                    video.raise_for_status()
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(1.0 * scale)
            (out / f"s{i:06d}.mp4").write_bytes(video.content)
            return {"task_id": task_id, "queries": queries, "done": time.time()}

        return list(await asyncio.gather(*(shot(i) for i in range(n))))


def inprocess_client(manifest: Path, out: Path, scale: float, rpm: float | None, seed: int,
                     first_poll: float | None = None) -> dict[str, Any]:
    """workflow.run as tests/runs.py calls it; rpm None: unknown, learned from 1002 answers;
    first_poll: a fixed first poll (seconds) instead of the learned one."""
    from pipeline.review import summary
    from pipeline.run import workflow
    from pipeline.manifest.checker import load
    from pipeline.run.options import RunOptions

    options = RunOptions(rpm=rpm, time_scale=scale, seed=seed, first_poll=first_poll)
    _, result, kind = asyncio.run(workflow.run(load(manifest), out_root=out, backend="api", options=options))
    return summary.result_json(result, kind)


def child_main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import os

    base = os.environ["MINIMAX_BASE_URL"]
    if args.client == "seed":
        data: Any = {"shots": seed_client(base, args.shots, args.time_scale, out)}
    elif args.client == "naive":
        data = {"shots": asyncio.run(naive_client(base, args.shots, args.time_scale, out))}
    else:
        data = inprocess_client(Path(args.manifest), out, args.time_scale, args.rpm or None, args.seed,
                                args.first_poll)
    Path(args.result).write_text(json.dumps(data), encoding="utf-8")


# -- the benchmark -------------------------------------------------------------------------


def measure(name: str, args: argparse.Namespace, tmp: Path, timing: Regime = DEFAULT_TIMING,
            label: str = "") -> dict[str, Any]:
    """One client against a fresh simulator. `timing` and `label` are set by --regimes (where
    `args.time_scale` and `args.shots` are already the regime's)."""
    from pipeline.run import ledger
    from pipeline.sim import SimConfig, Simulator

    cfg = SimConfig(keys=(common.KEY,), time_scale=args.time_scale, processing=timing.processing,
                    preparing=timing.preparing, queueing=timing.queueing, rpm=args.rpm,
                    concurrency=args.sim_concurrency, seed=args.seed, render_height=64, render_fps=4,
                    render_cache_dir=tmp / f"renders-{label}{name}")
    n = args.seed_shots if name == "seed" else args.shots
    work = tmp / f"{label}{name}"
    manifest = common.write_t2v_manifest(work, n, f"bench-{name}")
    result_file = work / "result.json"
    me = [sys.executable, str(Path(__file__).resolve())]
    if name == "seed" or name == "naive":
        cmd = me + ["--client", name, "--shots", str(n), "--out", str(work / "out"), "--result", str(result_file)]
    elif name == "shots-unknown":
        cmd = me + ["--client", "inprocess", "--rpm", "0", "--manifest", str(manifest), "--out", str(work / "out"),
                    "--result", str(result_file)]
    elif name == "fixed90":
        cmd = me + ["--client", "inprocess", "--rpm", str(args.rpm), "--first-poll", "90", "--manifest",
                    str(manifest), "--out", str(work / "out"), "--result", str(result_file)]
    else:
        rpm = args.rpm * (2 if name == "shots-2x" else 1)
        cmd = common.shots_cmd("run", str(manifest), "--rpm", str(rpm), "--out", str(work / "out"), "--json",
                               "--quiet", "--seed", str(args.seed))
    cmd += ["--time-scale", str(args.time_scale)]
    if cmd[1] != "-m":
        cmd += ["--seed", str(args.seed)]
    load_before = common.load_average()
    with Simulator(cfg) as sim:
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        child = common.run_child(cmd, env=common.sim_env(sim.base_url), cwd=work, timeout=args.timeout)
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        stats, tasks = sim.stats(), sim.tasks()
    if child.returncode != 0:
        raise SystemExit(f"{name}: client exited {child.returncode}\n{child.stderr[-3000:]}")
    if name in ("seed", "naive"):
        shots = json.loads(result_file.read_text())["shots"]
        done = [s["done"] for s in shots]
    else:
        data = json.loads(result_file.read_text() if name in ("shots-unknown", "fixed90") else child.stdout)
        shots = data["takes"]
        view_events, _, _ = ledger.read(ledger.ledger_path(work / "out" / f"bench-{name}"))
        done = [e["t"] for e in view_events if e["e"] == "downloaded"]
        seen = {e["task_id"]: e["t"] for e in view_events if e["e"] == "succeeded"}
    if len(done) != n or len(tasks) != n:
        raise SystemExit(f"{name}: {len(done)} videos and {len(tasks)} tasks for {n} shots")
    scale = args.time_scale
    by_id = {t["task_id"]: t for t in tasks}
    over = 0
    budget = 0
    lags = []  # how long after its task finished each video was seen done, simulated seconds
    for s in shots:
        t = by_id[s["task_id"]]
        allowed = common.query_bound((t["finished_at"] - t["created_at"]) / scale, POLL)
        budget += allowed
        over += s["queries"] > allowed
        if name not in ("seed", "naive"):
            lags.append((seen[s["task_id"]] - t["finished_at"]) / scale)
    first_create = min(t["created_at"] for t in tasks)
    created = sorted((t["created_at"] - first_create) / scale for t in tasks)
    ideal = [(i // args.rpm) * common.RATE_WINDOW for i in range(n)] if name != "seed" else created
    requests = stats["requests"]
    return {
        "name": name, "n": n,
        "makespan": (max(done) - first_create) / scale,
        "bound": common.lower_bound(cfg, n, args.rpm),
        "bound_n": common.lower_bound(cfg, args.shots, args.rpm),
        "model_gap": common.check_durations(cfg, tasks),
        "wall": child.wall, "startup": (first_create - child.started),
        "create_lag": created[-1] - ideal[-1],
        "last_finish": (max(t["finished_at"] for t in tasks) - first_create) / scale,
        "per_shot": {e: requests.get(e, 0) / n for e in ENDPOINTS},
        "creates_sent": requests.get("create", 0),
        "r1002": stats["answers"].get("1002", 0),
        "queries": requests.get("query", 0), "query_budget": budget, "over_budget": over,
        "lag_mean": sum(lags) / len(lags) if lags else None, "lag_max": max(lags) if lags else None,
        "max_queries": max(s["queries"] for s in shots),
        "cpu": child.cpu, "rss": child.maxrss_mb,
        "sim_cpu": (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime),
        "load": f"{load_before} -> {common.load_average()}",
    }


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    n = args.shots
    lines = []
    for r in rows:
        k = n / r["n"]  # > 1 only for the seed subset: extrapolated linearly
        makespan = r["makespan"] * k
        mark = f" (x{k:g}, extrapolated from {r['n']})" if k != 1 else ""
        subset = f" for {r['n']} shots" if k != 1 else ""  # CPU is not extrapolated: start-up dominates it
        lines.append([
            r["name"], f"{makespan:,.0f}{mark}", f"{r['bound_n']:,.0f}", f"{makespan / r['bound_n']:.3f}",
            " / ".join(f"{r['per_shot'][e]:.2f}" for e in ENDPOINTS),
            f"{r['queries']:,} / {r['query_budget']:,} ({r['over_budget']} over)",
            f"{r['r1002']:,} ({r['r1002'] / max(r['creates_sent'], 1):.1%})",
            f"{r['cpu']:.1f}{subset} ({r['cpu'] / r['n'] * 1000:.1f} ms/shot)",
            f"{r['rss']:.0f}", f"{r['wall']:.1f}", f"{r['sim_cpu']:.1f}",
        ])
    print(common.table(
        ["client", "makespan (sim s)", "lower bound", "ratio", "per shot: create / query / retrieve / download",
         "queries / budget", "1002 (of creates sent)", "client CPU s", "peak RSS MB", "wall s", "sim CPU s"],
        lines))
    print()
    for r in rows:
        print(f"{r['name']}: {r['n']} shots; bound for them {r['bound']:,.0f} sim s; last create {r['create_lag']:.1f} s "
              f"after its earliest slot; last task finished at {r['last_finish']:,.0f}, last video on disk "
              f"{r['makespan'] - r['last_finish']:.1f} s later; start-up before the first create "
              f"{r['startup']:.2f} s wall; drawn-vs-observed processing gap {r['model_gap']:.2g} sim s; "
              f"load {r['load']}")
    print()
    by = {r["name"]: r for r in rows}
    checks = []
    if "shots" in by:
        r = by["shots"]
        checks += [("makespan <= 1.05 x bound (true RPM)", r["makespan"] / r["bound"], 1.05),
                   ("shots over the query budget (true RPM)", r["over_budget"], 0),
                   ("1002 answers (true RPM)", r["r1002"], 0)]
    if "shots-2x" in by:
        r = by["shots-2x"]
        checks += [("1002 / creates sent (RPM told 2x)", r["r1002"] / r["creates_sent"], 0.05),
                   ("makespan <= 1.15 x bound (RPM told 2x)", r["makespan"] / r["bound"], 1.15)]
    if "shots-unknown" in by:
        r = by["shots-unknown"]
        checks += [("makespan / bound (RPM unknown; no target)", r["makespan"] / r["bound"], None)]
    for label, value, limit in checks:
        verdict = "" if limit is None else ("met" if value <= limit else "MISSED")
        print(f"  {label}: {value:.3g}{'' if limit is None else f' (target <= {limit:g})'} {verdict}")


def report_regimes(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    lines = []
    for r in rows:
        lines.append([
            r["regime"], r["timing"], r["name"], f"{r['scale']:g}", f"{r['makespan']:,.1f}", f"{r['bound']:,.1f}",
            f"{r['makespan'] / r['bound']:.3f}", f"{r['per_shot']['query']:.2f}",
            f"{r['queries']:,} / {r['query_budget']:,} ({r['over_budget']} over)", str(r["max_queries"]),
            f"{r['lag_mean']:.1f} / {r['lag_max']:.1f}", f"{r['r1002']:,}", f"{r['wall']:.1f}",
        ])
    print(common.table(
        ["regime", "generation (sim s)", "client", "time scale", "makespan (sim s)", "lower bound", "ratio",
         "queries per shot", "queries / budget", "most queries (one shot)", "seen done after finish: mean / max (sim s)",
         "1002", "wall s"], lines))
    print()
    for r in rows:
        print(f"{r['regime']} {r['name']}: last create {r['create_lag']:.1f} s after its earliest slot; last task "
              f"finished at {r['last_finish']:,.1f}, last video on disk {r['makespan'] - r['last_finish']:.1f} s later; "
              f"load {r['load']}")
    print()
    for r in rows:
        if r["name"] != "shots":
            continue
        for label, value, limit in [
            (f"{r['regime']}: makespan / bound", r["makespan"] / r["bound"], 1.10),
            (f"{r['regime']}: shots over the query budget", r["over_budget"], 0),
            (f"{r['regime']}: 1002 answers at the true RPM", r["r1002"], 0),
        ]:
            print(f"  {label}: {value:.3g} (target <= {limit:g}) {'met' if value <= limit else 'MISSED'}")


def run_regimes(args: argparse.Namespace) -> None:
    names = list(REGIMES) if args.regimes == "all" else args.regimes.split(",")
    print(f"{args.regime_shots} shots per regime; simulator: rpm {args.rpm}, concurrency {args.sim_concurrency}, "
          f"seed {args.seed}; poll interval {POLL:g} s (the default); clients {args.regime_clients}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-regimes-") as tmp:
        for regime in names:
            timing = REGIMES[regime]
            run_args = argparse.Namespace(**{**vars(args), "time_scale": timing.time_scale, "shots": args.regime_shots})
            for name in args.regime_clients.split(","):
                started = time.perf_counter()
                row = measure(name, run_args, Path(tmp), timing, label=f"{regime}-")
                row.update(regime=regime, timing=timing.describe(), scale=timing.time_scale)
                rows.append(row)
                print(f"  {regime} {name}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print()
    report_regimes(rows, args)


def main() -> None:
    if "--h3" in sys.argv:
        from bench import h3

        sys.argv.remove("--h3")
        h3.main()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--seed-shots", type=int, default=10, help="shots for the one-at-a-time seed loop")
    parser.add_argument("--rpm", type=int, default=20, help="the simulator's creates per minute")
    parser.add_argument("--sim-concurrency", type=int, default=60, help="tasks Processing at once in the simulator")
    parser.add_argument("--time-scale", type=float, default=0.05, help="real seconds per simulated second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", default="seed,naive,shots,shots-2x,shots-unknown")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a client is killed")
    parser.add_argument("--client", choices=("seed", "naive", "inprocess"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    parser.add_argument("--first-poll", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--regimes", default="", metavar="NAMES",
                        help=f"instead: one row per server speed, 'all' or some of {','.join(REGIMES)}")
    parser.add_argument("--regime-shots", type=int, default=30, help="shots per regime")
    parser.add_argument("--regime-clients", default="shots", help="shots and/or fixed90 (the first poll fixed at 90 s)")
    args = parser.parse_args()
    if args.client:
        child_main(args)
        return
    print(common.machine())
    if args.regimes:
        run_regimes(args)
        return
    print(f"{args.shots} shots (seed loop: {args.seed_shots}); simulator: rpm {args.rpm}, concurrency "
          f"{args.sim_concurrency}, processing 90-240 s, preparing 1-5 s, queueing 0-30 s, time scale "
          f"{args.time_scale:g} (a simulated minute is {60 * args.time_scale:g} s), seed {args.seed}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        for name in args.clients.split(","):
            started = time.perf_counter()
            rows.append(measure(name, args, Path(tmp)))
            print(f"  {name}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print()
    report(rows, args)


if __name__ == "__main__":
    main()
