"""How validate, plan, ledger replay, a full run and a resume grow with the number of shots.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--run-shots 10000]

For each size, in a child process of its own (so that its CPU and peak RSS are its own): a
text-to-video manifest with varied prompts in a temp dir; `load` (validate),
`workflow.prepare` against an empty output folder (plan), a full replay of a synthetic ledger
with 10 events per shot (`ledger.load` with no snapshot: parse and fold every event, then write
the snapshot), and `ledger.load` again from that snapshot (what a resume does). Then one full `shots run` of --run-shots shots (the CLI, a
child process: its CPU and peak RSS from os.wait4) against a fast simulator in this process
(time scale 0.001, no RPM limit, 32 px / 2 fps previews), and `shots run` again on the finished
folder (resume: it must create and download nothing). In-process times are the best of 3 (1
from 100,000 shots up); a shared machine only ever adds time.

`shots run` writes a contact sheet (report.html with thumbnails) after a run when the working tree
has that step (cli._report_after_run); it is timed apart with --with-report, since it is a
separate feature with its own growth, and is switched off in the child otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from pipeline.manifest import imagefiles
from pipeline.run import ledger, workflow  # noqa: E402
from pipeline.run.request import SIM_ENDPOINT  # noqa: E402
from pipeline.manifest.checker import load  # noqa: E402

EVENTS_PER_SHOT = 10


def write_manifest(folder: Path, n: int) -> Path:
    """A YAML shot list as a person writes one: defaults, then one block per shot."""
    lines = ["version: 1", f"name: scale-{n}", "defaults:", "  model: MiniMax-Hailuo-02", "  duration: 6",
             "  resolution: 768P", "shots:"]
    for i in range(n):
        lines += [f"  - id: s{i:06d}", "    mode: text_to_video", f'    prompt: "{common.prompt(i)}"']
        if i % 10 == 0:
            lines += ["    takes: 1", "    notes: wide establishing shot"]
    path = folder / f"scale-{n}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_ledger(out_dir: Path, specs: list[Any], events: int, seed: int = 0) -> int:
    """A ledger.jsonl as real runs leave it: runs started and finished, 1002 refusals, edits that
    regenerate (archived videos), and every take downloaded; `events` lines in all."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    t = 1_790_000_000.0

    def add(kind: str, spec: Any = None, fp: str | None = None, **fields: Any) -> None:
        nonlocal t
        t += 0.05
        ev: dict[str, Any] = {"v": 1, "t": round(t, 3), "e": kind}
        if spec is not None:
            ev.update(shot=spec.shot.id, take=spec.take, fp=fp or spec.fingerprint)
        ev.update(fields)
        lines.append(json.dumps(ev, ensure_ascii=False, separators=(",", ":")))

    def take(spec: Any, fp: str) -> None:
        if rng.random() < 0.3:
            add("intent", spec, fp, req=spec.request, cost=0.28)
            add("create_failed", spec, fp, final=False, code=1002, reason="rate limited: rate limit exceeded(RPM) (1002)")
        task = str(rng.randrange(10**17, 10**18))
        add("intent", spec, fp, req=spec.request, cost=0.28)
        add("submitted", spec, fp, task_id=task)
        add("succeeded", spec, fp, task_id=task, file_id=str(rng.randrange(10**14, 10**15)), width=1366, height=768)
        add("downloaded", spec, fp, task_id=task, file_id="1", file=spec.filename, bytes=rng.randrange(10**6, 10**7),
            sha256=f"{rng.getrandbits(256):064x}", mtime_ns=time.time_ns())

    while len(lines) < events:
        add("run_started", endpoint=SIM_ENDPOINT, backend="simulator", takes=len(specs))
        for spec in specs:
            if len(lines) >= events:
                break
            if rng.random() < 0.1:  # edited once: the old fingerprint's video went to history/
                old = f"{rng.getrandbits(256):064x}"
                take(spec, old)
                add("archived", spec, old, to=f"history/{spec.filename}")
            take(spec, spec.fingerprint)
        add("run_finished", done=len(specs), failed=0, uncertain=0, pending=0)
    del lines[events:]
    ledger.ledger_path(out_dir).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(best wall seconds, mean CPU seconds, the value) over `repeat` calls."""
    times, value = [], None
    cpu = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), (time.process_time() - cpu) / repeat, value


def full_replay(out_dir: Path) -> Any:
    """ledger.load with no snapshot to start from: every event parsed and folded, and the snapshot written."""
    (out_dir / ledger.SNAPSHOT_NAME).unlink(missing_ok=True)
    return ledger.load(out_dir)


def cold_load(path: Path) -> Any:
    imagefiles._facts.clear()  # as in a fresh process
    return load(path)


def growth_child(n: int, folder: Path) -> dict[str, Any]:
    """One size's steps in this (fresh) process: wall, CPU, and peak RSS so far after each step."""
    load(write_manifest(folder, 10))  # the schema validator compiles once per process, as in the CLI
    repeat = 3 if n <= 10_000 else 1
    path = write_manifest(folder, n)
    steps: dict[str, Any] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        wall, cpu, value = best(fn, repeat)
        steps[name] = {"wall": wall, "cpu": cpu, "peak_rss_mb": common._vm_hwm_kb(os.getpid()) / 1024}
        return value

    manifest = step("validate", lambda: cold_load(path))
    prepared = step("plan", lambda: workflow.prepare(manifest, SIM_ENDPOINT, folder / "empty-out"))
    events = write_ledger(folder / "ledger-out", prepared.specs, n * EVENTS_PER_SHOT)
    view = step("replay", lambda: full_replay(folder / "ledger-out"))  # leaves the snapshot
    from_snapshot = step("snapshot", lambda: ledger.load(folder / "ledger-out"))
    assert view.events == events == from_snapshot.events and len(prepared.plan.takes) == n
    assert from_snapshot.states == view.states
    return {"steps": steps, "events": events, "manifest_mb": path.stat().st_size / 1e6,
            "ledger_mb": ledger.ledger_path(folder / "ledger-out").stat().st_size / 1e6}


def growth(sizes: list[int], tmp: Path) -> list[list[Any]]:
    """Each size in a child process of its own, so that its peak RSS is its own."""
    rows = []
    for n in sizes:
        folder = tmp / f"g{n}"
        folder.mkdir()
        child = common.run_child([sys.executable, str(Path(__file__).resolve()), "--growth-child", str(n),
                                  str(folder)], timeout=3600)
        if child.returncode != 0:
            raise SystemExit(f"growth {n} exited {child.returncode}: {child.stderr[-3000:]}")
        r = json.loads(child.stdout)
        st, events = r["steps"], r["events"]
        v, p, rp, sn = st["validate"], st["plan"], st["replay"], st["snapshot"]
        rows.append([f"{n:,}", f"{r['manifest_mb']:.1f} MB", f"{v['wall']:.2f}", f"{p['wall']:.2f}",
                     f"**{v['wall'] + p['wall']:.2f}**", f"{(v['cpu'] + p['cpu']) / n * 1e6:.0f}",
                     f"{events:,} ({r['ledger_mb']:.0f} MB)", f"{rp['wall']:.2f}", f"{rp['cpu'] / events * 1e6:.1f}",
                     f"{sn['wall']:.2f}",
                     " / ".join(f"{st[k]['peak_rss_mb']:.0f}" for k in ("validate", "plan", "replay", "snapshot"))])
        print(f"  growth {n:,}: done", file=sys.stderr, flush=True)
        shutil.rmtree(folder)
    return rows


def cli_cmd(with_report: bool) -> list[str]:
    """`shots` as a child process; without the after-run report unless asked (see the docstring)."""
    if with_report:
        return common.shots_cmd()
    return [sys.executable, str(Path(__file__).resolve().parent / "shots_no_report.py")]


def full_run(n: int, tmp: Path, resumes: int, with_report: bool) -> dict[str, Any]:
    from pipeline.sim import SimConfig, Simulator

    folder = tmp / "run"
    folder.mkdir()
    path = write_manifest(folder, n)
    cfg = SimConfig(keys=(common.KEY,), time_scale=0.001, rpm=None, render_height=32, render_fps=2,
                    render_cache_dir=tmp / "renders")
    run_cmd = cli_cmd(with_report) + ["run", str(path), "--rpm", "1000000", "--out", str(folder / "out"), "--quiet",
                               "--json", "--time-scale", str(cfg.time_scale)]
    with Simulator(cfg) as sim:
        env = common.sim_env(sim.base_url)
        before = resource.getrusage(resource.RUSAGE_SELF)
        load_before = common.load_average()
        child = common.run_child(run_cmd, env=env, cwd=folder, timeout=1800)
        after = resource.getrusage(resource.RUSAGE_SELF)
        if child.returncode != 0:
            raise SystemExit(f"run exited {child.returncode}: {child.stderr[-3000:]}")
        summary = json.loads(child.stdout)
        stats = sim.stats()
        sim.reset_stats()
        again = [common.run_child(run_cmd, env=env, cwd=folder, timeout=600) for _ in range(resumes)]
        after_stats = sim.stats()
    for r in again:
        if r.returncode != 0:
            raise SystemExit(f"resume exited {r.returncode}: {r.stderr[-3000:]}")
    resumed = json.loads(again[-1].stdout)
    requests = stats["requests"]
    return {
        "n": n, "done": summary["done"], "wall": child.wall, "cpu": child.cpu, "rss": child.maxrss_mb,
        "per_shot": {e: requests.get(e, 0) / n for e in ("create", "query", "retrieve", "download")},
        "sim_cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "load": f"{load_before} -> {common.load_average()}",
        "resume_walls": [r.wall for r in again], "resume_cpu": [r.cpu for r in again],
        "resume_rss": max(r.maxrss_mb for r in again),
        "resume_requests": sum(after_stats["requests"].values()), "resume_done": resumed["done"],
        "resume_creates": resumed["creates"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="shot counts for validate/plan/replay")
    parser.add_argument("--run-shots", type=int, default=2_000,
                        help="shots in the full run (0: skip it); 10000 takes ~10 min here")
    parser.add_argument("--resumes", type=int, default=3, help="resume runs on the finished folder (best is reported)")
    parser.add_argument("--with-report", action="store_true", help="keep `shots run`'s after-run report step")
    if sys.argv[1:2] == ["--growth-child"]:
        print(json.dumps(growth_child(int(sys.argv[2]), Path(sys.argv[3]))))
        return
    args = parser.parse_args()
    print(common.machine())
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp_name:
        tmp = Path(tmp_name)
        sizes = [int(x) for x in args.sizes.split(",") if x]
        if sizes:
            rows = growth(sizes, tmp)
            print()
            print("validate = manifest.load (schema, catalogue, lint); plan = workflow.prepare against an empty "
                  f"output folder; replay = ledger.load with no snapshot ({EVENTS_PER_SHOT} events per shot: parse, fold, "
                  "write the snapshot); from snapshot = ledger.load again. Each size in a fresh child process: wall seconds best "
                  "of 3 (1 at 100,000+), CPU the mean, peak RSS so far after each step.")
            print(common.table(["shots", "manifest", "validate s", "plan s", "validate + plan s",
                                "validate + plan CPU us/shot", "ledger events", "replay s", "replay CPU us/event",
                                "from snapshot s", "peak RSS MB after validate / plan / replay / snapshot"], rows))
        if args.run_shots:
            r = full_run(args.run_shots, tmp, args.resumes, args.with_report)
            n = r["n"]
            print()
            print(f"Full run: {n:,} shots, simulator time scale 0.001 (generation 0.09-0.24 s), no RPM limit, "
                  f"client --rpm 1000000, 32 px / 2 fps previews; after-run report "
                  f"{'included' if args.with_report else 'switched off'}; load {r['load']}")
            print(common.table(
                ["shots done", "wall s", "client CPU s", "client CPU ms/shot", "client peak RSS MB",
                 "per shot: create / query / retrieve / download", "simulator CPU s (renders included)"],
                [[f"{r['done']:,}", f"{r['wall']:.1f}", f"{r['cpu']:.1f}", f"**{r['cpu'] / n * 1000:.1f}**",
                  f"**{r['rss']:.0f}**", " / ".join(f"{v:.2f}" for v in r["per_shot"].values()),
                  f"{r['sim_cpu']:.1f}"]]))
            walls = ", ".join(f"{w:.2f}" for w in r["resume_walls"])
            print()
            print(f"Resume of the finished run (`shots run` again, a child process): wall **{min(r['resume_walls']):.2f} s** "
                  f"best of {len(r['resume_walls'])} ({walls}); CPU {min(r['resume_cpu']):.2f} s; peak RSS "
                  f"{r['resume_rss']:.0f} MB; requests to the simulator {r['resume_requests']}; creates "
                  f"{r['resume_creates']}; takes done {r['resume_done']:,}")


if __name__ == "__main__":
    main()
