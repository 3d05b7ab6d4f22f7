"""The previz's size and frame rate (no imaging here: the settings and the CLI read it)."""

from __future__ import annotations

DEFAULT_WIDTH = 640  # a landscape previz is this wide (a portrait one this tall)...
# ...unless that leaves its short side under this: a previz frame is sent on as the next shot's
# first frame, and the API refuses an image whose short side is 300 px or less (a 21:9 clip
# 640 wide is 274 tall; the real one is 640 or 768 tall).
MIN_SHORT_SIDE = 320
DEFAULT_FPS = 24


def previz_size(video_width: int, video_height: int, width: int = DEFAULT_WIDTH) -> tuple[int, int]:
    """The previz of a video_width x video_height video: `width` wide if it is landscape (`width`
    tall if portrait), the other side from the aspect ratio, both even (as yuv420p needs)."""
    side = max(2, width // 2 * 2)
    if video_width >= video_height:
        return side, max(2, round(side * video_height / video_width / 2) * 2)
    return max(2, round(side * video_width / video_height / 2) * 2), side


def default_previz_size(video_width: int, video_height: int) -> tuple[int, int]:
    """The previz when no size is asked for: DEFAULT_WIDTH on the long side (640x360 for 16:9),
    made larger for a ratio so wide or tall that its short side would be under MIN_SHORT_SIDE
    (H3's 768P 21:9, 1472x640: 736x320), so that every frame of it passes the API's image rules."""
    w, h = previz_size(video_width, video_height)
    if min(w, h) >= MIN_SHORT_SIDE:
        return w, h
    if video_width >= video_height:
        return output_size(video_width, video_height, MIN_SHORT_SIDE)
    h, w = output_size(video_height, video_width, MIN_SHORT_SIDE)
    return w, h


def output_size(video_width: int, video_height: int, height: int) -> tuple[int, int]:
    """`height` (made even) and the width that keeps the aspect ratio (even)."""
    h = max(2, height // 2 * 2)
    w = max(2, round(h * video_width / video_height / 2) * 2)
    return w, h
