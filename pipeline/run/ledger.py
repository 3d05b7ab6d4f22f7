"""The results ledger: one append-only JSON Lines file per output folder; replay gives each take's state.

Every event is written, flushed and fsynced before the program acts on it. Events that arrive
together share one fsync (group commit), so 10,000 concurrent takes do not pay 50,000 fsyncs.
A torn last line (a crash mid-write) is ignored and cut off before the next append; any other
bad line is an error naming its line. The ledger never holds the API key or a data URL.

Event kinds, in the order a take meets them:
    intent      about to send a create (a crash after it leaves the take "uncertain")
    submitted   the create answered a task_id: poll it, never create again (adopted: true when
                the task was found in the v2 task list after the create's answer was lost)
    create_failed  the create was refused with proof that no task exists (final or not)
    uncertain   the create was sent and its answer lost: a billed task may exist
    succeeded   the task reached Success with a file_id (gen: [lo, hi], seconds at time scale 1
                after the create's answer: last seen unfinished, first seen done)
    failed      the task failed for good (code, reason)
    downloaded  the video is on disk, verified, renamed: file, bytes, sha256, mtime_ns, seconds (probed)
    archived    a replaced video was moved to history/
    cancelled   a queued v2 task was cancelled (free): the take is as if never created
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from pipeline import files
from pipeline.errors import AbortError

LEDGER_NAME = "ledger.jsonl"
LOCK_NAME = ".run.lock"
FORMAT_VERSION = 1

State = Literal["new", "intent", "submitted", "uncertain", "succeeded", "failed", "downloaded"]
TakeKey = tuple[str, int]  # (shot id, take number from 1)


class LedgerError(AbortError):
    """The ledger cannot be read safely: a damaged line, or a format newer than this program."""


@dataclass(frozen=True)
class TakeState:
    """What the ledger knows of one take for one fingerprint."""

    shot: str
    take: int
    fingerprint: str
    state: State = "new"
    task_id: str | None = None
    file_id: str | None = None
    file: str | None = None  # path relative to the output folder
    bytes: int | None = None
    sha256: str | None = None
    mtime_ns: int | None = None
    code: int | None = None
    reason: str | None = None
    cost: float | None = None
    request: dict[str, Any] | None = field(default=None, compare=False)  # canonical, images by hash
    updated: float = 0.0
    # How long the task took to generate, for the runner's first-poll estimate (pipeline/run/gentime.py):
    submitted_at: float | None = None  # the `submitted` event's time
    succeeded_at: float | None = None  # the `succeeded` event's time
    generation: list[float] | None = None  # the `succeeded` event's gen: [lo, hi]
    # For a lost create answer looked up in the v2 task list (pipeline/run/reconcile.py):
    seconds: float | None = None  # the downloaded video's probed duration (H3 clips outlast the request)
    intent_at: float | None = None  # the `intent` event's time: the create left no earlier
    adopted: bool = False  # the task was found in the task list after its create answer was lost


@dataclass
class LedgerView:
    """The replayed ledger: state per (shot, take, fingerprint), and the latest fingerprint per take."""

    states: dict[tuple[str, int, str], TakeState] = field(default_factory=dict)
    latest: dict[TakeKey, str] = field(default_factory=dict)
    events: int = 0
    torn_tail: bool = False
    run_started: dict[str, Any] | None = None  # the latest run_started event
    run_finished: dict[str, Any] | None = None  # the run_finished that closed it; None: it did not finish

    def get(self, shot: str, take: int, fingerprint: str) -> TakeState:
        return self.states.get((shot, take, fingerprint)) or TakeState(shot, take, fingerprint)

    def current(self, shot: str, take: int) -> TakeState | None:
        """The take's state under the fingerprint it was last worked on."""
        fp = self.latest.get((shot, take))
        return self.states.get((shot, take, fp)) if fp else None

    @property
    def run_events(self) -> list[dict[str, Any]]:
        """The latest run_started and the run_finished that closed it (if one did), in order."""
        return [e for e in (self.run_started, self.run_finished) if e is not None]

    def files_of(self, shot: str, take: int) -> Iterator[TakeState]:
        """Every state of this take that still points at a video file, any fingerprint."""
        for (s, t, _), state in self.states.items():
            if s == shot and t == take and state.file:
                yield state


def ledger_path(out_dir: Path) -> Path:
    return out_dir / LEDGER_NAME


# -- reading ---------------------------------------------------------------------------------


def read(path: Path) -> tuple[list[dict[str, Any]], int, bool]:
    """(events, byte length of the good prefix, whether a torn last line was dropped)."""
    body, torn = _good_prefix(path)
    return _events(path, body, first_line=1), len(body), torn


def _good_prefix(path: Path) -> tuple[bytes, bool]:
    """The ledger's complete lines, and whether a torn last line was dropped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return b"", False
    torn = not data.endswith(b"\n") and bool(data)
    return data[: data.rfind(b"\n") + 1], torn


def _events(path: Path, body: bytes, first_line: int) -> list[dict[str, Any]]:
    """The events of complete lines; `first_line` numbers the first of them in the whole file."""
    events = _parse_all(body)
    if events is None:  # some line is damaged: find it, line by line
        events = _parse_lines(path, body, first_line)
    for number, event in enumerate(events, start=first_line):
        version = event.get("v", FORMAT_VERSION)
        if type(version) is not int:
            raise _damaged(path, number, f"format version {version!r} is not a whole number")
        if version > FORMAT_VERSION:
            raise LedgerError(
                f"{path}:{number}: ledger format {version} is newer than this shots (format {FORMAT_VERSION}); "
                f"upgrade shots to read it"
            )
    return events


def _parse_all(body: bytes) -> list[dict[str, Any]] | None:
    """Every line at once: one json call for the whole file is ~5x faster than one per line."""
    if not body:
        return []
    try:
        events = json.loads(b"[" + body.rstrip(b"\n").replace(b"\n", b",") + b"]")
    except ValueError:
        return None
    if all(isinstance(e, dict) and "e" in e for e in events) and len(events) == body.count(b"\n"):
        return events
    return None  # a blank line or a value that is not an event: let the slow path name it


def _parse_lines(path: Path, body: bytes, first_line: int = 1) -> list[dict[str, Any]]:
    events = []
    for number, raw in enumerate(body.split(b"\n")[:-1], start=first_line):
        try:
            event = json.loads(raw)
            if not isinstance(event, dict) or "e" not in event:
                raise ValueError("not a ledger event")
        except ValueError as exc:
            raise _damaged(path, number, str(exc)) from None
        events.append(event)
    return events


def _damaged(path: Path, number: int, problem: str) -> LedgerError:
    return LedgerError(
        f"{path}:{number}: damaged ledger line ({problem}); `shots repair MANIFEST` sets damaged lines "
        f"aside and keeps every good event (videos are untouched)"
    )


_ID = frozenset({str, int})
_NUMBER = frozenset({int, float})
# Per take event: the fields the fold reads, and their exact types (bool is not a number here).
_REQUIRED: dict[str, tuple[tuple[str, frozenset[type]], ...]] = {
    "submitted": (("task_id", _ID),),
    "succeeded": (("file_id", _ID),),
    "downloaded": (("file", frozenset({str})), ("bytes", frozenset({int})), ("sha256", frozenset({str}))),
    "archived": (("to", frozenset({str})),),
    "cancelled": (("task_id", _ID),),
}
_TYPES: dict[str, frozenset[type]] = {  # any field, when present and not null
    "t": _NUMBER, "task_id": _ID, "file_id": _ID, "cost": _NUMBER, "code": _ID, "reason": frozenset({str}),
    "req": frozenset({dict}), "mtime_ns": frozenset({int}), "gen": frozenset({list}), "final": frozenset({bool}),
    "file": frozenset({str}), "bytes": frozenset({int}), "sha256": frozenset({str}), "to": frozenset({str}),
    "adopted": frozenset({bool}), "seconds": _NUMBER,
}


def event_problem(event: Any) -> str | None:
    """What is wrong with the shape of one ledger event, or None. A line that is valid JSON can
    still not be an event the fold can use: a misspelt or missing field, a wrong type."""
    if type(event) is not dict or type(event.get("e")) is not str:
        return "not a ledger event"
    version = event.get("v", FORMAT_VERSION)
    if type(version) is not int:
        return f"format version {version!r} is not a whole number"
    kind = event["e"]
    if kind not in _TRANSITIONS:
        return None  # run_started, run_finished, and kinds a newer shots may add
    shot, take, fp = event.get("shot"), event.get("take"), event.get("fp")
    if type(shot) is not str or not shot or type(take) is not int or take < 1 or type(fp) is not str or not fp:
        return f"'{kind}' event without a valid shot, take and fp"
    for name, kinds in _REQUIRED.get(kind, ()):
        if type(event.get(name)) not in kinds:
            return f"'{kind}' event with {'no' if event.get(name) is None else 'a wrong'} field '{name}'"
    for name, value in event.items():
        kinds = _TYPES.get(name)
        if kinds is not None and value is not None and type(value) not in kinds:
            return f"'{kind}' event with a wrong field '{name}' ({type(value).__name__})"
    return None


class BadEvent(ValueError):
    """An event the fold cannot use; `number` counts events from the first one folded."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(problem)
        self.number = number


def replay(events: Iterable[dict[str, Any]], path: Path | None = None) -> LedgerView:
    """Fold events into the state of every (shot, take, fingerprint). Pure. With the `path` they
    were read from (every line, from the first), a damaged event is a LedgerError naming its line."""
    try:
        return _Fold().add(events).view()
    except BadEvent as exc:
        if path is None:
            raise
        raise _damaged(path, exc.number, str(exc)) from None


class _Fold:
    """The replay's running state, on plain dicts updated in place; each frozen TakeState is built
    once at the end (a dataclass copy per event was half the cost of a 40,000-event replay)."""

    def __init__(self, states: Iterable[dict[str, Any]] = (), latest: Iterable[list[Any]] = (), events: int = 0,
                 run: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None)):
        self.fields = {(s["shot"], s["take"], s["fingerprint"]): s for s in states}
        self.latest: dict[TakeKey, str] = {(shot, take): fp for shot, take, fp in latest}
        self.events = events
        self.run = run  # (the latest run_started, the run_finished that closed it)

    def add(self, events: Iterable[dict[str, Any]]) -> _Fold:
        fields, latest = self.fields, self.latest
        for event in events:
            self.events += 1
            transition = _TRANSITIONS.get(event["e"])
            if transition is None:  # run_started, run_finished and unknown kinds carry no take state
                if event["e"] in _RUN_EVENTS:
                    self._run_event(event)
                continue
            problem = event_problem(event)
            if problem is not None:
                raise BadEvent(self.events, problem)
            key = (event["shot"], event["take"], event["fp"])
            state = fields.get(key)
            if state is None:
                state = fields[key] = {"shot": key[0], "take": key[1], "fingerprint": key[2]}
            transition(state, event)
            state["updated"] = float(event.get("t", 0.0))
            latest[key[:2]] = key[2]
        return self

    def _run_event(self, event: dict[str, Any]) -> None:
        if event["e"] == "run_started":
            self.run = (event, None)
        elif self.run[0] is not None:  # a run_finished closes the latest run_started
            self.run = (self.run[0], event)

    def view(self) -> LedgerView:
        states = {key: _take_state(state) for key, state in self.fields.items()}
        return LedgerView(states=states, latest=dict(self.latest), events=self.events,
                          run_started=self.run[0], run_finished=self.run[1])


_RUN_EVENTS = frozenset({"run_started", "run_finished"})


_TAKE_FIELDS = frozenset(TakeState.__dataclass_fields__)
_new_object = object.__new__


def _take_state(fields: dict[str, Any]) -> TakeState:
    """TakeState(**fields), 4x faster (a frozen dataclass's __init__ sets each field through
    object.__setattr__). A field not in `fields` reads its default from the class, where
    dataclasses put it; the fold and the snapshot reader give only field names."""
    state = _new_object(TakeState)
    state.__dict__.update(fields)
    return state


def load(out_dir: Path) -> LedgerView:
    """Replay the ledger, starting from its snapshot when the snapshot's prefix is still the ledger's.

    A load that replayed many events leaves a snapshot for the next one (a resume of 10,000
    finished takes would otherwise parse 40,000 events each time).
    """
    path = ledger_path(out_dir)
    body, torn = _good_prefix(path)
    fold, start = _read_snapshot(out_dir, body) or (_Fold(), 0)
    replayed = fold.events
    for chunk in _chunks(body, start):  # parsed a few MB at a time: 1,000,000 events at once took 1.5 GB
        try:
            fold.add(_events(path, chunk, first_line=fold.events + 1))
        except BadEvent as exc:  # events are lines, and the fold counts them from the file's top
            raise _damaged(path, exc.number, str(exc)) from None
    if fold.events - replayed >= SNAPSHOT_MIN_EVENTS:
        _write_snapshot(out_dir, body, fold)
    view = fold.view()
    view.torn_tail = torn
    return view


CHUNK_BYTES = 4 << 20


def _chunks(body: bytes, start: int) -> Iterator[bytes]:
    """body[start:] in pieces of about CHUNK_BYTES that end at line ends."""
    while start < len(body):
        end = body.find(b"\n", min(start + CHUNK_BYTES, len(body)) - 1) + 1
        yield body[start:end]
        start = end


# -- the snapshot: a cache of the fold over a prefix of the ledger -------------------------------

SNAPSHOT_NAME = ".ledger.snapshot.json"
SNAPSHOT_FORMAT = 4  # 2: states keep submitted_at, succeeded_at, generation; 3: the last run's events;
# 4: states keep seconds, intent_at and adopted
SNAPSHOT_MIN_EVENTS = 2_000  # fewer new events replay faster than a snapshot is written


def _read_snapshot(out_dir: Path, body: bytes) -> tuple[_Fold, int] | None:
    """(the fold saved for the ledger's first N bytes, N) if those bytes are unchanged; else None."""
    try:
        snap = json.loads((out_dir / SNAPSHOT_NAME).read_bytes())
        size = snap["bytes"]
        if (snap.get("format") != SNAPSHOT_FORMAT or not isinstance(size, int) or not 0 < size <= len(body)
                or hashlib.sha256(body[:size]).hexdigest() != snap["sha256"]):
            return None  # the ledger was repaired, replaced or cut: replay it all
        if not isinstance(snap["events"], int) or not _TAKE_FIELDS.issuperset(set().union(*snap["states"])):
            return None
        started, finished = snap["run"]
        if not all(e is None or isinstance(e, dict) for e in (started, finished)):
            return None
        return _Fold(snap["states"], snap["latest"], snap["events"], (started, finished)), size
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):  # a damaged snapshot is only a slower load
        return None


def _write_snapshot(out_dir: Path, body: bytes, fold: _Fold) -> None:
    snap = {
        "format": SNAPSHOT_FORMAT, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
        "events": fold.events, "states": list(fold.fields.values()),
        "latest": [[shot, take, fp] for (shot, take), fp in fold.latest.items()], "run": list(fold.run),
    }
    with contextlib.suppress(OSError):  # a read-only folder: loads stay correct, only slower
        files.write_atomic(out_dir / SNAPSHOT_NAME, json.dumps(snap, ensure_ascii=False, separators=(",", ":")))


def _intent(s: dict[str, Any], e: dict[str, Any]) -> None:
    s.update(state="intent", task_id=None, file_id=None, code=None, reason=None, cost=e.get("cost"),
             request=e.get("req"), intent_at=e.get("t"))
    s.pop("adopted", None)
    if "submitted_at" in s:  # a new task: the last one's times no longer apply (absent keys read None)
        for key in _TASK_TIMES:
            s.pop(key, None)


_TASK_TIMES = ("submitted_at", "succeeded_at", "generation")


def _succeeded(s: dict[str, Any], e: dict[str, Any]) -> None:
    s.update(state="succeeded", file_id=str(e["file_id"]), succeeded_at=e.get("t"))
    if "gen" in e:
        s["generation"] = e["gen"]
    if "task_id" in e:
        s["task_id"] = e["task_id"]


_TRANSITIONS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "intent": _intent,
    "submitted": lambda s, e: s.update(state="submitted", task_id=e["task_id"], submitted_at=e.get("t"),
                                       **({"adopted": True} if e.get("adopted") else {})),
    "create_failed": lambda s, e: s.update(state="failed" if e.get("final") else "new",
                                           code=e.get("code"), reason=e.get("reason")),
    "uncertain": lambda s, e: s.update(state="uncertain", reason=e.get("reason")),
    "succeeded": _succeeded,
    "failed": lambda s, e: s.update(state="failed", code=e.get("code"), reason=e.get("reason")),
    "downloaded": lambda s, e: s.update(state="downloaded", file=e["file"], bytes=e["bytes"],
                                        **({"task_id": e["task_id"]} if e.get("task_id") is not None else {}),
                                        sha256=e["sha256"], mtime_ns=e.get("mtime_ns"), seconds=e.get("seconds")),
    "archived": lambda s, e: s.update(file=e["to"]),
    "cancelled": lambda s, e: s.update(state="new", reason=f"task {e['task_id']} was cancelled while queued (free)"),
}


def repair(out_dir: Path) -> tuple[int, list[int], Path | None]:
    """Keep every readable event, move damaged lines to a side file, replace the ledger atomically.

    Returns (events kept, damaged line numbers, side file). Lines from a newer format are not
    damage: they stop the repair (LedgerError), since dropping them would lose state.
    """
    path = ledger_path(out_dir)
    if not path.exists():
        return 0, [], None
    kept: list[bytes] = []
    damaged: list[tuple[int, bytes]] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            ev = json.loads(raw)
        except ValueError:
            damaged.append((number, raw))
            continue
        version = ev.get("v", FORMAT_VERSION) if isinstance(ev, dict) else FORMAT_VERSION
        if type(version) is int and version > FORMAT_VERSION:
            raise LedgerError(f"{path}:{number}: ledger format {version} is newer than this shots; upgrade shots "
                              f"instead of repairing")
        if event_problem(ev) is not None:
            damaged.append((number, raw))
            continue
        kept.append(raw)
    if not damaged:
        return len(kept), [], None
    side = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    side.write_bytes(b"".join(b"%d: %s\n" % (n, raw) for n, raw in damaged))
    files.write_atomic(path, b"".join(raw + b"\n" for raw in kept), durable=True)
    return len(kept), [n for n, _ in damaged], side


# -- writing ---------------------------------------------------------------------------------


def event(kind: str, shot: str | None = None, take: int | None = None, fp: str | None = None,
          **fields: Any) -> dict[str, Any]:
    """A ledger event; None-valued fields are left out."""
    out: dict[str, Any] = {"v": FORMAT_VERSION, "t": round(time.time(), 3), "e": kind}
    if shot is not None:
        out.update(shot=shot, take=take, fp=fp)
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def _encode(ev: dict[str, Any]) -> bytes:
    return (json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


RESERVE_NAME = ".ledger.reserve"
RESERVE_BYTES = 1 << 20  # ~5,000 events: room for every answer in flight when the disk fills
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class LedgerFullError(AbortError):
    """The ledger could not be written (disk full or failing): the run stops, exit 3."""


class LedgerWriter:
    """Appends events durably. `await write(...)` returns once the events are on disk.

    A disk that fills must not tear the line that records a paid task's id: the writer keeps a
    reserve file beside the ledger. A write that meets a full disk cuts its partial bytes off,
    gives the reserve back to the file system, writes the same events again, and from then on
    refuses every new event (LedgerFullError), so the run stops with the ids it already has safe.
    """

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._reserve = path.with_name(RESERVE_NAME)
        self._keep_reserve()  # before anything is paid: a disk already full stops here
        good, torn = _good_prefix(path)  # the plan already read every event; only the end matters here
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if torn:  # cut the torn line so the next event does not glue onto it
            os.ftruncate(self._fd, len(good))
            os.fsync(self._fd)
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.repaired_torn_tail = torn
        self.full: LedgerFullError | None = None
        # Told once when the ledger can take no more events (the runner stops then), from the
        # writing thread: it must only schedule work on the loop.
        self.on_full: Callable[[LedgerFullError], None] | None = None

    def _keep_reserve(self) -> None:
        try:
            if self._reserve.exists() and self._reserve.stat().st_size >= RESERVE_BYTES:
                return
            with open(self._reserve, "wb") as f:
                try:
                    os.posix_fallocate(f.fileno(), 0, RESERVE_BYTES)
                except OSError as exc:
                    if exc.errno in _DISK_FULL:
                        raise
                    f.write(bytes(RESERVE_BYTES))  # a file system without fallocate: real blocks
                os.fsync(f.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._reserve.unlink()
            raise LedgerFullError(f"cannot write in {self.path.parent}: {exc.strerror or exc}; free some space "
                                  f"(shots keeps 1 MB in reserve for the ledger), then run again") from exc

    def write_now(self, *events: dict[str, Any]) -> None:
        """Synchronous append + fsync, for the few events outside the event loop."""
        self._refuse_new_spending(events)
        self._write(b"".join(_encode(e) for e in events))

    def _refuse_new_spending(self, events: Iterable[dict[str, Any]]) -> None:
        """Once the disk is full, no new intent (nothing new is paid for); the answers of creates
        already in flight are still written, into what the reserve gave back."""
        if self.full is not None and any(e.get("e") == "intent" for e in events):
            raise self.full

    async def write(self, *events: dict[str, Any]) -> None:
        self._refuse_new_spending(events)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((b"".join(_encode(e) for e in events), done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        # Shielded: a cancelled caller must not leave its event half-committed or unreported.
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, b"".join(data for data, _ in batch))
            except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc if isinstance(exc, Exception) else OSError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue  # what was queued meanwhile is still tried: it may be a paid task's id
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)

    def _write(self, data: bytes) -> None:
        start = os.fstat(self._fd).st_size
        try:
            self._append(data)
            return
        except OSError as exc:
            os.ftruncate(self._fd, start)  # no torn line: the events are written whole or not at all
            reason = exc.strerror or str(exc)
            if self.full is not None:  # the reserve is spent already
                raise self.full from exc
            if exc.errno not in _DISK_FULL:
                self._set_full(LedgerFullError(f"cannot write the ledger {self.path}: {reason}; the run "
                                               f"stopped, everything recorded before is safe; fix it and run again"))
                raise self.full from exc
        # The disk is full: the reserve makes room for these events, then the run stops.
        with contextlib.suppress(OSError):
            self._reserve.unlink()
        self._set_full(LedgerFullError(f"the disk holding {self.path.parent} is full; the run stopped with every "
                                    f"task id recorded; free some space and run the same command again"))
        try:
            self._append(data)
        except OSError as exc:
            os.ftruncate(self._fd, start)
            raise self.full from exc

    def _set_full(self, error: LedgerFullError) -> None:
        self.full = error
        if self.on_full is not None:
            self.on_full(error)

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    async def drain(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# -- the run lock ----------------------------------------------------------------------------


class RunLock:
    """One run per output folder: an flock'd file naming its holder. The kernel drops it on kill -9."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / LOCK_NAME
        self._fd = -1

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise AbortError(
                f"{self.path.parent}: another run is using this output folder ({holder}); "
                f"wait for it or stop it"
            ) from None
        holder = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"
        with contextlib.suppress(OSError):  # who holds it is only said to a second run; the flock is the lock
            os.ftruncate(fd, 0)
            os.write(fd, holder.encode())
            os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
