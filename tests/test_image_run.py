"""Image shots (mode image, image-01) run by the real runner against the real simulator: stills
on disk, the image API's own pace, a lost answer, a withheld still, a still deleted from disk,
and a keyless run interrupted (SIGINT) mid-chain and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from PIL import Image

from pipeline.manifest.checker import load
from pipeline.run import workflow
from pipeline.run.backend import endpoint_for
from pipeline.run.status import Action
from pipeline.sim.imageconfig import ImageConfig
from runs import ledger_view, run_inprocess, write_manifest


def stills(n: int, takes: int = 1) -> list[dict]:
    return [{"id": f"kf{i:02d}", "mode": "image", "prompt": f"Keyframe {i}: a harbour at dawn.",
             "aspect_ratio": "16:9", "takes": takes} for i in range(1, n + 1)]


def test_stills_are_written_as_jpegs_one_request_per_take(tmp_path, sim, monkeypatch):
    manifest = write_manifest(tmp_path, stills(1, takes=2))
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done", "done"]
    one, two = prepared.out_dir / "kf01.jpg", prepared.out_dir / "kf01.take2.jpg"
    assert Image.open(one).size == Image.open(two).size == (1280, 720)
    assert one.read_bytes() != two.read_bytes()  # two rolls of the dice
    state = ledger_view(prepared.out_dir).current("kf01", 2)
    assert state.state == "downloaded" and state.task_id and state.request["aspect_ratio"] == "16:9"
    assert result.spent == 2 * 0.0035 and result.creates == 2
    again = workflow.prepare(load(manifest), endpoint_for("api"), tmp_path / "out")
    assert again.plan.idle


def test_the_image_api_pace_is_kept_without_a_rate_limit_answer(tmp_path, sim, monkeypatch):
    manifest = write_manifest(tmp_path, stills(12), rpm=100)  # the video rate would allow them all at once
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert result.count("done") == 12 and result.rate_limited == 0
    assert sim.stats()["images_billed"] == 12


def test_a_lost_answer_leaves_the_still_uncertain_and_blocks_what_is_made_from_it(tmp_path, sim_factory, monkeypatch):
    sim = sim_factory(image=ImageConfig(faults={"drop_create": 1.0}))
    shots = stills(1) + [{"id": "s01", "mode": "image_to_video", "first_frame_image": {"shot": "kf01"},
                          "prompt": "The boat leaves [Push in]."}]
    manifest = write_manifest(tmp_path, shots)
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    by = {r.spec.shot.id: r for r in result.results}
    assert by["kf01"].outcome == "uncertain"
    assert by["s01"].outcome == "pending" and by["s01"].detail.startswith("blocked: kf01 is uncertain")
    assert sim.stats()["image_generations"] == 1  # never sent again on its own
    plan = {t.spec.shot.id: t for t in workflow.prepare(load(manifest), endpoint_for("api"), tmp_path / "out").plan.takes}
    assert plan["kf01"].action == Action.UNCERTAIN_SKIPPED and plan["s01"].action == Action.BLOCKED


def test_a_withheld_still_fails_and_retry_failed_asks_again(tmp_path, sim_factory, monkeypatch):
    sim = sim_factory(image=ImageConfig(faults={"withhold": 1.0}))
    manifest = write_manifest(tmp_path, stills(1))
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert result.results[0].outcome == "failed" and "withheld" in result.results[0].detail
    plan = workflow.prepare(load(manifest), endpoint_for("api"), tmp_path / "out", retry_failed=True).plan
    assert plan.takes[0].action == Action.RETRY_FAILED


def test_a_still_deleted_from_disk_is_asked_for_again(tmp_path, sim, monkeypatch):
    manifest = write_manifest(tmp_path, stills(1))
    prepared, _ = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    (prepared.out_dir / "kf01.jpg").unlink()
    planned = workflow.prepare(load(manifest), endpoint_for("api"), tmp_path / "out").plan.takes[0]
    assert planned.action == Action.SUBMIT and "cannot be fetched again" in planned.reason


def test_a_keyless_run_interrupted_mid_chain_resumes_from_another_folder(tmp_path):
    """The continuity example, keyless: SIGINT once the chain's second shot is on disk (read from
    the ledger): exit 130, then the same command from another folder finishes the chain; every
    take was created once, and the reel plays the chain continuously."""
    root = Path(__file__).resolve().parent.parent
    manifest = root / "manifests" / "continuity.yaml"
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    ledger = out / "keepers-round" / "ledger.jsonl"
    argv = [sys.executable, "-m", "pipeline", "run", str(manifest), "--out", str(out), "--no-lock-file"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while not any(e.get("e") == "downloaded" and e.get("shot") == "s01-path" for e in _events(ledger)):
            assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(argv + ["--json", "--quiet"], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["done"] == 6
    intents: dict[tuple[str, int], int] = {}
    for e in _events(ledger):
        if e.get("e") == "intent":
            intents[(e["shot"], e["take"])] = intents.get((e["shot"], e["take"]), 0) + 1
    assert len(intents) == 6 and set(intents.values()) == {1}, intents
    folder = out / "keepers-round"
    assert {p.name for p in folder.glob("*.jpg")} == {"kf-01.jpg", "kf-01.take2.jpg"}
    # The reel plays the chain as one piece: each cut lands on the frame the last shot ended on.
    reel = subprocess.run([sys.executable, "-m", "pipeline", "reel", str(manifest), "--out", str(out)],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert reel.returncode == 0, reel.stderr
    for up, down in (("s01-path", "s02-door"), ("s02-door", "s03-stairs")):
        assert _difference(_frames(folder / f"{up}.mp4")[-1], _frames(folder / f"{down}.mp4")[0]) < 6


def _frames(path: Path) -> list[Image.Image]:
    import av

    with av.open(str(path)) as box:
        return [f.to_image() for f in box.decode(video=0)]


def _difference(a: Image.Image, b: Image.Image) -> float:
    from PIL import ImageChops, ImageStat

    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def _events(ledger: Path) -> list[dict]:
    if not ledger.exists():
        return []
    out = []
    for line in ledger.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            break
    return out
