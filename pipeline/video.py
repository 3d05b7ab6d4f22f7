"""Probe downloaded videos with PyAV: is it a playable video, of about the requested duration?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DURATION_TOLERANCE = 0.5  # seconds; encoders round to whole frames and GOPs


class VideoError(ValueError):
    """The file is not a playable video of the expected duration."""


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    duration: float
    frames: int


def stream_duration(container, stream) -> float | None:
    """Seconds, from the stream's own duration, else the container's; None if neither says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def probe(path: Path) -> VideoInfo:
    """Open the container, find its video stream and read its duration; VideoError if it cannot."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            # One decoding thread: FFmpeg's default pool costs more to start than one frame
            # takes to decode (it halves the CPU of a probe).
            stream.thread_type = "NONE"
            stream.codec_context.thread_count = 1
            duration = stream_duration(container, stream)
            if duration is None:
                raise VideoError(f"{path.name}: no duration")
            # Decode the first frame: a header alone can sit in front of garbage.
            next(container.decode(stream))
            return VideoInfo(
                codec=stream.codec_context.name,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                duration=duration,
                frames=stream.frames,
            )
    except VideoError:
        raise
    except (av.FFmpegError, StopIteration, OSError, ValueError) as exc:
        raise VideoError(f"{path.name}: not a playable video ({type(exc).__name__}: {exc})") from exc


def verify(path: Path, expected_duration: float | None) -> VideoInfo:
    """probe(), plus the duration check against what the shot asked for."""
    info = probe(path)
    if expected_duration is not None and abs(info.duration - expected_duration) > DURATION_TOLERANCE:
        raise VideoError(
            f"{path.name}: video lasts {info.duration:.2f} s, the shot asked for {expected_duration:g} s"
        )
    return info
