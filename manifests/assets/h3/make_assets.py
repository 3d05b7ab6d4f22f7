"""Make the H3 storyboard's inputs: `python manifests/assets/h3/make_assets.py`.

Small, made by the project (no stock media), and inside every limit the v2 API documents
(minimax-api-v2.md A4): PNG stills with sides of 256 px or more, a 3 s H.264 + AAC reference
video at 24 fps, a 3 s WAV for reference audio. Flat colours and simple shapes keep them tiny
(about 130 KB in all). Deterministic: the same Pillow and PyAV make the same pictures and sound.
"""

from __future__ import annotations

import math
import struct
import wave
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
W, H = 512, 288  # 16:9, both sides over the API's 256 px
FPS, SECONDS, RATE = 24, 3, 16_000


def sky(top: tuple, bottom: tuple, size=(W, H), steps: int = 12) -> Image.Image:
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    w, h = size
    for i in range(steps):
        t = i / (steps - 1)
        draw.rectangle([0, h * i // steps, w, h * (i + 1) // steps],
                       fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return img


def tower(draw: ImageDraw.ImageDraw, x: int, base: int, lit: bool) -> None:
    for i in range(5):
        colour = (200, 40, 40) if i % 2 == 0 else (240, 236, 228)
        draw.rectangle([x - 16 + i, base - (i + 1) * 22, x + 16 - i, base - i * 22], fill=colour)
    draw.rectangle([x - 10, base - 130, x + 10, base - 110], fill=(255, 226, 120) if lit else (90, 96, 110))
    draw.polygon([(x - 13, base - 130), (x + 13, base - 130), (x, base - 144)], fill=(30, 30, 36))


def still(name: str, top: tuple, bottom: tuple, sea: tuple, horizon: int, lit: bool) -> None:
    img = sky(top, bottom)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, horizon, W, H], fill=sea)
    tower(draw, 380, horizon + 10, lit)
    img.save(HERE / name, optimize=True)


def boat(name: str) -> None:
    """The keeper's rowing boat at its mooring: a place to keep."""
    img = sky((120, 150, 190), (190, 210, 230))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 180, W, H], fill=(40, 80, 120))
    draw.polygon([(150, 190), (360, 190), (330, 230), (180, 230)], fill=(150, 60, 40))
    draw.line([(255, 190), (255, 110)], fill=(60, 40, 30), width=4)
    img.save(HERE / name, optimize=True)


def keeper(name: str, coat: tuple) -> None:
    """A character sheet: the keeper in his coat and cap, front view."""
    img = Image.new("RGB", (288, 512), (236, 230, 218))
    draw = ImageDraw.Draw(img)
    draw.ellipse([104, 70, 184, 160], fill=(226, 186, 150))  # face
    draw.rectangle([96, 56, 192, 84], fill=(30, 40, 70))  # cap
    draw.polygon([(70, 170), (218, 170), (240, 470), (48, 470)], fill=coat)  # coat
    draw.line([(144, 170), (144, 470)], fill=(20, 20, 24), width=3)
    img.save(HERE / name, optimize=True)


def waves_video(name: str) -> None:
    """3 s of waves rolling under the tower, H.264 with an AAC sea hiss, 24 fps."""
    import av

    w, h = 448, 256
    with av.open(str(HERE / name), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.time_base = Fraction(1, FPS)
        video.options = {"preset": "veryslow", "crf": "38"}
        sound = out.add_stream("aac", rate=RATE, layout="mono")
        for i in range(FPS * SECONDS):
            img = sky((40, 60, 110), (120, 140, 180), (w, h), steps=6)
            draw = ImageDraw.Draw(img)
            draw.rectangle([0, 170, w, h], fill=(20, 50, 90))
            for row in range(180, h, 18):
                x = (i * 4 + row * 3) % (w + 60) - 60
                draw.line([x, row, x + 50, row], fill=(220, 230, 240), width=3)
            tower(draw, 330, 175, lit=True)
            frame = av.VideoFrame.from_image(img)
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples, pts = tone(lambda t: 0.15 * math.sin(2 * math.pi * 97 * t) * (0.6 + 0.4 * math.sin(t * 3))), 0
        frame_size = sound.codec_context.frame_size or 1024
        for start in range(0, len(samples), frame_size):
            chunk = samples[start:start + frame_size]
            frame = av.AudioFrame(format="fltp", layout="mono", samples=len(chunk))
            frame.planes[0].update(struct.pack(f"<{len(chunk)}f", *chunk))
            frame.sample_rate, frame.pts = RATE, pts
            pts += len(chunk)
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))


def tone(wave_at) -> list[float]:
    return [wave_at(i / RATE) for i in range(RATE * SECONDS)]


def foghorn(name: str) -> None:
    """3 s of a low foghorn, 16 kHz mono 16-bit WAV."""
    samples = tone(lambda t: 0.5 * math.sin(2 * math.pi * 110 * t) * min(1.0, t * 4, (SECONDS - t) * 4))
    with wave.open(str(HERE / name), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *(round(s * 32767) for s in samples)))


def main() -> None:
    still("harbour-night.png", (14, 18, 44), (50, 60, 110), (10, 24, 50), 200, lit=True)
    still("harbour-dawn.png", (250, 180, 120), (250, 230, 190), (60, 110, 150), 200, lit=False)
    still("lantern.png", (30, 30, 40), (70, 70, 90), (40, 40, 50), 250, lit=True)
    boat("boat.png")
    keeper("keeper.png", (40, 60, 100))
    keeper("keeper-oilskin.png", (230, 190, 40))
    waves_video("waves.mp4")
    foghorn("foghorn.wav")


if __name__ == "__main__":
    main()
