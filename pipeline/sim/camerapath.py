"""The previz camera: where it is on every frame, and what part of the scene each frame shows.

The camera model, so that commands given together combine instead of cancelling: Truck and
Pedestal move the camera (the picture shifts), Pan and Tilt turn it (a rotation: the picture
shifts less and keystones), Zoom changes the lens (a uniform scale), Push and Pull move it along
its axis (the centre scales more than the edges, as a near subject does against its
background). So `[Pedestal up,Tilt down]` rises while looking down, and `[Push in,Zoom out]` is
a dolly zoom.

Scene coordinates are pixels at the output scale with the origin at the picture's centre: the
picture (or title card) spans [-w/2, w/2] x [-h/2, h/2] of them. `warp_points` maps output
pixels to scene points; everything else here is built on it.

A take (Variation) changes how the prompt is played, never what it says: how far the moves go
(amount), when they run (window), how the shot is framed (reframe), and how much the subject
moves on its own (action). The prompt's words besides its commands (nuance) shade every take of
a clip made from pictures a little, as a real model makes another clip for another prompt.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

CANVAS_SPAN = 3  # the scene is at most 3x the frame each way, so moves reveal surroundings
FOCAL = 1.0  # lens focal length in units of the frame's longer side (about 53 degrees across it)
MOVE = 0.3  # a truck/pedestal moves the picture by this fraction of the frame per bracket
TURN = 0.25  # a pan/tilt turns the camera until the centre has moved this fraction of the frame
ZOOM = 1.4  # a push/pull/zoom changes the scale at the centre by this factor per bracket
DEPTH = 0.3  # a push scales the frame's corners by ZOOM ** (1 - DEPTH): the background is farther
TRACK_ZOOM = 1.15  # a tracking shot drifts forward slowly...
TRACK_SWAY = 0.04  # ...swaying sideways by this fraction of the frame and back
SHAKE = 0.025  # shake amplitude, in frame widths
SHAKE_HZ = (3.1, 5.3, 2.3, 4.1)  # two sines per axis, in cycles per second
SHAKE_EASE = 0.08  # a shake fades in and out over this fraction of its bracket
MAX_TURN = 0.6  # pan/tilt: at most this much centre shift in total (about 30 degrees)
ACTION_CORE = 0.5  # the subject's own motion moves the middle of the picture (out to this fraction
# of its half-size) as one piece, fading to nothing at the picture's edges


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


@dataclass(frozen=True)
class Pose:
    """Where the camera is, relative to where it started (the fields of Move, accumulated), and
    how far the subject has moved on its own (ax, ay: in frame widths and heights)."""

    zoom: float = 1.0
    dolly: float = 1.0
    x: float = 0.0
    y: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    ax: float = 0.0
    ay: float = 0.0

    @property
    def affine(self) -> bool:
        """Only a shift and a uniform scale: one affine map draws it."""
        return self.dolly == 1.0 and self.pan == 0.0 and self.tilt == 0.0 and self.ax == 0.0 and self.ay == 0.0


def relative(p: Pose, to: Pose) -> Pose:
    """The pose `p` as seen from `to`: identity when they are equal."""
    return Pose(p.zoom / to.zoom, p.dolly / to.dolly, p.x - to.x, p.y - to.y, p.pan - to.pan,
                p.tilt - to.tilt, p.ax - to.ax, p.ay - to.ay)


def scaled(p: Pose, k: float) -> Pose:
    """The pose `k` of the way from rest (scales as powers): a move made smaller."""
    return Pose(p.zoom ** k, p.dolly ** k, p.x * k, p.y * k, p.pan * k, p.tilt * k, p.ax * k, p.ay * k)


# --- takes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variation:
    """How one take plays the prompt. The default is the prompt as written (a first take)."""

    amount: float = 1.0  # every camera move this much as far (calm < 1 < lively)
    window: tuple[float, float] = (0.0, 1.0)  # the moves run between these fractions of the clip
    zoom: float = 1.0  # framing: this much tighter...
    x: float = 0.0  # ...centred this far off the picture's centre (frame widths, heights)
    y: float = 0.0
    action: float = 0.0  # the subject's own motion, in frame widths at its widest
    action_hz: tuple[float, float] = (0.3, 0.2)  # its sway, across and down, in cycles per second
    action_phase: float = 0.0
    slide: tuple[int, int] | None = None  # first-last frame: the way the last picture comes in
    transition: tuple[float, float] = (0.3, 0.8)  # first-last frame: the slide, as clip fractions


FIRST_TAKE = Variation()


def variation(seed: int, take: int) -> Variation:
    """Take 1 is the prompt as written; take n > 1 a variation drawn from (seed, n), so that
    the same request on the same simulator always plays the same way, and two takes differ.

    Each take is calm or lively (the camera moves 0.4-0.65x or 1.3-1.6x as far, the subject
    moves little or more), starts and ends its moves at other moments, and frames the shot a
    little tighter and off centre."""
    if take <= 1:
        return FIRST_TAKE
    rng = random.Random(f"previz-take:{seed}:{take}")
    lively = rng.random() < 0.5
    amount = rng.uniform(1.3, 1.6) if lively else rng.uniform(0.4, 0.65)
    start, end = rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0)
    zoom = rng.uniform(1.06, 1.2)
    # Off centre by at most a third of what keeps the tighter frame inside the picture: a take is
    # framed differently, but its motion is the commands' (a calm take must look calm).
    room = (1 - 1 / zoom) / 2 / 3
    x, y = rng.uniform(-room, room), rng.uniform(-room, room)
    action = rng.uniform(0.008, 0.012) if lively else rng.uniform(0.002, 0.004)
    hz = (rng.uniform(0.2, 0.4), rng.uniform(0.12, 0.3))
    slide = rng.choice(((-1, 0), (1, 0), (0, -1), (0, 1)))
    t0 = rng.uniform(0.15, 0.4)
    t1 = min(0.92, t0 + rng.uniform(0.3, 0.5))
    return Variation(amount, (start, end), zoom, x, y, action, hz, rng.uniform(0, 2 * math.pi), slide, (t0, t1))


def nuance(v: Variation, words: str, drift: bool) -> Variation:
    """Take `v` shaded by the prompt's `words` (the prompt without its camera commands), calmly:
    the moves a little farther or shorter (+-8%: a calm take stays calm, a lively one lively)
    and done a little sooner, the subject swaying a little (or its take's sway in another phase),
    a first-last slide a little earlier or later and, if `drift` (the prompt names no move), the
    framing drifting slightly tighter and off centre, as a model's camera does of its own accord.
    Seeded by the words alone: the same prompt always plays the same way, and one more word
    changes where the clip ends. No words (a prompt of commands only): the take as it is."""
    text = " ".join(words.split())
    if not text:
        return v
    rng = random.Random(f"previz-words:{text}")
    amount = v.amount * rng.uniform(0.92, 1.08)
    w0, w1 = v.window
    span = w1 - w0
    window = (w0 + span * rng.uniform(0.0, 0.06), w1 - span * rng.uniform(0.0, 0.06))
    if v.action:
        action, hz = v.action * rng.uniform(0.85, 1.15), v.action_hz
    else:
        action, hz = rng.uniform(0.002, 0.004), (rng.uniform(0.2, 0.4), rng.uniform(0.12, 0.3))
    phase = (v.action_phase + rng.uniform(0.0, 2 * math.pi)) % (2 * math.pi)
    shift = rng.uniform(-0.05, 0.05)
    t0, t1 = v.transition
    transition = (max(0.05, t0 + shift), min(0.95, t1 + shift))
    zoom, x, y = v.zoom, v.x, v.y
    if drift:  # within a third of what keeps the tighter frame inside the picture, as a take is
        zoom *= rng.uniform(1.02, 1.05)
        room = (1 - 1 / zoom) / 2 / 3
        x, y = x + rng.uniform(-room, room), y + rng.uniform(-room, room)
    return Variation(amount, window, zoom, x, y, action, hz, phase, v.slide, transition)


# --- the path ---------------------------------------------------------------------------------


def camera_path(moves: list[tuple[str, ...]], frames: int, fps: float = 24, aspect: float = 16 / 9,
                amount: float = 1.0, window: tuple[float, float] = (0.0, 1.0)) -> list[Pose]:
    """One pose per frame: each bracket gets an equal share of the window, its commands together,
    every move `amount` as far. Before the window the camera waits; after it, it holds."""
    if not moves or amount == 0:
        return [Pose()] * frames
    n = len(moves)
    starts = [Pose()]
    for group in moves:
        p = starts[-1]
        for command in group:
            m = MOVES[command]
            p = Pose(p.zoom * m.zoom ** amount, p.dolly * m.dolly ** amount,
                     p.x + m.x * amount, p.y + m.y * amount,
                     _limit(p.pan + m.pan * amount, MAX_TURN), _limit(p.tilt + m.tilt * amount, MAX_TURN))
        starts.append(p)
    w0, w1 = window
    poses = []
    for i in range(frames):
        clip = i / max(1, frames - 1)
        progress = _clamp((clip - w0) / max(1e-9, w1 - w0)) * n
        k = min(int(progress), n - 1)
        local = progress - k
        t = _smooth(local)
        a, b = starts[k], starts[k + 1]
        x, y = a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t
        group = [MOVES[c] for c in moves[k]]
        if any(m.sway for m in group):
            x += TRACK_SWAY * amount * math.sin(math.pi * local)
        if any(m.shake for m in group) and 0 < local < 1:
            s = i / fps * 2 * math.pi
            ease = _smooth(min(1.0, local / SHAKE_EASE, (1 - local) / SHAKE_EASE))
            x += SHAKE * amount * ease * (math.sin(s * SHAKE_HZ[0]) + math.sin(s * SHAKE_HZ[1])) / 2
            y += SHAKE * amount * ease * aspect * (math.sin(s * SHAKE_HZ[2]) + math.sin(s * SHAKE_HZ[3])) / 2
        poses.append(Pose(
            a.zoom * (b.zoom / a.zoom) ** t, a.dolly * (b.dolly / a.dolly) ** t, x, y,
            a.pan + (b.pan - a.pan) * t, a.tilt + (b.tilt - a.tilt) * t,
        ))
    return poses


def reframe(poses: list[Pose], v: Variation, progressive: bool) -> list[Pose]:
    """The take's framing on every pose: from the first frame on (a composition the model chose),
    or `progressive`ly, arriving there by the end (the first frame is the image the API was given)."""
    if (v.zoom, v.x, v.y) == (1.0, 0.0, 0.0):
        return poses
    n = len(poses)
    out = []
    for i, p in enumerate(poses):
        f = _smooth(i / max(1, n - 1)) if progressive else 1.0
        out.append(replace(p, zoom=p.zoom * v.zoom ** f, x=p.x + v.x * f, y=p.y + v.y * f))
    return out


def act(poses: list[Pose], v: Variation, fps: float, settle: bool) -> list[Pose]:
    """The subject's own motion on every pose: a slow sway of the middle of the picture that
    starts from rest (the first frame is the image as given) and, if `settle`, ends at rest."""
    if v.action == 0:
        return poses
    n = len(poses)
    out = []
    for i, p in enumerate(poses):
        t = i / max(1, n - 1)
        ease = _smooth(min(1.0, t / 0.15))
        if settle:
            ease *= _smooth(min(1.0, (1 - t) / 0.15))
        s = 2 * math.pi * i / fps
        ax = v.action * ease * math.sin(s * v.action_hz[0] + v.action_phase)
        ay = 0.6 * v.action * ease * math.sin(s * v.action_hz[1] + 2 * v.action_phase)
        out.append(replace(p, ax=ax, ay=ay))
    return out


def _limit(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


def _clamp(t: float) -> float:
    return 0.0 if t < 0 else 1.0 if t > 1 else t


def _smooth(t: float) -> float:
    return t * t * (3 - 2 * t)


# --- what a frame shows -----------------------------------------------------------------------


def warp_points(pose: Pose, w: int, h: int, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Where each output pixel position looks on the scene, in scene pixels from the picture's centre.

    Lens zoom, then the dolly's depth (the centre scales by `dolly`, the corners less), then the
    turn (a rotation of the viewing ray), then the camera's sideways move, then the subject's
    own motion (the middle of the picture displaced, its edges held).
    """
    f = FOCAL * max(w, h)
    yaw, pitch = math.atan(pose.pan * w / f), math.atan(pose.tilt * h / f)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    corner2 = (w * w + h * h) / 4
    dx, dy = pose.ax * w, pose.ay * h
    out = []
    for u, v in points:
        du, dv = u - w / 2, v - h / 2
        X, Y = du / (f * pose.zoom), dv / (f * pose.zoom)
        if pose.dolly != 1.0:
            s = pose.dolly ** (1 - DEPTH * min(1.0, (du * du + dv * dv) / corner2))
            X, Y = X / s, Y / s
        y1, z1 = Y * cp + sp, cp - Y * sp  # tilt: rotate the ray about the horizontal axis
        x2, z2 = X * cy + z1 * sy, z1 * cy - X * sy  # pan: about the vertical axis
        sx, sy_ = f * x2 / z2 + pose.x * w, f * y1 / z2 + pose.y * h
        if dx or dy:
            g = _core(math.hypot(2 * sx / w, 2 * sy_ / h))
            sx, sy_ = sx - g * dx, sy_ - g * dy
        out.append((sx, sy_))
    return out


def _core(r: float) -> float:
    """1 in the middle of the picture, falling smoothly to 0 at `r` = 1 (the ellipse that touches
    its sides) and beyond: the subject moves, the surroundings hold."""
    return _smooth(_clamp((1 - r) / (1 - ACTION_CORE)))


def footprint(pose: Pose, w: int, h: int, steps: int = 8) -> list[tuple[float, float]]:
    """The frame's outline on the scene: `steps` points per side, clockwise from the top left."""
    edge = [(w * i / steps, 0.0) for i in range(steps)] + [(float(w), h * i / steps) for i in range(steps)]
    edge += [(w * (steps - i) / steps, float(h)) for i in range(steps)]
    edge += [(0.0, h * (steps - i) / steps) for i in range(steps)]
    return warp_points(pose, w, h, edge)


def inner_box(pose: Pose, w: int, h: int, steps: int = 8) -> tuple[float, float, float, float]:
    """An upright box of the scene that this frame shows whole (its outline is a keystoned,
    slightly bowed quad: the box is bounded by each side's innermost point)."""
    pts = footprint(pose, w, h, steps)
    top, right, bottom, left = (pts[i * steps:(i + 1) * steps + 1] for i in range(4))
    left = left + pts[:1]
    return (max(x for x, _ in left), max(y for _, y in top),
            min(x for x, _ in right), min(y for _, y in bottom))


def always_seen(poses: list[Pose], w: int, h: int) -> tuple[float, float, float, float]:
    """The upright box of the scene that every frame shows whole (empty: x0 >= x1 or y0 >= y1)."""
    x0, y0, x1, y1 = -math.inf, -math.inf, math.inf, math.inf
    last = None
    for pose in poses:
        if pose == last:
            continue
        last = pose
        a, b, c, d = inner_box(pose, w, h)
        x0, y0, x1, y1 = max(x0, a), max(y0, b), min(x1, c), min(y1, d)
    return x0, y0, x1, y1


def seen_anywhere(poses: list[Pose], w: int, h: int) -> tuple[float, float, float, float]:
    """The upright box of the scene that holds everything any frame shows."""
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    last = None
    for pose in poses:
        if pose == last:
            continue
        last = pose
        for x, y in footprint(pose, w, h, 2):
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
    return x0, y0, x1, y1
