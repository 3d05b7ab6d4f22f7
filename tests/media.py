"""Small media files for the v2 (MiniMax-H3) input tests: videos with PyAV, WAV with the standard
library, MP3 with PyAV. Flat frames and pure tones keep them a few kilobytes."""

from __future__ import annotations

import math
import struct
import wave
from fractions import Fraction
from pathlib import Path

RATE = 8000


def make_video(path: Path, seconds: float = 3, fps: int = 24, size: tuple[int, int] = (320, 256),
               codec: str = "libx264", sound: str | None = "aac") -> Path:
    """A video of flat frames that change colour, with a tone in `sound` (None: no sound track)."""
    import av
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with av.open(str(path), "w", format="mov" if path.suffix == ".mov" else "mp4") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.time_base = Fraction(1, fps)
        if codec == "libx264":
            video.options = {"preset": "ultrafast", "crf": "40"}
        audio = out.add_stream(sound, rate=RATE if sound != "libmp3lame" else 16000, layout="mono") if sound else None
        frames = round(seconds * fps)
        for i in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", (w, h), (i * 5 % 255, 80, 140)))
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            rate = audio.codec_context.sample_rate
            fmt = audio.codec_context.format.name
            step = audio.codec_context.frame_size or 1024
            total = round(seconds * rate)
            for start in range(0, total, step):
                n = min(step, total - start)
                frame = _tone_frame(fmt, n, start, rate)
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
    return path


def _tone_frame(fmt: str, n: int, start: int, rate: int):
    """`n` samples of a quiet 220 Hz tone from sample `start`, in the encoder's sample format."""
    import av

    frame = av.AudioFrame(format=fmt, layout="mono", samples=n)
    values = [0.1 * math.sin(2 * math.pi * 220 * (start + k) / rate) for k in range(n)]
    width = frame.format.bytes
    if fmt.startswith("flt"):
        data = struct.pack(f"<{n}f", *values)
    else:
        top = 2 ** (8 * width - 1) - 1
        data = struct.pack(f"<{n}{'h' if width == 2 else 'i'}", *(round(v * top) for v in values))
    frame.planes[0].update(data + b"\0" * (frame.planes[0].buffer_size - len(data)))
    frame.sample_rate, frame.pts = rate, start
    return frame


def make_wav(path: Path, seconds: float = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = round(seconds * RATE)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        samples = (round(8000 * math.sin(2 * math.pi * 220 * i / RATE)) for i in range(n))
        out.writeframes(struct.pack(f"<{n}h", *samples))
    return path


def make_mp3(path: Path, seconds: float = 3) -> Path:
    """An MP3 of a tone (PyAV's libmp3lame)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp3") as out:
        audio = out.add_stream("libmp3lame", rate=16000, layout="mono")
        rate, step = 16000, audio.codec_context.frame_size or 1152
        fmt = audio.codec_context.format.name
        total = round(seconds * rate)
        for start in range(0, total, step):
            n = min(step, total - start)
            frame = _tone_frame(fmt, n, start, rate)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def heif_bytes(width: int, height: int, brand: bytes = b"heic") -> bytes:
    """The boxes of a HEIF file that carry its size (ftyp, meta/iprp/ipco/ispe): enough to read it."""
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    ispe = box(b"ispe", b"\0\0\0\0" + struct.pack(">II", width, height))
    thumb = box(b"ispe", b"\0\0\0\0" + struct.pack(">II", 160, 120))
    meta = box(b"meta", b"\0\0\0\0" + box(b"hdlr", b"\0" * 24) + box(b"iprp", box(b"ipco", thumb + ispe)))
    return box(b"ftyp", brand + b"\0\0\0\0" + b"mif1" + brand) + meta + box(b"mdat", b"\0" * 16)
