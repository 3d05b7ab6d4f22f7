"""Image request validation (minimax-api-v2.md B1): a JSON body in, a checked ImageRequest out,
or the 2013 ApiError the API answers (in base_resp, HTTP 200), naming the field and the rule.

The facts (sizes, limits) are pipeline.minimax.imagespec's; the simulator also takes
image-01-live (with its `style`), which shots itself does not offer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from pipeline.minimax import imagespec
from pipeline.minimax.images import ImageError, from_data_url, is_data_url, sniff_format
from pipeline.sim.codes import invalid, missing, wrong_type

LIVE = "image-01-live"
MODELS = (imagespec.DEFAULT_MODEL, LIVE)  # the API's models (B1); shots offers only the first
SIZE_ONLY = imagespec.DEFAULT_MODEL  # width/height and 21:9 are image-01's only
SIDE_MIN, SIDE_MAX, SIDE_STEP = 512, 2048, 8
RESPONSE_FORMATS = ("url", "base64")
STYLE_TYPES = ("漫画", "元气", "中世纪", "水彩")
STYLE_WEIGHT = 0.8
INT64 = 2**63
SUBJECT_MIMES = ("image/jpeg", "image/jpg", "image/png")


@dataclass(frozen=True)
class ImageRequest:
    """A checked request: the size it makes, and what the stills show."""

    model: str
    prompt: str
    width: int
    height: int
    response_format: str = "url"
    n: int = 1
    seed: int | None = None
    prompt_optimizer: bool = False
    aigc_watermark: bool = False
    style: tuple[str, float] | None = None  # image-01-live: (style_type, style_weight)
    subject: bytes | str | None = None  # a character: the decoded data URL, or its URL (never fetched)


def validate_image(body: dict[str, Any], precedence: str = "aspect_ratio") -> ImageRequest:
    """Check an image_generation body; raise 2013 on the first fault. `precedence` says which of
    aspect_ratio and width/height sets the size when both are given (ImageConfig.precedence)."""
    model = _string(body, "model", required=True)
    if model not in MODELS:
        raise invalid(f"unknown model {model}, supported models: {', '.join(MODELS)}")
    prompt = _string(body, "prompt", required=True)
    if not prompt.strip():
        raise missing("prompt")
    if len(prompt) > imagespec.PROMPT_MAX_CHARS:
        raise invalid(f"prompt is {len(prompt)} characters long, the limit is {imagespec.PROMPT_MAX_CHARS}")
    width, height = _size(body, model, precedence)
    response_format = _string(body, "response_format") or "url"
    if response_format not in RESPONSE_FORMATS:
        raise invalid(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, not {response_format!r}")
    n = _integer(body, "n")
    n = 1 if n is None else n
    if not 1 <= n <= imagespec.N_MAX:
        raise invalid(f"n must be from 1 to {imagespec.N_MAX}, not {n}")
    seed = _integer(body, "seed")
    if seed is not None and not -INT64 <= seed < INT64:
        raise invalid(f"seed must be a 64-bit integer, not {seed}")
    flags = {name: _boolean(body, name) for name in ("prompt_optimizer", "aigc_watermark")}
    return ImageRequest(model, prompt, width, height, response_format, n, seed, style=_style(body, model),
                        subject=_subject(body.get("subject_reference")), **flags)


def _size(body: dict[str, Any], model: str, precedence: str) -> tuple[int, int]:
    """The still's size: aspect_ratio's (B1 table), or width x height, or 1:1."""
    ratio = _string(body, "aspect_ratio")
    if ratio is not None:
        if ratio not in imagespec.ASPECT_RATIOS:
            raise invalid(f"aspect_ratio must be one of {', '.join(imagespec.ASPECT_RATIOS)}, not {ratio!r}")
        if ratio == "21:9" and model != SIZE_ONLY:
            raise invalid(f"aspect_ratio 21:9 is supported by {SIZE_ONLY} only, not {model}")
    width, height = _integer(body, "width"), _integer(body, "height")
    sized = width is not None or height is not None
    if sized:
        if model != SIZE_ONLY:
            raise invalid(f"width and height are supported by {SIZE_ONLY} only, not {model}")
        if width is None or height is None:
            raise invalid("width and height must be given together")
        for name, value in (("width", width), ("height", height)):
            if not SIDE_MIN <= value <= SIDE_MAX or value % SIDE_STEP:
                raise invalid(f"{name} must be from {SIDE_MIN} to {SIDE_MAX} and a multiple of {SIDE_STEP}, "
                              f"not {value}")
    if sized and (ratio is None or precedence == "width_height"):
        return width, height
    return imagespec.size_of(ratio)


def _style(body: dict[str, Any], model: str) -> tuple[str, float] | None:
    value = body.get("style")
    if value is None:
        return None
    if model != LIVE:
        raise invalid(f"style is supported by {LIVE} only, not {model}")
    if not isinstance(value, dict):
        raise wrong_type("style", "object")
    kind = value.get("style_type")
    if kind is None:
        raise missing("style.style_type")
    if kind not in STYLE_TYPES:
        raise invalid(f"style.style_type must be one of {', '.join(STYLE_TYPES)}, not {kind!r}")
    weight = value.get("style_weight")
    if weight is None:
        return kind, STYLE_WEIGHT
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise wrong_type("style.style_weight", "number")
    if not 0 < weight <= 1:
        raise invalid(f"style.style_weight must be over 0 and at most 1, not {weight}")
    return kind, float(weight)


def _subject(value: Any) -> bytes | str | None:
    """The one character reference: an http(s) URL (taken on trust) or a JPG/PNG data URL under 10 MB."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 1:
        raise invalid("subject_reference must be an array holding exactly one reference")
    item = value[0]
    if not isinstance(item, dict):
        raise invalid('subject_reference[0] must be an object {"type": "character", "image_file": "..."}')
    if item.get("type") != "character":
        raise invalid(f'subject_reference[0].type must be "character", not {item.get("type")!r}')
    field = "subject_reference[0].image_file"
    image = item.get("image_file")
    if image is None:
        raise missing(field)
    if not isinstance(image, str):
        raise wrong_type(field, "string")
    if image[:8].lower().startswith(("http://", "https://")):
        return image
    if not is_data_url(image):
        raise invalid(f"{field} must be a public http(s) URL or a Base64 data URL (data:image/jpeg;base64,...)")
    try:
        mime, data = from_data_url(image)
    except ImageError as exc:
        raise invalid(f"{field}: {exc}") from None
    if mime not in SUBJECT_MIMES:
        raise invalid(f"{field} is a {mime} data URL; JPG, JPEG or PNG only")
    if len(data) >= imagespec.SUBJECT_MAX_BYTES:
        raise invalid(f"{field} is {len(data) / 1048576:,.1f} MB; it must be under "
                      f"{imagespec.SUBJECT_MAX_BYTES // 1048576} MB")
    fmt = sniff_format(data)
    if fmt not in imagespec.SUBJECT_FORMATS:
        raise invalid(f"{field} is not a JPG or PNG image (checked by its content, not its MIME type)")
    _readable(field, data, fmt)
    return data


def _readable(field: str, data: bytes, fmt: str) -> None:
    """The header parses (no pixel is decoded): a picture, not a truncated or forged one."""
    from PIL import JpegImagePlugin, PngImagePlugin

    reader = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile}[fmt]
    try:
        with reader(io.BytesIO(data)):
            pass
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise invalid(f"{field}: the image data is damaged or unreadable ({exc})") from None


def _string(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise wrong_type(name, "string")
    return value


def _integer(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(name, "integer")
    return value


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise wrong_type(name, "boolean")
    return value
