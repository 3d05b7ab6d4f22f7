"""The editor's timeline: the cut as OpenTimelineIO, written by OTIO's own adapters as OTIO JSON,
a CMX 3600 EDL, Final Cut Pro 7 XML (which Premiere and Resolve import) and FCPX XML.

`build_timeline` is the cut of review/cut.py, the rule the reel and the contact sheet share: on
track V1 one clip per shot in manifest order (stills are not in the cut), the picked take (with
`final`, its 2K final where one is downloaded) for its slot at 24 fps, from 00:00:00:00 as the
sheet counts; a Gap of the planned length for a shot with no video yet. Track A1 holds the clips'
own sound (MiniMax-H3 clips carry stereo AAC) under their pictures, a Gap under silent clips.
Media are absolute file:// URLs to the MP4s, where the run put them.

Each clip carries its facts in `metadata["shots"]` (shot, take, task_id, prompt, model,
fingerprint, final) and a marker at its start named for the shot and take, with the prompt as its
comment. Each format keeps what it can of them, where its editors look:
- EDL: one video track (the adapter writes V only), no gaps (the record timecode jumps). A reel
  name has at most 8 letters and digits (CMX 3600), so it is the shot id's, shortened and made
  unique; the id itself is in the clip name (`* FROM CLIP NAME`), the marker (`* LOC`) and a
  comment with the take and task id.
- FCP 7 XML: markers with their comments, and each clip's logging info (scene: the shot,
  shot/take: the take, description: the prompt, log note: task id, model, fingerprint).
- FCPX XML: markers, and each asset clip's note, keyword (the shot id) and metadata (scene,
  take, reel, description).

cli.py builds its parser with `add_export_parser` on every start: this module imports only the
standard library at its top, the rest when it exports.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import EXIT_OK

if TYPE_CHECKING:
    import opentimelineio as otio

    from pipeline.manifest.models import Manifest
    from pipeline.review.reel import ReelEntry
    from pipeline.review.report import TakeRow
    from pipeline.run.ledger import LedgerView
    from pipeline.run.plan import TakeSpec

FPS = 24  # the cut's frame rate, review/cut.FPS (tests/test_export.py keeps them equal)
VIDEO_TRACK, AUDIO_TRACK = "V1", "A1"
METADATA_KEY = "shots"
REEL_CHARS = 8  # CMX 3600 reel names
MARKER_COLOUR = "BLUE"  # a plain marker: FCPX reads red and green as to-do items


@dataclass(frozen=True)
class Format:
    """One file `shots export` can write: OTIO's adapter for it and the file's name after <name>."""

    adapter: str
    suffix: str
    what: str


FORMATS = {
    "otio": Format("otio_json", ".otio", "OpenTimelineIO"),
    "edl": Format("cmx_3600", ".edl", "CMX 3600 EDL"),
    "fcp7": Format("fcp_xml", ".fcp7.xml", "Final Cut Pro 7 XML (Premiere, Resolve)"),
    "fcpx": Format("fcpx_xml", ".fcpx.fcpxml", "Final Cut Pro X XML"),
}
DEFAULT_FORMAT = "otio"


@dataclass(frozen=True)
class Exported:
    """What `export` wrote, and what the timeline holds."""

    paths: tuple[Path, ...]
    timeline: otio.schema.Timeline
    entries: tuple[ReelEntry, ...]  # the cut's shots, as the reel places them

    @property
    def gaps(self) -> list[ReelEntry]:
        return [e for e in self.entries if e.video is None]

    @property
    def finals(self) -> int:
        return sum(1 for e in self.entries if e.final)


# -- the timeline ---------------------------------------------------------------------------------


def build_timeline(manifest: Manifest, endpoint: str, out_dir: Path, view: LedgerView,
                   final: bool = False) -> otio.schema.Timeline:
    """The cut as an OTIO Timeline (see the module's docstring). Reads the ledger's view and
    probes the videos for sound and length; writes nothing."""
    return _timeline(manifest, *_cut(manifest, endpoint, out_dir, view, final), view)


def _cut(manifest: Manifest, endpoint: str, out_dir: Path, view: LedgerView,
         final: bool) -> tuple[list[tuple[TakeSpec, TakeRow]], list[ReelEntry]]:
    """The cut's shots with their chosen take, and their places: the reel's reading of them."""
    from pipeline.review import reel

    chosen = reel.cut_takes(manifest, endpoint, out_dir, view)
    entries = reel.plan([(spec.shot, row) for spec, row in chosen], out_dir)
    if final:
        entries = reel.use_finals(entries, [spec for spec, _ in chosen], out_dir, view)
    return chosen, entries


def _timeline(manifest: Manifest, chosen: list[tuple[TakeSpec, TakeRow]],
              entries: list[ReelEntry], view: LedgerView | None = None) -> otio.schema.Timeline:
    import opentimelineio as otio

    timeline = otio.schema.Timeline(name=manifest.name, global_start_time=_frames(0))
    timeline.metadata[METADATA_KEY] = {"name": manifest.name, "manifest": str(Path(manifest.path).resolve()),
                                       "fps": FPS}
    video = otio.schema.Track(name=VIDEO_TRACK, kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name=AUDIO_TRACK, kind=otio.schema.TrackKind.Audio)
    reels = reel_names([spec.shot.id for spec, _ in chosen])
    for (spec, row), entry in zip(chosen, entries):
        facts = _facts(spec, row, entry, view)
        span = otio.opentime.TimeRange(_frames(0), _frames(entry.frames))
        if entry.video is None:
            gap = otio.schema.Gap(name=spec.shot.id, source_range=span)
            gap.metadata[METADATA_KEY] = {**facts, "status": entry.status, "reason": entry.reason}
            gap.markers.append(_marker(f"{entry.label} ({entry.status})", facts["prompt"]))
            video.append(gap)
            audio.append(otio.schema.Gap(source_range=span))
            continue
        length, sound = _probe(entry.video)
        clip = _clip(entry.video, span, length, facts)
        clip.metadata["cmx_3600"] = {"reel": reels[spec.shot.id],
                                     "comments": [_edl_comment(facts)]}
        clip.metadata["fcp_xml"] = {"logginginfo": _logging_info(facts)}
        clip.markers.append(_marker(entry.label, facts["prompt"]))
        video.append(clip)
        audio.append(_clip(entry.video, span, length, facts) if sound else otio.schema.Gap(source_range=span))
    timeline.tracks.append(video)  # first: the EDL adapter writes the first track
    timeline.tracks.append(audio)
    return timeline


def _facts(spec: TakeSpec, row: TakeRow, entry: ReelEntry, view: LedgerView | None) -> dict[str, Any]:
    """The clip's metadata["shots"]: which shot and take, the task that made its file (a final's
    own, with the draft's beside it), what it was asked."""
    facts = {"shot": spec.shot.id, "take": entry.take, "task_id": row.task_id, "prompt": spec.shot.prompt or "",
             "model": spec.shot.model, "fingerprint": spec.fingerprint, "final": entry.final}
    for decision in ("status", "notes"):  # the director's decision and notes, when the shot has them
        if getattr(spec.shot, decision, None):
            facts[decision] = getattr(spec.shot, decision)
    if entry.final and view is not None:
        from pipeline.run.finals import final_id

        made = view.current(final_id(spec.shot.id), entry.take)
        facts.update(task_id=made.task_id if made is not None else None, draft_task_id=row.task_id)
    return facts


def _clip(video: Path, span: otio.opentime.TimeRange, length: int, facts: dict[str, Any]) -> otio.schema.Clip:
    """One shot's clip (video or audio): its file from the start, for its slot. The file's
    available range is its `length` in frames, at least the slot (a slot rounded up from a
    part-frame, or an older ledger's planned duration, never points past the media)."""
    import opentimelineio as otio

    path = video.resolve()
    frames = int(span.duration.value)
    media = otio.schema.ExternalReference(
        target_url=path.as_uri(),
        available_range=otio.opentime.TimeRange(_frames(0), _frames(max(frames, length))))
    media.name = path.name
    media.metadata["fcpx"] = _fcpx_metadata(facts, frames)
    clip = otio.schema.Clip(name=facts["shot"], media_reference=media, source_range=span)
    clip.metadata[METADATA_KEY] = dict(facts)
    return clip


def _marker(name: str, prompt: str) -> otio.schema.Marker:
    """A point marker at the clip's start: its shot and take, the prompt as the comment (FCP 7
    XML keeps a marker's comment in its own element)."""
    import opentimelineio as otio

    marker = otio.schema.Marker(name=name, marked_range=otio.opentime.TimeRange(_frames(0), _frames(0)),
                                color=MARKER_COLOUR, comment=prompt)
    marker.metadata["fcp_xml"] = {"comment": prompt}
    return marker


def _probe(path: Path) -> tuple[int, bool]:
    """How many frames at FPS the video's picture lasts (a last part-frame counts), and whether
    it has sound (MiniMax-H3 clips do); (0, False) if it cannot be read."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.duration is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = container.duration / 1_000_000 if container.duration else 0.0
            sound = bool(container.streams.audio)
    except (OSError, ValueError, IndexError, av.FFmpegError):
        return 0, False
    return math.ceil(seconds * FPS - 1e-6), sound


def _frames(n: int) -> otio.opentime.RationalTime:
    import opentimelineio as otio

    return otio.opentime.RationalTime(n, FPS)


def reel_names(shot_ids: list[str]) -> dict[str, str]:
    """An EDL reel name per shot: its id's letters and digits, at most 8 (CMX 3600), unique
    ignoring case (a shortened id that another took ends in a number instead)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for shot_id in shot_ids:
        base = re.sub(r"[^A-Za-z0-9]", "", shot_id)[:REEL_CHARS] or "SHOT"
        name, n = base, 1
        while name.upper() in taken:
            n += 1
            name = base[:REEL_CHARS - len(str(n))] + str(n)
        taken.add(name.upper())
        names[shot_id] = name
    return names


def _edl_comment(facts: dict[str, Any]) -> str:
    """A comment line under the event (the EDL reader keeps it in the clip's metadata)."""
    final = " FINAL" if facts["final"] else ""
    decided = f" {facts['status'].upper()}" if facts.get("status") else ""
    return f"SHOT {facts['shot']} TAKE {facts['take']}{final}{decided} TASK {facts['task_id'] or '-'}"


def _logging_info(facts: dict[str, Any]) -> dict[str, str]:
    """FCP 7 XML's <logginginfo>: the fields Final Cut 7 and Premiere show as Scene, Shot/Take,
    Description and Log Note."""
    return {"description": _one_line(facts["prompt"]), "scene": facts["shot"], "shottake": str(facts["take"]),
            "lognote": _note(facts)}


def _fcpx_metadata(facts: dict[str, Any], frames: int) -> dict[str, Any]:
    """What the FCPX adapter writes on an asset clip: a note, the shot id as a keyword over the
    whole clip, and Final Cut's own metadata keys."""
    length = Fraction(frames, FPS)
    duration = f"{length.numerator}/{length.denominator}s"
    return {"note": _note(facts),
            "keywords": [{"start": "0s", "duration": duration, "value": facts["shot"]}],
            "metadata": [{"com.apple.proapps.studio.scene": facts["shot"]},
                         {"com.apple.proapps.studio.take": str(facts["take"])},
                         {"com.apple.proapps.studio.reel": facts["shot"]},
                         {"com.apple.proapps.spotlight.kMDItemDescription": _one_line(facts["prompt"])}]}


def _note(facts: dict[str, Any]) -> str:
    """The log note an editor reads: which take, the task, and the director's decision and notes."""
    final = " (final)" if facts["final"] else ""
    decided = f"; {facts['status']}" if facts.get("status") else ""
    notes = f"; notes: {_one_line(facts['notes'])}" if facts.get("notes") else ""
    return (f"{facts['shot']} take {facts['take']}{final}{decided}; task {facts['task_id'] or '-'}; "
            f"model {facts['model']}; fingerprint {facts['fingerprint']}{notes}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- writing --------------------------------------------------------------------------------------


def export(manifest: Manifest, endpoint: str, out_dir: Path, formats: list[str],
           final: bool = False) -> Exported:
    """Write the cut in each of `formats` (FORMATS' names) into `out_dir` as <name><suffix>,
    each atomically; returns what it wrote."""
    from pipeline import files
    from pipeline.run import ledger

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s): {', '.join(unknown)}")
    view = ledger.load(out_dir)
    chosen, entries = _cut(manifest, endpoint, out_dir, view, final)
    timeline = _timeline(manifest, chosen, entries, view)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in dict.fromkeys(formats):
        path = out_dir / f"{manifest.name}{FORMATS[name].suffix}"
        files.write_atomic(path, timeline_text(timeline, name))
        paths.append(path)
    return Exported(tuple(paths), timeline, tuple(entries))


def timeline_text(timeline: otio.schema.Timeline, format_name: str) -> str:
    """The timeline in one format, by OTIO's adapter for it (given a copy: some adapters change
    what they write)."""
    import opentimelineio as otio

    fmt = FORMATS[format_name]
    copy = timeline.deepcopy()
    if fmt.adapter == "cmx_3600":
        return otio.adapters.write_to_string(copy, fmt.adapter, rate=FPS)
    return otio.adapters.write_to_string(copy, fmt.adapter)


# -- the command ----------------------------------------------------------------------------------


def add_export_parser(subparsers: argparse._SubParsersAction, handler: Callable[[argparse.Namespace], int],
                      **parser_options: Any) -> argparse.ArgumentParser:
    """`shots export`'s arguments. `handler` runs it: cli.py's, which resolves the endpoint and the
    output folder (run/backend and run/workflow, which review/ may not import) and calls
    `cmd_export`. `parser_options` go to `add_parser` (cli.py's epilog and help formatter)."""
    names = ", ".join(f"{name} ({fmt.what}: <name>{fmt.suffix})" for name, fmt in FORMATS.items())
    help_text = ("write the cut (each shot's picked take, in manifest order, at 24 fps) as a timeline for an "
                 "editor into OUT/<name>/: OpenTimelineIO, EDL, Final Cut Pro 7 or X XML")
    p = subparsers.add_parser("export", help=help_text,
                              description=f"{help_text}\n\nexample:\n  shots export manifests/example.yaml "
                                          f"--format fcp7 --format edl",
                              **{"formatter_class": argparse.RawDescriptionHelpFormatter, **parser_options})
    p.add_argument("-v", "--verbose", action="store_true", help="log retries and decisions to stderr")
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("--out", type=Path, default=None,
                   help="outputs root; the timeline goes to OUT/<name>/ beside the videos (default: the outputs/ "
                        "folder of the project that holds the manifest, whatever the working directory)")
    p.add_argument("--backend", choices=("auto", "sim", "api"), default="auto",
                   help="whose videos to use: the API's if MINIMAX_API_KEY is set, else the built-in simulator's")
    p.add_argument("--format", dest="formats", action="append", type=_format_names, metavar="FORMAT[,FORMAT...]",
                   help=f"repeatable; default: {DEFAULT_FORMAT}. {names}")
    p.add_argument("--final", action="store_true",
                   help="use each shot's 2K final where one is downloaded (shots finalize), else its draft")
    p.set_defaults(handler=handler)
    return p


def _format_names(text: str) -> list[str]:
    """One --format value: a format, or formats separated by commas."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad) or repr(text)}; "
                                         f"formats: {', '.join(FORMATS)}")
    return names


def cmd_export(args: argparse.Namespace, manifest: Manifest, endpoint: str, out_dir: Path) -> int:
    """`shots export`: write the timeline files, print their paths (stdout), and say on stderr
    which shots are gaps and how many finals were used."""
    formats = [name for names in (args.formats or [[DEFAULT_FORMAT]]) for name in names]
    done = export(manifest, endpoint, out_dir, formats, final=args.final)
    gaps = [f"{e.shot} ({e.status})" for e in done.gaps]
    if gaps:
        print(f"{len(gaps)} shot(s) as gaps, no video yet: {', '.join(gaps)}", file=sys.stderr)
    if args.final:
        drafts = len(done.entries) - done.finals - len(gaps)
        print(f"finals: {done.finals} shot(s); {drafts} without a final use their draft", file=sys.stderr)
    for path in done.paths:
        print(path)
    return EXIT_OK
