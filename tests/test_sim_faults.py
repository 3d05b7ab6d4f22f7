"""Each injected fault, seen from the client side, and counted in the stats."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

T2V = {"model": "MiniMax-Hailuo-02", "prompt": "A harbour at night"}


def raw_request(sim, request: bytes) -> tuple[bytes, BaseException | None]:
    """Send raw bytes; return what came back before the connection ended, and how it ended."""
    host, port = sim.base_url.removeprefix("http://").split(":")
    received, error = b"", None
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            error = exc
    return received, error


@pytest.fixture
def sim(sim_factory):
    return sim_factory(time_scale=0.0002, render_height=90, render_fps=6)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sim-key\r\n\r\n".encode()


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1013, 1033])
def test_error_faults_answer_base_resp_on_every_api_call_and_make_no_task(sim_factory, api, code):
    sim = sim_factory(faults={f"error_{code}": 1.0})
    client = api(sim)
    create = client.create(**T2V)
    assert create["task_id"] == "" and create["base_resp"]["status_code"] == code
    assert client.query("123456789012345")["base_resp"]["status_code"] == code
    assert client.retrieve(1)["base_resp"]["status_code"] == code
    assert client.http.get("/v1/files/retrieve_content", params={"file_id": 1}).json()["base_resp"]["status_code"] == code
    assert sim.tasks() == []
    stats = sim.stats()
    assert stats["faults"] == {f"error_{code}": 4} and stats["answers"][str(code)] == 4
    assert stats["tasks_created"] == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_faults_answer_an_error_page_and_make_no_task(sim_factory, api, http, status):
    sim = sim_factory(faults={f"http_{status}": 1.0})
    client = api(sim)
    create = client.http.post("/v1/video_generation", json=T2V)
    assert create.status_code == status and create.content and "Trace-Id" in create.headers
    assert client.http.get("/v1/query/video_generation", params={"task_id": "1"}).status_code == status
    assert sim.tasks() == []
    assert http.get(f"{sim.base_url}/_sim/stats").status_code == 200  # never on the simulator's own routes
    stats = sim.stats()
    assert stats["faults"] == {f"http_{status}": 2} and stats["answers"][f"http_{status}"] == 2


def test_reset_sends_rst_before_processing(sim_factory, api):
    sim = sim_factory(faults={"reset": 1.0})
    body = b'{"model": "MiniMax-Hailuo-02", "prompt": "x"}'
    received, error = raw_request(sim, b"POST /v1/video_generation HTTP/1.1\r\nHost: x\r\n"
                                       b"Authorization: Bearer sim-key\r\nContent-Type: application/json\r\n"
                                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert received == b"" and isinstance(error, ConnectionResetError)
    with pytest.raises(httpx.TransportError):
        api(sim).create(**T2V)
    assert sim.tasks() == [] and sim.stats()["faults"] == {"reset": 2}


def test_slow_delays_then_answers_normally(sim_factory, api):
    sim = sim_factory(faults={"slow": 1.0}, slow_seconds=0.3)
    started = time.monotonic()
    answer = api(sim).create(**T2V)
    assert time.monotonic() - started >= 0.3
    assert answer["base_resp"]["status_code"] == 0 and len(sim.tasks()) == 1
    assert sim.stats()["faults"] == {"slow": 1}


def test_drop_create_makes_the_task_then_loses_the_answer(sim_factory, api):
    sim = sim_factory(faults={"drop_create": 1.0})
    with pytest.raises(httpx.TransportError):
        api(sim).create(**T2V)
    assert len(sim.tasks()) == 1  # the task exists (and would be billed): the create is "uncertain"
    stats = sim.stats()
    assert stats["tasks_created"] == 1 and stats["faults"] == {"drop_create": 1}
    assert sum(stats["creates_by_fingerprint"].values()) == 1
    sim.set_faults({})
    assert api(sim).create(**T2V)["base_resp"]["status_code"] == 0  # only creates are dropped


def _done(sim, api):
    client = api(sim)
    done = client.wait(client.create(**T2V)["task_id"])
    return client, done


def test_truncate_download_sends_full_length_header_but_fewer_bytes(sim, api, http):
    client, done = _done(sim, api)
    url = client.retrieve(done["file_id"])["file"]["download_url"]
    size = len(http.get(url).content)
    sim.set_faults({"truncate_download": 1.0})
    received, _ = raw_request(sim, get(url.removeprefix(sim.base_url)))
    head, _, body = received.partition(b"\r\n\r\n")
    assert f"Content-Length: {size}".encode() in head and 0 < len(body) < size
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url)
    with pytest.raises(httpx.RemoteProtocolError):
        client.http.get("/v1/files/retrieve_content", params={"file_id": done["file_id"]})
    assert sim.stats()["faults"] == {"truncate_download": 3}


def test_expire_url_hands_out_a_dead_link_and_the_next_retrieve_works(sim, api, http):
    client, done = _done(sim, api)
    sim.set_faults({"expire_url": 1.0})
    dead = client.retrieve(done["file_id"])
    assert dead["base_resp"]["status_code"] == 0
    answer = http.get(dead["file"]["download_url"])
    assert answer.status_code == 403 and b"Request has expired" in answer.content
    sim.set_faults({})
    assert http.get(client.retrieve(done["file_id"])["file"]["download_url"]).status_code == 200
    assert sim.stats()["faults"] == {"expire_url": 1}


def test_fail_1027_ends_the_task_in_fail(sim_factory, api):
    sim = sim_factory(faults={"fail_1027": 1.0})
    client, done = _done(sim, api)
    assert done["status"] == "Fail"
    assert done["base_resp"] == {"status_code": 1027, "status_msg": "output new_sensitive"}
    assert "file_id" not in done
    assert sim.tasks()[0]["fail_code"] == 1027 and sim.stats()["faults"] == {"fail_1027": 1}


def test_fault_dice_are_seeded_and_independent(sim_factory, api):
    def pattern(seed: int = 3, **faults) -> list[int]:
        client = api(sim_factory(seed=seed, faults=faults))
        return [client.create(**T2V)["base_resp"]["status_code"] for _ in range(24)]

    alone = pattern(error_1000=0.5)
    assert alone == pattern(error_1000=0.5)
    assert alone == pattern(error_1000=0.5, expire_url=0.5)  # another fault's dice change nothing
    assert alone != pattern(seed=4, error_1000=0.5)
    assert 4 <= alone.count(1000) <= 20 and set(alone) == {0, 1000}


def test_set_faults_rejects_unknown_names(sim):
    with pytest.raises(ValueError, match="Did you mean 'reset'"):
        sim.set_faults({"rest": 0.5})
    with pytest.raises(ValueError, match="from 0 to 1"):
        sim.set_faults({"reset": 1.5})
