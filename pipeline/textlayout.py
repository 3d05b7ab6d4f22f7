"""Text on title cards (simulator previz and reel): cached fonts and word wrapping to a width."""

from __future__ import annotations

import threading

from PIL import ImageFont

_FONTS: dict[int, ImageFont.ImageFont | ImageFont.FreeTypeFont] = {}
_LOCK = threading.Lock()  # the simulator renders from several server threads


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in scalable font at `size` px (at least 8), loaded once per size."""
    size = max(8, size)
    with _LOCK:
        if size not in _FONTS:
            _FONTS[size] = ImageFont.load_default(size=size)
        return _FONTS[size]


def wrap(text: str, face, width: float) -> list[str]:
    """Lines no wider than `width`, breaking between words, and inside a word wider than the box."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if face.getlength(candidate) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
            while face.getlength(line) > width and len(line) > 1:  # one word wider than the box
                cut = max(1, int(len(line) * width / face.getlength(line)))
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines
