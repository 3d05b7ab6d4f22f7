"""Shared pieces of the benchmark scripts: the machine, measured child processes, manifests, the bound.

Clients run as child processes so that their CPU time and peak RSS are theirs alone (os.wait4's
rusage), while the simulator runs in the benchmark's own process.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KEY = "sim-key"
RATE_WINDOW = 60.0  # simulated seconds in "requests per minute"

SUBJECTS = ["a lighthouse on a cliff", "the keeper on the stairs", "a gull over the waves", "a fishing boat",
            "rain on the lantern glass", "the harbour at night", "a storm rolling in", "dawn over the sea"]
MOVES = ["Push in", "Pull out", "Pan left", "Pan right", "Tilt up", "Tracking shot", "Static shot", "Zoom in"]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    """One line: CPUs, memory, Python, kernel, load average."""
    mem_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), {mem_gb:.1f} GB RAM, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}; load average {load_average()}")


@dataclass
class ChildRun:
    """A finished child process: exit code, wall time, CPU seconds (user + system), peak RSS."""

    returncode: int
    wall: float
    started: float  # time.time() just before the spawn
    cpu_user: float
    cpu_sys: float
    maxrss_mb: float
    stdout: str
    stderr: str

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak RSS since its exec (VmHWM), or 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_child(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float = 900.0) -> ChildRun:
    """Run `cmd` and reap it with os.wait4, whose rusage (CPU) is the child's alone, threads included.

    Peak RSS is VmHWM sampled every 20 ms, not ru_maxrss: Linux carries ru_maxrss across exec,
    so a child forked from a big benchmark process would report the parent's size.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started, t0 = time.time(), time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak = [0]  # Popen returns after the exec: every sample is the new program's
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _vm_hwm_kb(proc.pid))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
            sampler.join()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return ChildRun(proc.returncode, wall, started, usage.ru_utime, usage.ru_stime,
                        peak[0] / 1024, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"))


def sim_env(base_url: str) -> dict[str, str]:
    """The environment that points `shots run` (or any client) at a simulator, as a user would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    env.update(MINIMAX_API_KEY=KEY, MINIMAX_BASE_URL=base_url, PYTHONUNBUFFERED="1")
    return env


def shots_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def prompt(i: int) -> str:
    return (f"Shot {i}: {SUBJECTS[i % len(SUBJECTS)]} [{MOVES[i % len(MOVES)]}], "
            f"then {SUBJECTS[(i * 7 + 3) % len(SUBJECTS)]} [{MOVES[(i // 8) % len(MOVES)]}].")


def write_t2v_manifest(folder: Path, n: int, name: str, **settings: Any) -> Path:
    """n text-to-video shots with varied prompts (JSON is YAML; the loader reads it with positions)."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = [{"id": f"s{i:06d}", "mode": "text_to_video", "prompt": prompt(i)} for i in range(n)]
    doc = {"version": 1, "name": name, **settings,
           "defaults": {"model": "MiniMax-Hailuo-02", "duration": 6, "resolution": "768P"}, "shots": shots}
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def drawn_durations(cfg: Any, n: int) -> list[tuple[float, float, float]]:
    """(preparing, queueing, processing) of the simulator's first n tasks, in simulated seconds.

    The engine draws these three, in this order, from Random(f"{seed}:timing") for each accepted
    create (pipeline/sim/engine.py, Engine._schedule), so a fresh simulator with the same seed
    gives its i-th task the same durations whichever client drives it.
    """
    rng = random.Random(f"{cfg.seed}:timing")
    return [(rng.uniform(*cfg.preparing), rng.uniform(*cfg.queueing), rng.uniform(*cfg.processing))
            for _ in range(n)]


def lower_bound(cfg: Any, n: int, rpm: int | None) -> float:
    """The earliest the n-th video can exist, in simulated seconds after the first create.

    Creates as early as a strict window limiter allows (the i-th, from 0, at floor(i / rpm) * 60 s),
    then the engine's own schedule: each task's drawn preparing + queueing, and with a concurrency
    cap C the same per-key heap of slot-free times (a task starts Processing at max(ready, the
    earliest freed slot)). Every step is monotone in the create times, so no client can beat it.
    """
    slots: list[float] = []
    end = 0.0
    for i, (prep, queue, proc) in enumerate(drawn_durations(cfg, n)):
        created = (i // rpm) * RATE_WINDOW if rpm else 0.0
        start = created + prep + queue
        if cfg.concurrency is not None:
            if len(slots) >= cfg.concurrency:
                start = max(start, heapq.heappop(slots))
            heapq.heappush(slots, start + proc)
        end = max(end, start + proc)
    return end


def check_durations(cfg: Any, tasks: list[dict[str, Any]]) -> float:
    """Largest gap (simulated s) between the drawn and the observed processing times: ~0 if the bound's model holds."""
    ordered = sorted(tasks, key=lambda t: t["created_at"])
    drawn = drawn_durations(cfg, len(ordered))
    return max((abs((t["finished_at"] - t["started_at"]) / cfg.time_scale - d[2]) for t, d in zip(ordered, drawn)),
               default=0.0)


def query_bound(generation_s: float, poll_interval: float) -> int:
    """The query budget per shot: ceil(generation time / poll interval) + 1."""
    return math.ceil(generation_s / poll_interval) + 1


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (pastes straight into RESULTS.md)."""
    cells = [[str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)
