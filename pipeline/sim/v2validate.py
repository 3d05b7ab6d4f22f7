"""v2 create validation (minimax-api-v2.md A3, A4): a JSON body in, a checked V2Spec out, or the
400 bad_request_error (2013) the API would answer.

The rules are written here from the notes, not taken from pipeline.minimax: the simulator is the
independent check of the client. Sensitive words (rule 12, a 422) are the engine's business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from pipeline.sim import v2media
from pipeline.sim.v2codes import NO_TEXT, V2Error, bad_request
from pipeline.sim.v2config import V2Config
from pipeline.sim.v2media import Media, MediaError

MODELS: dict[str, dict[str, Any]] = {
    "MiniMax-H3": {"resolutions": ("768P", "2K"), "durations": range(4, 16)},
    "MiniMax-H3-Max": {"resolutions": ("480P", "768P"), "durations": range(5, 16)},
}
RATIOS = ("adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
PROMPT_MAX = 7000
REGENERATION_PROMPT_MAX = 40_000
FRAME_ROLES = ("first_frame", "last_frame")
REFERENCE_ROLES = ("reference_image", "reference_video", "reference_audio")
ROLES = {"image_url": ("first_frame", "last_frame", "reference_image"),
         "video_url": ("reference_video",), "audio_url": ("reference_audio",)}
KINDS = {"image_url": "image", "video_url": "video", "audio_url": "audio"}
CAPS = {"reference_image": 9, "reference_video": 3, "reference_audio": 3}
MAX_REFERENCES = 12
MAX_MEDIA_SECONDS = 15.0  # total over the reference videos, and over the reference audios
EXPANSION_MODES = ("disabled", "balanced", "quality")


@dataclass(frozen=True)
class Input:
    """One media item of content[]: a URL taken on trust (never fetched) or a checked data URI."""

    index: int  # its position in content[]
    kind: str  # "image" | "video" | "audio"
    role: str
    url: str | None = None  # http(s):// or mm_file://
    media: Media | None = None
    problem: str | None = None  # media breaking rules 8-10, kept for the task (media_checks="task")

    @property
    def source(self) -> bytes | str:
        """What the previz draws: the decoded bytes, or the URL (drawn as a placeholder)."""
        return self.media.data if self.media is not None else self.url or ""


@dataclass(frozen=True)
class V2Spec:
    model: str
    resolution: str
    duration: int
    ratio: str  # as sent (default "adaptive"); the engine decides the actual one
    prompt: str
    inputs: tuple[Input, ...] = ()

    def role(self, role: str) -> list[Input]:
        return [i for i in self.inputs if i.role == role]

    @property
    def scenario(self) -> str:
        """'text', 'frames' or 'references' (A3: they never mix)."""
        if any(i.role in FRAME_ROLES for i in self.inputs):
            return "frames"
        return "references" if self.inputs else "text"


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise bad_request("request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def validate_v2(body: dict[str, Any], cfg: V2Config) -> V2Spec:
    """Check a create body; raise the 400 of the first broken rule."""
    _check_types(body)
    name = body["model"]
    if name not in MODELS:
        raise bad_request(f"unknown model {name}, supported models: {', '.join(MODELS)}")
    items = body["content"]
    prompt, inputs = _content(items, cfg)
    _roles(inputs, name, cfg)
    ratio = body.get("ratio")
    ratio = "adaptive" if ratio is None else ratio
    if ratio not in RATIOS:
        raise bad_request(f"ratio {ratio} is not supported, supported ratios: {', '.join(RATIOS)}")
    if not inputs and ratio == "adaptive":
        raise bad_request("text-to-video needs a concrete ratio (one of "
                          f"{', '.join(RATIOS[1:])}); adaptive needs an image or a reference")
    resolution, duration = _model_rules(body, name)
    _extra(body, name)
    _totals(inputs, cfg)
    return V2Spec(name, resolution, duration, ratio, prompt, tuple(inputs))


def _check_types(body: dict[str, Any]) -> None:
    for field in ("model", "content", "resolution", "duration"):
        if body.get(field) is None:
            raise bad_request(f"{field} is required")
    for field in ("model", "resolution", "ratio", "callback_url"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise bad_request(f"{field} must be a string")
    duration = body["duration"]
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise bad_request("duration must be an integer number of seconds")
    if not isinstance(body["content"], list):
        raise bad_request("content must be an array of items")
    if body.get("aigc_watermark") is not None and not isinstance(body["aigc_watermark"], bool):
        raise bad_request("aigc_watermark must be a boolean")
    url = body.get("callback_url")
    if url is not None and not url[:8].lower().startswith(("http://", "https://")):
        raise bad_request("callback_url must be an http(s) URL")


def _content(items: list[Any], cfg: V2Config, *, regeneration: bool = False) -> tuple[str, list[Input]]:
    """Rule 1 and each item's shape: (the prompt, the media items with their roles). A regeneration
    also takes a base_video, and a prompt of up to 40,000 characters (A11)."""
    texts: list[str] = []
    inputs: list[Input] = []
    for n, item in enumerate(items):
        where = f"content[{n}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object")
        kind = item.get("type")
        if kind == "text":
            if item.get("role") is not None:
                raise bad_request(f"{where}: a text item takes no role")
            text = item.get("text")
            if text is not None and not isinstance(text, str):
                raise bad_request(f"{where}.text must be a string")
            texts.append(text or "")
            continue
        if kind not in ROLES:
            raise bad_request(f"{where}.type {kind!r} is not one of text, image_url, video_url, audio_url")
        payload = item.get(kind)
        if not isinstance(payload, dict) or not isinstance(payload.get("url"), str) or not payload["url"]:
            raise bad_request(f'{where} needs "{kind}": {{"url": "..."}}')
        role = item.get("role")
        if regeneration and kind == "video_url" and role == "base_video":
            inputs.append(_input(n, "video", role, payload["url"], cfg))
            continue
        if role is not None and role not in ROLES[kind]:
            hint = " (base_video is for /v2/video_regeneration only)" if role == "base_video" else ""
            raise bad_request(f"{where}: role {role!r} is not allowed on {kind}, allowed: "
                              f"{', '.join(ROLES[kind])}{hint}")
        if role is None and kind != "image_url":
            role = ROLES[kind][0]  # the only role a video or an audio item can have
        inputs.append(_input(n, KINDS[kind], role or "", payload["url"], cfg))
    if not any(t.strip() for t in texts):
        raise V2Error(400, NO_TEXT, 2013)
    if len(texts) > 1:
        raise bad_request(f"content must include exactly one text item, not {len(texts)}")
    limit = REGENERATION_PROMPT_MAX if regeneration else PROMPT_MAX
    if len(texts[0]) > limit:
        raise bad_request(f"the text item is {len(texts[0])} characters long, the limit is {limit}")
    return texts[0], inputs


def _input(index: int, kind: str, role: str, url: str, cfg: V2Config) -> Input:
    """A URL as sent (never fetched), or a data URI decoded and, unless deferred, checked."""
    where = f"content[{index}].{kind}_url.url"
    lowered = url[:10].lower()
    if lowered.startswith(("http://", "https://")):
        return Input(index, kind, role, url=url)
    if lowered.startswith("mm_file://"):
        if not url[10:].isascii() or not url[10:].isdigit():
            raise bad_request(f"{where}: mm_file:// needs a numeric file_id, not {url[10:]!r}")
        return Input(index, kind, role, url=url)
    if not v2media.is_data_uri(url):
        raise bad_request(f"{where} must be a public http(s) URL, mm_file://{{file_id}} or a Base64 data URI")
    try:
        _, data = v2media.decode(url, kind)
    except MediaError as exc:
        raise bad_request(f"{where}: {exc}") from None
    try:
        return Input(index, kind, role, media=v2media.inspect(kind, data))
    except MediaError as exc:
        if cfg.media_checks == "create":
            raise bad_request(f"{where}: {exc}") from None
        return Input(index, kind, role, media=v2media.Media(kind, "unchecked", data), problem=f"{where}: {exc}")


def _roles(inputs: list[Input], model: str, cfg: V2Config) -> None:
    """Rules 2-5, the unnamed-image rule and the two role switches."""
    unnamed = [i for i in inputs if i.kind == "image" and not i.role]
    if unnamed:
        if len(unnamed) > 1 or len(inputs) > 1:
            raise bad_request("every image needs a role (first_frame, last_frame or reference_image) "
                              "when the request carries more than one media item")
        inputs[inputs.index(unnamed[0])] = replace(unnamed[0], role="first_frame")
    count = {role: sum(1 for i in inputs if i.role == role) for role in (*FRAME_ROLES, *REFERENCE_ROLES)}
    for role in FRAME_ROLES:
        if count[role] > 1:
            raise bad_request(f"at most one {role} is allowed, not {count[role]}")
    frames = count["first_frame"] + count["last_frame"]
    references = sum(count[r] for r in REFERENCE_ROLES)
    if frames and references:
        raise bad_request("first_frame/last_frame and reference_* roles cannot be mixed in one request")
    for role, cap in CAPS.items():
        if count[role] > cap:
            raise bad_request(f"at most {cap} {role} items are allowed, not {count[role]}")
    if references > MAX_REFERENCES:
        raise bad_request(f"at most {MAX_REFERENCES} reference files are allowed in total, not {references}")
    if count["reference_audio"] and not (count["reference_image"] or count["reference_video"]):
        raise bad_request("reference_audio needs at least one reference_image or reference_video")
    if references and model == "MiniMax-H3-Max" and not cfg.max_references:
        raise bad_request("model MiniMax-H3-Max does not support reference_image, reference_video "
                          "or reference_audio")
    if count["last_frame"] and not count["first_frame"] and not cfg.last_frame_alone:
        raise bad_request("last_frame must be paired with first_frame")


def _model_rules(body: dict[str, Any], name: str) -> tuple[str, int]:
    """Rule 7: model x resolution x duration."""
    model = MODELS[name]
    resolution, duration = body["resolution"], body["duration"]
    if resolution not in model["resolutions"]:
        raise bad_request(f"model {name} does not support resolution {resolution}, "
                          f"supported resolutions: {', '.join(model['resolutions'])}")
    durations = model["durations"]
    if duration not in durations:
        raise bad_request(f"model {name} does not support duration {duration}s, "
                          f"supported durations: {durations.start}-{durations.stop - 1}s")
    return resolution, duration


def _extra(body: dict[str, Any], name: str) -> None:
    """`extra.prompt_expansion_mode`, MiniMax-H3-Max only; `extra` takes no other key."""
    extra = body.get("extra")
    if extra is None:
        return
    if not isinstance(extra, dict):
        raise bad_request("extra must be an object")
    if name != "MiniMax-H3-Max":
        raise bad_request(f"extra is not supported by model {name}")
    unknown = sorted(k for k in extra if k != "prompt_expansion_mode")
    if unknown:
        raise bad_request(f"extra takes only prompt_expansion_mode, not {', '.join(unknown)}")
    mode = extra.get("prompt_expansion_mode")
    if mode is not None and mode not in EXPANSION_MODES:
        raise bad_request(f"extra.prompt_expansion_mode must be one of {', '.join(EXPANSION_MODES)}, "
                          f"not {json.dumps(mode, ensure_ascii=False)}")


def _totals(inputs: list[Input], cfg: V2Config) -> None:
    """Rules 9 and 10 on the whole request: at most 15 s of reference video, and of reference audio
    (counted over the data URIs: what a URL holds is not known at create)."""
    for kind in ("video", "audio"):
        total = sum(i.media.seconds for i in inputs if i.kind == kind and i.media is not None)
        if round(total, 3) > MAX_MEDIA_SECONDS:
            message = f"reference {kind}s last {total:.2f} s in total; at most 15 s are allowed"
            if cfg.media_checks == "create":
                raise bad_request(message)
            last = max(n for n, i in enumerate(inputs) if i.kind == kind)
            inputs[last] = replace(inputs[last], problem=inputs[last].problem or message)
