"""Kill the runner (SIGKILL, SIGINT, SIGTERM) mid-work; re-run until done; nothing is lost or paid twice.

Kills follow events, never wall time: the test reads the ledger as the runner writes it and
signals right after a seeded event (the n-th intent, submitted, succeeded or downloaded of that
run, or the n-th download it starts: a .part file appears). Each kill point comes no later than
an intent the run still has to write, so when the kill lands the take behind that intent still
has its whole generation to go (0.91 s or more; the test reacts within milliseconds): every kill
lands mid-work, on a slow or loaded machine too, and creates are kept back for the later kills.

Invariants after every kill: the ledger replays; every take the ledger calls downloaded has a
file whose sha256 matches; no .part is counted as done. At the end: every take has exactly one
`submitted` task per fingerprint, and the simulator made at most one extra task per create whose
answer was lost at a kill (the unavoidable window, recorded as an intent with no answer).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from pipeline.run import ledger, store

from runs import cli_env, run_cli, shots_cmd, t2v_shots, write_manifest

SCALE = 0.01  # a generation takes 91-275 simulated s: 0.91-2.75 s
# What a kill may follow: a ledger event, or "downloading": a video's .part file appears.
KINDS = ("intent", "submitted", "succeeded", "downloading", "downloaded")
WAIT = 120.0  # seconds: only bounds a wait that should take a few, so that a broken run fails, not hangs


def check_after_kill(out_dir: Path) -> None:
    view = ledger.load(out_dir)  # replays, or raises
    for state in view.states.values():
        if state.state == "downloaded" and not (state.file or "").startswith("history/"):
            path = out_dir / state.file
            assert not path.name.endswith(".part")
            assert store.sha256_of(path) == state.sha256, state


def final_checks(out_dir: Path, sim, shots: int) -> dict[str, int]:
    events, _, _ = ledger.read(out_dir / "ledger.jsonl")
    submitted: Counter = Counter()
    dangling: Counter = Counter()
    open_intent: dict = {}
    for ev in events:
        key = (ev.get("shot"), ev.get("take"), ev.get("fp"))
        if ev["e"] == "intent":
            if open_intent.get(key):
                dangling[key] += 1  # the previous intent never heard its answer
            open_intent[key] = True
        elif ev["e"] in ("submitted", "create_failed", "uncertain"):
            if ev["e"] == "submitted":
                submitted[key] += 1
            if ev["e"] == "uncertain":
                dangling[key] += 1
            open_intent[key] = False
    dangling.update(k for k, is_open in open_intent.items() if is_open)
    assert len(submitted) == shots and set(submitted.values()) == {1}, "a take was submitted twice"
    view = ledger.load(out_dir)
    assert sum(1 for s in view.states.values() if s.state == "downloaded") == shots
    check_after_kill(out_dir)
    # Tasks the simulator made per request: one, plus at most the creates lost at kills.
    by_prompt = Counter(t["fingerprint"] for t in sim.tasks())
    extra = sum(by_prompt.values()) - len(by_prompt)
    assert len(by_prompt) == shots
    assert extra <= sum(dangling.values())
    return {"extra_tasks": extra, "lost_answers": sum(dangling.values())}


class LedgerTail:
    """The events a running process appends to a ledger, read as they land (whole lines only),
    and the downloads it starts (each new .part file is a "downloading" event).

    It starts at the end of the good prefix: a torn last line left by a kill is cut by the next
    writer before it appends, and a partial line is never taken as an event."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.path = ledger.ledger_path(out_dir)
        events, self.offset, _ = ledger.read(self.path)
        self.before = len(events)
        self.read = 0  # ledger events taken so far
        self.counts: Counter = Counter()
        self.parts = {p.name for p in out_dir.glob("*" + store.PART_SUFFIX)}  # in the last look; left by a kill

    def new_events(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        events = [json.loads(line) for line in data[:end].splitlines()]
        self.read += len(events)
        return events

    def written_since(self) -> int:
        """Ledger events written after the one being looked at (after a kill: in the kill's way)."""
        return len(ledger.read(self.path)[0]) - self.before - self.read

    def new_downloads(self) -> list[dict]:
        try:
            names = {e.name for e in os.scandir(self.out_dir) if e.name.endswith(store.PART_SUFFIX)}
        except FileNotFoundError:
            return []
        started, self.parts = sorted(names - self.parts), names
        return [{"e": "downloading", "file": name} for name in started]


def wait_for(proc: subprocess.Popen, tail: LedgerTail, hit: Callable[[dict, Counter], bool], what: str) -> dict:
    """The first new ledger event for which hit(event, counts so far) is true, as soon as it lands.

    Fails if the run ends first; WAIT bounds the wait only to fail instead of hanging."""
    deadline = time.monotonic() + WAIT
    while True:
        events = tail.new_events() + tail.new_downloads()
        for i, ev in enumerate(events):
            tail.counts[ev["e"]] += 1
            if hit(ev, tail.counts):
                tail.read -= sum(1 for later in events[i + 1:] if later["e"] != "downloading")
                return ev
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}; "
                                 f"its events: {dict(tail.counts)}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"no {what} within {WAIT} s; events: {dict(tail.counts)}")
        time.sleep(0.002)


@dataclass(frozen=True)
class KillPoint:
    """Kill the run right after its n-th `kind` event, or at its `last_intent`-th intent if that comes first.

    The run must still send `creates` creates, so its last_intent-th intent comes (last_intent <= creates);
    a kill at or before it leaves at least that take's generation undone: the kill lands mid-work.
    `exact`: the n-th `kind` event comes before that intent whatever the timing, so it is the trigger."""

    kind: str
    n: int
    last_intent: int
    creates: int
    exact: bool

    def hit(self, ev: dict, counts: Counter) -> bool:
        return (ev["e"] == self.kind and counts[self.kind] == self.n) or \
            (ev["e"] == "intent" and counts["intent"] == self.last_intent)

    def __str__(self) -> str:
        return f"{self.kind} #{self.n} (at the latest intent #{self.last_intent} of {self.creates} creates)"


def choose_kill(rng: random.Random, kind: str, out_dir: Path, shots: list[str], kills_left: int,
                concurrency: int | None, clean: bool) -> KillPoint:
    """Where this run is killed, from what the ledger says its work still is."""
    view = ledger.load(out_dir)
    states = Counter((view.current(shot, 1) or ledger.TakeState(shot, 1, "")).state for shot in shots)
    creates = states["new"] + states["intent"] + states["uncertain"]  # --resubmit-uncertain: all create
    assert creates >= kills_left, f"too little work left for {kills_left} kills: {dict(states)}"
    # Reach no further than the budget allows: every later kill needs creates of its own, and the
    # moments between a trigger and the kill landing may answer one more create.
    last_intent = max(1, creates - 2 * (kills_left - 1) - 1)
    downloads = len(shots) - states["downloaded"]
    to_come = {"intent": creates, "submitted": creates, "succeeded": creates + states["submitted"],
               "downloading": downloads, "downloaded": downloads}
    n = rng.randint(1, min(3, to_come[kind]))
    # When every create and poll succeeds (`clean`: no faults, no server rate limit), these come
    # before the last intent: creates are sent one at a time (intent, answer, next intent), and the
    # k-th create takes a slot only after k - concurrency polls have ended, each with `succeeded`.
    if kind == "intent":
        exact = n <= last_intent
    elif kind == "submitted":
        exact = clean and n < last_intent
    elif kind == "succeeded":
        exact = clean and concurrency is not None and n <= last_intent - concurrency
    else:
        exact = False  # downloads hold no slot: one may come before or after the last intent
    return KillPoint(kind, n, last_intent, creates, exact)


def kill_loop(sim, tmp_path: Path, shots: int, kills: int, seed: int, rpm: str = "600",
              concurrency: int | None = None) -> dict:
    """SIGKILL `kills` runs, each right after an event chosen by `seed`, then run to the end."""
    rng = random.Random(seed)
    manifest = write_manifest(tmp_path, t2v_shots(shots))
    ids = [f"s{i:03d}" for i in range(1, shots + 1)]
    out_dir = tmp_path / "out" / "test-run"
    options = ["--out", "out", "--rpm", rpm, "--quiet", "--resubmit-uncertain", "--no-lock-file"]
    if concurrency is not None:
        options += ["--concurrency", str(concurrency)]
    args = shots_cmd("run", str(manifest), *options, "--time-scale", str(sim.cfg.time_scale))
    kinds = rng.sample(KINDS, len(KINDS))  # each phase in turn, in a seeded order
    clean = sim.cfg.rpm is None and not sim.cfg.faults
    fired: Counter = Counter()
    log = []
    for killed in range(kills):
        point = choose_kill(rng, kinds[killed % len(kinds)], out_dir, ids, kills - killed, concurrency, clean)
        tail = LedgerTail(out_dir)
        with open(tmp_path / f"kill-{killed + 1}.stderr", "w") as err:
            proc = subprocess.Popen(args, cwd=tmp_path, env=cli_env(sim), stdout=subprocess.DEVNULL, stderr=err)
            try:
                trigger = wait_for(proc, tail, point.hit, f"kill point {point}")
            finally:
                proc.kill()  # the kill; or, if the wait failed, the cleanup
                proc.wait(30)
        at = f"{trigger['e']} #{tail.counts[trigger['e']]}"
        assert proc.returncode == -signal.SIGKILL, \
            f"kill {killed + 1} after {at} (kill point {point}) missed: the run exited {proc.returncode} first"
        if point.exact:
            assert at == f"{point.kind} #{point.n}", f"kill {killed + 1}: planned {point}, came after {at}"
        fired[trigger["e"]] += 1
        log.append(f"{point.kind} #{point.n}{'' if point.exact else '?'} (by intent #{point.last_intent}) -> {at}"
                   f" +{tail.written_since()}")
        check_after_kill(out_dir)
        view = ledger.load(out_dir)
        assert sum(1 for s in view.states.values() if s.state == "downloaded") < shots, \
            f"kill {killed + 1} after {at} landed when the work was done"
    final = run_cli(sim, "run", str(manifest), *options, cwd=tmp_path, timeout=600)
    assert final.returncode == 0, final.stdout + final.stderr
    figures = final_checks(out_dir, sim, shots)
    figures["kills"] = len(log)  # each landed in a live run, or the loop failed
    figures["after"] = dict(fired)
    figures["log"] = log
    return figures


def test_sigkill_at_random_moments_loses_nothing_and_pays_once(sim_factory, tmp_path):
    sim = sim_factory(time_scale=SCALE)
    figures = kill_loop(sim, tmp_path, shots=20, kills=6, seed=1, concurrency=4)
    print("kills:", figures)
    assert figures["kills"] == 6


@pytest.mark.slow
def test_sigkill_200_shots_50_kills(sim_factory, tmp_path):
    # A slower clock, and the server takes 3 creates per (1.2 s) minute however often the client
    # restarts, so creates are spread over the whole run.
    sim = sim_factory(time_scale=0.02, rpm=3, render_height=64, render_fps=4)
    figures = kill_loop(sim, tmp_path, shots=200, kills=50, seed=2, rpm="3")
    print("crash suite:", figures)
    assert figures["kills"] == 50


@pytest.mark.parametrize("signals, after", [
    ([signal.SIGINT], ("submitted", 6)),  # every create answered, the tasks generating
    ([signal.SIGINT], ("intent", 3)),  # while creating: the create in flight is still recorded
    ([signal.SIGTERM], ("submitted", 6)),
    ([signal.SIGINT, signal.SIGINT], ("submitted", 6)),
], ids=["sigint", "sigint-while-creating", "sigterm", "sigint-twice"])
def test_interrupt_exits_130_quickly_and_the_next_run_resumes(sim_factory, tmp_path, signals, after):
    sim = sim_factory(time_scale=SCALE)
    manifest = write_manifest(tmp_path, t2v_shots(6))
    out_dir = tmp_path / "out" / "test-run"
    args = shots_cmd("run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", "--no-lock-file",
                     "--time-scale", str(SCALE))
    tail = LedgerTail(out_dir)
    proc = subprocess.Popen(args, cwd=tmp_path, env=cli_env(sim), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        kind, n = after
        wait_for(proc, tail, lambda ev, counts: ev["e"] == kind and counts[kind] == n, f"{kind} #{n}")
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    # The take that event is about still has its whole generation (0.91 s or more) to go.
    assert proc.poll() is None
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=30)  # it stops by itself; it does not hang
    # A second Ctrl-C may land after our cleanup and end the process by the signal itself; a shell
    # reports both as exit status 130.
    assert proc.returncode in (130, -signal.SIGINT), stderr
    check_after_kill(out_dir)
    tasks_before = len(sim.tasks())
    if len(signals) == 1:  # a graceful stop waits for the answer of every create it sent
        events, _, _ = ledger.read(out_dir / "ledger.jsonl")
        kinds = Counter(ev["e"] for ev in events)
        assert kinds["intent"] == kinds["submitted"] == tasks_before >= n, kinds

    again = run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", "--no-lock-file",
                    cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    if len(signals) == 1:  # a graceful stop recorded every task id: nothing is created twice
        assert len(sim.tasks()) == 6
    else:
        assert len(sim.tasks()) >= tasks_before
    final_checks(out_dir, sim, 6)
