"""The other two v2 task kinds over loopback HTTP (minimax-api-v2.md A11): 2K regeneration, by
source_task_id (whitelist only) or from the inputs and a base_video, and the Context-IR prompt
enhancer. Both share query, list and delete with video generation.
"""

from __future__ import annotations

import math

import httpx
import pytest
from v2api import (clients, data_uri, error_of, image_item, png_uri, probe, text, v2sim, video,  # noqa: F401
                   video_item, with_media)

from pipeline.sim.v2config import V2Config

FIXED = dict(queued=(10, 10), running=(100, 100), text_running=(20, 20))
BASE_URL = "https://cdn.example.invalid/take1/output.mp4"


def base_item(url: str = BASE_URL) -> dict:
    return video_item(url, role="base_video")


def regeneration(**fields) -> dict:
    return {"model": "MiniMax-H3", "resolution": "2K", **fields}


def from_content(*items: dict, prompt: str = "The keeper turns to the window. [Static shot]") -> dict:
    return regeneration(content=[{"type": "text", "text": prompt}, *items])


def ir(prompt: str = "The keeper turns to the window. [Static shot]", **over) -> dict:
    body = text(prompt, **over)
    del body["resolution"]
    return body


def bad(answer, fragment: str) -> None:
    got = error_of(answer)
    assert got[:3] == (400, "bad_request_error", 2013) and fragment in got[3], got


@pytest.fixture
def sim(v2sim):
    return v2sim(v2=V2Config(regeneration_whitelist=True, **FIXED))


# --- Context-IR -----------------------------------------------------------------------------------

def test_context_ir_returns_an_enhanced_prompt_as_a_text_task(sim, clients):
    sim, clock = sim
    client = clients(sim)
    answer = client.http.post("/v2/h3_context_ir", json=ir("A lighthouse at dusk [Push in]", ratio="21:9"))
    assert answer.status_code == 200 and set(answer.json()) == {"task_id"}
    task_id = answer.json()["task_id"]
    queued = client.task(task_id)
    assert (queued["status"], queued["task_type"], queued["modality"], queued["usage"]) == (
        "queued", "h3_context_ir", "text", {})
    clock.advance(30)
    task = client.task(task_id)
    assert task["status"] == "succeeded" and set(task["content"]) == {"prompt"}
    assert "A lighthouse at dusk [Push in]" in task["content"]["prompt"] and "21:9" in task["content"]["prompt"]
    assert (task["resolution"], task["duration"], task["ratio"]) == ("", 6, "21:9")
    assert set(task["usage"]) == {"total_tokens", "prompt_tokens", "completion_tokens"}  # tokens only
    assert task["usage"]["total_tokens"] == task["usage"]["prompt_tokens"] + task["usage"]["completion_tokens"]
    listed = client.list({"filter.task_type": "h3_context_ir"}).json()
    assert listed["total"] == 1 and listed["items"][0]["content"] == task["content"]
    assert client.list({"filter.task_type": "generation"}).json()["total"] == 0


def test_context_ir_takes_no_resolution_and_creates_rules(sim, clients):
    sim, _ = sim
    client = clients(sim)
    post = lambda body: client.http.post("/v2/h3_context_ir", json=body)  # noqa: E731
    bad(post(text()), "h3_context_ir takes no resolution")
    bad(post(ir(content=[])), "content must include a non-empty text item")
    bad(post(ir(ratio="adaptive")), "text-to-video needs a concrete ratio")
    bad(post(ir(duration=16)), "does not support duration 16s")
    mixed = with_media(image_item(png_uri(), "first_frame"), image_item(png_uri(), "reference_image"))
    del mixed["resolution"]
    bad(post(mixed), "cannot be mixed")
    assert sim.v2_tasks() == []


def test_a_queued_context_ir_task_can_be_cancelled(sim, clients):
    sim, _ = sim
    client = clients(sim)
    task_id = client.http.post("/v2/h3_context_ir", json=ir()).json()["task_id"]
    assert client.delete(task_id).json() == {"task_id": task_id, "action": "cancelled", "status": "cancelled"}


# --- regeneration by source_task_id -----------------------------------------------------------------

def test_regeneration_of_a_succeeded_task_in_2k(sim, clients):
    sim, clock = sim
    client = clients(sim)
    source = client.made(with_media(image_item(png_uri(600, 800)), duration=5))
    clock.advance(110)
    original = client.task(source)
    answer = client.http.post("/v2/video_regeneration", json=regeneration(source_task_id=source))
    assert answer.status_code == 200 and set(answer.json()) == {"task_id"}
    task_id = answer.json()["task_id"]
    clock.advance(110)
    task = client.task(task_id)
    assert (task["status"], task["task_type"], task["resolution"], task["duration"], task["ratio"]) == (
        "succeeded", "regeneration", "2K", 5, "")
    assert task["usage"]["input_image_count"] == original["usage"]["input_image_count"] == 1  # billed again
    with httpx.Client() as http:
        p = probe(http.get(task["content"]["url"]).content)
    assert (p["fps"], p["frames"], p["audio_rate"], p["channels"]) == (24, 124, 32000, 2)
    assert math.isclose(p["width"] / p["height"], 3 / 4, rel_tol=0.04)
    assert client.list({"filter.task_type": "regeneration"}).json()["total"] == 1


def test_regeneration_by_source_needs_the_whitelist(v2sim, clients):
    sim, clock = v2sim(v2=V2Config(**FIXED))
    client = clients(sim)
    source = client.made(text())
    clock.advance(110)
    bad(client.http.post("/v2/video_regeneration", json=regeneration(source_task_id=source)),
        "source_task_id needs whitelist access")
    assert len(sim.v2_tasks()) == 1


def test_regeneration_source_must_be_a_succeeded_generation_of_this_key(v2sim, clients):
    sim, clock = v2sim(keys=("key-a", "key-b"), v2=V2Config(regeneration_whitelist=True, **FIXED))
    a, b = clients(sim, "key-a"), clients(sim, "key-b")
    queued = a.made(text())
    prompt_task = a.http.post("/v2/h3_context_ir", json=ir()).json()["task_id"]
    post = lambda client, source: client.http.post("/v2/video_regeneration",  # noqa: E731
                                                   json=regeneration(source_task_id=source))
    bad(post(a, queued), f"source_task_id {queued} is not a succeeded video generation task")
    clock.advance(110)
    for client, source in ((b, queued), (a, prompt_task), (a, "123456789012345")):
        bad(post(client, source), "is not a succeeded video generation task of this account")
    assert post(a, queued).status_code == 200


# --- regeneration from content --------------------------------------------------------------------

def test_regeneration_from_a_base_video_behind_a_url(sim, clients):
    sim, clock = sim
    client = clients(sim)
    answer = client.http.post("/v2/video_regeneration",
                              json=from_content(base_item(), image_item(png_uri(), "first_frame")))
    assert answer.status_code == 200
    clock.advance(110)
    task = client.task(answer.json()["task_id"])
    assert (task["status"], task["ratio"], task["resolution"], task["duration"]) == ("succeeded", "", "2K", 6)


def test_regeneration_from_a_base_video_data_uri_that_meets_the_768p_spec(sim, clients):
    sim, clock = sim
    client = clients(sim)
    base = data_uri("video/mp4", video(768, 768, 107 / 24))
    answer = client.http.post("/v2/video_regeneration", json=from_content(base_item(base)))
    assert answer.status_code == 200, answer.text
    clock.advance(110)
    task = client.task(answer.json()["task_id"])
    assert (task["status"], task["duration"]) == ("succeeded", 4)
    with httpx.Client() as http:
        p = probe(http.get(task["content"]["url"]).content)
    assert p["frames"] == 107 and p["width"] == p["height"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"width": 256, "height": 256, "seconds": 2}, "outside the 768P area"),
    ({"width": 256, "height": 256, "seconds": 2}, "its 48 frames are not 107 + 17k"),
    ({"width": 768, "height": 768, "seconds": 107 / 24, "audio_codec": None}, "it has no audio track"),
])
def test_a_base_video_data_uri_off_the_768p_spec_is_refused(sim, clients, kwargs, fragment):
    sim, _ = sim
    answer = clients(sim).http.post("/v2/video_regeneration",
                                    json=from_content(base_item(data_uri("video/mp4", video(**kwargs)))))
    bad(answer, "the base_video must be a 768P H3 output")
    bad(answer, fragment)


@pytest.mark.parametrize("body, fragment", [
    (regeneration(), "send exactly one of source_task_id and content"),
    (regeneration(source_task_id="123456789012345", content=[{"type": "text", "text": "x"}]),
     "send exactly one of source_task_id and content"),
    (regeneration(resolution="768P", source_task_id="1"), "video_regeneration only makes 2K, not 768P"),
    (regeneration(model="MiniMax-H3-Max", source_task_id="1"), "supports only MiniMax-H3"),
    (regeneration(source_task_id="1", duration=6), "duration is not a video_regeneration parameter"),
    (regeneration(source_task_id="1", ratio="16:9"), "ratio is not a video_regeneration parameter"),
    (regeneration(source_task_id=123), "source_task_id must be a task id"),
    ({"resolution": "2K", "source_task_id": "1"}, "model is required"),
    (from_content(), "content needs exactly one base_video, not 0"),
    (from_content(base_item(), base_item()), "content needs exactly one base_video, not 2"),
    (from_content(base_item(), prompt=""), "content must include a non-empty text item"),
    (from_content(base_item(), prompt="x" * 40_001), "40001 characters long, the limit is 40000"),
    (from_content(base_item(), image_item(png_uri(), "first_frame"), image_item(png_uri(), "reference_image")),
     "cannot be mixed"),
])
def test_regeneration_request_rules(sim, clients, body, fragment):
    sim, _ = sim
    bad(clients(sim).http.post("/v2/video_regeneration", json=body), fragment)
    assert sim.v2_tasks() == []


def test_the_final_prompt_may_be_40000_characters(sim, clients):
    sim, _ = sim
    answer = clients(sim).http.post("/v2/video_regeneration", json=from_content(base_item(), prompt="é" * 40_000))
    assert answer.status_code == 200


def test_base_video_belongs_to_regeneration_only(sim, clients):
    sim, _ = sim
    bad(clients(sim).create(with_media(base_item())), "base_video is for /v2/video_regeneration only")


def test_faults_strike_the_other_creates_too(v2sim, clients):
    sim, _ = v2sim(v2=V2Config(faults={"drop_create": 1.0}))
    client = clients(sim)
    with pytest.raises(httpx.TransportError):
        client.http.post("/v2/h3_context_ir", json=ir())
    with pytest.raises(httpx.TransportError):
        client.http.post("/v2/video_regeneration", json=from_content(base_item()))
    assert [t["task_id"] for t in sim.v2_tasks()] and client.list().json()["total"] == 2
