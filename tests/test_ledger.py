"""The ledger: replay, torn tails, damaged lines, newer formats, durable group commit, the run lock."""

import asyncio
import json
import multiprocessing
import os

import pytest

from pipeline.run import ledger
from pipeline.errors import AbortError
from pipeline.run.ledger import LedgerError, LedgerWriter, RunLock, event


def write_lines(path, *lines, end="\n"):
    path.write_text("\n".join(lines) + end, encoding="utf-8")


def ev(kind, shot="s01", take=1, fp="fp1", **fields):
    return json.dumps(event(kind, shot, take, fp, **fields))


def test_replay_follows_a_take_through_its_states(tmp_path):
    path = tmp_path / "ledger.jsonl"
    write_lines(
        path,
        ev("intent", req={"model": "m"}, cost=0.28),
        ev("submitted", task_id="123"),
        ev("succeeded", task_id="123", file_id="456"),
        ev("downloaded", file="s01.mp4", bytes=10, sha256="ab", mtime_ns=5),
    )
    view = ledger.load(tmp_path)
    state = view.get("s01", 1, "fp1")
    assert (state.state, state.task_id, state.file_id, state.file, state.sha256) == (
        "downloaded", "123", "456", "s01.mp4", "ab")
    assert state.request == {"model": "m"} and state.cost == 0.28
    assert view.current("s01", 1) == state
    assert view.get("s01", 1, "other").state == "new"


@pytest.mark.parametrize(
    "kinds, expected",
    [
        (["intent"], "intent"),
        (["intent", "uncertain"], "uncertain"),
        (["intent", "create_failed"], "new"),  # proven no task: submit again
        (["intent", "create_failed_final"], "failed"),
        (["intent", "submitted", "failed"], "failed"),
        (["intent", "submitted", "failed", "intent", "submitted"], "submitted"),  # --retry-failed
    ],
)
def test_replay_state_table(tmp_path, kinds, expected):
    lines = []
    for kind in kinds:
        if kind == "submitted":
            lines.append(ev("submitted", task_id="1"))
        elif kind == "create_failed_final":
            lines.append(ev("create_failed", final=True, code=2013, reason="bad"))
        elif kind == "failed":
            lines.append(ev("failed", code=1027, reason="flagged"))
        else:
            lines.append(ev(kind))
    write_lines(tmp_path / "ledger.jsonl", *lines)
    assert ledger.load(tmp_path).get("s01", 1, "fp1").state == expected


def test_fingerprints_keep_separate_states_and_latest_tracks_the_last(tmp_path):
    write_lines(
        tmp_path / "ledger.jsonl",
        ev("intent", fp="old"), ev("submitted", fp="old", task_id="1"),
        ev("intent", fp="new"),
    )
    view = ledger.load(tmp_path)
    assert view.get("s01", 1, "old").state == "submitted"
    assert view.current("s01", 1).fingerprint == "new"


def test_a_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path):
    path = tmp_path / "ledger.jsonl"
    good = ev("intent")
    path.write_text(good + "\n" + '{"v":1,"t":1,"e":"subm', encoding="utf-8")
    view = ledger.load(tmp_path)
    assert view.torn_tail and view.get("s01", 1, "fp1").state == "intent"

    writer = LedgerWriter(path)
    assert writer.repaired_torn_tail
    writer.write_now(event("submitted", "s01", 1, "fp1", task_id="9"))
    writer.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    assert ledger.load(tmp_path).get("s01", 1, "fp1").task_id == "9"


def test_a_complete_last_event_without_its_newline_counts_as_torn(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(ev("intent") + "\n" + ev("submitted", task_id="1"), encoding="utf-8")
    assert ledger.load(tmp_path).get("s01", 1, "fp1").state == "intent"


def test_a_damaged_line_in_the_middle_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    write_lines(path, ev("intent"), "garbage here", ev("submitted", task_id="1"))
    with pytest.raises(LedgerError, match=r"ledger.jsonl:2: damaged ledger line"):
        ledger.load(tmp_path)
    assert issubclass(LedgerError, AbortError)


def test_a_newer_format_is_refused(tmp_path):
    newer = dict(event("intent", "s01", 1, "fp"), v=ledger.FORMAT_VERSION + 1)
    write_lines(tmp_path / "ledger.jsonl", json.dumps(newer))
    with pytest.raises(LedgerError, match="newer than this shots"):
        ledger.load(tmp_path)


def test_concurrent_writes_share_fsyncs_and_all_land(tmp_path, monkeypatch):
    path = tmp_path / "ledger.jsonl"
    writer = LedgerWriter(path)
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))

    async def main():
        await asyncio.gather(*(writer.write(event("intent", f"s{i}", 1, "fp")) for i in range(200)))

    asyncio.run(main())
    writer.close()
    view = ledger.load(tmp_path)
    assert sum(1 for key in view.states if key[0].startswith("s")) == 200
    assert 1 <= len(fsyncs) < 200  # group commit


def test_write_returns_only_after_the_event_is_on_disk(tmp_path):
    path = tmp_path / "ledger.jsonl"
    writer = LedgerWriter(path)

    async def main():
        await writer.write(event("intent", "s01", 1, "fp"))
        return path.read_text(encoding="utf-8")

    text = asyncio.run(main())
    writer.close()
    assert '"e":"intent"' in text


def _hold_lock(out_dir, ready, release):
    lock = RunLock(out_dir)
    lock.acquire()
    ready.set()
    release.wait(10)
    lock.release()


def test_a_second_run_on_the_same_folder_is_refused_naming_the_holder(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(AbortError, match=rf"another run is using this output folder \(pid {holder.pid} "):
            RunLock(tmp_path).acquire()
    finally:
        release.set()
        holder.join(10)
    with RunLock(tmp_path):  # free again once the holder is gone
        pass


def test_the_lock_is_released_when_the_holder_is_killed(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    assert ready.wait(10)
    holder.kill()
    holder.join(10)
    with RunLock(tmp_path):
        pass


@pytest.mark.parametrize("bad", ["", "[1, 2]", "42", '{"no_kind": 1}', ev("intent") + "," + ev("intent")],
                         ids=["blank", "array", "number", "not-an-event", "two-on-one-line"])
def test_every_kind_of_damage_in_the_middle_is_named_by_its_line(tmp_path, bad):
    write_lines(tmp_path / "ledger.jsonl", ev("intent"), ev("submitted", task_id="1"), bad, ev("failed"))
    with pytest.raises(LedgerError, match=r"ledger.jsonl:3: damaged ledger line"):
        ledger.load(tmp_path)


# -- the snapshot: a cache of the replay over a prefix of the ledger ---------------------------------


def take_history(n_takes: int, seed: int = 3) -> list[str]:
    """Ledger lines for n takes meeting every kind of event, interleaved as concurrent takes are."""
    import random

    rng = random.Random(seed)
    lines = [json.dumps(event("run_started", endpoint="simulator", backend="simulator", takes=n_takes))]
    for i in range(n_takes):
        shot, fp = f"s{i:03d}", f"fp{i}"
        lines.append(ev("intent", shot, fp=fp, req={"model": "m", "prompt": f"p{i}"}, cost=0.28))
        roll = rng.random()
        if roll < 0.1:
            lines.append(ev("uncertain", shot, fp=fp, reason="answer lost"))
            continue
        if roll < 0.2:
            lines.append(ev("create_failed", shot, fp=fp, final=True, code=2013, reason="invalid"))
            continue
        lines.append(ev("submitted", shot, fp=fp, task_id=str(1000 + i)))
        lines.append(ev("succeeded", shot, fp=fp, task_id=str(1000 + i), file_id=str(2000 + i)))
        lines.append(ev("downloaded", shot, fp=fp, file=f"{shot}.mp4", bytes=i, sha256=f"{i:064x}", mtime_ns=i))
        if roll > 0.9:  # edited later: the old video went to history/
            lines.append(ev("archived", shot, fp=fp, to=f"history/{shot}.{fp}.mp4"))
            lines.append(ev("intent", shot, fp=f"new{i}", req={"model": "m", "prompt": "new"}, cost=0.28))
    rng.shuffle(lines[1:])
    return lines


def full_replay(out_dir):
    events, _, torn = ledger.read(ledger.ledger_path(out_dir))
    view = ledger.replay(events)
    view.torn_tail = torn
    return view


def same_view(a, b):
    assert list(a.states) == list(b.states) and list(a.latest.items()) == list(b.latest.items())
    assert [(s, s.request) for s in a.states.values()] == [(s, s.request) for s in b.states.values()]
    assert (a.events, a.torn_tail) == (b.events, b.torn_tail)


def test_a_load_from_the_snapshot_equals_a_full_replay_after_every_append(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "SNAPSHOT_MIN_EVENTS", 7)
    lines = take_history(60)
    snapshot = tmp_path / ledger.SNAPSHOT_NAME
    used = 0
    for end in range(0, len(lines), 5):  # the ledger grows as a run appends to it
        write_lines(tmp_path / "ledger.jsonl", *lines[: end + 5])
        had_snapshot = snapshot.exists()
        same_view(ledger.load(tmp_path), full_replay(tmp_path))
        used += had_snapshot
    assert snapshot.exists() and used > 10


def snapshotted(tmp_path, monkeypatch, takes: int) -> tuple:
    """A ledger of `takes` takes, loaded once so that its snapshot exists: (path, lines)."""
    monkeypatch.setattr(ledger, "SNAPSHOT_MIN_EVENTS", 5)
    lines = take_history(takes)
    path = tmp_path / "ledger.jsonl"
    write_lines(path, *lines)
    ledger.load(tmp_path)
    assert (tmp_path / ledger.SNAPSHOT_NAME).exists()
    return path, lines


def test_a_snapshot_of_another_ledger_or_a_damaged_one_is_ignored(tmp_path, monkeypatch):
    path, lines = snapshotted(tmp_path, monkeypatch, 40)
    snapshot = tmp_path / ledger.SNAPSHOT_NAME
    saved = snapshot.read_bytes()
    # The prefix changed (a repair or a hand edit rewrote an early line): replay it all.
    write_lines(path, ev("failed", "s000", fp="fp0", code=1027, reason="flagged"), *lines[1:])
    same_view(ledger.load(tmp_path), full_replay(tmp_path))
    # A shorter ledger (replaced by an older copy) than the snapshot covers.
    snapshot.write_bytes(saved)
    write_lines(path, *lines[:10])
    same_view(ledger.load(tmp_path), full_replay(tmp_path))
    # A damaged snapshot, and well-formed ones edited by hand.
    write_lines(path, *lines)
    snapshot.write_bytes(saved[: len(saved) // 2])
    same_view(ledger.load(tmp_path), full_replay(tmp_path))
    for edit in ({"events": "12"}, {"states": [{"shot": "s000", "take": 1, "fingerprint": "fp0", "colour": "red"}]}):
        snapshot.write_text(json.dumps({**json.loads(saved), **edit}), encoding="utf-8")
        same_view(ledger.load(tmp_path), full_replay(tmp_path))


def test_damage_after_the_snapshot_is_named_by_its_line_in_the_whole_file(tmp_path, monkeypatch):
    path, lines = snapshotted(tmp_path, monkeypatch, 20)
    write_lines(path, *lines, ev("intent", "s900"), '{"v":1,"e":"submitted", broken', ev("intent", "s901"))
    with pytest.raises(LedgerError, match=rf"ledger.jsonl:{len(lines) + 2}: damaged ledger line"):
        ledger.load(tmp_path)
    write_lines(path, *lines, ev("intent", "s900"), json.dumps({"v": 99, "e": "intent"}))
    with pytest.raises(LedgerError, match=rf"ledger.jsonl:{len(lines) + 2}: ledger format 99 is newer"):
        ledger.load(tmp_path)


def test_a_torn_tail_after_the_snapshot_is_still_dropped(tmp_path, monkeypatch):
    path, lines = snapshotted(tmp_path, monkeypatch, 20)
    write_lines(path, *lines, ev("intent", "s900"), '{"v":1,"e":"submitted","sh', end="")
    view = ledger.load(tmp_path)
    same_view(view, full_replay(tmp_path))
    assert view.torn_tail and view.get("s900", 1, "fp1").state == "intent"


def test_a_small_ledger_leaves_no_snapshot(tmp_path):
    write_lines(tmp_path / "ledger.jsonl", *take_history(5))
    ledger.load(tmp_path)
    assert not (tmp_path / ledger.SNAPSHOT_NAME).exists()


def test_a_ledger_read_in_chunks_replays_the_same_and_names_damage_by_its_line(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "CHUNK_BYTES", 300)  # a few lines per chunk
    lines = take_history(30)
    path = tmp_path / "ledger.jsonl"
    write_lines(path, *lines)
    same_view(ledger.load(tmp_path), full_replay(tmp_path))
    middle = len(lines) // 2
    write_lines(path, *lines[:middle], '{"v":1,"e":"intent", broken', *lines[middle:])
    with pytest.raises(LedgerError, match=rf"ledger.jsonl:{middle + 1}: damaged ledger line"):
        ledger.load(tmp_path)
    write_lines(path, *lines[:middle], json.dumps({"v": 99, "e": "intent"}), *lines[middle:])
    with pytest.raises(LedgerError, match=rf"ledger.jsonl:{middle + 1}: ledger format 99 is newer"):
        ledger.load(tmp_path)
