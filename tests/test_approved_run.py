"""An approved shot is never made again by an edit elsewhere (issue 17): a dependant approved
as it is keeps its video when the shot it is made from changes, unless --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.manifest.checker import load
from pipeline.run import workflow
from pipeline.run.backend import endpoint_for
from pipeline.run.status import Action
from runs import run_inprocess, write_manifest


def chain(prompt1: str, approved: bool) -> list[dict]:
    return [
        {"id": "s01", "mode": "text_to_video", "prompt": prompt1},
        {"id": "s02", "mode": "image_to_video", "first_frame_image": {"shot": "s01", "frame": "last"},
         "prompt": "He opens the door [Static shot].", **({"status": "approved"} if approved else {})},
        {"id": "s03", "mode": "image_to_video", "first_frame_image": {"shot": "s02", "frame": "last"},
         "prompt": "He climbs the stairs [Tilt up]."},
    ]


def manifest_of(tmp_path, shots):
    return write_manifest(tmp_path, shots, name="approved", defaults={"model": "MiniMax-Hailuo-02",
                                                                     "duration": 6, "resolution": "768P"})


@pytest.fixture
def framed(sim_factory):
    return sim_factory(render_width=640)


def test_an_approved_dependant_keeps_its_video_when_its_upstream_changes(tmp_path, framed, monkeypatch):
    manifest = manifest_of(tmp_path, chain("A cliff at dusk [Push in].", approved=False))
    run_inprocess(manifest, framed, tmp_path / "out", monkeypatch)
    made = len(framed.tasks())
    manifest_of(tmp_path, chain("A cliff at night, rain [Push in].", approved=True))
    plan = {t.spec.shot.id: t for t in workflow.prepare(load(manifest), endpoint_for("api"), tmp_path / "out").plan.takes}
    assert plan["s01"].action == Action.REGENERATE
    assert plan["s02"].action == Action.UP_TO_DATE and plan["s02"].reason.startswith("approved: kept")
    assert plan["s03"].action == Action.UP_TO_DATE  # made from the approved video, which stays
    (field, kept), = plan["s02"].spec.inputs  # the frame it was made from, found again (finals send it)
    assert field == "first_frame_image" and Path(kept.path).is_file() and kept.identity.startswith("frame:sha256:")
    # Made on another endpoint (the simulator's previz), it is not kept for this one.
    elsewhere = {t.spec.shot.id: t.action for t in workflow.prepare(load(manifest), "simulator",
                                                                     tmp_path / "out").plan.takes}
    assert elsewhere["s02"] == Action.SUBMIT
    _, result = run_inprocess(manifest, framed, tmp_path / "out", monkeypatch)
    assert result.creates == 1 and len(framed.tasks()) == made + 1
    # --force makes the approved shot again from the new frame, and its dependant after it.
    forced = {t.spec.shot.id: t.action for t in workflow.prepare(load(manifest), endpoint_for("api"),
                                                                  tmp_path / "out", force=True).plan.takes}
    assert forced == {"s01": Action.UP_TO_DATE, "s02": Action.REGENERATE, "s03": Action.REGENERATE}
    _, result = run_inprocess(manifest, framed, tmp_path / "out", monkeypatch, force=True)
    assert result.creates == 2


def test_an_approved_shot_edited_itself_is_made_again(tmp_path, framed, monkeypatch):
    manifest = manifest_of(tmp_path, chain("A cliff at dusk [Push in].", approved=True))
    run_inprocess(manifest, framed, tmp_path / "out", monkeypatch)
    shots = chain("A cliff at dusk [Push in].", approved=True)
    shots[1]["prompt"] = "He kicks the door open [Static shot]."
    manifest_of(tmp_path, shots)
    plan = {t.spec.shot.id: t.action for t in workflow.prepare(load(manifest), endpoint_for("api"),
                                                                tmp_path / "out").plan.takes}
    assert plan == {"s01": Action.UP_TO_DATE, "s02": Action.REGENERATE, "s03": Action.REGENERATE}


def test_an_approved_shot_that_changes_what_it_takes_is_made_again(tmp_path, framed, monkeypatch):
    manifest = manifest_of(tmp_path, chain("A cliff at dusk [Push in].", approved=True))
    run_inprocess(manifest, framed, tmp_path / "out", monkeypatch)
    shots = chain("A cliff at dusk [Push in].", approved=True)
    shots[1]["first_frame_image"] = {"shot": "s01", "frame": "first"}  # its own edit, not its upstream's
    manifest_of(tmp_path, shots)
    plan = {t.spec.shot.id: t.action for t in workflow.prepare(load(manifest), endpoint_for("api"),
                                                                tmp_path / "out").plan.takes}
    assert plan["s02"] == Action.REGENERATE
