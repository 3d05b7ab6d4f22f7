"""Previz render speed: a 6 s clip per camera command at the simulator's default preview size.

    .venv/bin/python bench/render.py

Prints the best of 3 renders per case. Rendering is the simulator's cost per video, so it bounds
how fast a no-key run or a load test can go.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from pipeline.minimax import camera
from pipeline.sim.render import RenderSpec, render_video


def picture() -> bytes:
    img = Image.new("RGB", (1280, 720), (40, 70, 120))
    ImageDraw.Draw(img).ellipse((500, 250, 700, 450), fill="white")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def best_of(spec: RenderSpec, path: Path, runs: int = 3) -> float:
    render_video(spec, path)  # warm: the first encode loads libx264
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        render_video(spec, path)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    first = picture()
    cases = [(f"[{c}]", "image_to_video") for c in camera.COMMANDS]
    cases += [("[Push in,Pan left] (the heaviest: turn + dolly)", "image_to_video"),
              ("A title card [Push in]", "text_to_video")]
    print(f"load average {os.getloadavg()[0]:.1f}; 6 s clips at the default preview size (180 px, 12 fps)")
    print(f"{'prompt':<52} {'mode':<16} best of 3")
    with tempfile.TemporaryDirectory() as tmp:
        for prompt, mode in cases:
            spec = RenderSpec(mode, prompt.split(" (")[0], 6, 1366, 768,
                              first=first if mode == "image_to_video" else None)
            print(f"{prompt:<52} {mode:<16} {best_of(spec, Path(tmp) / 'clip.mp4'):.3f} s")


if __name__ == "__main__":
    main()
