"""The two other v2 task kinds (minimax-api-v2.md A11), validated: 2K regeneration and the
Context-IR prompt enhancer, and the enhanced prompt the simulator makes up.

    POST /v2/video_regeneration  {"model":"MiniMax-H3","resolution":"2K", source_task_id | content}
    POST /v2/h3_context_ir       create's model/content/duration/ratio rules, no resolution

A base_video must be a 768P H3 output (A10). This simulator's own 768P videos are previz,
smaller than the real ones by design (SimConfig's previz size, unless V2Config.full_size): one
of them stands for the output it draws, so a client can send back what the simulator gave it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any, Callable

from pipeline.sim.v2codes import bad_request
from pipeline.sim.v2config import V2Config
from pipeline.sim.v2media import VIDEO_MAX_BYTES, Media, MediaError, decode, is_data_uri
from pipeline.sim.v2render import GRID, nominal_size, snap_ratio
from pipeline.sim.v2validate import Input, V2Spec, _check_types, _content, _roles, _totals, validate_v2

REGENERATION_MODEL = "MiniMax-H3"
BASE_AREA = (589_824, 1_032_192)  # the 768P output spec a base_video must meet (A10)

SET_ASIDE = "https://base-video.invalid/set-aside.mp4"  # stands in for a base_video data URI in _content
Rendered = Callable[[int, int], "tuple[int, int]"]  # a nominal size -> the size this simulator renders it at


@dataclass(frozen=True)
class RegenSpec:
    """A checked regeneration: from a task (source_task_id) or from the inputs and a base_video."""

    source_task_id: str | None = None
    spec: V2Spec | None = None  # the original inputs (ratio "adaptive", duration from the base video)
    base: Input | None = None


def validate_context_ir(body: dict[str, Any], cfg: V2Config) -> V2Spec:
    """Create's rules without `resolution` (the spec's resolution is then "")."""
    if body.get("resolution") is not None:
        raise bad_request("h3_context_ir takes no resolution")
    spec = validate_v2({**body, "resolution": "768P"}, cfg)  # 768P: every model has it
    return replace(spec, resolution="")


def validate_regeneration(body: dict[str, Any], cfg: V2Config, rendered: Rendered | None = None) -> RegenSpec:
    """Exactly one of source_task_id and content (with exactly one base_video); 2K only.
    `rendered`: how this simulator sizes its videos (VideoFiles.size), so that its own previz of
    a 768P output is judged as that output."""
    for name in ("model", "resolution"):
        if body.get(name) is None:
            raise bad_request(f"{name} is required")
    if body["model"] != REGENERATION_MODEL:
        raise bad_request(f"video_regeneration supports only {REGENERATION_MODEL}, not {body['model']}")
    if body["resolution"] != "2K":
        raise bad_request(f"video_regeneration only makes 2K, not {body['resolution']}")
    for name in ("duration", "ratio"):
        if body.get(name) is not None:
            raise bad_request(f"{name} is not a video_regeneration parameter: the output follows the base video")
    source, content = body.get("source_task_id"), body.get("content")
    if (source is None) == (content is None):
        raise bad_request("send exactly one of source_task_id and content")
    _check_types({**body, "content": content or [], "duration": 0})
    if source is not None:
        if not isinstance(source, str) or not source.isascii() or not source.isdigit():
            raise bad_request("source_task_id must be a task id (a string of digits)")
        return RegenSpec(source_task_id=source)
    masked, sent = _set_bases_aside(content)
    prompt, inputs = _content(masked, cfg, regeneration=True)
    inputs = [_base_input(i, sent[i.index], rendered) if i.index in sent else i for i in inputs]
    bases = [i for i in inputs if i.role == "base_video"]
    if len(bases) != 1:
        raise bad_request(f"content needs exactly one base_video, not {len(bases)}")
    others = [i for i in inputs if i.role != "base_video"]
    _roles(others, REGENERATION_MODEL, cfg)
    _totals(others, cfg)
    base = bases[0]
    seconds = _base_seconds(base.media)
    return RegenSpec(spec=V2Spec(REGENERATION_MODEL, "2K", seconds, "adaptive", prompt, tuple(others)), base=base)


def _set_bases_aside(content: Any) -> tuple[Any, dict[int, str]]:
    """content[] with each base_video data URI replaced by a URL (taken on trust by _content),
    and those data URIs by place: a base_video is judged as a 768P output (A10, _base_input),
    not by the reference-video rules."""
    if not isinstance(content, list):
        return content, {}
    masked, sent = list(content), {}
    for n, item in enumerate(content):
        payload = item.get("video_url") if isinstance(item, dict) else None
        if _is_base(item) and isinstance(payload, dict) and isinstance(payload.get("url"), str) \
                and is_data_uri(payload["url"]):
            sent[n] = payload["url"]
            masked[n] = {**item, "video_url": {**payload, "url": SET_ASIDE}}
    return masked, sent


def _is_base(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "video_url" and item.get("role") == "base_video"


def _base_input(item: Input, url: str, rendered: Rendered | None) -> Input:
    """A base_video sent as a data URI, read and held to the 768P output spec."""
    where = f"content[{item.index}].video_url.url"
    try:
        _, data = decode(url, "video")
        media = _read_base(data)
    except MediaError as exc:
        raise bad_request(f"{where}: {exc}") from None
    _base_rules(media, where, rendered)
    return replace(item, url=None, media=media)


def _read_base(data: bytes) -> Media:
    """An MP4/MOV of H.264/H.265 with AAC/MP3 sound (rule 9's formats, 50 MB), as found."""
    if len(data) > VIDEO_MAX_BYTES:
        raise MediaError(f"base video is {len(data) / 1024 / 1024:.1f} MB; videos may be at most 50 MB")
    import av  # here: a regeneration by source_task_id needs no PyAV

    try:
        with av.open(io.BytesIO(data), "r") as container:
            if "mp4" not in container.format.name and "mov" not in container.format.name:
                raise MediaError(f"base video is {container.format.name}, not MP4 or MOV")
            if not container.streams.video:
                raise MediaError("base video has no video stream")
            stream = container.streams.video[0]
            if stream.codec_context.name not in ("h264", "hevc"):
                raise MediaError(f"base video is coded {stream.codec_context.name}; H.264 or H.265 only")
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            return Media("video", "mp4", data, stream.codec_context.width, stream.codec_context.height, seconds,
                         fps, stream.frames or round(seconds * fps), bool(container.streams.audio))
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"base video is not a readable MP4/MOV ({exc})") from None


def _base_rules(media: Media, where: str, rendered: Rendered | None = None) -> None:
    """A10's 768P output: a sound track, 24 fps, sides multiples of 32, the area, frames on the grid."""
    w, h = _stands_for(media, rendered)
    problems = []
    if not media.sound:
        problems.append("it has no audio track")
    if abs(media.fps - 24) > 0.01:
        problems.append(f"it runs at {media.fps:g} fps, not 24")
    if w % 32 or h % 32:
        problems.append(f"{w}x{h} is not a multiple of 32 each way")
    if not BASE_AREA[0] <= w * h <= BASE_AREA[1]:
        problems.append(f"{w}x{h} is outside the 768P area ({BASE_AREA[0]:,}-{BASE_AREA[1]:,} px)")
    if media.frames not in GRID:
        problems.append(f"its {media.frames} frames are not 107 + 17k (107-362)")
    if problems:
        raise bad_request(f"{where}: the base_video must be a 768P H3 output: {'; '.join(problems)}")


def _stands_for(media: Media, rendered: Rendered | None) -> tuple[int, int]:
    """The size a base video is judged at: its own, or, when it is exactly how this simulator
    renders a 768P output of its ratio, that output's nominal size (1344x768 for 16:9)."""
    w, h = media.width, media.height
    if rendered is None or not w or not h:
        return w, h
    nominal = nominal_size("768P", snap_ratio(w, h))
    return nominal if tuple(rendered(*nominal)) == (w, h) else (w, h)


def _base_seconds(media: Media | None) -> int:
    """The duration a regeneration reports: the base video's whole seconds (6 behind a URL, unknown)."""
    if media is None or not media.frames:
        return 6
    return max(4, min(15, media.frames // 24))


def enhanced_prompt(spec: V2Spec, ratio: str) -> str:
    """The structured prompt a Context-IR task returns: made up, deterministic, the original kept."""
    inputs = ", ".join(f"{i.role.replace('_', ' ')} {n + 1}" for n, i in enumerate(spec.inputs)) or "none"
    return (f"[Scene] {spec.prompt.strip()}\n[Inputs] {inputs}\n[Format] {spec.duration} s, ratio {ratio}, "
            f"24 fps, with sound\n[Camera] as written in the scene; otherwise a slow, steady move\n"
            f"[Sound] room tone matching the scene")
