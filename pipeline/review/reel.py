"""The reel: every shot's picked take, in manifest order, as one video with the storyboard's timing.

`outputs/<name>/reel.mp4` is 640x360 (letterboxed), 24 fps, H.264 yuv420p. Each shot lasts as
long as its video really does (probed at download; an older ledger's video, its planned
duration: a video that runs short holds its last frame, one that runs long is cut). A shot with
no video (failed, uncertain, pending, changed, or blocked by its upstream) becomes a title card
with its id, its status and its prompt for its planned duration, so the reel always shows the
whole storyboard. `reel.srt` names each shot at its timestamps. Which shots are in it (not the
stills of image shots), where each sits, and which take, is review/cut.py's rule, which the
contact sheet's timecodes and the editor's timeline (review/export.py) share.

Sound: the clips' own audio (MiniMax-H3 clips carry stereo AAC) goes to the reel's audio track
(AAC, 48 kHz stereo) at each clip's place, cut or padded to it like the picture; silence for
silent clips and cards. A reel of silent clips has no audio track. `burn_ids` draws each clip's
shot id and take in a corner of its frames (a reviewer can name what they see); `final` uses a
shot's 2K final (run/finals.py) where one is downloaded, on the draft's timing.

The reel never writes over a video: no shot id can be `reel` (the manifest checker reserves it),
and a folder whose ledger records a video under the reel's names (a shot `reel` checked before
that rule) is refused before anything is written.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import chain
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
    from pipeline.run.plan import TakeSpec

REEL_NAME = "reel.mp4"
SRT_NAME = "reel.srt"
SIZE = (640, 360)
FPS = cut.FPS
DEFAULT_SECONDS = cut.DEFAULT_SECONDS
CHOSEN_TAKE = cut.CHOSEN_TAKE
CAPTION_CHARS = 80
AUDIO_RATE = 48000  # the reel's sound: AAC, stereo
AUDIO_FRAME = 1024  # samples per AAC frame

LABEL_SIZE = 15  # --burn-ids: the label's text, in px
LABEL_AT = (8, 8)  # its top left corner in the reel's picture (even: the chroma planes are half size)
LABEL_INK = (255, 255, 255)
LABEL_BACKGROUND = (0, 0, 0)

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
    take: int = CHOSEN_TAKE  # the shot's picked take (cut.chosen_take)
    final: bool = False  # `video` is the take's 2K final, not its draft

    @property
    def label(self) -> str:
        """What --burn-ids draws on the clip: 's01-open take 2' ('... final')."""
        return f"{self.shot} take {self.take}" + (" final" if self.final else "")

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
                      out_dir / take.video if ok else None, take.status, take.reason, take.take)
            for (shot, take), slot, ok in zip(shots, slots, done)]


def cut_takes(manifest: Manifest, endpoint: str, out_dir: Path,
              view: ledger.LedgerView) -> list[tuple[TakeSpec, TakeRow]]:
    """The shots in the cut (cut.in_cut), in manifest order, each with its chosen take and what
    the ledger says of it: what the reel and the editor's timeline are made from."""
    # Every take is read (a dependant is blocked by its upstream's status), the cut's are kept.
    read = statuses(resolved_specs(manifest, endpoint, out_dir, view), view, out_dir)
    return [(spec, take_row(spec.take, status)) for spec, status in read
            if cut.in_cut(spec.shot) and spec.take == cut.chosen_take(spec.shot)]


def collect(manifest: Manifest, endpoint: str, out_dir: Path,
            view: ledger.LedgerView | None = None, *, final: bool = False) -> list[ReelEntry]:
    """The reel's entries for a manifest, from what the ledger says of each shot's chosen take
    (with `final`, its final where one is downloaded)."""
    view = ledger.load(out_dir) if view is None else view
    chosen = cut_takes(manifest, endpoint, out_dir, view)
    entries = plan([(spec.shot, row) for spec, row in chosen], out_dir)
    return use_finals(entries, [spec for spec, _ in chosen], out_dir, view) if final else entries


def use_finals(entries: list[ReelEntry], specs: list[TakeSpec], out_dir: Path,
               view: ledger.LedgerView) -> list[ReelEntry]:
    """Each entry with its take's final in place of the draft where there is one, on the same
    slot: the cut's timing is the drafts' (the contact sheet's), a final only changes the picture."""
    out = []
    for entry, spec in zip(entries, specs):
        found = final_video(out_dir, spec, view)
        out.append(replace(entry, video=found, final=True, status="done", reason=None) if found else entry)
    return out


def final_video(out_dir: Path, spec: TakeSpec, view: ledger.LedgerView) -> Path | None:
    """The 2K final of the shot's picked take (`spec`), downloaded, intact and made from the take's
    video as the manifest has it now, else None: run/finals.py's rule."""
    from pipeline.run.finals import final_file

    return final_file(out_dir, spec.shot, view, draft_fingerprint=spec.fingerprint)


def build(manifest: Manifest, endpoint: str, out_dir: Path, *, burn_ids: bool = False,
          final: bool = False) -> tuple[Path, Path, list[ReelEntry]]:
    """Write reel.mp4 and reel.srt into `out_dir`; returns their paths and the entries.
    InputError, before writing anything, if the ledger records a video under one of those names."""
    view = ledger.load(out_dir)
    refuse_recorded_videos(view, out_dir)
    entries = collect(manifest, endpoint, out_dir, view, final=final)
    out_dir.mkdir(parents=True, exist_ok=True)
    reel, srt = out_dir / REEL_NAME, out_dir / SRT_NAME
    entries = write_reel(entries, reel, burn_ids=burn_ids)
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


def write_reel(entries: list[ReelEntry], target: Path, *, burn_ids: bool = False) -> list[ReelEntry]:
    """Encode the reel (atomically), with the clips' sound if any has some. A video that cannot be
    decoded becomes a title card from the frame where it broke; the entries returned say so."""
    import av

    written: list[ReelEntry] = []
    with files.replacing(target, tmp=target.with_name(f".{target.stem}.tmp{target.suffix}")) as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
            stream.time_base = Fraction(1, FPS)
            stream.options = {"preset": "superfast", "crf": "23"}
            sound = _Sound(out) if any(e.video is not None and has_sound(e.video) for e in entries) else None
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
                if sound is not None:
                    sound.until(pts)

            for entry in entries:
                if sound is not None:
                    sound.add(entry)
                written.append(_write_entry(entry, emit, entry.label if burn_ids else None))
            out.mux(stream.encode(None))
            if sound is not None:
                sound.close()
    return written


def _write_entry(entry: ReelEntry, emit: Callable[[av.VideoFrame], None], label: str | None = None) -> ReelEntry:
    """Emit one shot's frames: its video's (with `label` in a corner), then a title card for what
    the video does not fill."""
    import av

    done = 0
    if entry.video is not None:
        try:
            for frame in _video_frames(entry.video, entry.frames, label):
                emit(frame)
                done += 1
        except (OSError, ValueError, av.FFmpegError) as exc:
            entry = replace(entry, video=None, status="pending",
                            reason=f"video could not be decoded ({type(exc).__name__}: {exc})")
    if done < entry.frames:
        card = _yuv(title_card(entry))
        for _ in range(entry.frames - done):
            emit(card)
    return entry


def _video_frames(path: Path, count: int, label: str | None = None) -> Iterator[av.VideoFrame]:
    """`count` letterboxed yuv420p frames at FPS from the video: at reel time t, the source frame
    showing then (held past the video's end, cut beyond `count`; a held frame comes again as the
    same object), with `label` burned in."""
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
                ready = _fit(showing, label)
            yield ready


def _fit(frame: av.VideoFrame, label: str | None = None) -> av.VideoFrame:
    """The frame scaled into SIZE, letterboxed (or pillarboxed) on black, as yuv420p, with
    `label` burned in."""
    w, h = frame.width, frame.height
    scale = min(SIZE[0] / w, SIZE[1] / h)
    fw, fh = max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)
    if (fw, fh) == SIZE:
        fitted = frame.reformat(width=fw, height=fh, format="yuv420p", interpolation="BILINEAR")
        # A copy before drawing on it: the decoder may still predict from the frame's picture.
        return fitted if label is None else _burn(_clone(fitted), label)
    picture = frame.reformat(width=fw, height=fh, format="rgb24", interpolation="BILINEAR").to_image()
    canvas = Image.new("RGB", SIZE, (0, 0, 0))
    canvas.paste(picture, ((SIZE[0] - fw) // 2, (SIZE[1] - fh) // 2))
    return _yuv(canvas) if label is None else _burn(_yuv(canvas), label)


def _burn(frame: av.VideoFrame, label: str) -> av.VideoFrame:
    """`frame` (yuv420p, ours to change) with the label written over its top left corner plane by
    plane: the rest of the picture keeps its exact colours (no round trip through RGB)."""
    patch = _label_patch(label)
    for index, (mine, theirs) in enumerate(zip(frame.planes, patch.planes)):
        shrink = 1 if index == 0 else 2  # the chroma planes are half the size
        x, y = LABEL_AT[0] // shrink, LABEL_AT[1] // shrink
        width = min(theirs.width, mine.width - x)
        rows, source = bytearray(bytes(mine)), bytes(theirs)
        for r in range(min(theirs.height, mine.height - y)):
            at = (y + r) * mine.line_size + x
            rows[at:at + width] = source[r * theirs.line_size:r * theirs.line_size + width]
        mine.update(bytes(rows))
    return frame


@functools.lru_cache(maxsize=64)
def _label_patch(text: str) -> av.VideoFrame:
    """The label as a yuv420p picture: `text` small and white on a black box (even sides)."""
    return _yuv(label_picture(text))


def label_picture(text: str) -> Image.Image:
    """What --burn-ids draws in a clip's corner: `text` small, white on black."""
    face = font(LABEL_SIZE)
    left, top, right, bottom = face.getbbox(text)
    pad = 4
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    picture = Image.new("RGB", (w + w % 2, h + h % 2), LABEL_BACKGROUND)
    ImageDraw.Draw(picture).text((pad - left, pad - top), text, font=face, fill=LABEL_INK)
    return picture


def has_sound(path: Path) -> bool:
    """Whether the video has an audio stream (MiniMax-H3 clips do, v1 clips do not); False for
    a file that cannot be opened (the reel cards it when it tries the picture)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (OSError, ValueError, av.FFmpegError):
        return False


def _sample(frame: int) -> int:
    """The reel's audio sample where its video frame `frame` starts."""
    return frame * AUDIO_RATE // FPS


class _Sound:
    """The reel's audio track: each entry's own sound at its place (cut or padded with silence to
    its slot, like its picture), silence for silent clips and cards. `add(entry)` before the
    entry's frames, `until(n)` after video frame n - 1 (the packets interleave), `close()`."""

    def __init__(self, out: av.container.OutputContainer) -> None:
        self.stream = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        self.stream.bit_rate = 128_000
        self.out = out
        self.pts = 0  # samples encoded
        self.queued = (bytearray(), bytearray())  # float32 samples from `pts` on, left and right
        self.read = 0  # bytes of `queued` already encoded

    def add(self, entry: ReelEntry) -> None:
        samples = _sample(entry.first_frame + entry.frames) - _sample(entry.first_frame)
        channels = _clip_sound(entry.video, samples) if entry.video is not None else None
        silence = bytes(4 * samples)
        left, right = self.queued
        del left[:self.read], right[:self.read]  # once per entry: what is encoded goes
        self.read = 0
        left += channels[0] if channels else silence
        right += channels[1] if channels else silence

    def until(self, video_frames: int) -> None:
        target = _sample(video_frames)
        while self.pts + AUDIO_FRAME <= target and self._left() >= AUDIO_FRAME:
            self._emit(AUDIO_FRAME)

    def close(self) -> None:
        while self._left():
            self._emit(min(AUDIO_FRAME, self._left()))
        self.out.mux(self.stream.encode(None))

    def _left(self) -> int:
        return (len(self.queued[0]) - self.read) // 4

    def _emit(self, n: int) -> None:
        import av

        frame = av.AudioFrame(format="fltp", layout="stereo", samples=n)
        for plane, source in zip(frame.planes, self.queued):
            chunk = bytes(source[self.read:self.read + 4 * n])
            plane.update(chunk + bytes(plane.buffer_size - len(chunk)))
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, self.pts, Fraction(1, AUDIO_RATE)
        self.out.mux(self.stream.encode(frame))
        self.pts += n
        self.read += 4 * n


def _clip_sound(path: Path, samples: int) -> tuple[bytes, bytes] | None:
    """The video's sound as `samples` float32 samples a channel at AUDIO_RATE, stereo, from the
    video's first frame on (cut, or padded with silence); None if it has none or it cannot be
    decoded (its place stays silent)."""
    import av

    left, right = bytearray(), bytearray()
    drop = 0  # bytes a channel of sound from before the picture's start
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio or not container.streams.video:
                return None
            video, audio = container.streams.video[0], container.streams.audio[0]
            start = float(video.start_time * video.time_base) if video.start_time is not None else 0.0
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
            first = True
            for frame in chain(container.decode(audio), [None]):  # None: flush the resampler
                if frame is not None and first:
                    first = False
                    lead = round(((frame.time or 0.0) - start) * AUDIO_RATE)  # > 0: the sound starts later
                    left += bytes(4 * max(0, lead))
                    right += bytes(4 * max(0, lead))
                    drop = 4 * max(0, -lead)
                for out in resampler.resample(frame):
                    n = out.samples * 4
                    left += bytes(out.planes[0])[:n]
                    right += bytes(out.planes[1])[:n]
    except (OSError, ValueError, av.FFmpegError):
        return None
    want = 4 * samples
    left, right = left[drop:drop + want], right[drop:drop + want]
    pad = bytes(want - len(left))
    return bytes(left) + pad, bytes(right) + pad


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
