"""The runner end to end against the simulator: resume, regeneration, rate limits, faults, aborts."""

import json

import pytest

from pipeline.run import retry, store, video
from pipeline.minimax.client import AccountError
from pipeline.errors import AbortError
from pipeline.run.ledger import RunLock
from pipeline.manifest.checker import load
from pipeline.run import workflow

from fakeclock import FakeClock
from runs import make_image, run_cli, run_inprocess, t2v_shots, write_manifest
from virtualtime import run_virtual, simulator_on


def all_done(result):
    return [r.outcome for r in result.results] == ["done"] * len(result.results)


def test_a_run_makes_every_video_and_a_second_run_does_nothing(sim, tmp_path, monkeypatch):
    make_image(tmp_path / "a.png")
    shots = t2v_shots(4) + [{"id": "i01", "mode": "image_to_video", "first_frame_image": "a.png",
                             "prompt": "Turn [Pan left].", "takes": 2}]
    manifest = write_manifest(tmp_path, shots)
    out = tmp_path / "out"
    prepared, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert all_done(result) and len(result.results) == 6
    view = workflow.prepare(load(manifest), sim.base_url, out).view
    for r in result.results:
        path = out / "test-run" / r.file
        state = view.get(r.spec.shot.id, r.spec.take, r.spec.fingerprint)
        assert store.sha256_of(path) == state.sha256  # the ledger's sha256 is the file's
        video.verify(path, 6)
    assert (out / "test-run" / "i01.take2.mp4").exists()
    before = sim.stats()

    prepared, again = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    after = sim.stats()
    assert all_done(again)
    assert again.creates == 0
    assert after["requests"] == before["requests"]  # no create, query, retrieve or download
    assert {t.action for t in prepared.plan.takes} == {"up to date"}


def test_editing_one_prompt_regenerates_only_that_shot_and_keeps_the_old_video(sim, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shots = t2v_shots(3)
    manifest = write_manifest(tmp_path, shots)
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    old = (out / "test-run" / "s002.mp4").read_bytes()

    shots[1]["prompt"] = "Shot 2, rewritten: the storm arrives [Shake]."
    shots[0]["notes"] = "notes never change the fingerprint"
    shots.reverse()  # neither does order
    write_manifest(tmp_path, shots)
    prepared = workflow.prepare(load(manifest), sim.base_url, out)
    actions = {t.spec.shot.id: (t.action, t.reason) for t in prepared.plan.takes}
    assert actions["s002"] == ("changed: regenerate", "changed since the last run: prompt")
    assert actions["s001"][0] == actions["s003"][0] == "up to date"

    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert result.creates == 1 and all_done(result)
    history = list((out / "test-run" / "history").iterdir())
    assert len(history) == 1 and history[0].read_bytes() == old
    assert (out / "test-run" / "s002.mp4").read_bytes() != old


@pytest.mark.parametrize("told", [5, 10])
def test_rate_limit_told_the_truth_no_1002_told_double_few(sim_factory, tmp_path, monkeypatch, told):
    sim = sim_factory(rpm=5, time_scale=0.01)  # a simulated minute is 0.6 s
    manifest = write_manifest(tmp_path, t2v_shots(12))
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=told)
    rejected = sim.stats()["answers"].get("1002", 0)
    assert all_done(result)
    if told == 5:
        assert rejected == 0
    else:
        assert 1 <= rejected <= 2, rejected  # learned after the first, not a stream
    assert result.rate_limited == rejected


def test_unknown_rpm_is_learned_from_the_server(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(rpm=4, time_scale=0.01)
    manifest = write_manifest(tmp_path, t2v_shots(10))
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=None)
    assert all_done(result)
    assert sim.stats()["answers"].get("1002", 0) <= 2


def test_in_flight_cap_is_respected(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory()
    manifest = write_manifest(tmp_path, t2v_shots(8))
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600, concurrency=2)
    assert all_done(result)
    tasks = sim.tasks()
    events = sorted([(t["created_at"], 1) for t in tasks] + [(t["finished_at"], -1) for t in tasks])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak <= 2


def test_every_fault_ends_done_or_failed_or_uncertain_with_a_reason(tmp_path):
    """In virtual time, requests one at a time (tests/virtualtime.py): each fault's dice are rolled
    in the order requests arrive, and on the simulator's fast clock that order followed the
    machine's load, so now and then one take drew ten failed downloads in a row and ended pending."""
    faults = {"error_1000": 0.05, "error_1001": 0.05, "error_1002": 0.05, "error_1013": 0.05, "error_1033": 0.05,
              "http_500": 0.03, "http_502": 0.03, "http_503": 0.03, "reset": 0.03, "slow": 0.03,
              "drop_create": 0.05, "truncate_download": 0.15, "expire_url": 0.15, "fail_1027": 0.1}
    clock = FakeClock()
    with simulator_on(clock, tmp_path / "renders", faults=faults, seed=7, sensitive_words=("forbidden",),
                      slow_seconds=0.05) as sim:
        shots = t2v_shots(20) + [{"id": "bad", "mode": "text_to_video", "prompt": "A forbidden door."}]
        manifest = write_manifest(tmp_path, shots)
        _, result = run_virtual(manifest, sim, clock, tmp_path / "out", rpm=600, seed=3)
        stats = sim.stats()
    outcomes = {r.spec.shot.id: r for r in result.results}
    # Faults land on whichever request draws them: the sensitive shot is refused (1026), unless an
    # injected fault took its create answer first, which makes it uncertain, never done.
    bad = outcomes["bad"]
    assert (bad.outcome == "failed" and "1026" in bad.detail) or bad.outcome == "uncertain", bad
    for r in result.results:
        assert r.outcome in ("done", "failed", "uncertain"), (r.spec.shot.id, r.outcome, r.detail)
        if r.outcome != "done":
            assert r.detail
    assert result.count("done") >= 10
    injected = stats["faults"]
    assert injected.get("truncate_download", 0) + injected.get("expire_url", 0) >= 1
    # No retry storm: requests per shot stay bounded.
    assert sum(stats["requests"].values()) <= 25 * len(shots)


def test_a_download_url_that_keeps_expiring_leaves_the_take_pending_saying_why(sim_factory, tmp_path, monkeypatch):
    """Every retrieve hands out an expired URL: the take stops after the read attempts, pending,
    and its reason is the expiry (an expired URL once left the reason "None")."""
    sim = sim_factory(faults={"expire_url": 1.0})
    manifest = write_manifest(tmp_path, t2v_shots(1))
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    [r] = result.results
    assert r.outcome == "pending" and "None" not in r.detail, r.detail
    assert r.detail == ("download keeps failing (download URL refused (HTTP 403); it has probably expired); "
                        "run again: no new charge")
    assert sim.stats()["requests"]["retrieve"] == sim.stats()["requests"]["download"] == retry.MAX_READ_ATTEMPTS


def test_uncertain_creates_are_never_resubmitted_without_the_flag(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(faults={"drop_create": 1.0})
    manifest = write_manifest(tmp_path, t2v_shots(2))
    out = tmp_path / "out"
    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert [r.outcome for r in result.results] == ["uncertain", "uncertain"]
    assert sim.stats()["tasks_created"] == 2

    sim.set_faults({})
    prepared, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert {t.action for t in prepared.plan.takes} == {"uncertain: skipped"}
    assert "--resubmit-uncertain" in prepared.plan.takes[0].reason
    assert sim.stats()["tasks_created"] == 2

    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600, resubmit_uncertain=True)
    assert all_done(result) and sim.stats()["tasks_created"] == 4


def test_failed_shots_are_skipped_until_retry_failed(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(faults={"fail_1027": 1.0})
    manifest = write_manifest(tmp_path, t2v_shots(1))
    out = tmp_path / "out"
    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert result.results[0].outcome == "failed" and "1027" in result.results[0].detail
    sim.set_faults({})
    prepared, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert prepared.plan.takes[0].action == "failed: skipped" and result.creates == 0
    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600, retry_failed=True)
    assert all_done(result) and result.creates == 1


def test_a_deleted_or_altered_video_is_fetched_again_without_a_new_task(sim, tmp_path, monkeypatch):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    out = tmp_path / "out"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    (out / "test-run" / "s001.mp4").unlink()
    with open(out / "test-run" / "s002.mp4", "r+b") as f:
        f.seek(100)
        f.write(b"tampered")
    prepared, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert [t.action for t in prepared.plan.takes] == ["download only", "download only"]
    assert "missing" in prepared.plan.takes[0].reason and "changed" in prepared.plan.takes[1].reason
    assert all_done(result) and result.creates == 0
    assert sim.stats()["tasks_created"] == 2
    assert len(list((out / "test-run" / "history").iterdir())) == 1  # the altered file is kept


def test_an_account_error_stops_the_run(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(keys=("another-key",))  # our KEY is unknown here: 1004
    manifest = write_manifest(tmp_path, t2v_shots(5))
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    assert isinstance(result.aborted, AccountError) and result.aborted.exit_code == 3
    assert sim.stats()["requests"].get("create", 0) == 1  # stopped at once


def test_max_cost_refuses_before_any_request(sim, tmp_path, monkeypatch):
    manifest = write_manifest(tmp_path, t2v_shots(4))  # 4 x $0.28
    with pytest.raises(AbortError, match=r"would spend \$1.12 .* over --max-cost 1"):
        run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600, max_cost=1.0)
    assert sum(sim.stats()["requests"].values()) == 0


def test_cli_run_exit_codes_json_and_lock(sim, tmp_path):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    done = run_cli(sim, "run", str(manifest), "--json", "--rpm", "600", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["done"] == 2 and summary["creates"] == 2
    lock = json.loads((tmp_path / "shots.yaml.lock.json").read_text())
    assert sorted(lock["takes"]) == ["s001", "s002"] and lock["takes"]["s001"]["state"] == "downloaded"

    with RunLock(tmp_path / "out" / "test-run"):
        locked = run_cli(sim, "run", str(manifest), "--out", "out", cwd=tmp_path)
    assert locked.returncode == 3
    assert "another run is using this output folder (pid" in locked.stderr

    status = run_cli(sim, "status", str(manifest), "--out", "out", "--json", cwd=tmp_path)
    assert [t["state"] for t in json.loads(status.stdout)["takes"]] == ["downloaded", "downloaded"]


def test_cli_partial_failure_exits_1(sim_factory, tmp_path):
    sim = sim_factory(sensitive_words=("forbidden",))
    shots = t2v_shots(1) + [{"id": "bad", "mode": "text_to_video", "prompt": "forbidden"}]
    manifest = write_manifest(tmp_path, shots)
    run = run_cli(sim, "run", str(manifest), "--rpm", "600", "--out", "out", cwd=tmp_path)
    assert run.returncode == 1
    assert "bad" in run.stdout and "1026" in run.stdout


def test_plan_shows_actions_costs_and_unknown_prices(tmp_path):
    make_image(tmp_path / "face.jpg", size=(400, 600))
    shots = t2v_shots(2) + [{"id": "hero", "mode": "subject_reference", "model": "S2V-01",
                             "subject_image": "face.jpg", "prompt": "She smiles."}]
    manifest = write_manifest(tmp_path, shots)
    import subprocess, sys

    plan = subprocess.run([sys.executable, "-m", "pipeline", "plan", str(manifest), "--json", "--out", "out"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert [t["action"] for t in data["takes"]] == ["submit"] * 3
    assert data["known_cost"] == pytest.approx(0.56) and data["unknown_cost_takes"] == 1
    assert [t["cost"] for t in data["takes"]] == [0.28, 0.28, None]


def test_a_model_the_catalogue_does_not_know_is_sent_as_written(sim, tmp_path, monkeypatch):
    """New models appear: the manifest warns, the plan says 'unknown' price, the run still verifies."""
    manifest = write_manifest(tmp_path, [{"id": "new", "mode": "text_to_video", "model": "MiniMax-Hailuo-02",
                                          "prompt": "Waves."}])
    shot_doc = json.loads(manifest.read_text())
    shot_doc["shots"][0]["model"] = "MiniMax-Hailuo-9"
    manifest.write_text(json.dumps(shot_doc))
    loaded = load(manifest)
    assert loaded.shots[0].duration is None and loaded.warnings
    prepared = workflow.prepare(loaded, sim.base_url, tmp_path / "out")
    assert prepared.plan.takes[0].cost is None
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    # The simulator, like the API, refuses a model it does not know: a clear per-shot failure.
    assert result.results[0].outcome == "failed" and "2013" in result.results[0].detail


def test_only_runs_the_named_shots_and_suggests_a_near_miss(sim, tmp_path, monkeypatch):
    manifest = write_manifest(tmp_path, t2v_shots(3))
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600, only=["s002"])
    assert [r.spec.shot.id for r in result.results] == ["s002"] and all_done(result)
    assert sim.stats()["tasks_created"] == 1
    from pipeline.errors import InputError

    with pytest.raises(InputError, match="no shot 's02' .*did you mean 's002'"):
        run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600, only=["s02"])


def test_shots_removed_from_the_manifest_are_reported_and_left_alone(sim, tmp_path):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    assert run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", cwd=tmp_path).returncode == 0
    write_manifest(tmp_path, t2v_shots(1))
    again = run_cli(sim, "run", str(manifest), "--out", "out", cwd=tmp_path)
    assert again.returncode == 0
    assert "note: s002 take 1 is in the ledger but no longer in the manifest (left untouched)" in again.stderr
    assert (tmp_path / "out" / "test-run" / "s002.mp4").exists()


def test_the_lock_file_is_rewritten_only_when_its_content_changes(tmp_path):
    from pipeline.run import lockfile

    path = tmp_path / "shots.yaml.lock.json"
    data = {"version": 1, "name": "n", "endpoint": "simulator",
            "takes": {"b": {"fingerprint": "f2", "state": "new"}, "a": {"fingerprint": "f1", "state": "downloaded"}}}
    assert lockfile.write_lock(path, data) is True
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert lockfile.write_lock(path, json.loads(text)) is False and path.read_text(encoding="utf-8") == text
    data["takes"]["b"]["state"] = "downloaded"
    assert lockfile.write_lock(path, data) is True and '"state": "new"' not in path.read_text(encoding="utf-8")
    path.write_text(text[:20], encoding="utf-8")  # damaged by hand: written afresh
    assert lockfile.write_lock(path, data) is True and json.loads(path.read_text(encoding="utf-8")) == data
