"""Regenerate the pictures of the simulator's previz: docs/previz-takes.png (two takes of one
request, a title card under a camera move, a first-last frame sliding from one picture to the
other) and docs/previz-ratios.png (the previz keeps the video's aspect ratio).

    .venv/bin/python docs/tools/previz.py                  # docs/previz-*.png
    .venv/bin/python docs/tools/previz.py --docs /tmp/look

Every clip is rendered as the simulator renders it (640 px wide, 24 fps), from the example's
pictures in manifests/assets, labelled as a client that names its shots would have it labelled;
the strips show frames at even steps of each clip, scaled to half size.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

import av
from PIL import Image, ImageDraw

from pipeline.minimax.images import to_data_url
from pipeline.sim import SimConfig
from pipeline.sim.engine import Engine
from pipeline.sim.render import RenderSpec, render_video, variation
from pipeline.textlayout import font

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "manifests" / "assets"
INK, PAPER = (30, 30, 40), (248, 248, 250)


def frames(spec: RenderSpec, at: list[float]) -> list[Image.Image]:
    """The frames of `spec`'s clip at these fractions of it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        render_video(spec, path)
        with av.open(str(path)) as container:
            every = [f.to_image() for f in container.decode(video=0)]
    return [every[round(a * (len(every) - 1))] for a in at]


def takes_figure(out: Path) -> None:
    # A seed whose take 2 is calm and starts late, so the strip shows what "pick the calmer one" means.
    seed = next(s for s in range(100) if variation(s, 2).amount < 0.7 and variation(s, 2).window[0] > 0.12)

    def spec(mode: str, prompt: str, shot: str, take: int = 1, **images: str) -> RenderSpec:
        return RenderSpec(mode, prompt, 640, 360, take=take, seed=seed, label=f"{shot} · take {take}",
                          **{k: (ASSETS / v).read_bytes() for k, v in images.items()})

    storm = "Rain lashes the window [Truck left,Pedestal up]."
    at = [0, 0.33, 0.66, 1.0]
    rows = [
        ("Two takes of one request. Take 1: s04-storm as written, [Truck left,Pedestal up]",
         frames(spec("image_to_video", storm, "s04-storm", 1, first="storm.png"), at)),
        ("Take 2 of the same request: a calmer move, starting later, ending on a tighter framing",
         frames(spec("image_to_video", storm, "s04-storm", 2, first="storm.png"), at)),
        ("Text to video, [Pan right], then [Zoom in]: the card is laid out where every frame sees it",
         frames(spec("text_to_video", "Inside the lantern room the great brass lens starts to turn [Pan right], "
                                      "then the beam sweeps back [Zoom in].", "s03-lantern"), at)),
        ("First + last frame, [Pull out]: the night slides out as the dawn slides in, landing on it exactly",
         frames(spec("first_last_frame", "The storm clears; night turns to dawn [Pull out].", "s05-dawn",
                     first="night.jpg", last="dawn.jpg"), [0, 0.4, 0.55, 1.0])),
    ]
    tw, th, gap, cap = 320, 180, 8, 30
    sheet = Image.new("RGB", (4 * tw + 5 * gap, len(rows) * (th + cap) + gap * (len(rows) + 1)), PAPER)
    draw = ImageDraw.Draw(sheet)
    y = gap
    for title, images in rows:
        draw.text((gap, y + 6), title, font=font(17), fill=INK)
        y += cap
        for k, image in enumerate(images):
            sheet.paste(image.resize((tw, th), Image.Resampling.LANCZOS), (gap + k * (tw + gap), y))
        y += th + gap
    sheet.save(out, optimize=True)


def ratios_figure(out: Path) -> None:
    """Three creates through the simulator's engine: the size comes from the request, as it does."""
    square = io.BytesIO()
    Image.open(ASSETS / "dawn.jpg").crop((140, 0, 500, 360)).save(square, "JPEG")
    hailuo = "MiniMax-Hailuo-02"
    creates = [
        ("768P text to video: 640x360", "s01-cliff",
         {"model": hailuo, "prompt": "A lighthouse on a cliff at dusk [Push in].", "duration": 6}),
        ("a square first frame: 640x640", "s08-gulls",
         {"model": hailuo, "first_frame_image": to_data_url(square.getvalue()), "prompt": "Gulls circle [Pan left]."}),
        ("a 3:4 first frame: 480x640", "s06-visitor",
         {"model": hailuo, "first_frame_image": to_data_url((ASSETS / "hero.jpg").read_bytes()),
          "prompt": "She waves [Zoom in]."}),
    ]
    engine = Engine(SimConfig(), now=lambda: 0.0)
    shown = []
    for title, shot, body in creates:
        task = engine.create("sim-key", json.dumps(body).encode(), shot=shot, take="1")
        image = frames(task.render, [0.66])[0]
        shown.append((title, image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)))
    gap, cap = 10, 28
    sheet = Image.new("RGB", (sum(i.width for _, i in shown) + gap * (len(shown) + 1),
                              max(i.height for _, i in shown) + cap + 2 * gap), PAPER)
    draw = ImageDraw.Draw(sheet)
    x = gap
    for title, image in shown:
        draw.text((x, gap), title, font=font(15), fill=INK)
        sheet.paste(image, (x, gap + cap))
        x += image.width + gap
    sheet.save(out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where to write the PNGs (default: docs/)")
    args = parser.parse_args()
    args.docs.mkdir(parents=True, exist_ok=True)
    takes_figure(args.docs / "previz-takes.png")
    ratios_figure(args.docs / "previz-ratios.png")


if __name__ == "__main__":
    main()
