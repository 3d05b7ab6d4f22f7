"""Previz renderer: a real H.264 MP4 that shows what the shot will be, not what it will look like.

Image-to-video animates the first frame as the prompt's camera commands say; first-last frame
does the same while cross-fading to the last frame; text-to-video is a title card with the
prompt; subject reference is a portrait card. Every frame is one affine warp of a canvas that
is drawn once, so a 6 s clip at 180p renders in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from pipeline import camera

CANVAS_SPAN = 3  # the canvas is 3x the frame each way, so moves reveal surroundings
SUPERSAMPLE = 2  # canvas pixels per output pixel at zoom 1 (keeps push-ins sharp)
SHIFT = 0.25  # a pan/truck/tilt/pedestal moves the camera by a quarter frame per bracket
ZOOM = 1.4  # a push/pull/zoom changes the scale by this factor per bracket
TRACK_ZOOM = 1.15  # a tracking shot drifts forward slowly
SHAKE = 0.025  # shake amplitude, in frame widths

# command -> (zoom factor, dx, dy, shake); the camera moves by (dx, dy) frames, +y is down,
# so "[Pan left]" slides the picture to the right.
MOVES: dict[str, tuple[float, float, float, bool]] = {
    "Push in": (ZOOM, 0, 0, False), "Zoom in": (ZOOM, 0, 0, False),
    "Pull out": (1 / ZOOM, 0, 0, False), "Zoom out": (1 / ZOOM, 0, 0, False),
    "Pan left": (1, -SHIFT, 0, False), "Truck left": (1, -SHIFT, 0, False),
    "Pan right": (1, SHIFT, 0, False), "Truck right": (1, SHIFT, 0, False),
    "Tilt up": (1, 0, -SHIFT, False), "Pedestal up": (1, 0, -SHIFT, False),
    "Tilt down": (1, 0, SHIFT, False), "Pedestal down": (1, 0, SHIFT, False),
    "Shake": (1, 0, 0, True),
    "Tracking shot": (TRACK_ZOOM, 0, 0, False),
    "Static shot": (1, 0, 0, False),
}

BACKGROUND = (24, 26, 34)
INK = (236, 236, 240)
MUTED = (150, 155, 170)


@dataclass(frozen=True)
class RenderSpec:
    """What to draw. Images are the decoded bytes of a data URL, or a URL (drawn as a placeholder)."""

    mode: str
    prompt: str
    duration: int
    video_width: int  # the size the API reports; the render keeps its aspect at `height`
    video_height: int
    height: int = 180
    fps: int = 12
    camera: bool = True  # whether the model honours camera commands
    first: bytes | str | None = None
    last: bytes | str | None = None
    subject: bytes | str | None = None

    @property
    def size(self) -> tuple[int, int]:
        return output_size(self.video_width, self.video_height, self.height)

    @property
    def frames(self) -> int:
        return self.duration * self.fps

    def digest(self) -> str:
        """A short hash of everything that changes the rendered file."""
        h = hashlib.sha256()
        for part in (self.mode, self.prompt, self.duration, self.video_width, self.video_height,
                     self.height, self.fps, self.camera, self.first, self.last, self.subject):
            h.update(part if isinstance(part, bytes) else repr(part).encode())
            h.update(b"\0")
        return h.hexdigest()[:16]


def output_size(video_width: int, video_height: int, height: int) -> tuple[int, int]:
    """`height` (made even) and the width that keeps the aspect ratio (even, as yuv420p needs)."""
    h = max(2, height // 2 * 2)
    w = max(2, round(h * video_width / video_height / 2) * 2)
    return w, h


def render_video(spec: RenderSpec, path: str | Path) -> None:
    """Write the previz of `spec` to `path` as H.264 MP4, exactly spec.duration seconds long."""
    w, h = spec.size
    moves = camera.moves(spec.prompt) if spec.camera else []
    poses = camera_path(moves, spec.frames)
    if spec.mode == "first_last_frame":
        last = _image_canvas(spec.last, w, h)
        first = _image_canvas(spec.first, w, h) if spec.first is not None else last
    elif spec.mode == "image_to_video":
        first, last = _image_canvas(spec.first, w, h), None
    elif spec.mode == "subject_reference":
        first, last = _subject_canvas(spec.subject, spec.prompt, w, h), None
    else:
        first, last = _title_canvas(spec.prompt, w, h), None

    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, spec.fps)
        stream.options = {"preset": "ultrafast", "crf": "26"}
        fading = last is not None and last is not first
        image, previous = None, None
        for i, pose in enumerate(poses):
            if fading or pose != previous:  # a held pose reuses the frame it already drew
                image = _view(first, pose, w, h)
                if fading:
                    image = Image.blend(image, _view(last, pose, w, h), _smooth(i / max(1, spec.frames - 1)))
            previous = pose
            frame = av.VideoFrame.from_image(image)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@dataclass(frozen=True)
class Pose:
    zoom: float = 1.0  # > 1 is closer
    x: float = 0.0  # camera centre offset in frame widths, + is right
    y: float = 0.0  # in frame heights, + is down


def camera_path(moves: list[tuple[str, ...]], frames: int) -> list[Pose]:
    """One pose per frame: each bracket gets an equal share of the clip, its commands together."""
    if not moves:
        return [Pose()] * frames
    n = len(moves)
    starts = [Pose()]
    for group in moves:
        p = starts[-1]
        zoom, x, y = p.zoom, p.x, p.y
        for command in group:
            dz, dx, dy, _ = MOVES[command]
            zoom, x, y = zoom * dz, x + dx, y + dy
        starts.append(Pose(zoom, x, y))
    poses = []
    for i in range(frames):
        progress = i / max(1, frames - 1) * n
        k = min(int(progress), n - 1)
        t = _smooth(progress - k)
        a, b = starts[k], starts[k + 1]
        zoom = a.zoom * (b.zoom / a.zoom) ** t
        x, y = a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t
        if any(MOVES[c][3] for c in moves[k]):
            x += SHAKE * (math.sin(i * 1.9) + math.sin(i * 3.7)) / 2
            y += SHAKE * (math.sin(i * 2.3 + 1) + math.sin(i * 4.1)) / 2 * 16 / 9
        poses.append(_clamp(Pose(zoom, x, y)))
    return poses


def _clamp(p: Pose) -> Pose:
    """Keep the view on the canvas."""
    zoom = max(p.zoom, 1 / (CANVAS_SPAN - 0.2))
    room = CANVAS_SPAN / 2 - 0.5 / zoom
    return Pose(zoom, max(-room, min(room, p.x)), max(-room, min(room, p.y)))


def _smooth(t: float) -> float:
    return t * t * (3 - 2 * t)


def _view(canvas: Image.Image, pose: Pose, w: int, h: int) -> Image.Image:
    """The frame the camera sees: one affine warp of the canvas."""
    s = SUPERSAMPLE / pose.zoom
    cx, cy = canvas.width / 2, canvas.height / 2
    c = cx + SUPERSAMPLE * pose.x * w - s * w / 2
    f = cy + SUPERSAMPLE * pose.y * h - s * h / 2
    return canvas.transform((w, h), Image.Transform.AFFINE, (s, 0, c, 0, s, f),
                            resample=Image.Resampling.BILINEAR, fillcolor=BACKGROUND)


def _canvas_size(w: int, h: int) -> tuple[int, int]:
    return w * SUPERSAMPLE * CANVAS_SPAN, h * SUPERSAMPLE * CANVAS_SPAN


def _image_canvas(source: bytes | str | None, w: int, h: int) -> Image.Image:
    """The image filling the centre frame, surrounded by a dark, blurred extension of itself."""
    fw, fh = w * SUPERSAMPLE, h * SUPERSAMPLE
    picture = _open(source, fw, fh)
    sharp = ImageOps.fit(picture, (fw, fh), Image.Resampling.BILINEAR)
    cw, ch = _canvas_size(w, h)
    small = ImageOps.fit(picture, (max(1, cw // 16), max(1, ch // 16)), Image.Resampling.BILINEAR)
    small = small.filter(ImageFilter.GaussianBlur(2)).point(lambda v: v * 2 // 5)
    canvas = small.resize((cw, ch), Image.Resampling.BILINEAR)
    canvas.paste(sharp, ((cw - fw) // 2, (ch - fh) // 2))
    return canvas


def _open(source: bytes | str | None, fw: int, fh: int) -> Image.Image:
    """Decoded image bytes; a URL (which cannot be fetched) or nothing becomes a placeholder card."""
    if isinstance(source, bytes):
        try:
            with Image.open(io.BytesIO(source)) as img:
                img.draft("RGB", (fw, fh))  # JPEG: decode at a reduced scale, much faster
                return ImageOps.exif_transpose(img).convert("RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            source = "(image data could not be decoded)"  # the header passed the checks, the rest did not
    card = Image.new("RGB", (fw, fh), (112, 116, 124))
    draw = ImageDraw.Draw(card)
    draw.line([(0, 0), (fw, fh)], fill=(132, 136, 144), width=max(1, fh // 90))
    draw.line([(0, fh), (fw, 0)], fill=(132, 136, 144), width=max(1, fh // 90))
    draw.rectangle([0, 0, fw - 1, fh - 1], outline=INK, width=max(1, fh // 60))
    text = f"image not fetched: {source}" if source and source.startswith("http") else source or "no image"
    _text_block(draw, text, (fw // 10, fh // 3, fw * 9 // 10, fh * 2 // 3), fh // 12, INK)
    return card


def _grid_canvas(w: int, h: int) -> Image.Image:
    """A dark canvas with a grid of dots, so camera moves show on plain cards too."""
    cw, ch = _canvas_size(w, h)
    canvas = Image.new("RGB", (cw, ch), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    step = h * SUPERSAMPLE // 6
    r = max(1, step // 14)
    for y in range(step // 2, ch, step):
        for x in range(step // 2, cw, step):
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(70, 76, 96))
    return canvas


def _title_canvas(prompt: str, w: int, h: int) -> Image.Image:
    """Text to video: the prompt on a card in the centre frame."""
    canvas = _grid_canvas(w, h)
    fw, fh = w * SUPERSAMPLE, h * SUPERSAMPLE
    x0, y0 = (canvas.width - fw) // 2, (canvas.height - fh) // 2
    draw = ImageDraw.Draw(canvas)
    pad = fh // 14
    draw.rounded_rectangle([x0 + pad, y0 + pad, x0 + fw - pad, y0 + fh - pad], radius=pad,
                           fill=(40, 44, 60), outline=(90, 100, 140), width=max(1, fh // 120))
    draw.text((x0 + 2 * pad, y0 + 1.6 * pad), "TEXT TO VIDEO", font=_font(fh // 16), fill=MUTED)
    _text_block(draw, prompt, (x0 + 2 * pad, y0 + 3 * pad, x0 + fw - 2 * pad, y0 + fh - 2 * pad), fh // 11, INK)
    return canvas


def _subject_canvas(source: bytes | str | None, prompt: str, w: int, h: int) -> Image.Image:
    """Subject reference: the subject as a portrait card, the prompt under it."""
    canvas = _grid_canvas(w, h)
    fw, fh = w * SUPERSAMPLE, h * SUPERSAMPLE
    x0, y0 = (canvas.width - fw) // 2, (canvas.height - fh) // 2
    ph = fh * 64 // 100
    pw = min(fw * 9 // 10, ph * 3 // 4)
    portrait = ImageOps.fit(_open(source, pw, ph), (pw, ph), Image.Resampling.BILINEAR)
    px, py = x0 + (fw - pw) // 2, y0 + fh // 14
    draw = ImageDraw.Draw(canvas)
    border = max(2, fh // 90)
    draw.rectangle([px - border, py - border, px + pw + border - 1, py + ph + border - 1], fill=INK)
    canvas.paste(portrait, (px, py))
    _text_block(draw, prompt or "(no prompt)", (x0 + fw // 12, py + ph + fh // 30, x0 + fw * 11 // 12, y0 + fh),
                fh // 16, INK, center=True)
    return canvas


_FONTS: dict[int, ImageFont.ImageFont | ImageFont.FreeTypeFont] = {}
_FONT_LOCK = threading.Lock()


def _font(size: int):
    size = max(8, size)
    with _FONT_LOCK:
        if size not in _FONTS:
            _FONTS[size] = ImageFont.load_default(size=size)
        return _FONTS[size]


def _text_block(draw: ImageDraw.ImageDraw, text: str, box: tuple[float, float, float, float],
                size: int, fill: tuple[int, int, int], center: bool = False) -> None:
    """Word-wrapped text inside `box`, shrinking the font until it fits, ellipsis at the end."""
    x0, y0, x1, y1 = box
    for scale in (1.0, 0.8, 0.65):
        font = _font(int(size * scale))
        line_h = font.getbbox("Ag")[3] * 1.25
        max_lines = max(1, int((y1 - y0) // line_h))
        lines = _wrap(text, font, x1 - x0)
        if len(lines) <= max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip()[: max(0, len(lines[-1]) - 2)] + "…"
    for n, line in enumerate(lines):
        x = x0 + ((x1 - x0) - font.getlength(line)) / 2 if center else x0
        draw.text((x, y0 + n * line_h), line, font=font, fill=fill)


def _wrap(text: str, font, width: float) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if font.getlength(candidate) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
            while font.getlength(line) > width and len(line) > 1:  # one word wider than the box
                cut = max(1, int(len(line) * width / font.getlength(line)))
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


class VideoCache:
    """Rendered files on disk, made on first use; one render per file even under concurrent requests."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def path(self, name: str, spec: RenderSpec) -> Path:
        """The video for `spec`, rendered now if it is not on disk yet."""
        target = self.directory / f"{name}-{spec.digest()}.mp4"
        if target.exists():
            return target
        with self._lock:
            lock = self._locks.setdefault(target.name, threading.Lock())
        with lock:
            if not target.exists():
                fd, tmp = tempfile.mkstemp(suffix=".mp4.part", dir=self.directory)
                os.close(fd)
                try:
                    render_video(spec, tmp)
                    os.replace(tmp, target)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
        return target
