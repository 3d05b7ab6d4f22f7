"""The manifest cache: a hit is exactly the full check's result, and anything the check read that
changed (the manifest, an image, a reference video or sound, the code) makes it check again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from media import make_video, make_wav
from pipeline.manifest import imagefiles, mediafiles, checker as manifest, cache as manifestcache
from pipeline.run.specs import take_specs
from pipeline.manifest.checker import ManifestError
from runs import make_image

SHOTS = manifestcache.MIN_SHOTS + 10


def write_big_manifest(folder: Path, prompt_zero: str = "Waves at dusk [pan up].") -> Path:
    """A manifest worth caching: defaults, tags, a lint warning, and shots with local images."""
    make_image(folder / "frames" / "a.jpg")
    make_image(folder / "frames" / "b.png", color=(200, 40, 40))
    lines = ["version: 1", "name: cached", "rpm: 30", "defaults:", "  model: MiniMax-Hailuo-02", "  duration: 6",
             "shots:", "  - id: s0000", "    mode: text_to_video", f'    prompt: "{prompt_zero}"']
    for i in range(1, SHOTS):
        lines += [f"  - id: s{i:04d}"]
        if i % 50 == 0:
            lines += ["    mode: first_last_frame", "    first_frame_image: frames/a.jpg",
                      "    last_frame_image: frames/b.png", "    model: MiniMax-Hailuo-02"]
        elif i % 7 == 0:
            lines += ["    mode: image_to_video", "    first_frame_image: frames/a.jpg", f"    prompt: move {i}",
                      "    tags: [wide, dusk]"]
        else:
            lines += ["    mode: text_to_video", f"    prompt: Shot {i} of the harbour [Push in]", "    takes: 2"]
    path = folder / "big.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def entries() -> list[Path]:
    folder = Path(os.environ["SHOTS_CACHE_DIR"]) / "manifests"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def assert_same(cached, fresh):
    assert cached.shots == fresh.shots
    assert [type(s.tags) for s in cached.shots] == [type(s.tags) for s in fresh.shots]
    assert (cached.name, cached.version, cached.settings, cached.defaults) == (
        fresh.name, fresh.version, fresh.settings, fresh.defaults)
    assert (cached.path, cached.dir) == (fresh.path, fresh.dir)
    assert (cached.prices, cached.setting_positions) == (fresh.prices, fresh.setting_positions)
    assert [str(w) for w in cached.warnings] == [str(w) for w in fresh.warnings] and fresh.warnings


def test_a_hit_is_exactly_the_full_check_and_gives_the_same_fingerprints(tmp_path):
    path = write_big_manifest(tmp_path)
    first = manifestcache.load(path)  # a miss: checks, then writes the entry
    assert len(entries()) == 1
    imagefiles._facts.clear()  # as in a fresh process: image facts come from the entry
    cached = manifestcache.load(path)
    specs = take_specs(cached, "simulator")
    imagefiles._facts.clear()
    fresh = manifest.load(path)
    assert_same(cached, fresh)
    assert_same(first, fresh)
    assert [(s.shot.id, s.take, s.fingerprint) for s in specs] == [
        (s.shot.id, s.take, s.fingerprint) for s in take_specs(fresh, "simulator")]


def test_a_hit_loads_neither_the_yaml_reader_nor_the_schema_validator(tmp_path):
    path = write_big_manifest(tmp_path)
    probe = ("import sys; from pipeline.manifest import cache; m = cache.load(sys.argv[1]); "
             "print(len(m.shots), 'pipeline.manifest.checker' in sys.modules, 'jsonschema' in sys.modules, 'yaml' in sys.modules)")

    def run() -> str:
        return subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True,
                              env=os.environ.copy(), cwd=Path(__file__).resolve().parent.parent).stdout.split()

    assert run() == [str(SHOTS), "True", "True", "True"]  # the miss checks everything
    assert run() == [str(SHOTS), "False", "False", "False"]


def test_an_edited_manifest_is_checked_again(tmp_path):
    path = write_big_manifest(tmp_path)
    manifestcache.load(path)
    write_big_manifest(tmp_path, prompt_zero="Fog over the pier.")
    assert manifestcache.load(path).shots[0].prompt == "Fog over the pier."
    text = path.read_text(encoding="utf-8").replace("duration: 6", "duration: 7", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=r"big.yaml:6:\d+: .*duration"):
        manifestcache.load(path)


def test_a_changed_image_is_checked_again_and_changes_the_fingerprint(tmp_path):
    path = write_big_manifest(tmp_path)
    before = {s.shot.id: s.fingerprint for s in take_specs(manifestcache.load(path), "simulator")}
    imagefiles._facts.clear()
    make_image(tmp_path / "frames" / "a.jpg", color=(10, 200, 10))  # same path, new picture
    after = {s.shot.id: s.fingerprint for s in take_specs(manifestcache.load(path), "simulator")}
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed and all(int(k[1:]) % 7 == 0 or int(k[1:]) % 50 == 0 for k in changed)
    make_image(tmp_path / "frames" / "a.jpg", size=(200, 120))  # now too small for the API
    with pytest.raises(ManifestError, match="short side"):
        manifestcache.load(path)


def test_a_re_pointed_symlink_is_checked_again(tmp_path):
    path = write_big_manifest(tmp_path)
    real = tmp_path / "frames" / "a.jpg"
    os.rename(real, tmp_path / "frames" / "a-real.jpg")
    os.symlink("a-real.jpg", real)
    manifestcache.load(path)
    make_image(tmp_path / "frames" / "tiny.jpg", size=(100, 100))
    real.unlink()
    os.symlink("tiny.jpg", real)
    with pytest.raises(ManifestError, match="short side"):
        manifestcache.load(path)


def test_an_entry_from_other_code_or_a_damaged_one_is_only_a_miss(tmp_path):
    path = write_big_manifest(tmp_path)
    fresh = manifest.load(path)
    manifestcache.load(path)
    [entry] = entries()
    doc = json.loads(entry.read_text(encoding="utf-8"))
    doc["code"] = "another version of shots"
    doc["shots"][3]["prompt"] = "written by another version"
    entry.write_text(json.dumps(doc), encoding="utf-8")
    assert_same(manifestcache.load(path), fresh)
    assert json.loads(entry.read_text(encoding="utf-8"))["code"] == manifestcache.code_identity()
    entry.write_text(entry.read_text(encoding="utf-8")[:500], encoding="utf-8")
    assert_same(manifestcache.load(path), fresh)


def test_small_manifests_and_SHOTS_NO_CACHE_leave_no_entry(tmp_path, monkeypatch):
    small = tmp_path / "small.yaml"
    small.write_text("version: 1\nname: small\nshots:\n  - id: a\n    mode: text_to_video\n    prompt: p\n")
    assert manifestcache.load(small).shots[0].id == "a"
    monkeypatch.setenv("SHOTS_NO_CACHE", "1")
    assert manifestcache.cache_dir() is None
    assert len(manifestcache.load(write_big_manifest(tmp_path)).shots) == SHOTS
    assert entries() == []
    monkeypatch.setenv("SHOTS_NO_CACHE", "0")
    manifestcache.load(write_big_manifest(tmp_path))
    assert len(entries()) == 1


def test_an_unwritable_cache_folder_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("SHOTS_CACHE_DIR", str(blocker))
    path = write_big_manifest(tmp_path)
    assert len(manifestcache.load(path).shots) == SHOTS
    assert len(manifestcache.load(path).shots) == SHOTS


def test_warnings_name_the_file_as_this_call_spells_it(tmp_path, monkeypatch):
    path = write_big_manifest(tmp_path)
    manifestcache.load(path.resolve())
    monkeypatch.chdir(tmp_path)
    cached = manifestcache.load("big.yaml")
    assert str(cached.warnings[0]).startswith("big.yaml:10:")
    assert_same(cached, manifest.load("big.yaml"))


def write_h3_manifest(folder: Path) -> Path:
    """An H3 manifest whose inputs are all v2 media: an image, a reference video, a sound."""
    make_image(folder / "refs" / "keeper.png")
    make_video(folder / "refs" / "waves.mp4", seconds=2)
    make_wav(folder / "refs" / "horn.wav", seconds=3)
    path = folder / "h3.yaml"
    path.write_text("version: 1\nname: h3\nallow_h3_max_references: true\nshots:\n"
                    "  - {id: a, mode: reference, model: MiniMax-H3-Max, prompt: x,\n"
                    "     reference_images: [refs/keeper.png], reference_videos: [refs/waves.mp4],\n"
                    "     reference_audio: [refs/horn.wav]}\n"
                    "  - {id: b, mode: image_to_video, model: MiniMax-H3, prompt: x,\n"
                    "     first_frame_image: refs/keeper.png}\n", encoding="utf-8")
    return path


def test_v2_inputs_are_tracked_too_a_changed_video_or_sound_is_checked_again(tmp_path, monkeypatch):
    monkeypatch.setattr(manifestcache, "MIN_SHOTS", 1)
    path = write_h3_manifest(tmp_path)
    fresh = manifestcache.load(path)  # a miss: checks, then writes the entry
    assert len(entries()) == 1 and fresh.shots[0].reference_video_seconds == (2.0,)
    mediafiles._facts.clear()  # as in a fresh process: the facts come from the entry

    def no_check(*args, **kwargs):
        raise AssertionError("checked again: the entry was not used")

    with monkeypatch.context() as hit:
        hit.setattr(manifestcache, "_check", no_check)
        cached = manifestcache.load(path)
    assert cached.shots == fresh.shots and cached.switches == fresh.switches == {"allow_h3_max_references"}
    assert mediafiles.seen(os.path.realpath(tmp_path / "refs" / "waves.mp4")) is not None  # remembered from the entry
    make_video(tmp_path / "refs" / "waves.mp4", seconds=4)
    assert manifestcache.load(path).shots[0].reference_video_seconds == (4.0,)
    make_wav(tmp_path / "refs" / "horn.wav", seconds=1)
    with pytest.raises(ManifestError, match=r"reference_audio\[0\]'.*1 s long"):
        manifestcache.load(path)
    make_wav(tmp_path / "refs" / "horn.wav", seconds=3)
    manifestcache.load(path)
    make_image(tmp_path / "refs" / "keeper.png", size=(250, 250))  # a v2 image: now under 256 px
    with pytest.raises(ManifestError, match="256 to 5760 px"):
        manifestcache.load(path)
