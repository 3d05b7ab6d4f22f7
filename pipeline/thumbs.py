"""Thumbnails for the contact sheet: the first, middle and last frame of each video, as JPEGs.

They live in `<output folder>/thumbs/<shot>.take<N>.<first|middle|last>.jpg`, with an index
(`thumbs/index.json`) of the video each set was cut from. A video whose size and mtime are as
recorded is not opened again; one whose mtime changed is hashed, and only a changed sha256 cuts
new thumbnails.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from pipeline.store import sha256_of

THUMBS_DIR = "thumbs"
INDEX_NAME = "index.json"
POSITIONS = ("first", "middle", "last")
THUMB_WIDTH = 320  # pixels; the sheet shows them at 160 CSS px, sharp on a 2x screen
JPEG_QUALITY = 82


class ThumbError(ValueError):
    """The video could not be decoded into thumbnails."""


@dataclass(frozen=True)
class VideoMeta:
    """What the contact sheet says of a video, read while cutting its thumbnails."""

    width: int
    height: int
    duration: float
    fps: float | None
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Thumbs:
    files: tuple[str, ...]  # paths relative to the output folder, in POSITIONS order
    meta: VideoMeta
    made: bool  # cut now (False: reused from an earlier report)


def names(shot: str, take: int) -> tuple[str, ...]:
    return tuple(f"{THUMBS_DIR}/{shot}.take{take}.{where}.jpg" for where in POSITIONS)


def ensure(out_dir: Path, video: str, shot: str, take: int) -> Thumbs:
    """The thumbnails of `out_dir/video`, cut now only if the video changed since the last time."""
    path = out_dir / video
    st = path.stat()
    files = names(shot, take)
    index = _load_index(out_dir)
    key = f"{shot}.take{take}"
    known = index.get(key)
    have_files = all((out_dir / f).exists() for f in files)
    if known and have_files and known.get("video") == video:
        meta = VideoMeta(**known["meta"])
        if (meta.size, meta.mtime_ns) == (st.st_size, st.st_mtime_ns):
            return Thumbs(files, meta, made=False)
        digest = sha256_of(path)
        if digest == meta.sha256:  # touched, not changed: remember the new mtime
            meta = VideoMeta(**{**asdict(meta), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
            index[key] = {"video": video, "meta": asdict(meta)}
            _save_index(out_dir, index)
            return Thumbs(files, meta, made=False)
    else:
        digest = sha256_of(path)
    frames, (width, height, duration, fps) = extract(path)
    (out_dir / THUMBS_DIR).mkdir(parents=True, exist_ok=True)
    for name, frame in zip(files, frames):
        _save_jpeg(frame, out_dir / name)
    meta = VideoMeta(width, height, duration, fps, digest, st.st_size, st.st_mtime_ns)
    index = _load_index(out_dir)  # re-read: keep entries written meanwhile
    index[key] = {"video": video, "meta": asdict(meta)}
    _save_index(out_dir, index)
    return Thumbs(files, meta, made=True)


def extract(path: Path) -> tuple[list[Image.Image], tuple[int, int, float, float | None]]:
    """([first, middle, last] frames, (width, height, duration, fps)), seeking rather than
    decoding the whole video where the container allows it."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ThumbError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                duration = 0.0
            fps = float(stream.average_rate) if stream.average_rate else None
            first = next(container.decode(stream))
            middle = _frame_at(container, stream, duration / 2) if duration > 0 else first
            last = _frame_at(container, stream, float("inf"))
            images = [f.to_image() for f in (first, middle or first, last or first)]
            return images, (stream.codec_context.width, stream.codec_context.height, duration, fps)
    except ThumbError:
        raise
    except (av.FFmpegError, StopIteration, OSError, ValueError) as exc:
        raise ThumbError(f"{path.name}: cannot decode ({type(exc).__name__}: {exc})") from exc


def _frame_at(container, stream, t: float):
    """The first frame at or after `t` seconds (the last frame for t = inf)."""
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    target = start + t if t != float("inf") else start + float(
        (stream.duration or 0) * stream.time_base if stream.time_base else 0)
    container.seek(max(0, int(target / stream.time_base)), stream=stream, backward=True)
    latest = None
    for frame in container.decode(stream):
        latest = frame
        if t != float("inf") and frame.time is not None and frame.time >= start + t - 1e-6:
            break
    return latest


def _save_jpeg(frame: Image.Image, target: Path) -> None:
    image = frame.convert("RGB")
    if image.width > THUMB_WIDTH:
        image = image.resize((THUMB_WIDTH, max(1, round(image.height * THUMB_WIDTH / image.width))),
                             Image.Resampling.LANCZOS)
    tmp = target.with_name(target.name + ".tmp")
    image.save(tmp, "JPEG", quality=JPEG_QUALITY)
    os.replace(tmp, target)


def _load_index(out_dir: Path) -> dict:
    try:
        data = json.loads((out_dir / THUMBS_DIR / INDEX_NAME).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # no index, or a damaged one: the thumbnails are cut again


def _save_index(out_dir: Path, index: dict) -> None:
    folder = out_dir / THUMBS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (INDEX_NAME + ".tmp")
    tmp.write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / INDEX_NAME)
