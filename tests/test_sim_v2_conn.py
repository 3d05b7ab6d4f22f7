"""The CONN cap (minimax-api-v2.md A7) both ways: over the cap a new task stays `queued` until a
slot frees (the default), or its create is refused with 429 rate_limit_error (1002). Per key;
a cancel frees a waiting task's place at once. Exact times: a 10 s queue phase, 100 s runs.
"""

from __future__ import annotations

import pytest
from v2api import clients, error_of, text, v2sim  # noqa: F401

from pipeline.sim.v2config import V2Config


def fixed(**kwargs) -> V2Config:
    return V2Config(queued=(10, 10), running=(100, 100), **kwargs)


def states(client, ids) -> list[str]:
    return [client.task(i)["status"] for i in ids]


def test_over_the_cap_tasks_stay_queued_until_a_slot_frees(v2sim, clients):
    sim, clock = v2sim(v2=fixed(conn_cap=2))
    client = clients(sim)
    ids = [client.made(text(f"shot {n}")) for n in range(5)]
    clock.advance(10)
    assert states(client, ids) == ["running", "running", "queued", "queued", "queued"]
    clock.advance(99.5)
    assert states(client, ids) == ["running", "running", "queued", "queued", "queued"]
    clock.advance(0.5)  # the first two end: the next two take their slots
    assert states(client, ids) == ["succeeded", "succeeded", "running", "running", "queued"]
    waiting = client.task(ids[4])
    assert waiting["updated_at"] == waiting["created_at"] and waiting["usage"] == {}
    clock.advance(100)
    assert states(client, ids) == ["succeeded"] * 4 + ["running"]
    assert client.task(ids[4])["updated_at"] == int(clock.t)
    clock.advance(100)
    assert states(client, ids) == ["succeeded"] * 5


def test_a_waiting_task_can_be_cancelled_and_the_next_one_moves_up(v2sim, clients):
    sim, clock = v2sim(v2=fixed(conn_cap=1))
    client = clients(sim)
    ids = [client.made(text(f"shot {n}")) for n in range(3)]
    clock.advance(50)
    assert states(client, ids) == ["running", "queued", "queued"]
    assert client.delete(ids[1]).json() == {"task_id": ids[1], "action": "cancelled", "status": "cancelled"}
    assert states(client, ids) == ["running", "cancelled", "queued"]  # nothing before now changed
    clock.advance(60)  # the first ends at +110: the third takes the slot, not the cancelled one
    assert states(client, ids) == ["succeeded", "cancelled", "running"]
    started = {t["task_id"]: t["started_at"] for t in sim.v2_tasks()}
    assert started[ids[1]] is None and started[ids[2]] - started[ids[0]] == 100


def test_the_cap_is_per_key(v2sim, clients):
    sim, clock = v2sim(keys=("key-a", "key-b"), v2=fixed(conn_cap=1))
    a, b = clients(sim, "key-a"), clients(sim, "key-b")
    ids_a = [a.made(text()) for _ in range(2)]
    id_b = b.made(text())
    clock.advance(10)
    assert states(a, ids_a) == ["running", "queued"] and b.task(id_b)["status"] == "running"


def test_no_cap(v2sim, clients):
    sim, clock = v2sim(v2=fixed(conn_cap=None))
    client = clients(sim)
    ids = [client.made(text()) for _ in range(40)]
    clock.advance(10)
    assert set(states(client, ids)) == {"running"}


def test_the_default_cap_is_15(v2sim, clients):
    sim, clock = v2sim(v2=fixed())
    client = clients(sim)
    ids = [client.made(text()) for _ in range(16)]
    clock.advance(10)
    assert states(client, ids).count("running") == 15 and client.task(ids[15])["status"] == "queued"


def test_reject_mode_answers_429_1002_over_the_cap_and_makes_no_task(v2sim, clients):
    sim, clock = v2sim(v2=fixed(conn_cap=2, over_cap="reject"))
    client = clients(sim)
    ids = [client.made(text()) for _ in range(2)]
    refused = client.create(text())
    assert error_of(refused) == (429, "rate_limit_error", 1002, "rate limit, please retry later (1002)")
    assert len(sim.v2_tasks()) == 2 and client.list().json()["total"] == 2
    clock.advance(10)
    assert error_of(client.create(text()))[0] == 429  # queued tasks count too: both will run
    clock.advance(100)  # both done: two slots free
    more = [client.made(text()) for _ in range(2)]
    assert error_of(client.create(text()))[0] == 429
    clock.advance(10)
    assert states(client, ids + more) == ["succeeded", "succeeded", "running", "running"]


def test_reject_mode_a_cancel_frees_a_place(v2sim, clients):
    sim, clock = v2sim(v2=fixed(conn_cap=1, over_cap="reject"))
    client = clients(sim)
    first = client.made(text())
    assert error_of(client.create(text()))[0] == 429
    client.delete(first)
    assert client.create(text()).status_code == 200


def test_reject_mode_is_per_key(v2sim, clients):
    sim, _ = v2sim(keys=("key-a", "key-b"), v2=fixed(conn_cap=1, over_cap="reject"))
    a, b = clients(sim, "key-a"), clients(sim, "key-b")
    a.made(text())
    assert error_of(a.create(text()))[0] == 429
    assert b.create(text()).status_code == 200


@pytest.mark.parametrize("over_cap", ["queue", "reject"])
def test_cancelled_tasks_never_take_a_slot(v2sim, clients, over_cap):
    sim, clock = v2sim(v2=fixed(conn_cap=1, over_cap=over_cap))
    client = clients(sim)
    first = client.made(text())
    client.delete(first)  # still in its queue phase
    second = client.made(text())
    clock.advance(10)
    assert states(client, [first, second]) == ["cancelled", "running"]


def test_a_restarted_simulator_keeps_the_queue(v2sim, clients, tmp_path):
    sim, clock = v2sim(state_dir=tmp_path / "state", v2=fixed(conn_cap=1))
    client = clients(sim)
    ids = [client.made(text()) for _ in range(3)]
    clock.advance(20)
    client.delete(ids[1])
    sim.stop()
    again, _ = v2sim(clock=clock, state_dir=tmp_path / "state", v2=fixed(conn_cap=1))
    other = clients(again)
    assert states(other, ids) == ["running", "cancelled", "queued"]
    clock.advance(90)
    assert states(other, ids) == ["succeeded", "cancelled", "running"]
