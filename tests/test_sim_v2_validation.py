"""v2 create validation over loopback HTTP: each rule of minimax-api-v2.md A4 (and A3's field rules),
one test or one parametrized table each, the answer's exact status, type and code, and no task made.
"""

from __future__ import annotations

import json
import socket
import struct
import zlib

import pytest
from v2api import (PREVIZ_SIDE, V2, Clock, audio_item, clients, data_uri, encoded_audio, error_of, finish_all,  # noqa: F401
                   heic, image_item, picture, png_uri, text, v2sim, video, video_item, wav, with_media)

from pipeline.sim import SimConfig, Simulator, v2media
from pipeline.sim.v2config import V2Config

OFFICIAL_NO_TEXT = "invalid params, content must include a non-empty text item (prompt is required) (2013)"
URL = "https://cdn.example.invalid/media/{}"


class Counting:
    """A V2 client that notes how many tasks the simulator holds before each create."""

    def __init__(self, sim: Simulator, client: V2) -> None:
        self.sim, self.client, self.before = sim, client, 0

    def create(self, body: dict):
        self.before = len(self.sim.v2_tasks())
        return self.client.create(body)

    def __getattr__(self, name: str):
        return getattr(self.client, name)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One simulator for the tests that only look at create answers (a refused create adds no task)."""
    sim = Simulator(SimConfig(time_scale=1.0, render_width=PREVIZ_SIDE,
                              render_cache_dir=tmp_path_factory.mktemp("v2-validation")), now=Clock()).start()
    yield sim
    sim.stop()


@pytest.fixture
def client(shared):
    c = Counting(shared, V2(shared.base_url))
    yield c
    c.http.close()


@pytest.fixture
def own(v2sim, clients):
    """own(v2=V2Config(...), **SimConfig) -> (Counting client, clock) on a simulator of its own."""
    def make(**kwargs):
        sim, clock = v2sim(**kwargs)
        return Counting(sim, clients(sim)), clock

    return make


def refused(client: Counting, answer, fragment: str, status: int = 400, kind: str = "bad_request_error",
            code: int = 2013) -> None:
    got = error_of(answer)
    assert got[:3] == (status, kind, code), got
    assert fragment in got[3], got
    assert got[3].startswith("invalid params, ") or status != 400
    assert len(client.sim.v2_tasks()) == client.before  # a 4xx means no task was created (A6)


def accepted(answer) -> str:
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"task_id"}
    return answer.json()["task_id"]


def png_header(width: int, height: int) -> bytes:
    """A PNG of any size as far as its header goes (the rules read only the header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


# --- rule 1: one non-empty text item, at most 7000 characters -------------------------------------

@pytest.mark.parametrize("content", [
    [],
    [{"type": "text", "text": ""}],
    [{"type": "text", "text": "   "}],
    [{"type": "text"}],
    [{"type": "image_url", "image_url": {"url": URL.format("a.png")}, "role": "first_frame"}],
])
def test_rule_1_a_non_empty_text_item_is_required_with_the_official_message(client, content):
    answer = client.create({**text(), "content": content})
    refused(client, answer, "content must include a non-empty text item")
    assert answer.json()["error"]["message"] == OFFICIAL_NO_TEXT


def test_rule_1_prompt_limit_is_7000_characters_not_bytes(client):
    accepted(client.create(text("é" * 7000)))  # 14000 bytes
    answer = client.create(text("x" * 7001))
    got = error_of(answer)
    assert got[:3] == (400, "bad_request_error", 2013)
    assert "the text item is 7001 characters long, the limit is 7000" in got[3]
    assert len(client.sim.v2_tasks()) == client.before


def test_rule_1_exactly_one_text_item_and_no_role_on_it(client):
    two = {**text(), "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    refused(client, client.create(two), "exactly one text item")
    roled = {**text(), "content": [{"type": "text", "text": "a", "role": "first_frame"}]}
    refused(client, client.create(roled), "a text item takes no role")


# --- rules 2-5: roles -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["first_frame", "last_frame"])
def test_rule_2_at_most_one_of_each_frame(client, role):
    body = with_media(image_item(URL.format("1.png"), role), image_item(URL.format("2.png"), role))
    refused(client, client.create(body), f"at most one {role} is allowed")


@pytest.mark.parametrize("reference", [
    image_item(URL.format("r.png"), "reference_image"), video_item(URL.format("r.mp4"))])
def test_rule_3_frames_and_references_never_mix(client, reference):
    body = with_media(image_item(URL.format("f.png"), "first_frame"), reference)
    refused(client, client.create(body), "cannot be mixed")


@pytest.mark.parametrize("images, videos, audios, fragment", [
    (10, 0, 0, "at most 9 reference_image items are allowed, not 10"),
    (1, 4, 0, "at most 3 reference_video items are allowed, not 4"),
    (1, 0, 4, "at most 3 reference_audio items are allowed, not 4"),
    (9, 3, 1, "at most 12 reference files are allowed in total, not 13"),
    (9, 3, 0, None),
    (6, 3, 3, None),
])
def test_rule_4_reference_caps(client, images, videos, audios, fragment):
    items = [image_item(URL.format(f"{n}.png"), "reference_image") for n in range(images)]
    items += [video_item(URL.format(f"{n}.mp4")) for n in range(videos)]
    items += [audio_item(URL.format(f"{n}.wav")) for n in range(audios)]
    answer = client.create(with_media(*items))
    if fragment is None:
        accepted(answer)
    else:
        refused(client, answer, fragment)


def test_rule_5_reference_audio_needs_an_image_or_video_reference(client):
    refused(client, client.create(with_media(audio_item(URL.format("a.wav")))),
            "reference_audio needs at least one reference_image or reference_video")
    accepted(client.create(with_media(audio_item(URL.format("a.wav")), video_item(URL.format("v.mp4")))))
    accepted(client.create(with_media(audio_item(URL.format("a.wav")),
                                      image_item(URL.format("i.png"), "reference_image"))))


# --- rule 6: text-only needs a concrete ratio ------------------------------------------------------

@pytest.mark.parametrize("ratio", [None, "adaptive"])
def test_rule_6_text_only_needs_a_concrete_ratio(client, ratio):
    body = text()
    if ratio is None:
        del body["ratio"]
    else:
        body["ratio"] = ratio
    refused(client, client.create(body), "text-to-video needs a concrete ratio")


@pytest.mark.parametrize("ratio", ["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"])
def test_rule_6_every_concrete_ratio_is_taken_and_reported(client, ratio):
    task_id = accepted(client.create(text(ratio=ratio)))
    assert client.task(task_id)["ratio"] == ratio


def test_an_unlisted_ratio_is_refused_even_with_frames(client):
    refused(client, client.create(text(ratio="5:4")), "ratio 5:4 is not supported")
    body = with_media(image_item(URL.format("f.png")), ratio="2:1")
    refused(client, client.create(body), "ratio 2:1 is not supported")


# --- rule 7: model x resolution x duration ---------------------------------------------------------

ALLOWED = {"MiniMax-H3": ({"768P", "2K"}, range(4, 16)), "MiniMax-H3-Max": ({"480P", "768P"}, range(5, 16))}


@pytest.mark.parametrize("model", list(ALLOWED))
@pytest.mark.parametrize("resolution", ["480P", "768P", "2K", "1080P"])
@pytest.mark.parametrize("duration", [3, 4, 5, 10, 15, 16])
def test_rule_7_model_resolution_duration(client, model, resolution, duration):
    answer = client.create(text(model=model, resolution=resolution, duration=duration))
    resolutions, durations = ALLOWED[model]
    if resolution not in resolutions:
        refused(client, answer, f"model {model} does not support resolution {resolution}")
    elif duration not in durations:
        refused(client, answer, f"model {model} does not support duration {duration}s")
    else:
        task = client.task(accepted(answer))
        assert (task["model"], task["resolution"], task["duration"]) == (model, resolution, duration)


@pytest.mark.parametrize("field", ["model", "content", "resolution", "duration"])
def test_required_fields(client, field):
    body = text()
    del body[field]
    refused(client, client.create(body), f"{field} is required")


@pytest.mark.parametrize("field, value, fragment", [
    ("duration", "6", "duration must be an integer"),
    ("duration", 6.0, "duration must be an integer"),
    ("duration", True, "duration must be an integer"),
    ("resolution", 768, "resolution must be a string"),
    ("ratio", 1.5, "ratio must be a string"),
    ("content", {"type": "text"}, "content must be an array"),
    ("model", "MiniMax-Hailuo-02", "unknown model MiniMax-Hailuo-02"),
    ("aigc_watermark", "no", "aigc_watermark must be a boolean"),
    ("callback_url", "ftp://x/cb", "callback_url must be an http(s) URL"),
])
def test_field_types(client, field, value, fragment):
    refused(client, client.create(text(**{field: value})), fragment)


def test_optional_fields_accepted(client):
    accepted(client.create(text(aigc_watermark=True, callback_url="https://cb.example.invalid/cb?shot=s02")))


@pytest.mark.parametrize("raw, fragment", [
    (b"not json", "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object"),
    (b'{"model": "\xff"}', "not UTF-8 JSON"),
], ids=["text", "array", "latin1"])
def test_body_must_be_a_json_object(client, raw, fragment):
    client.before = len(client.sim.v2_tasks())
    answer = client.http.post("/v2/video_generation", content=raw, headers={"Content-Type": "application/json"})
    refused(client, answer, fragment)


# --- content items ---------------------------------------------------------------------------------

@pytest.mark.parametrize("item, fragment", [
    ("text", "content[1] must be an object"),
    ({"type": "link_url", "link_url": {"url": "x"}}, "content[1].type 'link_url' is not one of"),
    ({"type": "image_url", "url": URL.format("a.png"), "role": "first_frame"}, 'content[1] needs "image_url"'),
    ({"type": "image_url", "image_url": {"url": URL.format("a.png")}, "role": "subject"}, "role 'subject' is not allowed"),
    ({"type": "video_url", "video_url": {"url": URL.format("a.mp4")}, "role": "base_video"}, "video_regeneration only"),
    ({"type": "audio_url", "audio_url": {"url": URL.format("a.wav")}, "role": "reference_video"}, "not allowed on audio_url"),
    (image_item("ftp://x/a.png"), "must be a public http(s) URL, mm_file://{file_id} or a Base64 data URI"),
    (image_item("mm_file://abc"), "mm_file:// needs a numeric file_id"),
    (image_item("data:image/png;base64,@@@"), "not valid Base64"),
    (image_item("data:image/PNG;base64," + png_uri()[22:]), "must be lower case"),
    (image_item("data:image/gif;base64,R0lGOD=="), "data:image/gif is not accepted"),
    (image_item("data:video/mp4;base64,AAAA"), "where data:image/... was expected"),
])
def test_content_item_shapes(client, item, fragment):
    refused(client, client.create(with_media(item)), fragment)


def test_url_forms_accepted(client):
    for url in (URL.format("a.png"), "http://cdn.example.invalid/a.png", "mm_file://123456", png_uri()):
        accepted(client.create(with_media(image_item(url))))


def test_a_single_image_without_a_role_is_the_first_frame(client):
    task = client.task(accepted(client.create(with_media(image_item(png_uri(600, 800), role=None), ratio="16:9"))))
    assert task["ratio"] == "3:4"  # frames force adaptive: the image's ratio wins


def test_several_images_without_roles_are_refused(client):
    body = with_media(image_item(URL.format("1.png"), None), image_item(URL.format("2.png"), None))
    refused(client, client.create(body), "every image needs a role")


# --- ratio rules (A3) ------------------------------------------------------------------------------

@pytest.mark.parametrize("size, role, expected", [
    ((600, 800), "first_frame", "3:4"),
    ((1280, 720), "first_frame", "16:9"),
    ((800, 800), "last_frame", "1:1"),
    ((2100, 900), "first_frame", "21:9"),
])
def test_frames_make_the_ratio_adaptive_silently(client, size, role, expected):
    task_id = accepted(client.create(with_media(image_item(png_uri(*size), role), ratio="9:16")))
    assert client.task(task_id)["ratio"] == expected


def test_a_frame_behind_a_url_reports_a_concrete_ratio(client):
    task_id = accepted(client.create(with_media(image_item(URL.format("f.png")))))
    assert client.task(task_id)["ratio"] in ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")


def test_references_keep_a_concrete_ratio_or_take_the_images(client):
    ref = image_item(png_uri(600, 800), "reference_image")
    assert client.task(accepted(client.create(with_media(ref, ratio="21:9"))))["ratio"] == "21:9"
    assert client.task(accepted(client.create(with_media(ref))))["ratio"] == "3:4"
    assert client.task(accepted(client.create(with_media(ref, ratio="adaptive"))))["ratio"] == "3:4"


# --- open points as switches -----------------------------------------------------------------------

def test_h3_max_references_refused_by_default_and_allowed_by_the_switch(client, own):
    body = with_media(image_item(URL.format("r.png"), "reference_image"), model="MiniMax-H3-Max")
    refused(client, client.create(body), "model MiniMax-H3-Max does not support reference_image")
    allowing, _ = own(v2=V2Config(max_references=True))
    accepted(allowing.create(body))


def test_h3_max_takes_frames_without_the_switch(client):
    accepted(client.create(with_media(image_item(URL.format("f.png")), model="MiniMax-H3-Max")))


def test_last_frame_alone_allowed_by_default_and_refused_by_the_switch(client, own):
    body = with_media(image_item(png_uri(800, 800), "last_frame"))
    assert client.task(accepted(client.create(body)))["ratio"] == "1:1"
    strict, _ = own(v2=V2Config(last_frame_alone=False))
    refused(strict, strict.create(body), "last_frame must be paired with first_frame")


@pytest.mark.parametrize("model, extra, fragment", [
    ("MiniMax-H3-Max", {"prompt_expansion_mode": "quality"}, None),
    ("MiniMax-H3-Max", {"prompt_expansion_mode": "disabled"}, None),
    ("MiniMax-H3-Max", {}, None),
    ("MiniMax-H3", {"prompt_expansion_mode": "balanced"}, "extra is not supported by model MiniMax-H3"),
    ("MiniMax-H3-Max", {"prompt_expansion_mode": "balance"}, "must be one of disabled, balanced, quality"),
    ("MiniMax-H3-Max", {"prompt_expansion_mode": ""}, "must be one of"),
    ("MiniMax-H3-Max", {"prompt_expansion_mode": True}, "must be one of"),
    ("MiniMax-H3-Max", {"seed": 1}, "extra takes only prompt_expansion_mode, not seed"),
    ("MiniMax-H3-Max", "quality", "extra must be an object"),
])
def test_extra_prompt_expansion_mode(client, model, extra, fragment):
    answer = client.create(text(model=model, extra=extra))
    if fragment is None:
        accepted(answer)
    else:
        refused(client, answer, fragment)


# --- rule 8: images --------------------------------------------------------------------------------

@pytest.mark.parametrize("mime, data", [
    ("image/png", picture(640, 360, "PNG")),
    ("image/jpeg", picture(640, 360, "JPEG")),
    ("image/jpg", picture(640, 360, "JPEG")),
    ("image/webp", picture(640, 360, "WEBP")),
    ("image/heic", heic(1200, 900)),
    ("image/heif", heic(900, 1200)),
], ids=["png", "jpeg", "jpg", "webp", "heic", "heif"])
def test_rule_8_image_formats(client, mime, data):
    accepted(client.create(with_media(image_item(data_uri(mime, data)))))


@pytest.mark.parametrize("data, fragment", [
    (picture(640, 360, "GIF"), "not a JPG, JPEG, PNG, WEBP, HEIC or HEIF image"),
    (png_header(255, 400), "image is 255x400; each side must be 256 to 5760 px"),
    (png_header(400, 255), "each side must be 256 to 5760 px"),
    (png_header(5761, 3000), "image is 5761x3000; each side must be 256 to 5760 px"),
    (png_header(256, 641), "w/h 0.40); w/h must be 0.4 to 2.5"),
    (png_header(641, 256), "w/h 2.50); w/h must be 0.4 to 2.5"),
    (heic(900, 300), "w/h 3.00"),
], ids=["gif", "narrow", "short", "huge", "tall", "wide", "heic-wide"])
def test_rule_8_image_rules(client, data, fragment):
    refused(client, client.create(with_media(image_item(data_uri("image/png", data)))), fragment)


@pytest.mark.parametrize("width, height", [(256, 256), (5760, 5760), (256, 640), (640, 256)])
def test_rule_8_image_bounds_are_inclusive(client, width, height):
    accepted(client.create(with_media(image_item(data_uri("image/png", png_header(width, height)), "reference_image"),
                                      ratio="16:9")))


def test_rule_8_images_at_most_30_mb(client):
    big = picture(640, 360) + bytes(30 * 1024 * 1024)
    refused(client, client.create(with_media(image_item(data_uri("image/png", big)))),
            "image is 30.0 MB; images may be at most 30 MB")
    assert v2media.image(picture(640, 360) + bytes(30 * 1024 * 1024 - len(picture(640, 360)))).width == 640


# --- rule 9: reference videos ----------------------------------------------------------------------

def ref_video(data: bytes, mime: str = "video/mp4") -> dict:
    return video_item(data_uri(mime, data))


def with_video(*videos: dict) -> dict:
    return with_media(*videos, ratio="16:9")


@pytest.mark.parametrize("kwargs, mime", [
    ({}, "video/mp4"),
    ({"codec": "libx265"}, "video/mp4"),
    ({"container": "mov"}, "video/quicktime"),
    ({"audio_codec": "mp3"}, "video/mp4"),
    ({"audio_codec": None}, "video/mp4"),
    ({"fps": 24000 / 1001}, "video/mp4"),
    ({"fps": 60}, "video/mp4"),
])
def test_rule_9_reference_videos_accepted(client, kwargs, mime):
    accepted(client.create(with_video(ref_video(video(**kwargs), mime))))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"container": "matroska"}, "not MP4 or MOV"),
    ({"codec": "mpeg4"}, "coded mpeg4; H.264 or H.265 only"),
    ({"audio_codec": "libopus"}, "audio is opus; AAC or MP3 only"),
    ({"seconds": 1.5}, "1.50 s long; each must be 2 to 15 s"),
    ({"seconds": 16, "audio_codec": None}, "16.00 s long; each must be 2 to 15 s"),
    ({"width": 240}, "240x256; each side must be 256 to 5760 px"),
    ({"width": 256, "height": 656}, "w/h must be 0.4 to 2.5"),
    ({"fps": 20}, "20.000 fps; 23.976 to 60 fps are accepted"),
])
def test_rule_9_reference_video_rules(client, kwargs, fragment):
    refused(client, client.create(with_video(ref_video(video(**kwargs)))), fragment)


def test_rule_9_reference_videos_total_at_most_15_seconds(client):
    eight = ref_video(video(seconds=8, audio_codec=None))
    refused(client, client.create(with_video(eight, eight)), "reference videos last 16.00 s in total; at most 15 s")
    accepted(client.create(with_video(eight, ref_video(video(seconds=7, audio_codec=None)))))


def test_rule_9_not_a_video_at_all(client):
    refused(client, client.create(with_video(ref_video(b"\0\0\0\x18ftypisom" + bytes(64)))), "not a readable MP4/MOV")


def test_rule_9_videos_at_most_50_mb_checked_before_anything_else():
    """Over HTTP a 50 MB video cannot arrive as a data URI: its Base64 (66.7 MB) breaks rule 11
    first. The rule is still there for the bytes, and checked before any probing."""
    with pytest.raises(v2media.MediaError, match="reference video is 50.0 MB; videos may be at most 50 MB"):
        v2media.video(bytes(50 * 1024 * 1024 + 1))


# --- rule 10: reference audio ----------------------------------------------------------------------

def with_audio(*audios: dict) -> dict:
    return with_media(image_item(URL.format("r.png"), "reference_image"), *audios, ratio="16:9")


@pytest.mark.parametrize("mime, data", [
    ("audio/wav", wav(3)),
    ("audio/x-wav", wav(2)),
    ("audio/mp3", encoded_audio(3)),
], ids=["wav", "x-wav", "mp3"])
def test_rule_10_reference_audio_accepted(client, mime, data):
    accepted(client.create(with_audio(audio_item(data_uri(mime, data)))))


@pytest.mark.parametrize("mime, data, fragment", [
    ("audio/wav", encoded_audio(3, "ogg", "libopus"), "not WAV or MP3"),
    ("audio/wav", wav(1.5), "1.50 s long; each must be 2 to 15 s"),
    ("audio/wav", wav(15.5), "15.50 s long; each must be 2 to 15 s"),
    ("audio/wav", b"RIFF\0\0\0\0WAVE" + bytes(15 * 1024 * 1024), "15.0 MB; audio may be at most 15 MB"),
    ("audio/mpeg", encoded_audio(3), "data:audio/mpeg is not accepted; send MP3 as data:audio/mp3"),
    ("audio/ogg", encoded_audio(3, "ogg", "libopus"), "data:audio/ogg is not accepted"),
], ids=["opus", "short", "long", "big", "mpeg", "ogg"])
def test_rule_10_reference_audio_rules(client, mime, data, fragment):
    refused(client, client.create(with_audio(audio_item(data_uri(mime, data)))), fragment)


def test_rule_10_reference_audio_total_at_most_15_seconds(client):
    eight = audio_item(data_uri("audio/wav", wav(8)))
    refused(client, client.create(with_audio(eight, eight)), "reference audios last 16.00 s in total; at most 15 s")
    accepted(client.create(with_audio(eight, audio_item(data_uri("audio/wav", wav(7))))))


# --- rule 11: the whole body ------------------------------------------------------------------------

def test_rule_11_a_body_over_64_mb_is_refused_before_it_is_read(shared):
    """Only the headers are sent: the simulator refuses on Content-Length alone and closes."""
    sim, before = shared, len(shared.v2_tasks())
    host, port = sim.base_url.removeprefix("http://").split(":")
    request = (f"POST /v2/video_generation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sim-key\r\n"
               f"Content-Type: application/json\r\nContent-Length: {64 * 1024 * 1024 + 1}\r\n\r\n").encode()
    received = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    answer = json.loads(body)
    assert answer["error"]["type"] == "bad_request_error" and answer["error"]["http_code"] == "400"
    assert answer["error"]["message"].endswith("(2013)") and "64 MB" in answer["error"]["message"]
    assert len(sim.v2_tasks()) == before


def test_rule_11_v1_keeps_its_own_limit_and_answer(shared):
    sim = shared
    host, port = sim.base_url.removeprefix("http://").split(":")
    request = (f"POST /v1/video_generation HTTP/1.1\r\nHost: x\r\nContent-Length: {32 * 1024 * 1024 + 1}"
               f"\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 413 ") and b'"status_code": 2013' in received


# --- rule 12: sensitive content --------------------------------------------------------------------

def test_rule_12_a_sensitive_prompt_is_422_1026_and_no_task(own):
    client, _ = own(sensitive_words=("forbidden",))
    answer = client.create(text("A FORBIDDEN harbour"))
    refused(client, answer, "video description contains sensitive content", 422, "unprocessable_entity_error", 1026)
    assert answer.json()["error"]["message"] == "video description contains sensitive content (1026)"


# --- open point (d): where media checks happen -----------------------------------------------------

def test_bad_data_uri_media_fails_the_task_with_the_task_switch(own):
    client, clock = own(v2=V2Config(media_checks="task"))
    task_id = accepted(client.create(with_media(image_item(data_uri("image/png", png_header(100, 100))))))
    assert client.task(task_id)["status"] == "queued"
    finish_all(clock)
    task = client.task(task_id)
    assert task["status"] == "failed" and task["usage"] == {} and "content" not in task
    assert task["error"]["code"] == "2013" and "image is 100x100" in task["error"]["message"]


def test_media_behind_a_url_is_never_fetched_and_a_marked_one_fails_in_the_task(own):
    client, clock = own()
    good = accepted(client.create(with_media(image_item(URL.format("fine.png")))))
    bad = accepted(client.create(with_media(image_item(URL.format("sim-bad-media.png")))))
    finish_all(clock)
    assert client.task(good)["status"] == "succeeded"
    task = client.task(bad)
    assert task["status"] == "failed" and task["usage"] == {} and task["error"]["code"] == "2013"
    assert "content[1].image_url.url" in task["error"]["message"]
