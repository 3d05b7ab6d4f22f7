"""The two forms of a 2K regeneration (minimax-api-v2.md A11), one level down from `shots finalize`:
the v2 dialect's create sends the `source_task_id` form first and the content form only when the
server refused the first with a 400 (proof that no task was made); and the simulator takes its
own 768P previz back as a base_video, judged as the 768P output it stands for.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from v2api import KEY, clients, data_uri, error_of, text, v2sim, video  # noqa: F401

from pipeline.minimax.apierrors import ShotRejectedError, UncertainCreateError
from pipeline.minimax.v2client import V2Client, is_regeneration
from pipeline.sim.v2config import V2Config

FIXED = {"queued": (10, 10), "running": (100, 100)}
PREVIZ_16_9 = (96, 54)  # how v2sim renders a 1344x768 output (render_width 96)


def base_item(url: str) -> dict:
    return {"type": "video_url", "video_url": {"url": url}, "role": "base_video"}


def both_forms(source: str, base: str) -> dict:
    return {"model": "MiniMax-H3", "resolution": "2K", "source_task_id": source,
            "content": [{"type": "text", "text": "The keeper turns to the window. [Static shot]"}, base_item(base)]}


def create(sim, body: dict, sent: list | None = None, times: int = 1) -> list[str]:
    """V2Client.create(body) `times` over one client against `sim`; each regeneration body the
    client sent is appended to `sent`. The task ids."""
    async def record(request: httpx.Request) -> None:
        if sent is not None and request.url.path == "/v2/video_regeneration":
            sent.append(json.loads(request.content))

    async def main() -> list[str]:
        async with httpx.AsyncClient(base_url=sim.base_url, event_hooks={"request": [record]}) as http:
            client = V2Client(api_key=KEY, base_url=sim.base_url, http=http)
            return [await client.create(body) for _ in range(times)]

    return asyncio.run(main())


@pytest.fixture
def drafted(v2sim, clients):
    """make(**V2Config) -> (sim, clock, the succeeded 768P task a final regenerates)."""
    def make(**v2):
        sim, clock = v2sim(v2=V2Config(**FIXED, **v2))
        source = clients(sim).made(text(duration=4))
        clock.advance(110)
        return sim, clock, source
    return make


PREVIZ = data_uri("video/mp4", video(*PREVIZ_16_9, 107 / 24))


def test_a_body_with_a_source_or_a_base_video_is_a_regeneration():
    assert is_regeneration({"model": "MiniMax-H3", "source_task_id": "1"})
    assert is_regeneration({"model": "MiniMax-H3", "content": [base_item("https://x/v.mp4")]})
    assert not is_regeneration(text())


def test_a_whitelisted_account_gets_only_the_source_form(drafted):
    sim, _, source = drafted(regeneration_whitelist=True)
    sent: list = []
    create(sim, both_forms(source, PREVIZ), sent)
    assert sent == [{"model": "MiniMax-H3", "resolution": "2K", "source_task_id": source}]


def test_a_refusal_falls_back_on_the_content_form_once_and_is_remembered(drafted):
    sim, _, source = drafted()
    sent: list = []
    create(sim, both_forms(source, PREVIZ), sent, times=2)
    assert ["source_task_id" in b for b in sent] == [True, False, False]  # the second create skips the refused form
    assert [sorted(b) for b in sent[1:]] == [["content", "model", "resolution"]] * 2
    assert len([t for t in sim.v2_tasks() if t["resolution"] == "2K"]) == 2


def test_a_source_from_another_account_falls_back_too(v2sim, clients):
    sim, clock = v2sim(keys=(KEY, "other"), v2=V2Config(regeneration_whitelist=True, **FIXED))
    source = clients(sim, "other").made(text(duration=4))
    clock.advance(110)
    sent: list = []
    create(sim, both_forms(source, PREVIZ), sent)
    assert ["source_task_id" in b for b in sent] == [True, False]


def test_without_the_content_form_the_refusal_is_the_answer(drafted):
    sim, _, source = drafted()
    with pytest.raises(ShotRejectedError, match="whitelist"):
        create(sim, {"model": "MiniMax-H3", "resolution": "2K", "source_task_id": source})
    assert [t for t in sim.v2_tasks() if t["resolution"] == "2K"] == []


def test_a_lost_answer_to_the_source_form_is_never_followed_by_the_other(drafted):
    sim, _, source = drafted(regeneration_whitelist=True)
    sim.set_v2_faults({"drop_create": 1.0})
    sent: list = []
    with pytest.raises(UncertainCreateError):
        create(sim, both_forms(source, PREVIZ), sent)
    assert len(sent) == 1 and len([t for t in sim.v2_tasks() if t["resolution"] == "2K"]) == 1


@pytest.mark.parametrize("size, accepted", [
    (PREVIZ_16_9, True),  # this simulator's rendering of a 1344x768 output
    ((98, 54), False),  # no output of this simulator: judged as it is
])
def test_the_simulator_takes_its_own_previz_as_a_768p_base_video(drafted, clients, size, accepted):
    sim, _, _ = drafted()
    base = data_uri("video/mp4", video(*size, 107 / 24))
    answer = clients(sim).http.post("/v2/video_regeneration", json={
        "model": "MiniMax-H3", "resolution": "2K",
        "content": [{"type": "text", "text": "The keeper turns to the window."}, base_item(base)]})
    if accepted:
        assert answer.status_code == 200, answer.text
    else:
        status, _, _, message = error_of(answer)
        assert status == 400 and "the base_video must be a 768P H3 output" in message and "98x54" in message


def test_a_768p_sized_picture_is_not_taken_for_a_2k_final():
    from pipeline.run.video import VideoInfo, picture_problem

    for width, height in ((992, 992), (1344, 768), (1024, 1008)):  # 768P-sized pictures
        assert picture_problem(VideoInfo("h264", width, height, 6.0, 158), "2K") is not None, (width, height)
    for width, height in ((2560, 1440), (1440, 2560), (1664, 1664)):
        assert picture_problem(VideoInfo("h264", width, height, 6.0, 158), "2K") is None, (width, height)
