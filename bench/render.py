"""Previz render speed at the simulator's default preview size (640 px wide, 24 fps).

    .venv/bin/python bench/render.py            # the storyboard, then one clip per camera command
    .venv/bin/python bench/render.py --quick    # the storyboard only

A 10-shot storyboard (the example's lighthouse teaser, grown to ten takes: both modes of image,
a first-last frame, a subject reference, two 10 s clips, a second take) is rendered one clip at a
time (one core) and two at a time, as the simulator's server threads do when a run downloads
two takes at once. Then a 6 s clip per camera command, to see what each costs. Rendering is the
simulator's cost per video, so it bounds how fast a no-key run or a load test can go.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from pipeline.minimax import camera
from pipeline.sim.render import DEFAULT_FPS, RenderSpec, previz_size, render_video

ASSETS = Path(__file__).resolve().parent.parent / "manifests" / "assets"


def asset(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


def spec(shot: str, mode: str, prompt: str, seconds: int = 6, take: int = 1, **images) -> RenderSpec:
    """The RenderSpec the simulator makes for this shot (16:9, or the first image's aspect)."""
    first = images.get("first")
    if first is not None:
        with Image.open(ASSETS / first) as img:
            size = previz_size(round(768 * img.width / img.height), 768)
    else:
        size = previz_size(1366, 768)
    data = {k: asset(v) for k, v in images.items()}
    return RenderSpec(mode, prompt, *size, fps=DEFAULT_FPS, frames=seconds * DEFAULT_FPS, take=take, seed=2024,
                      label=f"{shot} · take {take}", **data)


def storyboard() -> list[RenderSpec]:
    return [
        spec("s01-cliff", "text_to_video", "A lonely lighthouse on a sea cliff at dusk, waves crashing [Push in]."),
        spec("s02-keeper", "image_to_video", "The keeper turns toward the window [Static shot].", first="keeper.jpg"),
        spec("s02-keeper", "image_to_video", "The keeper turns toward the window [Static shot].", take=2,
             first="keeper.jpg"),
        spec("s03-lantern", "text_to_video", "The great brass lens starts to turn [Pan right], then [Zoom in]."),
        spec("s04-storm", "image_to_video", "Rain lashes the window [Truck left,Pedestal up].", 10, first="storm.png"),
        spec("s05-dawn", "first_last_frame", "Night turns to dawn over the sea [Pull out].",
             first="night.jpg", last="dawn.jpg"),
        spec("s06-visitor", "subject_reference", "A young woman in a yellow raincoat runs up the path and waves.",
             subject="hero.jpg"),
        spec("s07-finale", "text_to_video", "Morning light on the lighthouse [Pedestal up,Tilt down].", 10),
        spec("s08-gulls", "image_to_video", "Gulls circle the lantern [Tracking shot].", first="dawn.jpg"),
        spec("s09-door", "image_to_video", "The door bangs in the wind [Shake], then [Pan left].", first="night.jpg"),
    ]


def render_all(specs: list[RenderSpec], folder: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to render every spec, `workers` at a time."""
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda item: render_video(item[1], folder / f"{item[0]}.mp4"), enumerate(specs)))
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the storyboard only")
    args = parser.parse_args()
    board = storyboard()
    seconds = sum(s.duration for s in board)
    w, h = board[0].size
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs; previz {w}x{h} at {DEFAULT_FPS} fps")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        render_video(board[0], folder / "warm.mp4")  # the first encode loads libx264
        (one, cpu_one), (two, cpu_two) = render_all(board, folder, 1), render_all(board, folder, 2)
        size = sum(p.stat().st_size for p in folder.glob("[0-9]*.mp4"))
        print(f"10-shot storyboard ({seconds:.0f} s of video, {size / 1e6:.1f} MB):")
        print(f"  one clip at a time   {one:5.1f} s  ({cpu_one:.1f} CPU s)")
        print(f"  two at a time        {two:5.1f} s  ({cpu_two:.1f} CPU s; on 2 idle cores about {cpu_two / 2:.1f} s)")
        if args.quick:
            return
        first = asset("keeper.jpg")
        cases = [(f"[{c}]", "image_to_video") for c in camera.COMMANDS]
        cases += [("[Push in,Pan left] (the heaviest: turn + dolly)", "image_to_video"),
                  ("A title card [Push in]", "text_to_video")]
        print(f"\n{'6 s clip':<52} {'mode':<16} seconds  CPU s")
        for prompt, mode in cases:
            item = RenderSpec(mode, prompt.split(" (")[0], w, h, first=first if mode == "image_to_video" else None)
            started, cpu = time.perf_counter(), time.process_time()
            render_video(item, folder / "clip.mp4")
            print(f"{prompt:<52} {mode:<16} {time.perf_counter() - started:7.2f}  {time.process_time() - cpu:5.2f}")


if __name__ == "__main__":
    main()
