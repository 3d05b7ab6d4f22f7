"""MiniMax-H3 and MiniMax-H3-Max in the manifest (minimax-api-v2.md A3, A4, A8): the H3 example,
the v2 fields and modes, every A4 rule before anything is paid, the input files by the v2 limits
(images, videos, audio, the whole request), and the reference videos' seconds for the price."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from PIL import Image

from media import heif_bytes, make_mp3, make_video, make_wav
from pipeline.manifest import mediafiles
from pipeline.manifest.checker import check, load
from pipeline.minimax import catalogue

ROOT = Path(__file__).resolve().parent.parent
H3_EXAMPLE = ROOT / "manifests" / "h3.yaml"
H3_ASSETS = ROOT / "manifests" / "assets" / "h3"


def write(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text("version: 1\nname: n\n" + text, encoding="utf-8")
    return path


def image(path: Path, size=(640, 360)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (30, 80, 140)).save(path)
    return path


def at(path: Path, line: int, value: str, nth: int = 1, quoted: bool = False) -> str:
    """'FILE:LINE:COL' of the `nth` `value` written on `line` (in quotes: at the quote): where a
    problem with it is placed."""
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    col = -1
    for _ in range(nth):
        col = text.index(value, col + 1)
    return f"{path}:{line}:{col + 1 - quoted}"


def errors(problems) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


def warnings(problems) -> list[str]:
    return [str(p) for p in problems if p.severity == "warning"]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """One folder of inputs, made once: good ones and one per broken rule."""
    folder = tmp_path_factory.mktemp("media")
    image(folder / "still.png")
    image(folder / "small.png", (300, 280))  # v1 refuses (short side must be over 300), v2 takes it (256+)
    image(folder / "tiny.png", (250, 400))  # under v2's 256 px
    make_video(folder / "waves.mp4", seconds=2.5)
    make_video(folder / "waves.mov", seconds=2)
    make_video(folder / "eight.mp4", seconds=8, size=(256, 256), sound=None)
    make_video(folder / "mpeg4.mp4", seconds=2, codec="mpeg4")
    make_video(folder / "mp3-sound.mp4", seconds=2, sound="libmp3lame")
    make_video(folder / "one-second.mp4", seconds=1)
    make_video(folder / "thin.mp4", seconds=2, size=(256, 704), sound=None)  # 0.36, under 0.4
    make_wav(folder / "horn.wav", seconds=3)
    make_wav(folder / "eight.wav", seconds=8)
    make_mp3(folder / "gulls.mp3", seconds=2.5)
    (folder / "photo.heic").write_bytes(heif_bytes(1024, 768))
    (folder / "photo.avif").write_bytes(heif_bytes(1024, 768, b"avif"))
    return folder


def in_media(media: Path, text: str) -> list:
    return check(write(media, text, "m.yaml"))


# -- the H3 example ---------------------------------------------------------------------------


def test_the_h3_example_is_clean_and_covers_every_v2_mode_and_field():
    assert check(H3_EXAMPLE) == []
    m = load(H3_EXAMPLE)
    assert m.name == "keepers-night-h3" and 5 <= len(m.shots) <= 8
    assert {catalogue.api_of(s.model) for s in m.shots} == {"v2"}
    assert {s.mode for s in m.shots} == {mode for x in catalogue.MODELS.values() if x.api == "v2" for mode in x.options}
    assert {s.model for s in m.shots} == {"MiniMax-H3", "MiniMax-H3-Max"}
    assert {s.resolution for s in m.shots} >= {"768P", "2K", "480P"}
    assert all(s.ratio not in (None, "adaptive") for s in m.shots if s.mode == "text_to_video")
    assert {s.prompt_expansion for s in m.shots if s.model == "MiniMax-H3-Max"} >= {"quality", "disabled"}
    (ref,) = [s for s in m.shots if s.mode == "reference"]
    assert ref.reference_images and ref.reference_videos and ref.reference_audio
    assert len(ref.reference_images) > catalogue.MODELS[ref.model].rates.free_images  # a billed image
    assert ref.reference_video_seconds == (3.0,)
    assert H3_EXAMPLE.read_text().splitlines()[0] == "# yaml-language-server: $schema=../schemas/manifest.schema.json"
    for shot in m.shots:
        assert catalogue.MODELS[shot.model].allows(shot.mode, shot.resolution, shot.duration)


def test_the_h3_examples_inputs_are_small_made_by_the_project_and_inside_the_v2_limits():
    files = sorted(p for p in H3_ASSETS.iterdir() if p.suffix != ".py")
    assert sum(p.stat().st_size for p in files) < 1_000_000
    assert (H3_ASSETS / "make_assets.py").exists()
    kinds = {}
    for p in files:
        facts = mediafiles.facts(p)
        kinds[facts.kind] = kinds.get(facts.kind, 0) + 1
        assert mediafiles.problem(facts, catalogue.V2_INPUTS.media[facts.kind]) is None, p.name
    assert kinds.keys() == {"image", "video", "audio"}
    video = mediafiles.facts(H3_ASSETS / "waves.mp4")
    assert (video.video_codec, video.audio_codec, video.fps) == ("h264", "aac", 24.0)


def test_the_h3_examples_prices_say_how_they_were_computed():
    m = load(H3_EXAMPLE)
    prices = {s.id: catalogue.price_of(s, m.prices) for s in m.shots}
    assert prices["h01-harbour"].how == "$0.08/s x 6 s = $0.48 (catalogue)"
    assert prices["h03-dawn"].how == "$0.13/s x 8 s = $1.04 (catalogue)"
    assert prices["h04-keeper"].how == ("$0.08/s x 10 s + 1 image past 5 free x $0.04 + 3 s reference video x "
                                        "$0.08/s = $1.08 (catalogue)")
    assert prices["h05-gulls"].how == "$0.05/s x 6 s = $0.30 (catalogue)"
    total = sum(p.usd for p in prices.values())
    assert total <= m.settings.max_cost


# -- fields by API generation ----------------------------------------------------------------


def test_v1_fields_on_h3_and_v2_fields_on_v1_are_errors_at_the_field(tmp_path):
    path = write(tmp_path, """\
defaults:
  prompt_optimizer: false
shots:
  - {id: a, mode: text_to_video, model: MiniMax-H3, ratio: "16:9", prompt: x}
  - {id: b, mode: text_to_video, model: MiniMax-H3, ratio: "16:9", prompt: x, fast_pretreatment: false,
     prompt_optimizer: true}
  - {id: c, mode: text_to_video, prompt: x, ratio: "16:9"}
  - {id: d, mode: text_to_video, prompt: x, prompt_expansion: quality}
  - {id: e, mode: text_to_video, model: MiniMax-H3-Max, ratio: "1:1", prompt: x, prompt_expansion: quality,
     prompt_optimizer: false}
""")
    v1 = "it is for the v1 models (MiniMax-Hailuo-2.3, MiniMax-Hailuo-2.3-Fast, ...)"
    assert errors(check(path)) == [
        f"{path}:4:21: shot 'a' field 'prompt_optimizer': MiniMax-H3 does not take prompt_optimizer; {v1} "
        "(set in defaults)",
        f"{path}:7:98: shot 'b' field 'fast_pretreatment': MiniMax-H3 does not take fast_pretreatment; {v1}",
        f"{path}:8:24: shot 'b' field 'prompt_optimizer': MiniMax-H3 does not take prompt_optimizer; {v1}",
        f"{path}:9:52: shot 'c' field 'ratio': MiniMax-Hailuo-02 does not take ratio; it is for MiniMax-H3 or "
        "MiniMax-H3-Max",
        f"{path}:10:63: shot 'd' field 'prompt_expansion': MiniMax-Hailuo-02 does not take prompt_expansion; it is "
        "for MiniMax-H3-Max",
        f"{path}:12:24: shot 'e' field 'prompt_optimizer': MiniMax-H3-Max does not take prompt_optimizer; {v1}",
    ]


def test_a_model_the_catalogue_does_not_know_goes_to_v1_so_v2_fields_and_modes_are_refused(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: a, mode: text_to_video, model: Some-Future-Model, prompt: x, ratio: "16:9"}
  - {id: b, mode: reference, model: Some-Future-Model, prompt: x, reference_videos: [waves.mp4]}
""")
    assert errors(check(path)) == [
        f"{path}:4:78: shot 'a' field 'ratio': 'Some-Future-Model' (not in the catalogue, so sent to the v1 API) "
        "does not take ratio; it is for MiniMax-H3 or MiniMax-H3-Max",
        f"{path}:5:19: shot 'b' field 'mode': 'Some-Future-Model' (not in the catalogue, so sent to the v1 API) "
        "has no reference mode; for reference use MiniMax-H3 or MiniMax-H3-Max",
    ]  # and no word on waves.mp4 (missing): v1 takes no video, which the mode's error says


def test_ratio_by_mode(tmp_path):
    """Text alone needs a concrete ratio; with a frame another ratio is ignored (a warning); references take any."""
    image(tmp_path / "a.png")
    path = write(tmp_path, """\
defaults: {model: MiniMax-H3, prompt: x}
shots:
  - {id: t, mode: text_to_video}
  - {id: t2, mode: text_to_video, ratio: adaptive}
  - {id: t3, mode: text_to_video, ratio: "4:3"}
  - {id: i, mode: image_to_video, first_frame_image: a.png, ratio: "9:16"}
  - {id: i2, mode: image_to_video, first_frame_image: a.png, ratio: adaptive}
  - {id: f, mode: first_last_frame, first_frame_image: a.png, last_frame_image: a.png, ratio: "1:1"}
  - {id: r, mode: reference, reference_images: [a.png], ratio: "21:9"}
  - {id: r2, mode: reference, reference_images: [a.png]}
""")
    concrete = "21:9, 16:9, 4:3, 1:1, 3:4 or 9:16"
    problems = check(path)
    assert errors(problems) == [
        f"{path}:5:5: shot 't' field 'ratio': text_to_video on MiniMax-H3 needs a ratio: {concrete}",
        f"{at(path, 6, 'adaptive')}: shot 't2' field 'ratio': adaptive needs a picture to adapt to, and "
        "text_to_video has none; "
        f"use {concrete}",
    ]
    ignored = "ignored: with a first or last frame the API takes the picture's shape (adaptive) and silently ignores"
    assert warnings(problems) == [
        f"{at(path, 8, '9:16', quoted=True)}: warning: shot 'i' field 'ratio': {ignored} 9:16; remove ratio, or crop "
        "the image",
        f"{at(path, 10, '1:1', quoted=True)}: warning: shot 'f' field 'ratio': {ignored} 1:1; remove ratio, or crop "
        "the image",
    ]


def test_prompt_expansion_only_on_h3_max_and_spelt_as_the_api_spells_it(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: a, mode: text_to_video, model: MiniMax-H3-Max, ratio: "1:1", prompt: x, prompt_expansion: balanced}
  - {id: b, mode: text_to_video, model: MiniMax-H3-Max, ratio: "1:1", prompt: x, prompt_expansion: Quality}
""")
    assert errors(check(path)) == [
        f"{at(path, 5, 'Quality')}: shot 'b' field 'prompt_expansion': the text 'Quality' is not allowed; use "
        "disabled, "
        "balanced or quality; did you mean 'quality'?",
    ]


# -- model x resolution x duration, prompt ----------------------------------------------------------


@pytest.mark.parametrize("model, resolution, duration, ok", [
    ("MiniMax-H3", "768P", 4, True), ("MiniMax-H3", "2K", 15, True), ("MiniMax-H3", "480P", 6, False),
    ("MiniMax-H3", "768P", 3, False), ("MiniMax-H3", "2K", 16, False), ("MiniMax-H3-Max", "480P", 5, True),
    ("MiniMax-H3-Max", "768P", 15, True), ("MiniMax-H3-Max", "768P", 4, False), ("MiniMax-H3-Max", "2K", 6, False),
])
def test_model_resolution_and_duration_follow_the_catalogue(tmp_path, model, resolution, duration, ok):
    path = write(tmp_path, f"""\
shots:
  - {{id: a, mode: text_to_video, model: {model}, resolution: {resolution}, duration: {duration}, ratio: "1:1",
     prompt: x}}
""")
    assert (errors(check(path)) == []) == ok
    assert catalogue.MODELS[model].allows("text_to_video", resolution, duration) == ok


def test_h3_defaults_to_768p_and_6_s():
    for name in ("MiniMax-H3", "MiniMax-H3-Max"):
        model = catalogue.MODELS[name]
        assert (model.default_resolution, model.default_duration, model.api) == ("768P", 6, "v2")
        assert model.allows("text_to_video", "768P", 6)


def test_every_v2_shot_needs_a_prompt_of_at_most_7000_characters(tmp_path):
    image(tmp_path / "a.png")
    path = write(tmp_path, f"""\
shots:
  - {{id: a, mode: image_to_video, model: MiniMax-H3, first_frame_image: a.png}}
  - {{id: b, mode: image_to_video, model: MiniMax-H3, first_frame_image: a.png, prompt: "  "}}
  - {{id: c, mode: image_to_video, model: MiniMax-H3, first_frame_image: a.png, prompt: {"x" * 7000}}}
  - {{id: d, mode: image_to_video, model: MiniMax-H3, first_frame_image: a.png, prompt: {"x" * 7001}}}
  - {{id: e, mode: image_to_video, first_frame_image: a.png, prompt: {"x" * 2001}}}
  - {{id: f, mode: image_to_video, model: Some-Future-Model, first_frame_image: a.png, prompt: {"x" * 2001}}}
""")
    blank = '"  "'
    assert errors(check(path)) == [
        f"{path}:4:5: shot 'a' field 'prompt': MiniMax-H3 needs a prompt in every mode",
        f"{at(path, 5, blank)}: shot 'b' field 'prompt': MiniMax-H3 needs a prompt in every mode; this one is empty",
        f"{at(path, 7, 'xxx')}: shot 'd' field 'prompt': is 7001 characters long; the API takes at most 7000",
        f"{at(path, 8, 'xxx')}: shot 'e' field 'prompt': is 2001 characters long; the API takes at most 2000",
        f"{at(path, 9, 'xxx')}: shot 'f' field 'prompt': is 2001 characters long; the API takes at most 2000",
    ]


def test_camera_commands_on_h3_are_not_documented_either_way(tmp_path):
    path = write(tmp_path, """\
shots:
  - {id: a, mode: text_to_video, model: MiniMax-H3, ratio: "1:1", prompt: "Waves [Push in]."}
""")
    (warning,) = warnings(check(path))
    assert warning.startswith(f"{at(path, 4, '[Push in]')}: warning: shot 'a' field 'prompt': MiniMax-H3's "
                              "documentation does not say whether it follows camera commands; [Push in] may be read "
                              "as plain text")
    assert not catalogue.MODELS["MiniMax-H3"].honours_camera and not catalogue.MODELS["MiniMax-H3-Max"].honours_camera


# -- modes and references ----------------------------------------------------------------------


def test_frames_and_references_never_mix(tmp_path):
    image(tmp_path / "a.png")
    path = write(tmp_path, """\
defaults: {model: MiniMax-H3, prompt: x}
shots:
  - {id: a, mode: reference, reference_images: [a.png], first_frame_image: a.png}
  - {id: b, mode: first_last_frame, first_frame_image: a.png, last_frame_image: a.png, reference_images: [a.png]}
  - {id: c, mode: text_to_video, ratio: "1:1", reference_audio: [a.wav]}
""")
    assert errors(check(path)) == [
        f"{at(path, 5, 'a.png}')}: shot 'a' field 'first_frame_image': reference takes no first_frame_image: "
        "frames and references never mix in one request; first_frame_image belongs to mode image_to_video or "
        "first_last_frame",
        f"{at(path, 6, '[a.png]')}: shot 'b' field 'reference_images': first_last_frame takes no reference_images: "
        "frames and "
        "references never mix in one request; reference_images belongs to mode reference",
        f"{at(path, 7, '[a.wav]')}: shot 'c' field 'reference_audio': text_to_video takes no references; remove "
        "reference_audio "
        "or use mode reference",
    ]


def test_reference_needs_an_image_or_a_video_and_audio_is_not_enough(media):
    problems = in_media(media, """\
defaults: {mode: reference, prompt: x}
shots:
  - {id: a}
  - {id: b, reference_images: []}
  - {id: c, reference_audio: [horn.wav]}
  - {id: d, reference_videos: [waves.mp4], reference_audio: [horn.wav, gulls.mp3]}
  - {id: e, reference_images: [still.png], reference_audio: [horn.wav]}
""")
    needs = "reference needs reference_images or reference_videos (file paths relative to the manifest, or https URLs)"
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{path}:5:5: shot 'a' field 'reference_images': {needs}",
        f"{path}:6:5: shot 'b' field 'reference_images': {needs}",
        f"{at(path, 7, '[horn.wav]')}: shot 'c' field 'reference_audio': needs a reference image or video beside it "
        "(the API "
        "refuses audio alone); add reference_images or reference_videos",
    ]


def test_a_reference_mode_shot_goes_to_h3_unless_it_names_a_model(tmp_path):
    image(tmp_path / "a.png")
    m = load(write(tmp_path, "shots:\n  - {id: a, mode: reference, prompt: x, reference_images: [a.png]}\n"))
    assert m.shots[0].model == catalogue.DEFAULT_MODEL["reference"] == "MiniMax-H3"
    assert m.shots[0].reference_images == ("a.png",) and m.shots[0].reference_videos == ()
    assert m.shots[0].ratio is None  # the API's default (adaptive) is not written into the shot


def test_at_most_12_references_in_all_and_each_kind_has_its_cap(media):
    images = ", ".join(["still.png"] * 9)
    problems = in_media(media, f"""\
defaults: {{mode: reference, prompt: x}}
shots:
  - {{id: a, reference_images: [{images}], reference_videos: [waves.mp4, waves.mp4, waves.mov],
     reference_audio: [horn.wav]}}
  - {{id: b, reference_images: [{images}], reference_videos: [waves.mp4, waves.mov], reference_audio: [horn.wav]}}
  - {{id: c, reference_images: [{images}, still.png]}}
  - {{id: d, reference_videos: [waves.mp4, waves.mp4, waves.mp4, waves.mp4]}}
""")
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{at(path, 6, 'horn.wav')}: shot 'a' field 'reference_audio[0]': reference 13 of 13 (9 images, 3 videos, 1 "
        "audio); the "
        "API takes at most 12 reference files in all",
        f"{at(path, 8, '[still.png')}: shot 'c' field 'reference_images': lists 10 files; the API takes at most 9 "
        "reference images",
        f"{at(path, 9, '[waves.mp4')}: shot 'd' field 'reference_videos': lists 4 files; the API takes at most 3 "
        "reference videos",
    ]


def test_h3_max_references_are_refused_unless_the_manifest_allows_them(media):
    text = """\
shots:
  - {id: a, mode: reference, model: MiniMax-H3-Max, prompt: x, reference_images: [still.png]}
"""
    problems = in_media(media, text)
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{path}:4:37: shot 'a' field 'model': MiniMax-H3-Max with reference is refused unless allowed: the global "
        "API page says MiniMax-H3-Max takes no references, the mainland (CN) page and the video guide say it does; "
        "use MiniMax-H3, or set 'allow_h3_max_references: true' at the top of the manifest to send it anyway",
    ]
    assert in_media(media, "allow_h3_max_references: true\n" + text) == []
    assert load(path).switches == frozenset({"allow_h3_max_references"})
    assert len(errors(in_media(media, "allow_h3_max_references: false\n" + text))) == 1


# -- input files by the v2 limits ----------------------------------------------------------------


def test_one_image_passes_v2_and_fails_v1_each_by_its_own_limits(media):
    problems = in_media(media, """\
shots:
  - {id: v2, mode: image_to_video, model: MiniMax-H3, prompt: x, first_frame_image: small.png}
  - {id: v1, mode: image_to_video, prompt: x, first_frame_image: small.png}
  - {id: tiny, mode: image_to_video, model: MiniMax-H3, prompt: x, first_frame_image: tiny.png}
""")
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{at(path, 5, 'small.png')}: shot 'v1' field 'first_frame_image': 'small.png': image is 300x280; its short "
        "side must be "
        "over 300 px",
        f"{at(path, 6, 'tiny.png')}: shot 'tiny' field 'first_frame_image': 'tiny.png': image is 250x400; the API "
        "takes 256 to "
        "5760 px a side",
    ]


def test_heic_and_heif_are_v2_images_and_avif_is_not(media):
    problems = in_media(media, """\
defaults: {mode: reference, prompt: x}
shots:
  - {id: a, reference_images: [photo.heic]}
  - {id: b, reference_images: [photo.avif]}
  - {id: c, mode: image_to_video, model: MiniMax-Hailuo-02, first_frame_image: photo.heic}
""")
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{at(path, 6, 'photo.avif')}: shot 'b' field 'reference_images[0]': 'photo.avif': an AVIF image; here the "
        "API takes JPG, "
        "PNG, WebP, HEIC or HEIF images (judged by the content, not the name)",
        f"{at(path, 7, 'photo.heic')}: shot 'c' field 'first_frame_image': 'photo.heic': not a JPG, PNG or WebP "
        "image (checked by "
        "its content, not its name)",
    ]
    facts = mediafiles.facts(media / "photo.heic")
    assert (facts.kind, facts.format, facts.width, facts.height) == ("image", "heic", 1024, 768)


def test_reference_videos_by_the_v2_limits(media):
    problems = in_media(media, """\
defaults: {mode: reference, prompt: x}
shots:
  - {id: ok, reference_videos: [waves.mp4, waves.mov, mp3-sound.mp4]}
  - {id: codec, reference_videos: [mpeg4.mp4]}
  - {id: short, reference_videos: [one-second.mp4]}
  - {id: thin, reference_videos: [thin.mp4]}
  - {id: image, reference_videos: [still.png]}
  - {id: sound, reference_videos: [horn.wav]}
  - {id: total, reference_videos: [eight.mp4, waves.mp4, eight.mp4]}
""")
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{at(path, 6, 'mpeg4.mp4')}: shot 'codec' field 'reference_videos[0]': 'mpeg4.mp4': video is encoded as "
        "mpeg4; the API "
        "takes H.264 or H.265 (re-encode it)",
        f"{at(path, 7, 'one-second.mp4')}: shot 'short' field 'reference_videos[0]': 'one-second.mp4': video is 1 s "
        "long; the API takes "
        "2 to 15 s per file",
        f"{at(path, 8, 'thin.mp4')}: shot 'thin' field 'reference_videos[0]': 'thin.mp4': video is 256x704 (aspect "
        "ratio 0.36); "
        "the API takes width/height 0.40 to 2.50",
        f"{at(path, 9, 'still.png')}: shot 'image' field 'reference_videos[0]': 'still.png': a PNG image; here the "
        "API takes MP4 or "
        "MOV videos (judged by the content, not the name)",
        f"{at(path, 10, 'horn.wav')}: shot 'sound' field 'reference_videos[0]': 'horn.wav': a WAV audio file; here "
        "the API takes "
        "MP4 or MOV videos (judged by the content, not the name)",
        f"{at(path, 11, 'eight.mp4', 2)}: shot 'total' field 'reference_videos[2]': with this one, the reference "
        "videos add up to "
        "18.5 s; the API takes at most 15 s of reference video in all",
    ]


def test_reference_audio_by_the_v2_limits(media):
    problems = in_media(media, """\
defaults: {mode: reference, prompt: x, reference_images: [still.png]}
shots:
  - {id: ok, reference_audio: [horn.wav, gulls.mp3]}
  - {id: total, reference_audio: [eight.wav, eight.wav]}
  - {id: video, reference_audio: [waves.mp4]}
""")
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{at(path, 6, 'eight.wav', 2)}: shot 'total' field 'reference_audio[1]': with this one, the reference audio "
        "add up to 16 s; "
        "the API takes at most 15 s of reference audio in all",
        f"{at(path, 7, 'waves.mp4')}: shot 'video' field 'reference_audio[0]': 'waves.mp4': an MP4 video; here the "
        "API takes WAV or "
        "MP3 audio files (judged by the content, not the name)",
    ]


def test_urls_are_taken_as_they_are_and_other_schemes_refused(media):
    problems = in_media(media, """\
defaults: {mode: reference, prompt: x}
shots:
  - {id: ok, reference_videos: ["https://example.com/w.mp4"], reference_audio: ["https://example.com/h.wav"]}
  - {id: http, reference_videos: ["http://example.com/w.mp4"]}
  - {id: data, reference_images: ["data:image/png;base64,AAAA"], reference_videos: ["data:video/mp4;base64,AAAA"]}
  - {id: missing, reference_videos: [nowhere.mp4]}
""")
    path = media / "m.yaml"
    assert errors(problems) == [
        f"{at(path, 6, 'http:', quoted=True)}: shot 'http' field 'reference_videos[0]': plain http URLs are not "
        "allowed; use https (or a "
        "local file)",
        f"{at(path, 7, 'data:image', quoted=True)}: shot 'data' field 'reference_images[0]': inline data URLs are "
        "not supported; save the image "
        "as a file next to the manifest",
        f"{at(path, 7, 'data:video', quoted=True)}: shot 'data' field 'reference_videos[0]': inline data URLs are "
        "not supported; save the video "
        "as a file next to the manifest",
        f"{at(path, 8, 'nowhere.mp4')}: shot 'missing' field 'reference_videos[0]': video file not found: "
        "'nowhere.mp4' (paths are "
        "relative to the manifest's folder)",
    ]


def test_a_reference_in_defaults_is_placed_in_defaults_and_named_by_the_shot(media):
    problems = in_media(media, """\
defaults:
  mode: reference
  prompt: x
  reference_videos:
    - waves.mp4
    - one-second.mp4
shots:
  - {id: a}
""")
    assert errors(problems) == [
        f"{at(media / 'm.yaml', 8, 'one-second.mp4')}: shot 'a' field 'reference_videos[1]': 'one-second.mp4': video "
        "is 1 s long; the "
        "API takes 2 to 15 s per file (set in defaults)",
    ]


def test_a_request_over_64_mb_with_its_files_inlined_is_refused_with_a_hint(media, monkeypatch):
    """The limit is data: shrunk here, so that a few small files cross it."""
    small = dataclasses.replace(catalogue.V2_INPUTS, max_body_bytes=120_000)
    monkeypatch.setitem(catalogue.INPUT_LIMITS, "v2", small)
    problems = in_media(media, """\
shots:
  - {id: a, mode: reference, prompt: x, reference_images: [still.png], reference_videos: [waves.mp4, waves.mov],
     reference_audio: [horn.wav]}
  - {id: b, mode: reference, prompt: x, reference_images: [still.png], reference_videos: [waves.mp4]}
""")
    sizes = {name: mediafiles.facts(media / name).size for name in ("still.png", "waves.mp4", "waves.mov", "horn.wav")}
    assert max(sizes, key=sizes.get) == "horn.wav"
    (error,) = errors(problems)
    assert error.startswith(f"{at(media / 'm.yaml', 5, 'horn.wav')}: shot 'a' field 'reference_audio[0]': the request "
                            "would be about ")
    assert error.endswith("KB with the shot's local files sent inline as base64 (a third bigger than the files); the "
                          "API takes at most 117 KB: use URLs (https) for the biggest files, starting with this one "
                          f"({mediafiles.mb(sizes['horn.wav'])})")


# -- what the price needs ---------------------------------------------------------------------


def test_each_reference_video_s_seconds_are_probed_and_a_url_s_are_not(media):
    m = load(write(media, """\
shots:
  - {id: a, mode: reference, prompt: x, reference_videos: [waves.mp4, "https://example.com/w.mp4", waves.mov]}
  - {id: b, mode: reference, prompt: x, reference_images: [still.png]}
"""))
    a, b = m.shots
    assert a.reference_video_seconds == (2.5, None, 2.0)
    assert b.reference_video_seconds == ()
    assert catalogue.price_of(a).how == ("$0.08/s x 6 s + at most 15 s reference video (1 of unknown length) x "
                                         "$0.08/s = at most $1.68 (catalogue)")
    assert catalogue.price_of(b).how == "$0.08/s x 6 s = $0.48 (catalogue)"


def test_a_changed_reference_video_changes_its_seconds(tmp_path):
    make_video(tmp_path / "w.mp4", seconds=2)
    path = write(tmp_path, "shots:\n  - {id: a, mode: reference, prompt: x, reference_videos: [w.mp4]}\n")
    assert load(path).shots[0].reference_video_seconds == (2.0,)
    shutil.copy(make_video(tmp_path / "other.mp4", seconds=4), tmp_path / "w.mp4")
    assert load(path).shots[0].reference_video_seconds == (4.0,)
