"""Draw a terminal capture with colour codes (`tmux capture-pane -p -e`) as a PNG, for the README.

    .venv/bin/python docs/tools/ansi_png.py docs/live-view-80.ansi docs/live-view-80.png --title "shots run"

A doc tool, not product code: it understands what tmux writes (SGR colours 16, 256 and 24-bit,
bold, reverse) and draws block elements (the progress bar's cells) as exact rectangles, so the
bar has no seams between rows or cells. Trailing blank rows are left out unless --rows says how
many to draw. Needs Pillow (a shots dependency) and a monospace TrueType font.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (30, 32, 36)
FOREGROUND = (216, 219, 224)
TITLE_BAR = (52, 55, 61)
TITLE_TEXT = (160, 165, 172)
# The 16 ANSI colours, a calm dark palette (black, red, green, yellow, blue, magenta, cyan, white; then bright).
PALETTE = [
    (40, 42, 46), (224, 108, 117), (152, 195, 121), (229, 192, 123),
    (97, 175, 239), (198, 120, 221), (86, 182, 194), (200, 204, 212),
    (92, 99, 112), (240, 130, 138), (172, 215, 141), (240, 208, 140),
    (120, 190, 245), (215, 145, 235), (110, 200, 210), (240, 242, 245),
]
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
    "/Library/Fonts/DejaVuSansMono.ttf",
)
_ESCAPE = re.compile(r"\x1b\[([0-9;:]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b.")


@dataclass
class Style:
    fg: tuple[int, int, int] | None = None  # None: the default colour
    bg: tuple[int, int, int] | None = None
    bold: bool = False
    reverse: bool = False

    def copy(self) -> Style:
        return Style(self.fg, self.bg, self.bold, self.reverse)


Cell = tuple[str, Style]


def colour_256(n: int) -> tuple[int, int, int]:
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = (0, 95, 135, 175, 215, 255)
        return steps[n // 36], steps[n // 6 % 6], steps[n % 6]
    level = 8 + (n - 232) * 10
    return level, level, level


def apply_sgr(style: Style, params: str) -> Style:
    """The style after one `ESC [ params m`."""
    codes = [int(p) if p.isdigit() else 0 for p in re.split(r"[;:]", params)] if params else [0]
    style = style.copy()
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            style = Style()
        elif code == 1:
            style.bold = True
        elif code == 22:
            style.bold = False
        elif code == 7:
            style.reverse = True
        elif code == 27:
            style.reverse = False
        elif 30 <= code <= 37:
            style.fg = PALETTE[code - 30]
        elif 90 <= code <= 97:
            style.fg = PALETTE[code - 90 + 8]
        elif code == 39:
            style.fg = None
        elif 40 <= code <= 47:
            style.bg = PALETTE[code - 40]
        elif 100 <= code <= 107:
            style.bg = PALETTE[code - 100 + 8]
        elif code == 49:
            style.bg = None
        elif code in (38, 48) and i + 1 < len(codes):
            if codes[i + 1] == 5 and i + 2 < len(codes):
                rgb = colour_256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                rgb = (codes[i + 2], codes[i + 3], codes[i + 4])
                i += 4
            else:
                rgb = None
            if code == 38:
                style.fg = rgb
            else:
                style.bg = rgb
        i += 1
    return style


def parse(text: str) -> list[list[Cell]]:
    """Rows of cells; a wide character takes its cell and an empty one after it."""
    rows: list[list[Cell]] = []
    style = Style()
    for line in text.split("\n"):
        row: list[Cell] = []
        pos = 0
        for match in _ESCAPE.finditer(line + "\x1b[Z"):  # a sentinel to flush the tail
            for char in line[pos:match.start()]:
                if unicodedata.combining(char) and row:
                    row[-1] = (row[-1][0] + char, row[-1][1])
                    continue
                row.append((char, style))
                if unicodedata.east_asian_width(char) in ("W", "F"):
                    row.append(("", style))
            pos = match.end()
            if match.group(2) == "m":
                style = apply_sgr(style, match.group(1))
        rows.append(row)
    while rows and not "".join(c for c, _ in rows[-1]).strip():
        rows.pop()
    return rows


def find_font(path: str | None) -> str:
    if path:
        return path
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans Mono:style=Book"],
                               capture_output=True, text=True).stdout.strip()
        if found.endswith((".ttf", ".otf")) and Path(found).exists():
            return found
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise SystemExit("no monospace font found; give one with --font PATH (DejaVu Sans Mono works well)")


def _block(draw: ImageDraw.ImageDraw, char: str, box: tuple[int, int, int, int],
           fg: tuple[int, int, int], bg: tuple[int, int, int]) -> bool:
    """Block elements (U+2580..U+2593) as rectangles; False for any other character."""
    x0, y0, x1, y1 = box
    code = ord(char) if len(char) == 1 else 0
    if code == 0x2588:  # full block
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fg)
    elif 0x2589 <= code <= 0x258F:  # left seven eighths .. left one eighth
        eighths = 0x2590 - code
        draw.rectangle((x0, y0, x0 + round((x1 - x0) * eighths / 8) - 1, y1 - 1), fill=fg)
    elif code == 0x2580:  # upper half
        draw.rectangle((x0, y0, x1 - 1, (y0 + y1) // 2 - 1), fill=fg)
    elif 0x2581 <= code <= 0x2587:  # lower one eighth .. lower seven eighths
        eighths = code - 0x2580
        draw.rectangle((x0, y1 - round((y1 - y0) * eighths / 8), x1 - 1, y1 - 1), fill=fg)
    elif code == 0x2590:  # right half
        draw.rectangle(((x0 + x1) // 2, y0, x1 - 1, y1 - 1), fill=fg)
    elif 0x2591 <= code <= 0x2593:  # light, medium, dark shade
        share = (code - 0x2590) / 4
        mixed = tuple(round(b + (f - b) * share) for f, b in zip(fg, bg))
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=mixed)
    else:
        return False
    return True


def render(text: str, *, font_path: str | None = None, size: int = 15, columns: int | None = None,
           rows: int | None = None, title: str | None = None, padding: int = 14) -> Image.Image:
    cells = parse(text)
    if rows is not None:
        cells = (cells + [[] for _ in range(rows)])[:rows]
    columns = columns or max([len(r) for r in cells] + [1])
    font_file = find_font(font_path)
    regular = ImageFont.truetype(font_file, size)
    bold_file = font_file.replace("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")
    bold = ImageFont.truetype(bold_file, size) if Path(bold_file).exists() else regular
    cell_w = round(regular.getlength("M"))
    ascent, descent = regular.getmetrics()
    cell_h = round((ascent + descent) * 1.12)
    bar_h = 30 if title is not None else 0
    width = columns * cell_w + 2 * padding
    height = len(cells) * cell_h + 2 * padding + bar_h
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title is not None:
        draw.rectangle((0, 0, width, bar_h), fill=TITLE_BAR)
        for i, colour in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
            cx, cy = 16 + i * 20, bar_h // 2
            draw.ellipse((cx - 6, cy - 6, cx + 6, cy + 6), fill=colour)
        label = ImageFont.truetype(font_file, 13)
        draw.text((width / 2, bar_h / 2), title, font=label, fill=TITLE_TEXT, anchor="mm")
    top = bar_h + padding
    for r, row in enumerate(cells):
        y = top + r * cell_h
        for c, (char, style) in enumerate(row[:columns]):
            x = padding + c * cell_w
            fg = style.fg or FOREGROUND
            bg = style.bg or BACKGROUND
            if style.reverse:
                fg, bg = bg, fg
            if style.bold and style.fg in PALETTE[:8]:
                fg = PALETTE[PALETTE.index(style.fg) + 8]
            box = (x, y, x + cell_w, y + cell_h)
            if bg != BACKGROUND:
                draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=bg)
            if not char or char == " ":
                continue
            if not _block(draw, char, box, fg, bg):
                draw.text((x, y + (cell_h - ascent - descent) // 2), char, font=bold if style.bold else regular,
                          fill=fg)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path, help="text with ANSI colour codes (tmux capture-pane -p -e)")
    parser.add_argument("png", type=Path)
    parser.add_argument("--title", help="draw a window title bar with this title")
    parser.add_argument("--columns", type=int, help="the terminal's width (default: the longest row)")
    parser.add_argument("--rows", type=int, help="rows to draw (default: up to the last one with text)")
    parser.add_argument("--font", help="a monospace TrueType font (default: DejaVu Sans Mono)")
    parser.add_argument("--size", type=int, default=15, help="font size in pixels (default: 15)")
    args = parser.parse_args()
    image = render(args.capture.read_text(encoding="utf-8"), font_path=args.font, size=args.size,
                   columns=args.columns, rows=args.rows, title=args.title)
    image.save(args.png, optimize=True)
    print(f"{args.png}: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
