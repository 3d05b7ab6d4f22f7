"""Each v2 fault seen from the client (minimax-api-v2.md A6, C1.3 and C1.14), counted in the stats,
and the v2 fault dice: seeded, independent of each other and of v1's.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from v2api import KEY, clients, error_of, text, v2sim  # noqa: F401

from pipeline.sim.v2config import V2Config
from pipeline.sim.v2faults import parse_v2_faults

ID = "123456789012345"


def faulty(v2sim, **faults):
    return v2sim(v2=V2Config(queued=(10, 10), running=(100, 100), faults=faults))


def every_route(client):
    return [client.create(text()), client.query(ID), client.list(), client.delete(ID)]


@pytest.mark.parametrize("name, status, kind, code", [
    ("http_500", 500, "server_error", 1000),
    ("http_529", 529, "overloaded_error", None),  # no internal code given: the client must cope
    ("error_429", 429, "rate_limit_error", 1002),
])
def test_json_error_faults_on_every_route_make_no_task(v2sim, clients, name, status, kind, code):
    sim, _ = faulty(v2sim, **{name: 1.0})
    for answer in every_route(clients(sim)):
        got = error_of(answer)
        assert got[:3] == (status, kind, code), got
    assert sim.v2_tasks() == [] and sim.stats()["faults"] == {f"v2_{name}": 4}


@pytest.mark.parametrize("name, status, kind, code, message", [
    ("error_402", 402, "insufficient_balance_error", 1008, "insufficient balance (1008)"),
    ("error_422", 422, "unprocessable_entity_error", 1026, "video description contains sensitive content (1026)"),
])
def test_create_only_error_faults(v2sim, clients, name, status, kind, code, message):
    sim, _ = faulty(v2sim, **{name: 1.0})
    client = clients(sim)
    assert error_of(client.create(text())) == (status, kind, code, message)
    assert sim.v2_tasks() == []
    assert client.list().status_code == 200 and error_of(client.query(ID))[:3] == (400, "bad_request_error", 2013)
    assert sim.stats()["faults"] == {f"v2_{name}": 1}


@pytest.mark.parametrize("status", [502, 503])
def test_gateway_pages_are_not_json(v2sim, clients, status):
    sim, _ = faulty(v2sim, **{f"http_{status}": 1.0})
    for answer in every_route(clients(sim)):
        assert answer.status_code == status and answer.headers["content-type"] == "text/html"
        assert answer.content.startswith(b"<html>")
        with pytest.raises(ValueError):
            answer.json()
    assert sim.v2_tasks() == []


def test_a_dropped_create_answer_leaves_a_task_the_list_finds(v2sim, clients):
    """C2 pitfall 7: the client sees the connection reset, the task exists (and bills)."""
    sim, clock = faulty(v2sim, drop_create=1.0)
    client = clients(sim)
    with pytest.raises(httpx.TransportError):
        client.create(text("the shot that went missing"))
    made = sim.v2_tasks()
    assert len(made) == 1
    listed = client.list({"filter.status": "queued"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == made[0]["task_id"]
    clock.advance(110)
    assert client.task(made[0]["task_id"])["status"] == "succeeded"
    sim.set_v2_faults({})
    assert client.create(text()).status_code == 200
    assert sim.stats()["faults"] == {"v2_drop_create": 1} and sim.stats()["tasks_created"] == 2


def test_reset_sends_rst_before_the_request_is_read(v2sim, clients):
    sim, _ = faulty(v2sim, reset=1.0)
    host, port = sim.base_url.removeprefix("http://").split(":")
    body = b'{"model": "MiniMax-H3"}'
    received, error = b"", None
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v2/video_generation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (KEY.encode(), len(body), body))
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            error = exc
    assert received == b"" and isinstance(error, ConnectionResetError)
    for call in (lambda c: c.query(ID), lambda c: c.list(), lambda c: c.delete(ID)):
        with pytest.raises(httpx.TransportError):
            call(clients(sim))
    assert sim.v2_tasks() == [] and sim.stats()["faults"] == {"v2_reset": 4}


def test_slow_answers_normally_after_the_delay(v2sim, clients):
    sim, _ = v2sim(slow_seconds=0.0, v2=V2Config(faults={"slow": 1.0}))
    answer = clients(sim).create(text())
    assert answer.status_code == 200 and len(sim.v2_tasks()) == 1
    assert sim.stats()["faults"] == {"v2_slow": 1}


def test_fail_1026_ends_the_task_failed(v2sim, clients):
    sim, clock = faulty(v2sim, fail_1026=1.0)
    client = clients(sim)
    task_id = client.made(text())
    clock.advance(50)
    assert client.task(task_id)["status"] == "running"
    clock.advance(60)
    task = client.task(task_id)
    assert task["status"] == "failed" and task["error"] == {"code": "1026",
                                                            "message": "video description contains sensitive content"}
    assert task["usage"] == {} and "content" not in task


def test_expire_url_hands_out_a_dead_url_and_the_next_query_a_good_one(v2sim, clients):
    sim, clock = faulty(v2sim)
    client = clients(sim)
    task_id = client.made(text(duration=4))
    clock.advance(110)
    sim.set_v2_faults({"expire_url": 1.0})
    dead = client.task(task_id)["content"]["url"]
    listed = client.list().json()["items"][0]["content"]["url"]
    with httpx.Client() as http:
        for url in (dead, listed):
            answer = http.get(url)
            assert answer.status_code == 403 and b"Request has expired" in answer.content
        sim.set_v2_faults({})
        assert http.get(client.task(task_id)["content"]["url"]).status_code == 200
    assert sim.stats()["faults"] == {"v2_expire_url": 2}


def test_truncate_download_sends_fewer_bytes_than_it_announces(v2sim, clients):
    sim, clock = faulty(v2sim)
    client = clients(sim)
    task_id = client.made(text(duration=4))
    clock.advance(110)
    url = client.task(task_id)["content"]["url"]
    with httpx.Client() as http:
        size = len(http.get(url).content)
        sim.set_v2_faults({"truncate_download": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(url)
    assert size > 0 and sim.stats()["faults"] == {"v2_truncate_download": 1}


def test_v1_faults_do_not_strike_v2_and_v2_faults_do_not_strike_v1(v2sim, clients):
    sim, _ = v2sim(faults={"http_500": 1.0}, v2=V2Config(faults={"error_429": 1.0}))
    client = clients(sim)
    v1 = client.http.get("/v1/query/video_generation", params={"task_id": "1"})
    assert v1.status_code == 500 and v1.json() == {"error": "internal server error"}
    assert error_of(client.query(ID))[:3] == (429, "rate_limit_error", 1002)
    assert sim.stats()["faults"] == {"http_500": 1, "v2_error_429": 1}


def test_the_v2_dice_are_seeded_and_independent(v2sim, clients):
    def pattern(seed: int = 3, **faults) -> list[int]:
        sim, _ = v2sim(seed=seed, v2=V2Config(faults=faults))
        client = clients(sim)
        return [client.create(text()).status_code for _ in range(24)]

    alone = pattern(error_429=0.5)
    assert alone == pattern(error_429=0.5)
    assert alone == pattern(error_429=0.5, expire_url=0.5, fail_1026=0.5)
    assert alone != pattern(seed=4, error_429=0.5)
    assert 4 <= alone.count(429) <= 20 and set(alone) == {200, 429}


def test_fault_names_and_probabilities_are_checked(v2sim):
    with pytest.raises(ValueError, match="Did you mean 'http_529'"):
        V2Config(faults={"http_592": 0.1})
    with pytest.raises(ValueError, match="from 0 to 1"):
        V2Config(faults={"reset": 2})
    assert parse_v2_faults("reset=0.05, http_529=0.5") == {"reset": 0.05, "http_529": 0.5}
    with pytest.raises(ValueError, match="needs a probability"):
        parse_v2_faults("reset")
    sim, _ = v2sim()
    with pytest.raises(ValueError, match="unknown v2 fault"):
        sim.set_v2_faults({"fail_1027": 0.5})
