"""Create validation over HTTP: the catalogue's model x mode x duration x resolution rules,
prompts, subject_reference and every image rule, each refusal a 2013 that makes no task."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from pipeline.minimax.catalogue import MODELS, MODES, PROMPT_MAX_CHARS, RESOLUTION_SIZES
from pipeline.minimax.images import MAX_BYTES
from pipeline.sim.validate import MODE_LABELS

URL = "https://example.com/frame.jpg"  # URLs are taken on trust; nothing is fetched


def body_for(model: str, mode: str, **extra) -> dict:
    body = {"model": model, "prompt": "a walk on the beach"}
    if mode == "image_to_video":
        body["first_frame_image"] = URL
    elif mode == "first_last_frame":
        body.update(first_frame_image=URL, last_frame_image=URL)
    elif mode == "subject_reference":
        body["subject_reference"] = [{"type": "character", "image": [URL]}]
    return body | extra


def status(answer: dict) -> tuple[int, str]:
    return answer["base_resp"]["status_code"], answer["base_resp"]["status_msg"]


@pytest.fixture
def client(sim, api):
    return api(sim)


V1_MODELS = [name for name, m in MODELS.items() if m.api == "v1"]
V1_MODES = [mode for mode in MODES if mode not in ("reference", "image")]  # v2's and the image API's alone


@pytest.mark.parametrize("model", V1_MODELS)
@pytest.mark.parametrize("mode", V1_MODES)
def test_model_mode_matrix_follows_the_catalogue(client, sim, model, mode):
    answer = client.create(**body_for(model, mode))
    if mode in MODELS[model].options:
        assert status(answer) == (0, "success") and answer["task_id"]
    else:
        assert status(answer) == (2013, f"model {model} does not support {MODE_LABELS[mode]} mode")
        assert answer["task_id"] == ""


@pytest.mark.parametrize("model", [name for name, m in MODELS.items() if m.api == "v2"])
def test_a_v2_model_is_unknown_to_the_v1_route(client, sim, model):
    answer = client.create(**body_for(model, "text_to_video"))
    code, message = status(answer)
    assert code == 2013 and f"unknown model {model}, supported models: " in message
    assert "MiniMax-H3" not in message.split("supported models: ")[1]


def _pairs():
    for name, model in MODELS.items():
        if model.api != "v1":
            continue
        for mode in model.modes:
            for resolution in RESOLUTION_SIZES:
                for duration in (6, 10):
                    yield name, mode, resolution, duration


@pytest.mark.parametrize("model, mode, resolution, duration", list(_pairs()))
def test_duration_resolution_follow_the_catalogue(client, model, mode, resolution, duration):
    answer = client.create(**body_for(model, mode, resolution=resolution, duration=duration))
    code, message = status(answer)
    if MODELS[model].allows(mode, resolution, duration):
        assert code == 0, message
    else:
        assert code == 2013 and model in message and (resolution in message or f"{duration}s" in message)


@pytest.mark.parametrize("body, message", [
    ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "resolution": "720P"},
     "model MiniMax-Hailuo-2.3 does not support resolution 720P, supported resolutions: 768P, 1080P"),
    ({"model": "MiniMax-Hailuo-2.3-Fast", "prompt": "x"},
     "model MiniMax-Hailuo-2.3-Fast does not support Text-to-Video mode"),
    ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "duration": 10, "resolution": "1080P"},
     "model MiniMax-Hailuo-2.3 does not support the combination of duration 10s and resolution 1080P"),
    ({"prompt": "x"}, "invalid params, binding: expr_path=model, cause=missing required parameter"),
    ({"model": "MiniMax-Hailuo-02"}, "invalid params, binding: expr_path=prompt, cause=missing required parameter"),
    ({"model": "MiniMax-Hailuo-02", "prompt": "   "},
     "invalid params, binding: expr_path=prompt, cause=missing required parameter"),
])
def test_observed_error_messages(client, body, message):
    assert status(client.create(**body)) == (2013, message)


def test_defaults_are_six_seconds_at_the_models_default_resolution(client, sim):
    for model in ("MiniMax-Hailuo-02", "T2V-01"):
        assert status(client.create(model=model, prompt="x"))[0] == 0
    assert [(t["duration"], t["resolution"]) for t in sim.tasks()] == [(6, "768P"), (6, "720P")]


@pytest.mark.parametrize("model", [m for m, spec in MODELS.items() if spec.api == "v1" and not spec.sends_duration_resolution])
def test_models_that_take_no_duration_resolution_accept_absent_or_an_allowed_pair(client, model):
    mode = MODELS[model].modes[0]
    assert status(client.create(**body_for(model, mode)))[0] == 0
    resolution, durations = next(iter(MODELS[model].options[mode].items()))
    assert status(client.create(**body_for(model, mode, resolution=resolution, duration=durations[0])))[0] == 0
    assert status(client.create(**body_for(model, mode, resolution="512P", duration=6)))[0] == 2013


def test_unknown_model(client, sim):
    code, message = status(client.create(model="Hailuo-9", prompt="x"))
    assert code == 2013 and "Hailuo-9" in message and "MiniMax-Hailuo-02" in message
    assert sim.tasks() == []


def test_prompt_limit_counts_camera_brackets(client):
    bracket = "[Push in]"
    at_limit = "a" * (PROMPT_MAX_CHARS - len(bracket)) + bracket
    assert len(at_limit) == 2000
    assert status(client.create(model="MiniMax-Hailuo-02", prompt=at_limit))[0] == 0
    code, message = status(client.create(model="MiniMax-Hailuo-02", prompt=at_limit + "b"))
    assert code == 2013 and "2001" in message and "2000" in message


def test_prompt_counts_characters_not_bytes(client):
    assert status(client.create(model="MiniMax-Hailuo-02", prompt="灯" * 2000))[0] == 0


def test_prompt_optional_for_image_modes(client):
    assert status(client.create(model="MiniMax-Hailuo-02", first_frame_image=URL))[0] == 0
    assert status(client.create(model="S2V-01", subject_reference=[{"type": "character", "image": [URL]}]))[0] == 0


@pytest.mark.parametrize("field, value, expected", [
    ("prompt", 5, "string"),
    ("model", ["MiniMax-Hailuo-02"], "string"),
    ("prompt_optimizer", "false", "boolean"),
    ("fast_pretreatment", 1, "boolean"),
    ("aigc_watermark", "yes", "boolean"),
    ("duration", "6", "integer"),
    ("duration", 6.0, "integer"),
    ("duration", True, "integer"),
    ("resolution", 768, "string"),
    ("first_frame_image", 3, "string"),
    ("callback_url", {}, "string"),
])
def test_field_types(client, field, value, expected):
    body = {"model": "MiniMax-Hailuo-02", "prompt": "x", field: value}
    code, message = status(client.create(**body))
    assert code == 2013 and f"expr_path={field}" in message and expected in message


def test_booleans_accepted(client):
    assert status(client.create(model="MiniMax-Hailuo-02", prompt="x", prompt_optimizer=False,
                                fast_pretreatment=True, aigc_watermark=False))[0] == 0


@pytest.mark.parametrize("raw, fragment", [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"text"', "JSON object"),
    (b"", "not valid JSON"),
    (b"\xff\xfe{}", "JSON"),
])
def test_body_must_be_a_json_object(client, sim, raw, fragment):
    answer = client.http.post("/v1/video_generation", content=raw, headers={"Content-Type": "application/json"}).json()
    code, message = status(answer)
    assert code == 2013 and fragment in message and answer["task_id"] == ""
    assert sim.tasks() == []


@pytest.mark.parametrize("subject, fragment", [
    ([], "exactly one subject"),
    ([{"type": "character", "image": [URL]}] * 2, "exactly one subject"),
    ({"type": "character", "image": [URL]}, "exactly one subject"),
    (["x"], "must be an object"),
    ([{"type": "object", "image": [URL]}], '"character"'),
    ([{"image": [URL]}], '"character"'),
    ([{"type": "character", "image": URL}], "exactly one image"),
    ([{"type": "character", "image": []}], "exactly one image"),
    ([{"type": "character", "image": [URL, URL]}], "exactly one image"),
    ([{"type": "character", "image": ["ftp://x/y.jpg"]}], "http(s) URL or a Base64 data URL"),
])
def test_subject_reference_shape(client, sim, subject, fragment):
    code, message = status(client.create(model="S2V-01", prompt="x", subject_reference=subject))
    assert code == 2013 and fragment in message, message
    assert sim.tasks() == []


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize("field", ["first_frame_image", "last_frame_image", "subject"])
@pytest.mark.parametrize("width, height, fmt, ok, fragment", [
    (640, 360, "PNG", True, ""),
    (640, 360, "JPEG", True, ""),
    (640, 360, "WEBP", True, ""),
    (640, 360, "GIF", False, "not a JPG, PNG or WebP"),
    (640, 360, "BMP", False, "not a JPG, PNG or WebP"),
    (300, 500, "PNG", False, "short side must be over 300"),
    (301, 500, "PNG", True, ""),
    (1000, 400, "PNG", True, ""),  # 5:2 exactly is allowed
    (400, 1000, "PNG", True, ""),  # 2:5 exactly is allowed
    (1003, 400, "PNG", False, "aspect ratio"),
    (400, 1003, "PNG", False, "aspect ratio"),
], ids=["png", "jpeg", "webp", "gif", "bmp", "300px", "301px", "5:2", "2:5", "wider", "taller"])
def test_image_rules(client, sim, field, width, height, fmt, ok, fragment):
    url = _data_url(_encoded(Image.new("RGB", (width, height), "gray"), fmt), "image/jpeg")  # MIME not trusted
    if field == "subject":
        body = {"model": "S2V-01", "subject_reference": [{"type": "character", "image": [url]}]}
        name = "subject_reference[0].image[0]"
    elif field == "last_frame_image":
        body = {"model": "MiniMax-Hailuo-02", "first_frame_image": URL, "last_frame_image": url}
        name = field
    else:
        body = {"model": "MiniMax-Hailuo-02", field: url}
        name = field
    code, message = status(client.create(**body))
    if ok:
        assert code == 0, message
    else:
        assert code == 2013 and message.startswith(f"invalid params, {name}: ") and fragment in message, message
        assert sim.tasks() == []


def test_image_must_be_a_url_or_data_url(client):
    for value in ("frame.jpg", "ftp://x/y.jpg", "data:text/plain;base64,aGVsbG8=", "data:image/png;base64,!!!"):
        code, message = status(client.create(model="MiniMax-Hailuo-02", first_frame_image=value))
        assert code == 2013 and "first_frame_image" in message, value


def test_image_size_limit_just_under_and_at_20_mb(client):
    small = _encoded(Image.new("RGB", (640, 360), "gray"), "JPEG")
    under = small + b"\0" * (MAX_BYTES - 1 - len(small))  # trailing bytes after the JPEG end marker
    assert status(client.create(model="MiniMax-Hailuo-02", first_frame_image=_data_url(under)))[0] == 0
    at = under + b"\0"
    code, message = status(client.create(model="MiniMax-Hailuo-02", first_frame_image=_data_url(at)))
    assert code == 2013 and "under 20 MB" in message


def test_fields_of_other_modes_are_ignored(client, sim):
    """subject_reference decides the mode; a stray first_frame_image is not part of it."""
    answer = client.create(model="S2V-01", first_frame_image="not an image",
                           subject_reference=[{"type": "character", "image": [URL]}])
    assert status(answer)[0] == 0 and sim.tasks()[0]["mode"] == "subject_reference"


def test_null_fields_count_as_absent(client, sim):
    answer = client.create(model="MiniMax-Hailuo-02", prompt="x", first_frame_image=None, duration=None)
    assert status(answer)[0] == 0 and sim.tasks()[0]["mode"] == "text_to_video"


def test_sensitive_word_gives_1026_and_no_task(sim_factory, api):
    sim = sim_factory(sensitive_words=("Forbidden",))
    client = api(sim)
    answer = client.create(model="MiniMax-Hailuo-02", prompt="a FORBIDDEN door")
    assert answer == {"task_id": "", "base_resp": {"status_code": 1026, "status_msg": "input new_sensitive"}}
    assert sim.tasks() == [] and status(client.create(model="MiniMax-Hailuo-02", prompt="a door"))[0] == 0


def test_image_with_too_many_pixels_is_refused_not_crashed(client):
    """A PNG header claiming 20000x20000 (400 MP) is tiny but would not decode safely."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 20001)) + chunk(b"IEND", b""))
    code, message = status(client.create(model="MiniMax-Hailuo-02", first_frame_image=_data_url(bomb)))
    assert code == 2013 and "too many pixels" in message
