"""The contact sheet: `outputs/<name>/report.html`, the run as a storyboard on one self-contained page.

Every shot in manifest order is a panel: its number and id, the chosen take's key frame, the
input frames it was made from, the prompt with camera commands marked, its duration and its in
and out timecode in the cut (review/cut.py: the reel's rule). The players and the other takes
open from the panel; a shot's earlier versions (history/) are linked from it. Printed, the page
is a paper storyboard.

Continuity: an image shot's panel shows its still (no timecode: a still is not in the cut); a
shot made from another shot's output shows the frame actually cut for it (frames/), linked to
that shot's panel, or says what it waits for; a take whose upstream will not be made (failed,
uncertain, blocked itself) is "blocked", by the plan's rule.

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
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

from pipeline import files
from pipeline.manifest import imagefiles
from pipeline.manifest import takes as naming
from pipeline.manifest.models import IMAGE_FIELDS, IMAGE_MODE, upstream_take
from pipeline.review import cut, thumbs
from pipeline.run.endpoint import EndpointName, name_endpoint
from pipeline.review.sheet_html import EAGER_PANELS, Review, esc, highlight_prompt, render_html
from pipeline.run import ledger, store
from pipeline.run.plan import make_plan
from pipeline.run.specs import resolved_specs
from pipeline.run.status import BILLED_MAY_EXIST, Action, Standing, Status, TakeStatus, classify, uncertain_why

if TYPE_CHECKING:
    from pipeline.manifest.models import FrameRef, Manifest, Problem, Shot
    from pipeline.run.plan import TakeSpec

__all__ = ["REPORT_NAME", "EAGER_PANELS", "ReportData", "ShotRow", "TakeRow", "InputFrame", "EarlierVersion",
           "LastRun", "collect", "write_report", "render_html", "highlight_prompt", "esc", "statuses", "take_row",
           "last_run", "PageStatus", "BLOCKED", "input_role", "upstream_output", "Review"]

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
THUMB_WORKERS = min(4, os.cpu_count() or 1)

# The manifest's image fields, as the page names them.
INPUT_ROLES = {"first_frame_image": "first frame", "last_frame_image": "last frame", "subject_image": "subject"}

PageStatus = Literal[Status, "blocked"]  # blocked: a pending take whose upstream will not be made
BLOCKED: PageStatus = "blocked"
_BLOCKED_PREFIX = "blocked: "


@dataclass(frozen=True)
class TakeRow:
    take: int
    status: PageStatus
    state: str  # the ledger's state for the take's current fingerprint
    reason: str | None = None  # why it is not done (failed, uncertain, pending, changed, blocked)
    task_id: str | None = None
    video: str | None = None  # the take's file (a still's too), relative to the report
    thumbs: tuple[str, ...] = ()  # first, middle, last (a still: the one picture); relative to the report
    width: int | None = None
    height: int | None = None
    seconds: float | None = None  # the video's own duration (a still has none)
    cost: float | None = None  # the task's price; None: unknown (or nothing was created)
    billed: bool = False  # a task was created and generated: its price counts as spent


@dataclass(frozen=True)
class InputFrame:
    """An image the shot is made from: a local file (with a thumbnail next to the report), a URL
    (never loaded: the page names it), or another shot's output (`upstream`): the frame cut for
    it in frames/, or, before that shot is made, nothing yet (`waiting`)."""

    role: str  # "first frame", "last frame", "subject"
    ref: str  # as the manifest writes it; another shot's: its frame's file, relative to the report
    thumb: str | None = None  # relative to the report
    width: int | None = None
    height: int | None = None
    url: bool = False
    problem: str | None = None  # why a local image has no thumbnail
    upstream: str | None = None  # the shot whose output it is
    frame: str | None = None  # which of its outputs: "last frame", "still", "frame at 2.5 s, take 2"
    waiting: bool = False  # the upstream take is not made yet: no frame to show


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
    chosen: int = 1  # the take that represents the shot (the manifest's pick: cut.chosen_take)
    inputs: tuple[InputFrame, ...] = ()
    history: tuple[EarlierVersion, ...] = ()
    errors: tuple[str, ...] = ()  # the manifest's errors in this shot: a run with --only left it out
    aspect_ratio: str | None = None  # an image shot's
    decision: str | None = None  # the manifest's `status:`: "approved", "redo" or none yet

    @property
    def broken(self) -> bool:
        return bool(self.errors)

    @property
    def is_still(self) -> bool:
        """An image shot: its takes are stills, and it has no place in the cut (cut.in_cut)."""
        return self.mode == IMAGE_MODE

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
    the contact sheet's and the reel's one reading of a run. A dependant whose upstream take will
    not be made (failed, uncertain, blocked) is BLOCKED, by the plan's rule; so pass every take,
    upstreams too, and pick the ones to show afterwards."""
    def intact(state: ledger.TakeState) -> str | None:
        return store.check_intact(out_dir, state)

    specs = list(specs)
    found = [(spec, classify(spec, view, intact)) for spec in specs]
    if not any(spec.waits_for for spec in specs):
        return found
    blocked = {t.spec.key: t.reason for t in make_plan(specs, view, intact).takes if t.action is Action.BLOCKED}
    return [(spec, status._replace(action=Action.BLOCKED, reason=blocked[spec.key]) if spec.key in blocked else status)
            for spec, status in found]


def collect(manifest: Manifest, endpoint: str, out_dir: Path, *, make_thumbs: bool = True) -> ReportData:
    """Everything the page shows, from the manifest, the ledger and the videos on disk.

    A manifest loaded for `run --only` comes without the shots it left out for their errors (they
    are in its warnings): they are still the storyboard's, so they get panels that say so."""
    view = ledger.load(out_dir)
    notes: list[str] = []
    specs = resolved_specs(manifest, endpoint, out_dir, view)
    rows = [(spec, take_row(spec.take, status), status.state) for spec, status in statuses(specs, view, out_dir)]
    if make_thumbs:
        rows = _cut_thumbs(out_dir, rows, notes)
    by_shot: dict[str, list[TakeRow]] = {}
    for spec, row, _ in rows:
        by_shot.setdefault(spec.shot.id, []).append(row)
    earlier = _earlier_versions(view, out_dir)
    for spec, row, _ in rows:  # a changed (or blocked) take's video stays where it is until a run replaces it
        before = view.current(spec.shot.id, spec.take) if row.status in ("changed", BLOCKED) else None
        if before is not None and before.file and not before.file.startswith(store.HISTORY) and \
                os.path.isfile(out_dir / before.file):
            earlier.setdefault(spec.shot.id, []).insert(
                0, EarlierVersion(spec.take, before.file, prompt=_prompt_of(before), current=True))
    stills = _InputStills(manifest, out_dir, make_thumbs, notes)
    by_key = {spec.key: spec for spec in specs}
    placed = [(shot.line, ShotRow(shot.id, shot.mode, shot.model, shot.prompt or "", shot.duration, shot.resolution,
                                  shot.notes, tuple(shot.tags), tuple(by_shot.get(shot.id, ())),
                                  chosen=cut.chosen_take(shot),
                                  inputs=stills.of(shot, by_key.get((shot.id, cut.chosen_take(shot)))),
                                  history=tuple(earlier.get(shot.id, ())), aspect_ratio=shot.aspect_ratio,
                                  decision=shot.status))
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

    def __init__(self, manifest: Manifest, out_dir: Path, make: bool, notes: list[str]) -> None:
        self.manifest_dir, self.out_dir, self.make, self.notes = manifest.dir, out_dir, make, notes
        self.shots = {shot.id: shot for shot in manifest.shots}
        self.stills = {shot.id for shot in manifest.shots if shot.is_still}
        self.made: dict[str, InputFrame] = {}  # real path -> frame (its role aside)

    def of(self, shot: Shot, spec: TakeSpec | None = None) -> tuple[InputFrame, ...]:
        """Its files and URLs, then the inputs that are other shots' outputs, as `spec` (the
        resolved chosen take: every take of a shot is made from the same frames) has them."""
        found = [(f, self._frame(shot, INPUT_ROLES[f], ref)) for f, ref in shot.images().items()]
        found += [(f, self._upstream(shot, f, ref, spec)) for f, ref in shot.frame_refs()]
        return tuple(frame for _, frame in sorted(found, key=lambda item: _field_rank(item[0])))

    def _upstream(self, shot: Shot, field: str, ref: FrameRef, spec: TakeSpec | None) -> InputFrame:
        role = input_role(field)
        take = upstream_take(ref, self.shots.get(ref.shot))  # the take it names, else its shot's pick
        frame = upstream_output(ref, ref.shot in self.stills, take)
        cut_for = dict(spec.inputs) if spec is not None else {}
        if field in cut_for:
            path = Path(cut_for[field].path)
            rel = os.path.relpath(path, self.out_dir).replace(os.sep, "/")
            found = self._local(shot, role, rel, str(path))
            return replace(found, upstream=ref.shot, frame=frame)
        waiting = spec is None or (ref.shot, take) in spec.waits_for
        problem = None if waiting else spec.problem
        return InputFrame(role, f"{ref.shot}, {frame}", upstream=ref.shot, frame=frame, waiting=waiting,
                          problem=problem)

    def _frame(self, shot: Shot, role: str, ref: str) -> InputFrame:
        if imagefiles.kind(ref) != "path":
            return InputFrame(role, ref, url=True)
        if not self.make:
            return InputFrame(role, ref)
        try:
            path = imagefiles.real_path(ref, self.manifest_dir)
        except imagefiles.ImageRefError as exc:
            return InputFrame(role, ref, problem=str(exc))
        return self._local(shot, role, ref, path)

    def _local(self, shot: Shot, role: str, ref: str, path: str) -> InputFrame:
        """A local image's thumbnail, made once per file (`ref`: how the page names it)."""
        if not self.make:
            return InputFrame(role, ref)
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


def _field_rank(field: str) -> tuple[int, int]:
    """The order the shot's fields are sent in: first frame, last frame, subject, references."""
    name, _, index = field.partition("[")
    if name in IMAGE_FIELDS:
        return IMAGE_FIELDS.index(name), 0
    return len(IMAGE_FIELDS), int(index.rstrip("]") or 0)


def input_role(field: str) -> str:
    """How the page names an image field: 'first frame', 'reference image 2' (reference_images[1])."""
    name, _, index = field.partition("[")
    if index:
        return f"reference image {int(index.rstrip(']')) + 1}"
    return INPUT_ROLES.get(name, name.replace("_", " "))


def upstream_output(ref: FrameRef, still: bool, take: int | None = None) -> str:
    """Which output of its shot a reference means, in a few words: 'last frame', 'frame at
    2.5 s', 'still', 'still, take 2'. `take`: the take it resolves to (the one it names, else
    the upstream's pick: models.upstream_take); the reference's own when not given."""
    if still:
        what = "still"
    elif isinstance(ref.frame, (int, float)) and not isinstance(ref.frame, bool):
        what = f"frame at {ref.frame:g} s"
    else:
        what = f"{ref.selector} frame"
    take = ref.take if take is None else take
    return what + (f", take {take}" if take not in (None, 1) else "")


_Row = tuple["TakeSpec", "TakeRow", ledger.TakeState]


def _cut_thumbs(out_dir: Path, rows: list[_Row], notes: list[str]) -> list[_Row]:
    """Thumbnails for every done take, a few videos at a time (PyAV decodes outside the GIL)."""
    index = thumbs.Index(out_dir)
    out = list(rows)
    with ThreadPoolExecutor(max_workers=THUMB_WORKERS) as pool:
        # The ledger's sha256 is the file's: the take is done only if its file was found intact against it.
        futures = {i: pool.submit(index.ensure, row.video, spec.shot.id, spec.take, state.sha256,
                                  still=spec.shot.is_still)
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
    if status.action is Action.BLOCKED:  # never submitted: nothing of it in the ledger to show
        return TakeRow(take, BLOCKED, state.state, reason=status.reason.removeprefix(_BLOCKED_PREFIX))
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
    return replace(row, thumbs=made.files, width=m.width, height=m.height, seconds=None if made.still else m.duration)


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


