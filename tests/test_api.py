"""The real client against the real simulator over loopback HTTP: flow, error tree, faults, secrets."""

import asyncio
import io
import socket

import httpx
import pytest
from PIL import Image

from pipeline.minimax import client as api, images
from pipeline.run import video
from pipeline.minimax.client import (
    AccountError,
    MiniMaxClient,
    RateLimitError,
    ShotRejectedError,
    TransientError,
    UncertainCreateError,
    UrlExpiredError,
)

KEY = "sim-key"
T2V = {"model": "MiniMax-Hailuo-02", "prompt": "A lighthouse at dusk [Push in].", "duration": 6, "resolution": "768P"}


def picture(width=640, height=360, fmt="PNG", color=(200, 120, 40)):
    img = Image.new("RGB", (width, height), color)
    for x in range(width // 4, width // 4 + 40):  # a feature so frames differ
        for y in range(height // 3, height // 3 + 40):
            img.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return images.to_data_url(buf.getvalue())


def run(coro):
    return asyncio.run(coro)


async def full_flow(client, body, tmp_path, name="out.mp4"):
    task_id = await client.create(body)
    while True:
        status = await client.query(task_id)
        if status.status in ("Success", "Fail"):
            break
        await asyncio.sleep(0.01)
    assert status.status == "Success", status
    info = await client.retrieve(status.file_id)
    got = await client.download(info.download_url, tmp_path / name)
    return status, info, got


@pytest.mark.parametrize(
    "body, duration",
    [
        (T2V, 6),
        ({**T2V, "duration": 10}, 10),
        ({"model": "MiniMax-Hailuo-02", "prompt": "The keeper turns [Pan left].", "first_frame_image": picture()}, 6),
        ({"model": "MiniMax-Hailuo-02", "prompt": "Night to dawn.", "first_frame_image": picture(),
          "last_frame_image": picture(color=(20, 40, 200))}, 6),
        ({"model": "S2V-01", "prompt": "She smiles.",
          "subject_reference": [{"type": "character", "image": [picture(400, 600)]}]}, 6),
    ],
    ids=["t2v", "t2v-10s", "i2v", "first-last", "subject"],
)
def test_full_flow_ends_in_an_h264_video_of_the_requested_duration(sim, tmp_path, body, duration):
    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            return await full_flow(client, body, tmp_path)

    status, info, got = run(main())
    assert isinstance(status.file_id, str) and isinstance(info.file_id, int)
    assert str(info.file_id) == status.file_id
    assert status.video_width and status.video_height
    assert got.bytes == (tmp_path / "out.mp4").stat().st_size > 0
    probe = video.verify(tmp_path / "out.mp4", duration)
    assert probe.codec == "h264"


def test_settings_come_from_the_environment_and_the_base_url_is_versionless(sim, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIMAX_API_KEY", KEY)
    monkeypatch.setenv("MINIMAX_BASE_URL", sim.base_url + "/v1/")

    async def main():
        async with MiniMaxClient() as client:
            assert client.base_url == sim.base_url
            return await client.create(T2V)

    assert run(main()).isdigit()


def test_no_key_anywhere_says_how_to_fix_it(monkeypatch):
    with pytest.raises(AccountError, match="set MINIMAX_API_KEY"):
        MiniMaxClient()


@pytest.mark.parametrize(
    "key, error, text",
    [
        ("wrong-key", AccountError, "authentication failed.*1004"),
        ("cn-key", AccountError, r"2049.*api.minimaxi.com"),
        ("poor-key", AccountError, "insufficient balance.*1008"),
    ],
)
def test_account_errors(sim_factory, key, error, text):
    sim = sim_factory(other_region_keys=("cn-key",), no_balance_keys=("poor-key",), keys=(KEY, "poor-key"))

    async def main():
        async with MiniMaxClient(api_key=key, base_url=sim.base_url) as client:
            await client.create(T2V)

    with pytest.raises(error, match=text) as info:
        run(main())
    assert info.value.exit_code == 3
    assert key not in str(info.value)


@pytest.mark.parametrize(
    "body, text",
    [
        ({**T2V, "resolution": "1080P", "duration": 10}, "2013"),
        ({**T2V, "model": "MiniMax-Hailuo-2.3-Fast"}, "2013"),
        ({**T2V, "prompt": "x" * 2001}, "2013"),
        ({"model": "MiniMax-Hailuo-02"}, "2013"),
    ],
)
def test_invalid_requests_are_rejected_for_the_shot(sim, body, text):
    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            await client.create(body)

    with pytest.raises(ShotRejectedError, match=text) as info:
        run(main())
    assert info.value.code == 2013 and info.value.trace_id


def test_sensitive_prompt_is_1026(sim_factory):
    sim = sim_factory(sensitive_words=("forbidden",))

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            await client.create({**T2V, "prompt": "A FORBIDDEN door."})

    with pytest.raises(ShotRejectedError, match="sensitive") as info:
        run(main())
    assert info.value.code == 1026
    assert sim.stats()["tasks_created"] == 0


def test_rate_limit_is_its_own_retryable_error(sim_factory):
    sim = sim_factory(rpm=2, time_scale=1.0)

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            await client.create(T2V)
            await client.create(T2V)
            await client.create(T2V)

    with pytest.raises(RateLimitError) as info:
        run(main())
    assert info.value.code == 1002 and info.value.retryable
    assert sim.stats()["tasks_created"] == 2


@pytest.mark.parametrize(
    "fault, on_create, on_query",
    [
        ("error_1000", TransientError, TransientError),
        ("error_1001", TransientError, TransientError),
        ("error_1013", TransientError, TransientError),
        ("error_1033", TransientError, TransientError),
        ("error_1002", RateLimitError, RateLimitError),
        ("http_500", UncertainCreateError, TransientError),
        ("http_502", UncertainCreateError, TransientError),
        ("http_503", UncertainCreateError, TransientError),
        ("reset", UncertainCreateError, TransientError),
    ],
)
def test_faults_map_to_the_right_error_for_each_phase(sim_factory, fault, on_create, on_query):
    sim = sim_factory()

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            task_id = await client.create(T2V)
            sim.set_faults({fault: 1.0})
            with pytest.raises(on_query):
                await client.query(task_id)
            with pytest.raises(on_create) as info:
                await client.create(T2V)
            return info.value

    error = run(main())
    # A base_resp error proves no task was made, so it is not "uncertain".
    assert (error.code is not None) == fault.startswith("error_")
    assert sim.stats()["faults"][fault] >= 2


def test_a_create_whose_answer_is_dropped_is_uncertain_and_the_task_exists(sim_factory):
    sim = sim_factory()

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            sim.set_faults({"drop_create": 1.0})
            await client.create(T2V)

    with pytest.raises(UncertainCreateError, match="a billed task may exist"):
        run(main())
    assert sim.stats()["tasks_created"] == 1


def test_a_slow_answer_past_the_timeout(sim_factory):
    sim = sim_factory(slow_seconds=1.0)

    async def main():
        timeout = httpx.Timeout(0.3, connect=1.0)
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url, timeout=timeout) as client:
            task_id = await client.create(T2V)
            sim.set_faults({"slow": 1.0})
            with pytest.raises(TransientError):
                await client.query(task_id)
            with pytest.raises(UncertainCreateError):
                await client.create(T2V)

    run(main())


def test_connection_refused_proves_no_task_was_made():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=f"http://127.0.0.1:{port}") as client:
            await client.create(T2V)

    with pytest.raises(TransientError) as info:
        run(main())
    assert not isinstance(info.value, UncertainCreateError)


def test_wrong_path_prefix_is_an_account_level_404(sim):
    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url + "/api") as client:
            await client.query("1")

    with pytest.raises(AccountError, match="404"):
        run(main())


def test_download_faults_truncated_and_expired(sim_factory, tmp_path):
    sim = sim_factory(url_ttl=3600.0)

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            status, info, _ = await full_flow(client, T2V, tmp_path)
            sim.set_faults({"truncate_download": 1.0})
            with pytest.raises(TransientError, match="truncated|interrupted"):
                await client.download((await client.retrieve(status.file_id)).download_url, tmp_path / "t.mp4")
            sim.set_faults({"expire_url": 1.0})
            with pytest.raises(UrlExpiredError):
                await client.download((await client.retrieve(status.file_id)).download_url, tmp_path / "e.mp4")
            sim.set_faults({})
            fresh = await client.retrieve(status.file_id)
            return await client.download(fresh.download_url, tmp_path / "ok.mp4")

    got = run(main())
    video.verify(got.path, 6)


def test_unknown_task_and_other_keys_tasks_are_invisible(sim_factory):
    sim = sim_factory(keys=(KEY, "other-key"))

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as mine, \
                MiniMaxClient(api_key="other-key", base_url=sim.base_url) as theirs:
            task_id = await mine.create(T2V)
            assert (await mine.query(task_id)).status in ("Preparing", "Queueing", "Processing", "Success")
            with pytest.raises(ShotRejectedError):
                await theirs.query(task_id)
            with pytest.raises(ShotRejectedError):
                await mine.query("999999999999999")

    run(main())


def test_fail_status_is_a_value_with_its_code(sim_factory):
    sim = sim_factory(faults={"fail_1027": 1.0})

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            task_id = await client.create(T2V)
            while True:
                status = await client.query(task_id)
                if status.status in ("Success", "Fail"):
                    return status
                await asyncio.sleep(0.01)

    status = run(main())
    assert status.status == "Fail" and status.code == 1027


@pytest.mark.parametrize("raw, expected", [("Success", "Success"), ("success", "Success"), ("Failed", "Fail"),
                                           ("queued", "Queueing"), ("Processing", "Processing"),
                                           ("Mystery", "Mystery")])
def test_status_spellings_are_normalised(raw, expected):
    assert api.normalise_status(raw) == expected


def test_the_key_never_leaves_through_repr_errors_or_the_download_host(sim_factory, tmp_path):
    secret = "sk-SECRET-canary-0123456789"
    sim = sim_factory(keys=(secret,))
    seen = []

    async def record(request):
        seen.append((request.url.path, request.headers.get("authorization")))

    async def main():
        http = httpx.AsyncClient(event_hooks={"request": [record]})
        async with http:
            client = MiniMaxClient(api_key=secret, base_url=sim.base_url, http=http)
            assert secret not in repr(client) and secret not in str(vars(client))
            status, info, _ = await full_flow(client, T2V, tmp_path)
            sim.set_faults({"http_500": 1.0})
            try:
                await client.query(status.task_id)
            except TransientError as exc:
                assert secret not in str(exc) and secret not in repr(exc)

    run(main())
    downloads = [auth for path, auth in seen if not path.startswith("/v1/")]
    api_calls = [auth for path, auth in seen if path.startswith("/v1/")]
    assert downloads and all(auth is None for auth in downloads)
    assert api_calls and all(auth == f"Bearer {secret}" for auth in api_calls)


def test_api_calls_beyond_the_cap_wait_in_the_client_not_in_the_connection_pool(sim_factory):
    """40 queries at once reach the server at most API_CALLS_AT_ONCE at a time (and do overlap)."""
    sim = sim_factory(faults={"slow": 1.0}, slow_seconds=0.3)

    async def main():
        async with MiniMaxClient(api_key=KEY, base_url=sim.base_url) as client:
            answers = await asyncio.gather(*(client.query("no-such-task") for _ in range(40)), return_exceptions=True)
        return answers

    answers = run(main())
    assert len(answers) == 40 and not any(isinstance(a, TransientError) for a in answers)
    assert sim.stats()["requests"]["query"] == 40
    assert sim.stats()["peak_in_flight"] == api.API_CALLS_AT_ONCE
