"""Draw the example storyboard's images with Pillow: `python manifests/assets/make_assets.py`.

Simple illustrated frames for the lighthouse story, made by the project (no stock images), with
high-contrast shapes (tower bands, window bars, stars, wave crests) so camera moves are easy to
see in the simulator's previz. Deterministic: the same Pillow draws the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
W, H = 640, 360


def gradient(size: tuple[int, int], top: tuple, bottom: tuple, steps: int = 24) -> Image.Image:
    """A vertical gradient in flat bands (few colours keep PNGs small)."""
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for i in range(steps):
        t = i / (steps - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom))
        draw.rectangle([0, h * i // steps, w, h * (i + 1) // steps], fill=colour)
    return img


def sea(draw: ImageDraw.ImageDraw, horizon: int, deep: tuple, crest: tuple, seed: int) -> None:
    rnd = random.Random(seed)
    draw.rectangle([0, horizon, W, H], fill=deep)
    for row in range(horizon + 6, H, 12):
        for _ in range(7):
            x = rnd.randrange(0, W)
            draw.line([x, row, x + rnd.randrange(18, 50), row], fill=crest, width=2)


def cliff(draw: ImageDraw.ImageDraw, colour: tuple) -> None:
    draw.polygon([(0, 230), (250, 205), (330, 240), (350, H), (0, H)], fill=colour)


def lighthouse(draw: ImageDraw.ImageDraw, x: int, base: int, lit: bool, beam_to: int | None = None) -> None:
    """A banded tower standing on `base`, lantern on top; a beam toward x=beam_to when lit."""
    top = base - 150
    for i in range(6):  # red and white bands, narrowing upward
        y0, y1 = base - i * 25, base - (i + 1) * 25
        half0, half1 = 24 - i * 2, 24 - (i + 1) * 2
        colour = (200, 40, 40) if i % 2 == 0 else (240, 236, 228)
        draw.polygon([(x - half0, y0), (x + half0, y0), (x + half1, y1), (x - half1, y1)], fill=colour)
    draw.rectangle([x - 16, top - 6, x + 16, top], fill=(30, 30, 36))
    draw.rectangle([x - 11, top - 26, x + 11, top - 6], fill=(255, 226, 120) if lit else (90, 96, 110))
    draw.polygon([(x - 14, top - 26), (x + 14, top - 26), (x, top - 40)], fill=(30, 30, 36))
    if lit and beam_to is not None:
        draw.polygon([(x, top - 16), (beam_to, top - 60), (beam_to, top + 20)], fill=(255, 240, 170))


def stars(draw: ImageDraw.ImageDraw, seed: int, limit: int) -> None:
    rnd = random.Random(seed)
    for _ in range(60):
        x, y = rnd.randrange(W), rnd.randrange(limit)
        draw.rectangle([x, y, x + 1, y + 1], fill=(250, 250, 255))


def night() -> Image.Image:
    img = gradient((W, H), (8, 12, 40), (40, 50, 100))
    d = ImageDraw.Draw(img)
    stars(d, 1, 190)
    d.ellipse([60, 40, 100, 80], fill=(235, 235, 220))
    sea(d, 250, (14, 24, 60), (90, 110, 170), seed=2)
    cliff(d, (20, 22, 30))
    lighthouse(d, 200, 215, lit=True, beam_to=W)
    return img


def dawn() -> Image.Image:
    img = gradient((W, H), (120, 150, 210), (250, 180, 120))
    d = ImageDraw.Draw(img)
    d.ellipse([470, 200, 560, 290], fill=(255, 220, 120))
    sea(d, 250, (60, 90, 140), (250, 220, 170), seed=2)
    cliff(d, (70, 60, 55))
    lighthouse(d, 200, 215, lit=False)
    return img


def storm() -> Image.Image:
    img = gradient((W, H), (30, 34, 44), (70, 76, 90), steps=12)
    d = ImageDraw.Draw(img)
    sea(d, 230, (24, 34, 48), (200, 210, 220), seed=5)
    d.polygon([(400, 250), (440, 226), (510, 222), (560, 250)], fill=(16, 18, 24))  # the rock
    lighthouse(d, 470, 235, lit=True, beam_to=60)
    rnd = random.Random(9)
    for _ in range(120):  # rain streaks
        x, y = rnd.randrange(W), rnd.randrange(H)
        d.line([x, y, x - 6, y + 18], fill=(150, 160, 180), width=1)
    # The window frame in front: dark bars across the whole view.
    d.rectangle([0, 0, W, 18], fill=(40, 26, 18))
    d.rectangle([0, H - 18, W, H], fill=(40, 26, 18))
    d.rectangle([W // 2 - 8, 0, W // 2 + 8, H], fill=(40, 26, 18))
    d.rectangle([0, H // 2 - 6, W, H // 2 + 6], fill=(40, 26, 18))
    return img


def keeper() -> Image.Image:
    img = gradient((W, H), (60, 44, 34), (34, 24, 20), steps=12)
    d = ImageDraw.Draw(img)
    # The window, with dusk and the sea behind it.
    d.rectangle([360, 50, 600, 250], fill=(250, 150, 90))
    d.rectangle([360, 170, 600, 250], fill=(40, 60, 110))
    d.rectangle([474, 50, 486, 250], fill=(30, 20, 16))
    d.rectangle([360, 144, 600, 156], fill=(30, 20, 16))
    d.rectangle([352, 42, 608, 258], outline=(30, 20, 16), width=8)
    # Floorboards.
    d.rectangle([0, 300, W, H], fill=(90, 60, 40))
    for x in range(0, W, 64):
        d.line([x, 300, x, H], fill=(60, 40, 28), width=3)
    # The keeper: a coat, a head, a cap.
    d.polygon([(170, 300), (250, 300), (238, 170), (182, 170)], fill=(24, 30, 52))
    d.ellipse([188, 120, 232, 170], fill=(226, 182, 150))
    d.rectangle([184, 112, 236, 128], fill=(20, 20, 24))
    # The lantern on the table.
    d.rectangle([60, 250, 160, 300], fill=(70, 46, 30))
    d.rectangle([95, 210, 125, 250], fill=(255, 214, 100))
    d.rectangle([92, 204, 128, 210], fill=(20, 20, 20))
    return img


def hero() -> Image.Image:
    """A portrait card: a clear, front-facing cartoon face for subject_reference."""
    w, h = 480, 640
    img = gradient((w, h), (250, 222, 90), (240, 180, 60), steps=12)
    d = ImageDraw.Draw(img)
    d.ellipse([110, 120, 370, 420], fill=(120, 70, 40))  # hair behind
    d.rectangle([150, 380, 330, 560], fill=(250, 200, 40))  # raincoat
    d.polygon([(90, 640), (150, 470), (330, 470), (390, 640)], fill=(250, 200, 40))
    d.ellipse([150, 170, 330, 390], fill=(236, 196, 166))  # face
    d.ellipse([190, 240, 222, 262], fill=(255, 255, 255))
    d.ellipse([258, 240, 290, 262], fill=(255, 255, 255))
    d.ellipse([199, 243, 215, 259], fill=(40, 60, 90))
    d.ellipse([267, 243, 283, 259], fill=(40, 60, 90))
    d.line([240, 262, 232, 300, 246, 302], fill=(180, 130, 110), width=3)
    d.arc([205, 300, 275, 345], start=20, end=160, fill=(170, 60, 60), width=5)
    d.chord([140, 140, 340, 250], start=180, end=360, fill=(120, 70, 40))  # fringe
    d.rectangle([20, 20, w - 20, h - 20], outline=(60, 40, 20), width=6)
    return img


def main() -> None:
    out = {
        "night.jpg": night(), "dawn.jpg": dawn(), "keeper.jpg": keeper(),
        "hero.jpg": hero(), "storm.png": storm(),
    }
    for name, img in out.items():
        path = HERE / name
        if name.endswith(".png"):
            img.quantize(colors=64, dither=Image.Dither.NONE).save(path, optimize=True)
        else:
            img.save(path, quality=88, optimize=True)
        print(f"{path.name}: {img.size[0]}x{img.size[1]}, {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
