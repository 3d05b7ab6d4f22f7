"""What an H3 output file is (minimax-api-v2.md A10), and the one adapter to the previz renderer.

24 fps; a frame count on the 107 + 17k grid (the smallest one >= 24 x the requested seconds);
the requested ratio (or, when adaptive, the input image's, snapped to the nearest listed ratio);
a stereo 32 kHz AAC track. The pixels and the sound are render.py's: `render_spec_for` is the
only place that speaks its RenderSpec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from typing import Callable

from pipeline.sim.render import RenderSpec, VideoCache

FPS = 24
GRID = tuple(range(107, 363, 17))  # 107, 124, ..., 362 frames (4.46-15.08 s)

RATIOS = {"21:9": 21 / 9, "16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1.0, "3:4": 3 / 4, "9:16": 9 / 16}
SHORT_SIDE = {"480P": 480, "768P": 768, "2K": 1440}
AREA_768P = (589_824, 1_032_192)  # A10: the 768P tier's pixel area, sides multiples of 32


@dataclass(frozen=True)
class Previz:
    """What to draw for one v2 task. Images are decoded bytes or a URL (drawn as a placeholder)."""

    mode: str  # a render.py mode: text_to_video, image_to_video, first_last_frame, subject_reference
    prompt: str
    width: int  # the nominal output size (nominal_size)
    height: int
    frames: int
    first: bytes | str | None = None
    last: bytes | str | None = None
    subject: bytes | str | None = None
    take: int = 1  # as v1's previz: which take of the request, its seed, the corner label
    seed: int = 0
    label: str = ""


def frame_count(duration: int) -> int:
    """The smallest allowed frame count that holds `duration` seconds at 24 fps (the last one above)."""
    return next((n for n in GRID if n >= duration * FPS), GRID[-1])


def snap_ratio(width: int, height: int) -> str:
    """The listed ratio nearest to width/height (by log distance: 2:1 is as far from 1:1 as 1:2)."""
    value = math.log(width / height)
    return min(RATIOS, key=lambda name: abs(math.log(RATIOS[name]) - value))


def nominal_size(resolution: str, ratio: str) -> tuple[int, int]:
    """The output size: the short side of the tier, the long side floored to a multiple of 32
    (768P 16:9 = 1344x768, 2K 16:9 = 2560x1440), 768P kept within its area cap. Only 16:9 at
    768P and 2K is documented; the rest follows the same rule."""
    r = RATIOS[ratio]
    short = SHORT_SIDE[resolution]
    wide = r if r >= 1 else 1 / r
    while True:
        long = int(short * wide // 32 * 32)
        if resolution != "768P" or long * short <= AREA_768P[1] or short <= 32:
            break
        short -= 32
    return (long, short) if r >= 1 else (short, long)


def render_spec_for(previz: Previz, size: tuple[int, int]) -> RenderSpec:
    """THE adapter to render.py: the RenderSpec that draws `previz` at `size` px (the nominal
    size's aspect), 24 fps, its grid frame count, with the sound track."""
    width, height = size
    return RenderSpec(
        previz.mode, previz.prompt, width, height, fps=FPS, frames=previz.frames, camera=True,
        first=previz.first, last=previz.last, subject=previz.subject,
        take=previz.take, seed=previz.seed, label=previz.label, audio=True,
    )


class VideoFiles:
    """The v2 files in the render cache (v2-<task id>-<digest>.mp4 beside v1's), made on first use."""

    def __init__(self, cache: VideoCache, size: Callable[[int, int], tuple[int, int]]) -> None:
        """`size(nominal width, nominal height)`: the rendered size (SimConfig.previz_size, or the
        nominal size itself)."""
        self.cache, self.size = cache, size

    def path(self, name: str, previz: Previz) -> Path:
        return self.cache.path(f"v2-{name}", render_spec_for(previz, self.size(previz.width, previz.height)))
