"""Previz renderer: a real H.264 MP4 that shows what the shot will be, not what it will look like.

Image-to-video animates the first frame as the prompt's camera commands say, shaded by the rest
of its words (camerapath.nuance: another prompt, another clip); first-last frame does the same
on the first image, then slides it out while the last one slides in, landing on the last image
exactly; text-to-video is a title card with the prompt; subject reference is a
portrait card. Moves past the picture reveal it mirrored, dimmed and blurred (cards.py), text
is laid out where every frame of the clip sees it, and every frame is one warp of one canvas
(camerapath.py has the camera).

A RenderSpec says everything explicitly: the output size, frame rate and frame count (v1 clips
are 6 or 10 s at the simulator's rate; an H3 clip is 107 + 17k frames at 24 fps), which take
this is (take 1 plays the prompt as written, the others are seeded variations: camerapath.
variation), the label burned into the bottom left corner, and whether it has a sound track.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from pipeline import files
from pipeline.minimax import camera
from pipeline.sim import previz_audio
# Re-exported (noqa: F401): the renderer's vocabulary for its callers and tests.
from pipeline.sim.camerapath import (  # noqa: F401
    FIRST_TAKE, MOVES, Pose, Variation, act, always_seen, camera_path, footprint, nuance, reframe, relative,
    seen_anywhere, variation, warp_points,
)
from pipeline.sim.cards import (  # noqa: F401
    BACKGROUND, Box, Canvas, decode, label_band, label_box, label_image, label_margin, picture_canvas, placeholder_text,
    scene_bounds, subject_canvas, title_canvas, unit,
)
from pipeline.sim.sizes import DEFAULT_FPS, DEFAULT_WIDTH, output_size, previz_size  # noqa: F401

MESH = (8, 5)  # warp grid cells across, down; each is bilinear, close to exact at this size
ACTION_MESH = (16, 9)  # finer where the subject moves on its own: its edge is a smooth curve
TEXT_PAD = 1 / 14  # text keeps this much of unit(w, h) (a 16:9 frame: its height) from every edge...
MIN_ROOM = (0.5, 0.4)  # ...in a box at least this much of the frame: a bigger move is made smaller
SUPERSAMPLE_UP_TO = 1280 * 720  # output pixels up to which a magnifying camera gets a 2x canvas
AT_REST = Pose()  # the camera where every clip on a picture starts
ENCODE = {"preset": "ultrafast", "crf": "24", "threads": "1"}  # one thread: renders run side by side


@dataclass(frozen=True)
class RenderSpec:
    """What to draw. Images are the decoded bytes of a data URL, or a URL (drawn as a placeholder)."""

    mode: str
    prompt: str
    width: int  # the output, in pixels (even: yuv420p)
    height: int
    fps: int = DEFAULT_FPS
    frames: int = 6 * DEFAULT_FPS
    camera: bool = True  # whether the model honours camera commands
    first: bytes | str | None = None
    last: bytes | str | None = None
    subject: bytes | str | None = None
    take: int = 1  # 1: the prompt as written; n > 1: variation(seed, n)
    seed: int = 0
    label: str = ""  # burned into the bottom left corner ("": none)
    audio: bool = False  # a quiet stereo 32 kHz AAC track (v1 videos have none)

    def __post_init__(self) -> None:
        if self.width < 2 or self.height < 2 or self.width % 2 or self.height % 2:
            raise ValueError(f"width and height must be even and >= 2, not {self.width}x{self.height}")
        if self.fps < 1 or self.frames < 1:
            raise ValueError(f"fps and frames must be >= 1, not {self.fps} and {self.frames}")

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.frames / self.fps

    def digest(self) -> str:
        """A short hash of everything that changes the rendered file."""
        h = hashlib.sha256()
        for part in (self.mode, self.prompt, self.width, self.height, self.fps, self.frames, self.camera,
                     self.first, self.last, self.subject, self.take, self.seed, self.label, self.audio):
            h.update(part if isinstance(part, bytes) else repr(part).encode())
            h.update(b"\0")
        return h.hexdigest()[:16]


# --- the plan: everything but the pixels ------------------------------------------------------


@dataclass
class Layout:
    """How the clip is made: the canvases and where the camera is on each of them, frame by frame.

    `poses` look at `first` on every frame until the slide ends; `landing` looks at `last` (first-
    last frame only) from the slide's start, ending on it exactly. `slide[i]` is how far the last
    picture has come in on frame i (0: only the first is seen, 1: only the last)."""

    spec: RenderSpec
    first: Canvas
    poses: list[Pose]
    last: Canvas | None = None
    landing: list[Pose] = field(default_factory=list)
    slide: list[float] = field(default_factory=list)
    direction: tuple[int, int] = (-1, 0)  # where the first picture goes as the last comes in
    amount: float = 1.0  # how much of the take's moves were kept so that the text stays in view

    def text_views(self) -> list[tuple[Box, list[Pose]]]:
        """Each text block (a scene box) with the poses of the frames that show it."""
        out = []
        if self.first.text is not None:
            seen = self.poses if self.last is None else self.poses[: _last_seen(self.slide) + 1]
            out.append((self.first.text, seen))
        if self.last is not None and self.last.text is not None:
            out.append((self.last.text, self.landing[_first_seen(self.slide):]))
        return out


def layout(spec: RenderSpec) -> Layout:
    """The canvases and camera poses of `spec`, text laid out where every frame sees it."""
    w, h = spec.size
    v = variation(spec.seed, spec.take)
    moves = camera.moves(spec.prompt) if spec.camera else []
    fl2v = spec.mode == "first_last_frame"
    on_pictures = spec.mode in ("image_to_video", "first_last_frame")
    # The words shade the take (a card shows them as they are). No drift on first-last frame: the
    # last picture is seen from where the first one's camera ends, so it would come in framed
    # wider than itself, its dimmed surroundings showing.
    if on_pictures:
        v = nuance(v, prompt_words(spec.prompt), drift=not moves and not fl2v)
    # A picture is the first frame the API was given: a take reframes it on the way (not from the
    # start), and not at all when the prompt says the camera holds.
    held = on_pictures and any("Static shot" in group for group in moves)
    size = (w * 2, h * 2)
    first_src = spec.first if spec.first is not None or not fl2v else spec.last
    first_pic = decode(first_src, *size) if on_pictures else None
    last_pic = decode(spec.last, *size) if fl2v else None
    has_text = not on_pictures or first_pic is None or (fl2v and last_pic is None)

    def path(k: float) -> tuple[list[Pose], list[Pose], list[float], tuple[int, int]]:
        take = scaled_variation(v, k)
        poses = camera_path(moves, spec.frames, spec.fps, w / h, v.amount * k, v.window)
        if on_pictures and not held:  # (a card is framed by where it is laid out: _frame_card)
            poses = reframe(poses, take, progressive=True)
        if fl2v:
            return _first_last(poses, take, spec, w, h)
        if on_pictures:
            poses = act(poses, take, spec.fps, settle=False)
        return _contain(poses, w, h), [], [], (-1, 0)

    def rooms(poses: list[Pose], landing: list[Pose], slide: list[float]) -> list[Box]:
        if not fl2v:
            return [_room(poses, w, h)]
        return [_room(poses[: _last_seen(slide) + 1], w, h), _room(landing[_first_seen(slide):], w, h)]

    k = 1.0
    poses, landing, slide, direction = path(k)
    if has_text and not _roomy(rooms(poses, landing, slide), w, h):
        lo, hi = 0.0, 1.0  # the largest share of the take's moves that leaves room for the text
        for _ in range(10):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _roomy(rooms(*path(mid)[:3]), w, h) else (lo, mid)
        k = lo
        poses, landing, slide, direction = path(k)
    room = rooms(poses, landing, slide)
    if not on_pictures:
        room = [_frame_card(room[0], scaled_variation(v, k))]
    if fl2v:
        first_poses, last_poses = poses[: _last_seen(slide) + 1] or poses[:1], landing[_first_seen(slide):]
        first = picture_canvas(first_pic, placeholder_text(first_src), w, h, seen_anywhere(first_poses, w, h),
                               _detail(first_poses, w, h), room[0])
        last = picture_canvas(last_pic, placeholder_text(spec.last), w, h, seen_anywhere(last_poses, w, h),
                              _detail(last_poses, w, h), room[1])
        return Layout(spec, first, poses, last, landing, slide, direction, k)
    seen, detail = seen_anywhere(poses, w, h), _detail(poses, w, h)
    if spec.mode == "image_to_video":
        first = picture_canvas(first_pic, placeholder_text(spec.first), w, h, seen, detail, room[0])
    elif spec.mode == "subject_reference":
        first = subject_canvas(spec.subject, spec.prompt, w, h, seen, detail, room[0])
    else:
        first = title_canvas(spec.prompt, w, h, seen, detail, room[0])
    return Layout(spec, first, poses, amount=k)


def prompt_words(prompt: str) -> str:
    """The prompt without its camera commands (a bracket's unknown items are words), spaces
    collapsed: what it says about the scene, which seeds the clip's nuance."""
    parts, at = [], 0
    for bracket in camera.brackets(prompt):
        if bracket.commands:
            parts += [prompt[at:bracket.start], *bracket.unknown]
            at = bracket.end
    parts.append(prompt[at:])
    return " ".join(" ".join(parts).split())


def scaled_variation(v: Variation, k: float) -> Variation:
    """The take's framing and subject motion `k` as large (the text rule makes moves smaller)."""
    if k == 1.0:
        return v
    return Variation(v.amount, v.window, v.zoom ** k, v.x * k, v.y * k, v.action * k, v.action_hz,
                     v.action_phase, v.slide, v.transition)


def _frame_card(room: Box, v: Variation) -> Box:
    """A take's framing of a card: the card smaller by the take's zoom, off centre by its offset."""
    if v.zoom == 1.0:
        return room
    x0, y0, x1, y1 = room
    spare = 1 - 1 / v.zoom
    fx, fy = 0.5 + 3 * v.x / spare, 0.5 + 3 * v.y / spare  # v.x, v.y are within +-spare/6: 0..1 here
    cw, ch = (x1 - x0) / v.zoom, (y1 - y0) / v.zoom
    left, top = x0 + (x1 - x0 - cw) * fx, y0 + (y1 - y0 - ch) * fy
    return left, top, left + cw, top + ch


def _first_last(poses: list[Pose], v: Variation, spec: RenderSpec, w: int, h: int):
    """First-last frame: the camera path on the first picture, the same path on the last picture
    seen from where it ends (so the clip lands on it exactly), and the slide between them."""
    n = spec.frames
    first = act(_contain(poses, w, h), v, spec.fps, settle=True)
    landing = [relative(p, first[-1]) for p in first]
    t0, t1 = v.transition
    slide = [_smooth(min(1.0, max(0.0, (i / max(1, n - 1) - t0) / (t1 - t0)))) for i in range(n)]
    if spec.first is None:  # only a last picture: it is the whole clip
        slide = [1.0] * n
    end = poses[-1]
    across, down = end.x + end.pan, end.y + end.tilt
    if max(abs(across), abs(down)) > 0.05:  # the last picture comes from where the camera goes
        direction = (-int(math.copysign(1, across)), 0) if abs(across) >= abs(down) else \
            (0, -int(math.copysign(1, down)))
    else:
        direction = v.slide or (-1, 0)
    return first, landing, slide, direction


def _room(poses: list[Pose], w: int, h: int) -> Box:
    """Where text may go: what every frame sees whole, TEXT_PAD in from its edges and clear of the
    label, within the picture."""
    x0, y0, x1, y1 = always_seen(poses, w, h)
    pad = TEXT_PAD * unit(w, h)
    bottom = max(pad, label_band(w, h))
    return max(x0 + pad, -w / 2 + pad), max(y0 + pad, -h / 2 + pad), \
        min(x1 - pad, w / 2 - pad), min(y1 - bottom, h / 2 - bottom)


def _roomy(rooms: list[Box], w: int, h: int) -> bool:
    """Whether every room is big enough to read text in."""
    pad = 2 * TEXT_PAD * unit(w, h)
    return all(x1 - x0 + pad >= MIN_ROOM[0] * w and y1 - y0 + pad >= MIN_ROOM[1] * h for x0, y0, x1, y1 in rooms)


def _contain(poses: list[Pose], w: int, h: int) -> list[Pose]:
    """Each pose moved back, if it must be, so that its frame stays within the scene (a long move
    stops at the edge of what there is to see)."""
    bx0, by0, bx1, by1 = scene_bounds(w, h)
    out = []
    for p in poses:
        pts = footprint(p, w, h, 2)
        xs, ys = [x for x, _ in pts], [y for _, y in pts]
        dx, dy = _inside(min(xs), max(xs), bx0, bx1), _inside(min(ys), max(ys), by0, by1)
        out.append(p if not (dx or dy) else Pose(p.zoom, p.dolly, p.x + dx / w, p.y + dy / h, p.pan, p.tilt, p.ax, p.ay))
    return out


def _inside(low: float, high: float, lo: float, hi: float) -> float:
    if high - low >= hi - lo:
        return (lo + hi) / 2 - (low + high) / 2
    return lo - low if low < lo else (hi - high if high > hi else 0.0)


def _detail(poses: list[Pose], w: int, h: int) -> int:
    """Canvas pixels per scene pixel: 2 where some frame magnifies the scene, else 1 (and 1 above
    720p, where a 2x canvas of a long move would take hundreds of megabytes)."""
    return 2 if max(p.zoom * p.dolly for p in poses) > 1.1 and w * h <= SUPERSAMPLE_UP_TO else 1


def _last_seen(slide: list[float]) -> int:
    """The last frame that shows some of the first picture."""
    return max((i for i, s in enumerate(slide) if s < 1.0), default=-1)


def _first_seen(slide: list[float]) -> int:
    """The first frame that shows some of the last picture."""
    return next((i for i, s in enumerate(slide) if s > 0.0), len(slide))


def _smooth(t: float) -> float:
    return t * t * (3 - 2 * t)


# --- the pixels -------------------------------------------------------------------------------


def render_video(spec: RenderSpec, path: str | Path) -> None:
    """Write the previz of `spec` to `path` as H.264 MP4 (with AAC if asked), spec.frames frames long."""
    lay = layout(spec)
    w, h = spec.size
    first = _Views(lay.first, w, h)
    last = _Views(lay.last, w, h) if lay.last is not None else None
    label = label_image(spec.label, w, h)
    label_at = label_box(w, h)[:2] if label is not None else (0, 0)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, spec.fps)
        stream.options = dict(ENCODE)
        sound = previz_audio.Track(out, spec.frames, spec.fps, spec.seed * 1000 + spec.take) if spec.audio else None
        held, frame = None, None
        for i in range(spec.frames):
            if last is None:
                image = first(lay.poses[i])
            else:
                image = _slide(first, lay.poses[i], last, lay.landing[i], lay.slide[i], lay.direction, w, h)
            if image is not held:  # a held camera's frame is converted once
                if label is not None:
                    image.paste(label, label_at)
                held, frame = image, av.VideoFrame.from_image(image).reformat(format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
            if sound is not None:
                sound.until(i + 1)
        out.mux(stream.encode(None))
        if sound is not None:
            sound.close()


def _slide(first: _Views, pose: Pose, last: _Views, landing: Pose, s: float, d: tuple[int, int],
           w: int, h: int) -> Image.Image:
    """One frame of first-last frame: the first picture moved `s` of the way out in direction `d`,
    the last one moved in behind it, each seen by its own camera."""
    if s <= 0.0:
        return first(pose)
    if s >= 1.0:
        return last(landing)
    span = w if d[0] else h
    cut = min(span - 1, max(1, round(s * span)))  # pixels of the last picture in view
    image = Image.new("RGB", (w, h))
    if d == (-1, 0):  # out to the left, in from the right
        image.paste(first(pose, (cut, 0, w, h)), (0, 0))
        image.paste(last(landing, (0, 0, cut, h)), (w - cut, 0))
    elif d == (1, 0):
        image.paste(first(pose, (0, 0, w - cut, h)), (cut, 0))
        image.paste(last(landing, (w - cut, 0, w, h)), (0, 0))
    elif d == (0, -1):
        image.paste(first(pose, (0, cut, w, h)), (0, 0))
        image.paste(last(landing, (0, 0, w, cut)), (0, h - cut))
    else:
        image.paste(first(pose, (0, 0, w, h - cut)), (0, cut))
        image.paste(last(landing, (0, h - cut, w, h)), (0, 0))
    return image


class _Views:
    """view(pose, box): the frame (or the part `box` of it) the camera sees on one canvas,
    remembering the last one: a held camera draws its frame once."""

    def __init__(self, canvas: Canvas, w: int, h: int) -> None:
        self.canvas, self.w, self.h = canvas, w, h
        self.key: tuple | None = None
        self.image: Image.Image | None = None

    def __call__(self, pose: Pose, box: tuple[int, int, int, int] | None = None) -> Image.Image:
        key = (pose, box)
        if key != self.key:
            self.key, self.image = key, view(self.canvas, pose, self.w, self.h, box)
        return self.image


def view(canvas: Canvas, pose: Pose, w: int, h: int, box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """The frame the camera sees (or its part `box`, in output pixels): one warp of the canvas.

    A pose that only shifts and zooms is one affine map, sampled at 2x the output size with
    nearest-neighbour and box-reduced (as smooth as bilinear, and several times faster in Pillow);
    a turn, a dolly or the subject's own motion is a mesh of bilinear quads, close to exact at
    MESH cells, from a canvas level near 1:1 so that it does not shimmer.

    At rest, a picture's frame is the picture itself (Canvas.rest): a clip made from a frame
    starts (and a first-last clip ends) on exactly that frame.
    """
    if canvas.rest is not None and pose == AT_REST:
        return canvas.rest.copy() if box is None else canvas.rest.crop(box)
    bu0, bv0, bu1, bv1 = box or (0, 0, w, h)
    bw, bh = bu1 - bu0, bv1 - bv0
    magnification = pose.zoom * pose.dolly
    fill = BACKGROUND
    if pose.affine:
        c = canvas.level(canvas.scale / magnification / 2)
        (x0, y0), (x1, y1) = warp_points(pose, w, h, [(bu0, bv0), (bu1, bv1)])
        (cx0, cy0), (cx1, cy1) = c.to_canvas(x0, y0), c.to_canvas(x1, y1)
        fine = c.image.transform((bw * 2, bh * 2), Image.Transform.AFFINE,
                                 ((cx1 - cx0) / (bw * 2), 0, cx0, 0, (cy1 - cy0) / (bh * 2), cy0),
                                 resample=Image.Resampling.NEAREST, fillcolor=fill)
        return fine.reduce(2)
    c = canvas.level(canvas.scale / magnification)
    gx, gy = ACTION_MESH if (pose.ax or pose.ay) else MESH
    gx, gy = max(1, round(gx * bw / w)), max(1, round(gy * bh / h))
    us = [bu0 + round(bw * i / gx) for i in range(gx + 1)]
    vs = [bv0 + round(bh * j / gy) for j in range(gy + 1)]
    scene = warp_points(pose, w, h, [(u, v) for v in vs for u in us])
    pts = [c.to_canvas(x, y) for x, y in scene]
    mesh = []
    for j in range(gy):
        for i in range(gx):
            nw, ne = pts[j * (gx + 1) + i], pts[j * (gx + 1) + i + 1]
            sw, se = pts[(j + 1) * (gx + 1) + i], pts[(j + 1) * (gx + 1) + i + 1]
            mesh.append(((us[i] - bu0, vs[j] - bv0, us[i + 1] - bu0, vs[j + 1] - bv0), (*nw, *sw, *se, *ne)))
    return c.image.transform((bw, bh), Image.Transform.MESH, mesh, resample=Image.Resampling.BILINEAR,
                             fillcolor=fill)


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
