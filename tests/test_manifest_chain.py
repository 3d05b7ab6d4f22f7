"""Continuity in the manifest (issue 16): an image input may be another shot's output
(`{shot: s01, frame: last}`), and mode `image` makes a still with image-01. The typed Shot, the
defaults a still takes, the rules between shots (unknown ids, cycles, frames, takes) each as one
line at the FrameRef, the image API's fields and file, output names, prices and the catalogue.
The invalid corpus (tests/manifests/invalid/chain-*, image-*) holds one file per rule besides."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from pipeline.manifest import lint, schemacheck
from pipeline.manifest.checker import ManifestError, check, load
from pipeline.manifest.merging import IMAGE_SHOT_FIELDS, defaults_for
from pipeline.manifest.models import FrameRef
from pipeline.minimax import catalogue, imagespec

ROOT = Path(__file__).resolve().parent.parent
STORYBOARD = ROOT / "tests" / "manifests" / "valid" / "chain-storyboard.yaml"


def write(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text("version: 1\nname: n\n" + text, encoding="utf-8")
    return path


def at(path: Path, line: int, value: str, nth: int = 1) -> str:
    """'FILE:LINE:COL' of the `nth` `value` written on `line`."""
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    col = -1
    for _ in range(nth):
        col = text.index(value, col + 1)
    return f"{path}:{line}:{col + 1}"


def errors(problems) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


def warnings(problems) -> list[str]:
    return [str(p) for p in problems if p.severity == "warning"]


def image(path: Path, size=(640, 360), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (30, 80, 140)).save(path, format=fmt)
    return path


# -- the typed shots ---------------------------------------------------------------------------


def test_a_chained_storyboard_loads_with_framerefs_in_the_typed_shots():
    m = load(STORYBOARD)
    shots = {s.id: s for s in m.shots}
    assert shots["s01"].first_frame_image == FrameRef(shot="kf-01", take=2)
    assert shots["s02"].first_frame_image == FrameRef(shot="s01", frame="last")
    assert shots["s02"].last_frame_image == FrameRef(shot="s03", frame="first")
    assert shots["s04"].reference_images == (FrameRef(shot="kf-keeper"), FrameRef(shot="s03", frame=2.5),
                                             "../invalid/assets/good.png")
    assert list(shots["s04"].frame_refs()) == [("reference_images[0]", FrameRef(shot="kf-keeper")),
                                               ("reference_images[1]", FrameRef(shot="s03", frame=2.5))]
    assert shots["s04"].media() == [("reference_images[2]", "../invalid/assets/good.png")]
    assert [p.message for p in m.warnings] == [
        "a still has no camera to move: the image API does not read [Push in] as camera commands, only as "
        "words; move the camera in the shots made from it"]


def test_a_frame_time_written_as_a_whole_number_is_seconds(tmp_path):
    path = write(tmp_path, "shots:\n  - {id: s01, mode: text_to_video, prompt: x}\n"
                           "  - {id: s02, mode: image_to_video, first_frame_image: {shot: s01, frame: 2}}\n")
    ref = load(path).shots[1].first_frame_image
    assert ref == FrameRef(shot="s01", frame=2.0) and ref.frame == 2.0


def test_shots_may_take_from_shots_written_after_them(tmp_path):
    path = write(tmp_path, "shots:\n  - {id: s01, mode: image_to_video, first_frame_image: {shot: kf}}\n"
                           "  - {id: kf, mode: image, prompt: The harbour.}\n")
    assert check(path) == []


def test_an_image_shot_builds_with_image_01_and_no_duration_or_resolution(tmp_path):
    path = write(tmp_path, 'shots:\n  - {id: kf, mode: image, prompt: The harbour., aspect_ratio: "9:16", takes: 3,'
                           " aigc_watermark: true, prompt_optimizer: true}\n")
    (shot,) = load(path).shots
    assert (shot.model, shot.duration, shot.resolution, shot.aspect_ratio) == ("image-01", None, None, "9:16")
    assert (shot.takes, shot.aigc_watermark, shot.prompt_optimizer, shot.is_still) == (3, True, True, True)


# -- defaults ------------------------------------------------------------------------------------


DEFAULTS = """\
defaults:
  model: MiniMax-H3
  duration: 8
  resolution: 2K
  ratio: "16:9"
  aspect_ratio: "4:3"
  prompt: The harbour at dusk.
  takes: 2
  aigc_watermark: true
  notes: from defaults
shots:
  - {id: kf, mode: image}
  - {id: s01, mode: text_to_video}
  - {id: s02, mode: image_to_video, first_frame_image: {shot: kf}, ratio: adaptive}
"""


def test_a_still_takes_only_the_defaults_a_still_has_and_a_video_shot_all_but_aspect_ratio(tmp_path):
    m = load(write(tmp_path, DEFAULTS))
    kf, s01, s02 = m.shots
    assert (kf.model, kf.duration, kf.resolution, kf.ratio, kf.aspect_ratio) == ("image-01", None, None, None, "4:3")
    assert (kf.prompt, kf.takes, kf.aigc_watermark, kf.notes) == ("The harbour at dusk.", 2, True, "from defaults")
    assert (s01.model, s01.duration, s01.resolution, s01.ratio, s01.aspect_ratio) == ("MiniMax-H3", 8, "2K", "16:9",
                                                                                      None)
    assert (s02.ratio, s02.aspect_ratio, s02.takes) == ("adaptive", None, 2)
    assert m.warnings == []


def test_an_image_model_in_defaults_applies_to_stills(tmp_path):
    path = write(tmp_path, "defaults: {model: image-01, mode: image}\nshots:\n  - {id: kf, prompt: The harbour.}\n")
    assert load(path).shots[0].model == "image-01"


def test_defaults_for_is_one_answer_per_kind_of_shot():
    defaults = {"model": "MiniMax-H3", "duration": 6, "aspect_ratio": "1:1", "subject_image": "face.jpg",
                "prompt_expansion": "quality", "callback_url": "https://h/x", "tags": ["a"]}
    still = defaults_for({"mode": "image"}, defaults)
    assert still == {"aspect_ratio": "1:1", "subject_image": "face.jpg", "tags": ["a"]}
    assert set(still) <= IMAGE_SHOT_FIELDS
    assert defaults_for({"mode": "text_to_video"}, defaults) == {k: v for k, v in defaults.items()
                                                                  if k != "aspect_ratio"}
    assert defaults_for({}, {**defaults, "mode": "image"}) == {**still, "mode": "image"}
    plain = {"model": "MiniMax-Hailuo-02"}
    assert defaults_for({"mode": "text_to_video"}, plain) is plain


def test_a_video_field_on_a_still_is_an_error_at_the_field(tmp_path):
    path = write(tmp_path, """\
shots:
  - id: kf
    mode: image
    prompt: The harbour.
    resolution: 768P
    callback_url: https://hooks.example.com/x
    prompt_expansion: quality
    reference_images: [a.png]
    fast_pretreatment: true
""")
    assert errors(check(path)) == [
        f"{at(path, 7, '768P')}: shot 'kf' field 'resolution': mode image makes a still, whose size follows "
        "aspect_ratio (16:9 is 1280x720); remove resolution",
        f"{at(path, 8, 'https')}: shot 'kf' field 'callback_url': mode image takes no callback_url (the image API "
        "has no such field); remove it",
        f"{at(path, 9, 'quality')}: shot 'kf' field 'prompt_expansion': mode image takes no prompt_expansion (the "
        "image API has no such field); remove it",
        f"{at(path, 10, '[')}: shot 'kf' field 'reference_images': mode image takes no reference_images; the image "
        "API takes one input image, subject_image (a character)",
        f"{at(path, 11, 'true')}: shot 'kf' field 'fast_pretreatment': mode image takes no fast_pretreatment (the "
        "image API has no such field); remove it",
    ]


def test_a_still_needs_a_prompt_that_says_something(tmp_path):
    path = write(tmp_path, 'shots:\n  - {id: kf, mode: image, prompt: "  "}\n')
    where = at(path, 4, '"')
    assert errors(check(path)) == [f"{where}: shot 'kf' field 'prompt': mode image needs a prompt: what the still "
                                   "shows; this one is empty"]


def test_aspect_ratio_on_a_v2_shot_names_the_concrete_ratios_when_its_value_is_no_ratio(tmp_path):
    path = write(tmp_path, 'shots:\n  - {id: s01, mode: text_to_video, model: MiniMax-H3, prompt: x, '
                           'aspect_ratio: "3:2"}\n')
    where = at(path, 4, '"3:2"')
    assert errors(check(path)) == [
        f"{where}: shot 's01' field 'aspect_ratio': "
        "MiniMax-H3 does not take aspect_ratio, a still's shape (mode image); use ratio (21:9, 16:9, 4:3, 1:1, 3:4 "
        "or 9:16)"]


# -- the rules between shots ---------------------------------------------------------------------


def test_a_frameref_in_defaults_is_reported_for_each_shot_that_takes_it(tmp_path):
    path = write(tmp_path, "defaults:\n  mode: image_to_video\n  first_frame_image: {shot: s1}\n"
                           "shots:\n  - {id: s01}\n  - {id: s02}\n")
    where = at(path, 5, "s1")
    assert errors(check(path)) == [
        f"{where}: shot 's01' field 'first_frame_image.shot': no shot 's1' in this manifest; did you mean 's01'? "
        "(set in defaults)",
        f"{where}: shot 's02' field 'first_frame_image.shot': no shot 's1' in this manifest; did you mean 's01'? "
        "(set in defaults)",
    ]


def test_a_cycle_is_named_once_at_the_shot_that_comes_first_in_the_manifest(tmp_path):
    """Written out of order: s05 takes s07's output, s07 takes s06's, s06 takes s05's."""
    path = write(tmp_path, """\
shots:
  - {id: s07, mode: image_to_video, first_frame_image: {shot: s06}}
  - {id: s01, mode: text_to_video, prompt: x}
  - {id: s05, mode: first_last_frame, first_frame_image: {shot: s01}, last_frame_image: {shot: s07, frame: first}}
  - {id: s06, mode: image_to_video, first_frame_image: {shot: s05}}
""")
    assert errors(check(path)) == [
        f"{at(path, 4, 's06')}: shot 's07' field 'first_frame_image.shot': a cycle: s07 -> s05 -> s06 -> s07 (each "
        "shot takes the output of the one before it, so none can be made first); take this input from a file or a "
        "shot outside it"]


def test_separate_cycles_are_each_reported(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: a, mode: image_to_video, first_frame_image: {shot: b}}
  - {id: b, mode: image_to_video, first_frame_image: {shot: a}}
  - {id: c, mode: reference, model: MiniMax-H3, prompt: x, reference_images: [{shot: c}]}
""")
    found = errors(check(path))
    assert [e.split(": a cycle: ")[1].split(" (")[0] for e in found] == ["a -> b -> a", "c -> c"]
    assert found[1].startswith(f"{at(path, 6, 'c', 4)}: shot 'c' field 'reference_images[0].shot': ")


def test_frame_times_are_checked_against_the_upstreams_merged_duration(tmp_path):
    path = write(tmp_path, """\
defaults: {duration: 10}
shots:
  - {id: s01, mode: text_to_video, prompt: x}
  - {id: s02, mode: image_to_video, first_frame_image: {shot: s01, frame: 9.9}}
  - {id: s03, mode: image_to_video, first_frame_image: {shot: s01, frame: 10}}
  - {id: s04, mode: image_to_video, first_frame_image: {shot: s01, frame: 0}}
""")
    assert errors(check(path)) == [
        f"{at(path, 7, '10}')}: shot 's03' field 'first_frame_image.frame': s01 is 10 s long, so it has no frame at "
        "10 s; use a time under 10 s, or frame: last"]


def test_frame_times_are_not_checked_where_the_api_decides_the_length(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: s01, mode: text_to_video, model: T2V-01, prompt: x}
  - {id: s02, mode: text_to_video, model: Future-Model, prompt: x}
  - {id: s03, mode: text_to_video, model: Future-Model, prompt: x, duration: 5}
  - {id: s04, mode: image_to_video, first_frame_image: {shot: s01, frame: 30}}
  - {id: s05, mode: image_to_video, first_frame_image: {shot: s02, frame: 30}}
  - {id: s06, mode: image_to_video, first_frame_image: {shot: s03, frame: 30}}
""")
    assert errors(check(path)) == [
        f"{at(path, 9, '30')}: shot 's06' field 'first_frame_image.frame': s03 is 5 s long, so it has no frame at "
        "30 s; use a time under 5 s, or frame: last"]


def test_takes_are_checked_against_the_upstreams_merged_takes(tmp_path):
    path = write(tmp_path, """\
defaults: {takes: 3}
shots:
  - {id: kf, mode: image, prompt: x}
  - {id: s01, mode: image_to_video, takes: 1, first_frame_image: {shot: kf, take: 3}}
  - {id: s02, mode: image_to_video, first_frame_image: {shot: s01, take: 2}}
""")
    assert errors(check(path)) == [
        f"{at(path, 7, '2}')}: shot 's02' field 'first_frame_image.take': s01 has 1 take, so no take 2; drop take, "
        "or give s01 takes: 2"]


def test_every_image_field_may_be_another_shots_output_and_each_is_checked(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: kf, mode: image, prompt: x}
  - {id: face, mode: image, prompt: x, subject_image: {shot: kf, frame: first}}
  - {id: s2v, mode: subject_reference, subject_image: {shot: fase}}
  - {id: fl, mode: first_last_frame, first_frame_image: {shot: kf}, last_frame_image: {shot: kf, take: 2}}
""")
    assert errors(check(path)) == [
        f"{at(path, 5, 'first}')}: shot 'face' field 'subject_image.frame': kf is a still (mode image): drop frame",
        f"{at(path, 6, 'fase')}: shot 's2v' field 'subject_image.shot': no shot 'fase' in this manifest; did you "
        "mean 'face'?",
        f"{at(path, 7, '2}')}: shot 'fl' field 'last_frame_image.take': kf has 1 take, so no take 2; drop take, or "
        "give kf takes: 2",
    ]


def test_a_frameref_where_the_mode_takes_no_image_gets_the_files_message_and_nothing_more(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: s01, mode: text_to_video, prompt: x, first_frame_image: {shot: nowhere, frame: 99}}
  - {id: s02, mode: image_to_video, first_frame_image: {shot: s01}, last_frame_image: {shot: s01}}
  - {id: s03, mode: image_to_video, first_frame_image: f.png, last_frame_image: f.png}
""")
    image(tmp_path / "f.png")
    found = [e.split(": ", 1)[1] for e in errors(check(path))]
    assert found == [
        "shot 's01' field 'first_frame_image': text_to_video takes no images; remove first_frame_image or use mode "
        "image_to_video or first_last_frame",
        "shot 's02' field 'last_frame_image': image_to_video takes no last_frame_image; last_frame_image belongs to "
        "mode first_last_frame",
        "shot 's03' field 'last_frame_image': image_to_video takes no last_frame_image; last_frame_image belongs to "
        "mode first_last_frame",
    ]


@pytest.mark.parametrize("field", ["reference_videos", "reference_audio"])
def test_only_image_inputs_can_be_another_shots_output(tmp_path, field):
    path = write(tmp_path, f"shots:\n  - {{id: s01, mode: text_to_video, model: MiniMax-H3, ratio: '16:9', "
                           f"prompt: x}}\n  - id: s02\n    mode: reference\n    model: MiniMax-H3\n    prompt: x\n"
                           f"    reference_images: [{{shot: s01}}]\n    {field}:\n      - {{shot: s01}}\n")
    assert errors(check(path)) == [
        f"{path}:11:9: shot 's02' field '{field}[0]': expected text, got a mapping: only image inputs can be "
        f"another shot's output; {field} takes files (a path relative to the manifest, or an https URL)"]


def test_a_frameref_counts_as_an_image_input_but_is_never_read(tmp_path):
    """Ten reference images, some of them other shots' outputs: the schema's 9 counts them all;
    the request's size counts only the files (a frame is not cut yet)."""
    refs = ", ".join(["{shot: kf}"] * 5 + ["f.png"] * 5)
    path = write(tmp_path, f"shots:\n  - {{id: kf, mode: image, prompt: x}}\n  - {{id: s01, mode: reference, "
                           f"model: MiniMax-H3, prompt: x, reference_images: [{refs}]}}\n")
    image(tmp_path / "f.png")
    assert [e.split(": ", 1)[1] for e in errors(check(path))] == [
        "shot 's01' field 'reference_images': lists 10 files; the API takes at most 9 reference images"]


def test_more_than_twelve_references_counts_frames(tmp_path):
    refs = ", ".join(["{shot: kf}"] * 9)
    path = write(tmp_path, f"shots:\n  - {{id: kf, mode: image, prompt: x}}\n  - {{id: s01, mode: reference, "
                           f"model: MiniMax-H3, prompt: x, reference_images: [{refs}], "
                           f"reference_videos: [https://h/a.mp4, https://h/b.mp4, https://h/c.mp4], "
                           f"reference_audio: [https://h/a.mp3]}}\n")
    assert [e.split(": ", 2)[2] for e in errors(check(path))] == [
        "reference 13 of 13 (9 images, 3 videos, 1 audio); the API takes at most 12 reference files in all"]


# -- the schema of a FrameRef ----------------------------------------------------------------------


@pytest.mark.parametrize("ref, message", [
    ("{shot: s01, frame: 2.5, take: 1, crop: yes}", "field 'first_frame_image.crop': unknown field; allowed: shot, "
                                                    "frame, take"),
    ("{shot: s01, tkae: 2}", "field 'first_frame_image.tkae': unknown field; did you mean 'take'?"),
    ("{shot: 1}", "field 'first_frame_image.shot': expected text, got the number 1"),
    ("{shot: ''}", "field 'first_frame_image.shot': must not be empty"),
    ("{shot: s01, frame: [1]}", "field 'first_frame_image.frame': expected first, last or a time in seconds from "
                                "the start (2.5), got a list"),
    ("{shot: s01, frame: middle}", "field 'first_frame_image.frame': the text 'middle' is not a frame; use first, "
                                   "last or a time in seconds from the start (2.5)"),
    ("{shot: s01, take: 1.5}", "field 'first_frame_image.take': expected a whole number, got the number 1.5"),
    ("{shot: s01, take: 101}", "field 'first_frame_image.take': must be at most 100, got 101"),
    ("{}", "field 'first_frame_image.shot': missing; another shot's output names that shot: {shot: s01, frame: "
           "last}"),
    ("42", "field 'first_frame_image': expected text, got the number 42"),
])
def test_a_malformed_frameref_is_one_schema_error(tmp_path, ref, message):
    path = write(tmp_path, "shots:\n  - {id: s01, mode: text_to_video, prompt: x}\n"
                           f"  - id: s02\n    mode: image_to_video\n    first_frame_image: {ref}\n")
    (problem,) = check(path)
    assert str(problem).split(": ", 1)[1] == f"shot 's02' {message}"
    assert problem.line == 7


FRAMEREF_VALUES = [{"shot": "s01"}, {"shot": "s01", "frame": "last"}, {"shot": "s01", "frame": 0},
                   {"shot": "s01", "frame": -0.5}, {"shot": "s01", "frame": "LAST"}, {"shot": "s01", "frame": True},
                   {"shot": "s01", "frame": None}, {"shot": "s01", "take": 0}, {"shot": "s01", "take": True},
                   {"shot": "s01", "take": 2.0}, {"shot": ""}, {"shot": 5}, {"frame": "last"}, {},
                   {"shot": "s01", "x": 1}, {1: "s01"}, "x", "", 5, None, ["a"]]


@pytest.mark.parametrize("field", ["first_frame_image", "last_frame_image", "subject_image", "reference_images"])
def test_the_fast_validator_agrees_with_jsonschema_on_framerefs(field):
    reference = schemacheck.reference_validator()
    for value in FRAMEREF_VALUES:
        shot = {"id": "a", "mode": "image_to_video", field: [value] if field == "reference_images" else value}
        data = {"version": 1, "name": "n", "shots": [shot], "defaults": {field: shot[field]}}
        assert error_keys(schemacheck.validator(), data) == error_keys(reference, data), (field, value)


def error_keys(validator, data) -> list:
    return sorted((tuple(e.absolute_path), e.validator, e.message) for e in validator.iter_errors(data))


# -- the image API's input -----------------------------------------------------------------------


def test_a_stills_subject_is_a_jpg_or_png_under_10_mb(tmp_path):
    image(tmp_path / "face.jpg")
    image(tmp_path / "face.webp", fmt="WEBP")
    big = tmp_path / "big.png"
    big.write_bytes(image(tmp_path / "seed.png").read_bytes() + b"\0" * imagespec.SUBJECT_MAX_BYTES)
    path = write(tmp_path, """\
shots:
  - {id: a, mode: image, prompt: x, subject_image: face.jpg}
  - {id: b, mode: image, prompt: x, subject_image: https://example.com/face.png}
  - {id: c, mode: image, prompt: x, subject_image: face.webp}
  - {id: d, mode: image, prompt: x, subject_image: big.png}
  - {id: e, mode: image, prompt: x, subject_image: http://example.com/face.png}
""")
    assert errors(check(path)) == [
        f"{at(path, 6, 'face.webp')}: shot 'c' field 'subject_image': 'face.webp': a WebP image; here the API takes "
        "JPG or PNG images (judged by the content, not the name)",
        f"{at(path, 7, 'big.png')}: shot 'd' field 'subject_image': 'big.png': image is 10 MB; the API takes image "
        "files up to 10 MB",
        f"{at(path, 8, 'http:')}: shot 'e' field 'subject_image': plain http URLs are not allowed; use https (or a "
        "local file)",
    ]


# -- output names ----------------------------------------------------------------------------------


def test_frames_is_reserved_and_a_stills_takes_share_the_stem_check(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: frames, mode: text_to_video, prompt: x}
  - {id: kf, mode: image, prompt: x, takes: 2}
  - {id: KF.take2, mode: image, prompt: x}
""")
    assert errors(check(path)) == [
        f"{at(path, 4, 'frames')}: shot 'frames' field 'id': 'frames' is reserved: the output folder uses frames/ for "
        "the frames cut from shots that others start from; rename the shot",
        f"{at(path, 6, 'KF')}: shot 'KF.take2' field 'id': take 1 would write KF.take2.jpg, which shot 'kf' (line 5) "
        "also writes; rename one of them",
    ]


# -- prices and the catalogue ------------------------------------------------------------------------


def test_a_still_costs_the_image_price_per_take(tmp_path):
    (shot,) = load(write(tmp_path, "shots:\n  - {id: kf, mode: image, prompt: x, takes: 4}\n")).shots
    price = catalogue.price_of(shot)
    assert (price.usd, price.source, price.how) == (imagespec.PRICE_PER_IMAGE, "catalogue",
                                                    "$0.0035 per image (catalogue)")


def test_frames_from_other_shots_count_as_images_in_a_v2_price(tmp_path):
    """MiniMax-H3: 5 images free, then $0.04 each; two frames and four files are six images."""
    image(tmp_path / "f.png")
    path = write(tmp_path, """\
defaults: {model: MiniMax-H3, duration: 5}
shots:
  - {id: kf, mode: image, prompt: x}
  - {id: s01, mode: reference, prompt: x, reference_images: [{shot: kf}, f.png, f.png, f.png, f.png, {shot: kf}]}
  - {id: s02, mode: first_last_frame, prompt: x, first_frame_image: {shot: s01}, last_frame_image: {shot: kf}}
""")
    _, s01, s02 = load(path).shots
    assert catalogue.price_of(s01).how == "$0.08/s x 5 s + 1 image past 5 free x $0.04 = $0.44 (catalogue)"
    assert catalogue.price_of(s02).usd == 0.4


def test_a_declared_price_for_image_01_is_ignored_with_a_warning(tmp_path):
    path = write(tmp_path, "prices:\n  image-01: 0.01\nshots:\n  - {id: kf, mode: image, prompt: x}\n")
    assert warnings(check(path)) == [
        f"{path}:4:3: warning: field 'prices.image-01': the catalogue prices image-01 at $0.0035 per image; this "
        "entry is ignored"]


def test_the_catalogue_serves_image_01_from_the_image_api():
    model = catalogue.MODELS["image-01"]
    assert catalogue.api_of("image-01") == "image" and model.api == "image"
    assert model.modes == ("image",) and model.options == {"image": {}}
    assert (model.default_duration, model.default_resolution, model.still_price) == (None, None, 0.0035)
    assert model.prompt_max_chars == imagespec.PROMPT_MAX_CHARS and model.prompt_required
    assert catalogue.DEFAULT_MODEL["image"] == "image-01" and catalogue.models_for("image") == ["image-01"]
    assert catalogue.api_modes("image") == {"image"} and "image" not in catalogue.api_modes("v1") | \
        catalogue.api_modes("v2")
    assert list(imagespec.MODELS) == [n for n, m in catalogue.MODELS.items() if m.api == "image"]
    assert catalogue.MODES[-1] == "image"
    assert catalogue.IMAGE_SUBJECT.max_bytes < imagespec.SUBJECT_MAX_BYTES
    assert set(catalogue.IMAGE_SUBJECT.formats) == set(imagespec.SUBJECT_FORMATS)
    assert not model.allows("image", "768P", 6) and model.price("768P", 6) is None


def test_the_schema_lists_the_image_apis_aspect_ratios():
    schema = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["aspect_ratio"]["enum"] == list(imagespec.ASPECT_RATIOS)
    assert schema["$defs"]["mode"]["enum"] == list(catalogue.MODES)
    frame = schema["$defs"]["imageInput"]["properties"]["frame"]
    assert frame["anyOf"][0]["enum"] == ["first", "last"]


# -- the prompt lint -------------------------------------------------------------------------------


def test_camera_commands_in_a_still_are_one_warning_at_the_first():
    findings = lint.camera_findings("A harbour [Push in], gulls [Pan left].", "image-01", "image")
    assert [(f.message, f.snippet) for f in findings] == [
        ("a still has no camera to move: the image API does not read [Push in, Pan left] as camera commands, only as "
         "words; move the camera in the shots made from it", "[Push in]")]
    assert lint.camera_findings("A harbour at dusk.", "image-01", "image") == []


def test_price_of_takes_anything_with_a_model(tmp_path):
    assert catalogue.price_of(SimpleNamespace(model="image-01", resolution=None, duration=None)).usd == 0.0035


# -- a run limited to some shots (--only) -------------------------------------------------------------


ONLY = """\
shots:
  - {id: s01, mode: text_to_video, prompt: x, duration: 8}
  - {id: s02, mode: image_to_video, first_frame_image: {shot: s01}}
  - {id: s03, mode: reference, model: MiniMax-H3, prompt: x, reference_images: [f.png, {shot: s02}]}
  - {id: s04, mode: text_to_video, prompt: x}
"""


def test_a_run_limited_to_some_shots_leaves_out_the_dependants_of_a_broken_shot_saying_why(tmp_path):
    image(tmp_path / "f.png")
    path = write(tmp_path, ONLY)
    assert [p.shot for p in check(path)] == ["s01"]  # a full check: only the broken shot's own error
    m = load(path, only=["s04"])
    assert [s.id for s in m.shots] == ["s04"]  # no FrameRef left naming a shot the manifest lacks
    assert [str(p) for p in m.warnings if p.shot != "s01"] == [
        f"{at(path, 5, 's01}')}: shot 's02' field 'first_frame_image.shot': s01 has errors, and this shot takes an "
        "input from it; fix s01 first",
        f"{at(path, 6, 's02}')}: shot 's03' field 'reference_images[1].shot': s01 has errors, and this shot takes "
        "an input from it through s02; fix s01 first",
    ]


def test_a_chosen_shot_whose_upstream_is_broken_stops_the_run(tmp_path):
    image(tmp_path / "f.png")
    path = write(tmp_path, ONLY)
    with pytest.raises(ManifestError) as caught:
        load(path, only=["s03", "s04"])
    assert [(p.shot, p.field) for p in caught.value.problems] == [
        ("s01", "duration"), ("s02", "first_frame_image.shot"), ("s03", "reference_images[1].shot")]


def test_a_take_written_as_a_whole_float_is_checked_like_the_integer(tmp_path):
    """The schema takes 2.0 as an integer, so the chain rules must too (else a cycle would slip by)."""
    path = write(tmp_path, "shots:\n  - {id: a, mode: image_to_video, first_frame_image: {shot: b, take: 1.0}}\n"
                           "  - {id: b, mode: image_to_video, first_frame_image: {shot: a, take: 2.0}}\n")
    assert errors(check(path)) == [
        f"{at(path, 4, 'b,')}: shot 'a' field 'first_frame_image.shot': a cycle: a -> b -> a (each shot takes the "
        "output of the one before it, so none can be made first); take this input from a file or a shot outside it",
        f"{at(path, 5, '2.0')}: shot 'b' field 'first_frame_image.take': a has 1 take, so no take 2; drop take, or "
        "give a takes: 2",
    ]
