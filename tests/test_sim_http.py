"""The simulator over real loopback HTTP: routes, auth, visibility, lifecycle, files, stats."""

from __future__ import annotations

import io
import json
import time

import av
import pytest

T2V = {"model": "MiniMax-Hailuo-02", "prompt": "A lighthouse at dusk [Push in]"}


@pytest.fixture
def sim(sim_factory):
    """Quicker than the shared one: generation in ~0.05 s and small previews (the renderer has
    its own tests at full size)."""
    return sim_factory(time_scale=0.0002, render_height=90, render_fps=6)


def finished(api, sim, **body) -> tuple[object, dict]:
    client = api(sim)
    created = client.create(**(body or T2V))
    assert created["base_resp"] == {"status_code": 0, "status_msg": "success"}, created
    return client, client.wait(created["task_id"])


def test_create_answer_shape(sim, api):
    answer = api(sim).create(**T2V)
    assert set(answer) == {"task_id", "base_resp"}
    assert answer["task_id"].isdigit() and 15 <= len(answer["task_id"]) <= 18


def test_lifecycle_reaches_success_with_string_file_id_then_int_in_retrieve(http, sim, api):
    client, done = finished(api, sim, model="MiniMax-Hailuo-02", prompt="x", resolution="1080P")
    assert done["status"] == "Success"
    assert isinstance(done["file_id"], str) and done["file_id"].isdigit()
    assert (done["video_width"], done["video_height"]) == (1920, 1080)
    file = client.retrieve(done["file_id"])
    assert file["base_resp"]["status_code"] == 0
    info = file["file"]
    assert info["file_id"] == int(done["file_id"]) and isinstance(info["file_id"], int)
    assert info["filename"] == "output_aigc.mp4" and info["purpose"] == "video_generation"
    assert isinstance(info["created_at"], int) and info["bytes"] > 0
    video = http.get(info["download_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert len(video.content) == info["bytes"] == int(video.headers["content-length"])


def test_statuses_seen_in_order(sim_factory, api):
    sim = sim_factory(time_scale=0.05, preparing=(3, 3), queueing=(3, 3), processing=(3, 3))  # 0.15 s each
    client = api(sim)
    task_id = client.create(**T2V)["task_id"]
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not seen or seen[-1] != "Success"):
        status = client.query(task_id)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.01)
    assert seen == ["Preparing", "Queueing", "Processing", "Success"]


def test_query_in_progress_has_no_file_fields(sim_factory, api):
    sim = sim_factory(time_scale=1.0)
    client = api(sim)
    answer = client.query(client.create(**T2V)["task_id"])
    assert answer["status"] == "Preparing"
    assert "file_id" not in answer and "video_width" not in answer


def test_image_to_video_size_follows_first_frame(sim, api, data_url):
    _, done = finished(api, sim, model="MiniMax-Hailuo-02", first_frame_image=data_url(400, 600))
    assert (done["video_width"], done["video_height"]) == (512, 768)  # 768 * 2/3, even


def test_unknown_path_is_404_with_json(http, sim):
    r = http.get(f"{sim.base_url}/v1/video_generation/123")
    assert r.status_code == 404 and r.json()["error"]
    assert http.post(f"{sim.base_url}/v1/v1/video_generation", json={}).status_code == 404
    assert http.get(f"{sim.base_url}/v1/video_generation").status_code == 405


def test_trace_id_on_every_answer(http, sim, api, data_url):
    client, done = finished(api, sim)
    url = client.retrieve(done["file_id"])["file"]["download_url"]
    answers = [
        client.http.post("/v1/video_generation", json=T2V),
        client.http.post("/v1/video_generation", content=b"not json"),
        client.http.get("/v1/query/video_generation", params={"task_id": done["task_id"]}),
        client.http.get("/v1/files/retrieve", params={"file_id": done["file_id"]}),
        client.http.get("/v1/files/retrieve_content", params={"file_id": done["file_id"]}),
        http.get(url),
        http.get(f"{sim.base_url}/download/nope"),
        http.get(f"{sim.base_url}/nope"),
        http.get(f"{sim.base_url}/_sim/stats"),
        http.get(f"{sim.base_url}/_sim/tasks"),
        http.get(f"{sim.base_url}/_sim/blob?bytes=10"),
        http.request("PUT", f"{sim.base_url}/v1/video_generation"),  # the standard library's own 501
    ]
    traces = [r.headers.get("Trace-Id") for r in answers]
    assert all(t and len(t) == 32 and int(t, 16) >= 0 for t in traces), traces
    assert len(set(traces)) == len(traces)


@pytest.mark.parametrize("headers, code", [
    ({}, 1004),
    ({"Authorization": "Bearer nope"}, 1004),
    ({"Authorization": "sim-key"}, 1004),  # no Bearer scheme
    ({"Authorization": "Bearer cn-key"}, 2049),
])
def test_auth_failures_on_every_api_route(http, sim_factory, headers, code):
    sim = sim_factory(other_region_keys=("cn-key",))
    base = sim.base_url
    create = http.post(f"{base}/v1/video_generation", json=T2V, headers=headers).json()
    assert create["task_id"] == "" and create["base_resp"]["status_code"] == code
    for path, params in [("/v1/query/video_generation", {"task_id": "1"}), ("/v1/files/retrieve", {"file_id": "1"}),
                         ("/v1/files/retrieve_content", {"file_id": "1"})]:
        answer = http.get(base + path, params=params, headers=headers)
        assert answer.status_code == 200 and answer.json()["base_resp"]["status_code"] == code
    assert sim.tasks() == []


def test_wrong_region_message(http, sim_factory):
    sim = sim_factory(other_region_keys=("cn-key",))
    r = http.post(f"{sim.base_url}/v1/video_generation", json=T2V, headers={"Authorization": "Bearer cn-key"})
    assert r.json()["base_resp"]["status_msg"] == "invalid api key"


def test_no_balance_key_cannot_create(sim_factory, api):
    sim = sim_factory(keys=("sim-key",), no_balance_keys=("poor-key",))
    answer = api(sim, "poor-key").create(**T2V)
    assert answer == {"task_id": "", "base_resp": {"status_code": 1008, "status_msg": "insufficient balance"}}
    assert sim.tasks() == [] and sim.stats()["tasks_created"] == 0


def test_tasks_and_files_visible_only_to_their_key(sim_factory, api):
    sim = sim_factory(keys=("key-a", "key-b"))
    a, b = api(sim, "key-a"), api(sim, "key-b")
    done = a.wait(a.create(**T2V)["task_id"])
    other = b.query(done["task_id"])
    assert other["base_resp"]["status_code"] == 2013 and "not found" in other["base_resp"]["status_msg"]
    assert b.retrieve(done["file_id"])["base_resp"]["status_code"] == 2013
    content = b.http.get("/v1/files/retrieve_content", params={"file_id": done["file_id"]})
    assert content.json()["base_resp"]["status_code"] == 2013
    assert a.retrieve(done["file_id"])["base_resp"]["status_code"] == 0
    assert a.query("999999999999999")["base_resp"]["status_code"] == 2013


def test_query_and_retrieve_parameter_errors(sim, api):
    client = api(sim)
    assert client.http.get("/v1/query/video_generation").json()["base_resp"] == {
        "status_code": 2013, "status_msg": "invalid params, binding: expr_path=task_id, cause=missing required parameter"}
    assert client.http.get("/v1/files/retrieve").json()["base_resp"]["status_code"] == 2013
    bad = client.retrieve("abc")["base_resp"]
    assert bad["status_code"] == 2013 and "file_id" in bad["status_msg"]


def test_file_not_retrievable_before_success(sim_factory, api):
    sim = sim_factory(time_scale=1.0)
    client = api(sim)
    client.create(**T2V)
    file_id = sim.tasks()[0]["file_id"]  # known to the simulator before the query reveals it
    assert client.retrieve(file_id)["base_resp"]["status_code"] == 2013


def test_retrieve_accepts_and_ignores_group_id(sim, api):
    client, done = finished(api, sim)
    answer = client.http.get("/v1/files/retrieve", params={"GroupId": "123", "file_id": done["file_id"]}).json()
    assert answer["base_resp"]["status_code"] == 0 and answer["file"]["file_id"] == int(done["file_id"])


def test_download_url_expires_and_a_new_retrieve_gives_a_working_one(http, sim_factory, api):
    sim = sim_factory(time_scale=0.001, url_ttl=600)  # 0.6 s
    client, done = finished(api, sim)
    url = client.retrieve(done["file_id"])["file"]["download_url"]
    assert url.startswith(f"{sim.base_url}/download/") and "expires=" in url
    assert http.get(url).status_code == 200
    time.sleep(0.65)
    expired = http.get(url)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    fresh = client.retrieve(done["file_id"])["file"]["download_url"]
    assert fresh != url and http.get(fresh).status_code == 200


def test_unknown_download_token_is_404(http, sim):
    assert http.get(f"{sim.base_url}/download/no-such-token?expires=1").status_code == 404


def test_retrieve_content_gives_the_same_bytes(http, sim, api):
    client, done = finished(api, sim)
    url = client.retrieve(done["file_id"])["file"]["download_url"]
    content = client.http.get("/v1/files/retrieve_content", params={"file_id": int(done["file_id"])})
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    assert content.content == http.get(url).content


def test_download_honours_a_byte_range(http, sim, api):
    client, done = finished(api, sim)
    url = client.retrieve(done["file_id"])["file"]["download_url"]
    whole = http.get(url).content
    part = http.get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == whole[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(whole) - 1}/{len(whole)}"
    assert http.get(url, headers={"Range": "bytes=10-19"}).content == whole[10:20]
    assert http.get(url, headers={"Range": f"bytes={len(whole)}-"}).status_code == 416


@pytest.mark.parametrize("mode_body", [
    {"model": "MiniMax-Hailuo-02", "prompt": "a title", "duration": 10},
    {"model": "MiniMax-Hailuo-02", "first_frame_image": "IMG"},
    {"model": "MiniMax-Hailuo-02", "first_frame_image": "IMG", "last_frame_image": "IMG", "duration": 10},
    {"model": "S2V-01", "prompt": "she smiles", "subject_reference": [{"type": "character", "image": ["IMG"]}]},
], ids=["t2v-10s", "i2v", "fl2v-10s", "s2v"])
def test_downloaded_video_is_h264_of_the_requested_duration(http, sim, api, data_url, mode_body):
    body = json.loads(json.dumps(mode_body).replace('"IMG"', json.dumps(data_url(640, 480))))
    client, done = finished(api, sim, **body)
    video = http.get(client.retrieve(done["file_id"])["file"]["download_url"]).content
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert container.duration / 1e6 == pytest.approx(body.get("duration", 6), abs=0.05)
        height = sim.cfg.render_height
        assert stream.height == height and stream.width == round(height * done["video_width"] / done["video_height"] / 2) * 2


def test_renders_once_and_caches_by_file(sim, api):
    client, done = finished(api, sim)
    first = client.retrieve(done["file_id"])["file"]
    renders = list(sim.engine.videos.directory.glob("*.mp4"))
    second = client.retrieve(done["file_id"])["file"]
    assert first["bytes"] == second["bytes"] and list(sim.engine.videos.directory.glob("*.mp4")) == renders
    assert len(renders) == 1 and renders[0].name.startswith(done["file_id"])


def test_blob_streams_exactly_n_bytes(http, sim):
    for n in (0, 1, 65536, 1_000_003):
        r = http.get(f"{sim.base_url}/_sim/blob", params={"bytes": n})
        assert r.status_code == 200 and int(r.headers["content-length"]) == n == len(r.content)
    assert http.get(f"{sim.base_url}/_sim/blob", params={"bytes": "-1"}).status_code == 400


def test_body_of_27_mb_is_accepted_and_over_32_mb_refused(sim, api):
    client = api(sim)
    filler = "x" * (27 * 1024 * 1024)
    ok = client.create(**T2V, callback_note=filler)  # an unknown field is ignored, as JSON binding does
    assert ok["base_resp"]["status_code"] == 0
    too_big = client.http.post("/v1/video_generation", content=b"{" + b" " * (33 * 1024 * 1024) + b"}",
                               headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413 and too_big.json()["base_resp"]["status_code"] == 2013


def test_chunked_body_is_read(sim, api):
    client = api(sim)
    body = json.dumps(T2V).encode()
    r = client.http.post("/v1/video_generation", content=iter([body[:10], body[10:]]))
    assert r.json()["base_resp"]["status_code"] == 0


def test_keep_alive_reuses_one_connection(sim, api):
    client = api(sim)
    ports = set()
    for _ in range(5):
        with client.http.stream("GET", "/_sim/stats") as r:
            r.read()
            ports.add(r.extensions["network_stream"].get_extra_info("client_addr")[1])
    assert len(ports) == 1


def test_stats_count_requests_answers_keys_and_fingerprints(http, sim_factory, api):
    sim = sim_factory(keys=("alpha-key", "beta-key"))
    a, b = api(sim, "alpha-key"), api(sim, "beta-key")
    done = a.wait(a.create(**T2V)["task_id"])
    a.create(**T2V)
    b.create(model="MiniMax-Hailuo-2.3-Fast", prompt="x")  # 2013: Fast has no text-to-video
    url = a.retrieve(done["file_id"])["file"]["download_url"]
    size = len(http.get(url).content)
    http.get(f"{sim.base_url}/nowhere")
    stats = http.get(f"{sim.base_url}/_sim/stats").json()
    direct = sim.stats()  # the same dict, less the stats request itself
    assert {k: v for k, v in direct.items() if k not in ("requests", "answers")} == \
        {k: v for k, v in stats.items() if k not in ("requests", "answers")}
    queries = stats["by_key"]["alph…"]["query"]
    assert stats["requests"]["create"] == 3 and stats["requests"]["query"] == queries
    assert stats["requests"]["retrieve"] == 1 and stats["requests"]["download"] == 1
    assert stats["requests"]["other"] == 1
    assert stats["by_key"]["alph…"]["create"] == 2 and stats["by_key"]["beta…"] == {"create": 1}
    assert stats["answers"]["2013"] == 1 and stats["answers"]["http_404"] == 1
    assert stats["answers"]["0"] == 2 + queries + 1
    assert stats["tasks_created"] == 2
    assert list(stats["creates_by_fingerprint"].values()) == [2]  # the same body twice
    assert stats["downloads_bytes"] == size
    assert stats["faults"] == {}
    sim.reset_stats()
    assert sim.stats()["tasks_created"] == 0 and sim.stats()["requests"]["create"] == 0


def test_sim_tasks_lists_tasks_with_redacted_keys(http, sim, api):
    client, done = finished(api, sim)
    tasks = http.get(f"{sim.base_url}/_sim/tasks").json()
    assert len(tasks) == 1
    task = tasks[0]
    assert task["task_id"] == done["task_id"] and task["key"] == "sim-…" and task["status"] == "Success"
    assert task["file_id"] == done["file_id"] and task["mode"] == "text_to_video"
    assert task["created_at"] <= task["started_at"] <= task["finished_at"]
    assert "sim-key" not in json.dumps(tasks)


def test_concurrency_cap_keeps_later_tasks_queueing(sim_factory, api):
    sim = sim_factory(time_scale=1.0, concurrency=2, preparing=(0, 0), queueing=(0, 0), processing=(30, 30))
    client = api(sim)
    ids = [client.create(**T2V)["task_id"] for _ in range(4)]
    assert [client.query(i)["status"] for i in ids] == ["Processing", "Processing", "Queueing", "Queueing"]
    tasks = {t["task_id"]: t for t in sim.tasks()}
    assert tasks[ids[2]]["started_at"] == tasks[ids[0]]["finished_at"]
    assert tasks[ids[3]]["started_at"] == tasks[ids[1]]["finished_at"]
    # the cap is per key: another key's task starts at once
    other = sim_factory(keys=("sim-key", "other"), time_scale=1.0, concurrency=1, preparing=(0, 0),
                        queueing=(0, 0), processing=(30, 30))
    api(other).create(**T2V)
    assert api(other, "other").query(api(other, "other").create(**T2V)["task_id"])["status"] == "Processing"


def test_same_seed_same_ids(sim_factory, api):
    first = [api(s).create(**T2V)["task_id"] for s in [sim_factory(seed=7)] for _ in range(3)]
    again = [api(s).create(**T2V)["task_id"] for s in [sim_factory(seed=7)] for _ in range(3)]
    other = [api(s).create(**T2V)["task_id"] for s in [sim_factory(seed=8)] for _ in range(3)]
    assert first == again and first != other


def test_simulator_binds_a_given_port_and_refuses_non_loopback(http, sim_factory):
    from pipeline.sim import SimConfig, Simulator

    probe = sim_factory()
    port = probe.port
    probe.stop()
    with Simulator(SimConfig(), port=port) as sim:
        assert sim.base_url == f"http://127.0.0.1:{port}"
        assert http.get(f"{sim.base_url}/_sim/stats").status_code == 200
    with pytest.raises(ValueError, match="loopback"):
        Simulator(SimConfig(), host="0.0.0.0")


def test_counts_hold_under_concurrent_clients(sim, api):
    from concurrent.futures import ThreadPoolExecutor

    clients = [api(sim) for _ in range(8)]

    def burst(client) -> list[str]:
        return [client.create(**T2V)["task_id"] for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        ids = [task_id for batch in pool.map(burst, clients) for task_id in batch]
    stats = sim.stats()
    assert len(set(ids)) == 200 and all(ids)
    assert stats["requests"]["create"] == stats["tasks_created"] == stats["answers"]["0"] == 200
    assert stats["by_key"]["sim-…"]["create"] == 200 and len(sim.tasks()) == 200
