"""The README's "Talking to the simulator yourself" commands, as written: `shots sim` in its own
process, then the example storyboard with a key, from a copy of the project and from another
working folder. Nothing here shares a process or an object with the code under test."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_sim_commands() -> tuple[list[str], dict[str, str], list[str]]:
    """(sim argv, run env, run argv) from the README's block, with `.venv/bin/shots` as this Python."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Talking to the simulator yourself\n+```sh\n(.*?)```", text, re.S).group(1)
    sim_line, run_line = [line for line in block.splitlines() if line.strip()][:2]
    sim = shlex.split(sim_line.rstrip("& "))
    words = shlex.split(run_line)
    env = dict(w.split("=", 1) for w in words if re.match(r"^[A-Z_]+=", w))
    run = [w for w in words if not re.match(r"^[A-Z_]+=", w)]
    shots = [sys.executable, "-m", "pipeline"]
    assert sim[0].endswith("shots") and run[0].endswith("shots")
    return shots + sim[1:], env, shots + run[1:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project as a user has it: manifests/ with assets, an outputs/ folder."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "manifests", root / "manifests", ignore=shutil.ignore_patterns("*.lock.json"))
    shutil.copytree(ROOT / "schemas", root / "schemas")
    (root / "outputs").mkdir()
    return root


@pytest.fixture
def readme_sim():
    """`shots sim` from the README, in its own process, on a free port; yields (port, run env, run argv)."""
    sim_argv, env, run_argv = readme_sim_commands()
    port = str(free_port())
    sim_argv = [port if a == "8765" else a for a in sim_argv]
    env = {k: v.replace("8765", port) for k, v in env.items()}
    proc = subprocess.Popen(sim_argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")})
    try:
        line = proc.stderr.readline()  # the banner comes once the port is bound: an event, not a sleep
        assert f"127.0.0.1:{port}" in line, line
        # Keep reading its log: a full pipe (64 KB, some 500 requests) would stop the simulator.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield env, run_argv
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_the_readme_commands_run_the_example_with_a_key(readme_sim, project, tmp_path):
    env, run_argv = readme_sim
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}, **env}
    run_argv = run_argv + ["--json", "--quiet"]
    first = subprocess.run(run_argv, env=full_env, cwd=project, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["backend"] == "api" and summary["failed"] == summary["uncertain"] == summary["pending"] == 0
    assert summary["creates"] == summary["done"] == 8
    assert os.environ.get("MINIMAX_API_KEY", "sim-key") not in first.stderr  # never printed
    folder = project / "outputs" / "lighthouse-teaser"
    assert len(list(folder.glob("*.mp4"))) == 8

    # The same command from another working folder finds the same ledger: nothing to pay.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    from_elsewhere = [str(project / a) if a.endswith(".yaml") else a for a in run_argv]
    again = subprocess.run(from_elsewhere, env=full_env, cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["creates"] == 0 and not (elsewhere / "outputs").exists()


def test_the_budget_is_checked_against_declared_prices(readme_sim, project):
    env, run_argv = readme_sim
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}, **env}
    manifest = project / "manifests" / "example.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(re.sub(r"(?m)^prices:.*\n(  .*\n)+", "", text), encoding="utf-8")  # S2V-01 unpriced again
    assert "prices:" not in manifest.read_text(encoding="utf-8")
    line = next(n for n, l in enumerate(manifest.read_text().splitlines(), 1) if l.startswith("max_cost:"))

    plan = subprocess.run([*run_argv[:3], "plan", "manifests/example.yaml"], env=full_env, cwd=project,
                          capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0
    assert f"max_cost 5 (manifests/example.yaml:{line}" in plan.stdout and "no known price" in plan.stdout

    refused = subprocess.run(run_argv, env=full_env, cwd=project, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 3 and f"example.yaml:{line}" in refused.stderr
    assert "--max-cost" not in refused.stderr.split("no known price")[0]  # it names what the user wrote

    raised = subprocess.run(run_argv + ["--max-cost", "100", "--only", "s06-visitor"],
                            env=full_env, cwd=project, capture_output=True, text=True, timeout=60)
    assert raised.returncode == 3 and "--max-cost 100: 1 take(s) to create have no known price" in raised.stderr

    lifted = subprocess.run(run_argv + ["--max-cost", "none", "--only", "s06-visitor", "--json", "--quiet"],
                            env=full_env, cwd=project, capture_output=True, text=True, timeout=120)
    assert lifted.returncode == 0, lifted.stderr
    assert json.loads(lifted.stdout)["done"] == 1


def test_the_readme_commands_run_the_h3_storyboard_with_a_key(readme_sim, project):
    """The same `shots sim`, the v2 storyboard: every v2 mode, a 2K shot, references, H3-Max."""
    env, run_argv = readme_sim
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}, **env}
    h3 = [a.replace("example.yaml", "h3.yaml") for a in run_argv] + ["--json", "--quiet"]
    first = subprocess.run(h3, env=full_env, cwd=project, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["backend"] == "api" and summary["done"] == summary["creates"] == 6
    ledger = project / "outputs" / "keepers-night-h3" / "ledger.jsonl"
    seconds = {e["shot"]: e["seconds"] for e in map(json.loads, ledger.read_text().splitlines())
               if e["e"] == "downloaded"}
    assert seconds["h01-harbour"] == pytest.approx(158 / 24, abs=0.01)  # "6 s" on the 17-frame grid
    again = subprocess.run(h3, env=full_env, cwd=project, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["creates"] == 0
