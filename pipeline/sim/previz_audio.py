"""A previz sound track: a quiet, seeded room tone, stereo AAC at 32 kHz (what H3 clips carry).

Its job is to be there, of the right length and format, so that a player, a reel or a check that
expects sound finds some. A soft two-note pad (integer frequencies, so one second loops without a
click) over a little low-passed noise, different in each channel, faded in and out.
"""

from __future__ import annotations

import array
import functools
import math
import random
from fractions import Fraction

import av

SAMPLE_RATE = 32000
FRAME = 1024  # samples per AAC frame
LEVEL = 0.03  # each note's peak: about -30 dBFS, quiet
NOISE = 0.008
FADE = 0.05  # seconds of fade in and out
ROOTS = (110, 131, 147, 165, 196)  # Hz: A2, C3, D3, E3, G3


@functools.lru_cache(maxsize=8)
def _loop(seed: int) -> tuple[array.array, array.array]:
    """One second of each channel, as 32-bit floats; it repeats seamlessly."""
    rng = random.Random(f"previz-audio:{seed}")
    root = rng.choice(ROOTS)
    notes = (root, round(root * 1.5))  # a fifth
    channels = []
    for side in (0, 1):
        low, out = 0.0, array.array("f", bytes(4 * SAMPLE_RATE))
        phase = rng.uniform(0, 2 * math.pi)
        for i in range(SAMPLE_RATE):
            t = 2 * math.pi * i / SAMPLE_RATE
            low += 0.05 * (rng.uniform(-1, 1) - low)  # one-pole low-pass: a soft hiss, not a buzz
            tone = math.sin(notes[0] * t + side * 0.3) + 0.6 * math.sin(notes[1] * t + phase)
            swell = 0.75 + 0.25 * math.sin(t + side * math.pi / 2)  # once a second, the two sides apart
            out[i] = LEVEL * swell * tone / 1.6 + NOISE * 4 * low
        channels.append(out)
    return channels[0], channels[1]


class Track:
    """The sound of a `frames` long clip at `fps`, written into `out` alongside its video:
    `until(n)` after each video frame n - 1, `close()` at the end. Exactly frames / fps seconds."""

    def __init__(self, out: av.container.OutputContainer, frames: int, fps: int, seed: int) -> None:
        self.stream = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo", options={"aac_coder": "fast"})
        self.stream.bit_rate = 64_000
        self.out, self.fps = out, fps
        self.total = round(frames * SAMPLE_RATE / fps)
        self.pts = 0
        self.left, self.right = _loop(seed)

    def until(self, video_frames: int) -> None:
        """Encode the sound up to the end of video frame `video_frames` - 1 (whole AAC frames)."""
        target = min(self.total, video_frames * SAMPLE_RATE // self.fps)
        while self.pts + FRAME <= target:
            self._emit(FRAME)

    def close(self) -> None:
        while self.pts < self.total:
            self._emit(min(FRAME, self.total - self.pts))
        self.out.mux(self.stream.encode(None))

    def _emit(self, n: int) -> None:
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=n)
        for plane, source in zip(frame.planes, (self.left, self.right)):
            plane.update(self._samples(source, n) + bytes(plane.buffer_size - 4 * n))
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, self.pts, Fraction(1, SAMPLE_RATE)
        self.out.mux(self.stream.encode(frame))
        self.pts += n

    def _samples(self, source: array.array, n: int) -> bytes:
        start = self.pts % SAMPLE_RATE
        chunk = source[start:start + n]
        if len(chunk) < n:
            chunk += source[: n - len(chunk)]
        fade = FADE * SAMPLE_RATE
        if self.pts < fade or self.pts + n > self.total - fade:
            chunk = array.array("f", (v * min(1.0, (self.pts + i) / fade, (self.total - self.pts - i) / fade)
                                      for i, v in enumerate(chunk)))
        return chunk.tobytes()
