"""The reel: every shot's chosen take, in manifest order, as one video with the storyboard's timing.

`outputs/<name>/reel.mp4` is 640x360 (letterboxed), 24 fps, H.264 yuv420p. Each shot lasts as
long as its video really does (probed at download; an older ledger's video, its planned
duration: a video that runs short holds its last frame, one that runs long is cut). A shot with
no video (failed, uncertain, pending, changed, or blocked by its upstream) becomes a title card
with its id, its status and its prompt for its planned duration, so the reel always shows the
whole storyboard. `reel.srt` names each shot at its timestamps. Which shots are in it (not the
stills of image shots), where each sits, and which take, is review/cut.py's rule, which the
contact sheet's timecodes share.

The reel never writes over a video: no shot id can be `reel` (the manifest checker reserves it),
and a folder whose ledger records a video under the reel's names (a shot `reel` checked before
that rule) is refused before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from PIL import Image, ImageDraw

from pipeline import files
from pipeline.errors import InputError
from pipeline.review import cut
from pipeline.review.report import TakeRow, statuses, take_row
from pipeline.run import ledger
from pipeline.run.specs import resolved_specs
from pipeline.textlayout import font, wrap

if TYPE_CHECKING:
    import av

    from pipeline.manifest.models import Manifest, Shot

REEL_NAME = "reel.mp4"
SRT_NAME = "reel.srt"
SIZE = (640, 360)
FPS = cut.FPS
DEFAULT_SECONDS = cut.DEFAULT_SECONDS
CHOSEN_TAKE = cut.CHOSEN_TAKE
CAPTION_CHARS = 80

CARD_BACKGROUND = (22, 24, 32)
CARD_INK = (236, 236, 240)
CARD_MUTED = (160, 166, 182)
STATUS_COLOURS = {"failed": (200, 56, 42), "uncertain": (214, 120, 20), "pending": (110, 118, 136),
                  "changed": (120, 86, 210), "blocked": (232, 163, 0)}


@dataclass(frozen=True)
class ReelEntry:
    """One shot's place on the reel."""

    shot: str
    prompt: str
    first_frame: int  # in reel frames
    frames: int
    video: Path | None  # the take's video, or None for a title card
    status: str  # done, failed, uncertain, pending, changed, blocked
    reason: str | None = None

    @property
    def start(self) -> float:
        return self.first_frame / FPS

    @property
    def end(self) -> float:
        return (self.first_frame + self.frames) / FPS


def plan(shots: list[tuple[Shot, TakeRow]], out_dir: Path) -> list[ReelEntry]:
    """Place each (shot, chosen take) on the reel (review/cut.py's rule, which the contact sheet's
    timecodes share). Pure apart from the paths it builds."""
    done = [take.status == "done" and take.video for _, take in shots]
    slots = cut.place(cut.seconds_in_cut(shot.duration, take.seconds if ok else None)
                      for (shot, take), ok in zip(shots, done))
    return [ReelEntry(shot.id, shot.prompt or "", slot.first_frame, slot.frames,
                      out_dir / take.video if ok else None, take.status, take.reason)
            for (shot, take), slot, ok in zip(shots, slots, done)]


def collect(manifest: Manifest, endpoint: str, out_dir: Path,
            view: ledger.LedgerView | None = None) -> list[ReelEntry]:
    """The reel's entries for a manifest, from what the ledger says of each shot's chosen take."""
    view = ledger.load(out_dir) if view is None else view
    # Every take is read (a dependant is blocked by its upstream's status), the cut's are kept.
    read = statuses(resolved_specs(manifest, endpoint, out_dir, view), view, out_dir)
    return plan([(spec.shot, take_row(spec.take, status)) for spec, status in read
                 if cut.in_cut(spec.shot) and spec.take == cut.chosen_take(spec.shot)], out_dir)


def build(manifest: Manifest, endpoint: str, out_dir: Path) -> tuple[Path, Path, list[ReelEntry]]:
    """Write reel.mp4 and reel.srt into `out_dir`; returns their paths and the entries.
    InputError, before writing anything, if the ledger records a video under one of those names."""
    view = ledger.load(out_dir)
    refuse_recorded_videos(view, out_dir)
    entries = collect(manifest, endpoint, out_dir, view)
    out_dir.mkdir(parents=True, exist_ok=True)
    reel, srt = out_dir / REEL_NAME, out_dir / SRT_NAME
    entries = write_reel(entries, reel)
    files.write_atomic(srt, srt_text(entries))
    return reel, srt, entries


def refuse_recorded_videos(view: ledger.LedgerView, out_dir: Path) -> None:
    """InputError if any take in the ledger (any fingerprint) has its video under the reel's
    names, compared without case as macOS and Windows do, and that file is there: the reel would
    replace a paid video."""
    ours = {REEL_NAME.lower(), SRT_NAME.lower()}
    for state in view.states.values():
        if state.file and state.file.replace("\\", "/").lower() in ours and os.path.lexists(out_dir / state.file):
            raise InputError(
                f"{out_dir / state.file} is the video of shot '{state.shot}' take {state.take} (the ledger records it), "
                f"not a reel; shots reel will not write over it. Rename the shot (a shot id may no longer be "
                f"'reel') and move {state.file} out of {out_dir} first")


def write_reel(entries: list[ReelEntry], target: Path) -> list[ReelEntry]:
    """Encode the reel (atomically). A video that cannot be decoded becomes a title card from the
    frame where it broke; the entries returned say so."""
    import av

    written: list[ReelEntry] = []
    with files.replacing(target, tmp=target.with_name(f".{target.stem}.tmp{target.suffix}")) as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
            stream.time_base = Fraction(1, FPS)
            stream.options = {"preset": "superfast", "crf": "23"}
            pts = 0

            def emit(frame: av.VideoFrame) -> None:
                # A fresh frame each time: the encoder holds on to frames it was given (lookahead).
                # Its time base is ours, not the stream's: the muxer changes the stream's to its
                # own once the header is written, and a decoded frame carries its source's.
                nonlocal pts
                copy = _clone(frame)
                copy.pts, copy.time_base = pts, Fraction(1, FPS)
                pts += 1
                out.mux(stream.encode(copy))

            written = [_write_entry(entry, emit) for entry in entries]
            out.mux(stream.encode(None))
    return written


def _write_entry(entry: ReelEntry, emit: Callable[[av.VideoFrame], None]) -> ReelEntry:
    """Emit one shot's frames: its video's, then a title card for what the video does not fill."""
    import av

    done = 0
    if entry.video is not None:
        try:
            for frame in _video_frames(entry.video, entry.frames):
                emit(frame)
                done += 1
        except (OSError, ValueError, av.FFmpegError) as exc:
            entry = ReelEntry(entry.shot, entry.prompt, entry.first_frame, entry.frames, None,
                              "pending", f"video could not be decoded ({type(exc).__name__}: {exc})")
    if done < entry.frames:
        card = _yuv(title_card(entry))
        for _ in range(entry.frames - done):
            emit(card)
    return entry


def _video_frames(path: Path, count: int) -> Iterator[av.VideoFrame]:
    """`count` letterboxed yuv420p frames at FPS from the video: at reel time t, the source frame
    showing then (held past the video's end, cut beyond `count`; a held frame comes again as the
    same object)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        decoded = container.decode(stream)
        showing, ready = None, None  # the source frame on screen, and its reel-ready copy
        upcoming = next(decoded, None)
        if upcoming is None:
            raise ValueError(f"{path.name}: no frames")
        for k in range(count):
            t = k / FPS + 1e-6
            while upcoming is not None and (showing is None or upcoming.time is None or upcoming.time - start <= t):
                showing, ready = upcoming, None
                upcoming = next(decoded, None)
            if ready is None:
                ready = _fit(showing)
            yield ready


def _fit(frame: av.VideoFrame) -> av.VideoFrame:
    """The frame scaled into SIZE, letterboxed (or pillarboxed) on black, as yuv420p."""
    w, h = frame.width, frame.height
    scale = min(SIZE[0] / w, SIZE[1] / h)
    fw, fh = max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)
    if (fw, fh) == SIZE:
        return frame.reformat(width=fw, height=fh, format="yuv420p", interpolation="BILINEAR")
    picture = frame.reformat(width=fw, height=fh, format="rgb24", interpolation="BILINEAR").to_image()
    canvas = Image.new("RGB", SIZE, (0, 0, 0))
    canvas.paste(picture, ((SIZE[0] - fw) // 2, (SIZE[1] - fh) // 2))
    return _yuv(canvas)


def _clone(frame: av.VideoFrame) -> av.VideoFrame:
    """A new frame with the same picture (plane by plane; via RGB if the row padding differs)."""
    import av

    copy = av.VideoFrame(frame.width, frame.height, frame.format.name)
    if [p.line_size for p in copy.planes] != [p.line_size for p in frame.planes]:
        return _yuv(frame.to_image())
    for mine, theirs in zip(copy.planes, frame.planes):
        mine.update(theirs)
    return copy


def _yuv(image: Image.Image) -> av.VideoFrame:
    import av

    return av.VideoFrame.from_image(image).reformat(format="yuv420p")


def title_card(entry: ReelEntry) -> Image.Image:
    """A card for a shot with no video: its id, its status and why, and its prompt."""
    w, h = SIZE
    card = Image.new("RGB", SIZE, CARD_BACKGROUND)
    draw = ImageDraw.Draw(card)
    colour = STATUS_COLOURS.get(entry.status, STATUS_COLOURS["pending"])
    draw.rectangle([0, 0, 11, h], fill=colour)
    draw.text((40, 28), entry.shot, font=font(34), fill=CARD_INK)
    status = entry.status.upper() + (f": {entry.reason}" if entry.reason else "")
    y = 80
    for line in wrap(status, font(17), w - 80)[:3]:
        draw.text((40, y), line, font=font(17), fill=colour)
        y += 23
    y += 14
    face = font(21)
    lines = wrap(entry.prompt or "(no prompt)", face, w - 80)
    room = max(1, (h - 24 - y) // 28)
    if len(lines) > room:
        lines = lines[:room]
        lines[-1] = lines[-1][: max(0, len(lines[-1]) - 2)].rstrip() + "…"
    for line in lines:
        draw.text((40, y), line, font=face, fill=CARD_MUTED)
        y += 28
    return card




def srt_text(entries: list[ReelEntry]) -> str:
    """SubRip captions: each shot's id (and its status if it is a card), then its prompt's first line."""
    blocks = []
    for n, e in enumerate(entries, start=1):
        head = e.shot if e.video is not None else f"{e.shot} ({e.status})"
        first_line = (e.prompt.strip().splitlines() or [""])[0].strip()
        if len(first_line) > CAPTION_CHARS:
            first_line = first_line[: CAPTION_CHARS - 1].rstrip() + "…"
        text = head + (f"\n{first_line}" if first_line else "")
        blocks.append(f"{n}\n{_stamp(e.start)} --> {_stamp(e.end)}\n{text}\n")
    return "\n".join(blocks)


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{ms:03d}"
