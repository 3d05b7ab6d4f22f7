"""The rules of an image shot (mode image: a still from the image API) and of its one field that
video shots must not borrow, aspect_ratio. A still's other rules are the common ones: its model
does the mode, its prompt (rules.py), its subject_image (inputrules.py).
"""

from __future__ import annotations

from typing import Callable

from pipeline.manifest.merging import IMAGE_SHOT_FIELDS
from pipeline.manifest.models import IMAGE_FIELDS, REFERENCE_FIELDS
from pipeline.manifest.schemacheck import shot_fields
from pipeline.manifest.shotview import RuleContext, ShotView
from pipeline.manifest.words import or_list
from pipeline.minimax import catalogue, imagespec

_SIZE_EXAMPLE = "16:9 is {}x{}".format(*imagespec.ASPECT_RATIOS["16:9"])
# Why an image shot cannot have a field (those it can: merging.IMAGE_SHOT_FIELDS), as the fix.
_NOT_FOR_STILLS = {
    "duration": "mode image makes a still, which has no duration; remove it",
    "resolution": f"mode image makes a still, whose size follows aspect_ratio ({_SIZE_EXAMPLE}); remove resolution",
    **{f: f"mode image takes no {f}; the image API takes one input image, subject_image (a character)"
       for f in (*IMAGE_FIELDS, *REFERENCE_FIELDS) if f not in IMAGE_SHOT_FIELDS},
}


def rule_image_fields(ctx: RuleContext, shot: ShotView) -> None:
    """An image shot sets only what a still has: a video's fields are errors at each (the defaults
    of them do not apply to it, merging.py)."""
    if not shot.is_still:
        return
    for f, value in shot.raw.items():
        if f in IMAGE_SHOT_FIELDS or f not in shot_fields():
            continue  # an unknown key: the schema said so
        if f == "ratio":
            shown = value if isinstance(value, str) and value in imagespec.ASPECT_RATIOS else "16:9"
            shot.report(f, f'mode image takes aspect_ratio, not ratio; write aspect_ratio: "{shown}" instead')
        else:
            shot.report(f, _NOT_FOR_STILLS.get(f, f"mode image takes no {f} (the image API has no such field); "
                                                   "remove it"))


def rule_aspect_ratio(ctx: RuleContext, shot: ShotView) -> None:
    """aspect_ratio is a still's shape: a video shot's is `ratio` on v2 (v1 takes none)."""
    value = shot.merged.get("aspect_ratio")
    if shot.is_still or shot.mode is None or not isinstance(value, str) or value not in imagespec.ASPECT_RATIOS:
        return  # a default aspect_ratio does not apply to a video shot (merging.py); a bad value: the schema
    said = f"{shot.model_label} does not take aspect_ratio, a still's shape (mode image)"
    if shot.model is not None and shot.model.takes_field("ratio"):
        concrete = [r for r in catalogue.RATIOS if r != "adaptive"]
        fix = f'write ratio: "{value}" instead' if value in concrete else f"use ratio ({or_list(concrete)})"
        shot.report("aspect_ratio", f"{said}; {fix}")
    else:
        shot.report("aspect_ratio", f"{said}; remove it")


IMAGE_RULES: tuple[Callable[[RuleContext, ShotView], None], ...] = (rule_image_fields, rule_aspect_ratio)
