"""The image API client (minimax/imageclient.py) against the simulator's image route over loopback.

What the simulator cannot be made to answer (a base64 item that is no picture, a success with no
images, an error code under a 4xx) is answered by a few lines of stub at the end.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from contextlib import asynccontextmanager

import httpx
import pytest
from PIL import Image

from pipeline.minimax import images, imagespec
from pipeline.minimax.apierrors import (
    AccountError,
    RateLimitError,
    ShotRejectedError,
    TaskNotFoundError,
    TransientError,
    UncertainCreateError,
)
from pipeline.minimax.dialects import Clients, api_of
from pipeline.minimax.imageclient import ImageAnswer, ImageClient
from pipeline.sim import SimConfig, Simulator
from pipeline.sim.imageconfig import ImageConfig

KEY = "sk-api-image-test-key-7f3a9c"
PROMPT = "A lighthouse keeper at the window, storm outside"
BODY = {"model": "image-01", "prompt": PROMPT, "aspect_ratio": "16:9", "n": 1}


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def image_sim(sim_factory):
    """image_sim(**ImageConfig fields, sim=dict of SimConfig fields) -> a simulator with KEY valid
    and no image rate limit unless one is asked for."""

    def make(sim: dict | None = None, **image) -> Simulator:
        image.setdefault("rpm", None)
        return sim_factory(**{"keys": (KEY,), **(sim or {})}, image=ImageConfig(**image))

    return make


@asynccontextmanager
async def image_client(base_url: str, key: str = KEY, *, transport: httpx.AsyncBaseTransport | None = None,
                       **settings):
    async with httpx.AsyncClient(transport=transport) as http:
        yield ImageClient(api_key=key, base_url=base_url, http=http, **settings)


def generate(sim: Simulator, body: dict = BODY, key: str = KEY, **settings) -> ImageAnswer:
    async def main():
        async with image_client(sim.base_url, key, **settings) as client:
            return await client.generate(body)

    return run(main())


def image_requests(sim: Simulator) -> int:
    return sim.stats()["requests"].get("image_generation", 0)


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


# -- success -------------------------------------------------------------------------------------


def test_a_still_comes_back_as_jpeg_bytes_asked_for_as_base64(image_sim):
    sim = image_sim()
    answer = generate(sim, {**BODY, "response_format": "url"})  # the client asks base64 whatever it is given
    assert len(answer.images) == 1 and answer.failed_count == 0 and answer.id
    assert images.sniff_format(answer.images[0]) == "jpeg"
    assert size_of(answer.images[0]) == imagespec.size_of("16:9")
    made, = sim.images()
    assert made["response_format"] == "base64" and made["id"] == answer.id


@pytest.mark.parametrize("counts", ["string", "integer"])
def test_counts_are_read_as_strings_or_integers_and_withheld_images_are_counted(image_sim, counts):
    sim = image_sim(counts=counts, faults={"withhold": 1.0})
    answer = generate(sim, {**BODY, "n": 4})
    assert 1 <= answer.failed_count <= 4
    assert len(answer.images) == 4 - answer.failed_count
    assert sim.images()[0]["failed_count"] == answer.failed_count


def test_every_image_withheld_is_an_answer_with_none(image_sim):
    sim = image_sim(faults={"withhold": 1.0})
    answer = generate(sim)  # n=1: the one image withheld
    assert answer.images == () and answer.failed_count == 1


class IgnoresResponseFormat(httpx.AsyncBaseTransport):
    """The HTTP under the client, standing for a server that answers URLs whatever it is asked."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.downloads = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == imagespec.PATH:
            body = {**json.loads(request.content), "response_format": "url"}
            headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
            request = httpx.Request(request.method, request.url, headers=headers, json=body,
                                    extensions=request.extensions)
        else:
            self.downloads += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_image_urls_are_downloaded_when_a_server_ignores_response_format(image_sim):
    sim = image_sim()
    shim = IgnoresResponseFormat()
    answer = generate(sim, {**BODY, "n": 2}, transport=shim)
    assert sim.images()[0]["response_format"] == "url"
    assert len(answer.images) == 2 and shim.downloads == 2
    assert all(size_of(image) == imagespec.size_of("16:9") for image in answer.images)
    assert answer.images[0] != answer.images[1]  # two variations, each fetched


def test_an_image_url_that_cannot_be_downloaded_is_uncertain_and_generates_nothing_again(image_sim):
    sim = image_sim(faults={"truncate_download": 1.0})
    shim = IgnoresResponseFormat()
    with pytest.raises(UncertainCreateError, match="could not be downloaded.*billed") as info:
        generate(sim, transport=shim)
    assert not info.value.retryable
    assert image_requests(sim) == 1 and len(sim.images()) == 1
    assert shim.downloads == 3  # the URL, tried again: a GET makes nothing


# -- errors the API names: nothing was made --------------------------------------------------------


def test_an_invalid_request_is_refused_with_the_servers_message(image_sim):
    sim = image_sim()
    with pytest.raises(ShotRejectedError, match=r"invalid request: invalid params, aspect_ratio must be one of") \
            as info:
        generate(sim, {**BODY, "aspect_ratio": "5:4"})
    assert info.value.code == 2013 and not info.value.retryable
    assert not isinstance(info.value, UncertainCreateError)


def test_a_flagged_prompt_is_refused_for_good(image_sim):
    sim = image_sim(sim={"sensitive_words": ("storm",)})
    with pytest.raises(ShotRejectedError, match="flagged as sensitive") as info:
        generate(sim)
    assert info.value.code == 1026 and not info.value.retryable
    assert sim.images() == []


class Clock:
    """The simulator's clock, moved by the test (time_scale 1: a minute is 60 of these seconds)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_rate_limit_proves_nothing_was_made_and_a_later_call_succeeds(tmp_path):
    clock = Clock()
    sim = Simulator(SimConfig(keys=(KEY,), time_scale=1, render_cache_dir=tmp_path, image=ImageConfig(rpm=1)),
                    now=clock).start()
    try:
        assert len(generate(sim).images) == 1
        with pytest.raises(RateLimitError, match=r"rate limit exceeded\(RPM\) \(1002\)") as info:
            generate(sim)
        assert info.value.retryable and info.value.code == 1002
        assert len(sim.images()) == 1  # the refused call made nothing
        clock.now += 61
        assert len(generate(sim).images) == 1  # the retry, a minute on
        assert len(sim.images()) == 2
    finally:
        sim.stop()


@pytest.mark.parametrize("key, code, match", [
    ("sk-not-a-key", 1004, "authentication failed.*MINIMAX_API_KEY"),
    ("sk-other-region", 2049, r"region.*api\.minimaxi\.com"),
    ("sk-no-balance", 1008, "top up"),
])
def test_account_errors_stop_and_are_never_retried(image_sim, key, code, match):
    sim = image_sim(sim={"keys": (KEY, "sk-no-balance"), "other_region_keys": ("sk-other-region",),
                         "no_balance_keys": ("sk-no-balance",)})
    with pytest.raises(AccountError, match=match) as info:
        generate(sim, key=key)
    assert info.value.code == code and not info.value.retryable and info.value.exit_code == 3
    assert image_requests(sim) == 1 and sim.images() == []


# -- failures after the body was sent: uncertain, never sent again ---------------------------------


@pytest.mark.parametrize("fault, match", [
    ("drop_create", "answer was lost"),  # made and billed, then the connection reset
    ("http_500", "HTTP 500"),
    ("http_502", "HTTP 502"),
    ("reset", "answer was lost"),  # reset before the server read it: the client cannot know that
])
def test_a_lost_answer_is_uncertain_and_sent_once(image_sim, fault, match):
    sim = image_sim(faults={fault: 1.0})
    with pytest.raises(UncertainCreateError, match=match) as info:
        generate(sim)
    assert not info.value.retryable
    assert image_requests(sim) == 1  # never resubmitted: it would bill again
    if fault == "drop_create":
        assert len(sim.images()) == 1  # the lost images were made


def test_a_server_that_cannot_be_reached_proves_nothing_was_made():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens

    async def main():
        async with image_client(f"http://127.0.0.1:{port}") as client:
            await client.generate(BODY)

    with pytest.raises(TransientError, match="cannot connect") as info:
        run(main())
    assert info.value.retryable and not isinstance(info.value, UncertainCreateError)


def test_the_image_call_waits_for_its_answer_longer_than_the_video_calls(image_sim):
    """A timed-out generation bills its retry: the read timeout is at least imagespec.TIMEOUT_SECONDS,
    on the pool the video dialects share."""
    sim = image_sim()
    timeouts: dict[str, float] = {}

    async def seen(request: httpx.Request) -> None:
        timeouts[request.url.path] = request.extensions["timeout"]["read"]

    async def main():
        async with httpx.AsyncClient(event_hooks={"request": [seen]}) as http:
            clients = Clients(api_key=KEY, base_url=sim.base_url, http=http)
            await clients.images.generate(BODY)
            with pytest.raises(TaskNotFoundError):
                await clients.v1.query("123")

    run(main())
    assert timeouts[imagespec.PATH] >= imagespec.TIMEOUT_SECONDS
    assert timeouts["/v1/query/video_generation"] < imagespec.TIMEOUT_SECONDS  # the others' own


def test_the_key_never_appears_in_logs_or_errors(image_sim, caplog):
    caplog.set_level(logging.DEBUG)
    sim = image_sim(faults={"drop_create": 1.0}, sim={"sensitive_words": ("forbidden",)})
    errors = []
    for body in ({**BODY, "aspect_ratio": "5:4"}, {**BODY, "prompt": "forbidden"}, BODY):
        with pytest.raises(Exception) as info:
            generate(sim, body)
        errors.append(info.value)

    async def made():
        async with image_client(sim.base_url) as client:
            return repr(client)

    shown = [str(e) for e in errors] + [repr(e) for e in errors] + [run(made())]
    assert [type(e) for e in errors] == [ShotRejectedError, ShotRejectedError, UncertainCreateError]
    assert not any(KEY in text for text in shown)
    assert KEY not in caplog.text and "image-test-key" not in caplog.text


def test_the_simulator_is_told_the_shot_and_take_only_when_asked(image_sim):
    sim = image_sim()

    async def main(hints_on: bool):
        async with httpx.AsyncClient() as http:
            client = Clients(api_key=KEY, base_url=sim.base_url, http=http, simulator_hints=hints_on)
            return await client.images.generate(BODY, hints={"shot": "kf-01", "take": 2})

    run(main(True))
    run(main(False))
    told, untold = sim.images()
    assert told["take"] == 2 and "kf-01" in told["labels"][0]
    assert untold["labels"] == [""]


# -- the router ------------------------------------------------------------------------------------


def test_the_router_sends_image_models_to_the_image_client_on_the_shared_transport():
    async def main():
        async with Clients(api_key=KEY, base_url="http://127.0.0.1:9") as clients:
            assert isinstance(clients.images, ImageClient)
            assert clients.images._transport is clients.transport is clients.v1._transport
            assert [api_of(m) for m in ("image-01", "MiniMax-H3", "MiniMax-Hailuo-02", "unknown", None)] == \
                ["image", "v2", "v1", "v1", "v1"]
            clients.learn("image-01", task_id="1")  # an image take has no task: nothing to learn
            assert clients.dialect_of_task("1") is None
            with pytest.raises(ValueError, match="images.generate"):
                await clients.create(BODY)
            assert KEY not in repr(clients.images)

    run(main())


# -- answers the simulator never gives ---------------------------------------------------------------


def stub_answer(status: int, body: object) -> httpx.MockTransport:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.MockTransport(lambda request: httpx.Response(status, content=content))


def generate_on(transport: httpx.MockTransport) -> ImageAnswer:
    async def main():
        async with image_client("http://api.test", transport=transport) as client:
            return await client.generate(BODY)

    return run(main())


OK = {"status_code": 0, "status_msg": "success"}


def test_a_base64_item_given_as_a_data_url_is_read():
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 36), "navy").save(jpeg, "JPEG")
    answer = generate_on(stub_answer(200, {"id": 7, "data": {"image_base64": [images.to_data_url(jpeg.getvalue())]},
                                           "metadata": {}, "base_resp": OK}))
    assert answer == ImageAnswer(id="7", images=(jpeg.getvalue(),), failed_count=0)


@pytest.mark.parametrize("body, match", [
    ({"data": {"image_base64": ["bm90IGFuIGltYWdl"]}, "base_resp": OK}, "not a JPG, PNG or WebP image"),
    ({"data": {"image_base64": ["%%%"]}, "base_resp": OK}, "not base64"),
    ({"data": {"image_base64": "abc"}, "base_resp": OK}, "not a list of strings"),
    ({"data": {}, "metadata": {"failed_count": "0"}, "base_resp": OK}, "without images"),
    ({"data": {"image_urls": ["ftp://x/1.jpeg"]}, "base_resp": OK}, "not an http"),
    (b"<html>upstream timed out</html>", "not JSON"),
    ({"base_resp": {"status_code": "abc"}}, "not a number"),
])
def test_a_success_that_cannot_be_read_is_uncertain(body, match):
    with pytest.raises(UncertainCreateError, match=match):
        generate_on(stub_answer(200, body))


def test_a_4xx_is_read_by_its_code_when_it_has_one_else_by_its_status():
    with pytest.raises(ShotRejectedError, match="invalid request: bad prompt") as info:
        generate_on(stub_answer(400, {"base_resp": {"status_code": 2013, "status_msg": "bad prompt"}}))
    assert info.value.http_status == 400 and info.value.code == 2013
    with pytest.raises(AccountError, match="HTTP 401"):
        generate_on(stub_answer(401, b"Unauthorized"))
    with pytest.raises(RateLimitError, match="HTTP 429"):
        generate_on(stub_answer(429, b""))
