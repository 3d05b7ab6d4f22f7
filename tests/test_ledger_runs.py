"""The ledger's view keeps the latest run's start and finish, so the contact sheet reads the ledger
the one way every other command does (`ledger.load`, snapshot included)."""

from __future__ import annotations

import json

from pipeline.review import report
from pipeline.run import ledger
from pipeline.run.ledger import event


def write(path, events):
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")


def takes(n, start=0):
    return [event("intent", f"s{i:03d}", 1, "fp") for i in range(start, start + n)]


def test_the_view_pairs_the_latest_start_with_its_finish(tmp_path):
    first = event("run_started", backend="simulator")
    finish = event("run_finished", done=2)
    second = event("run_started", backend="api")
    write(tmp_path / ledger.LEDGER_NAME, [first, *takes(2), finish, second, *takes(1, 2)])
    view = ledger.load(tmp_path)
    assert (view.run_started, view.run_finished) == (second, None)
    assert report.last_run(view.run_events).backend == "api"
    write(tmp_path / ledger.LEDGER_NAME, [first, *takes(2), finish])
    assert ledger.load(tmp_path).run_events == [first, finish]
    write(tmp_path / ledger.LEDGER_NAME, [event("run_finished", done=1)])  # a finish with no start
    assert ledger.load(tmp_path).run_events == []


def test_the_last_run_survives_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "SNAPSHOT_MIN_EVENTS", 5)
    started, finished = event("run_started", backend="simulator"), event("run_finished", done=8)
    path = tmp_path / ledger.LEDGER_NAME
    write(path, [started, *takes(8), finished])
    assert ledger.load(tmp_path).run_events == [started, finished]
    assert (tmp_path / ledger.SNAPSHOT_NAME).exists()
    with open(path, "a", encoding="utf-8") as f:  # a later take, no new run: the snapshot's run stands
        f.write(json.dumps(event("intent", "s900", 1, "fp")) + "\n")
    view = ledger.load(tmp_path)
    assert view.run_events == [started, finished] and view.get("s900", 1, "fp").state == "intent"


def test_a_snapshot_of_the_previous_format_is_replayed_in_full(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "SNAPSHOT_MIN_EVENTS", 5)
    started = event("run_started", backend="simulator")
    write(tmp_path / ledger.LEDGER_NAME, [started, *takes(8)])
    ledger.load(tmp_path)
    snapshot = tmp_path / ledger.SNAPSHOT_NAME
    old = {k: v for k, v in json.loads(snapshot.read_bytes()).items() if k != "run"}
    snapshot.write_text(json.dumps({**old, "format": 2}), encoding="utf-8")  # knew nothing of runs
    assert ledger.load(tmp_path).run_events == [started]
