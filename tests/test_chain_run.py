"""Continuity (issue 16) end to end: the real runner against the real simulator over HTTP.

A chain kf (still) -> s01 (from the still) -> s02 (from s01's last frame): the run's order, the
frame each dependant is sent (by pixels), blocking, resume mid-chain, the cascade of an edit.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from pipeline.manifest.checker import load
from pipeline.review import summary
from pipeline.run import workflow
from pipeline.run.status import Action
from runs import ledger_view, run_inprocess, write_manifest

# Frames cut from the previz must pass the API's image rules (short side over 300 px).
FRAMED = {"render_width": 640}


def chain(prompt1: str = "The keeper walks up the cliff path [Push in].", flagged: bool = False) -> list[dict]:
    return [
        {"id": "kf", "mode": "image", "prompt": "A keeper in a yellow coat on a cliff at dusk.", "aspect_ratio": "16:9"},
        {"id": "s01", "mode": "image_to_video", "first_frame_image": {"shot": "kf"},
         "prompt": ("FORBIDDEN " if flagged else "") + prompt1},
        {"id": "s02", "mode": "image_to_video", "first_frame_image": {"shot": "s01", "frame": "last"},
         "prompt": "He opens the door [Static shot]."},
        {"id": "s03", "mode": "image_to_video", "first_frame_image": {"shot": "s02", "frame": "last"},
         "prompt": "He climbs the stairs [Tilt up]."},
    ]


def manifest_of(tmp_path: Path, shots: list[dict]) -> Path:
    return write_manifest(tmp_path, shots, name="chain", defaults={"model": "MiniMax-Hailuo-02", "duration": 6,
                                                                  "resolution": "768P"})


def frames_of(path: Path) -> list[Image.Image]:
    with av.open(str(path)) as box:
        return [f.to_image() for f in box.decode(video=0)]


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0-255."""
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def events(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "ledger.jsonl").read_text().splitlines() if line.strip()]


def plan_now(manifest: Path, out: Path):
    """What a run against the simulator the environment points at would do now."""
    from pipeline.run.backend import endpoint_for

    return workflow.prepare(load(manifest), endpoint_for("api"), out)


@pytest.fixture
def framed_sim(sim_factory):
    return sim_factory(**FRAMED)


def test_a_chain_is_made_in_order_each_shot_from_the_frame_before(tmp_path, framed_sim, monkeypatch):
    manifest = manifest_of(tmp_path, chain())
    prepared, result = run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    out_dir = prepared.out_dir
    assert [r.outcome for r in result.results] == ["done"] * 4, [(r.spec.label, r.detail) for r in result.results]
    assert (out_dir / "kf.jpg").is_file() and not (out_dir / "kf.mp4").exists()
    # Each dependant's create comes after its upstream's video (or still) is on disk.
    seen = [(e["e"], e.get("shot")) for e in events(out_dir)]
    for up, down in (("kf", "s01"), ("s01", "s02"), ("s02", "s03")):
        assert seen.index(("downloaded", up)) < seen.index(("intent", down))
    # The frame s02 was fingerprinted with and sent is s01's last frame, pixel for pixel.
    view = ledger_view(out_dir)
    s02 = view.current("s02", 1)
    sent = s02.request["first_frame_image"]
    cut = [p for p in (out_dir / "frames").iterdir() if p.name.startswith("s01.last.")]
    # Fingerprinted by the frame's identity: s01's exact video and which frame of it.
    assert len(cut) == 1 and sent == f"frame:sha256:{view.current('s01', 1).sha256}@last"
    last = frames_of(out_dir / "s01.mp4")[-1]
    assert Image.open(cut[0]).convert("RGB").tobytes() == last.convert("RGB").tobytes()
    # ...and the previz starts on it: the cut is continuous (within the codec's error).
    assert mean_difference(frames_of(out_dir / "s02.mp4")[0], last) < 6
    assert s02.request["inputs_from"] == {"first_frame_image": "s01#1@last"}
    # The still was sent whole to s01.
    assert view.current("s01", 1).request["first_frame_image"] == "sha256:" + view.current("kf", 1).sha256


def test_a_failed_upstream_blocks_its_chain_which_runs_once_it_is_fixed(tmp_path, sim_factory, monkeypatch):
    sim = sim_factory(sensitive_words=("FORBIDDEN",), **FRAMED)
    manifest = manifest_of(tmp_path, chain(flagged=True))
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    by = {r.spec.shot.id: r for r in result.results}
    assert by["kf"].outcome == "done" and by["s01"].outcome == "failed"
    assert by["s02"].outcome == "pending" and by["s02"].detail.startswith("blocked: s01 failed (")
    assert by["s03"].detail == by["s02"].detail  # the root of the block, named once
    assert result.blocked == 2
    text = summary.result_text(result, simulated=False, manifest="m.yaml")
    assert "2 pending (2 blocked)" in text and "next: 2 blocked: each waits for the shot its detail names" in text
    assert sim.tasks() == []  # s01 refused at its create; s02 and s03 never sent, never billed
    # The next run plans them blocked again (s01 failed for good), without a key's help.
    again = plan_now(manifest, tmp_path / "out")
    blocked = {t.spec.shot.id: t for t in again.plan.takes}
    assert blocked["s02"].action == Action.BLOCKED and blocked["s02"].cost == 0
    assert blocked["s03"].reason == blocked["s02"].reason and "--retry-failed makes it again" in blocked["s02"].reason
    manifest_of(tmp_path, chain())  # the prompt fixed
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert {r.spec.shot.id: r.outcome for r in result.results} == {"kf": "done", "s01": "done", "s02": "done",
                                                                   "s03": "done"}


def test_a_resume_mid_chain_makes_the_rest_and_cuts_nothing_again(tmp_path, framed_sim, monkeypatch):
    manifest = manifest_of(tmp_path, chain())
    # The first run makes only the head of the chain (as if stopped after s01's download).
    run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch, only=["kf", "s01"])
    prepared = plan_now(manifest, tmp_path / "out")
    plan = {t.spec.shot.id: t for t in prepared.plan.takes}
    assert plan["s01"].action == Action.UP_TO_DATE
    assert plan["s02"].action == Action.SUBMIT and not plan["s02"].spec.waiting  # resolved from disk
    assert plan["s03"].spec.waits_for == (("s02", 1),)
    cut = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "chain" / "frames").iterdir()}
    tasks_before = len(framed_sim.tasks())
    prepared, result = run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"] * 4
    assert len(framed_sim.tasks()) == tasks_before + 2  # s02 and s03 only
    for name, mtime in cut.items():
        assert (tmp_path / "out" / "chain" / "frames" / name).stat().st_mtime_ns == mtime


def test_editing_the_head_cascades_and_editing_a_link_does_not_go_upstream(tmp_path, framed_sim, monkeypatch):
    manifest = manifest_of(tmp_path, chain())
    run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    made = len(framed_sim.tasks())
    manifest_of(tmp_path, chain(prompt1="The keeper runs up the cliff path [Push in]."))
    prepared = plan_now(manifest, tmp_path / "out")
    plan = {t.spec.shot.id: t for t in prepared.plan.takes}
    assert plan["kf"].action == Action.UP_TO_DATE
    assert plan["s01"].action == Action.REGENERATE
    assert plan["s02"].action == Action.REGENERATE and plan["s02"].reason.startswith("upstream s01 changed")
    assert plan["s03"].action == Action.REGENERATE and plan["s03"].reason.startswith("upstream s02 changed")
    text = summary.plan_text(prepared.plan, reasons=True, estimate_s=0, simulated=False)
    assert "cascade: s01 changed: it and 2 shots made from it (s02, s03) are made again, $0.84" in text
    assert "└─ s02  <- first frame: the last frame of s01" in text
    prepared, result = run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    assert len(framed_sim.tasks()) == made + 3  # s01, s02, s03 again; the still kept
    assert sorted(p.name for p in (tmp_path / "out" / "chain" / "history").iterdir() if p.suffix == ".mp4")[:1]
    # Editing s03 alone makes s03 alone.
    shots = chain(prompt1="The keeper runs up the cliff path [Push in].")
    shots[3]["prompt"] = "He climbs the stairs slowly [Tilt up]."
    manifest_of(tmp_path, shots)
    prepared = plan_now(manifest, tmp_path / "out")
    assert [t.spec.shot.id for t in prepared.plan.creates] == ["s03"]


def test_plan_draws_the_order_and_prices_the_whole_chain(tmp_path):
    manifest = manifest_of(tmp_path, chain())
    prepared = workflow.prepare(load(manifest), "simulator", tmp_path / "out")
    plan = {t.spec.shot.id: t for t in prepared.plan.takes}
    assert plan["s01"].spec.waits_for == (("kf", 1),) and plan["s01"].action == Action.SUBMIT
    assert plan["s01"].reason == "after kf (not run before)"
    assert prepared.plan.known_cost == pytest.approx(0.0035 + 3 * 0.28)
    text = summary.plan_text(prepared.plan, reasons=False, estimate_s=0, simulated=True)
    assert text.splitlines()[:5] == [
        "order (each shot is made after the shots it takes a frame from):",
        "  kf (still)",
        "  └─ s01  <- first frame: the still of kf",
        "     └─ s02  <- first frame: the last frame of s01",
        "        └─ s03  <- first frame: the last frame of s02",
    ]


def test_a_frame_the_api_would_refuse_blocks_its_dependant_before_anything_is_sent(tmp_path, sim, monkeypatch):
    """The tests' small previz (320x180) makes frames under the API's 300 px short side: the
    dependant is blocked, saying why, and never sent."""
    manifest = manifest_of(tmp_path, chain()[:3])
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    by = {r.spec.shot.id: r for r in result.results}
    assert by["s01"].outcome == "done"
    assert by["s02"].outcome == "pending" and by["s02"].detail.startswith("blocked: the last frame of s01 is 320x180")
    assert len(sim.tasks()) == 1


def test_editing_a_still_makes_it_and_its_whole_chain_again(tmp_path, framed_sim, monkeypatch):
    manifest = manifest_of(tmp_path, chain())
    run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    shots = chain()
    shots[0]["prompt"] = "A keeper in a red coat on a cliff at dusk."
    manifest_of(tmp_path, shots)
    plan = plan_now(manifest, tmp_path / "out").plan
    assert [(t.spec.shot.id, t.action) for t in plan.creates] == [
        ("kf", Action.REGENERATE), ("s01", Action.REGENERATE), ("s02", Action.REGENERATE), ("s03", Action.REGENERATE)]
    assert plan.known_cost == pytest.approx(0.0035 + 3 * 0.28)
    _, result = run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"] * 4 and result.creates == 4
    history = tmp_path / "out" / "chain" / "history"
    assert len(list(history.glob("kf.*.jpg"))) == 1  # the old still kept, never deleted


def test_an_h3_chain_at_a_time_into_the_clip(tmp_path, framed_sim, monkeypatch):
    shots = [
        {"id": "h1", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9", "duration": 5,
         "prompt": "A harbour at dawn, boats leaving [Push in]."},
        {"id": "h2", "mode": "image_to_video", "model": "MiniMax-H3", "duration": 5,
         "first_frame_image": {"shot": "h1", "frame": 2.5}, "prompt": "The boat turns toward the sea."},
    ]
    manifest = write_manifest(tmp_path, shots, name="h3chain")
    prepared, result = run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done", "done"], [r.detail for r in result.results]
    cut = list((prepared.out_dir / "frames").glob("h1.2.5s.*.png"))
    assert len(cut) == 1
    with av.open(str(prepared.out_dir / "h1.mp4")) as box:  # the frame shown at 2.5 s: 60 at 24 fps
        at = [f.to_image() for f in box.decode(video=0) if f.time is not None and f.time <= 2.5][-1]
    assert Image.open(cut[0]).convert("RGB").tobytes() == at.convert("RGB").tobytes()
    view = ledger_view(prepared.out_dir)
    content = view.current("h2", 1).request["content"]
    assert {"type": "image_url", "image_url": {"url": f"frame:sha256:{view.current('h1', 1).sha256}@2.5s"},
            "role": "first_frame"} in content


def test_a_chain_finishes_when_a_429_lowers_the_cap_to_one(tmp_path, sim_factory, monkeypatch):
    """The account takes one task at once and refuses the second (429): the run learns a cap of
    1, and the dependant waiting for its upstream must not hold the only slot (it did: the run hung)."""
    from pipeline.sim import V2Config

    sim = sim_factory(v2=V2Config(conn_cap=1, over_cap="reject"), **FRAMED)
    h3 = {"model": "MiniMax-H3", "resolution": "768P"}
    shots = [{"id": "h01", "mode": "text_to_video", "ratio": "16:9", "duration": 4, "prompt": "Shot 1", **h3},
             {"id": "h02", "mode": "text_to_video", "ratio": "16:9", "duration": 5, "prompt": "Shot 2", **h3},
             {"id": "h03", "mode": "image_to_video", "duration": 6, "prompt": "Shot 3",
              "first_frame_image": {"shot": "h02", "frame": "last"}, **h3}]
    manifest = write_manifest(tmp_path, shots, name="capped")
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    assert [r.outcome for r in result.results] == ["done"] * 3
    assert result.rate_limited >= 1


def test_a_lost_upstream_video_is_fetched_again_and_nothing_downstream_is_made(tmp_path, framed_sim, monkeypatch):
    manifest = manifest_of(tmp_path, chain())
    prepared, _ = run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    (prepared.out_dir / "s01.mp4").unlink()
    plan = {t.spec.shot.id: t for t in plan_now(manifest, tmp_path / "out").plan.takes}
    assert plan["s01"].action == Action.DOWNLOAD  # the same task's video, no new charge
    assert plan["s02"].action == plan["s03"].action == Action.UP_TO_DATE  # made from the frame already cut
    tasks = len(framed_sim.tasks())
    _, result = run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"] * 4 and result.creates == 0
    assert len(framed_sim.tasks()) == tasks and (prepared.out_dir / "s01.mp4").is_file()


def test_spelling_a_reference_another_way_is_the_same_frame(tmp_path, framed_sim, monkeypatch):
    manifest = manifest_of(tmp_path, chain())
    run_inprocess(manifest, framed_sim, tmp_path / "out", monkeypatch)
    shots = chain()
    shots[2]["first_frame_image"] = {"shot": "s01"}  # 'last' is the default frame
    shots[3]["first_frame_image"] = {"shot": "s02", "frame": "last", "take": 1}
    manifest_of(tmp_path, shots)
    assert plan_now(manifest, tmp_path / "out").plan.idle
