"""The canonical request, its fingerprint, and the real body: per mode, and the fingerprint rules."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image

from pipeline.manifest import imagefiles
from pipeline.minimax import images
from pipeline.errors import InputError
from pipeline.manifest.checker import load
from pipeline.manifest.models import Shot
from pipeline.run.request import FINGERPRINT_CHARS, api_body, canonical_request, fingerprint

ENDPOINT = "https://api.minimax.io/v1/video_generation"
ROOT = Path(__file__).resolve().parent.parent


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    Image.new("RGB", (640, 360), (10, 60, 120)).save(tmp_path / "first.jpg")
    Image.new("RGB", (640, 360), (200, 120, 40)).save(tmp_path / "last.png")
    Image.new("RGB", (480, 640), (230, 190, 160)).save(tmp_path / "face.webp")
    return tmp_path


def shot(**fields) -> Shot:
    fields.setdefault("id", "s01")
    fields.setdefault("model", "MiniMax-Hailuo-02")
    return Shot(**fields)


# -- per mode ----------------------------------------------------------------------------------


def test_text_to_video(folder):
    s = shot(mode="text_to_video", prompt="Dusk [Push in].", duration=6, resolution="768P",
             prompt_optimizer=False, notes="n", tags=("a",), takes=3, callback_url="https://h.example/cb")
    assert canonical_request(s, folder) == {
        "model": "MiniMax-Hailuo-02", "prompt": "Dusk [Push in].", "prompt_optimizer": False,
        "duration": 6, "resolution": "768P",
    }
    assert api_body(s, folder) == {**canonical_request(s, folder), "callback_url": "https://h.example/cb"}


def test_image_to_video_local_and_url(folder):
    local = shot(mode="image_to_video", first_frame_image="first.jpg", duration=10, resolution="768P",
                 fast_pretreatment=True)
    assert canonical_request(local, folder) == {
        "model": "MiniMax-Hailuo-02", "fast_pretreatment": True, "duration": 10, "resolution": "768P",
        "first_frame_image": sha(folder / "first.jpg"),
    }
    body = api_body(local, folder)
    assert body["first_frame_image"].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(body["first_frame_image"].split(",", 1)[1]) == (folder / "first.jpg").read_bytes()
    url = shot(mode="image_to_video", first_frame_image="https://cdn.example.com/a.png")
    assert canonical_request(url, folder)["first_frame_image"] == "https://cdn.example.com/a.png"
    assert api_body(url, folder)["first_frame_image"] == "https://cdn.example.com/a.png"


def test_first_last_frame_mime_follows_the_bytes(folder):
    (folder / "really-png.jpg").write_bytes((folder / "last.png").read_bytes())
    s = shot(mode="first_last_frame", first_frame_image="first.jpg", last_frame_image="really-png.jpg",
             prompt="Night to dawn.", fast_pretreatment=False)
    canonical = canonical_request(s, folder)
    assert canonical["first_frame_image"] == sha(folder / "first.jpg")
    assert canonical["last_frame_image"] == sha(folder / "last.png")  # content, not name
    assert "fast_pretreatment" not in canonical  # not a field of this mode; false is its default
    body = api_body(s, folder)
    assert body["first_frame_image"].startswith("data:image/jpeg;base64,")
    assert body["last_frame_image"].startswith("data:image/png;base64,")
    for field in ("first_frame_image", "last_frame_image"):
        mime, data = images.from_data_url(body[field])
        assert mime == images.inspect(data).mime


def test_subject_reference_and_models_that_take_no_duration(folder):
    s = shot(mode="subject_reference", model="S2V-01", subject_image="face.webp", prompt="She waves.",
             duration=6, resolution="720P")
    assert canonical_request(s, folder) == {
        "model": "S2V-01", "prompt": "She waves.",
        "subject_reference": [{"type": "character", "image": [sha(folder / "face.webp")]}],
    }
    body = api_body(s, folder)
    (ref,) = body["subject_reference"]
    assert ref["type"] == "character" and ref["image"][0].startswith("data:image/webp;base64,")
    t2v01 = shot(mode="text_to_video", model="T2V-01", prompt="x", duration=6, resolution="720P")
    assert canonical_request(t2v01, folder) == {"model": "T2V-01", "prompt": "x"}


def test_unknown_model_is_sent_as_written_with_what_the_shot_says(folder):
    s = shot(mode="text_to_video", model="MiniMax-Hailuo-9", prompt="x", duration=4, fast_pretreatment=False)
    assert canonical_request(s, folder) == {
        "model": "MiniMax-Hailuo-9", "prompt": "x", "fast_pretreatment": False, "duration": 4,
    }


def test_the_example_manifest_builds_every_request():
    m = load(ROOT / "manifests" / "example.yaml")
    prints = set()
    for s in m.shots:
        canonical = canonical_request(s, m.dir)
        body = api_body(s, m.dir)
        assert set(body) - {"callback_url"} == set(canonical)
        assert not any(str(v).startswith("data:") for v in canonical.values())
        prints.add(fingerprint(canonical, ENDPOINT))
    assert len(prints) == len(m.shots)


# -- the fingerprint ---------------------------------------------------------------------------


MANIFEST = """\
version: 1
name: fp
{settings}
defaults:
  model: MiniMax-Hailuo-02
shots:
{shots}
"""
A = '  - id: a\n    mode: text_to_video\n    prompt: "Dusk [Push in]."{extra_a}\n'
B = '  - id: b\n    mode: image_to_video\n    first_frame_image: first.jpg\n    prompt: "The keeper turns."{extra_b}\n'


def prints(folder: Path, settings="", order="ab", extra_a="", extra_b="", endpoint=ENDPOINT) -> dict[str, str]:
    shots = {"a": A.format(extra_a=extra_a), "b": B.format(extra_b=extra_b)}
    path = folder / "m.yaml"
    path.write_text(MANIFEST.format(settings=settings, shots="".join(shots[k] for k in order)))
    m = load(path)
    return {s.id: fingerprint(canonical_request(s, m.dir), endpoint) for s in m.shots}


def test_fingerprint_is_a_short_stable_hash(folder):
    fp = prints(folder)
    assert all(len(v) == FINGERPRINT_CHARS and int(v, 16) >= 0 for v in fp.values())
    assert prints(folder) == fp
    assert fingerprint({"b": 1, "a": "é"}, "e") == fingerprint({"a": "é", "b": 1}, "e")


def test_fingerprints_never_change_between_versions():
    """Every ledger holds fingerprints: a new way of computing them would make shots pay twice."""
    canonical = {"model": "MiniMax-Hailuo-02", "prompt": 'Waves at dusk, é \u2028 "quoted" [Push in]', "duration": 6,
                 "resolution": "768P", "first_frame_image": "sha256:" + "ab" * 32,
                 "subject_reference": [{"type": "character", "image": ["https://x.example/a.png"]}]}
    assert fingerprint(canonical, "https://api.minimax.io") == "4767acbc98076e6a"


@pytest.mark.parametrize("change", [
    {"order": "ba"},
    {"settings": "rpm: 20\nconcurrency: 3\npoll_interval: 30\nmax_cost: 9.5"},
    {"extra_a": "\n    notes: a new note\n    tags: [x, y]"},
    {"extra_a": "\n    takes: 3"},
    {"extra_a": "\n    callback_url: https://hooks.example.com/x"},
    {"extra_a": "\n    duration: 6\n    resolution: 768P"},  # what the defaults fill in anyway
])
def test_fingerprint_ignores(folder, change):
    assert prints(folder, **change) == prints(folder)


@pytest.mark.parametrize("change", [
    {"extra_a": "\n    duration: 10"},
    {"extra_a": "\n    resolution: 1080P"},
    {"extra_a": "\n    model: MiniMax-Hailuo-2.3"},
    {"extra_a": "\n    prompt_optimizer: false"},
    {"extra_a": "\n    fast_pretreatment: true"},
    {"extra_a": "\n    aigc_watermark: true"},
])
def test_fingerprint_follows_api_fields(folder, change):
    before, after = prints(folder), prints(folder, **change)
    assert after["a"] != before["a"] and after["b"] == before["b"]


def test_fingerprint_follows_the_prompt_and_the_endpoint(folder):
    before = prints(folder)
    (folder / "m.yaml").write_text((folder / "m.yaml").read_text().replace("Dusk", "Dawn"))
    m = load(folder / "m.yaml")
    assert fingerprint(canonical_request(m.shot("a"), m.dir), ENDPOINT) != before["a"]
    assert prints(folder, endpoint="http://127.0.0.1:8765/v1/video_generation")["a"] != before["a"]


def test_fingerprint_follows_image_content_not_its_path(folder):
    before = prints(folder)
    (folder / "copy.jpg").write_bytes((folder / "first.jpg").read_bytes())
    moved = B.replace("first.jpg", "copy.jpg")
    path = folder / "m.yaml"
    path.write_text(MANIFEST.format(settings="", shots=A.format(extra_a="") + moved.format(extra_b="")))
    m = load(path)
    assert fingerprint(canonical_request(m.shot("b"), m.dir), ENDPOINT) == before["b"]
    Image.new("RGB", (640, 360), (11, 60, 120)).save(folder / "first.jpg")  # new content, same name
    assert prints(folder)["b"] != before["b"]


def test_image_hashes_are_cached_per_file_version(folder, monkeypatch):
    reads = []
    real_open = open

    def counting_open(name, mode="r", *args, **kwargs):
        if "b" in mode and str(name).endswith("first.jpg"):
            reads.append(name)
        return real_open(name, mode, *args, **kwargs)

    imagefiles._facts.clear()
    monkeypatch.setattr("builtins.open", counting_open)
    s = shot(mode="image_to_video", first_frame_image="first.jpg")
    for _ in range(1000):
        canonical_request(s, folder)
    assert len(reads) == 1
    os.utime(folder / "first.jpg", ns=(5, 5))
    canonical_request(s, folder)
    assert len(reads) == 2


def test_unusable_images_raise_input_error(folder):
    with pytest.raises(InputError, match="image file|No such file"):
        canonical_request(shot(mode="image_to_video", first_frame_image="missing.jpg"), folder)
    with pytest.raises(InputError, match="leads outside"):
        canonical_request(shot(mode="image_to_video", first_frame_image="/etc/hostname"), folder)
    with pytest.raises(InputError, match="https"):
        api_body(shot(mode="image_to_video", first_frame_image="http://x.example/a.jpg"), folder)
