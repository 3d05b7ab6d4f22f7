"""The v2 media rules (minimax-api-v2.md A4 rules 8-10) applied to the bytes of a data URI.

Images are read from their header (no pixel decoded), videos and audio are probed with PyAV
(container and stream headers; nothing is decoded). A URL is never fetched: what it holds is
known only when the task "runs" (v2engine decides that).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
from dataclasses import dataclass

from pipeline.minimax import images

IMAGE_MAX_BYTES = 30 * 1024 * 1024
VIDEO_MAX_BYTES = 50 * 1024 * 1024
AUDIO_MAX_BYTES = 15 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 256, 5760
MIN_RATIO, MAX_RATIO = 0.4, 2.5
MIN_SECONDS, MAX_SECONDS = 2.0, 15.0
MIN_FPS, MAX_FPS = 23.976, 60.0
FPS_SLACK = 0.001  # 24000/1001 is 23.97602...

# data:<kind>/<subtype>;base64,  subtype as the notes list it, lower case.
SUBTYPES = {
    "image": ("jpeg", "jpg", "png", "webp", "heic", "heif"),
    "video": ("mp4", "quicktime"),
    "audio": ("wav", "wave", "x-wav", "mp3"),
}
_DATA_URI = re.compile(r"^data:([A-Za-z0-9.+-]+)/([A-Za-z0-9.+-]+);base64,", re.IGNORECASE)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


class MediaError(ValueError):
    """Media the API would refuse; the message names the rule and the actual value."""


@dataclass(frozen=True)
class Media:
    """What a data URI holds, as far as the rules and the usage counts need it."""

    kind: str  # "image" | "video" | "audio"
    format: str  # "jpeg", "png", "webp", "heif", "mp4", "wav", "mp3"
    data: bytes
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    fps: float = 0.0  # videos: what a regeneration's base_video is checked against
    frames: int = 0
    sound: bool = False


def is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def decode(url: str, kind: str) -> tuple[str, bytes]:
    """(subtype, bytes) of a Base64 data URI of `kind`; MediaError if it is not one."""
    match = _DATA_URI.match(url)
    if not match:
        raise MediaError(f"not a Base64 data URI (expected data:{kind}/<format>;base64,...)")
    declared, subtype = match.group(1), match.group(2)
    if declared.lower() != kind:
        raise MediaError(f"a data URI of {declared}/{subtype} where data:{kind}/... was expected")
    if declared != declared.lower() or subtype != subtype.lower():
        raise MediaError(f"the data URI's type must be lower case (data:{kind}/{subtype.lower()}), "
                         f"not data:{declared}/{subtype}")
    if kind == "audio" and subtype == "mpeg":
        raise MediaError("data:audio/mpeg is not accepted; send MP3 as data:audio/mp3")
    if subtype not in SUBTYPES[kind]:
        raise MediaError(f"data:{kind}/{subtype} is not accepted; formats: {', '.join(SUBTYPES[kind])}")
    try:
        return subtype, base64.b64decode(url[match.end():], validate=True)
    except (binascii.Error, ValueError):
        raise MediaError("the data URI is not valid Base64") from None


def inspect(kind: str, data: bytes) -> Media:
    """Check `data` against the rules for `kind`; MediaError names the first rule it breaks."""
    return {"image": image, "video": video, "audio": audio}[kind](data)


def image(data: bytes) -> Media:
    """Rule 8: JPG, JPEG, PNG, WEBP, HEIC, HEIF; at most 30 MB; sides 256-5760 px; w/h 0.4-2.5."""
    if len(data) > IMAGE_MAX_BYTES:
        raise MediaError(f"image is {_mb(len(data))}; images may be at most 30 MB")
    fmt = _image_format(data)
    if fmt is None:
        raise MediaError("not a JPG, JPEG, PNG, WEBP, HEIC or HEIF image (checked by its content)")
    width, height = _heif_size(data) if fmt == "heif" else _pil_size(data, fmt)
    _frame_rules("image", width, height)
    return Media("image", fmt, data, width, height)


def video(data: bytes) -> Media:
    """Rule 9: MP4/MOV, H.264/H.265 with AAC/MP3 audio, at most 50 MB, 2-15 s, sides 256-5760,
    w/h 0.4-2.5, 23.976-60 fps."""
    if len(data) > VIDEO_MAX_BYTES:
        raise MediaError(f"reference video is {_mb(len(data))}; videos may be at most 50 MB")
    import av  # here: validating a text-only create needs no PyAV

    try:
        with av.open(io.BytesIO(data), "r") as container:
            if "mp4" not in container.format.name and "mov" not in container.format.name:
                raise MediaError(f"reference video is {container.format.name}, not MP4 or MOV")
            if not container.streams.video:
                raise MediaError("reference video has no video stream")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in ("h264", "hevc"):
                raise MediaError(f"reference video is coded {codec}; H.264 or H.265 only")
            for sound in container.streams.audio:
                if sound.codec_context.name not in ("aac", "mp3", "mp3float"):
                    raise MediaError(f"reference video's audio is {sound.codec_context.name}; AAC or MP3 only")
            seconds = _seconds(container, stream)
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            width, height = stream.codec_context.width, stream.codec_context.height
            frames, sound = stream.frames or round(seconds * fps), bool(container.streams.audio)
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"reference video is not a readable MP4/MOV ({exc})") from None
    _length_rule("reference video", seconds)
    _frame_rules("reference video", width, height)
    if not MIN_FPS - FPS_SLACK <= fps <= MAX_FPS + FPS_SLACK:
        raise MediaError(f"reference video runs at {fps:.3f} fps; 23.976 to 60 fps are accepted")
    return Media("video", "mp4", data, width, height, seconds, fps, frames, sound)


def audio(data: bytes) -> Media:
    """Rule 10: WAV or MP3, at most 15 MB, 2-15 s."""
    if len(data) > AUDIO_MAX_BYTES:
        raise MediaError(f"reference audio is {_mb(len(data))}; audio may be at most 15 MB")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        fmt = "wav"
    elif data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        fmt = "mp3"
    else:
        raise MediaError("reference audio is not WAV or MP3 (checked by its content)")
    import av

    try:
        with av.open(io.BytesIO(data), "r", format=fmt) as container:
            if not container.streams.audio:
                raise MediaError("reference audio has no audio stream")
            seconds = _seconds(container, container.streams.audio[0])
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"reference audio is not readable {fmt.upper()} ({exc})") from None
    _length_rule("reference audio", seconds)
    return Media("audio", fmt, data, seconds=seconds)


def _seconds(container, stream) -> float:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def _length_rule(what: str, seconds: float) -> None:
    if not MIN_SECONDS <= round(seconds, 3) <= MAX_SECONDS:
        raise MediaError(f"{what} is {seconds:.2f} s long; each must be 2 to 15 s")


def _frame_rules(what: str, width: int, height: int) -> None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise MediaError(f"{what} is {width}x{height}; each side must be 256 to 5760 px")
    ratio = width / height
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        raise MediaError(f"{what} is {width}x{height} (w/h {ratio:.2f}); w/h must be 0.4 to 2.5")


def _image_format(data: bytes) -> str | None:
    """v1's formats by their magic bytes (minimax/images.py), plus v2's HEIC/HEIF."""
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heif"
    return images.sniff_format(data)


def _pil_size(data: bytes, fmt: str) -> tuple[int, int]:
    """From the header alone, with the format's own reader (no decompression-bomb warning)."""
    from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    reader = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
              "webp": WebPImagePlugin.WebPImageFile}[fmt]
    try:
        with reader(io.BytesIO(data)) as img:
            return img.size
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(f"image data is damaged or unreadable ({exc})") from None


def _heif_size(data: bytes) -> tuple[int, int]:
    """The first 'ispe' (image spatial extents) property: enough for the size rules, no decoder needed."""
    at = data.find(b"ispe")
    if at < 4 or len(data) < at + 16:
        raise MediaError("HEIC/HEIF image without a readable size (no ispe box)")
    width, height = struct.unpack(">II", data[at + 8:at + 16])
    return width, height


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MB"
