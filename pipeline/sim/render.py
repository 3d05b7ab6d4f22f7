"""Previz renderer: a real H.264 MP4 that shows what the shot will be, not what it will look like.

Image-to-video animates the first frame as the prompt's camera commands say; first-last frame
does the same while cross-fading to the last frame, landing on it exactly; text-to-video is a
title card with the prompt; subject reference is a portrait card. The picture sits on a canvas
three frames wide, its surroundings a dimmed mirror of itself, so moves reveal something
plausible instead of a smear. Every frame is one mesh warp of that canvas, drawn once, so a 6 s
clip at 180p renders in a fraction of a second.

The camera model, so that commands given together combine instead of cancelling: Truck and
Pedestal move the camera (the picture shifts), Pan and Tilt turn it (a rotation: the picture
shifts less and keystones), Zoom changes the lens (a uniform scale), Push and Pull move it along
its axis (the centre scales more than the edges, as a near subject does against its
background). So `[Pedestal up,Tilt down]` rises while looking down, and `[Push in,Zoom out]` is
a dolly zoom.
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
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from pipeline import files
from pipeline.minimax import camera
from pipeline.textlayout import font, wrap

CANVAS_SPAN = 3  # the canvas is 3x the frame each way, so moves reveal surroundings
SUPERSAMPLE = 2  # canvas pixels per output pixel at zoom 1 (keeps push-ins sharp)
FOCAL = 1.0  # lens focal length in units of the frame's longer side (about 53 degrees across it)
MOVE = 0.3  # a truck/pedestal moves the picture by this fraction of the frame per bracket
TURN = 0.25  # a pan/tilt turns the camera until the centre has moved this fraction of the frame
ZOOM = 1.4  # a push/pull/zoom changes the scale at the centre by this factor per bracket
DEPTH = 0.3  # a push scales the frame's corners by ZOOM ** (1 - DEPTH): the background is farther
TRACK_ZOOM = 1.15  # a tracking shot drifts forward slowly...
TRACK_SWAY = 0.04  # ...swaying sideways by this fraction of the frame and back
SHAKE = 0.025  # shake amplitude, in frame widths
SHAKE_HZ = (3.1, 5.3, 2.3, 4.1)  # two sines per axis, in cycles per second
MAX_TURN = 0.6  # pan/tilt: at most this much centre shift in total (about 30 degrees)
MESH = (8, 5)  # warp grid cells across, down; each is bilinear, close to exact at this size
EDGE_DIM = 0.5  # the mirrored surroundings at half brightness, blurred: clearly outside the shot


@dataclass(frozen=True)
class Move:
    """What one command does over its bracket. Scales multiply, the rest add."""

    zoom: float = 1.0  # lens
    dolly: float = 1.0  # camera along its axis
    x: float = 0.0  # camera moved sideways, in frame widths (+ right)
    y: float = 0.0  # camera moved vertically, in frame heights (+ down)
    pan: float = 0.0  # camera turned, as the centre's shift in frame widths (+ right)
    tilt: float = 0.0  # in frame heights (+ down)
    shake: bool = False
    sway: bool = False


# "[Pan left]" turns the camera left, so the picture slides to the right.
MOVES: dict[str, Move] = {
    "Push in": Move(dolly=ZOOM), "Pull out": Move(dolly=1 / ZOOM),
    "Zoom in": Move(zoom=ZOOM), "Zoom out": Move(zoom=1 / ZOOM),
    "Truck left": Move(x=-MOVE), "Truck right": Move(x=MOVE),
    "Pedestal up": Move(y=-MOVE), "Pedestal down": Move(y=MOVE),
    "Pan left": Move(pan=-TURN), "Pan right": Move(pan=TURN),
    "Tilt up": Move(tilt=-TURN), "Tilt down": Move(tilt=TURN),
    "Shake": Move(shake=True),
    "Tracking shot": Move(dolly=TRACK_ZOOM, sway=True),
    "Static shot": Move(),
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
    poses = camera_path(moves, spec.frames, spec.fps, w / h)
    if spec.mode == "first_last_frame":
        last = _image_canvas(spec.last, w, h)
        first = _image_canvas(spec.first, w, h) if spec.first is not None else last
    elif spec.mode == "image_to_video":
        first, last = _image_canvas(spec.first, w, h), None
    elif spec.mode == "subject_reference":
        first, last = _subject_canvas(spec.subject, spec.prompt, w, h), None
    else:
        first, last = _title_canvas(spec.prompt, w, h), None
    fading = last is not None and last is not first
    # The last image is seen from where the camera will end up, so the clip lands on it exactly.
    landing = [relative(p, poses[-1]) for p in poses] if fading else []
    first_view, last_view = _Views(first, w, h), _Views(last, w, h) if fading else None

    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, spec.fps)
        stream.options = {"preset": "ultrafast", "crf": "26"}
        for i, pose in enumerate(poses):
            image = first_view(pose)
            if fading:
                image = Image.blend(image, last_view(landing[i]), _smooth(i / max(1, spec.frames - 1)))
            frame = av.VideoFrame.from_image(image)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


class _Views:
    """view(canvas, pose), remembering the last pose: a held camera draws its frame once."""

    def __init__(self, canvas: Image.Image, w: int, h: int) -> None:
        self.canvas, self.w, self.h = canvas, w, h
        self.pose: Pose | None = None
        self.image: Image.Image | None = None

    def __call__(self, pose: Pose) -> Image.Image:
        if pose != self.pose:
            self.pose, self.image = pose, _view(self.canvas, pose, self.w, self.h)
        return self.image


@dataclass(frozen=True)
class Pose:
    """Where the camera is, relative to where it started (the fields of Move, accumulated)."""

    zoom: float = 1.0
    dolly: float = 1.0
    x: float = 0.0
    y: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0


def relative(p: Pose, to: Pose) -> Pose:
    """The pose `p` as seen from `to`: identity when they are equal."""
    return Pose(p.zoom / to.zoom, p.dolly / to.dolly, p.x - to.x, p.y - to.y, p.pan - to.pan, p.tilt - to.tilt)


def camera_path(moves: list[tuple[str, ...]], frames: int, fps: int = 12, aspect: float = 16 / 9) -> list[Pose]:
    """One pose per frame: each bracket gets an equal share of the clip, its commands together."""
    if not moves:
        return [Pose()] * frames
    n = len(moves)
    starts = [Pose()]
    for group in moves:
        p = starts[-1]
        for command in group:
            m = MOVES[command]
            p = Pose(p.zoom * m.zoom, p.dolly * m.dolly, p.x + m.x, p.y + m.y,
                     _limit(p.pan + m.pan, MAX_TURN), _limit(p.tilt + m.tilt, MAX_TURN))
        starts.append(p)
    poses = []
    for i in range(frames):
        progress = i / max(1, frames - 1) * n
        k = min(int(progress), n - 1)
        t = _smooth(progress - k)
        a, b = starts[k], starts[k + 1]
        x, y = a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t
        group = [MOVES[c] for c in moves[k]]
        if any(m.sway for m in group):
            x += TRACK_SWAY * math.sin(math.pi * (progress - k))
        if any(m.shake for m in group):
            s = i / fps * 2 * math.pi
            x += SHAKE * (math.sin(s * SHAKE_HZ[0]) + math.sin(s * SHAKE_HZ[1])) / 2
            y += SHAKE * aspect * (math.sin(s * SHAKE_HZ[2]) + math.sin(s * SHAKE_HZ[3])) / 2
        poses.append(Pose(
            a.zoom * (b.zoom / a.zoom) ** t, a.dolly * (b.dolly / a.dolly) ** t, x, y,
            a.pan + (b.pan - a.pan) * t, a.tilt + (b.tilt - a.tilt) * t,
        ))
    return poses


def _limit(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


def _smooth(t: float) -> float:
    return t * t * (3 - 2 * t)


def warp_points(pose: Pose, w: int, h: int, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Where each output pixel position looks on the scene, in scene pixels from the picture's centre.

    Lens zoom, then the dolly's depth (the centre scales by `dolly`, the corners less), then the
    turn (a rotation of the viewing ray), then the camera's sideways move.
    """
    f = FOCAL * max(w, h)
    yaw, pitch = math.atan(pose.pan * w / f), math.atan(pose.tilt * h / f)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    corner2 = (w * w + h * h) / 4
    out = []
    for u, v in points:
        du, dv = u - w / 2, v - h / 2
        X, Y = du / (f * pose.zoom), dv / (f * pose.zoom)
        if pose.dolly != 1.0:
            s = pose.dolly ** (1 - DEPTH * min(1.0, (du * du + dv * dv) / corner2))
            X, Y = X / s, Y / s
        y1, z1 = Y * cp + sp, cp - Y * sp  # tilt: rotate the ray about the horizontal axis
        x2, z2 = X * cy + z1 * sy, z1 * cy - X * sy  # pan: about the vertical axis
        out.append((f * x2 / z2 + pose.x * w, f * y1 / z2 + pose.y * h))
    return out


def _view(canvas: Image.Image, pose: Pose, w: int, h: int) -> Image.Image:
    """The frame the camera sees: one warp of the canvas.

    A pose that only shifts and zooms is one affine map, sampled at SUPERSAMPLE x the output
    size with nearest-neighbour and box-reduced (as smooth as bilinear, three times faster in
    Pillow); a turn or a dolly is a mesh of bilinear quads, close to exact at MESH cells.
    """
    gx, gy = (1, 1) if _is_affine(pose) else MESH
    us, vs = [round(w * i / gx) for i in range(gx + 1)], [round(h * j / gy) for j in range(gy + 1)]
    scene = warp_points(pose, w, h, [(u, v) for v in vs for u in us])
    pts = [(canvas.width / 2 + SUPERSAMPLE * x, canvas.height / 2 + SUPERSAMPLE * y) for x, y in scene]
    dx, dy = _keep_inside([p[0] for p in pts], canvas.width), _keep_inside([p[1] for p in pts], canvas.height)
    pts = [(x + dx, y + dy) for x, y in pts]
    if (gx, gy) == (1, 1):
        (x0, y0), (x1, _), (_, y1) = pts[0], pts[1], pts[2]
        s = SUPERSAMPLE
        fine = canvas.transform((w * s, h * s), Image.Transform.AFFINE,
                                ((x1 - x0) / (w * s), 0, x0, 0, (y1 - y0) / (h * s), y0),
                                resample=Image.Resampling.NEAREST, fillcolor=BACKGROUND)
        return fine.reduce(s)
    mesh = []
    for j in range(gy):
        for i in range(gx):
            nw, ne = pts[j * (gx + 1) + i], pts[j * (gx + 1) + i + 1]
            sw, se = pts[(j + 1) * (gx + 1) + i], pts[(j + 1) * (gx + 1) + i + 1]
            mesh.append(((us[i], vs[j], us[i + 1], vs[j + 1]), (*nw, *sw, *se, *ne)))
    return canvas.transform((w, h), Image.Transform.MESH, mesh, resample=Image.Resampling.BILINEAR,
                            fillcolor=BACKGROUND)


def _is_affine(pose: Pose) -> bool:
    return pose.dolly == 1.0 and pose.pan == 0.0 and pose.tilt == 0.0


def _keep_inside(values: list[float], size: int) -> float:
    """The shift that keeps a view on the canvas, if it fits (a long move stops at the canvas edge)."""
    low, high = min(values), max(values)
    if high - low >= size:
        return size / 2 - (low + high) / 2
    return -low if low < 0 else (size - high if high > size else 0.0)


def _canvas_size(w: int, h: int) -> tuple[int, int]:
    return w * SUPERSAMPLE * CANVAS_SPAN, h * SUPERSAMPLE * CANVAS_SPAN


def _image_canvas(source: bytes | str | None, w: int, h: int) -> Image.Image:
    """The image filling the centre frame; around it the image mirrored at its edges, blurred and
    dimmed, so a pull-out or a long pan shows a continuation of the same colours, not a smear."""
    fw, fh = w * SUPERSAMPLE, h * SUPERSAMPLE
    picture = _open(source, fw, fh)
    sharp = ImageOps.fit(picture, (fw, fh), Image.Resampling.BILINEAR)
    sw, sh = max(1, fw // 8), max(1, fh // 8)
    small = sharp.resize((sw, sh), Image.Resampling.BILINEAR)
    mirrored = ImageOps.mirror(small)
    tiles = {(False, False): small, (True, False): mirrored,
             (False, True): ImageOps.flip(small), (True, True): ImageOps.flip(mirrored)}
    surround = Image.new("RGB", (sw * CANVAS_SPAN, sh * CANVAS_SPAN))
    middle = CANVAS_SPAN // 2
    for j in range(CANVAS_SPAN):
        for i in range(CANVAS_SPAN):
            surround.paste(tiles[((i - middle) % 2 == 1, (j - middle) % 2 == 1)], (i * sw, j * sh))
    surround = surround.filter(ImageFilter.GaussianBlur(max(1, sh // 12))).point(lambda v: int(v * EDGE_DIM))
    canvas = surround.resize(_canvas_size(w, h), Image.Resampling.BILINEAR)
    canvas.paste(sharp, ((canvas.width - fw) // 2, (canvas.height - fh) // 2))
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
    draw.text((x0 + 2 * pad, y0 + 1.6 * pad), "TEXT TO VIDEO", font=font(fh // 16), fill=MUTED)
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


def _text_block(draw: ImageDraw.ImageDraw, text: str, box: tuple[float, float, float, float],
                size: int, fill: tuple[int, int, int], center: bool = False) -> None:
    """Word-wrapped text inside `box`, shrinking the font until it fits, ellipsis at the end."""
    x0, y0, x1, y1 = box
    for scale in (1.0, 0.8, 0.65):
        face = font(int(size * scale))
        line_h = face.getbbox("Ag")[3] * 1.25
        max_lines = max(1, int((y1 - y0) // line_h))
        lines = wrap(text, face, x1 - x0)
        if len(lines) <= max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip()[: max(0, len(lines[-1]) - 2)] + "…"
    for n, line in enumerate(lines):
        x = x0 + ((x1 - x0) - face.getlength(line)) / 2 if center else x0
        draw.text((x, y0 + n * line_h), line, font=face, fill=fill)


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
                with files.replacing(target, Path(tmp)) as part:
                    render_video(spec, str(part))
        return target
