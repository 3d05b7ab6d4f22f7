"""Frames cut from upstream outputs (run/frames.py), from real MP4s made here with PyAV.

The clips are lossless H.264 in RGB (libx264rgb, qp 0), so the frame cut can be compared with
the picture that went in, pixel for pixel: each frame has its own colour and a white bar at its
own place. The v2-like clip (yuv420p, 24 fps, AAC sound) is lossy, so there the frame cut is
compared with PyAV's own decode of every frame.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import pytest
from media import make_video
from PIL import Image, ImageDraw

from pipeline.manifest import mediafiles, takes
from pipeline.manifest.models import FrameRef
from pipeline.minimax import catalogue
from pipeline.run import frames
from pipeline.run.frames import FrameError, FrameStore, cut, image_problem

FPS = 24
FRAMES = 48  # 2 s
GOP = 12  # a key frame every half second: the seeks have somewhere to land


def picture(i: int, size: tuple[int, int] = (320, 192)) -> Image.Image:
    """Frame i: a colour of its own and a white bar at x = 3i."""
    w, h = size
    image = Image.new("RGB", size, (i * 5 % 256, (255 - i * 5) % 256, i * 37 % 256))
    ImageDraw.Draw(image).rectangle([i * 3 % w, 0, i * 3 % w + 2, h - 1], fill="white")
    return image


def make_clip(path: Path, count: int = FRAMES, size: tuple[int, int] = (320, 192)) -> Path:
    """A lossless MP4 of `count` frames at 24 fps."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264rgb", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "rgb24"
        stream.time_base = Fraction(1, FPS)
        stream.options = {"preset": "ultrafast", "qp": "0", "g": str(GOP)}
        for i in range(count):
            frame = av.VideoFrame.from_image(picture(i, size))
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def pixels(png: bytes | Path) -> bytes:
    data = png.read_bytes() if isinstance(png, Path) else png
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGB"
        return image.tobytes()


def same(png: bytes | Path, i: int, size: tuple[int, int] = (320, 192)) -> bool:
    return pixels(png) == picture(i, size).tobytes()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "s01.mp4")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """320x180: under v1's 300 px short side and v2's 256 px sides."""
    return make_clip(tmp_path_factory.mktemp("clips") / "s03.mp4", count=6, size=(320, 180))


@pytest.fixture
def decoded(monkeypatch) -> list[int]:
    """How many frames cut() decoded, call by call."""
    counts: list[int] = []
    real = frames._frames

    def counting(container, stream):
        counts.append(0)
        for picture_ in real(container, stream):
            counts[-1] += 1
            yield picture_

    monkeypatch.setattr(frames, "_frames", counting)
    return counts


# -- cut ------------------------------------------------------------------------------------------


def test_first_and_last_are_the_clips_first_and_last_pictures_at_its_own_size(clip):
    first, last = cut(clip, "first"), cut(clip, "last")
    assert same(first, 0) and same(last, FRAMES - 1)
    with Image.open(io.BytesIO(last)) as image:
        assert image.size == (320, 192)
    assert same(cut(clip, None), FRAMES - 1)  # no frame named: the last, as FrameRef says


@pytest.mark.parametrize("seconds, index", [
    (0, 0), (0.3, 7),  # 7/24 = 0.292 is shown until 8/24 = 0.333
    (0.5, 12), (0.49, 11),  # 0.5 is exactly frame 12's start: it is shown from then
    (1.25, 30), (1, 24), (1.99, 47),
    (2.0, 47),  # the clip's very end: still its last frame
])
def test_a_time_is_the_frame_shown_then(clip, seconds, index):
    assert same(cut(clip, seconds), index)


def test_a_time_past_the_end_is_an_error_naming_the_file_and_its_length(clip):
    with pytest.raises(FrameError, match=r"^s01\.mp4 is 2 s long; it has no frame at 2\.01 s$"):
        cut(clip, 2.01)
    with pytest.raises(FrameError, match="no frame at 6 s"):
        cut(clip, 6)
    with pytest.raises(FrameError, match="no frame at -0.5 s"):
        cut(clip, -0.5)
    for nonsense in (float("nan"), float("inf"), True, "middle"):
        with pytest.raises(FrameError, match=r"^s01\.mp4: .* names no frame"):
            cut(clip, nonsense)


def test_the_last_frame_is_found_by_seeking_not_by_decoding_the_whole_clip(clip, decoded):
    assert same(cut(clip, "last"), FRAMES - 1)
    assert sum(decoded) <= GOP  # from the last key frame on
    decoded.clear()
    assert same(cut(clip, 1.8), 43)
    assert sum(decoded) <= GOP + 1  # the key frame before 1.8 s, to the first frame after it


def test_a_v2_like_clip_with_sound_gives_the_frames_pyav_decodes(tmp_path):
    """24 fps, 107 frames (the v2 grid's first step), yuv420p, AAC: lossy, so compared with a decode."""
    path = make_video(tmp_path / "s02.mp4", seconds=107 / 24, fps=24, size=(320, 256), sound="aac")
    with av.open(str(path)) as container:
        assert container.streams.audio
        reference = [f.to_image().tobytes() for f in container.decode(container.streams.video[0])]
    assert len(reference) == 107
    assert pixels(cut(path, "first")) == reference[0]
    assert pixels(cut(path, "last")) == reference[106]
    assert pixels(cut(path, 2.5)) == reference[60]  # 60/24 = 2.5 exactly
    assert pixels(cut(path, 4.4)) == reference[105]
    with pytest.raises(FrameError, match=r"s02\.mp4 is 4\.458 s long; it has no frame at 4\.5 s"):
        cut(path, 4.5)


def test_what_is_not_a_playable_video_is_a_frame_error_naming_it(tmp_path, clip):
    text = tmp_path / "s04.mp4"
    text.write_text("not a video")
    with pytest.raises(FrameError, match=r"^s04\.mp4: cannot cut the last frame: not a playable video"):
        cut(text, "last")
    cut_short = tmp_path / "s05.mp4"
    cut_short.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # its index is at the end
    with pytest.raises(FrameError, match=r"^s05\.mp4: cannot cut the frame at 1 s"):
        cut(cut_short, 1.0)


def test_the_selector_is_frame_refs():
    for frame in ("first", "last", None, 2.5, 3.0, 0.25):
        assert frames.selector(frame) == FrameRef(shot="s01", frame=frame).selector
    assert frames.selector(2.5) == "2.5s" and frames.selector(None) == "last"


# -- the store ------------------------------------------------------------------------------------


@pytest.fixture
def cuts(monkeypatch) -> list[tuple[str, object]]:
    """Every cut() the store makes: (file, frame)."""
    made: list[tuple[str, object]] = []
    lock = threading.Lock()
    real = frames.cut

    def counting(video, frame):
        with lock:
            made.append((Path(video).name, frame))
        return real(video, frame)

    monkeypatch.setattr(frames, "cut", counting)
    return made


def test_a_frame_is_kept_under_its_upstreams_hash_and_selector(tmp_path, clip, cuts):
    digest = sha(clip)
    store = FrameStore(tmp_path)
    path = store.frame_of(clip, digest, "last", still=False)
    assert path == tmp_path / takes.FRAMES / f"s01.last.{digest[:16]}.png"
    assert same(path, FRAMES - 1)
    at = store.frame_of(clip, digest, 0.5, still=False)
    assert at.name == f"s01.0.5s.{digest[:16]}.png" and same(at, 12)
    assert cuts == [("s01.mp4", "last"), ("s01.mp4", 0.5)]
    with pytest.raises(ValueError, match="not a sha256"):
        store.frame_of(clip, "", "last", still=False)  # a take recorded unhashed can have no frame name
    assert not list((tmp_path / takes.FRAMES).glob("*.part"))


def test_a_kept_frame_is_reused_without_cutting_again(tmp_path, clip, cuts):
    digest = sha(clip)
    path = FrameStore(tmp_path).frame_of(clip, digest, "first", still=False)
    before = path.stat()
    again = FrameStore(tmp_path).frame_of(clip, digest, "first", still=False)  # a resumed run's store
    assert again == path and len(cuts) == 1
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_damaged_kept_frame_is_cut_again(tmp_path, clip, cuts):
    digest = sha(clip)
    store = FrameStore(tmp_path)
    path = store.frame_of(clip, digest, "last", still=False)
    path.write_bytes(path.read_bytes()[:200])  # cut short: does not decode
    assert store.frame_of(clip, digest, "last", still=False) == path
    assert len(cuts) == 2 and same(path, FRAMES - 1)
    path.write_bytes(b"")
    assert same(store.frame_of(clip, digest, "last", still=False), FRAMES - 1) and len(cuts) == 3


def test_an_upstream_that_is_not_the_content_its_hash_names_is_refused(tmp_path, clip, cuts):
    with pytest.raises(FrameError, match=r"s01\.mp4 changed since it was verified"):
        FrameStore(tmp_path).frame_of(clip, "0" * 64, "last", still=False)
    assert not list((tmp_path / takes.FRAMES).glob("*.png"))


def test_a_still_is_copied_whole_and_outlives_the_original(tmp_path, cuts):
    still = tmp_path / "kf-01.take2.jpg"
    picture(3, (640, 360)).save(still, "JPEG")
    data, digest = still.read_bytes(), sha(still)
    store = FrameStore(tmp_path / "out")
    path = store.frame_of(still, digest, None, still=True)
    assert path == tmp_path / "out" / takes.FRAMES / f"kf-01.take2.{digest[:16]}.jpg"
    assert path.read_bytes() == data and cuts == []
    still.unlink()  # a regeneration moved it to history/
    assert store.frame_of(still, digest, "last", still=True) == path  # frame ignored, the copy kept
    path.write_bytes(data[:100])
    still.write_bytes(data)
    assert store.frame_of(still, digest, None, still=True).read_bytes() == data  # a damaged copy: copied again
    with pytest.raises(FrameError, match=r"kf-01\.take2\.jpg changed since it was verified"):
        store.frame_of(still, "f" * 64, None, still=True)


def test_concurrent_dependants_of_one_frame_cut_it_once(tmp_path, clip, cuts):
    digest = sha(clip)
    store = FrameStore(tmp_path)
    start = threading.Barrier(8)

    def ask(frame):
        start.wait()
        return store.frame_of(clip, digest, frame, still=False)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(ask, ["last"] * 4 + [1.0] * 4))
    assert set(got) == {store.path_for(clip, digest, "last"), store.path_for(clip, digest, 1.0)}
    assert len(cuts) == 2 and set(cuts) == {("s01.mp4", 1.0), ("s01.mp4", "last")}
    assert same(got[0], FRAMES - 1) and same(got[-1], 24)


# -- the API's image rules ------------------------------------------------------------------------


def test_a_frame_too_small_for_v1_says_which_rule(tmp_path, small):
    path = FrameStore(tmp_path).frame_of(small, sha(small), "last", still=False)
    assert image_problem(path, "v1", "the last frame of s03") == \
        "the last frame of s03 is 320x180; its short side must be over 300 px"
    assert image_problem(path, "v1").startswith(f"{path.name} is 320x180")


def test_a_frame_too_small_for_v2_says_which_rule(tmp_path, small):
    path = FrameStore(tmp_path).frame_of(small, sha(small), "first", still=False)
    assert image_problem(path, "v2", "the first frame of s03") == \
        "the first frame of s03 is 320x180; the API takes 256 to 5760 px a side"


def test_a_frame_too_big_for_a_subject_reference_says_which_rule(tmp_path, small, monkeypatch):
    path = FrameStore(tmp_path).frame_of(small, sha(small), "first", still=False)
    assert image_problem(path, "image") is None
    monkeypatch.setattr(catalogue, "IMAGE_SUBJECT", dataclasses.replace(catalogue.IMAGE_SUBJECT, max_bytes=100))
    assert image_problem(path, "image", "the first frame of s03") == \
        f"the first frame of s03 is {mediafiles.mb(path.stat().st_size)}; the API takes image files up to 1 KB"


def test_a_subject_reference_must_be_jpg_or_png(tmp_path):
    webp = tmp_path / "kf.webp"
    picture(1, (640, 360)).save(webp, "WEBP")
    assert image_problem(webp, "image", "the still of kf") == \
        "the still of kf: a WebP image; here the API takes JPG or PNG images (judged by the content, not the name)"
    assert image_problem(webp, "v1") is None


def test_a_frame_the_apis_take_has_no_problem(tmp_path):
    clip = make_clip(tmp_path / "s06.mp4", count=2, size=(640, 360))
    path = FrameStore(tmp_path).frame_of(clip, sha(clip), "last", still=False)
    assert [image_problem(path, api) for api in ("v1", "v2", "image")] == [None, None, None]
    with pytest.raises(ValueError, match="unknown API"):
        image_problem(path, "v3")
