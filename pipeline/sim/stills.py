"""The image API's previz: a JPEG still that shows what the picture will be, not what it will
look like, in the visual language of the video previz's title cards (cards.py).

A still is a scene drawn from the prompt's words: a sky and a ground in the colours the prompt
names (or, naming none, a hue of its own), a disc (the subject's place) on one third and the
prompt on a card on the other; with a subject reference, the subject framed as a portrait on
the card. Take 1 is the prompt as written; a later take (or the second image of a request for
several) is a seeded variation: another hue, the card and the disc elsewhere. The label
("kf-01 · take 2") sits in the bottom left corner as on the videos.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

from pipeline.sim.cards import (
    CARD, CARD_EDGE, DOTS, INK, MUTED, decode, label_box, label_image, placeholder, placeholder_text, unit,
)
from pipeline.textlayout import draw_block, font

JPEG_QUALITY = 88
STYLE_NAMES = {"漫画": "comic", "元气": "vivid", "中世纪": "medieval", "水彩": "watercolour"}  # the font has no CJK

# Colour words, as the prompt names them: the first is the scene's key colour, the second its accent.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (196, 52, 48), "crimson": (170, 30, 60), "scarlet": (210, 40, 40), "orange": (230, 128, 40),
    "amber": (232, 160, 40), "yellow": (228, 200, 60), "gold": (218, 168, 58), "golden": (218, 168, 58),
    "green": (64, 156, 80), "forest": (40, 108, 60), "grass": (88, 160, 70), "teal": (40, 148, 150),
    "blue": (52, 100, 200), "sea": (30, 94, 150), "ocean": (28, 84, 150), "navy": (30, 40, 110),
    "sky": (110, 160, 222), "purple": (128, 70, 178), "violet": (140, 90, 200), "pink": (222, 112, 160),
    "white": (226, 226, 232), "snow": (220, 228, 238), "black": (28, 28, 34), "grey": (128, 134, 142),
    "gray": (128, 134, 142), "fog": (150, 156, 164), "mist": (160, 166, 176), "silver": (184, 188, 196),
    "brown": (118, 80, 50), "sand": (210, 184, 130), "desert": (214, 168, 104), "dusk": (190, 96, 90),
    "sunset": (226, 110, 62), "dawn": (238, 168, 120), "sunrise": (240, 160, 90), "night": (24, 34, 82),
    "moon": (196, 204, 226), "fire": (230, 88, 30), "storm": (66, 78, 98), "rain": (88, 104, 124),
    "neon": (220, 60, 200),
}
_WORDS = re.compile(r"[a-z]+")
LONG_RUN = 24
_LONG_RUN = re.compile(rf"\S{{{LONG_RUN + 1},}}")


@dataclass(frozen=True)
class StillSpec:
    """What to draw. `subject` is the decoded bytes of a data URL, or a URL (drawn as a placeholder)."""

    prompt: str
    width: int
    height: int
    number: int = 1  # 1: the prompt as written; n > 1: a variation seeded by (seed, n)
    seed: int = 0
    label: str = ""  # the bottom left corner ("": none)
    subject: bytes | str | None = None
    watermark: bool = False  # aigc_watermark: a small mark in the bottom right corner
    style: str | None = None  # image-01-live's style_type


@dataclass(frozen=True)
class Look:
    """The scene: colours and where things are (fractions of the frame)."""

    key: tuple[int, int, int]
    accent: tuple[int, int, int]
    horizon: float  # the ground starts this far down
    disc: tuple[float, float, float]  # centre x, centre y, radius (of the shorter side)
    card: tuple[float, float, float, float]  # x0, y0, x1, y1


def look(spec: StillSpec) -> Look:
    """The prompt's scene, varied for a later take."""
    key, accent = palette(spec.prompt)
    digest = hashlib.sha256(spec.prompt.encode()).digest()
    left = digest[0] % 2 == 0  # the disc's third; the card takes the other side
    landscape = spec.width >= spec.height
    if landscape:
        disc = (0.24 if left else 0.76, 0.42, 0.17)
        card = (0.42, 0.14, 0.95, 0.80) if left else (0.05, 0.14, 0.58, 0.80)
    else:
        disc = (0.30 if left else 0.70, 0.20, 0.17)
        card = (0.07, 0.40, 0.93, 0.88)
    horizon = 0.62
    if spec.number > 1:
        rng = random.Random(f"still-take:{spec.seed}:{spec.number}")
        key, accent = _turn(key, rng.uniform(-0.09, 0.09)), _turn(accent, rng.uniform(-0.12, 0.12))
        if landscape and rng.random() < 0.5:  # the composition mirrored
            disc, card = (1 - disc[0], disc[1], disc[2]), (1 - card[2], card[1], 1 - card[0], card[3])
        dx, dy = rng.uniform(-0.03, 0.03), rng.uniform(-0.05, 0.05)
        disc = (disc[0] + rng.uniform(-0.06, 0.06), disc[1] + rng.uniform(-0.08, 0.06),
                disc[2] * rng.uniform(0.75, 1.2))
        card = (card[0] + dx, card[1] + dy, card[2] + dx, card[3] + dy)
        horizon += rng.uniform(-0.08, 0.08)
    return Look(key, accent, horizon, disc, card)


def palette(prompt: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(key, accent): the first two colour words of the prompt; a hue from its hash otherwise,
    and the key's complement for a missing accent."""
    named = [COLOURS[w] for w in _WORDS.findall(prompt.lower()) if w in COLOURS]
    if named:
        key = named[0]
    else:
        hue = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:2], "big") / 65536
        key = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.78))
    accent = next((c for c in named[1:] if c != key), None) or _turn(key, 0.5)
    return key, accent


def render_still(spec: StillSpec) -> bytes:
    """The still as JPEG bytes, spec.width x spec.height."""
    image = draw_still(spec)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def draw_still(spec: StillSpec) -> Image.Image:
    w, h = spec.width, spec.height
    scene = look(spec)
    image = _backdrop(scene, w, h)
    draw = ImageDraw.Draw(image)
    _dots(draw, w, h)
    s = min(w, h)
    cx, cy, r = scene.disc[0] * w, scene.disc[1] * h, scene.disc[2] * s
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=scene.accent, outline=_shade(scene.accent, 0.6),
                 width=max(1, round(s / 200)))
    _card(image, draw, spec, scene, w, h)
    u = unit(w, h)
    if spec.watermark:
        face = font(round(u / 28))
        text = "AI generated"
        x, y = w - face.getlength(text) - u / 30, h - face.getbbox(text)[3] - u / 30
        draw.text((x + 1, y + 1), text, font=face, fill=(0, 0, 0))
        draw.text((x, y), text, font=face, fill=INK)
    label = label_image(spec.label, w, h)
    if label is not None:
        image.paste(label, label_box(w, h)[:2])
    return image


def _backdrop(scene: Look, w: int, h: int) -> Image.Image:
    """A sky darkening upwards over a ground in the key colour's shadow."""
    sky = Image.linear_gradient("L").resize((1, h))
    top, low = Image.new("RGB", (1, h), _shade(scene.key, 0.35)), Image.new("RGB", (1, h), _shade(scene.key, 0.95))
    column = Image.composite(low, top, sky)
    image = column.resize((w, h), Image.Resampling.NEAREST)
    ground = round(scene.horizon * h)
    if ground < h:
        ImageDraw.Draw(image).rectangle([0, ground, w, h], fill=_shade(_mix(scene.key, scene.accent, 0.25), 0.45))
    return image


def _dots(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    """The previz's dot grid, so a still reads as a card of the same family as the videos."""
    step = unit(w, h) / 6
    r = max(1.0, step / 14)
    y = step / 2
    while y < h:
        x = step / 2
        while x < w:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=DOTS)
            x += step
        y += step


def _card(image: Image.Image, draw: ImageDraw.ImageDraw, spec: StillSpec, scene: Look, w: int, h: int) -> None:
    """The prompt on a card (with the subject framed on it, if there is one)."""
    u = unit(w, h)
    pad = u / 14
    x0, y0, x1, y1 = (scene.card[0] * w, scene.card[1] * h, scene.card[2] * w, scene.card[3] * h)
    draw.rounded_rectangle((x0, y0, x1, y1), radius=pad, fill=CARD, outline=CARD_EDGE, width=max(1, round(u / 120)))
    inner = (x0 + pad, y0 + 0.6 * pad, x1 - pad, y1 - pad)
    head = "TEXT TO IMAGE" if spec.subject is None else "SUBJECT TO IMAGE"
    if spec.style:
        head += f" · {STYLE_NAMES.get(spec.style, 'styled').upper()}"
    draw_block(draw, head, (inner[0], inner[1], inner[2], inner[1] + 1.4 * pad), round(u / 16), MUTED)
    body = (inner[0], inner[1] + 1.4 * pad, inner[2], inner[3])
    if spec.subject is not None:
        body = _portrait(image, draw, spec.subject, body, u)
    draw_block(draw, _breakable(spec.prompt), body, round(u / 11), INK)


def _breakable(text: str) -> str:
    """The text with every run of LONG_RUN or more non-spaces (a pasted URL, a prompt in a script
    without spaces) cut into pieces: wrapping one long word measures it letter by letter, and
    1500 such letters take a second to lay out."""
    return _LONG_RUN.sub(lambda m: " ".join(m[0][i:i + LONG_RUN] for i in range(0, len(m[0]), LONG_RUN)), text)


def _portrait(image: Image.Image, draw: ImageDraw.ImageDraw, source: bytes | str, box, u: float):
    """The subject framed at the start of `box` (left, or top on a tall card); the rest of the box."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    gap = u / 24
    if bw >= bh:  # beside the text
        ph = round(bh)
        pw = round(min(bw * 0.45, ph * 3 / 4))
        rest = (x0 + pw + 2 * gap, y0, x1, y1)
    else:  # above it
        ph = round(min(bh * 0.55, bw * 4 / 3))
        pw = round(ph * 3 / 4)
        rest = (x0, y0 + ph + 2 * gap, x1, y1)
    pw, ph = max(2, pw), max(2, ph)
    picture = decode(source, pw, ph)
    if picture is None:
        portrait, _ = placeholder(placeholder_text(source), pw, ph, None)
    else:
        portrait = ImageOps.fit(picture, (pw, ph), Image.Resampling.BILINEAR)
    px, py = round(x0), round(y0)
    border = max(2, round(u / 90))
    draw.rectangle([px - border, py - border, px + pw + border - 1, py + ph + border - 1], fill=INK)
    image.paste(portrait, (px, py))
    return rest


def _shade(c: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, round(v * k))) for v in c)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def _turn(c: tuple[int, int, int], by: float) -> tuple[int, int, int]:
    """The colour with its hue turned `by` of a full turn (grey stays grey)."""
    hue, s, v = colorsys.rgb_to_hsv(*(x / 255 for x in c))
    return tuple(round(x * 255) for x in colorsys.hsv_to_rgb((hue + by) % 1.0, s, v))
