"""The v2 (MiniMax-H3) create body, its canonical form and fingerprint, per mode; and that request.py
sends every v1 shot down the v1 path unchanged (tests/test_request.py holds v1's golden values)."""

from __future__ import annotations

import base64
import hashlib
import io
import wave
from pathlib import Path

import pytest
from PIL import Image

from pipeline.errors import InputError
from pipeline.manifest.models import Shot
from pipeline.run import request_v2
from pipeline.run.request import api_body, canonical_request, fingerprint

ENDPOINT = "https://api.minimax.io"


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def counting_video(path: Path, frames: int = 60, size=(320, 256), first_grey: int = 20) -> Path:
    """A small H.264 MP4 whose frame i is grey level first_grey + 4*i."""
    import av
    from fractions import Fraction

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = Fraction(1, 24)
        for i in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (first_grey + 4 * i,) * 3))
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def wav(path: Path, seconds: float = 2.5, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


def mp3(path: Path, seconds: float = 2.5, rate: int = 22050) -> Path:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        for start in range(0, int(seconds * rate), 1152):
            frame = av.AudioFrame(format="s16p", layout="mono", samples=1152)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = rate, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    Image.new("RGB", (640, 360), (10, 60, 120)).save(tmp_path / "first.jpg")
    Image.new("RGB", (640, 360), (200, 120, 40)).save(tmp_path / "last.png")
    Image.new("RGB", (480, 640), (230, 190, 160)).save(tmp_path / "face.webp")
    counting_video(tmp_path / "walk.mp4", frames=60, size=(320, 256))
    wav(tmp_path / "room.wav")
    mp3(tmp_path / "theme.mp3")
    return tmp_path


def shot(**fields) -> Shot:
    fields.setdefault("id", "s01")
    fields.setdefault("model", "MiniMax-H3")
    fields.setdefault("resolution", "768P")
    fields.setdefault("duration", 6)
    return Shot(**fields)


def text(prompt: str) -> dict:
    return {"type": "text", "text": prompt}


def image(url: str, role: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


def data_of(url: str) -> tuple[str, bytes]:
    head, payload = url.split(",", 1)
    return head, base64.b64decode(payload)


# -- per mode --------------------------------------------------------------------------------------


def test_text_only_sends_its_concrete_ratio_and_callback_only_in_the_body(folder):
    s = shot(mode="text_to_video", prompt="Dusk [Push in].", ratio="21:9", aigc_watermark=False,
             callback_url="https://h.example/cb?shot=s01", notes="n", takes=2)
    assert canonical_request(s, folder) == {
        "model": "MiniMax-H3", "content": [text("Dusk [Push in].")],
        "resolution": "768P", "duration": 6, "ratio": "21:9", "aigc_watermark": False,
    }
    assert api_body(s, folder) == {**canonical_request(s, folder), "callback_url": "https://h.example/cb?shot=s01"}


def test_first_frame_is_a_role_spelt_out_and_the_ratio_is_adaptive_whatever_the_shot_says(folder):
    s = shot(mode="image_to_video", prompt="The keeper turns.", first_frame_image="first.jpg", ratio="16:9")
    canonical = canonical_request(s, folder)
    assert canonical == {
        "model": "MiniMax-H3",
        "content": [text("The keeper turns."), image(sha(folder / "first.jpg"), "first_frame")],
        "resolution": "768P", "duration": 6, "ratio": "adaptive",
    }
    # The API ignores a ratio given with frames: it must not change what the take is.
    same = shot(mode="image_to_video", prompt="The keeper turns.", first_frame_image="first.jpg")
    assert fingerprint(canonical_request(same, folder), ENDPOINT) == fingerprint(canonical, ENDPOINT)
    body = api_body(s, folder, canonical)
    head, data = data_of(body["content"][1]["image_url"]["url"])
    assert head == "data:image/jpeg;base64" and data == (folder / "first.jpg").read_bytes()
    assert body["content"][1]["role"] == "first_frame"


def test_first_and_last_frame_in_that_order_each_with_its_real_format(folder):
    (folder / "really-png.jpg").write_bytes((folder / "last.png").read_bytes())
    s = shot(mode="first_last_frame", prompt="Night to dawn.", first_frame_image="first.jpg",
             last_frame_image="really-png.jpg", resolution="2K", duration=15)
    canonical = canonical_request(s, folder)
    assert canonical["content"] == [text("Night to dawn."), image(sha(folder / "first.jpg"), "first_frame"),
                                    image(sha(folder / "last.png"), "last_frame")]
    assert (canonical["resolution"], canonical["duration"], canonical["ratio"]) == ("2K", 15, "adaptive")
    body = api_body(s, folder)
    assert [c["image_url"]["url"].split(",")[0] for c in body["content"][1:]] == [
        "data:image/jpeg;base64", "data:image/png;base64"]


def test_a_last_frame_alone_keeps_its_role(folder):
    s = shot(mode="image_to_video", prompt="Ends at the door.", last_frame_image="https://cdn.example/door.png")
    assert canonical_request(s, folder)["content"] == [
        text("Ends at the door."), image("https://cdn.example/door.png", "last_frame")]


def test_references_images_videos_and_audio_in_manifest_order_with_their_data_urls(folder):
    s = shot(mode="reference", prompt="She walks in to the theme [Tracking shot].",
             reference_images=("face.webp", "https://cdn.example/coat.png"),
             reference_videos=("walk.mp4", "mm_file://123456"),
             reference_audio=("theme.mp3", "room.wav"))
    canonical = canonical_request(s, folder)
    assert canonical == {
        "model": "MiniMax-H3",
        "content": [
            text("She walks in to the theme [Tracking shot]."),
            image(sha(folder / "face.webp"), "reference_image"),
            image("https://cdn.example/coat.png", "reference_image"),
            {"type": "video_url", "video_url": {"url": sha(folder / "walk.mp4")}, "role": "reference_video"},
            {"type": "video_url", "video_url": {"url": "mm_file://123456"}, "role": "reference_video"},
            {"type": "audio_url", "audio_url": {"url": sha(folder / "theme.mp3")}, "role": "reference_audio"},
            {"type": "audio_url", "audio_url": {"url": sha(folder / "room.wav")}, "role": "reference_audio"},
        ],
        "resolution": "768P", "duration": 6, "ratio": "adaptive",  # the default, spelt out
    }
    body = api_body(s, folder, canonical)
    urls = [item[item["type"]]["url"] for item in body["content"][1:]]
    assert [data_of(u)[0] if u.startswith("data:") else u for u in urls] == [
        "data:image/webp;base64", "https://cdn.example/coat.png", "data:video/mp4;base64", "mm_file://123456",
        "data:audio/mp3;base64", "data:audio/wav;base64"]  # audio/mp3, never audio/mpeg
    assert data_of(urls[2])[1] == (folder / "walk.mp4").read_bytes()
    assert data_of(urls[4])[1] == (folder / "theme.mp3").read_bytes()
    with_ratio = shot(mode="reference", prompt="x", reference_images=("face.webp",), ratio="9:16")
    assert canonical_request(with_ratio, folder)["ratio"] == "9:16"  # references may set a concrete one


def test_h3_max_prompt_expansion_goes_in_extra(folder):
    s = shot(mode="text_to_video", model="MiniMax-H3-Max", prompt="Rain on glass.", ratio="1:1",
             resolution="480P", duration=5, prompt_expansion="quality")
    assert canonical_request(s, folder) == {
        "model": "MiniMax-H3-Max", "content": [text("Rain on glass.")], "resolution": "480P", "duration": 5,
        "ratio": "1:1", "extra": {"prompt_expansion_mode": "quality"},
    }
    plain = shot(mode="text_to_video", model="MiniMax-H3-Max", prompt="Rain on glass.", ratio="1:1",
                 resolution="480P", duration=5)
    assert "extra" not in canonical_request(plain, folder)


# -- the fingerprint and the files behind it -----------------------------------------------------


def test_v2_fingerprints_never_change_between_versions(folder):
    """Every ledger holds fingerprints: a new way of building the v2 request would make shots pay twice."""
    s = shot(mode="reference", prompt='Waves, é \u2028 "quoted"', reference_images=("https://x.example/a.png",),
             reference_audio=("https://x.example/a.mp3",), ratio="16:9", aigc_watermark=True)
    assert canonical_request(s, folder) == {
        "model": "MiniMax-H3", "content": [
            text('Waves, é \u2028 "quoted"'), image("https://x.example/a.png", "reference_image"),
            {"type": "audio_url", "audio_url": {"url": "https://x.example/a.mp3"}, "role": "reference_audio"}],
        "resolution": "768P", "duration": 6, "ratio": "16:9", "aigc_watermark": True}
    assert fingerprint(canonical_request(s, folder), ENDPOINT) == "f0b455296d09d846"


def test_fingerprint_follows_media_content_not_its_path(folder):
    s = shot(mode="reference", prompt="x", reference_videos=("walk.mp4",))
    before = fingerprint(canonical_request(s, folder), ENDPOINT)
    (folder / "copy.mp4").write_bytes((folder / "walk.mp4").read_bytes())
    moved = shot(mode="reference", prompt="x", reference_videos=("copy.mp4",))
    assert fingerprint(canonical_request(moved, folder), ENDPOINT) == before
    counting_video(folder / "copy.mp4", frames=60, size=(320, 256), first_grey=90)
    assert fingerprint(canonical_request(moved, folder), ENDPOINT) != before


def test_a_file_changed_after_the_plan_is_not_sent(folder):
    s = shot(mode="reference", prompt="x", reference_audio=("room.wav",), reference_images=("face.webp",))
    planned = canonical_request(s, folder)
    wav(folder / "room.wav", seconds=3.0)
    with pytest.raises(InputError, match=r"reference_audio\[0\].*changed after the plan"):
        api_body(s, folder, planned)


@pytest.mark.parametrize("field, value, problem", [
    ("reference_videos", ("first.jpg",), "a JPG image; this field takes MP4, MOV video"),
    ("reference_audio", ("walk.mp4",), "an MP4 video; this field takes WAV, MP3 audio"),
    ("reference_images", ("http://x.example/a.png",), "plain http URLs are not allowed"),
    ("reference_images", ("../outside.png",), "leads outside"),
])
def test_unusable_references_raise_input_error_naming_the_field(folder, field, value, problem):
    s = shot(mode="reference", prompt="x", **{field: value})
    with pytest.raises(InputError, match=rf"field '{field}\[0\]'.*{problem}"):
        api_body(s, folder)


def test_planned_files_reads_back_what_the_canonical_request_holds(folder):
    s = shot(mode="reference", prompt="x", reference_images=("face.webp", "https://x.example/b.png"),
             reference_audio=("room.wav",))
    assert request_v2.planned_files(canonical_request(s, folder)) == {
        "reference_images[0]": sha(folder / "face.webp"), "reference_images[1]": "https://x.example/b.png",
        "reference_audio[0]": sha(folder / "room.wav")}


# -- one dispatch, v1 untouched ----------------------------------------------------------------------


def test_the_model_decides_the_dialect_and_v1_bodies_stay_v1(folder):
    v1 = Shot(id="a", mode="image_to_video", model="MiniMax-Hailuo-02", prompt="x", first_frame_image="first.jpg",
              duration=6, resolution="768P")
    assert canonical_request(v1, folder) == {"model": "MiniMax-Hailuo-02", "prompt": "x", "duration": 6,
                                             "resolution": "768P", "first_frame_image": sha(folder / "first.jpg")}
    assert api_body(v1, folder)["first_frame_image"].startswith("data:image/jpeg;base64,")
    v2 = shot(mode="image_to_video", prompt="x", first_frame_image="first.jpg")
    assert "content" in canonical_request(v2, folder) and "prompt" not in canonical_request(v2, folder)
