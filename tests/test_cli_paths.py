"""The roads beside the happy one (issue 11): another working folder, --only anywhere, one JSON
document per --json command, plan without a key, status exit codes, an image edited mid-run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pipeline.run import ledger, request
from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.manifest.checker import load

from runs import KEY, cli_env, make_image, point_at, run_inprocess, shots_cmd, t2v_shots, write_manifest


def project(tmp_path: Path, shots: list[dict], **settings) -> Path:
    """A project folder as a user has one: .git, outputs/, manifests/shots.yaml."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "outputs").mkdir()
    (root / "manifests").mkdir()
    return write_manifest(root / "manifests", shots, **settings)


def append(out_dir: Path, *events: dict) -> None:
    writer = ledger.LedgerWriter(ledger.ledger_path(out_dir))
    try:
        for ev in events:
            writer.write_now(ev)
    finally:
        writer.close()


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    """main(argv) in-process: exit code and the one JSON document it printed on stdout."""
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)  # json.loads fails on a second document or stray text


# -- where outputs go ------------------------------------------------------------------------


def test_outputs_follow_the_manifest_not_the_working_folder(sim, tmp_path):
    manifest = project(tmp_path, t2v_shots(1))
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    first = subprocess.run(shots_cmd("run", str(manifest), "--rpm", "600", "--time-scale", str(sim.cfg.time_scale)),
                           env=cli_env(sim), cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "project" / "outputs" / "test-run"
    assert (folder / "s001.mp4").exists() and not (elsewhere / "outputs").exists()
    assert f"outputs: {folder}/" in first.stderr
    # From the project's own folder, and from the manifest's: the same ledger, nothing to pay.
    for cwd in (tmp_path / "project", manifest.parent):
        plan = subprocess.run(shots_cmd("plan", str(manifest), "--json"), env=cli_env(sim), cwd=cwd,
                              capture_output=True, text=True, timeout=60)
        doc = json.loads(plan.stdout)
        assert doc["new_tasks"] == 0 and doc["out_dir"] == str(folder), plan.stderr


def test_a_manifest_with_no_project_keeps_outputs_beside_it(tmp_path, capsys):
    loose = tmp_path / "loose"
    loose.mkdir()
    manifest = write_manifest(loose, t2v_shots(1))
    code, doc = run_json(capsys, "plan", str(manifest), "--json")
    assert code == 0 and doc["out_dir"] == str(loose / "outputs" / "test-run")


def test_a_ledger_recorded_elsewhere_is_never_silently_ignored(sim, tmp_path, capsys, monkeypatch):
    manifest = project(tmp_path, t2v_shots(1))
    other = tmp_path / "other-outputs"
    scale = ["--time-scale", str(sim.cfg.time_scale)]

    def shots(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(shots_cmd(*args), env=cli_env(sim), cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    assert shots("run", str(manifest), "--rpm", "600", "--out", str(other), *scale).returncode == 0
    # The default folder (the project's outputs/) has no results; the lock file says they are elsewhere.
    refused = shots("run", str(manifest), *scale)
    assert refused.returncode == 2
    assert f"--out {other}" in refused.stderr and "pay" in refused.stderr
    assert sim.stats()["requests"].get("create", 0) == 1  # nothing new was created
    default = tmp_path / "project" / "outputs" / "test-run"
    assert not (default / "ledger.jsonl").exists()
    monkeypatch.setenv("MINIMAX_API_KEY", KEY)  # the results elsewhere were made on this endpoint
    monkeypatch.setenv("MINIMAX_BASE_URL", sim.base_url)
    assert main(["plan", str(manifest)]) == 0
    assert f"this manifest's are in {other / 'test-run'}" in capsys.readouterr().err
    # Naming it resumes there, with nothing to do.
    again = shots("run", str(manifest), "--out", str(other), "--json", *scale)
    assert again.returncode == 0 and json.loads(again.stdout)["creates"] == 0

    # Once the default folder has results of its own, a trial run elsewhere blocks nothing...
    assert shots("run", str(manifest), "--out", str(tmp_path / "project" / "outputs"), "--rpm", "600",
                 *scale).returncode == 0
    assert shots("run", str(manifest), "--out", str(other), *scale).returncode == 0  # the lock records `other`
    plain = shots("run", str(manifest), "--json", *scale)
    assert plain.returncode == 0 and json.loads(plain.stdout)["creates"] == 0
    # ...and an explicit --out to a fresh folder goes ahead, saying what it will pay for again.
    fresh = shots("run", str(manifest), "--out", str(tmp_path / "fresh"), "--json", *scale)
    assert fresh.returncode == 0 and "holds no results yet" in fresh.stderr


# -- --json: one document, errors included ---------------------------------------------------------


def test_run_json_is_one_document_even_with_removed_shots(sim, tmp_path, capsys, monkeypatch):
    point_at(sim, monkeypatch)
    manifest = write_manifest(tmp_path, t2v_shots(3))
    scale = str(sim.cfg.time_scale)
    code, _ = run_json(capsys, "run", str(manifest), "--out", str(tmp_path / "o"), "--rpm", "600", "--json",
                       "--time-scale", scale, "--quiet")
    assert code == 0
    write_manifest(tmp_path, t2v_shots(1))  # s002 and s003 leave the manifest
    code, doc = run_json(capsys, "run", str(manifest), "--out", str(tmp_path / "o"), "--json",
                         "--time-scale", scale, "--quiet")
    assert code == 0 and doc["done"] == 1


@pytest.mark.parametrize("argv, exit_code", [
    (["plan", "missing.yaml", "--json"], 2),
    (["run", "missing.yaml", "--json"], 2),
    (["status", "missing.yaml", "--json"], 2),
    (["validate", "--json"], 2),  # a usage error
    (["plan", "--json", "--no-such-flag", "x.yaml"], 2),
])
def test_json_errors_are_one_document(capsys, argv, exit_code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, doc = run_json(capsys, *argv)
    assert code == exit_code and doc["exit_code"] == exit_code and doc["error"]


def test_json_error_when_the_run_refuses_its_budget(sim, tmp_path, capsys, monkeypatch):
    point_at(sim, monkeypatch)
    manifest = write_manifest(tmp_path, t2v_shots(2))
    code, doc = run_json(capsys, "run", str(manifest), "--out", str(tmp_path / "o"), "--json", "--max-cost", "0.1")
    assert code == 3 and "over --max-cost 0.1" in doc["error"]
    assert sum(sim.stats()["requests"].values()) == 0


# -- --only ------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["plan", "--only", "s002", "M"],
    ["plan", "M", "--only", "s002"],
    ["plan", "--only", "s002,s003", "M"],
    ["plan", "--only", "s002", "--only", "s003", "M"],
])
def test_only_takes_ids_anywhere_and_tells_the_truth(tmp_path, capsys, argv):
    manifest = write_manifest(tmp_path, t2v_shots(3))
    out = tmp_path / "o" / "test-run"
    out.mkdir(parents=True)
    # The ledger knows s001 (done elsewhere in the manifest) and s009 (gone from it).
    append(out, *(ledger.event("intent", shot, 1, "f" * 16, req={}, cost=0.28) for shot in ("s001", "s009")))
    argv = [str(manifest) if a == "M" else a for a in argv]
    code, doc = run_json(capsys, *argv, "--out", str(tmp_path / "o"), "--json")
    wanted = {"s002"} | ({"s003"} if "s003" in " ".join(argv) else set())
    assert code == 0 and {t["shot"] for t in doc["takes"]} == wanted
    assert doc["removed"] == [{"shot": "s009", "take": 1}]  # s001 is only left out, not removed


def test_only_with_an_unknown_id_says_did_you_mean(tmp_path, capsys):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    assert main(["plan", "--only", "s01", str(manifest)]) == 2
    assert "did you mean" in capsys.readouterr().err


# -- plan with and without a key --------------------------------------------------------------


def test_plan_prices_a_real_run_without_a_key(tmp_path, capsys):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    code, doc = run_json(capsys, "plan", str(manifest), "--backend", "api", "--json", "--out", str(tmp_path))
    assert code == 0 and doc["endpoint"].startswith("https://api.minimax")
    assert doc["known_cost"] == pytest.approx(0.56)


def test_with_a_key_takes_made_by_the_simulator_read_submit(sim, tmp_path, capsys, monkeypatch):
    manifest = write_manifest(tmp_path, t2v_shots(1) + [{**t2v_shots(2)[1], "prompt": "Edited later."}])
    out = tmp_path / "o"
    keyless = subprocess.run(shots_cmd("run", str(manifest), "--out", str(out), "--json", "--no-lock-file"),
                             env={k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")},
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert keyless.returncode == 0, keyless.stderr
    point_at(sim, monkeypatch)
    code, doc = run_json(capsys, "plan", str(manifest), "--out", str(out), "--json")
    assert code == 0
    assert [(t["action"], t["reason"].startswith("not made on this endpoint")) for t in doc["takes"]] == \
        [("submit", True), ("submit", True)]


# -- status follows the exit-code table ----------------------------------------------------------


def test_status_exit_code(sim, tmp_path, monkeypatch, capsys):
    manifest = write_manifest(tmp_path, t2v_shots(2))
    out = tmp_path / "o"
    point_at(sim, monkeypatch)
    assert main(["status", str(manifest), "--out", str(out)]) == 1  # nothing made yet
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert main(["status", str(manifest), "--out", str(out)]) == 0
    folder = out / "test-run"
    fp = ledger.load(folder).current("s002", 1).fingerprint
    append(folder, ledger.event("failed", "s002", 1, fp, task_id="t", code=1026, reason="sensitive"))
    capsys.readouterr()
    assert main(["status", str(manifest), "--out", str(out)]) == 1
    assert "failed" in capsys.readouterr().out


# -- an image edited between the plan and the create --------------------------------------------


def test_an_image_edited_after_the_plan_is_not_sent_under_its_old_hash(sim, tmp_path, monkeypatch):
    image = make_image(tmp_path / "assets" / "a.jpg")
    manifest = write_manifest(tmp_path, [{"id": "i2v", "mode": "image_to_video", "prompt": "Pan.",
                                          "first_frame_image": "assets/a.jpg"}])

    def edit_the_image(prepared, banner):  # called after the plan, before any create
        make_image(image, color=(200, 10, 10))

    _, result = run_inprocess(manifest, sim, tmp_path / "o", monkeypatch, rpm=600, on_start=edit_the_image)
    (take,) = result.results
    assert take.outcome == "failed" and "changed after the plan" in take.detail
    assert sim.stats()["requests"].get("create", 0) == 0
    events = [json.loads(line) for line in (tmp_path / "o" / "test-run" / "ledger.jsonl").read_text().splitlines()]
    assert [e["e"] for e in events if "shot" in e] == []  # no intent: nothing was about to be paid


def test_api_body_checks_every_image_field_against_the_plan(tmp_path):
    make_image(tmp_path / "subject.jpg")
    manifest = write_manifest(tmp_path, [{"id": "s2v", "mode": "subject_reference", "model": "S2V-01",
                                          "prompt": "She smiles.", "subject_image": "subject.jpg"}])
    shot = load(manifest).shots[0]
    planned = request.canonical_request(shot, tmp_path)
    assert request.api_body(shot, tmp_path, planned)["subject_reference"][0]["image"][0].startswith("data:image/")
    make_image(tmp_path / "subject.jpg", color=(0, 200, 0))
    with pytest.raises(InputError, match="subject_image.*changed after the plan"):
        request.api_body(shot, tmp_path, planned)


# -- prices: where each came from ----------------------------------------------------------------


def test_plan_says_where_each_price_came_from(tmp_path, capsys):
    make_image(tmp_path / "hero.jpg")
    manifest = write_manifest(tmp_path, t2v_shots(1) + [
        {"id": "s2v", "mode": "subject_reference", "model": "S2V-01", "prompt": "She runs.", "subject_image": "hero.jpg"},
    ], max_cost=1)
    code, doc = run_json(capsys, "plan", str(manifest), "--json")
    assert code == 0
    assert [t["price"] for t in doc["takes"]] == ["$0.28 per video (catalogue)",
                                                  "no known price: add it under prices: in the manifest"]
    assert doc["budget"]["source"].startswith(f"max_cost 1 ({manifest}:")
    assert "1 take(s) to create have no known price (s2v)" in doc["budget"]["refused"]
    text = manifest.read_text(encoding="utf-8").replace('"shots"', '"prices": {"S2V-01": 0.43},\n  "shots"', 1)
    manifest.write_text(text, encoding="utf-8")
    code, doc = run_json(capsys, "plan", str(manifest), "--json")
    assert doc["takes"][1]["price"].startswith("$0.43 per video (manifest line")
    assert doc["budget"]["refused"] is None and doc["known_cost"] == pytest.approx(0.71)
    code, doc = run_json(capsys, "plan", str(manifest), "--json", "--max-cost", "0.5")  # the flag wins
    assert doc["budget"]["source"] == "--max-cost 0.5" and "over --max-cost 0.5" in doc["budget"]["refused"]


def test_a_keyless_run_says_what_a_keyed_run_would_refuse(tmp_path):
    manifest = write_manifest(tmp_path, t2v_shots(1), max_cost=0.1)
    keyless = subprocess.run(shots_cmd("run", str(manifest), "--out", str(tmp_path / "o"), "--no-lock-file"),
                             env={k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")},
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert keyless.returncode == 0, keyless.stderr  # the simulator bills nothing
    assert "a run with MINIMAX_API_KEY would refuse to start: the plan would spend $0.28" in keyless.stderr
    assert f"over max_cost 0.1 ({manifest}:" in keyless.stderr


def test_an_uncertain_take_says_a_billed_task_may_exist_once(tmp_path, capsys):
    manifest = write_manifest(tmp_path, t2v_shots(1))
    folder = tmp_path / "o" / "test-run"
    folder.mkdir(parents=True)
    spec_fp = run_json(capsys, "plan", str(manifest), "--out", str(tmp_path / "o"), "--json")[1]["takes"][0]["fingerprint"]
    append(folder, ledger.event("intent", "s001", 1, spec_fp, req={}, cost=0.28),
           ledger.event("uncertain", "s001", 1, spec_fp,
                        reason="create sent but its answer was lost (timeout); a billed task may exist"))
    code, doc = run_json(capsys, "plan", str(manifest), "--out", str(tmp_path / "o"), "--json")
    (take,) = doc["takes"]
    assert take["action"] == "uncertain: skipped" and take["reason"].count("a billed task may exist") == 1
    from pipeline.review import report
    from pipeline.manifest.checker import load as load_manifest
    page = report.write_report(load_manifest(manifest), "simulator", folder).read_text(encoding="utf-8")
    reason = page[page.index("answer was lost (timeout)"):]
    assert reason[:reason.index("<")].count("a billed task may exist") == 1


def test_shots_sim_on_a_taken_port_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(shots_cmd("sim", "--port", str(port)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Error: shots sim: cannot listen on 127.0.0.1:{port}: Address already in use; "
        f"choose another --port (0 picks a free one)"]


def test_a_keyless_trial_elsewhere_does_not_block_a_real_run(sim, tmp_path):
    manifest = project(tmp_path, t2v_shots(1))
    keyless_env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    trial = subprocess.run(shots_cmd("run", str(manifest), "--out", str(tmp_path / "trial")), env=keyless_env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert trial.returncode == 0, trial.stderr
    # The simulator's videos save nothing a keyed run would pay for again: nothing to refuse.
    real = subprocess.run(shots_cmd("run", str(manifest), "--rpm", "600", "--time-scale", str(sim.cfg.time_scale)),
                          env=cli_env(sim), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert real.returncode == 0, real.stderr
    assert "holds no results yet" not in real.stderr
