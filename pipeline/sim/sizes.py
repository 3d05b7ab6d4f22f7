"""The previz's size and frame rate (no imaging here: the settings and the CLI read it)."""

from __future__ import annotations

DEFAULT_WIDTH = 640  # a landscape previz is this wide (a portrait one this tall)
DEFAULT_FPS = 24


def previz_size(video_width: int, video_height: int, width: int = DEFAULT_WIDTH) -> tuple[int, int]:
    """The previz of a video_width x video_height video: `width` wide if it is landscape (`width`
    tall if portrait), the other side from the aspect ratio, both even (as yuv420p needs)."""
    side = max(2, width // 2 * 2)
    if video_width >= video_height:
        return side, max(2, round(side * video_height / video_width / 2) * 2)
    return max(2, round(side * video_width / video_height / 2) * 2), side


def output_size(video_width: int, video_height: int, height: int) -> tuple[int, int]:
    """`height` (made even) and the width that keeps the aspect ratio (even)."""
    h = max(2, height // 2 * 2)
    w = max(2, round(h * video_width / video_height / 2) * 2)
    return w, h
