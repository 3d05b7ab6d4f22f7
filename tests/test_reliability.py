"""Disk, filesystem, concurrency and secrets: each gives a clear message and a safe outcome."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from pipeline.run import ledger

from runs import cli_env, run_cli, shots_cmd, t2v_shots, write_manifest

SCALE = 0.01


def test_disk_full_during_a_download_aborts_clearly_and_the_next_run_finishes(sim, tmp_path):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    out_dir = tmp_path / "out" / "test-run"
    out_dir.mkdir(parents=True)
    # The kernel's own ENOSPC: /dev/full accepts the open and refuses every write.
    (out_dir / "s001.mp4.part").symlink_to("/dev/full")
    full = run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", cwd=tmp_path)
    assert full.returncode == 3, full.stderr
    assert "No space left on device" in full.stderr and "nothing is lost" in full.stderr
    assert not (out_dir / "s001.mp4.part").exists()
    view = ledger.load(out_dir)  # the ledger is whole; the task id is kept
    assert {s.state for s in view.states.values()} <= {"succeeded", "downloaded", "submitted"}

    again = run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sim.stats()["tasks_created"] == 2  # the retry downloaded; it did not pay again


def test_an_output_folder_that_cannot_be_made_is_a_clear_abort(sim, tmp_path):
    manifest = write_manifest(tmp_path, t2v_shots(1))
    (tmp_path / "out").write_text("a file where the outputs folder should be")
    result = run_cli(sim, "run", str(manifest), "--out", "out", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.startswith("Error: cannot create the output folder out/test-run")
    assert sum(sim.stats()["requests"].values()) == 0


def test_a_damaged_ledger_line_stops_the_run_and_repair_recovers_everything(sim, tmp_path):
    manifest = write_manifest(tmp_path, t2v_shots(3))
    assert run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", cwd=tmp_path).returncode == 0
    path = tmp_path / "out" / "test-run" / "ledger.jsonl"
    lines = path.read_text().splitlines()
    lines.insert(3, "#### garbage from a bad editor save ####")
    path.write_text("\n".join(lines) + "\n")

    stopped = run_cli(sim, "run", str(manifest), "--out", "out", cwd=tmp_path)
    assert stopped.returncode == 3
    assert "ledger.jsonl:4: damaged ledger line" in stopped.stderr and "shots repair" in stopped.stderr

    repaired = run_cli(sim, "repair", str(manifest), "--out", "out", cwd=tmp_path)
    assert repaired.returncode == 0 and "set 1 damaged line(s) aside (line 4)" in repaired.stdout
    side = list(path.parent.glob("ledger.jsonl.damaged-*"))
    assert len(side) == 1 and "garbage" in side[0].read_text()

    again = run_cli(sim, "run", str(manifest), "--out", "out", "--json", cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["creates"] == 0


def test_status_reads_the_ledger_while_a_run_writes_it(sim_factory, tmp_path):
    sim = sim_factory(time_scale=SCALE)
    manifest = write_manifest(tmp_path, t2v_shots(10))
    run = subprocess.Popen(
        shots_cmd("run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", "--time-scale", str(SCALE)),
        cwd=tmp_path, env=cli_env(sim), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen = set()
    while run.poll() is None:
        status = run_cli(sim, "status", str(manifest), "--out", "out", "--json", cwd=tmp_path)
        states = {t["state"] for t in json.loads(status.stdout)["takes"]}
        assert status.returncode == (0 if states == {"downloaded"} else 1), status.stderr  # the exit-code table
        seen.update(states)
    assert run.wait() == 0, run.stderr.read()
    assert len(seen) >= 2  # it really looked mid-run, not only before or after
    final = run_cli(sim, "status", str(manifest), "--out", "out", "--json", cwd=tmp_path)
    assert {t["state"] for t in json.loads(final.stdout)["takes"]} == {"downloaded"} and final.returncode == 0


CANARY = "sk-CANARY-7f3a9e1d2c4b6a8f0e1d3c5b7a9f2e4d"


def test_the_key_appears_in_no_output_file_stream_or_error(sim_factory, tmp_path):
    """A recognisable key through a run with faults, aborts and every command; then grep everything."""
    sim = sim_factory(keys=(CANARY,), sensitive_words=("forbidden",), seed=5,
                      faults={"http_500": 0.1, "error_1000": 0.1, "reset": 0.05, "truncate_download": 0.2,
                              "expire_url": 0.2, "drop_create": 0.05})
    shots = t2v_shots(6) + [{"id": "bad", "mode": "text_to_video", "prompt": "forbidden"}]
    manifest = write_manifest(tmp_path, shots)
    env = {**cli_env(sim), "MINIMAX_API_KEY": CANARY}
    streams = []
    for args in (
        ["run", str(manifest), "--out", "out", "--rpm", "600", "--verbose", "--time-scale", str(sim.cfg.time_scale)],
        ["run", str(manifest), "--out", "out", "--json", "--time-scale", str(sim.cfg.time_scale)],
        ["plan", str(manifest), "--out", "out", "--reason"],
        ["status", str(manifest), "--out", "out", "--json"],
        ["validate", str(manifest), "--json"],
    ):
        done = subprocess.run(shots_cmd(*args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        streams += [done.stdout, done.stderr]
    # A key the server refuses: the account error's text must not echo it either.
    wrong = subprocess.run(shots_cmd("run", str(manifest), "--out", "out2", "--time-scale", "0.001"),
                           cwd=tmp_path, env={**env, "MINIMAX_API_KEY": CANARY + "-revoked"},
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 3 and "authentication failed" in wrong.stderr
    streams += [wrong.stdout, wrong.stderr]

    assert all(CANARY not in text for text in streams)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "ledger.jsonl" for p in files) and any(p.suffix == ".mp4" for p in files)
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path


def test_two_runs_on_one_folder_the_second_is_refused_the_first_unharmed(sim_factory, tmp_path):
    sim = sim_factory(time_scale=SCALE)
    manifest = write_manifest(tmp_path, t2v_shots(6))
    first = subprocess.Popen(
        shots_cmd("run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", "--time-scale", str(SCALE)),
        cwd=tmp_path, env=cli_env(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(0.8)
    second = run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", cwd=tmp_path)
    assert second.returncode == 3
    assert f"another run is using this output folder (pid {first.pid} " in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert sim.stats()["tasks_created"] == 6


FAULTS_AT_REALISTIC_RATES = {
    "error_1000": 0.01, "error_1001": 0.01, "error_1002": 0.02, "error_1013": 0.01, "error_1033": 0.01,
    "http_500": 0.01, "http_502": 0.01, "http_503": 0.01, "reset": 0.01, "slow": 0.02,
    "drop_create": 0.01, "truncate_download": 0.03, "expire_url": 0.03, "fail_1027": 0.03,
}


@pytest.mark.slow
def test_every_fault_at_realistic_rates_200_shots(sim_factory, tmp_path, monkeypatch):
    from runs import run_inprocess

    sim = sim_factory(faults=FAULTS_AT_REALISTIC_RATES, seed=11, sensitive_words=("forbidden",),
                      slow_seconds=0.05, render_height=64, render_fps=4, rpm=20, time_scale=0.002)
    shots = t2v_shots(198) + [{"id": f"bad{i}", "mode": "text_to_video", "prompt": "forbidden"} for i in range(2)]
    manifest = write_manifest(tmp_path, shots)
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=20, seed=5)
    stats = sim.stats()
    outcomes = {o: result.count(o) for o in ("done", "failed", "uncertain", "pending")}
    requests_per_shot = sum(stats["requests"].values()) / len(shots)
    print("fault suite:", {"outcomes": outcomes, "faults": stats["faults"], "requests": stats["requests"],
                           "requests_per_shot": round(requests_per_shot, 2),
                           "answers_1002": stats["answers"].get("1002", 0)})
    assert outcomes["pending"] == 0
    for r in result.results:
        assert r.outcome == "done" or r.detail, r
    assert requests_per_shot <= 30  # no retry storm
    assert outcomes["done"] >= 170
