"""The contact sheet: `outputs/<name>/report.html`, the run as a storyboard on one self-contained page.

Every shot in manifest order is a panel: its number and id, the chosen take's key frame, the
input frames it was made from, the prompt with camera commands marked, its duration and its in
and out timecode in the cut (review/cut.py: the reel's rule). The players and the other takes
open from the panel; a shot's earlier versions (history/) are linked from it. Printed, the page
is a paper storyboard.

`collect()` reads the manifest, the ledger and the videos (and cuts thumbnails); `render_html()`
(review/sheet_html.py) is a pure function from that data to the page; `write_report()` does both
and writes the file. The page loads nothing from the network: inline CSS, relative links to the
videos and the thumbnails next to it. Every string from the manifest, the ledger or the server is
escaped.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pipeline import files
from pipeline.manifest import imagefiles
from pipeline.manifest import takes as naming
from pipeline.review import cut, thumbs
from pipeline.run.endpoint import EndpointName, name_endpoint
from pipeline.review.sheet_html import EAGER_PANELS, esc, highlight_prompt, render_html
from pipeline.run import ledger, store
from pipeline.run.specs import take_specs
from pipeline.run.status import BILLED_MAY_EXIST, Standing, Status, TakeStatus, classify, uncertain_why

if TYPE_CHECKING:
    from pipeline.manifest.models import Manifest, Problem, Shot
    from pipeline.run.plan import TakeSpec

__all__ = ["REPORT_NAME", "EAGER_PANELS", "ReportData", "ShotRow", "TakeRow", "InputFrame", "EarlierVersion",
           "LastRun", "collect", "write_report", "render_html", "highlight_prompt", "esc", "statuses", "take_row",
           "last_run"]

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
THUMB_WORKERS = min(4, os.cpu_count() or 1)

# The manifest's image fields, as the page names them.
INPUT_ROLES = {"first_frame_image": "first frame", "last_frame_image": "last frame", "subject_image": "subject"}


@dataclass(frozen=True)
class TakeRow:
    take: int
    status: Status
    state: str  # the ledger's state for the take's current fingerprint
    reason: str | None = None  # why it is not done (failed, uncertain, pending, changed)
    task_id: str | None = None
    video: str | None = None  # relative to the report
    thumbs: tuple[str, ...] = ()  # first, middle, last; relative to the report
    width: int | None = None
    height: int | None = None
    seconds: float | None = None  # the video's own duration
    cost: float | None = None  # the task's price; None: unknown (or nothing was created)
    billed: bool = False  # a task was created and generated: its price counts as spent


@dataclass(frozen=True)
class InputFrame:
    """An image the shot is made from: a local file (with a thumbnail next to the report) or a URL
    (never loaded: the page names it)."""

    role: str  # "first frame", "last frame", "subject"
    ref: str  # as the manifest writes it
    thumb: str | None = None  # relative to the report
    width: int | None = None
    height: int | None = None
    url: bool = False
    problem: str | None = None  # why a local image has no thumbnail


@dataclass(frozen=True)
class EarlierVersion:
    """A take's video that an edit of the shot replaced, kept in history/."""

    take: int
    file: str  # relative to the report: history/...
    replaced: float | None = None  # when it was moved there (the ledger's time), if recorded
    prompt: str | None = None  # the prompt it was made from, if the ledger recorded the request
    current: bool = False  # the shot changed, but the next run has not replaced this video yet: still in place


@dataclass(frozen=True)
class ShotRow:
    id: str
    mode: str
    model: str
    prompt: str
    duration: int | None
    resolution: str | None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    takes: tuple[TakeRow, ...] = ()
    chosen: int = cut.CHOSEN_TAKE  # the take in the cut
    inputs: tuple[InputFrame, ...] = ()
    history: tuple[EarlierVersion, ...] = ()
    errors: tuple[str, ...] = ()  # the manifest's errors in this shot: a run with --only left it out

    @property
    def broken(self) -> bool:
        return bool(self.errors)

    @property
    def chosen_take(self) -> TakeRow | None:
        return next((t for t in self.takes if t.take == self.chosen), None)


@dataclass(frozen=True)
class LastRun:
    started: float
    finished: float | None  # None: interrupted, crashed or still running
    backend: str | None
    interrupted: bool = False
    outcome: tuple[tuple[str, int], ...] = ()  # run_finished's counts: (("done", 8), ...)
    server: str | None = None  # the server's HTTP Server header, if the run recorded it


@dataclass(frozen=True)
class ReportData:
    name: str
    manifest: str  # the manifest's path, as given
    endpoint: str
    shots: tuple[ShotRow, ...]
    last_run: LastRun | None = None
    generated: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)  # problems met while collecting (a bad video...)

    @property
    def where(self) -> EndpointName:
        return name_endpoint(self.endpoint, self.last_run.server if self.last_run else None)

    @property
    def simulated(self) -> bool:
        return self.where.simulated

    def count(self, status: str) -> int:
        return sum(1 for s in self.shots for t in s.takes if t.status == status)

    @property
    def takes(self) -> int:
        return sum(len(s.takes) for s in self.shots)

    def spend(self) -> tuple[float, int]:
        """(known spend of generated tasks, how many generated tasks have an unknown price)."""
        billed = [t for s in self.shots for t in s.takes if t.billed]
        return sum(t.cost or 0.0 for t in billed), sum(1 for t in billed if t.cost is None)


# -- collecting (I/O) -----------------------------------------------------------------------------


def statuses(specs: Iterable[TakeSpec], view: ledger.LedgerView, out_dir: Path) -> list[tuple[TakeSpec, TakeStatus]]:
    """What the ledger (`ledger.load(out_dir)`) says of each take, its video checked on disk:
    the contact sheet's and the reel's one reading of a run."""
    def intact(state: ledger.TakeState) -> str | None:
        return store.check_intact(out_dir, state)

    return [(spec, classify(spec, view, intact)) for spec in specs]


def collect(manifest: Manifest, endpoint: str, out_dir: Path, *, make_thumbs: bool = True) -> ReportData:
    """Everything the page shows, from the manifest, the ledger and the videos on disk.

    A manifest loaded for `run --only` comes without the shots it left out for their errors (they
    are in its warnings): they are still the storyboard's, so they get panels that say so."""
    view = ledger.load(out_dir)
    notes: list[str] = []
    rows = [(spec, take_row(spec.take, status), status.state)
            for spec, status in statuses(take_specs(manifest, endpoint), view, out_dir)]
    if make_thumbs:
        rows = _cut_thumbs(out_dir, rows, notes)
    by_shot: dict[str, list[TakeRow]] = {}
    for spec, row, _ in rows:
        by_shot.setdefault(spec.shot.id, []).append(row)
    earlier = _earlier_versions(view, out_dir)
    for spec, row, _ in rows:  # a changed take's video stays where it is until the next run replaces it
        before = view.current(spec.shot.id, spec.take) if row.status == "changed" else None
        if before is not None and before.file and not before.file.startswith(store.HISTORY) and \
                os.path.isfile(out_dir / before.file):
            earlier.setdefault(spec.shot.id, []).insert(
                0, EarlierVersion(spec.take, before.file, prompt=_prompt_of(before), current=True))
    stills = _InputStills(manifest.dir, out_dir, make_thumbs, notes)
    placed = [(shot.line, ShotRow(shot.id, shot.mode, shot.model, shot.prompt or "", shot.duration, shot.resolution,
                                  shot.notes, tuple(shot.tags), tuple(by_shot.get(shot.id, ())),
                                  chosen=cut.chosen_take(shot), inputs=stills.of(shot),
                                  history=tuple(earlier.get(shot.id, ()))))
              for shot in manifest.shots]
    placed += [(line, ShotRow(shot_id, "", "", "", None, None, errors=errors))
               for shot_id, (line, errors) in left_out(manifest).items()]
    placed.sort(key=lambda item: item[0])  # stable: two shots on one line (a JSON manifest) keep their order
    return ReportData(manifest.name, str(manifest.path), endpoint, tuple(row for _, row in placed),
                      last_run(view.run_events), time.time(), tuple(notes))


def left_out(manifest: Manifest) -> dict[str, tuple[int, tuple[str, ...]]]:
    """The shots a manifest loaded with `only` left out for their errors: id -> (the line of its
    first error, where it sits among the shots; its errors, each one line without the file)."""
    kept = {shot.id for shot in manifest.shots}
    found: dict[str, list[Problem]] = {}
    for p in manifest.warnings:
        if p.severity == "error" and p.shot is not None and p.shot not in kept:
            found.setdefault(p.shot, []).append(p)
    return {shot: (min(p.line for p in problems), tuple(_problem_line(p) for p in problems))
            for shot, problems in found.items()}


def _problem_line(p: Problem) -> str:
    """'line 7: field 'prompt': ...', the problem as `shots validate` says it less the file (the
    page names the manifest once) and the shot (the panel is the shot's)."""
    where = f"field '{p.field}': " if p.field else ""
    return f"line {p.line}: {where}{p.message}"


def _earlier_versions(view: ledger.LedgerView, out_dir: Path) -> dict[str, list[EarlierVersion]]:
    """Each shot's videos in history/ (replaced when the shot changed), newest first: those the
    ledger records, and any other file there named for one of its takes."""
    prefix = store.HISTORY + "/"
    found: dict[str, dict[str, EarlierVersion]] = {}
    takes: dict[str, tuple[str, int]] = {}  # file stem -> (shot, take), to place unrecorded files
    for (shot, take, _), state in view.states.items():
        takes[naming.stem(shot, take)] = (shot, take)
        rel = (state.file or "").replace("\\", "/")
        if rel.startswith(prefix) and os.path.isfile(out_dir / rel):
            found.setdefault(shot, {})[rel] = EarlierVersion(take, rel, state.updated or None, _prompt_of(state))
    try:
        names = sorted(entry.name for entry in os.scandir(out_dir / store.HISTORY) if entry.is_file())
    except OSError:
        names = []
    for name in names:  # store.archive names them <stem>.<fingerprint or "unrecorded">.<stamp>.mp4
        stem, sep, _ = name.rpartition(".unrecorded.")
        if sep and stem in takes:
            shot, take = takes[stem]
            found.setdefault(shot, {}).setdefault(prefix + name, EarlierVersion(take, prefix + name))
    return {shot: sorted(versions.values(), key=lambda v: (v.take, -(v.replaced or 0.0), v.file))
            for shot, versions in found.items()}


def _prompt_of(state: ledger.TakeState) -> str | None:
    prompt = state.request.get("prompt") if isinstance(state.request, dict) else None
    return prompt if isinstance(prompt, str) else None


class _InputStills:
    """The input frames of each shot, local images as thumbnails made once per image content."""

    def __init__(self, manifest_dir: Path, out_dir: Path, make: bool, notes: list[str]) -> None:
        self.manifest_dir, self.out_dir, self.make, self.notes = manifest_dir, out_dir, make, notes
        self.made: dict[str, InputFrame] = {}  # real path -> frame (its role aside)

    def of(self, shot: Shot) -> tuple[InputFrame, ...]:
        return tuple(self._frame(shot, INPUT_ROLES[f], ref) for f, ref in shot.images().items())

    def _frame(self, shot: Shot, role: str, ref: str) -> InputFrame:
        if imagefiles.kind(ref) != "path":
            return InputFrame(role, ref, url=True)
        if not self.make:
            return InputFrame(role, ref)
        try:
            path = imagefiles.real_path(ref, self.manifest_dir)
        except imagefiles.ImageRefError as exc:
            return InputFrame(role, ref, problem=str(exc))
        known = self.made.get(path)
        if known is None:
            try:
                digest = imagefiles.facts(path).sha256
                if not digest:
                    raise thumbs.ThumbError("too big to show")
                still = thumbs.input_still(self.out_dir, path, digest)
                known = InputFrame(role, ref, still.file, still.width, still.height)
            except (OSError, thumbs.ThumbError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.notes.append(f"{shot.id}: {role} '{ref}': no thumbnail ({why})")
                known = InputFrame(role, ref, problem=why)
            self.made[path] = known
        return replace(known, role=role, ref=ref)


_Row = tuple["TakeSpec", "TakeRow", ledger.TakeState]


def _cut_thumbs(out_dir: Path, rows: list[_Row], notes: list[str]) -> list[_Row]:
    """Thumbnails for every done take, a few videos at a time (PyAV decodes outside the GIL)."""
    index = thumbs.Index(out_dir)
    out = list(rows)
    with ThreadPoolExecutor(max_workers=THUMB_WORKERS) as pool:
        # The ledger's sha256 is the file's: the take is done only if its file was found intact against it.
        futures = {i: pool.submit(index.ensure, row.video, spec.shot.id, spec.take, state.sha256)
                   for i, (spec, row, state) in enumerate(rows) if row.status == "done"}
        for i, future in futures.items():
            spec, row, state = rows[i]
            try:
                out[i] = (spec, _with_meta(row, future.result()), state)
            except (OSError, thumbs.ThumbError) as exc:
                notes.append(f"{spec.label}: no thumbnails ({exc})")
    index.save()
    return out


# The page's words for why a take is not done, by its standing (the plan words it its own way).
_REASONS: dict[Standing, Callable[[TakeStatus], str]] = {
    Standing.DAMAGED: lambda s: f"{s.problem}; the next run downloads it again (no new charge)",
    Standing.GENERATED: lambda s: "generated; not downloaded yet (the next run fetches it)",
    Standing.GENERATING: lambda s: f"task {s.state.task_id} is being generated; run again to fetch it",
    Standing.FAILED: lambda s: f"{s.state.reason or 'failed'}{_code(s.state)}",
    Standing.UNCERTAIN: lambda s: (f"{uncertain_why(s.state)}; {BILLED_MAY_EXIST} "
                                   f"(check the console, then --resubmit-uncertain)"),
}
CHANGED_REASON = "the shot changed since its last run; the next run regenerates it"


def take_row(take: int, status: TakeStatus) -> TakeRow:
    """One take's row on the page, from what the ledger says of it (`statuses`)."""
    state, standing = status.state, status.standing
    if status.changed:
        return TakeRow(take, "changed", "changed", reason=CHANGED_REASON)
    if standing is Standing.NEW:
        return TakeRow(take, "pending", state.state, reason="not run yet")
    done = standing is Standing.DONE
    return TakeRow(take, status.status, state.state, reason=None if done else _REASONS[standing](status),
                   task_id=state.task_id, video=state.file if done else None, cost=state.cost, billed=status.billed,
                   seconds=state.seconds if done else None)


def _code(state: ledger.TakeState) -> str:
    """The failure's code, unless its reason says it already."""
    return f" (code {state.code})" if state.code is not None and str(state.code) not in (state.reason or "") else ""


def _with_meta(row: TakeRow, made: thumbs.Thumbs) -> TakeRow:
    m = made.meta
    return replace(row, thumbs=made.files, width=m.width, height=m.height, seconds=m.duration)


def last_run(events: Iterable[dict[str, Any]]) -> LastRun | None:
    """The latest run_started and the run_finished that closed it, if one did. The ledger's view
    keeps just those two (`LedgerView.run_events`)."""
    started: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    for ev in events:
        if ev.get("e") == "run_started":
            started, finished = ev, None
        elif ev.get("e") == "run_finished" and started is not None:
            finished = ev
    if started is None:
        return None
    return LastRun(
        started=float(started.get("t", 0.0)),
        finished=float(finished["t"]) if finished and "t" in finished else None,
        backend=started.get("backend"),
        interrupted=bool(finished and finished.get("interrupted")),
        outcome=tuple((k, int(finished[k])) for k in ("done", "failed", "uncertain", "pending")
                      if finished and isinstance(finished.get(k), int) and finished[k]),
        server=started["server"] if isinstance(started.get("server"), str) else None,
    )


def write_report(manifest: Manifest, endpoint: str, out_dir: Path, *, make_thumbs: bool = True) -> Path:
    """Collect, render and write `report.html` atomically; returns its path."""
    data = collect(manifest, endpoint, out_dir, make_thumbs=make_thumbs)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / REPORT_NAME
    files.write_atomic(target, render_html(data))
    return target


