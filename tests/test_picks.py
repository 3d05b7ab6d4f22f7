"""Picks and review status in the manifest (issue 17): `pick:` and `status:` are read, checked and
typed; one rule (models.picked_take) says which take represents a shot, for the cut and for an
input that names the shot without a take; and neither they nor `notes` ever enter a request, so
changing them regenerates nothing, while a new pick on an upstream changes what its dependants get."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.manifest.checker import check, load
from pipeline.manifest.models import FrameRef, picked_take, upstream_take
from pipeline.review import cut
from pipeline.run import request
from pipeline.run.frameinputs import frame_source
from pipeline.run.frames import FrameStore
from pipeline.run.specs import take_specs
from runs import counting_video, make_image, write_manifest

ENDPOINT = "simulator"


def errors(path: Path) -> list[str]:
    return [str(p) for p in check(path) if p.severity == "error"]


# -- reading them -----------------------------------------------------------------------------------


def test_pick_and_status_are_read_into_the_shot(tmp_path):
    path = write_manifest(tmp_path, [
        {"id": "kf", "mode": "image", "prompt": "A cliff.", "takes": 3, "pick": 3, "status": "approved"},
        {"id": "s01", "mode": "text_to_video", "prompt": "Waves.", "takes": 2, "pick": 2, "status": "redo",
         "notes": "too dark"},
        {"id": "s02", "mode": "text_to_video", "prompt": "The lamp."},
    ])
    kf, s01, s02 = load(path).shots
    assert (kf.pick, kf.status, s01.pick, s01.status, s01.notes) == (3, "approved", 2, "redo", "too dark")
    assert (s02.pick, s02.status) == (None, None)
    assert [picked_take(s) for s in (kf, s01, s02)] == [3, 2, 1]
    assert [cut.chosen_take(s) for s in (kf, s01, s02)] == [3, 2, 1]


def test_a_default_pick_and_status_apply_to_every_shot_that_sets_none(tmp_path):
    path = write_manifest(tmp_path, [
        {"id": "s01", "mode": "text_to_video", "prompt": "Waves.", "takes": 2},
        {"id": "s02", "mode": "text_to_video", "prompt": "The lamp.", "takes": 2, "pick": 1, "status": "redo"},
    ], defaults={"pick": 2, "status": "approved"})
    s01, s02 = load(path).shots
    assert (s01.pick, s01.status, s02.pick, s02.status) == (2, "approved", 1, "redo")


@pytest.mark.parametrize("shot, default, message", [
    ({"takes": 2, "pick": 3}, {}, "s01 has 2 takes, so no take 3; pick 1 to 2, or set takes: 3"),
    ({"pick": 2}, {}, "s01 has 1 take, so no take 2; drop pick, or set takes: 2"),
    ({}, {"pick": 2}, "s01 has 1 take, so no take 2; drop pick, or set takes: 2 (set in defaults)"),
    ({"pick": 0}, {}, "must be at least 1, got 0"),
    ({"pick": "'2'"}, {}, "expected a whole number, got the text '2'"),
    ({"pick": "true"}, {}, "expected a whole number, got true"),
    ({"status": "Approved"}, {}, "the text 'Approved' is not allowed; use approved or redo; did you mean 'approved'?"),
    ({"status": "done"}, {}, "the text 'done' is not allowed; use approved or redo"),
])
def test_a_wrong_pick_or_status_is_one_error_where_it_is_written(tmp_path, shot, default, message):
    path = tmp_path / "m.yaml"
    lines = ["version: 1", "name: t"]
    lines += ["defaults:", *(f"  {k}: {v}" for k, v in default.items())] if default else []
    lines += ["shots:", "  - id: s01", "    mode: text_to_video", "    prompt: Waves."]
    lines += [f"    {k}: {v}" for k, v in shot.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (field,) = {**default, **shot}.keys() - {"takes"}
    line = next(n for n, text in enumerate(lines, 1) if text.strip().startswith(f"{field}:"))
    col = lines[line - 1].index(":") + 3
    assert errors(path) == [f"{path}:{line}:{col}: shot 's01' field '{field}': {message}"]


def test_a_pick_within_the_takes_is_fine_on_a_still_and_a_video(tmp_path):
    path = write_manifest(tmp_path, [
        {"id": "kf", "mode": "image", "prompt": "A cliff.", "takes": 2, "pick": 2},
        {"id": "s01", "mode": "text_to_video", "prompt": "Waves.", "takes": 4, "pick": 4},
    ])
    assert check(path) == []


# -- the one rule ---------------------------------------------------------------------------------


def test_an_input_takes_the_take_it_names_else_the_upstream_pick_else_take_1(tmp_path):
    path = write_manifest(tmp_path, [
        {"id": "kf", "mode": "image", "prompt": "A cliff.", "takes": 3, "pick": 2},
        {"id": "kf2", "mode": "image", "prompt": "A door.", "takes": 2},
    ])
    kf, kf2 = load(path).shots
    assert upstream_take(FrameRef(shot="kf", take=3), kf) == 3  # named: the pick does not override it
    assert upstream_take(FrameRef(shot="kf"), kf) == 2  # the upstream's pick
    assert upstream_take(FrameRef(shot="kf2"), kf2) == 1  # no pick: take 1
    assert upstream_take(FrameRef(shot="kf")) == 1  # a caller that does not know the upstream
    assert frame_source(FrameRef(shot="kf"), kf) == "kf#2"
    assert frame_source(FrameRef(shot="s01", frame="last"), None) == "s01#1@last"


# -- never in a request -------------------------------------------------------------------------


def shots_of_every_dialect(tmp_path: Path) -> Path:
    make_image(tmp_path / "face.jpg", (640, 640))
    return write_manifest(tmp_path, [
        {"id": "v1", "mode": "text_to_video", "model": "MiniMax-Hailuo-02", "prompt": "Waves [Push in].", "takes": 3},
        {"id": "h3", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9", "prompt": "Waves.", "takes": 3},
        {"id": "kf", "mode": "image", "prompt": "A keeper.", "subject_image": "face.jpg", "takes": 3},
        {"id": "dep", "mode": "image_to_video", "first_frame_image": {"shot": "kf"}, "prompt": "He turns.",
         "takes": 3},
    ])


@pytest.mark.parametrize("decision", [{"pick": 2}, {"pick": 3, "status": "approved"}, {"status": "redo"},
                                      {"notes": "too dark: lift the sea"},
                                      {"pick": 2, "status": "redo", "notes": "again"}])
def test_pick_status_and_notes_never_change_a_takes_request_or_fingerprint(tmp_path, decision):
    manifest = load(shots_of_every_dialect(tmp_path))
    for shot in manifest.shots:
        decided = shot.model_copy(update=decision)
        before = request.canonical_request(shot, manifest.dir)
        after = request.canonical_request(decided, manifest.dir)
        assert after == before, shot.id
        assert request.fingerprint(after, ENDPOINT) == request.fingerprint(before, ENDPOINT)
        assert not {"pick", "status", "notes"} & set(after)
        if not shot.frame_refs():
            assert request.api_body(decided, manifest.dir) == request.api_body(shot, manifest.dir)


def test_a_new_pick_is_a_new_manifest_but_the_same_specs(tmp_path):
    """Through the whole path (file, check, specs): picking another take remakes nothing of the shot."""
    def specs(**decision):
        path = write_manifest(tmp_path, [
            {"id": "s01", "mode": "text_to_video", "prompt": "Waves.", "takes": 3, **decision},
            {"id": "s02", "mode": "text_to_video", "prompt": "The lamp.", "notes": "first cut"},
        ])
        return [(s.key, s.fingerprint, s.request) for s in take_specs(load(path), ENDPOINT)]

    plain = specs()
    assert specs(pick=3) == plain
    assert specs(pick=2, status="approved") == plain
    assert specs(status="redo", notes="the sea is too dark") == plain


# -- a pick on an upstream changes what its dependants get (issue 16's rule) --------------------------


def upstream_outputs(tmp_path: Path, still: bool) -> dict[int, tuple[Path, str, bool]]:
    """Three takes of the upstream on disk, each different: (file, sha256, intact)."""
    out = {}
    for take in (1, 2, 3):
        if still:
            path = make_image(tmp_path / f"up.take{take}.jpg", (1280, 720), color=(40 * take, 60, 120))
        else:
            path = counting_video(tmp_path / f"up.take{take}.mp4", frames=12, size=(640, 360), first_grey=30 * take)
        out[take] = (path, hashlib.sha256(path.read_bytes()).hexdigest(), True)
    return out


@pytest.mark.parametrize("still", [True, False], ids=["still", "video"])
def test_the_upstreams_pick_decides_the_frame_a_dependant_gets(tmp_path, still):
    upstream = {"id": "up", "mode": "image", "prompt": "A cliff.", "takes": 3} if still else \
        {"id": "up", "mode": "text_to_video", "prompt": "Waves.", "takes": 3}
    ref = {"shot": "up"} if still else {"shot": "up", "frame": "last"}
    outputs = upstream_outputs(tmp_path, still)

    def specs(pick=None, take=None):
        shots = [{**upstream, **({"pick": pick} if pick else {})},
                 {"id": "dep", "mode": "image_to_video", "first_frame_image": {**ref, **({"take": take} if take else {})},
                  "prompt": "He turns."}]
        manifest = load(write_manifest(tmp_path, shots, defaults={"model": "MiniMax-Hailuo-02"}))
        found = take_specs(manifest, ENDPOINT, finished=lambda spec: outputs[spec.take],
                           frames=FrameStore(tmp_path / "out"))
        return {s.shot.id: s for s in found if s.take == 1}

    take1, picked2, picked3 = specs(), specs(pick=2), specs(pick=3)
    assert take1["up"].fingerprint == picked2["up"].fingerprint == picked3["up"].fingerprint  # its own: unchanged
    got = {name: dict(s["dep"].inputs)["first_frame_image"].identity for name, s in
           (("1", take1), ("2", picked2), ("3", picked3))}
    for take, identity in got.items():
        assert outputs[int(take)][1] in identity  # the frame of the picked take, by content
    assert len({take1["dep"].fingerprint, picked2["dep"].fingerprint, picked3["dep"].fingerprint}) == 3
    named = specs(pick=3, take=1)  # an input that names its take keeps it whatever the pick
    assert named["dep"].fingerprint == take1["dep"].fingerprint


def test_a_dependant_waits_for_the_picked_take(tmp_path):
    shots = [{"id": "kf", "mode": "image", "prompt": "A cliff.", "takes": 3, "pick": 3},
             {"id": "dep", "mode": "image_to_video", "first_frame_image": {"shot": "kf"}, "prompt": "He turns."}]
    specs = take_specs(load(write_manifest(tmp_path, shots)), ENDPOINT)  # nothing made yet
    (dep,) = [s for s in specs if s.shot.id == "dep"]
    assert dep.waits_for == (("kf", 3),)
