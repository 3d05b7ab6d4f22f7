"""Thumbnails for the contact sheet: the first, middle and last frame of each video, as JPEGs,
and one of each still an image shot made (decoded with Pillow: a still is no video).

They live in `<output folder>/thumbs/<shot>.take<N>.<first|middle|last>.jpg` (a still's:
`<shot>.take<N>.still.jpg`), with an index (`thumbs/index.json`) of the file each set was made
from. A file whose size and mtime are as recorded is not opened again; one whose mtime changed
is hashed, and only a changed sha256 makes new thumbnails.

The input frames a shot was made from (its first, last and subject images) get one too, named by
their content (`thumbs/inputs/<sha256 prefix>.jpg`): shots that share an image share it, and an
edited image gets a new one.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageOps

from pipeline import files
from pipeline.files import sha256_file as sha256_of  # a module name: tests replace it
from pipeline.manifest import takes as naming
from pipeline.run.video import stream_duration

THUMBS_DIR = "thumbs"
INPUTS_DIR = "inputs"  # under THUMBS_DIR: the input frames'
INPUT_NAME_CHARS = 16  # of the image's sha256: 64 bits tell a project's images apart
INDEX_NAME = "index.json"
POSITIONS = ("first", "middle", "last")
STILL_POSITION = "still"  # a still's one thumbnail
THUMB_WIDTH = 320  # pixels; the sheet shows them at 160 CSS px, sharp on a 2x screen
JPEG_QUALITY = 82


class ThumbError(ValueError):
    """The video (or still) could not be decoded into thumbnails."""


@dataclass(frozen=True)
class VideoMeta:
    """What the contact sheet says of a video (or a still: duration 0, no fps), read while
    cutting its thumbnails."""

    width: int
    height: int
    duration: float
    fps: float | None
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Thumbs:
    files: tuple[str, ...]  # paths relative to the output folder, in POSITIONS order (a still's: one)
    meta: VideoMeta
    made: bool  # cut now (False: reused from an earlier report)
    still: bool = False


def names(shot: str, take: int, still: bool = False) -> tuple[str, ...]:
    """The take's thumbnails: a video's first, middle and last frames; a still's one picture."""
    return tuple(f"{THUMBS_DIR}/{naming.thumbs_key(shot, take)}.{where}.jpg"
                 for where in ((STILL_POSITION,) if still else POSITIONS))


class Index:
    """`thumbs/index.json`: which video (and which version of it) each take's thumbnails show.

    Load it once, `ensure()` every take (from several threads if you like), `save()` once.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.entries = _load_index(out_dir)
        self.changed = False
        self._lock = threading.Lock()

    def ensure(self, video: str, shot: str, take: int, sha256: str | None = None, *, still: bool = False) -> Thumbs:
        """The thumbnails of `out_dir/video` (with `still`: an image shot's still), cut now only if
        the file changed since last time. `sha256`, when the caller knows the file's (the ledger
        verified it), spares hashing it."""
        path = self.out_dir / video
        st = path.stat()
        jpegs = names(shot, take, still)
        key = naming.thumbs_key(shot, take)
        with self._lock:
            known = self.entries.get(key)
        if known and known.get("video") == video and all((self.out_dir / f).exists() for f in jpegs):
            meta = VideoMeta(**known["meta"])
            if (meta.size, meta.mtime_ns) == (st.st_size, st.st_mtime_ns):
                return Thumbs(jpegs, meta, made=False, still=still)
            digest = sha256 or sha256_of(path)
            if digest == meta.sha256:  # touched, not changed: remember the new mtime
                meta = VideoMeta(**{**asdict(meta), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
                self._record(key, video, meta)
                return Thumbs(jpegs, meta, made=False, still=still)
        else:
            digest = sha256 or sha256_of(path)
        frames, (width, height, duration, fps) = extract_still(path) if still else extract(path)
        (self.out_dir / THUMBS_DIR).mkdir(parents=True, exist_ok=True)
        for name, frame in zip(jpegs, frames):
            _save_jpeg(frame, self.out_dir / name)
        meta = VideoMeta(width, height, duration, fps, digest, st.st_size, st.st_mtime_ns)
        self._record(key, video, meta)
        return Thumbs(jpegs, meta, made=True, still=still)

    def _record(self, key: str, video: str, meta: VideoMeta) -> None:
        with self._lock:
            self.entries[key] = {"video": video, "meta": asdict(meta)}
            self.changed = True

    def save(self) -> None:
        if self.changed:
            _save_index(self.out_dir, self.entries)
            self.changed = False


def ensure(out_dir: Path, video: str, shot: str, take: int, sha256: str | None = None, *,
           still: bool = False) -> Thumbs:
    """One take's thumbnails, with the index read and written around it (see Index for many)."""
    index = Index(out_dir)
    try:
        return index.ensure(video, shot, take, sha256, still=still)
    finally:
        index.save()


def extract(path: Path) -> tuple[list[Image.Image], tuple[int, int, float, float | None]]:
    """([first, middle, last] frames, (width, height, duration, fps)), seeking rather than
    decoding the whole video where the container allows it."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ThumbError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            duration = stream_duration(container, stream) or 0.0
            fps = float(stream.average_rate) if stream.average_rate else None
            first = next(container.decode(stream))
            middle = _frame_at(container, stream, duration / 2) if duration > 0 else first
            last = _frame_at(container, stream, float("inf"))
            # BILINEAR: PyAV's default conversion sets up a costly scaler for every frame
            images = [f.reformat(format="rgb24", interpolation="BILINEAR").to_image()
                      for f in (first, middle or first, last or first)]
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


@dataclass(frozen=True)
class Still:
    """An input image's thumbnail."""

    file: str  # relative to the output folder
    width: int
    height: int


def input_still(out_dir: Path, image: str | Path, sha256: str) -> Still:
    """The thumbnail of a local input image whose content hashes to `sha256`, made now unless an
    earlier report made it. ThumbError if the image cannot be decoded; OSError if unreadable."""
    name = f"{THUMBS_DIR}/{INPUTS_DIR}/{sha256[:INPUT_NAME_CHARS]}.jpg"
    target = out_dir / name
    try:
        with Image.open(target) as done:
            return Still(name, done.width, done.height)
    except (OSError, ValueError):
        pass  # not made yet (or damaged): make it
    picture, _ = _small_picture(Path(image), (THUMB_WIDTH, THUMB_WIDTH))
    target.parent.mkdir(parents=True, exist_ok=True)
    _save_jpeg(picture, target)
    return Still(name, picture.width, picture.height)


def extract_still(path: Path) -> tuple[list[Image.Image], tuple[int, int, float, float | None]]:
    """([the still, THUMB_WIDTH wide like a video's frames], (width, height, 0.0, None)):
    `extract`'s answer for an image shot's still, with its own size as the API made it."""
    picture, (width, height) = _small_picture(path, (THUMB_WIDTH, 1 << 16))
    return [picture], (width, height, 0.0, None)


def _small_picture(image: Path, box: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """The image upright, in RGB (transparency on grey), shrunk to fit `box`; and its own upright
    size. ThumbError if it cannot be decoded; OSError if unreadable."""
    try:
        with Image.open(image) as src:
            width, height = src.size
            if src.getexif().get(_ORIENTATION, 1) in _QUARTER_TURNS:
                width, height = height, width
            side = 2 * min(box)  # a JPEG decodes at a fraction of its size, no smaller than this
            src.draft("RGB", (side, side))
            picture = ImageOps.exif_transpose(src)
            if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
                rgba = picture.convert("RGBA")
                picture = Image.new("RGB", rgba.size, (128, 128, 128))
                picture.paste(rgba, mask=rgba.getchannel("A"))
            picture = picture.convert("RGB")
            picture.thumbnail(box, Image.Resampling.LANCZOS)
    except (Image.DecompressionBombError, Image.UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise ThumbError(f"cannot decode {image.name} ({type(exc).__name__}: {exc})") from exc
    return picture, (width, height)


_ORIENTATION = 0x0112  # the EXIF tag
_QUARTER_TURNS = (5, 6, 7, 8)  # orientations that swap width and height


def _save_jpeg(frame: Image.Image, target: Path) -> None:
    image = frame.convert("RGB")
    if image.width > THUMB_WIDTH:
        image = image.resize((THUMB_WIDTH, max(1, round(image.height * THUMB_WIDTH / image.width))),
                             Image.Resampling.LANCZOS)
    with files.replacing(target) as tmp:
        image.save(tmp, "JPEG", quality=JPEG_QUALITY)


def _load_index(out_dir: Path) -> dict:
    try:
        data = json.loads((out_dir / THUMBS_DIR / INDEX_NAME).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # no index, or a damaged one: the thumbnails are cut again


def _save_index(out_dir: Path, index: dict) -> None:
    folder = out_dir / THUMBS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    files.write_atomic(folder / INDEX_NAME, json.dumps(index, indent=1, sort_keys=True))
