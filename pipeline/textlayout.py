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


def fit(text: str, width: float, height: float, size: int, shrink=(1.0, 0.8, 0.65, 0.5)):
    """(face, lines, line height) for `text` in a `width` x `height` box: the largest of `size`
    times `shrink` whose lines all fit, else the smallest, cut to the lines that fit, an
    ellipsis at the end."""
    for scale in shrink:
        face = font(int(size * scale))
        line_h = face.getbbox("Ag")[3] * 1.25
        max_lines = max(1, int(height // line_h))
        lines = wrap(text, face, width)
        if len(lines) <= max_lines:
            return face, lines, line_h
    lines = lines[:max_lines]
    last = lines[-1].rstrip()
    while last and face.getlength(last + "…") > width:
        last = last[:-1].rstrip()
    lines[-1] = last + "…"
    return face, lines, line_h


def draw_block(draw, text: str, box: tuple[float, float, float, float], size: int, fill,
               center: bool = False) -> tuple[float, float, float, float] | None:
    """Word-wrapped `text` drawn inside `box` (see `fit`); the box the ink takes, None if none."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    face, lines, line_h = fit(text, x1 - x0, y1 - y0, size)
    inked = None
    for n, line in enumerate(lines):
        x = x0 + ((x1 - x0) - face.getlength(line)) / 2 if center else x0
        y = y0 + n * line_h
        draw.text((x, y), line, font=face, fill=fill)
        bb = draw.textbbox((x, y), line, font=face)
        if bb[2] > bb[0]:
            inked = bb if inked is None else (min(inked[0], bb[0]), min(inked[1], bb[1]),
                                              max(inked[2], bb[2]), max(inked[3], bb[3]))
    return inked
