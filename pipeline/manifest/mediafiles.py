"""Local media files for the v2 API (MiniMax-H3): what one read of a file tells (its kind and
format by content, size, sha256, picture sides, length, frame rate, codecs), and whether an API
generation's limits (catalogue.INPUT_LIMITS) take it.

A file is read once per version of it, as in imagefiles: its facts are cached by (real path,
size, mtime_ns), and the manifest cache keeps them across processes. The bytes hashed are the
bytes probed (PyAV reads the copy in memory), so a file swapped mid-check cannot pass under
another's facts. The request builder may use `facts(path).sha256` and `data_uri_prefix` for the
file it inlines; the checker uses `problem` and `base64_size`.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from dataclasses import asdict, dataclass
from typing import Any, Literal, Optional

from pipeline.minimax.catalogue import MediaLimits

Kind = Literal["image", "video", "audio"]

READ_MAX = 64 * 1024 * 1024  # no API generation takes a bigger file (v2's whole body is 64 MB)
UNHASHED = ""  # the sha256 of a file over READ_MAX: never read whole, so never hashed

# ISO base media brands (the ftyp box) that mean a still image, and which format.
_IMAGE_BRANDS = {b"heic": "heic", b"heix": "heic", b"heim": "heic", b"heis": "heic", b"hevc": "heic",
                 b"hevx": "heic", b"mif1": "heif", b"msf1": "heif", b"avif": "avif", b"avis": "avif"}
_AUDIO_BRANDS = {b"M4A ": "m4a", b"M4B ": "m4a"}
# MIME types for data URIs (minimax-api-v2.md A3: lower-case format; audio/mp3, not audio/mpeg).
MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic",
              "heif": "image/heif", "mp4": "video/mp4", "mov": "video/quicktime", "wav": "audio/wav",
              "mp3": "audio/mp3"}
# A decoder's name -> the codec it decodes, as catalogue.MediaLimits names codecs.
_CODECS = {"mp3float": "mp3", "mp3": "mp3", "aac_fixed": "aac", "aac_latm": "aac"}
_NAMES = {"avif": "an AVIF image", "m4a": "an M4A audio file", "gif": "a GIF image", "jpeg": "a JPG image",
          "png": "a PNG image", "webp": "a WebP image", "heic": "a HEIC image", "heif": "a HEIF image",
          "mp4": "an MP4 video", "mov": "a MOV video", "wav": "a WAV audio file", "mp3": "an MP3 audio file"}


@dataclass(frozen=True)
class MediaFacts:
    """What one read of a media file told: all plain values, so the manifest cache can keep them.
    `error`: the file could not be read as its format (damaged); None when it could."""

    sha256: str
    size: int
    kind: Optional[Kind] = None  # None: not a media format we know
    format: Optional[str] = None  # "png", "mp4", "wav", ...
    width: Optional[int] = None
    height: Optional[int] = None
    seconds: Optional[float] = None
    fps: Optional[float] = None
    video_codec: Optional[str] = None
    audio_codec: Optional[str] = None
    error: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MediaFacts":
        return cls(**data)


def sniff(head: bytes) -> tuple[Optional[str], Optional[str]]:
    """(kind, format) from a file's first bytes, whatever its name says; (None, None) if unknown."""
    if head[:3] == b"\xff\xd8\xff":
        return "image", "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image", "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return "audio", "mp3"  # an ID3 tag, or an MPEG audio frame header (AAC's ADTS has layer 0)
    if head[4:8] == b"ftyp":
        brands = [head[8:12]] + [head[i:i + 4] for i in range(16, min(len(head), 8 + _box_size(head)), 4)]
        for brand in brands:
            if brand in _IMAGE_BRANDS:
                return "image", _IMAGE_BRANDS[brand]
        if head[8:12] in _AUDIO_BRANDS:
            return "audio", _AUDIO_BRANDS[head[8:12]]
        return "video", "mov" if head[8:12] == b"qt  " else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video", "mov"  # an older QuickTime file without ftyp
    return None, None


def _box_size(data: bytes) -> int:
    return struct.unpack(">I", data[:4])[0] if len(data) >= 4 else 0


def name_of(fmt: Optional[str]) -> str:
    """'an MP4 video', 'a PNG image': how a message names what a file really is."""
    return _NAMES.get(fmt or "", "not a media file we know")


def data_uri_prefix(fmt: str) -> str:
    """'data:image/png;base64,' for a file of this format."""
    return f"data:{MIME_TYPES[fmt]};base64,"


def base64_size(size: int) -> int:
    """Bytes a file of `size` bytes takes in a request body as a base64 data URI (without its prefix)."""
    return 4 * ((size + 2) // 3)


# -- one read per version of a file ---------------------------------------------------------------

_facts: dict[tuple[str, int, int], MediaFacts] = {}
_FACTS_MAX = 10_000


def facts(path: str | os.PathLike) -> MediaFacts:
    """Hash and probe a local media file, once per (path, size, mtime_ns). OSError if unreadable."""
    name = os.fspath(path)
    st = os.stat(name)
    key = (name, st.st_size, st.st_mtime_ns)
    hit = _facts.get(key)
    if hit is not None:
        return hit
    with open(name, "rb") as fh:
        data = fh.read(READ_MAX + 1)  # never more: the file may have grown since the stat
    if len(data) > READ_MAX:  # refused by its size alone (whatever it is): never hashed or probed
        kind, fmt = sniff(data[:64])
        out = MediaFacts(UNHASHED, max(st.st_size, len(data)), kind, fmt)
    else:
        out = read(data)
    remember(name, st.st_size, st.st_mtime_ns, out)
    return out


def read(data: bytes) -> MediaFacts:
    """The facts of a media file's bytes."""
    kind, fmt = sniff(data[:64])
    digest, size = hashlib.sha256(data).hexdigest(), len(data)
    if kind is None:
        return MediaFacts(digest, size)
    try:
        found = _PROBES[kind](data, fmt)
    except _Unreadable as exc:
        return MediaFacts(digest, size, kind, fmt, error=f"{name_of(fmt)} that cannot be read ({exc})")
    return MediaFacts(digest, size, kind, fmt, **found)


def seen(path: str) -> tuple[MediaFacts, int, int] | None:
    """(facts, size, mtime_ns) if this file was read as it is now; None if never, or changed since."""
    st = os.stat(path)
    hit = _facts.get((path, st.st_size, st.st_mtime_ns))
    return (hit, st.st_size, st.st_mtime_ns) if hit is not None else None


def remember(path: str, size: int, mtime_ns: int, known: MediaFacts) -> None:
    """Keep facts for the file at this size and mtime (read here, or by an earlier process: the manifest cache)."""
    if len(_facts) >= _FACTS_MAX:
        _facts.clear()
    _facts[(path, size, mtime_ns)] = known


# -- probes: the header of a still, PyAV for what moves or sounds -----------------------------------


class _Unreadable(ValueError):
    """The bytes are not a readable file of the format they start as."""


def _probe_image(data: bytes, fmt: str) -> dict[str, Any]:
    if fmt in ("heic", "heif", "avif"):
        width, height = _isobmff_image_size(data)
        return {"width": width, "height": height}
    from PIL import GifImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    # The format's own reader reads the header and decodes no pixels (see images._dimensions).
    reader = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
              "webp": WebPImagePlugin.WebPImageFile, "gif": GifImagePlugin.GifImageFile}[fmt]
    try:
        with reader(io.BytesIO(data)) as img:
            width, height = img.size
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _Unreadable(str(exc) or type(exc).__name__) from None
    return {"width": width, "height": height}


def _isobmff_image_size(data: bytes) -> tuple[int, int]:
    """The largest 'ispe' (image spatial extent) in a HEIF file's meta/iprp/ipco boxes: the
    primary image's size (the others are thumbnails and tiles)."""
    meta = _child(data, 0, len(data), b"meta")
    if meta is None:
        raise _Unreadable("no meta box")
    iprp = _child(data, meta[0] + 4, meta[1], b"iprp")  # meta is a full box: 4 bytes of version and flags
    ipco = _child(data, iprp[0], iprp[1], b"ipco") if iprp else None
    if ipco is None:
        raise _Unreadable("no image properties")
    sizes = []
    at = ipco[0]
    while at + 8 <= ipco[1]:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if size < 8:
            break
        if kind == b"ispe" and at + 20 <= len(data):
            sizes.append(struct.unpack(">II", data[at + 12:at + 20]))
        at += size
    if not sizes:
        raise _Unreadable("no image size (ispe)")
    return max(sizes, key=lambda wh: wh[0] * wh[1])


def _child(data: bytes, start: int, end: int, want: bytes) -> tuple[int, int] | None:
    """(start, end) of the payload of the first box named `want` between start and end."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        header = 8
        if size == 1 and at + 16 <= end:
            size, header = struct.unpack(">Q", data[at + 8:at + 16])[0], 16
        elif size == 0:
            size = end - at
        if size < header:
            return None
        if kind == want:
            return at + header, min(at + size, end)
        at += size
    return None


def _probe_av(data: bytes, fmt: str) -> dict[str, Any]:
    """Length, picture, frame rate and codecs from the container's header (no frame decoded)."""
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            audio = next((s for s in container.streams if s.type == "audio"), None)
            seconds = container.duration / 1_000_000 if container.duration else None
            if seconds is None:
                timed = next((s for s in (video, audio) if s is not None and s.duration and s.time_base), None)
                seconds = float(timed.duration * timed.time_base) if timed is not None else None
            out: dict[str, Any] = {"seconds": None if seconds is None else round(seconds, 3)}
            if video is not None:
                rate = video.average_rate or video.guessed_rate
                out.update(width=video.codec_context.width or None, height=video.codec_context.height or None,
                           fps=round(float(rate), 3) if rate else None, video_codec=_codec(video))
            if audio is not None:
                out["audio_codec"] = _codec(audio)
            return out
    except (av.FFmpegError, ValueError, OSError, ZeroDivisionError) as exc:
        raise _Unreadable(str(exc).split(";")[0] or type(exc).__name__) from None


def _codec(stream: Any) -> str:
    name = stream.codec_context.name
    return _CODECS.get(name, name)


_PROBES = {"image": _probe_image, "video": _probe_av, "audio": _probe_av}


# -- what the API takes --------------------------------------------------------------------------


def mb(size: int) -> str:
    """'30 MB', '31.2 MB' (the API's MB: 1024 x 1024 bytes); '48 KB' under a megabyte."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):,.1f} MB".replace(".0 MB", " MB")


def problem(facts: MediaFacts, limits: MediaLimits) -> str | None:
    """Why the API would refuse this file as a `limits.kind` input, or None: the first rule it
    breaks, in the order kind, size, readable, codecs, length, frame rate, picture."""
    what = limits.kind
    if facts.kind != what or facts.format not in limits.formats:
        plural = {"image": "images", "video": "videos", "audio": "audio files"}[what]
        names = _or(list(dict.fromkeys(limits.formats.values())))
        return f"{name_of(facts.format)}; here the API takes {names} {plural} (judged by the content, not the name)"
    if facts.size > limits.max_bytes:
        return f"{what} is {mb(facts.size)}; the API takes {what} files up to {mb(limits.max_bytes)}"
    if facts.error:
        return facts.error
    for check in (_codec_problem, _length_problem, _rate_problem, _picture_problem):
        found = check(facts, limits)
        if found:
            return found
    return None


def _codec_problem(facts: MediaFacts, limits: MediaLimits) -> str | None:
    if limits.video_codecs:
        if facts.video_codec is None:
            return f"{limits.kind} has no video track"
        if facts.video_codec not in limits.video_codecs:
            return (f"video is encoded as {facts.video_codec}; the API takes "
                    f"{_or(list(limits.video_codecs.values()))} (re-encode it)")
    if limits.audio_codecs and facts.audio_codec is not None and facts.audio_codec not in limits.audio_codecs:
        return (f"video's sound is encoded as {facts.audio_codec}; the API takes "
                f"{_or(list(limits.audio_codecs.values()))} (re-encode it, or drop the sound)")
    return None


def _length_problem(facts: MediaFacts, limits: MediaLimits) -> str | None:
    if limits.min_seconds is None and limits.max_seconds is None:
        return None
    if facts.seconds is None:
        return f"{limits.kind}'s length cannot be read"
    low, high = limits.min_seconds or 0, limits.max_seconds or float("inf")
    if not low <= facts.seconds <= high:
        return f"{limits.kind} is {facts.seconds:g} s long; the API takes {low:g} to {high:g} s per file"
    return None


def _rate_problem(facts: MediaFacts, limits: MediaLimits) -> str | None:
    if limits.min_fps is None:
        return None
    high = limits.max_fps if limits.max_fps is not None else float("inf")
    if facts.fps is None or not limits.min_fps <= facts.fps <= high:
        shown = "unknown" if facts.fps is None else f"{facts.fps:g} fps"
        return f"video's frame rate is {shown}; the API takes {limits.min_fps:g} to {high:g} fps"
    return None


def _picture_problem(facts: MediaFacts, limits: MediaLimits) -> str | None:
    if limits.min_side is None and limits.min_ratio is None:
        return None
    if not facts.width or not facts.height:
        return f"{limits.kind}'s picture size cannot be read"
    w, h = facts.width, facts.height
    low, high = limits.min_side or 1, limits.max_side or float("inf")
    if not (low <= min(w, h) and max(w, h) <= high):
        return f"{limits.kind} is {w}x{h}; the API takes {low} to {high:g} px a side"
    ratio, low_ratio, high_ratio = w / h, limits.min_ratio, limits.max_ratio
    if low_ratio is not None and high_ratio is not None and not low_ratio <= ratio <= high_ratio:
        return (f"{limits.kind} is {w}x{h} (aspect ratio {ratio:.2f}); the API takes width/height "
                f"{limits.min_ratio:.2f} to {limits.max_ratio:.2f}")
    return None


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
