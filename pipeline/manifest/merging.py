"""Which of `defaults:` a shot takes. A storyboard mixes stills (mode image) and the videos made
from them under one `defaults:`: a still takes only the defaults a still has (a video's duration,
resolution or ratio mean nothing to it, and a video model cannot make it), and a video shot
takes every default but a still's own (aspect_ratio). The checker's rules and the built Shot
merge by this one function, so what is checked is what is sent.
"""

from __future__ import annotations

from pipeline.manifest.models import IMAGE_MODE
from pipeline.minimax import catalogue

# What an image shot may set (the image API's fields, and ours: id, takes, notes, tags, pick, status).
IMAGE_SHOT_FIELDS = frozenset({"id", "mode", "prompt", "model", "subject_image", "aspect_ratio", "prompt_optimizer",
                               "aigc_watermark", "takes", "notes", "tags", "pick", "status"})
IMAGE_ONLY_FIELDS = frozenset({"aspect_ratio"})  # a still's: a default of these skips video shots


def is_still(raw: dict, defaults: dict) -> bool:
    """Whether the shot, with its defaults, is an image shot (mode image)."""
    return (raw["mode"] if "mode" in raw else defaults.get("mode")) == IMAGE_MODE


def is_image_model(name: object) -> bool:
    """Whether `name` is a model of the image API (in any case: a wrong case is checked as the model)."""
    if not isinstance(name, str):
        return False
    model = catalogue.MODELS_BY_FOLDED.get(name.casefold())
    return model is not None and model.api == "image"


def defaults_for(raw: dict, defaults: dict) -> dict:
    """The defaults that apply to the shot written as `raw` (the same dict when all of them do).
    The two answers are worked out once per `defaults` dict (not to be changed after)."""
    global _last
    if not defaults:
        return defaults
    last = _last
    if last is None or last[0] is not defaults:
        last = _last = (defaults, _for_stills(defaults), _for_videos(defaults))
    return last[1] if is_still(raw, defaults) else last[2]


_last: tuple[dict, dict, dict] | None = None  # (defaults, for an image shot, for a video shot)


def _for_stills(defaults: dict) -> dict:
    return {k: v for k, v in defaults.items() if k in IMAGE_SHOT_FIELDS and (k != "model" or is_image_model(v))}


def _for_videos(defaults: dict) -> dict:
    if IMAGE_ONLY_FIELDS.isdisjoint(defaults):
        return defaults
    return {k: v for k, v in defaults.items() if k not in IMAGE_ONLY_FIELDS}


def merged(raw: dict, defaults: dict) -> dict:
    """The shot's fields: its own over the defaults that apply to it."""
    return {**defaults_for(raw, defaults), **raw}
