"""Loading manifests: the typed result, defaults, positions, warnings, and hostile or huge input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from pipeline.minimax import camera, catalogue
from pipeline.manifest import imagefiles
from pipeline.errors import InputError
from pipeline.manifest.checker import Manifest, ManifestError, Problem, Shot, check, load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [ROOT / "manifests" / "example.yaml", ROOT / "manifests" / "minimal.yaml", ROOT / "manifests" / "h3.yaml"]


def write(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def image(path: Path, size=(640, 360), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (30, 80, 140)).save(path, format=fmt)
    return path


def errors(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


def warnings(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems if p.severity == "warning"]


# -- the examples ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_clean(path: Path):
    assert check(path) == []
    manifest = load(path)
    assert isinstance(manifest, Manifest)
    assert manifest.warnings == []


def modes_of(api: str) -> set[str]:
    return {mode for m in catalogue.MODELS.values() if m.api == api for mode in m.options}


def test_the_examples_together_cover_every_mode():
    """The v1 storyboard covers the v1 modes, the H3 storyboard (tests/test_manifest_h3.py) the v2 ones."""
    assert {s.mode for s in load(EXAMPLES[0]).shots} == modes_of("v1")
    assert {s.mode for s in load(EXAMPLES[2]).shots} == modes_of("v2")
    assert modes_of("v1") | modes_of("v2") | modes_of("image") == set(catalogue.MODES)


def test_example_covers_every_mode_and_the_story_features():
    m = load(EXAMPLES[0])
    assert m.path == EXAMPLES[0] and m.dir == EXAMPLES[0].parent
    assert m.version == 1 and m.name == "lighthouse-teaser"
    assert {catalogue.MODELS[s.model].api for s in m.shots} == {"v1"}
    assert 7 <= len(m.shots) <= 8
    assert any(s.takes == 2 for s in m.shots)
    assert sum(s.resolution == "1080P" for s in m.shots) == 1
    assert sum(bool(camera.moves(s.prompt or "")) for s in m.shots) >= 4
    assert any(s.notes for s in m.shots) and any(s.tags for s in m.shots)
    assert EXAMPLES[0].read_text().splitlines()[0] == "# yaml-language-server: $schema=../schemas/manifest.schema.json"
    for shot in m.shots:
        assert catalogue.MODELS[shot.model].allows(shot.mode, shot.resolution, shot.duration)


def test_example_images_are_made_by_the_project_and_pass_the_api_rules():
    from pipeline.minimax import images

    assets = ROOT / "manifests" / "assets"
    files = sorted(p for p in assets.iterdir() if p.suffix in (".jpg", ".png"))
    assert {p.suffix for p in files} == {".jpg", ".png"}
    for p in files:
        assert p.stat().st_size < 200_000
        images.inspect(p.read_bytes())
    assert (assets / "make_assets.py").exists()


def test_minimal_manifest_fills_defaults_from_the_catalogue():
    m = load(EXAMPLES[1])
    (shot,) = m.shots
    assert shot.model == catalogue.DEFAULT_MODEL["text_to_video"] == "MiniMax-Hailuo-02"
    model = catalogue.MODELS[shot.model]
    assert (shot.duration, shot.resolution) == (model.default_duration, model.default_resolution)
    assert shot.takes == 1 and shot.tags == () and shot.notes is None
    assert m.settings.rpm is None and m.settings.max_cost is None


# -- the typed result --------------------------------------------------------------------------


def test_defaults_merge_and_shots_override(tmp_path):
    image(tmp_path / "a.jpg")
    path = write(tmp_path, """\
version: 1
name: merge
rpm: 20
poll_interval: 15
defaults:
  duration: 10
  prompt_optimizer: false
  tags: [draft]
shots:
  - id: one
    mode: text_to_video
    prompt: "Waves [Static shot]."
  - id: two
    mode: image_to_video
    first_frame_image: a.jpg
    duration: 6
    resolution: 1080P
    prompt_optimizer: true
    tags: [final]
  - id: face
    mode: subject_reference
    subject_image: a.jpg
    duration: 6
""")
    m = load(path)
    one, two, face = m.shots
    assert (one.duration, one.resolution, one.prompt_optimizer, one.tags) == (10, "768P", False, ("draft",))
    assert (two.duration, two.resolution, two.prompt_optimizer, two.tags) == (6, "1080P", True, ("final",))
    assert face.model == "S2V-01"
    assert (one.line, two.line, face.line) == (10, 13, 20)
    assert two.images() == {"first_frame_image": "a.jpg"}
    assert one.images() == {}
    assert (m.settings.rpm, m.settings.poll_interval, m.settings.concurrency) == (20, 15.0, None)
    assert m.shot("two") is two
    with pytest.raises(KeyError):
        m.shot("three")


def test_shot_is_frozen():
    shot = load(EXAMPLES[1]).shots[0]
    assert isinstance(shot, Shot)
    with pytest.raises(Exception):
        shot.prompt = "changed"


def test_anchors_and_merge_keys_work(tmp_path):
    path = write(tmp_path, """\
version: 1
name: anchors
x-common: &common
  mode: text_to_video
  duration: 6
shots:
  - <<: *common
    id: a
    prompt: "One."
  - <<: *common
    id: b
    duration: 10
    prompt: "Two."
""")
    problems = check(path)
    # The anchor's holder is an unknown top-level key; everything else is fine.
    assert errors(problems) == [f"{path}:3:1: field 'x-common': unknown field; allowed: version, name, rpm, "
                                "concurrency, poll_interval, max_cost, allow_h3_max_references, prices, defaults, "
                                "shots"]
    path.write_text(path.read_text().replace("x-common: &common", "defaults: &common"))
    m = load(path)
    assert [(s.id, s.duration) for s in m.shots] == [("a", 6), ("b", 10)]


def test_integral_float_is_an_integer_as_in_json_schema(tmp_path):
    path = write(tmp_path, 'version: 1.0\nname: f\nshots:\n  - {id: a, mode: text_to_video, prompt: "x", duration: 10.0}\n')
    m = load(path)
    assert m.version == 1 and m.shots[0].duration == 10 and type(m.shots[0].duration) is int


def test_prompt_of_exactly_2000_characters_passes_and_2001_fails(tmp_path):
    body = 'version: 1\nname: p\nshots:\n  - id: a\n    mode: text_to_video\n    prompt: "{}"\n'
    ok = write(tmp_path, body.format("é" * catalogue.PROMPT_MAX_CHARS), "ok.yaml")
    assert load(ok).shots[0].prompt == "é" * 2000
    bad = write(tmp_path, body.format("é" * 2001), "bad.yaml")
    assert errors(check(bad)) == [
        f"{bad}:6:13: shot 'a' field 'prompt': is 2001 characters long; the API takes at most 2000"
    ]


# -- problems: form, order, completeness -------------------------------------------------------


def test_every_problem_is_reported_sorted_with_positions(tmp_path):
    path = write(tmp_path, """\
version: 1
name: many
shots:
  - id: s01
    mode: text_to_video
    prompt: "A [pan up] shot"
    resolution: 1080P
    duration: 10
  - id: s02
    mode: image_to_video
    promt: "typo"
  - id: s01
    mode: text_to_video
    prompt: "again"
    takes: 0
""")
    problems = check(path)
    assert [str(p) for p in problems] == [
        f"{path}:6:16: warning: shot 's01' field 'prompt': [pan up] is not one of the 15 camera commands, "
        "so the model reads it as text; did you mean [Tilt up] or [Pedestal up]?",
        f"{path}:7:17: shot 's01' field 'resolution': 1080P allows only 6 s; MiniMax-Hailuo-02 allows 768P: 6 or 10 s; 1080P: 6 s",
        f"{path}:9:5: shot 's02' field 'first_frame_image': image_to_video needs first_frame_image "
        "(a file path relative to the manifest, or an https URL)",
        f"{path}:11:5: shot 's02' field 'promt': unknown field; did you mean 'prompt'?",
        f"{path}:12:9: shot 's01' field 'id': duplicate id 's01' (first used by the shot on line 4); ids must be unique",
        f"{path}:15:12: shot 's01' field 'takes': must be at least 1, got 0",
    ]
    p = problems[1]
    assert (p.line, p.col, p.severity, p.shot, p.field) == (7, 17, "error", "s01", "resolution")
    as_json = p.to_json()
    assert as_json["text"] == str(p) and as_json["line"] == 7 and as_json["severity"] == "error"
    json.dumps([q.to_json() for q in problems])


def test_manifest_error_summarises(tmp_path):
    path = write(tmp_path, "version: 1\nname: x\nshots:\n  - {id: a, mode: text_to_video, takes: 0}\n")
    with pytest.raises(ManifestError) as caught:
        load(path)
    err = caught.value
    assert isinstance(err, InputError) and err.exit_code == 2
    assert [p.message for p in err.problems] == ["text_to_video needs a prompt", "must be at least 1, got 0"]
    assert str(err) == f"{path}:4:5: shot 'a' field 'prompt': text_to_video needs a prompt (1 more problem)"


def test_the_file_is_named_as_the_user_gave_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "version: 2\nname: x\nshots: [{id: a, mode: text_to_video, prompt: x}]\n")
    assert str(check("m.yaml")[0]).startswith("m.yaml:1:10: field 'version'")
    assert str(check(Path("./m.yaml"))[0]).startswith("m.yaml:1:10:")


def test_defaults_errors_point_at_defaults_and_name_the_shot(tmp_path):
    path = write(tmp_path, """\
version: 1
name: d
defaults:
  model: MiniMax-Hailuo-2.3-Fast
shots:
  - {id: a, mode: text_to_video, prompt: "x"}
  - {id: b, mode: image_to_video, first_frame_image: "https://example.com/b.png"}
""")
    assert errors(check(path)) == [
        f"{path}:4:10: shot 'a' field 'model': MiniMax-Hailuo-2.3-Fast does not do text_to_video; for "
        "text_to_video use MiniMax-Hailuo-2.3, MiniMax-Hailuo-02, T2V-01-Director, T2V-01, MiniMax-H3 or "
        "MiniMax-H3-Max (set in defaults)",
    ]


def test_missing_file_folder_and_never_raises(tmp_path):
    assert [str(p) for p in check(tmp_path / "nope.yaml")] == [
        f"{tmp_path / 'nope.yaml'}:1:1: cannot read the manifest: No such file or directory"
    ]
    assert "this is a folder" in str(check(tmp_path)[0])
    with pytest.raises(ManifestError):
        load(tmp_path / "nope.yaml")


# -- warnings ----------------------------------------------------------------------------------


def test_unknown_model_is_a_warning_and_sent_as_written(tmp_path):
    path = write(tmp_path, """\
version: 1
name: w
shots:
  - id: a
    mode: text_to_video
    model: MiniMax-Hailou-02
    prompt: "x"
    duration: 4
""")
    m = load(path)
    assert [str(w) for w in m.warnings] == [
        f"{path}:6:12: warning: shot 'a' field 'model': 'MiniMax-Hailou-02' is not in the catalogue; sent as "
        "written, and its duration and resolution are not checked; did you mean 'MiniMax-Hailuo-02'?"
    ]
    shot = m.shots[0]
    assert (shot.model, shot.duration, shot.resolution) == ("MiniMax-Hailou-02", 4, None)


def test_camera_lint(tmp_path):
    path = write(tmp_path, """\
version: 1
name: cam
shots:
  - id: a
    mode: text_to_video
    prompt: "Dusk [Pan left, Tilt up, Zoom in, Shake] then [Push out]"
  - id: b
    mode: text_to_video
    model: T2V-01
    resolution: 720P
    prompt: |
      The sea at night.
      The lamp turns [Pan right].
  - id: c
    mode: text_to_video
    prompt: "Chinese commands count too [推进], as does [static shot]."
""")
    m = load(path)
    assert [str(w) for w in m.warnings] == [
        f"{path}:6:19: warning: shot 'a' field 'prompt': [Pan left, Tilt up, Zoom in, Shake] has 4 camera "
        "commands in one bracket; at most 3 are recommended",
        f"{path}:6:60: warning: shot 'a' field 'prompt': [Push out] is not one of the 15 camera commands, so the "
        "model reads it as text; did you mean [Pull out], [Zoom out] or [Push in]?",
        f"{path}:13:22: warning: shot 'b' field 'prompt': T2V-01 does not follow camera commands in text_to_video; "
        "[Pan right] will be read as plain text; for text_to_video these do: MiniMax-Hailuo-2.3, "
        "MiniMax-Hailuo-02, T2V-01-Director",
    ]


@pytest.mark.parametrize("item, first", [
    ("pan up", ["Tilt up", "Pedestal up"]),
    ("pan down", ["Tilt down", "Pedestal down"]),
    ("crane up", ["Pedestal up", "Tilt up"]),
    ("dolly in", ["Push in", "Zoom in"]),
    ("Push out", ["Pull out"]),
    ("tilt upp", ["Tilt up"]),
    ("static", ["Static shot"]),
    ("close-up", []),
])
def test_camera_suggestions(item, first):
    assert camera.suggest(item)[:len(first)] == first
    if not first:
        assert camera.suggest(item) == []


# -- hostile and huge input --------------------------------------------------------------------


def test_file_over_50_mb_is_refused_before_parsing(tmp_path):
    """A sparse file: its size alone must refuse it, without reading 50 MB."""
    path = tmp_path / "big.yaml"
    with path.open("wb") as fh:
        fh.write(b"version: 1\nname: big\nshots:\n")
        fh.truncate(50_000_001)
    problems = check(path)
    assert [str(p) for p in problems] == [f"{path}:1:1: the file is 50,000,001 bytes; a manifest may be at most 50,000,000 bytes (50 MB)"]


def test_invalid_utf8_is_located(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"version: 1\nname: ok\nshots:\n  - id: a\n    prompt: \"caf\xc3\xa9 \xff\"\n")
    assert [str(p) for p in check(path)] == [
        f"{path}:5:19: the file is not UTF-8 text (byte 0xff here is not valid UTF-8); save it as UTF-8"
    ]


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\nname: bom\nshots: [{id: a, mode: text_to_video, prompt: x}]\n")
    assert load(path).name == "bom"


def test_many_aliases_are_refused(tmp_path):
    lines = ["version: 1", "name: al", "defaults: &d {mode: text_to_video}", "shots:"]
    lines += [f"  - {{id: s{i}, <<: *d, prompt: x}}" for i in range(1001)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    (problem,) = check(path)
    assert problem.message == "more than 1000 YAML aliases; use 'defaults:' instead"
    assert problem.line == 1005


def test_100k_shots_are_all_checked(tmp_path):
    lines = ["version: 1", "name: huge", "defaults: {mode: text_to_video}", "shots:"]
    lines += [f'  - {{id: s{i:06d}, prompt: "Shot {i} [Push in]."}}' for i in range(100_000)]
    lines[4 + 77_777] = '  - {id: s077777, prompt: "Shot [Push in].", duration: 7}'
    path = write(tmp_path, "\n".join(lines) + "\n")
    problems = check(path)  # its speed is measured by bench/validate.py, not asserted here
    assert [str(p) for p in problems] == [
        f"{path}:77782:56: shot 's077777' field 'duration': MiniMax-Hailuo-02 does not offer 7 s for "
        "text_to_video; it allows 768P: 6 or 10 s; 1080P: 6 s"
    ]


def test_shared_images_are_read_once(tmp_path, monkeypatch):
    image(tmp_path / "a.jpg")
    lines = ["version: 1", "name: shared", "shots:"]
    lines += [f"  - {{id: s{i}, mode: image_to_video, first_frame_image: a.jpg}}" for i in range(200)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    reads = []
    real_inspect = imagefiles.images.inspect
    monkeypatch.setattr(imagefiles.images, "inspect", lambda data: reads.append(1) or real_inspect(data))
    imagefiles._facts.clear()
    load(path)
    load(path)
    assert len(reads) == 1
    os.utime(tmp_path / "a.jpg", ns=(1, 1))  # an edited file is read again
    load(path)
    assert len(reads) == 2


def test_symlink_inside_the_project_is_fine_and_outside_is_not(tmp_path):
    outside = image(tmp_path / "elsewhere" / "x.jpg")
    project = tmp_path / "project"
    (project / "assets").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    real = image(project / "shared" / "keeper.jpg")
    (project / "assets" / "inside.jpg").symlink_to(real)
    (project / "assets" / "outside.jpg").symlink_to(outside)
    manifests = project / "manifests"
    manifests.mkdir()
    path = write(manifests, """\
version: 1
name: links
shots:
  - {id: a, mode: image_to_video, first_frame_image: ../assets/inside.jpg}
  - {id: b, mode: image_to_video, first_frame_image: ../shared/keeper.jpg}
  - {id: c, mode: image_to_video, first_frame_image: ../assets/outside.jpg}
""")
    assert errors(check(path)) == [
        f"{path}:6:54: shot 'c' field 'first_frame_image': '../assets/outside.jpg' leads outside the manifest's "
        "folder and project (through '..', an absolute path or a symlink); keep images inside the project"
    ]


def test_image_format_is_judged_by_bytes_not_name(tmp_path):
    image(tmp_path / "looks.png", fmt="JPEG")  # a JPEG named .png is fine: the API gets its real type
    path = write(tmp_path, "version: 1\nname: n\nshots:\n  - {id: a, mode: image_to_video, first_frame_image: looks.png}\n")
    assert check(path) == []


def test_hidden_characters_are_escaped_in_messages(tmp_path):
    path = write(tmp_path, 'version: 1\nname: h\nshots:\n  - {id: "a\\u202eb", mode: text_to_video, prompt: x}\n')
    (problem,) = check(path)
    assert "\u202e" not in str(problem) and "a\\u202eb" in str(problem)


VALID = sorted((ROOT / "tests" / "manifests" / "valid").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_corpus_loads_with_its_declared_warnings(path: Path):
    declared = int(path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# warnings: "))
    m = load(path)
    assert len(m.warnings) == declared
    assert all(p.severity == "warning" for p in m.warnings)


def test_merges_give_each_shot_its_own_id():
    m = load(ROOT / "tests" / "manifests" / "valid" / "anchors-and-merges.yaml")
    assert [(s.id, s.prompt, s.duration) for s in m.shots] == [
        ("a", "One [Static shot].", 6), ("b", "One [Static shot].", 6), ("c", "One [Static shot].", 10)]


def test_non_finite_numbers_are_refused(tmp_path):
    path = write(tmp_path, "version: 1\nname: n\npoll_interval: .nan\nmax_cost: .inf\n"
                           "shots: [{id: a, mode: text_to_video, prompt: x}]\n")
    assert errors(check(path)) == [
        f"{path}:3:16: field 'poll_interval': '.nan' is not a finite number; a manifest holds only what JSON can",
        f"{path}:4:11: field 'max_cost': '.inf' is not a finite number; a manifest holds only what JSON can",
    ]
