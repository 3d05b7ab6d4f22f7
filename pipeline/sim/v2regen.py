"""The two other v2 task kinds (minimax-api-v2.md A11), validated: 2K regeneration and the
Context-IR prompt enhancer, and the enhanced prompt the simulator makes up.

    POST /v2/video_regeneration  {"model":"MiniMax-H3","resolution":"2K", source_task_id | content}
    POST /v2/h3_context_ir       create's model/content/duration/ratio rules, no resolution
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pipeline.sim.v2codes import bad_request
from pipeline.sim.v2config import V2Config
from pipeline.sim.v2media import Media
from pipeline.sim.v2render import GRID
from pipeline.sim.v2validate import Input, V2Spec, _check_types, _content, _roles, _totals, validate_v2

REGENERATION_MODEL = "MiniMax-H3"
BASE_AREA = (589_824, 1_032_192)  # the 768P output spec a base_video must meet (A10)


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


def validate_regeneration(body: dict[str, Any], cfg: V2Config) -> RegenSpec:
    """Exactly one of source_task_id and content (with exactly one base_video); 2K only."""
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
    prompt, inputs = _content(content, cfg, regeneration=True)
    bases = [i for i in inputs if i.role == "base_video"]
    if len(bases) != 1:
        raise bad_request(f"content needs exactly one base_video, not {len(bases)}")
    others = [i for i in inputs if i.role != "base_video"]
    _roles(others, REGENERATION_MODEL, cfg)
    _totals(others, cfg)
    base = bases[0]
    if base.media is not None:
        _base_rules(base.media, f"content[{base.index}].video_url.url")
    seconds = _base_seconds(base.media)
    return RegenSpec(spec=V2Spec(REGENERATION_MODEL, "2K", seconds, "adaptive", prompt, tuple(others)), base=base)


def _base_rules(media: Media, where: str) -> None:
    """A10's 768P output: a sound track, 24 fps, sides multiples of 32, the area, frames on the grid."""
    w, h = media.width, media.height
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
