"""The contact sheet: `outputs/<name>/report.html`, one self-contained page for reviewing a run.

`collect()` reads the manifest, the ledger and the videos (and cuts thumbnails); `render_html()`
is a pure function from that data to the page; `write_report()` does both and writes the file.
The page loads nothing from the network: inline CSS, relative links to the videos and the
thumbnails next to it. Every string from the manifest, the ledger or the server is escaped.
"""

from __future__ import annotations

import html
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pipeline import files
from pipeline.minimax import camera
from pipeline.review import thumbs
from pipeline.review.summary import duration as human_duration
from pipeline.review.summary import money
from pipeline.run import ledger, store
from pipeline.run.request import SIM_ENDPOINT
from pipeline.run.specs import take_specs
from pipeline.run.status import BILLED_MAY_EXIST, Standing, Status, TakeStatus, classify, uncertain_why

if TYPE_CHECKING:
    from pipeline.manifest.models import Manifest
    from pipeline.run.plan import TakeSpec

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
THUMB_WORKERS = min(4, os.cpu_count() or 1)
EAGER_TAKES = 24  # thumbnails of the first takes load at once; the rest as they scroll into view

STATUS_LABELS: dict[str, str] = {
    "done": "done", "failed": "failed", "uncertain": "uncertain", "pending": "pending", "changed": "changed",
}


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


@dataclass(frozen=True)
class LastRun:
    started: float
    finished: float | None  # None: interrupted, crashed or still running
    backend: str | None
    interrupted: bool = False
    outcome: tuple[tuple[str, int], ...] = ()  # run_finished's counts: (("done", 8), ...)


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
    def simulated(self) -> bool:
        return self.endpoint == SIM_ENDPOINT

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
    """Everything the page shows, from the manifest, the ledger and the videos on disk."""
    view = ledger.load(out_dir)
    notes: list[str] = []
    rows = [(spec, take_row(spec.take, status), status.state)
            for spec, status in statuses(take_specs(manifest, endpoint), view, out_dir)]
    if make_thumbs:
        rows = _cut_thumbs(out_dir, rows, notes)
    by_shot: dict[str, list[TakeRow]] = {}
    for spec, row, _ in rows:
        by_shot.setdefault(spec.shot.id, []).append(row)
    shots = tuple(
        ShotRow(shot.id, shot.mode, shot.model, shot.prompt or "", shot.duration, shot.resolution,
                shot.notes, tuple(shot.tags), tuple(by_shot.get(shot.id, ())))
        for shot in manifest.shots
    )
    return ReportData(manifest.name, str(manifest.path), endpoint, shots, last_run(view.run_events), time.time(),
                      tuple(notes))


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
                   task_id=state.task_id, video=state.file if done else None, cost=state.cost, billed=status.billed)


def _code(state: ledger.TakeState) -> str:
    """The failure's code, unless its reason says it already."""
    return f" (code {state.code})" if state.code is not None and str(state.code) not in (state.reason or "") else ""


def _with_meta(row: TakeRow, cut: thumbs.Thumbs) -> TakeRow:
    m = cut.meta
    return replace(row, thumbs=cut.files, width=m.width, height=m.height, seconds=m.duration)


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
    )


def write_report(manifest: Manifest, endpoint: str, out_dir: Path, *, make_thumbs: bool = True) -> Path:
    """Collect, render and write `report.html` atomically; returns its path."""
    data = collect(manifest, endpoint, out_dir, make_thumbs=make_thumbs)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / REPORT_NAME
    files.write_atomic(target, render_html(data))
    return target


# -- rendering (pure) -----------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def highlight_prompt(prompt: str) -> str:
    """The prompt, escaped, with each bracket's items marked: official camera commands in one
    style, anything else in brackets in another (with the likely meant command as a tooltip)."""
    out: list[str] = []
    pos = 0
    for b in camera.brackets(prompt):
        out.append(esc(prompt[pos:b.start]))
        inner = prompt[b.start + 1:b.end - 1]
        parts = []
        for piece in inner.split(","):
            word = piece.strip()
            if not word:
                parts.append(esc(piece))
                continue
            lead, trail = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()):]
            if camera.canonical(word):
                official = camera.canonical(word)
                title = f' title="camera: {esc(official)}"' if official != word else ""
                parts.append(f'{esc(lead)}<mark class="cam"{title}>{esc(word)}</mark>{esc(trail)}')
            else:
                guesses = camera.suggest(word)
                hint = "not an official camera command" + (f"; did you mean {', '.join(guesses)}?" if guesses else "")
                parts.append(f'{esc(lead)}<mark class="cam-unknown" title="{esc(hint)}">{esc(word)}</mark>'
                             f'{esc(trail)}')
        out.append(f'<span class="bracket">[{",".join(parts)}]</span>')
        pos = b.end
    out.append(esc(prompt[pos:]))
    return "".join(out)


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _run_text(run: LastRun | None) -> str:
    if run is None:
        return "no run yet"
    if run.finished is None:
        return f"started {_when(run.started)}, did not finish (interrupted or still running)"
    seconds = max(0.0, run.finished - run.started)
    took = f"{seconds:.1f} s" if seconds < 10 else human_duration(seconds)
    counts = ", ".join(f"{n} {k}" for k, n in run.outcome)
    what = f" ({counts})" if counts else ""
    return f"{took}{' (interrupted)' if run.interrupted else ''}{what}, finished {_when(run.finished)}"


def _cost_text(take: TakeRow, simulated: bool) -> str:
    """What the take cost: its price once generated; "unknown" when the price is not known or a
    task may exist; a dash when no task was ever made. Never $0 for an unknown price."""
    price = "unknown" if take.cost is None else esc(money(take.cost))
    if take.billed:
        return f"{price} (simulated, not billed)" if simulated else price
    if take.status == "uncertain":
        return "unknown (a billed task may exist)"
    if take.status == "failed":
        return "unknown (the task failed)" if take.task_id else "not billed (no task was made)"
    if take.state == "submitted":
        return f"{price} when done"
    return "&ndash;"


def _take_html(shot: ShotRow, take: TakeRow, simulated: bool, eager: bool = True) -> str:
    label = f"take {take.take}"
    parts = [f'<article class="take st-{esc(take.status)}" id="{esc(shot.id)}-take{take.take}">',
             f'<header><span class="take-n">{esc(label)}</span>'
             f'<span class="pill st-{esc(take.status)}">{esc(STATUS_LABELS[take.status])}</span></header>']
    if take.status == "done" and take.video:
        if take.thumbs:
            imgs = "".join(
                f'<figure><img src="{esc(src)}" alt="{esc(shot.id)} {esc(label)}: {where} frame" '
                f'loading="{"eager" if eager else "lazy"}" width="160" height="{_thumb_height(take)}">'
                f'<figcaption>{where}</figcaption></figure>'
                for src, where in zip(take.thumbs, thumbs.POSITIONS)
            )
            parts.append(f'<div class="strip">{imgs}</div>')
        poster = f' poster="{esc(take.thumbs[0])}"' if take.thumbs else ""
        parts.append(f'<video controls preload="none"{poster} src="{esc(take.video)}"'
                     f' aria-label="{esc(shot.id)} {esc(label)}"></video>')
        parts.append(f'<a class="file" href="{esc(take.video)}">{esc(take.video)}</a>')
    else:
        parts.append(f'<div class="reason"><strong>{esc(STATUS_LABELS[take.status])}:</strong> '
                     f'{esc(take.reason or "")}</div>')
    facts = []
    if take.width and take.height:
        facts.append(("video", f"{take.width}&times;{take.height}, {take.seconds:.1f} s"
                      if take.seconds is not None else f"{take.width}&times;{take.height}"))
    facts.append(("cost", _cost_text(take, simulated)))
    facts.append(("task", f"<code>{esc(take.task_id)}</code>" if take.task_id else "&ndash;"))
    parts.append("<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>")
    parts.append("</article>")
    return "".join(parts)


def _thumb_height(take: TakeRow) -> int:
    if take.width and take.height:
        return max(1, round(160 * take.height / take.width))
    return 90


def _shot_html(n: int, shot: ShotRow, simulated: bool, takes_before: int = 0) -> str:
    worst = _shot_status(shot)
    meta = [("mode", shot.mode.replace("_", " ")), ("model", shot.model),
            ("duration", f"{shot.duration} s" if shot.duration is not None else "model default"),
            ("resolution", shot.resolution or "model default")]
    tags = "".join(f'<span class="tag">{esc(t)}</span>' for t in shot.tags)
    head = (f'<header><h2><span class="n">{n:02d}</span> <code>{esc(shot.id)}</code></h2>'
            f'<span class="pill st-{worst}">{esc(worst)}</span>{tags}</header>')
    facts = '<ul class="facts">' + "".join(
        f'<li><span class="k">{k}</span> {esc(v)}</li>' for k, v in meta) + "</ul>"
    prompt = f'<p class="prompt">{highlight_prompt(shot.prompt) if shot.prompt else "<em>(no prompt)</em>"}</p>'
    notes = f'<p class="notes"><span class="k">notes</span> {esc(shot.notes)}</p>' if shot.notes else ""
    takes = '<div class="takes">' + "".join(
        _take_html(shot, t, simulated, eager=takes_before + k < EAGER_TAKES) for k, t in enumerate(shot.takes)
    ) + "</div>"
    return (f'<section class="shot st-{worst}" id="{esc(shot.id)}"><div class="about">{head}{facts}{prompt}{notes}'
            f"</div>{takes}</section>")


def _shot_status(shot: ShotRow) -> str:
    for status in ("failed", "uncertain", "changed", "pending"):
        if any(t.status == status for t in shot.takes):
            return status
    return "done"


def render_html(data: ReportData) -> str:
    """The whole page for `data`. Pure: the same data gives the same page."""
    spent, unknown = data.spend()
    if data.simulated:
        spend = f"nothing billed (simulator); the real API would have charged {esc(money(spent))}"
        if unknown:
            spend += f" + {unknown} take(s) of unknown price"
        endpoint = ('<div class="banner sim" role="note"><strong>SIMULATOR</strong> These are previz videos '
                    "from the built-in MiniMax simulator: camera moves over the reference images and title "
                    "cards, not real generations. Nothing was billed. Set <code>MINIMAX_API_KEY</code> and run "
                    "again for real videos.</div>")
        endpoint_text = "simulator (previz)"
    else:
        spend = esc(money(spent)) + (f" + {unknown} take(s) of unknown price" if unknown else "")
        endpoint = f'<div class="banner api" role="note">Real MiniMax API: <code>{esc(data.endpoint)}</code></div>'
        endpoint_text = f"MiniMax API ({esc(data.endpoint)})"
    totals = [("done", data.count("done")), ("failed", data.count("failed")),
              ("uncertain", data.count("uncertain")), ("pending", data.count("pending") + data.count("changed"))]
    chips = "".join(f'<li class="chip st-{k}"><b>{v}</b> {k}</li>' for k, v in totals)
    summary = (
        f'<dl class="summary"><dt>takes</dt><dd>{data.takes} in {len(data.shots)} shot(s)</dd>'
        f"<dt>spend</dt><dd>{spend}</dd>"
        f"<dt>last run</dt><dd>{esc(_run_text(data.last_run))}</dd>"
        f"<dt>endpoint</dt><dd>{endpoint_text}</dd>"
        f"<dt>manifest</dt><dd><code>{esc(data.manifest)}</code></dd></dl>"
    )
    problems = ""
    if data.notes:
        problems = '<ul class="problems">' + "".join(f"<li>{esc(p)}</li>" for p in data.notes) + "</ul>"
    legend = ('<p class="legend">Prompt key: <mark class="cam">official camera command</mark> '
              '<mark class="cam-unknown">bracketed text the API does not know</mark></p>')
    parts, before = [], 0
    for i, s in enumerate(data.shots, start=1):
        parts.append(_shot_html(i, s, data.simulated, before))
        before += len(s.takes)
    body = "".join(parts)
    title = f"{data.name}: contact sheet"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="shots report">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f'<body class="{"simulated" if data.simulated else "api"}">'
        f'<header class="page"><h1>{esc(data.name)} <span class="sub">contact sheet</span></h1>{endpoint}'
        f'<ul class="chips">{chips}</ul>{summary}{problems}{legend}'
        f'<p class="generated">Generated {esc(_when(data.generated))} by <code>shots report</code>.</p></header>'
        f"<main>{body}</main></body></html>\n"
    )


CSS = """
:root{--ink:#1d2230;--muted:#5d6577;--line:#d9dce3;--paper:#fff;--bg:#f3f4f7;
--done:#1f7a4d;--failed:#b42318;--uncertain:#b54708;--pending:#475467;--changed:#6941c6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
header.page{background:var(--paper);border-bottom:1px solid var(--line);padding:18px 28px 12px}
h1{margin:0 0 10px;font-size:26px}
h1 .sub{font-weight:400;color:var(--muted);font-size:18px}
.banner{padding:10px 14px;border-radius:8px;margin:0 0 12px;font-size:15px}
.banner.sim{background:#fff4d6;border:2px solid #e8a300;color:#5c3d00}
.banner.sim strong{display:inline-block;background:#e8a300;color:#fff;padding:2px 10px;border-radius:4px;
margin-right:8px;letter-spacing:.08em}
.banner.api{background:#e8f3ff;border:1px solid #7cb4ef}
.chips{list-style:none;display:flex;gap:10px;padding:0;margin:0 0 10px;flex-wrap:wrap}
.chip{border:1px solid var(--line);border-radius:999px;padding:3px 12px;background:#fff}
.chip b{font-size:17px}
.chip.st-done b{color:var(--done)}.chip.st-failed b{color:var(--failed)}
.chip.st-uncertain b{color:var(--uncertain)}.chip.st-pending b{color:var(--pending)}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 8px}
dl.summary dt{color:var(--muted)}dl.summary dd{margin:0}
.problems{color:var(--failed);margin:4px 0}
.legend,.generated{color:var(--muted);font-size:13px;margin:4px 0}
main{padding:18px 28px;display:flex;flex-direction:column;gap:16px;max-width:1400px}
.shot{background:var(--paper);border:1px solid var(--line);border-left:6px solid var(--done);border-radius:8px;
padding:12px 16px;break-inside:avoid;page-break-inside:avoid;display:grid;
grid-template-columns:minmax(260px,360px) 1fr;gap:4px 20px;align-items:start}
.shot.st-failed{border-left-color:var(--failed)}.shot.st-uncertain{border-left-color:var(--uncertain)}
.shot.st-pending{border-left-color:var(--pending)}.shot.st-changed{border-left-color:var(--changed)}
.shot>header{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h2{margin:0;font-size:18px}
h2 .n{color:var(--muted);font-weight:400}
.pill{font-size:12px;text-transform:uppercase;letter-spacing:.05em;border-radius:4px;padding:1px 8px;color:#fff;
background:var(--done)}
.pill.st-failed{background:var(--failed)}.pill.st-uncertain{background:var(--uncertain)}
.pill.st-pending{background:var(--pending)}.pill.st-changed{background:var(--changed)}
.tag{font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 6px}
.facts{list-style:none;display:grid;grid-template-columns:auto auto;justify-content:start;gap:2px 16px;padding:0;
margin:6px 0}
.k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em;margin-right:4px}
.prompt{margin:6px 0;font-size:15px}
.notes{margin:4px 0;color:var(--muted)}
mark.cam{background:#d1f0de;color:#0b4f2e;border-radius:3px;padding:0 3px;font-weight:600}
mark.cam-unknown{background:#ffe0dc;color:#8a1c0f;border-radius:3px;padding:0 3px;text-decoration:underline wavy}
.bracket{white-space:nowrap;color:var(--muted)}
.takes{display:flex;gap:14px;flex-wrap:wrap}
.take{border:1px solid var(--line);border-radius:6px;padding:8px;width:356px;max-width:100%;background:#fafbfc}
.take>header{display:flex;justify-content:space-between;align-items:center;margin-bottom:6px}
.take-n{font-weight:600}
.strip{display:flex;gap:4px}
figure{margin:0;flex:1}
figure img{display:block;width:100%;height:auto;border-radius:3px;background:#222}
figcaption{font-size:11px;color:var(--muted);text-align:center}
video{display:block;width:100%;margin-top:6px;border-radius:4px;background:#000;aspect-ratio:16/9}
.file{font-size:12px;color:var(--muted)}
.reason{padding:14px;border-radius:4px;background:#fff;border:1px dashed var(--line);min-height:80px}
.take.st-failed .reason{border-color:var(--failed);color:var(--failed)}
.take.st-uncertain .reason{border-color:var(--uncertain);color:var(--uncertain)}
.take dl{display:grid;grid-template-columns:max-content 1fr;gap:0 10px;margin:6px 0 0;font-size:13px}
.take dt{color:var(--muted)}.take dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
@media (max-width:900px){.shot{grid-template-columns:1fr}}
@media (max-width:700px){main,header.page{padding:12px}.take{width:100%}}
@media print{
 body{background:#fff;font-size:11pt}
 header.page{border:0;padding:0 0 8pt}
 main{padding:0;gap:8pt;max-width:none}
 video,.file{display:none}
 .shot{border:1px solid #999;border-left-width:4pt}
 .shot{grid-template-columns:34% 1fr}
 .take{width:47%;background:#fff}
 .banner.sim{border:2pt solid #000;background:#fff;color:#000}
 .banner.sim strong{background:#000}
 .pill{border:1px solid #000;color:#000;background:#fff!important}
 a{color:inherit;text-decoration:none}
}
"""
