"""Probe downloaded videos with PyAV: is it a playable video, of about the requested duration?"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DURATION_TOLERANCE = 0.5  # seconds; encoders round to whole frames and GOPs

# v2 (MiniMax-H3) clips: 24 fps, 107 to 362 frames in steps of 17 (minimax-api-v2.md A10), so a
# clip runs up to 17 frames past the seconds asked for ("4 s" is 107 frames, 4.46 s).
V2_FPS = 24
V2_FRAME_COUNTS = frozenset(range(107, 363, 17))

# A 2K H3 clip (a final, regenerated from a 768P take: minimax-api-v2.md A10, A11) is 2560x1440 at
# 16:9 [S]. Other ratios' sizes are undocumented: such a clip need only be larger than the 768P
# tier (not the draft sent back), so that a paid video is never refused on a guess. A picture
# under the 768P tier's short side is no real H3 output: it is the simulator's previz (smaller by
# design), whose size is not the API's to promise.
TIER_SIZES = {"2K": frozenset({(2560, 1440), (1440, 2560)})}  # 16:9 and 9:16 [S]
SMALLEST_H3_SIDE = 768  # the 768P tier's short side


@dataclass(frozen=True)
class Expected:
    """What a model's clip of `seconds` looks like: a duration range, the frame grid (v2), and
    the picture's tier when one is promised (`tier`: "2K")."""

    seconds: float
    low: float
    high: float
    frame_grid: frozenset[int] | None = None
    tier: str | None = None

    @classmethod
    def of(cls, api: str, seconds: float, resolution: str | None = None) -> Expected:
        """`resolution`: the one asked for; only a tier with a known picture size ("2K") is checked."""
        tier = resolution if api == "v2" and resolution in TIER_SIZES else None
        if api == "v2":
            frame = 1 / V2_FPS
            return cls(seconds, seconds - frame, seconds + 17 * frame + frame, V2_FRAME_COUNTS, tier)
        return cls(seconds, seconds - DURATION_TOLERANCE, seconds + DURATION_TOLERANCE)


class VideoError(ValueError):
    """The file is not a playable video of the expected duration."""


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    duration: float
    frames: int
    audio: bool = False


def stream_duration(container, stream) -> float | None:
    """Seconds, from the stream's own duration, else the container's; None if neither says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def probe(path: Path) -> VideoInfo:
    """Open the container, read its video stream to the end and decode its first frame.

    A header alone can sit in front of garbage, and an MP4 whose index comes first still opens,
    with the right duration, when cut in half: so every packet is read (demuxed, not decoded)
    and the last one must reach the duration the container declares, within a frame.
    """
    import av

    _check_mp4_boxes(path)
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
            decoded, packets, end = _read_to_end(container, stream)
            if not decoded:
                raise VideoError(f"{path.name}: not a playable video (no frame decodes)")
            frame_s = 1 / float(stream.average_rate or stream.guessed_rate or 24)
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            played = end - start
            if played < duration - frame_s - 1e-6:
                raise VideoError(f"{path.name}: truncated: its frames end at {played:.2f} s of the "
                                 f"{duration:.2f} s its header declares")
            return VideoInfo(
                codec=stream.codec_context.name,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                duration=duration,
                frames=stream.frames or packets,
                audio=bool(container.streams.audio),
            )
    except VideoError:
        raise
    except (av.FFmpegError, StopIteration, OSError, ValueError) as exc:
        raise VideoError(f"{path.name}: not a playable video ({type(exc).__name__}: {exc})") from exc


def _check_mp4_boxes(path: Path) -> None:
    """An MP4 is a chain of top-level boxes, each stating its size: the chain must end exactly at
    the end of the file (a cut inside the trailing index can still play). Not an MP4: no check."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return
        offset = 0
        while offset < size:
            f.seek(offset)
            header = f.read(16)
            if len(header) < 8:
                break
            box = int.from_bytes(header[:4], "big")
            if box == 1 and len(header) == 16:  # a 64-bit size follows the type
                box = int.from_bytes(header[8:16], "big")
            elif box == 0:  # the box runs to the end of the file
                return
            if box < 8:
                raise VideoError(f"{path.name}: damaged: a box at byte {offset} states a size of {box}")
            offset += box
        if offset != size:
            raise VideoError(f"{path.name}: truncated: its boxes state {offset} bytes, the file has {size}")


def _read_to_end(container, stream) -> tuple[bool, int, float]:
    """(a frame decoded, video packets read, seconds where the last packet ends); VideoError for
    a packet the file holds only part of (a cut inside the last frames)."""
    decoded, packets, end = False, 0, 0.0
    for packet in container.demux(stream):
        if packet.pts is None:  # the demuxer's end-of-stream marker
            continue
        if packet.is_corrupt:
            raise VideoError(f"{os.path.basename(container.name)}: truncated or damaged: frame {packets + 1} "
                             f"is incomplete")
        packets += 1
        end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        if not decoded:
            decoded = bool(stream.codec_context.decode(packet))
    if not decoded and packets:
        decoded = bool(stream.codec_context.decode(None))  # flush: a decoder may hold the first frames
    return decoded, packets, end


def verify(path: Path, expected_duration: float | Expected | None, *, expected_bytes: int | None = None,
           audio: bool = False) -> VideoInfo:
    """probe(), plus what the API promised: its announced size (when it announced one), about
    the duration the shot asked for (on v2's frame grid), and an audio track where the model makes one."""
    if expected_bytes:
        size = path.stat().st_size
        if size != expected_bytes:
            raise VideoError(f"{path.name}: {size} bytes, the API announced {expected_bytes}")
    info = probe(path)
    expected = Expected.of("v1", expected_duration) if isinstance(expected_duration, (int, float)) \
        else expected_duration
    if expected is not None and not expected.low <= info.duration <= expected.high:
        raise VideoError(
            f"{path.name}: video lasts {info.duration:.2f} s, the shot asked for {expected.seconds:g} s"
        )
    if expected is not None and expected.frame_grid is not None and info.frames not in expected.frame_grid:
        raise VideoError(f"{path.name}: {info.frames} frames, not on the model's grid (107 + 17k at 24 fps)")
    if audio and not info.audio:
        raise VideoError(f"{path.name}: no audio track, and this model makes one")
    problem = picture_problem(info, expected.tier if expected is not None else None)
    if problem:
        raise VideoError(f"{path.name}: {problem}")
    return info


MAX_768P_AREA = 1_032_192  # the 768P tier's largest picture (minimax-api-v2.md A10): a 2K one is larger


def picture_problem(info: VideoInfo, tier: str | None) -> str | None:
    """Why a clip's picture is not the `tier` asked for (None: it is, or nothing is promised):
    at 16:9 (or 9:16) the tier's size, at another ratio larger in area than any 768P picture; a
    clip whose short side is under the 768P tier's is a previz."""
    if tier not in TIER_SIZES:
        return None
    size, short = (info.width, info.height), min(info.width, info.height)
    if short < SMALLEST_H3_SIDE:
        return None
    if size in TIER_SIZES[tier] or (not _near_16_9(size) and info.width * info.height > MAX_768P_AREA):
        return None
    known = " or ".join(f"{w}x{h}" for w, h in sorted(TIER_SIZES[tier], reverse=True))
    return f"{info.width}x{info.height}, not a {tier} picture ({known} at 16:9 or 9:16; larger than 768P otherwise)"


def _near_16_9(size: tuple[int, int]) -> bool:
    wide, narrow = max(size), min(size)
    return abs(wide / narrow - 16 / 9) < 0.02
