"""What the previz camera looks at: a picture with its surroundings, or a card with text.

A Canvas is a piece of the scene (scene coordinates: output-scale pixels from the picture's
centre, see camerapath) drawn at `scale` canvas pixels per scene pixel. Only the piece some
frame of the clip sees is drawn, at the detail the closest frame needs, so a still camera on a
picture costs one picture and a push-in costs a sharp middle, not a 3x-wide canvas at 2x.

Text is laid out inside `room`, the part of the scene that every frame of the clip shows whole
(camerapath.always_seen), so no camera move pushes it out of the frame.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from pipeline.sim.camerapath import CANVAS_SPAN
from pipeline.textlayout import draw_block, font

BACKGROUND = (24, 26, 34)
INK = (236, 236, 240)
MUTED = (150, 155, 170)
CARD = (40, 44, 60)
CARD_EDGE = (90, 100, 140)
DOTS = (70, 76, 96)
EDGE_DIM = 0.5  # the mirrored surroundings at half brightness, blurred: clearly outside the shot
LABEL_BACK = (12, 12, 16)
LABEL_MIN_SIDE = 72  # a smaller frame (a test's or a load run's) carries no label
LABEL_EMS = 16  # the slate holds this many font sizes of text: "s02-keeper · take 2" is 8.4...
LABEL_MAX_SHARE = 0.6  # ...but never more than this share of the frame's width

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class Canvas:
    """`image` shows the scene box `origin` + image size / scale."""

    image: Image.Image
    scale: int  # canvas pixels per scene pixel
    origin: tuple[float, float]  # the scene point at the image's top left corner
    text: Box | None = None  # the scene box the text's ink takes, if there is text
    # The frame at rest (the camera where it starts) drawn straight from the picture at the
    # output size: a clip made from a frame starts on that frame, pixel for pixel (render.view).
    rest: Image.Image | None = None
    _half: Canvas | None = None

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.origin[0]) * self.scale, (y - self.origin[1]) * self.scale

    def level(self, step: float) -> Canvas:
        """This canvas, or a half-size copy of it when a view would step over two or more of its
        pixels per sample (skipping detail: the picture would shimmer as it moves)."""
        if self.scale < 2 or step < 1.9:
            return self
        if self._half is None:
            self._half = Canvas(self.image.reduce(2), self.scale // 2, self.origin, self.text)
        return self._half


def unit(w: int, h: int) -> float:
    """The size text and lines are drawn at: the height of a 16:9 frame of the same area, so a
    portrait or square card reads like a landscape one (not with letters sized to its height)."""
    return 0.75 * math.sqrt(w * h)


def scene_bounds(w: int, h: int) -> Box:
    """Everything there is to see: CANVAS_SPAN frames each way."""
    return -CANVAS_SPAN * w / 2, -CANVAS_SPAN * h / 2, CANVAS_SPAN * w / 2, CANVAS_SPAN * h / 2


def _region(box: Box, w: int, h: int) -> tuple[int, int, int, int]:
    """`box` grown to whole pixels and a pixel of slack, within the scene."""
    bx0, by0, bx1, by1 = scene_bounds(w, h)
    x0, y0, x1, y1 = box
    return (max(math.floor(bx0), math.floor(x0) - 2), max(math.floor(by0), math.floor(y0) - 2),
            min(math.ceil(bx1), math.ceil(x1) + 2), min(math.ceil(by1), math.ceil(y1) + 2))


# --- pictures ---------------------------------------------------------------------------------


def decode(source: bytes | str | None, w: int, h: int) -> Image.Image | None:
    """The decoded picture, or None when there is none to show (a URL, nothing, or bytes that do
    not decode: the header passed the API's checks, the rest did not)."""
    if not isinstance(source, bytes):
        return None
    try:
        with Image.open(io.BytesIO(source)) as img:
            img.draft("RGB", (w, h))  # JPEG: decode at a reduced scale, much faster
            return ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def placeholder_text(source: bytes | str | None) -> str:
    if isinstance(source, bytes):
        return "(image data could not be decoded)"
    if source and source.startswith("http"):
        return f"image not fetched: {source}"
    return source or "no image"


def placeholder(text: str, fw: int, fh: int, room: Box | None) -> tuple[Image.Image, Box | None]:
    """A grey card for a picture there is none of, saying why; `room` (in its pixels) holds the text."""
    card = Image.new("RGB", (fw, fh), (112, 116, 124))
    draw = ImageDraw.Draw(card)
    u = unit(fw, fh)
    draw.line([(0, 0), (fw, fh)], fill=(132, 136, 144), width=max(1, round(u / 90)))
    draw.line([(0, fh), (fw, 0)], fill=(132, 136, 144), width=max(1, round(u / 90)))
    draw.rectangle([0, 0, fw - 1, fh - 1], outline=INK, width=max(1, round(u / 60)))
    x0, y0, x1, y1 = room if room is not None else (0, 0, fw, fh)
    box = (max(x0, fw / 10), max(y0, fh / 3), min(x1, fw * 9 / 10), min(y1, fh * 2 / 3))
    if box[3] - box[1] < fh / 8:  # the room is above or below the middle third: use its height
        box = (box[0], max(y0, fh / 20), box[2], min(y1, fh * 19 / 20))
    return card, draw_block(draw, text, box, round(u / 12), INK)


def picture_canvas(picture: Image.Image | None, missing: str, w: int, h: int, seen: Box, scale: int,
                   room: Box | None) -> Canvas:
    """The picture filling the frame at rest (or, if there is none, a card saying `missing`);
    around it the picture mirrored at its edges, blurred and dimmed, so a pull-out or a long pan
    shows a continuation of its colours, not a smear."""
    fw, fh = w * scale, h * scale
    text = None
    if picture is None:
        local = None if room is None else _scene_box_to(room, -w / 2, -h / 2, scale)
        sharp, ink = placeholder(missing, fw, fh, local)
        text = _to_scene(ink, -w / 2, -h / 2, scale)
    else:
        sharp = ImageOps.fit(picture, (fw, fh), Image.Resampling.BILINEAR)
    rest = None if picture is None else at_size(picture, w, h)
    x0, y0, x1, y1 = _region(seen, w, h)
    past = seen[0] < -w / 2 - 0.01 or seen[1] < -h / 2 - 0.01 or seen[2] > w / 2 + 0.01 or seen[3] > h / 2 + 0.01
    if not past:
        x0, y0, x1, y1 = max(x0, -w // 2), max(y0, -h // 2), min(x1, w // 2), min(y1, h // 2)
    size = ((x1 - x0) * scale, (y1 - y0) * scale)
    if past:  # some frame sees past the picture
        sw, sh = max(1, w // 8), max(1, h // 8)
        surround = _surround(sharp.resize((sw, sh), Image.Resampling.BILINEAR))
        bx0, by0, _, _ = scene_bounds(w, h)
        kx, ky = sw / w, sh / h  # surround pixels per scene pixel
        box = ((x0 - bx0) * kx, (y0 - by0) * ky, (x1 - bx0) * kx, (y1 - by0) * ky)
        image = surround.resize(size, Image.Resampling.BILINEAR, box=box)
        image.paste(sharp, (round((-w / 2 - x0) * scale), round((-h / 2 - y0) * scale)))
    else:  # every frame is inside the picture: the piece of it they see is all there is to draw
        image = sharp.crop((round((x0 + w / 2) * scale), round((y0 + h / 2) * scale),
                            round((x0 + w / 2) * scale) + size[0], round((y0 + h / 2) * scale) + size[1]))
    return Canvas(image, scale, (x0, y0), text, rest)


def at_size(picture: Image.Image, w: int, h: int) -> Image.Image:
    """The picture as a w x h frame: itself when it is that size (a frame cut from another
    clip), else cropped to the frame's aspect and scaled, as the canvas shows it at rest."""
    if picture.size == (w, h):
        return picture
    return ImageOps.fit(picture, (w, h), Image.Resampling.BILINEAR)


def _surround(small: Image.Image) -> Image.Image:
    """CANVAS_SPAN x CANVAS_SPAN tiles of `small`, mirrored at every edge, blurred and dimmed."""
    sw, sh = small.size
    mirrored = ImageOps.mirror(small)
    tiles = {(False, False): small, (True, False): mirrored,
             (False, True): ImageOps.flip(small), (True, True): ImageOps.flip(mirrored)}
    surround = Image.new("RGB", (sw * CANVAS_SPAN, sh * CANVAS_SPAN))
    middle = CANVAS_SPAN // 2
    for j in range(CANVAS_SPAN):
        for i in range(CANVAS_SPAN):
            surround.paste(tiles[((i - middle) % 2 == 1, (j - middle) % 2 == 1)], (i * sw, j * sh))
    return surround.filter(ImageFilter.GaussianBlur(max(1, sh // 12))).point(lambda v: int(v * EDGE_DIM))


# --- cards ------------------------------------------------------------------------------------


def _grid(w: int, h: int, seen: Box, scale: int) -> tuple[Image.Image, ImageDraw.ImageDraw, tuple[int, int]]:
    """A dark canvas over `seen` with a grid of dots fixed to the scene, so moves show on plain cards."""
    x0, y0, x1, y1 = _region(seen, w, h)
    image = Image.new("RGB", ((x1 - x0) * scale, (y1 - y0) * scale), BACKGROUND)
    draw = ImageDraw.Draw(image)
    step = unit(w, h) / 6
    r = max(1.0, step * scale / 14)
    bx0, by0, _, _ = scene_bounds(w, h)
    i0, j0 = math.floor((x0 - bx0) / step - 0.5), math.floor((y0 - by0) / step - 0.5)
    for j in range(max(0, j0), j0 + math.ceil((y1 - y0) / step) + 2):
        cy = (by0 + (j + 0.5) * step - y0) * scale
        for i in range(max(0, i0), i0 + math.ceil((x1 - x0) / step) + 2):
            cx = (bx0 + (i + 0.5) * step - x0) * scale
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=DOTS)
    return image, draw, (x0, y0)


def title_canvas(prompt: str, w: int, h: int, seen: Box, scale: int, room: Box) -> Canvas:
    """Text to video: the prompt on a card that fills `room` (the frame, when the camera holds)."""
    image, draw, origin = _grid(w, h, seen, scale)
    c = _scene_box_to(room, *origin, scale)
    u = unit(w, h) * scale
    pad = u / 14
    draw.rounded_rectangle(c, radius=pad, fill=CARD, outline=CARD_EDGE, width=max(1, round(u / 120)))
    inner = (c[0] + pad, c[1] + 0.6 * pad, c[2] - pad, c[3] - pad)
    head = draw_block(draw, "TEXT TO VIDEO", (inner[0], inner[1], inner[2], inner[1] + 1.4 * pad),
                      round(u / 16), MUTED)
    body = draw_block(draw, prompt, (inner[0], inner[1] + 1.4 * pad, inner[2], inner[3]), round(u / 11), INK)
    return Canvas(image, scale, origin, _to_scene(_union(head, body), *origin, scale))


def subject_canvas(source: bytes | str | None, prompt: str, w: int, h: int, seen: Box, scale: int,
                   room: Box) -> Canvas:
    """Subject reference: the subject as a portrait card at the top of `room`, the prompt under it."""
    image, draw, origin = _grid(w, h, seen, scale)
    x0, y0, x1, y1 = _scene_box_to(room, *origin, scale)
    rw, rh = x1 - x0, y1 - y0
    ph = round(rh * 0.64)
    pw = round(min(rw * 0.9, ph * 3 / 4))
    picture = decode(source, pw, ph)
    if picture is None:
        portrait, _ = placeholder(placeholder_text(source), pw, ph, None)
    else:
        portrait = ImageOps.fit(picture, (pw, ph), Image.Resampling.BILINEAR)
    px, py = round(x0 + (rw - pw) / 2), round(y0 + rh / 14)
    u = unit(w, h) * scale
    border = max(2, round(u / 90))
    draw.rectangle([px - border, py - border, px + pw + border - 1, py + ph + border - 1], fill=INK)
    image.paste(portrait, (px, py))
    ink = draw_block(draw, prompt or "(no prompt)", (x0 + rw / 12, py + ph + rh / 30, x0 + rw * 11 / 12, y1),
                     round(u / 16), INK, center=True)
    return Canvas(image, scale, origin, _to_scene(ink, *origin, scale))


def _scene_box_to(box: Box, ox: float, oy: float, scale: int) -> Box:
    return (box[0] - ox) * scale, (box[1] - oy) * scale, (box[2] - ox) * scale, (box[3] - oy) * scale


def _to_scene(box: Box | None, ox: float, oy: float, scale: int) -> Box | None:
    if box is None:
        return None
    return box[0] / scale + ox, box[1] / scale + oy, box[2] / scale + ox, box[3] / scale + oy


def _union(a: Box | None, b: Box | None) -> Box | None:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


# --- the burned-in label ----------------------------------------------------------------------


def label_box(w: int, h: int) -> tuple[int, int, int, int] | None:
    """Where the label's slate goes in a w x h frame: (x, y, width, height), or None if the frame
    is too small to carry one legibly. It depends on the frame's size alone, not on what the
    label says: a clip made from another clip's last frame (the same size) covers that clip's
    label exactly with its own, so labels never stack on a chained storyboard. Even numbers, so
    the slate's edges fall between yuv420p's 2x2 colour samples and do not bleed."""
    if min(w, h) < LABEL_MIN_SIDE:
        return None
    size, pad, margin = _label_size(w, h), _label_pad(w, h), label_margin(w, h)
    ascent, descent = font(size).getmetrics()
    width = _even(min(LABEL_EMS * size, LABEL_MAX_SHARE * w - 2 * pad) + 2 * pad)
    height = _even(ascent + descent + 2 * pad)
    return margin, h - margin - height, width, height


def label_image(text: str, w: int, h: int) -> Image.Image | None:
    """The clip's label (shot and take) as an opaque slate of label_box's size, the text cut with
    an ellipsis to fit; None for no text or a frame too small to carry one."""
    box = label_box(w, h)
    if not text or box is None:
        return None
    _, _, width, height = box
    face, pad = font(_label_size(w, h)), _label_pad(w, h)
    room = width - 2 * pad
    while face.getlength(text) > room and len(text) > 1:
        text = text[:-2].rstrip() + "…"
    image = Image.new("RGB", (width, height), LABEL_BACK)
    ImageDraw.Draw(image).text((pad, pad), text, font=face, fill=INK)
    return image


def label_band(w: int, h: int) -> float:
    """The height of the band at the bottom of the frame that the label takes, with its margins."""
    box = label_box(w, h)
    return 0.0 if box is None else box[3] + 2 * label_margin(w, h)


def label_margin(w: int, h: int) -> int:
    """The label's distance from the frame's left and bottom edges (even)."""
    return _even(max(2, math.sqrt(w * h) / 80))


def _label_size(w: int, h: int) -> int:
    """16 px on a 640x360 frame, the same share of any frame's area (a portrait's is not huge)."""
    return max(9, round(math.sqrt(w * h) / 30))


def _label_pad(w: int, h: int) -> int:
    return max(2, round(math.sqrt(w * h) / 120))


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)
