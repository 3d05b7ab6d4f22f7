"""Create-request validation: a JSON body in, a checked CreateSpec out, or a 2013 ApiError.

The model rules come from pipeline.minimax.catalogue and the image rules from pipeline.minimax.images, so the
simulator refuses exactly what the manifest checker refuses (minimax-api.md 2, 3, 11).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.minimax.catalogue import MODELS, PROMPT_MAX_CHARS, Mode
from pipeline.minimax.images import ImageError, ImageInfo, from_data_url, inspect, is_data_url
from pipeline.sim.codes import INVALID_PARAMS, ApiError, invalid, missing, wrong_type

MODE_LABELS: dict[str, str] = {
    "text_to_video": "Text-to-Video",
    "image_to_video": "Image-to-Video",
    "first_last_frame": "First-Last-Frame-to-Video",
    "subject_reference": "Subject-Reference-to-Video",
    "reference": "Reference-to-Video",
}
BOOL_FIELDS = ("prompt_optimizer", "fast_pretreatment", "aigc_watermark")


@dataclass(frozen=True)
class ImageInput:
    """One input image: an http(s) URL (never fetched) or the decoded bytes of a data URL."""

    field: str
    url: str | None = None
    data: bytes | None = None
    info: ImageInfo | None = None


@dataclass(frozen=True)
class CreateSpec:
    model: str
    mode: Mode
    duration: int
    resolution: str
    prompt: str
    first_frame: ImageInput | None = None
    last_frame: ImageInput | None = None
    subject: ImageInput | None = None


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or 2013."""
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise invalid("request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise invalid(f"request body is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    return body


def fingerprint(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys) of a create body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def infer_mode(body: dict[str, Any]) -> Mode:
    """The mode the fields imply, as the API infers it (a null field counts as absent)."""
    if body.get("subject_reference") is not None:
        return "subject_reference"
    if body.get("last_frame_image") is not None:
        return "first_last_frame"
    if body.get("first_frame_image") is not None:
        return "image_to_video"
    return "text_to_video"


def validate_create(body: dict[str, Any]) -> CreateSpec:
    """Check a create body against the catalogue and the image rules; raise 2013 on the first fault."""
    _check_types(body)
    name = body["model"]
    model = MODELS.get(name)
    if model is None or model.api != "v1":  # v2's models are served only at /v2/video_generation
        v1_models = ", ".join(n for n, m in MODELS.items() if m.api == "v1")
        raise invalid(f"unknown model {name}, supported models: {v1_models}")
    mode = infer_mode(body)
    if mode not in model.options:
        raise ApiError(INVALID_PARAMS, f"model {name} does not support {MODE_LABELS[mode]} mode")

    prompt = body.get("prompt") or ""
    if mode == "text_to_video" and not prompt.strip():
        raise missing("prompt")
    if len(prompt) > PROMPT_MAX_CHARS:
        raise invalid(f"prompt is {len(prompt)} characters long, the limit is {PROMPT_MAX_CHARS}")

    duration, resolution = _duration_resolution(body, name, mode)
    first = last = subject = None
    if mode in ("image_to_video", "first_last_frame") and body.get("first_frame_image") is not None:
        first = _image("first_frame_image", body["first_frame_image"])
    if mode == "first_last_frame":
        last = _image("last_frame_image", body["last_frame_image"])
    if mode == "subject_reference":
        subject = _subject(body["subject_reference"])
    return CreateSpec(name, mode, duration, resolution, prompt, first, last, subject)


def _check_types(body: dict[str, Any]) -> None:
    """The JSON binding: required model, and each known field of its declared type."""
    if body.get("model") is None:
        raise missing("model")
    for field in ("model", "prompt", "first_frame_image", "last_frame_image", "callback_url", "resolution"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise wrong_type(field, "string")
    for field in BOOL_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], bool):
            raise wrong_type(field, "boolean")
    duration = body.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)):
        raise wrong_type("duration", "integer")


def _duration_resolution(body: dict[str, Any], name: str, mode: Mode) -> tuple[int, str]:
    """Duration x resolution as the catalogue allows; an absent one takes the model's default."""
    model = MODELS[name]
    options = model.options[mode]
    resolution = body.get("resolution") or model.default_resolution
    duration = body.get("duration")
    duration = model.default_duration if duration is None else duration
    if resolution not in options:
        raise ApiError(
            INVALID_PARAMS,
            f"model {name} does not support resolution {resolution}, supported resolutions: {', '.join(options)}",
        )
    durations = sorted({d for ds in options.values() for d in ds})
    if duration not in durations:
        raise ApiError(
            INVALID_PARAMS,
            f"model {name} does not support duration {duration}s, "
            f"supported durations: {', '.join(f'{d}s' for d in durations)}",
        )
    if not model.allows(mode, resolution, duration):
        raise ApiError(
            INVALID_PARAMS,
            f"model {name} does not support the combination of duration {duration}s and resolution {resolution}",
        )
    return duration, resolution


def _subject(value: Any) -> ImageInput:
    if not isinstance(value, list) or len(value) != 1:
        raise invalid("subject_reference must be an array holding exactly one subject")
    item = value[0]
    if not isinstance(item, dict):
        raise invalid('subject_reference[0] must be an object {"type": "character", "image": [...]}')
    if item.get("type") != "character":
        raise invalid(f'subject_reference[0].type must be "character", not {item.get("type")!r}')
    images = item.get("image")
    if not isinstance(images, list) or len(images) != 1:
        raise invalid("subject_reference[0].image must be an array holding exactly one image")
    return _image("subject_reference[0].image[0]", images[0])


def _image(field: str, value: Any) -> ImageInput:
    """An http(s) URL is taken on trust (no network); a data URL is decoded and checked."""
    if not isinstance(value, str):
        raise wrong_type(field, "string")
    if value[:8].lower().startswith(("http://", "https://")):
        return ImageInput(field, url=value)
    if is_data_url(value):
        try:
            _, data = from_data_url(value)
            info = inspect(data)
        except ImageError as exc:
            raise invalid(f"{field}: {exc}") from None
        return ImageInput(field, data=data, info=info)
    raise invalid(f"{field} must be a public http(s) URL or a Base64 data URL (data:image/jpeg;base64,...)")
