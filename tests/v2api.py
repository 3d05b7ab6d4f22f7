"""For the v2 simulator tests: a client written from minimax-api-v2.md alone (not pipeline.minimax),
a clock the test moves, and media made on the spot (PyAV, Pillow, wave).

The client sends exactly what the notes show and hands back the raw httpx answer, so a test
asserts on real statuses and bodies: an independent check of the simulator, and through it of
our production client, which is written from the same notes.
"""

from __future__ import annotations

import base64
import io
import math
import re
import ssl
import struct
import wave
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pipeline.sim import SimConfig, Simulator
from pipeline.sim.v2config import V2Config

KEY = "sim-key"
T0 = 1_785_000_000.0
GRID = [107 + 17 * k for k in range(16)]
PREVIZ_SIDE = 96  # px, the longer side: small and quick (the renderer has its own tests at full size)
_TLS = ssl.create_default_context()  # loaded once: each new httpx.Client would load it again (~50 ms)


class Clock:
    """Simulated time that moves only when the test says."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class V2:
    """POST /v2/video_generation, GET /v2/query/video_generation[/{id}], DELETE /v2/video_generation/{id}."""

    def __init__(self, base_url: str, key: str | None = KEY) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30, verify=_TLS)

    def create(self, body: dict) -> httpx.Response:
        return self.http.post("/v2/video_generation", json=body)

    def query(self, task_id: str) -> httpx.Response:
        return self.http.get(f"/v2/query/video_generation/{task_id}")

    def list(self, params=None) -> httpx.Response:
        return self.http.get("/v2/query/video_generation", params=params)

    def delete(self, task_id: str) -> httpx.Response:
        return self.http.delete(f"/v2/video_generation/{task_id}")

    def task(self, task_id: str) -> dict:
        answer = self.query(task_id)
        assert answer.status_code == 200, answer.text
        return answer.json()["task"]

    def made(self, body: dict) -> str:
        answer = self.create(body)
        assert answer.status_code == 200, answer.text
        return answer.json()["task_id"]


def error_of(answer: httpx.Response) -> tuple[int, str, int | None, str]:
    """(HTTP status, error.type, internal code, message) of an A6 error answer, checking its exact shape."""
    body = answer.json()
    assert set(body) == {"type", "error", "request_id"} and body["type"] == "error", body
    assert set(body["error"]) == {"type", "message", "http_code"}, body
    assert body["error"]["http_code"] == str(answer.status_code)  # a string
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"]), body
    match = re.search(r"\((\d+)\)\s*$", body["error"]["message"])
    return answer.status_code, body["error"]["type"], int(match.group(1)) if match else None, body["error"]["message"]


def text(prompt: str = "The keeper turns to the window. [Static shot]", **over) -> dict:
    """A text-to-video body (A3)."""
    return {"model": "MiniMax-H3", "content": [{"type": "text", "text": prompt}],
            "resolution": "768P", "duration": 6, "ratio": "16:9", **over}


def with_media(*items: dict, prompt: str = "The keeper turns to the window.", **over) -> dict:
    return {"model": "MiniMax-H3", "content": [{"type": "text", "text": prompt}, *items],
            "resolution": "768P", "duration": 6, **over}


def image_item(url: str, role: str | None = "first_frame") -> dict:
    item = {"type": "image_url", "image_url": {"url": url}}
    if role is not None:
        item["role"] = role
    return item


def video_item(url: str, role: str = "reference_video") -> dict:
    return {"type": "video_url", "video_url": {"url": url}, "role": role}


def audio_item(url: str, role: str = "reference_audio") -> dict:
    return {"type": "audio_url", "audio_url": {"url": url}, "role": role}


# --- media --------------------------------------------------------------------------------------

def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


@lru_cache(maxsize=None)
def picture(width: int, height: int, fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", (width, height), (60, 90, 120))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def png_uri(width: int = 640, height: int = 360) -> str:
    return data_uri("image/png", picture(width, height))


def heic(width: int, height: int) -> bytes:
    """The start of a HEIC file: an ftyp box and an ispe property with the size (no picture)."""
    ftyp = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic"
    ispe = struct.pack(">I", 20) + b"ispe" + b"\0\0\0\0" + struct.pack(">II", width, height)
    return ftyp + b"\0\0\0\x08free" + ispe


@lru_cache(maxsize=None)
def video(width: int = 256, height: int = 256, seconds: float = 2.0, fps: float = 24, codec: str = "libx264",
          container: str = "mp4", audio_codec: str | None = "aac") -> bytes:
    """A small real video made with PyAV (a flat grey picture, a silent track)."""
    import av

    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = 1 / rate
        stream.options = {"libx264": {"preset": "ultrafast"}, "libx265": {"preset": "ultrafast", "x265-params": "log-level=none"}}.get(codec, {})
        sample_rate = 48000 if audio_codec == "libopus" else 32000
        sound = out.add_stream(audio_codec, rate=sample_rate, layout="stereo") if audio_codec else None
        frames = round(seconds * fps)
        still = av.VideoFrame.from_image(Image.new("RGB", (width, height), (90, 90, 90)))
        for i in range(frames):
            still.pts = i
            out.mux(stream.encode(still))
        out.mux(stream.encode(None))
        if sound is not None:
            samples, pts = round(seconds * sample_rate), 0
            while pts < samples:
                n = min(1024, samples - pts)
                frame = av.AudioFrame(format="fltp", layout="stereo", samples=n)
                for plane in frame.planes:
                    plane.update(bytes(plane.buffer_size))
                frame.sample_rate, frame.pts = sample_rate, pts
                out.mux(sound.encode(frame))
                pts += n
            out.mux(sound.encode(None))
    return buf.getvalue()


@lru_cache(maxsize=None)
def wav(seconds: float = 3.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * round(seconds * rate))
    return buf.getvalue()


@lru_cache(maxsize=None)
def encoded_audio(seconds: float, fmt: str = "mp3", codec: str = "libmp3lame") -> bytes:
    """MP3 (or another format) of a quiet tone, made with PyAV."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        rate = 48000 if codec == "libopus" else 44100
        stream = out.add_stream(codec, rate=rate, layout="mono")
        size = stream.codec_context.frame_size or 1152
        samples, pts = round(seconds * rate), 0
        fmt_name = stream.codec_context.format.name
        while pts < samples:
            frame = av.AudioFrame(format=fmt_name, layout="mono", samples=size)
            values = [0.1 * math.sin(2 * math.pi * 440 * (pts + i) / rate) for i in range(size)]
            if fmt_name.startswith("s16"):
                frame.planes[0].update(struct.pack(f"<{size}h", *(int(v * 32767) for v in values))
                                       + bytes(frame.planes[0].buffer_size - 2 * size))
            else:
                frame.planes[0].update(struct.pack(f"<{size}f", *values) + bytes(frame.planes[0].buffer_size - 4 * size))
            frame.sample_rate, frame.pts = rate, pts
            out.mux(stream.encode(frame))
            pts += size
        out.mux(stream.encode(None))
    return buf.getvalue()


def probe(data: bytes) -> dict:
    """What a client would check in a downloaded H3 file."""
    import av

    with av.open(io.BytesIO(data)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        frames = sum(1 for _ in c.decode(v))
        return {"fps": float(v.average_rate), "frames": frames, "width": v.codec_context.width,
                "height": v.codec_context.height, "audio_rate": a.codec_context.sample_rate,
                "channels": a.codec_context.channels, "audio_codec": a.codec_context.name,
                "seconds": float(v.duration * v.time_base)}


# --- simulators ---------------------------------------------------------------------------------

@pytest.fixture
def v2sim(tmp_path):
    """v2sim(clock=None, v2=V2Config(...), **SimConfig overrides) -> (Simulator, Clock), on a clock the
    test moves (time_scale 1), small previz videos unless v2 says otherwise, stopped after the test."""
    started: list[Simulator] = []

    def make(clock: Clock | None = None, v2: V2Config | None = None, **overrides) -> tuple[Simulator, Clock]:
        clock = clock or Clock()
        overrides.setdefault("time_scale", 1.0)
        overrides.setdefault("render_width", PREVIZ_SIDE)
        overrides.setdefault("render_cache_dir", tmp_path / f"renders-{len(started)}")
        sim = Simulator(SimConfig(**overrides), now=clock, v2=v2 or V2Config()).start()
        started.append(sim)
        return sim, clock

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def clients():
    """clients(sim, key=KEY) -> V2 bound to that simulator, closed after the test."""
    made: list[V2] = []

    def make(sim: Simulator, key: str | None = KEY) -> V2:
        made.append(V2(sim.base_url, key))
        return made[-1]

    yield make
    for c in made:
        c.http.close()


def finish_all(clock: Clock) -> None:
    """Past the longest queue phase and run (60 s + 300 s by default)."""
    clock.advance(400)


def state_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]
