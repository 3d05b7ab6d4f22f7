"""`shots plan`'s wall time: learned generation times, and the simulator's clock (issue 14)."""

from __future__ import annotations

import re
import subprocess

import pytest

from pipeline.manifest.checker import load
from pipeline.minimax import catalogue
from pipeline.run import workflow
from pipeline.run.gentime import Observation, task_class
from pipeline.run.ledger import LedgerView
from pipeline.run.plan import Plan, estimate_seconds, make_plan
from pipeline.run.request import SIM_ENDPOINT

from runs import ROOT, shots_cmd, t2v_shots, write_manifest


@pytest.fixture
def plan3(tmp_path) -> Plan:
    """Three takes to submit, nothing in the ledger."""
    manifest = load(write_manifest(tmp_path, t2v_shots(3)))
    specs = workflow.take_specs(manifest, SIM_ENDPOINT)
    return make_plan(specs, LedgerView(), lambda state: None, endpoint=SIM_ENDPOINT)


def _learned(plan: Plan, seconds: float, n: int = 5, other_class: bool = False) -> list[Observation]:
    cls = task_class(plan.takes[0].spec.request)
    if other_class:
        cls = ("T2V-01", cls[1], cls[2])
    return [Observation(cls, 0.0, seconds) for _ in range(n)]  # done by `seconds`, every time


def _prior(plan: Plan) -> float:
    shot = plan.takes[0].spec.shot
    return catalogue.expected_generation_seconds(shot.model, shot.resolution)


@pytest.mark.parametrize(
    "rpm, concurrency, learned_s, other_class, time_scale, expected",
    [
        # nothing learned: the documented prior, at time scale 1
        (60, None, None, False, 1.0, lambda prior: 60 + prior),
        # learned 20 s: one rate window plus the learned time
        (60, None, 20.0, False, 1.0, lambda prior: 60 + 20),
        # learned for another class only: still the prior
        (60, None, 20.0, True, 1.0, lambda prior: 60 + prior),
        # one task at a time: the slots bound, 3 x 30 s, plus the last one's generation
        (60, 1, 30.0, False, 1.0, lambda prior: 3 * 30 + 30),
        # the simulator's clock: the same figure, 100x faster
        (60, None, None, False, 0.01, lambda prior: (60 + prior) * 0.01),
        (1, None, 20.0, False, 0.01, lambda prior: (3 * 60 + 20) * 0.01),
    ],
)
def test_estimate_table(plan3, rpm, concurrency, learned_s, other_class, time_scale, expected):
    history = [] if learned_s is None else _learned(plan3, learned_s, other_class=other_class)
    got = estimate_seconds(plan3, rpm, concurrency, history=history, time_scale=time_scale)
    assert got == pytest.approx(expected(_prior(plan3)))


def test_nothing_to_do_takes_no_time():
    assert estimate_seconds(Plan([]), 5, 2, time_scale=0.01) == 0.0


def _wall_time(stdout: str) -> str:
    match = re.search(r"^estimated wall time: (.*)$", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


def test_plan_keyless_says_seconds_with_the_simulator(tmp_path):
    """The example against the built-in simulator runs in seconds: plan says so, not minutes."""
    env = {"SHOTS_CONFIG": str(tmp_path / "none.toml"), "SHOTS_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run(shots_cmd("plan", str(ROOT / "manifests" / "example.yaml"), "--out", str(tmp_path)),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    wall = _wall_time(done.stdout)
    assert re.fullmatch(r"\d+ s \(simulator\)", wall), wall

    keyed = subprocess.run(shots_cmd("plan", str(ROOT / "manifests" / "example.yaml"), "--out", str(tmp_path),
                                     "--backend", "api"),
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert keyed.returncode == 0, keyed.stderr
    assert "min" in _wall_time(keyed.stdout) and "simulator" not in _wall_time(keyed.stdout)
