"""The v2 output geometry (minimax-api-v2.md A10) as pure functions, and the one render adapter."""

from __future__ import annotations

import pytest

from pipeline.sim.v2render import GRID, Previz, frame_count, nominal_size, render_spec_for, snap_ratio


def test_the_frame_grid():
    assert GRID == (107, 124, 141, 158, 175, 192, 209, 226, 243, 260, 277, 294, 311, 328, 345, 362)


@pytest.mark.parametrize("seconds, frames", [(4, 107), (5, 124), (6, 158), (8, 192), (10, 243), (15, 362)])
def test_frame_count_is_the_smallest_grid_count_that_holds_the_seconds(seconds, frames):
    assert frame_count(seconds) == frames and frames >= 24 * seconds


@pytest.mark.parametrize("resolution, ratio, size", [
    ("768P", "16:9", (1344, 768)),  # A10
    ("2K", "16:9", (2560, 1440)),  # A10
    ("768P", "9:16", (768, 1344)),
    ("768P", "1:1", (768, 768)),
    ("768P", "4:3", (1024, 768)),
    ("768P", "21:9", (1472, 640)),  # 1792x768 is over the 768P area cap
    ("480P", "16:9", (832, 480)),
])
def test_nominal_sizes(resolution, ratio, size):
    assert nominal_size(resolution, ratio) == size
    w, h = size
    assert w % 32 == 0 and h % 32 == 0
    if resolution == "768P":
        assert 589_824 <= w * h <= 1_032_192


@pytest.mark.parametrize("w, h, ratio", [(1920, 1080, "16:9"), (600, 800, "3:4"), (1000, 1000, "1:1"),
                                         (2100, 900, "21:9"), (1000, 800, "4:3"), (500, 1000, "9:16")])
def test_snap_ratio(w, h, ratio):
    assert snap_ratio(w, h) == ratio


def test_the_adapter_asks_for_24_fps_the_grid_count_and_sound():
    previz = Previz("text_to_video", "a harbour", 1344, 768, 158)
    spec = render_spec_for(previz, (320, 182))
    assert (spec.fps, spec.frames, spec.audio, spec.width, spec.height) == (24, 158, True, 320, 182)
    assert (spec.mode, spec.prompt, spec.camera) == ("text_to_video", "a harbour", True)
