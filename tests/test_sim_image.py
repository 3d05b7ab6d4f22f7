"""The simulator's POST /v1/image_generation over loopback HTTP, read by a client written from
the notes (imageapi.py): sizes, validation, n and failed_count, seeds and takes, URLs that
expire after 24 h of simulated time, the 10 RPM limit, the counts' type, faults, and keys."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from imageapi import ImageApi, body, data_url, picture, read
from pipeline.minimax import imagespec
from pipeline.sim import SimConfig, Simulator
from pipeline.sim.imageconfig import ImageConfig

T0 = 1_785_000_000.0


class Clock:
    """Simulated time that moves only when the test says."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def isim(tmp_path):
    """isim(image=ImageConfig(...), **SimConfig overrides) -> (Simulator, Clock, ImageApi), on a
    clock the test moves; stopped and closed after the test."""
    made: list[tuple[Simulator, ImageApi]] = []

    def make(image: ImageConfig | None = None, key: str | None = "sim-key", **overrides):
        clock = Clock()
        overrides.setdefault("time_scale", 1.0)
        overrides.setdefault("render_cache_dir", tmp_path / f"renders-{len(made)}")
        sim = Simulator(SimConfig(image=image or ImageConfig(), **overrides), now=clock).start()
        client = ImageApi(sim.base_url, key)
        made.append((sim, client))
        return sim, clock, client

    yield make
    for sim, client in made:
        client.close()
        sim.stop()


def png(width: int, height: int, colour=(200, 40, 160)) -> bytes:
    img = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(img).ellipse([width // 3, height // 4, 2 * width // 3, height // 2], fill="white")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 60)).save(buf, "JPEG")
    return buf.getvalue()


def webp(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 60)).save(buf, "WEBP")
    return buf.getvalue()


def hinted(shot: str, take: int) -> dict[str, str]:
    return {"X-Shots-Shot": shot, "X-Shots-Take": str(take)}


def mean_diff(a: bytes, b: bytes) -> float:
    return ImageStat.Stat(ImageChops.difference(picture(a).convert("L"), picture(b).convert("L"))).mean[0]


# --- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio, size", [
    ("1:1", (1024, 1024)), ("16:9", (1280, 720)), ("4:3", (1152, 864)), ("3:2", (1248, 832)),
    ("2:3", (832, 1248)), ("3:4", (864, 1152)), ("9:16", (720, 1280)), ("21:9", (1344, 576)),
])
def test_each_aspect_ratio_makes_a_jpeg_of_its_size(isim, ratio, size):
    _, _, api = isim()
    answer = api.generate(body(aspect_ratio=ratio, response_format="base64"))
    assert answer.http_status == 200 and answer.ok, answer.raw
    [data] = api.images(answer)
    img = picture(data)
    assert img.format == "JPEG" and img.size == size


def test_the_default_is_a_square_by_url(isim):
    _, _, api = isim()
    answer = api.generate(body())
    assert answer.ok and len(answer.urls) == 1 and not answer.base64
    assert answer.urls[0].split("?")[0].endswith("_aigc.jpeg")
    assert picture(api.images(answer)[0]).size == (1024, 1024)
    assert len(answer.id) == 32 and answer.raw["base_resp"] == {"status_code": 0, "status_msg": "success"}


def test_width_and_height_set_the_size(isim):
    _, _, api = isim()
    answer = api.generate(body(width=1536, height=512, response_format="base64"))
    assert picture(api.images(answer)[0]).size == (1536, 512)


@pytest.mark.parametrize("precedence, size", [("aspect_ratio", (1280, 720)), ("width_height", (512, 768))])
def test_with_both_the_switch_says_which_sets_the_size(isim, precedence, size):
    _, _, api = isim(image=ImageConfig(precedence=precedence))
    answer = api.generate(body(aspect_ratio="16:9", width=512, height=768, response_format="base64"))
    assert picture(api.images(answer)[0]).size == size


# --- validation ---------------------------------------------------------------------------------

BIG = b"\xff\xd8\xff" + b"\0" * (imagespec.SUBJECT_MAX_BYTES - 3)  # 10 MB exactly: not under


def subject(image_file, **over) -> dict:
    return {"subject_reference": [{"type": "character", "image_file": image_file, **over}]}


@pytest.mark.parametrize("fields, words", [
    ({"model": None}, "expr_path=model, cause=missing required parameter"),
    ({"model": 1}, "expr_path=model, cause=expected string"),
    ({"model": "image-02"}, "unknown model image-02, supported models: image-01, image-01-live"),
    ({"prompt": None}, "expr_path=prompt, cause=missing required parameter"),
    ({"prompt": "   "}, "expr_path=prompt, cause=missing required parameter"),
    ({"prompt": "x" * 1501}, "prompt is 1501 characters long, the limit is 1500"),
    ({"aspect_ratio": "5:4"}, "aspect_ratio must be one of 1:1, 16:9"),
    ({"aspect_ratio": 1.5}, "expr_path=aspect_ratio, cause=expected string"),
    ({"model": "image-01-live", "aspect_ratio": "21:9"}, "aspect_ratio 21:9 is supported by image-01 only"),
    ({"width": 1024}, "width and height must be given together"),
    ({"height": 1024}, "width and height must be given together"),
    ({"width": 1020, "height": 1024}, "width must be from 512 to 2048 and a multiple of 8, not 1020"),
    ({"width": 504, "height": 1024}, "width must be from 512 to 2048"),
    ({"width": 1024, "height": 2056}, "height must be from 512 to 2048"),
    ({"width": "1024", "height": 1024}, "expr_path=width, cause=expected integer"),
    ({"model": "image-01-live", "width": 1024, "height": 1024}, "width and height are supported by image-01 only"),
    ({"response_format": "png"}, "response_format must be one of url, base64, not 'png'"),
    ({"n": 0}, "n must be from 1 to 9, not 0"),
    ({"n": 10}, "n must be from 1 to 9, not 10"),
    ({"n": "2"}, "expr_path=n, cause=expected integer"),
    ({"n": True}, "expr_path=n, cause=expected integer"),
    ({"seed": 1.5}, "expr_path=seed, cause=expected integer"),
    ({"seed": 2**63}, "seed must be a 64-bit integer"),
    ({"prompt_optimizer": "yes"}, "expr_path=prompt_optimizer, cause=expected boolean"),
    ({"aigc_watermark": 1}, "expr_path=aigc_watermark, cause=expected boolean"),
    ({"style": {"style_type": "水彩"}}, "style is supported by image-01-live only"),
    ({"model": "image-01-live", "style": "水彩"}, "expr_path=style, cause=expected object"),
    ({"model": "image-01-live", "style": {}}, "expr_path=style.style_type, cause=missing required parameter"),
    ({"model": "image-01-live", "style": {"style_type": "anime"}}, "style.style_type must be one of"),
    ({"model": "image-01-live", "style": {"style_type": "水彩", "style_weight": 0}}, "over 0 and at most 1"),
    ({"model": "image-01-live", "style": {"style_type": "水彩", "style_weight": 1.5}}, "over 0 and at most 1"),
    ({"subject_reference": {"type": "character"}}, "subject_reference must be an array holding exactly one"),
    ({"subject_reference": []}, "subject_reference must be an array holding exactly one"),
    ({"subject_reference": [{"type": "character", "image_file": "https://a/x.jpg"}] * 2}, "exactly one reference"),
    ({"subject_reference": ["https://a/x.jpg"]}, "subject_reference[0] must be an object"),
    (subject("https://example.com/x.jpg", type="object"), 'subject_reference[0].type must be "character"'),
    ({"subject_reference": [{"type": "character"}]}, "expr_path=subject_reference[0].image_file, cause=missing"),
    (subject(42), "expr_path=subject_reference[0].image_file, cause=expected string"),
    (subject("ftp://example.com/x.jpg"), "must be a public http(s) URL or a Base64 data URL"),
    (subject("data:image/png;base64,###"), "data URL is not valid Base64"),
    (subject(data_url(webp(400, 400), "image/webp")), "is a image/webp data URL; JPG, JPEG or PNG only"),
    (subject(data_url(b"GIF89a" + b"\0" * 64, "image/png")), "not a JPG or PNG image (checked by its content"),
    (subject(data_url(webp(400, 400), "image/png")), "not a JPG or PNG image (checked by its content"),
    (subject(data_url(png(400, 400)[:40], "image/png")), "damaged or unreadable"),
    (subject(data_url(BIG, "image/jpeg")), "is 10.0 MB; it must be under 10 MB"),
])
def test_every_bad_field_is_2013_with_a_message_that_names_it(isim, fields, words):
    sim, _, api = isim()
    request = {k: v for k, v in {**body(), **fields}.items() if v is not None}
    answer = api.generate(request)
    assert answer.http_status == 200 and answer.code == 2013, answer.raw
    assert answer.message.startswith("invalid params, ") and words in answer.message, answer.message
    assert answer.raw == {"id": "", "base_resp": {"status_code": 2013, "status_msg": answer.message}}
    assert sim.stats()["images_billed"] == 0 and sim.stats()["image_generations"] == 0


@pytest.mark.parametrize("raw, words", [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object"),
                                        (b'{"prompt": "\xff"}', "not UTF-8 JSON")])
def test_a_body_that_is_not_a_json_object_is_2013(isim, raw, words):
    _, _, api = isim()
    answer = read(api.post(raw))
    assert answer.code == 2013 and words in answer.message


def test_the_limits_themselves_are_accepted(isim):
    sim, _, api = isim()
    ok = [
        body("x" * 1500, n=9, response_format="base64", seed=-(2**63), prompt_optimizer=True, aigc_watermark=False),
        body(width=512, height=2048, response_format="base64"),
        body(model="image-01-live", aspect_ratio="9:16", style={"style_type": "水彩", "style_weight": 1}),
        body(model="image-01-live", style={"style_type": "漫画"}, response_format="base64"),
        body(**subject("https://example.com/hero.jpg")),
        body(**subject(data_url(jpeg(640, 800), "image/jpeg"))),
        body(**subject(data_url(png(400, 600), "image/png")), response_format="base64"),
        body(**subject(data_url(jpeg(320, 320), "image/jpg"))),
    ]
    for request in ok:
        answer = api.generate(request)
        assert answer.ok, (answer.raw, {k: str(v)[:60] for k, v in request.items()})
        assert answer.success == request.get("n", 1) and answer.failed == 0
    assert sim.stats()["images_billed"] == 9 + 7


# --- n, counts, withheld images -----------------------------------------------------------------


def test_n_images_come_back_each_its_own(isim):
    sim, _, api = isim()
    answer = api.generate(body(n=3, aspect_ratio="16:9"))
    assert answer.ok and len(answer.urls) == 3 and len(set(answer.urls)) == 3
    assert answer.raw["metadata"] == {"success_count": "3", "failed_count": "0"}  # strings, as the example
    files = api.images(answer)
    assert all(picture(f).size == (1280, 720) for f in files)
    assert mean_diff(files[0], files[1]) > 2 and mean_diff(files[1], files[2]) > 2
    stats = sim.stats()
    assert stats["image_generations"] == 1 and stats["images_billed"] == 3
    assert stats["images_billed_by_key"] == {"sim-…": 3}
    assert stats["by_key"]["sim-…"]["image_generation"] == 1 and stats["by_key"]["sim-…"]["image_download"] == 3


def test_counts_are_integers_by_switch(isim):
    _, _, api = isim(image=ImageConfig(counts="integer"))
    answer = api.generate(body(n=2, response_format="base64"))
    assert answer.raw["metadata"] == {"success_count": 2, "failed_count": 0}
    assert len(answer.raw["data"]["image_base64"]) == 2


def test_withheld_images_are_counted_as_failed_and_not_billed(isim):
    sim, _, api = isim(image=ImageConfig(faults={"withhold": 1.0}))
    seen = []
    for _ in range(4):
        answer = api.generate(body(n=4, response_format="base64"))
        assert answer.ok and answer.failed > 0 and answer.success + answer.failed == 4
        assert len(answer.base64) == answer.success
        seen.append(answer.success)
    assert sim.stats()["images_billed"] == sum(seen) and sim.stats()["faults"]["image_withhold"] == 4
    one = api.generate(body(n=1))  # one asked, one withheld: an answer without images
    assert one.ok and (one.success, one.failed, one.urls) == (0, 1, [])


# --- seeds and takes ----------------------------------------------------------------------------


def test_the_same_seed_and_parameters_make_the_same_image(isim):
    _, _, api = isim()
    request = body(seed=42, aspect_ratio="16:9", response_format="base64")
    first, again = (api.images(api.generate(request))[0] for _ in range(2))
    assert first == again
    other = api.images(api.generate({**request, "prompt": "A lighthouse on a cliff at dawn, blue sea"}))[0]
    assert mean_diff(first, other) > 2


def test_without_a_seed_a_repeated_request_is_the_next_take(isim):
    sim, _, api = isim()
    request = body(aspect_ratio="16:9", response_format="base64")
    one, two = (api.images(api.generate(request))[0] for _ in range(2))
    assert mean_diff(one, two) > 2
    assert [g["take"] for g in sim.images()] == [1, 2]


def test_takes_differ_and_each_is_reproducible_and_labelled(isim):
    sim, _, api = isim()
    request = body(aspect_ratio="16:9", response_format="base64")
    one = api.images(api.generate(request, hinted("kf-01", 1)))[0]
    two = api.images(api.generate(request, hinted("kf-01", 2)))[0]
    two_again = api.images(api.generate(request, hinted("kf-01", 2)))[0]
    plain = api.images(api.generate(body(aspect_ratio="16:9", response_format="base64", seed=1)))[0]
    assert mean_diff(one, two) > 2 and two == two_again
    assert [g["labels"] for g in sim.images()][:3] == [["kf-01 · take 1"], ["kf-01 · take 2"], ["kf-01 · take 2"]]
    # the label: white letters on a dark slate in the bottom left corner, only when the client names the shot
    def corner(data: bytes) -> Image.Image:
        return picture(data).convert("L").crop((0, 720 - 90, 400, 720))
    for labelled in (one, two):
        lum = corner(labelled).histogram()
        assert sum(lum[:30]) > 5000 and sum(lum[200:]) > 300
    assert sum(corner(plain).histogram()[:30]) < 500


def test_the_still_follows_the_prompt(isim):
    """The colours the prompt names lead the picture; its subject is framed on the card."""
    _, _, api = isim()

    def sky(prompt: str) -> tuple[float, float, float]:
        """The mean colour of the top tenth of a square still (above the card and the disc)."""
        data = api.images(api.generate(body(prompt, response_format="base64")))[0]
        return tuple(ImageStat.Stat(picture(data).convert("RGB").crop((0, 0, 1024, 100))).mean)

    red, blue = sky("A red barn at the edge of a field"), sky("A blue boat in the harbour")
    assert red[0] > red[2] + 30 and blue[2] > blue[0] + 30
    with_subject = api.generate(body("She waves from the pier", **subject(data_url(png(400, 600))),
                                     response_format="base64"))
    img = picture(api.images(with_subject)[0]).convert("RGB")
    r, g, b = img.split()
    mask = ImageChops.multiply(ImageChops.multiply(r.point(lambda v: 255 if v > 170 else 0),
                                                   g.point(lambda v: 255 if v < 80 else 0)),
                               b.point(lambda v: 255 if v > 130 else 0))
    magenta = mask.histogram()[255]
    assert magenta > 0.03 * img.width * img.height  # the subject's own colour, framed on the card


# --- URLs ---------------------------------------------------------------------------------------


def test_urls_expire_after_24_hours_of_sim_time(isim):
    _, clock, api = isim()
    answer = api.generate(body(n=2))
    assert all(api.http.get(u).status_code == 200 for u in answer.urls)
    clock.advance(24 * 3600 - 1)
    assert api.http.get(answer.urls[0]).status_code == 200
    clock.advance(1)
    expired = api.http.get(answer.urls[0])
    assert expired.status_code == 403 and "Request has expired" in expired.text
    forged = answer.urls[1].replace("Signature=", "Signature=0")
    assert api.http.get(forged).status_code == 403
    missing = answer.urls[1].replace("/2_aigc.jpeg", "/3_aigc.jpeg")
    assert api.http.get(missing).status_code == 404


def test_the_url_lifetime_is_a_switch(isim):
    _, clock, api = isim(image=ImageConfig(url_ttl=60))
    answer = api.generate(body())
    clock.advance(60)
    assert api.http.get(answer.urls[0]).status_code == 403


# --- rate limit, keys, flagged prompts ----------------------------------------------------------


def test_ten_requests_a_minute_per_key_then_1002(isim):
    sim, clock, api = isim(keys=("sim-key", "other-key"))
    request = body(response_format="base64")
    for _ in range(imagespec.RPM):
        assert api.generate(request).ok
    refused = api.generate(request)
    assert (refused.http_status, refused.code, refused.message) == (200, 1002, "rate limit exceeded(RPM)")
    other = ImageApi(sim.base_url, "other-key")
    try:
        assert other.generate(request).ok  # per key
    finally:
        other.close()
    clock.advance(60)
    assert api.generate(request).ok
    assert sim.stats()["image_generations"] == imagespec.RPM + 2  # the refused one made nothing


def test_the_rate_limit_is_a_switch(isim):
    _, _, api = isim(image=ImageConfig(rpm=None))
    assert all(api.generate(body(response_format="base64")).ok for _ in range(imagespec.RPM + 3))
    _, _, api = isim(image=ImageConfig(rpm=2))
    assert [api.generate(body(response_format="base64")).code for _ in range(3)] == [0, 0, 1002]


@pytest.mark.parametrize("key, code, words", [
    (None, 1004, "Please carry the API secret key"),
    ("nobody", 1004, "the API secret key is not valid"),
    ("cn-key", 2049, "invalid api key"),
    ("poor-key", 1008, "insufficient balance"),
])
def test_key_errors(isim, key, code, words):
    sim, _, api = isim(key=key, other_region_keys=("cn-key",), no_balance_keys=("poor-key",))
    answer = api.generate(body())
    assert answer.http_status == 200 and answer.code == code and words in answer.message
    assert sim.stats()["image_generations"] == 0


def test_a_flagged_prompt_is_1026(isim):
    sim, _, api = isim(sensitive_words=("forbidden",))
    answer = api.generate(body("A FORBIDDEN door"))
    assert (answer.code, answer.message) == (1026, "input new_sensitive")
    assert sim.stats()["images_billed"] == 0


# --- faults -------------------------------------------------------------------------------------


def test_a_lost_answer_was_made_and_billed(isim):
    sim, _, api = isim(image=ImageConfig(faults={"drop_create": 1.0}))
    with pytest.raises(httpx.TransportError):
        api.post(body(n=2))
    stats = sim.stats()
    assert stats["image_generations"] == 1 and stats["images_billed"] == 2
    assert stats["faults"] == {"image_drop_create": 1}
    assert [g["success_count"] for g in sim.images()] == [2]


@pytest.mark.parametrize("fault, status, json_body", [("http_500", 500, True), ("http_502", 502, False),
                                                      ("http_503", 503, False)])
def test_a_gateway_error_makes_nothing(isim, fault, status, json_body):
    sim, _, api = isim(image=ImageConfig(faults={fault: 1.0}))
    answer = api.post(body())
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json" if json_body else "text/html")
    assert sim.stats()["image_generations"] == 0


def test_slow_and_reset_faults(isim):
    sim, _, api = isim(slow_seconds=0.0, image=ImageConfig(faults={"slow": 1.0}))
    assert api.generate(body()).ok and sim.stats()["faults"]["image_slow"] >= 1
    sim.set_image_faults({"reset": 1.0})
    with pytest.raises(httpx.TransportError):
        api.post(body())
    assert sim.stats()["image_generations"] == 1


def test_a_truncated_download(isim):
    _, _, api = isim(image=ImageConfig(faults={"truncate_download": 1.0}))
    answer = api.generate(body())
    with pytest.raises(httpx.TransportError):
        api.http.get(answer.urls[0])


def test_token_plan_keys_may_make_images(isim):
    from pipeline.sim import V2Config

    _, _, api = isim(key="sk-cp-1", v2=V2Config(token_plan_keys=("sk-cp-1",)))
    assert api.generate(body()).ok


def test_image_and_video_models_stay_on_their_own_routes(isim):
    sim, _, api = isim()
    video = api.http.post("/v1/video_generation", json={"model": "image-01", "prompt": "A lighthouse"}).json()
    assert video["base_resp"]["status_code"] == 2013 and "unknown model image-01" in video["base_resp"]["status_msg"]
    still = api.generate(body(model="MiniMax-Hailuo-02"))
    assert still.code == 2013 and "unknown model MiniMax-Hailuo-02" in still.message
    assert sim.tasks() == [] and sim.images() == []
