"""The v2 API of the simulator over loopback HTTP, with a client written from minimax-api-v2.md:
every route, auth, the answers' exact shapes, list filters and paging, the 7-day window, the
cancel/delete matrix, expiring content URLs, the rendered file, and a restart on the same state dir.
Time moves only when a test moves the clock.
"""

from __future__ import annotations

import math

import httpx
import pytest
from v2api import (GRID, KEY, V2, audio_item, clients, data_uri, error_of, finish_all, image_item,  # noqa: F401
                   png_uri, probe, state_files, text, v2sim, video, video_item, wav, with_media)

from pipeline.sim.v2config import V2Config

DAY = 24 * 3600.0
FIXED = V2Config(queued=(10, 10), running=(100, 100))  # queued 10 s, then running 100 s


def statuses(client: V2, ids: list[str]) -> list[str]:
    return [client.task(i)["status"] for i in ids]


# --- create and query ------------------------------------------------------------------------------

def test_create_answers_200_with_only_a_task_id(v2sim, clients):
    sim, _ = v2sim()
    answer = clients(sim).create(text())
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"task_id"} and isinstance(body["task_id"], str)
    assert body["task_id"].isdigit() and len(body["task_id"]) == 15


def test_query_of_a_queued_task(v2sim, clients):
    sim, clock = v2sim()
    client = clients(sim)
    task_id = client.made(text(duration=7, ratio="4:3"))
    answer = client.query(task_id)
    assert answer.status_code == 200 and set(answer.json()) == {"task"}
    assert answer.json()["task"] == {
        "id": task_id, "model": "MiniMax-H3", "status": "queued", "created_at": int(clock.t),
        "updated_at": int(clock.t), "resolution": "768P", "duration": 7, "ratio": "4:3",
        "task_type": "generation", "modality": "video", "usage": {},
    }


def test_lifecycle_queued_running_succeeded_on_the_clock(v2sim, clients):
    sim, clock = v2sim(v2=FIXED)
    client = clients(sim)
    t0 = clock.t
    task_id = client.made(text())
    seen = []
    for step in (0, 9.5, 0.5, 99, 1):
        clock.advance(step)
        task = client.task(task_id)
        seen.append((task["status"], task["updated_at"] - int(t0), "content" in task, task["usage"] != {}))
    assert seen == [("queued", 0, False, False), ("queued", 0, False, False), ("running", 10, False, False),
                    ("running", 10, False, False), ("succeeded", 110, True, True)]


def test_default_timings_queue_up_to_60_s_and_run_60_to_300_s(v2sim, clients):
    sim, clock = v2sim()
    client = clients(sim)
    for _ in range(8):
        client.made(text())
    for task in sim.v2_tasks():
        assert 0 <= task["ready_at"] - task["created_at"] <= 60
        assert 60 <= task["finished_at"] - task["started_at"] <= 300
    clock.advance(360)
    assert {t["status"] for t in sim.v2_tasks()} == {"succeeded"}


def test_takes_are_counted_per_request_or_told_by_the_shots_headers(v2sim, clients):
    """As on v1: the n-th identical create is take n (its previz a seeded variation), unless the
    client says which shot and take it is (X-Shots-Shot/-Take, simulator-only hints)."""
    sim, _ = v2sim()
    client = clients(sim)
    client.made(text("The keeper turns [Static shot]"))
    client.made(text("The keeper turns [Static shot]"))
    client.http.post("/v2/video_generation", json=text("The keeper turns [Static shot]"),
                     headers={"X-Shots-Shot": "s02-keeper", "X-Shots-Take": "7"})
    assert [(t["take"], t["label"]) for t in sim.v2_tasks()] == [
        (1, "The keeper turns · #1"), (2, "The keeper turns · #2"), (7, "s02-keeper · take 7")]


def test_same_seed_same_ids_and_schedule(v2sim, clients):
    def run(seed: int) -> list[tuple]:
        sim, _ = v2sim(seed=seed)
        client = clients(sim)
        ids = [client.made(text()) for _ in range(3)]
        return [(i, t["ready_at"] - t["created_at"], t["finished_at"] - t["started_at"])
                for i, t in zip(ids, sim.v2_tasks())]

    assert run(5) == run(5) != run(6)


# --- auth and visibility --------------------------------------------------------------------------

ROUTES = [
    ("POST", "/v2/video_generation"),
    ("GET", "/v2/query/video_generation/123456789012345"),
    ("GET", "/v2/query/video_generation"),
    ("DELETE", "/v2/video_generation/123456789012345"),
]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("headers, code, message", [
    ({}, 1004, "login fail: Please carry the API secret key in the 'Authorization' field of the request header (1004)"),
    ({"Authorization": "Bearer nope"}, 1004, "login fail: the API secret key is not valid (1004)"),
    ({"Authorization": KEY}, 1004, "login fail: Please carry the API secret key"),  # no Bearer scheme
    ({"Authorization": "Bearer cn-key"}, 2049, "invalid api key (2049)"),
])
def test_auth_failures_are_401_authorized_error_on_every_route(v2sim, method, path, headers, code, message):
    sim, _ = v2sim(other_region_keys=("cn-key",))
    with httpx.Client(base_url=sim.base_url) as http:
        answer = http.request(method, path, json=text() if method == "POST" else None, headers=headers)
    status, kind, got, text_ = error_of(answer)
    assert (status, kind, got) == (401, "authorized_error", code) and text_.startswith(message)
    assert sim.v2_tasks() == []


def test_a_token_plan_key_gets_the_tokenplan_2013_for_h3_and_can_still_read(v2sim, clients):
    sim, _ = v2sim(v2=V2Config(token_plan_keys=("sk-cp-plan",)))
    client = clients(sim, "sk-cp-plan")
    for model in ("MiniMax-H3", "MiniMax-H3-Max"):
        got = error_of(client.create(text(model=model, resolution="768P")))
        assert got == (400, "bad_request_error", 2013,
                       "invalid params, TokenPlan 或 Credit 暂不支持 MiniMax-H3 系列模型 (2013)")
    assert client.list().json() == {"items": [], "total": 0}
    assert sim.v2_tasks() == []


def test_a_key_without_balance_gets_402_1008(v2sim, clients):
    sim, _ = v2sim(no_balance_keys=("poor-key",))
    got = error_of(clients(sim, "poor-key").create(text()))
    assert got == (402, "insufficient_balance_error", 1008, "insufficient balance (1008)")
    assert sim.v2_tasks() == []


def test_tasks_are_visible_only_to_their_key(v2sim, clients):
    sim, clock = v2sim(keys=("key-a", "key-b"))
    a, b = clients(sim, "key-a"), clients(sim, "key-b")
    task_id = a.made(text())
    finish_all(clock)
    for answer in (b.query(task_id), b.delete(task_id)):
        assert error_of(answer) == (400, "bad_request_error", 2013, "invalid params, invalid task_id (2013)")
    assert b.list().json() == {"items": [], "total": 0}
    assert a.list().json()["total"] == 1 and a.task(task_id)["status"] == "succeeded"


def test_v1_and_v2_tasks_do_not_mix(v2sim, clients):
    sim, _ = v2sim()
    client = clients(sim)
    task_id = client.made(text())
    v1 = client.http.get("/v1/query/video_generation", params={"task_id": task_id}).json()
    assert v1["base_resp"]["status_code"] == 2013 and sim.tasks() == []
    v1_id = client.http.post("/v1/video_generation", json={"model": "MiniMax-Hailuo-02", "prompt": "x"}).json()["task_id"]
    assert error_of(client.query(v1_id))[2] == 2013
    assert [t["task_id"] for t in sim.v2_tasks()] == [task_id]


def test_unknown_paths_and_methods(v2sim, clients):
    sim, _ = v2sim()
    client = clients(sim)
    assert client.http.get("/v2/video_generation").status_code == 405
    assert client.http.get("/v2/nope").status_code == 404
    assert client.http.get("/v2/query/video_generation/1/2").status_code == 404
    assert client.http.delete("/v2/video_generation/").status_code == 501
    assert client.http.delete("/v1/video_generation").status_code == 501  # v1 as before v2 existed
    assert client.http.get("/v2/video_regeneration").status_code == 405


def test_the_query_id_goes_in_the_path_not_the_query_string(v2sim, clients):
    """?task_id= on the list route is not a query by id: it lists (C2 pitfall 8)."""
    sim, _ = v2sim()
    client = clients(sim)
    ids = [client.made(text()) for _ in range(2)]
    answer = client.http.get("/v2/query/video_generation", params={"task_id": ids[0]}).json()
    assert answer["total"] == 2 and "task" not in answer


# --- list -----------------------------------------------------------------------------------------

@pytest.fixture
def listing(v2sim, clients):
    """Five tasks, one second apart: two H3 done, one H3-Max done and deleted... see the body."""
    sim, clock = v2sim(v2=FIXED)
    client = clients(sim)
    ids = []
    for n, model in enumerate(["MiniMax-H3", "MiniMax-H3-Max", "MiniMax-H3", "MiniMax-H3-Max", "MiniMax-H3"]):
        ids.append(client.made(text(f"shot {n}", model=model, duration=5 + n)))
        clock.advance(1)
    clock.advance(110)  # all done
    ids.append(client.made(text("late")))  # queued
    return client, clock, ids


def test_list_shape_newest_first_without_modality(listing):
    client, _, ids = listing
    answer = client.list()
    assert answer.status_code == 200 and set(answer.json()) == {"items", "total"}
    body = answer.json()
    assert body["total"] == 6 and [i["id"] for i in body["items"]] == ids[::-1]
    for item in body["items"]:
        assert "modality" not in item and "prompt" not in item
        assert set(item) >= {"id", "model", "status", "created_at", "updated_at", "resolution", "duration", "ratio",
                             "task_type", "usage"}
    done = body["items"][1]
    assert done["status"] == "succeeded" and done["content"]["url"] and done["usage"]["output_seconds"] == 9
    assert body["items"][0]["usage"] == {} and "content" not in body["items"][0]


def test_list_oldest_first_switch(v2sim, clients):
    sim, clock = v2sim(v2=V2Config(list_order="oldest"))
    client = clients(sim)
    ids = []
    for _ in range(3):
        ids.append(client.made(text()))
        clock.advance(1)
    assert [i["id"] for i in client.list().json()["items"]] == ids


@pytest.mark.parametrize("params, expected", [
    ({"filter.status": "succeeded"}, [4, 3, 2, 1, 0]),
    ({"filter.status": "queued"}, [5]),
    ({"filter.status": "failed"}, []),
    ({"filter.model": "MiniMax-H3-Max"}, [3, 1]),
    ({"filter.model": "MiniMax-H3"}, [5, 4, 2, 0]),
    ({"filter.task_type": "generation"}, [5, 4, 3, 2, 1, 0]),
    ({"filter.task_type": "regeneration"}, []),
    ({"filter.model": "MiniMax-H3", "filter.status": "succeeded"}, [4, 2, 0]),
])
def test_list_filters(listing, params, expected):
    client, _, ids = listing
    body = client.list(params).json()
    assert [i["id"] for i in body["items"]] == [ids[n] for n in expected] and body["total"] == len(expected)


def test_list_task_ids_comma_and_repeated_forms(listing):
    client, _, ids = listing
    comma = client.list({"filter.task_ids": f"{ids[0]},{ids[2]}, {ids[4]}"}).json()
    repeated = client.list([("filter.task_ids", ids[0]), ("filter.task_ids", ids[2]),
                            ("filter.task_ids", ids[4])]).json()
    mixed = client.list([("filter.task_ids", f"{ids[0]},{ids[2]}"), ("filter.task_ids", ids[4]),
                         ("filter.task_ids", "999999999999999")]).json()
    for body in (comma, repeated, mixed):
        assert [i["id"] for i in body["items"]] == [ids[4], ids[2], ids[0]] and body["total"] == 3
    both = client.list({"filter.task_ids": ",".join(ids), "filter.status": "queued"}).json()
    assert [i["id"] for i in both["items"]] == [ids[5]]


def test_list_paging_and_total(listing):
    client, _, ids = listing
    pages = [client.list({"page_num": n, "page_size": 4}).json() for n in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [4, 2, 0] and {p["total"] for p in pages} == {6}
    assert [i["id"] for p in pages for i in p["items"]] == ids[::-1]
    assert len(client.list().json()["items"]) == 6  # page_size defaults to 20
    assert len(client.list({"page_size": 100}).json()["items"]) == 6


@pytest.mark.parametrize("params, fragment", [
    ({"page_num": "0"}, "page_num must be a whole number >= 1"),
    ({"page_num": "x"}, "page_num must be a whole number >= 1"),
    ({"page_size": "0"}, "page_size must be a whole number from 1 to 100"),
    ({"page_size": "101"}, "page_size must be a whole number from 1 to 100"),
    ({"filter.status": "done"}, "filter.status must be one of queued, running, succeeded, failed, cancelled"),
    ({"filter.task_type": "video"}, "filter.task_type must be one of generation, h3_context_ir, regeneration"),
])
def test_list_parameter_errors(v2sim, clients, params, fragment):
    sim, _ = v2sim()
    status, kind, code, message = error_of(clients(sim).list(params))
    assert (status, kind, code) == (400, "bad_request_error", 2013) and fragment in message


# --- the 7-day window -------------------------------------------------------------------------------

def test_query_and_list_see_only_the_last_seven_days(v2sim, clients):
    sim, clock = v2sim()
    client = clients(sim)
    old = client.made(text("old"))
    clock.advance(DAY)
    new = client.made(text("new"))
    clock.advance(6 * DAY)  # old is exactly 7 days old: still inside [now - 7d, now]
    assert client.task(old)["status"] == "succeeded" and client.list().json()["total"] == 2
    clock.advance(1)
    assert error_of(client.query(old)) == (400, "bad_request_error", 2013, "invalid params, invalid task_id (2013)")
    assert error_of(client.delete(old))[2] == 2013
    body = client.list({"filter.status": "succeeded"}).json()
    assert body["total"] == 1 and [i["id"] for i in body["items"]] == [new]
    assert client.list({"filter.task_ids": f"{old},{new}"}).json()["total"] == 1


def test_the_window_is_a_switch(v2sim, clients):
    sim, clock = v2sim(v2=V2Config(window=None))
    client = clients(sim)
    task_id = client.made(text())
    clock.advance(30 * DAY)
    assert client.task(task_id)["status"] == "succeeded"


def test_the_window_follows_time_scale(v2sim, clients):
    sim, clock = v2sim(time_scale=0.001)  # 7 simulated days = 604.8 real seconds
    client = clients(sim)
    task_id = client.made(text())
    clock.advance(604)
    assert client.task(task_id)["status"] == "succeeded"
    clock.advance(1)
    assert error_of(client.query(task_id))[2] == 2013


# --- cancel / delete ---------------------------------------------------------------------------------

def test_delete_a_queued_task_cancels_it_for_free(v2sim, clients):
    sim, clock = v2sim(v2=FIXED)
    client = clients(sim)
    task_id = client.made(text())
    clock.advance(5)
    answer = client.delete(task_id)
    assert answer.status_code == 200
    assert answer.json() == {"task_id": task_id, "action": "cancelled", "status": "cancelled"}
    clock.advance(500)
    task = client.task(task_id)
    assert task["status"] == "cancelled" and task["usage"] == {} and "content" not in task and "error" not in task
    assert task["updated_at"] == int(task["created_at"] + 5)
    assert client.list({"filter.status": "cancelled"}).json()["total"] == 1
    got = error_of(client.delete(task_id))
    assert got[:3] == (400, "bad_request_error", 2013) and "already cancelled" in got[3]


def test_a_running_task_cannot_be_cancelled(v2sim, clients):
    sim, clock = v2sim(v2=FIXED)
    client = clients(sim)
    task_id = client.made(text())
    clock.advance(50)
    got = error_of(client.delete(task_id))
    assert got[:3] == (400, "bad_request_error", 2013) and "running and cannot be cancelled" in got[3]
    clock.advance(60)
    assert client.task(task_id)["status"] == "succeeded"  # it ran on, and bills


@pytest.mark.parametrize("faults, final", [({}, "succeeded"), ({"fail_1026": 1.0}, "failed")])
def test_delete_a_finished_task_removes_it_from_query_list_and_its_url(v2sim, clients, http_client, faults, final):
    sim, clock = v2sim(v2=V2Config(queued=(10, 10), running=(100, 100), faults=faults))
    client = clients(sim)
    task_id = client.made(text())
    clock.advance(111)
    task = client.task(task_id)
    assert task["status"] == final
    answer = client.delete(task_id)
    assert answer.status_code == 200
    assert answer.json() == {"task_id": task_id, "action": "deleted", "status": "deleted"}
    assert error_of(client.query(task_id))[2] == 2013 and error_of(client.delete(task_id))[2] == 2013
    assert client.list().json() == {"items": [], "total": 0}
    if final == "succeeded":
        assert http_client.get(task["content"]["url"]).status_code == 404


@pytest.fixture
def http_client():
    with httpx.Client(timeout=30) as http:
        yield http


# --- answers: usage, error, URLs ----------------------------------------------------------------------

def test_usage_only_on_success_and_error_code_a_string(v2sim, clients):
    sim, clock = v2sim(v2=V2Config(faults={"fail_1026": 1.0}))
    client = clients(sim)
    task_id = client.made(text())
    clock.advance(400)
    task = client.task(task_id)
    assert task["status"] == "failed" and task["usage"] == {} and "content" not in task
    assert task["error"] == {"code": "1026", "message": "video description contains sensitive content"}
    assert isinstance(task["error"]["code"], str)
    assert sim.stats()["faults"] == {"v2_fail_1026": 1}


def test_usage_of_a_text_task(v2sim, clients):
    sim, clock = v2sim()
    client = clients(sim)
    task_id = client.made(text(duration=8, resolution="2K"))
    clock.advance(400)
    usage = client.task(task_id)["usage"]
    assert usage["total_seconds"] == usage["input_seconds"] + usage["output_seconds"] == 8
    assert (usage["input_seconds"], usage["output_seconds"], usage["input_image_count"]) == (0, 8, 0)
    assert "input_audio_seconds" not in usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_content_url_expires_and_a_fresh_one_comes_with_each_query(v2sim, clients, http_client):
    sim, clock = v2sim(v2=V2Config(url_ttl=600))
    client = clients(sim)
    task_id = client.made(text(duration=4))
    clock.advance(400)
    first = client.task(task_id)["content"]["url"]
    assert first.startswith(sim.base_url + "/inference_output/") and "Expires=" in first
    video_bytes = http_client.get(first)
    assert video_bytes.status_code == 200 and video_bytes.headers["content-type"] == "video/mp4"
    clock.advance(599)
    assert http_client.get(first).status_code == 200
    clock.advance(1)
    dead = http_client.get(first)
    assert dead.status_code == 403 and b"Request has expired" in dead.content
    fresh = client.task(task_id)["content"]["url"]
    assert fresh != first
    again = http_client.get(fresh)
    assert again.status_code == 200 and again.content == video_bytes.content  # re-query, never regenerate
    assert http_client.get(fresh.replace("Signature=", "Signature=0")).status_code == 403
    assert http_client.get(fresh.replace(task_id, "123456789012345")).status_code == 404


def test_url_ttl_follows_time_scale(v2sim, clients, http_client):
    sim, clock = v2sim(time_scale=0.01, v2=V2Config(url_ttl=1000))  # 10 real seconds
    client = clients(sim)
    task_id = client.made(text(duration=4))
    clock.advance(4)
    url = client.task(task_id)["content"]["url"]
    clock.advance(9.9)
    assert http_client.get(url).status_code == 200
    clock.advance(0.2)
    assert http_client.get(url).status_code == 403


def test_downloads_honour_a_range(v2sim, clients, http_client):
    sim, clock = v2sim()
    client = clients(sim)
    task_id = client.made(text(duration=4))
    clock.advance(400)
    url = client.task(task_id)["content"]["url"]
    whole = http_client.get(url).content
    part = http_client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]


# --- the rendered file (A10) -------------------------------------------------------------------------

def grid_frames(seconds: int) -> int:
    return min(n for n in GRID if n >= 24 * seconds)


def assert_h3_file(data: bytes, seconds: int, ratio: float) -> dict:
    p = probe(data)
    assert p["fps"] == 24 and p["frames"] == grid_frames(seconds) and p["frames"] in GRID
    assert p["audio_rate"] == 32000 and p["channels"] == 2 and p["audio_codec"] == "aac"
    assert math.isclose(p["width"] / p["height"], ratio, rel_tol=0.04), p
    assert p["seconds"] == p["frames"] / 24 >= seconds  # never shorter than asked
    return p


@pytest.mark.parametrize("seconds, ratio, value", [(4, "16:9", 16 / 9), (5, "9:16", 9 / 16), (15, "21:9", 1472 / 640)])
def test_a_text_task_end_to_end(v2sim, clients, http_client, seconds, ratio, value):
    sim, clock = v2sim()
    client = clients(sim)
    task_id = client.made(text(duration=seconds, ratio=ratio))
    clock.advance(400)
    task = client.task(task_id)
    assert (task["status"], task["duration"], task["ratio"]) == ("succeeded", seconds, ratio)
    assert_h3_file(http_client.get(task["content"]["url"]).content, seconds, value)


def test_a_first_frame_task_end_to_end(v2sim, clients, http_client):
    sim, clock = v2sim()
    client = clients(sim)
    body = with_media(image_item(png_uri(600, 800), "first_frame"), duration=6, ratio="16:9")
    task_id = client.made(body)
    clock.advance(400)
    task = client.task(task_id)
    assert (task["status"], task["ratio"]) == ("succeeded", "3:4")  # the 16:9 asked for is ignored
    assert task["usage"]["input_image_count"] == 1 and task["usage"]["input_seconds"] == 0
    assert_h3_file(http_client.get(task["content"]["url"]).content, 6, 3 / 4)


def test_a_first_and_last_frame_task_end_to_end(v2sim, clients, http_client):
    sim, clock = v2sim()
    client = clients(sim)
    body = with_media(image_item(png_uri(800, 800), "first_frame"), image_item(png_uri(800, 800), "last_frame"),
                      duration=5)
    task_id = client.made(body)
    clock.advance(400)
    task = client.task(task_id)
    assert (task["status"], task["ratio"], task["usage"]["input_image_count"]) == ("succeeded", "1:1", 2)
    assert_h3_file(http_client.get(task["content"]["url"]).content, 5, 1.0)


def test_a_reference_task_end_to_end(v2sim, clients, http_client):
    sim, clock = v2sim()
    client = clients(sim)
    body = with_media(image_item(png_uri(640, 360), "reference_image"),
                      image_item("https://cdn.example.invalid/second.png", "reference_image"),
                      video_item(data_uri("video/mp4", video(seconds=2.5, audio_codec=None))),
                      audio_item(data_uri("audio/wav", wav(6))), duration=8, ratio="9:16")
    task_id = client.made(body)
    clock.advance(400)
    task = client.task(task_id)
    assert (task["status"], task["ratio"], task["duration"]) == ("succeeded", "9:16", 8)
    usage = task["usage"]
    assert (usage["input_seconds"], usage["output_seconds"], usage["total_seconds"]) == (3, 8, 11)
    assert (usage["input_image_count"], usage["input_audio_seconds"]) == (2, 6)
    assert_h3_file(http_client.get(task["content"]["url"]).content, 8, 9 / 16)


def test_h3_max_at_480p(v2sim, clients, http_client):
    sim, clock = v2sim()
    client = clients(sim)
    task_id = client.made(text(model="MiniMax-H3-Max", resolution="480P", duration=5, ratio="4:3",
                               extra={"prompt_expansion_mode": "quality"}))
    clock.advance(400)
    task = client.task(task_id)
    assert (task["model"], task["resolution"], task["status"]) == ("MiniMax-H3-Max", "480P", "succeeded")
    assert_h3_file(http_client.get(task["content"]["url"]).content, 5, 4 / 3)


# --- persistence ------------------------------------------------------------------------------------

def test_a_simulator_on_the_same_state_dir_answers_for_the_v2_tasks(v2sim, clients, http_client, tmp_path):
    state = tmp_path / "state"
    sim, clock = v2sim(state_dir=state, v2=FIXED)
    client = clients(sim)
    done = client.made(with_media(image_item(png_uri(600, 800), "first_frame"), duration=4))
    deleted = client.made(text("deleted", duration=4))
    clock.advance(111)
    running = client.made(text("running"))
    clock.advance(10)
    cancelled = client.made(text("cancelled"))
    assert client.delete(running).status_code == 400
    assert client.delete(cancelled).json()["action"] == "cancelled"
    assert client.delete(deleted).json()["action"] == "deleted"
    before = {i: client.task(i) for i in (done, running, cancelled)}
    assert [t["status"] for t in before.values()] == ["succeeded", "running", "cancelled"]
    first_video = http_client.get(before[done]["content"]["url"]).content
    sim.stop()

    again, _ = v2sim(clock=clock, state_dir=state, v2=FIXED)
    other = clients(again)
    after = {i: other.task(i) for i in before}
    for i in before:
        assert {k: v for k, v in after[i].items() if k != "content"} == {k: v for k, v in before[i].items()
                                                                          if k != "content"}
    assert error_of(other.query(deleted))[2] == 2013
    assert other.list().json()["total"] == 3
    assert http_client.get(after[done]["content"]["url"]).content == first_video  # rendered again, the same
    assert again.tasks() == []  # the v1 loader never sees a v2 line
    clock.advance(100)
    assert other.task(running)["status"] == "succeeded"
    new_id = other.made(text())
    assert new_id not in before and new_id != deleted
    for path in state_files(state):
        assert KEY.encode() not in path.read_bytes(), path
    assert (state / "v2" / "tasks.jsonl").exists()


def test_a_torn_v2_line_loses_only_that_task(v2sim, clients, tmp_path):
    state = tmp_path / "state"
    sim, clock = v2sim(state_dir=state)
    kept = clients(sim).made(text())
    sim.stop()
    with open(state / "v2" / "tasks.jsonl", "ab") as f:
        f.write(b'{"v": 1, "kind": "task", "task_id": "1234')
    again, _ = v2sim(clock=clock, state_dir=state)
    client = clients(again)
    added = client.made(text())
    assert [t["task_id"] for t in again.v2_tasks()] == [kept, added]
