"""Input images: the real format by its bytes, the API's limits, and data URLs.

The API takes JPG/PNG/WebP under 20 MB, short side over 300 px, aspect ratio 2:5 to 5:2
(minimax-api.md section 3). The manifest checker and the simulator apply the same rules here.

The v1 API documents no largest side or pixel count. Ours, MAX_SIDE = 8192 px a side, is
generous: the v2 API (MiniMax-H3) documents sides up to 5760 px, and a 50-megapixel phone photo
is 8160 px wide. It is decided from the header alone (no pixel is decoded), and it bounds what
decoding the image costs later: a 178-megapixel PNG of 521 KB once passed, and the previz that
drew it peaked at 2.2 GB; at 8192 x 8192 (67 megapixels, the most the cap allows) the
simulator's decode takes 0.35 to 0.55 GB above its baseline.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass

MAX_BYTES = 20 * 1024 * 1024  # "< 20 MB"
MIN_SHORT_SIDE = 300  # "short side > 300 px"
MIN_RATIO, MAX_RATIO = 2 / 5, 5 / 2  # inclusive: the boundary is documented as allowed
MAX_SIDE = 8192  # px, either side: ours, generous (v1 documents none; v2 documents 5760)

MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,", re.IGNORECASE)


class ImageError(ValueError):
    """An image the API would refuse; the message says which rule and the actual value."""


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "jpeg" | "png" | "webp"
    width: int
    height: int
    size: int

    @property
    def mime(self) -> str:
        return MIME_TYPES[self.format]


def sniff_format(data: bytes) -> str | None:
    """The image format from its magic bytes, whatever the file name claims."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def inspect(data: bytes) -> ImageInfo:
    """Check an image against the API's rules; raise ImageError naming the broken rule."""
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("not a JPG, PNG or WebP image (checked by its content, not its name)")
    if len(data) >= MAX_BYTES:
        raise ImageError(too_big(len(data)))
    width, height = _dimensions(data, fmt)
    if max(width, height) > MAX_SIDE:
        raise ImageError(f"image is {width}x{height} ({width * height / 1e6:,.0f} megapixels), too many pixels: its "
                         f"sides may be at most {MAX_SIDE} px (shots' own limit; the API documents none); scale it down")
    short = min(width, height)
    if short <= MIN_SHORT_SIDE:
        raise ImageError(f"image is {width}x{height}; its short side must be over {MIN_SHORT_SIDE} px")
    ratio = width / height
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        raise ImageError(
            f"image is {width}x{height} (aspect ratio {ratio:.2f}); the API takes 2:5 to 5:2 (0.40 to 2.50)"
        )
    return ImageInfo(fmt, width, height, len(data))


def too_big(size: int, at_least: bool = False) -> str:
    """The message for a file of `size` bytes or more: refused by its size alone."""
    return f"image is {'at least ' if at_least else ''}{size / 1e6:,.1f} MB; the API takes images under 20 MB"


def _dimensions(data: bytes, fmt: str) -> tuple[int, int]:
    """(width, height) from the header alone. The format's own reader, not Image.open: it reads
    the header and decodes no pixels, and it is free of Image.open's decompression-bomb check,
    which only warns between 89 and 179 megapixels (a warning is process-wide state, and an error
    under `-W error`); MAX_SIDE decides here, below both."""
    from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    reader = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
              "webp": WebPImagePlugin.WebPImageFile}[fmt]
    try:
        with reader(io.BytesIO(data)) as img:
            return img.size
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"image data is damaged or unreadable ({exc})") from exc


def to_data_url(data: bytes) -> str:
    """A Base64 data URL with the MIME type of the real format (not always image/jpeg)."""
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("not a JPG, PNG or WebP image")
    return f"data:{MIME_TYPES[fmt]};base64,{base64.b64encode(data).decode('ascii')}"


def from_data_url(url: str) -> tuple[str, bytes]:
    """(declared MIME type, bytes) of a Base64 data URL; ImageError if it is not one."""
    match = _DATA_URL.match(url)
    if not match:
        raise ImageError("not a Base64 image data URL (expected data:image/...;base64,...)")
    try:
        return match.group(1).lower(), base64.b64decode(url[match.end():], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("data URL is not valid Base64") from exc


def is_data_url(value: str) -> bool:
    return value[:5].lower() == "data:"
