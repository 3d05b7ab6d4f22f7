"""Frames cut from upstream outputs, for the shots that start from another shot's video or still.

A dependent take sends a frame of its upstream take (its first, its last, or the one shown at a
time) as a lossless PNG, or an image shot's still as it is. Each is kept in the output folder's
`frames/` under a name made of the upstream's content hash and the frame, so a resumed run cuts
nothing again, an upstream that changes gets new frames, and a still regenerated later (the old
one moved to history/) never pulls the file from under a dependant.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pipeline import files
from pipeline.manifest import mediafiles, takes
from pipeline.manifest.models import FrameRef
from pipeline.minimax import catalogue, images
from pipeline.run import store
from pipeline.run.video import stream_duration

Frame = Literal["first", "last"] | float | None  # None: "last", as FrameRef says
Api = Literal["v1", "v2", "image"]  # "image": a subject reference of the image API
HASH_CHARS = 16  # of the upstream's sha256, in a frame's name


class FrameError(Exception):
    """Raised when a frame cannot be had; one line naming the upstream file and the frame."""


def selector(frame: Frame) -> str:
    """The frame as a name part ('last', 'first', '2.5s'): FrameRef's own rule."""
    return FrameRef(shot="", frame=frame).selector


def describe(frame: Frame) -> str:
    """'the last frame', 'the frame at 2.5 s'."""
    if isinstance(frame, str) or frame is None:
        return f"the {selector(frame)} frame"
    return f"the frame at {frame:g} s"


# -- cutting --------------------------------------------------------------------------------------


def cut(video: Path, frame: Frame) -> bytes:
    """The frame as PNG bytes (lossless RGB) at the video's own size: "first"; "last" (the last
    frame decoded, found by seeking near the end, not by decoding the whole clip); or a time in
    seconds from the clip's start, the frame shown then (the largest start time <= t). FrameError
    for a time past the end, or a file that is no playable video."""
    import av

    video = Path(video)
    timed = isinstance(frame, (int, float)) and not isinstance(frame, bool)
    if not (frame in ("first", "last", None) or (timed and math.isfinite(frame))):
        raise FrameError(f"{video.name}: {frame!r} names no frame (first, last or a time in seconds)")
    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise FrameError(f"{video.name} has no video stream to cut {describe(frame)} from")
            stream = container.streams.video[0]
            if frame == "first":
                picture = next(_frames(container, stream), None)
            elif frame in ("last", None):
                picture = _last(container, stream)
            else:
                picture = _at(container, stream, video, frame)
            if picture is None:
                raise FrameError(f"{video.name}: no frame decodes, so {describe(frame)} cannot be cut")
            return _png(picture)
    except FrameError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise FrameError(f"{video.name}: cannot cut {describe(frame)}: not a playable video "
                         f"({type(exc).__name__}: {exc})") from exc


def _frames(container: Any, stream: Any) -> Iterator[Any]:
    """The video's frames in presentation order, from wherever the container stands."""
    for picture in container.decode(stream):
        if picture.pts is not None:
            yield picture


def _start(stream: Any) -> int:
    return stream.start_time or 0


def _seek(container: Any, stream: Any, pts: int) -> None:
    """To the key frame at or before `pts` (the decoder is flushed)."""
    container.seek(max(pts, _start(stream)), stream=stream, backward=True)


def _last(container: Any, stream: Any) -> Any:
    """The last frame: decode from the last key frame before the end; from the start only when
    the seek finds nothing (a file without an index) or the length is unknown."""
    seconds = stream_duration(container, stream)
    if seconds is not None and stream.time_base:
        _seek(container, stream, _start(stream) + int(Fraction(seconds) / stream.time_base))
        found = _final(_frames(container, stream))
        if found is not None:
            return found
        _seek(container, stream, _start(stream))
    return _final(_frames(container, stream))


def _final(frames: Iterator[Any]) -> Any:
    last = None
    for last in frames:  # the loop keeps the last
        pass
    return last


def _at(container: Any, stream: Any, video: Path, seconds: float) -> Any:
    """The frame shown `seconds` after the clip's first frame: the last one starting at or before."""
    length = stream_duration(container, stream)
    wanted = Fraction(repr(float(seconds)))  # as written: 0.3 means 3/10, not the float below it
    if seconds < 0 or (length is not None and wanted > Fraction(length)):
        shown = "?" if length is None else f"{round(length, 3):g}"
        raise FrameError(f"{video.name} is {shown} s long; it has no frame at {seconds:g} s")
    base, start = stream.time_base, _start(stream)
    target = start + int(wanted / base)  # the last pts at or before the time
    if target > start:
        _seek(container, stream, target)
    found = _shown_at(_frames(container, stream), target)
    if found is None and target > start:  # the seek landed past the time: scan from the start
        _seek(container, stream, start)
        found = _shown_at(_frames(container, stream), target)
    return found


def _shown_at(frames: Iterator[Any], target: int) -> Any:
    """The last frame whose pts is <= target; the first frame if all start later."""
    shown = None
    for picture in frames:
        if picture.pts > target:
            return shown if shown is not None else picture
        shown = picture
    return shown


def _png(picture: Any) -> bytes:
    buffer = io.BytesIO()
    picture.to_image().save(buffer, "PNG")  # to_image: RGB, whatever the video's pixel format
    return buffer.getvalue()


# -- the cache ------------------------------------------------------------------------------------

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    """One lock per frame file, shared by every FrameStore: two dependants of one frame cut it once."""
    key = os.path.abspath(path)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class FrameStore:
    """The frames of one output folder (`<out>/frames/`): cut or copied once, kept by content."""

    def __init__(self, out_dir: Path):
        self.folder = Path(out_dir) / takes.FRAMES

    def path_for(self, upstream: Path, upstream_sha256: str, frame: Frame = None, *, still: bool = False) -> Path:
        """Where (upstream content, frame) lives: `<stem>.<selector>.<sha256[:16]>.png`, or for an
        image shot's still `<stem>.<sha256[:16]>.jpg`."""
        if not re.fullmatch(r"[0-9a-f]{64}", upstream_sha256):
            raise ValueError(f"{upstream_sha256!r} is not a sha256 in hex")
        upstream, digest = Path(upstream), upstream_sha256[:HASH_CHARS]
        if still:
            return self.folder / f"{upstream.stem}.{digest}{upstream.suffix or takes.STILL_SUFFIX}"
        return self.folder / f"{upstream.stem}.{selector(frame)}.{digest}.png"

    def frame_of(self, upstream: Path, upstream_sha256: str, frame: Frame = None, *, still: bool = False) -> Path:
        """The file for `frame` of `upstream` (whose content hashes to `upstream_sha256`), or, with
        `still`, a copy of the still itself (`frame` ignored). Reused when it is there and intact;
        made again when damaged. FrameError when the upstream is not what its hash says or the
        frame cannot be cut. Safe to call from several threads at once."""
        upstream = Path(upstream)
        target = self.path_for(upstream, upstream_sha256, frame, still=still)
        with _lock_for(target):
            if _intact(target, upstream_sha256 if still else None):
                return target
            data = _copy(upstream, upstream_sha256) if still else _cut_verified(upstream, upstream_sha256, frame)
            self.folder.mkdir(parents=True, exist_ok=True)
            with files.replacing(target, store.part_path(target), durable=True) as part:
                part.write_bytes(data)
            return target


def _intact(path: Path, sha256: str | None) -> bool:
    """A kept copy: its bytes hash to `sha256`. A kept frame: it decodes as a PNG."""
    try:
        if sha256 is not None:
            return files.sha256_file(path) == sha256
        from PIL import Image

        with Image.open(path, formats=["PNG"]) as picture:
            picture.load()
        return True
    except (OSError, SyntaxError, ValueError):  # missing, unreadable, damaged
        return False


def _copy(still: Path, sha256: str) -> bytes:
    try:
        data = still.read_bytes()
    except OSError as exc:
        raise FrameError(f"{still.name}: cannot read the still ({exc.strerror or exc})") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise FrameError(f"{still.name} changed since it was verified (its sha256 differs); run again")
    return data


def _cut_verified(video: Path, sha256: str, frame: Frame) -> bytes:
    """cut(), from a file proven to be the content `sha256` names, from before the hash to after the cut."""
    try:
        before = _identity(video)
        if files.sha256_file(video) != sha256:
            raise FrameError(f"{video.name} changed since it was verified (its sha256 differs); run again")
        data = cut(video, frame)
        if _identity(video) != before:
            raise FrameError(f"{video.name} changed while {describe(frame)} was cut from it; run again")
    except OSError as exc:
        raise FrameError(f"{video.name}: cannot read it to cut {describe(frame)} ({exc.strerror or exc})") from exc
    return data


def _identity(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


# -- the API's image rules ------------------------------------------------------------------------


def image_problem(path: Path, api: Api, what: str | None = None) -> str | None:
    """Why the API would refuse this frame (or still) as an image input, in one line, or None.
    `api` "v1": images.py's rules; "v2": catalogue.INPUT_LIMITS["v2"] read by mediafiles, as the
    manifest checks v2 images; "image": the image API's subject reference (catalogue.IMAGE_SUBJECT).
    `what` names the image in the message ("the last frame of s01"; default: the file's name)."""
    path = Path(path)
    name = what or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"{name}: cannot read {path.name} ({exc.strerror or exc})"
    if api == "v1":
        try:
            images.inspect(data)
            found = None
        except images.ImageError as exc:
            found = str(exc)
    elif api in ("v2", "image"):
        limits = catalogue.INPUT_LIMITS["v2"].media["image"] if api == "v2" else catalogue.IMAGE_SUBJECT
        found = mediafiles.problem(mediafiles.read(data), limits)
    else:
        raise ValueError(f"unknown API {api!r}: expected 'v1', 'v2' or 'image'")
    if found is None:
        return None
    return f"{name}{found[len('image'):]}" if found.startswith("image is ") else f"{name}: {found}"
