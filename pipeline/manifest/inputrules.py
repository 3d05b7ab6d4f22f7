"""The rules about a shot's input files: which fields its mode takes and needs (frames or
references, never both), how many references, whether each file is one the shot's API
generation takes (v1: images.py's image rules; v2: catalogue.INPUT_LIMITS, read by
mediafiles; the image API: catalogue.IMAGE_SUBJECT), the references' total length, and the
whole request with its local files inlined.

An input that is another shot's output (a FrameRef mapping) counts as an image that exists: it
fills its field and is counted among the references, but there is no file to read (chainrules.py
checks the shot it names). Each file is looked at once per check, whatever number of shots name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.manifest import imagefiles, lint, mediafiles
from pipeline.manifest.models import IMAGE_FIELDS, REFERENCE_FIELDS
from pipeline.manifest.shotview import RuleContext, ShotView
from pipeline.manifest.words import or_list
from pipeline.minimax import catalogue

# Which input fields each mode takes (a mode takes only these), which it needs, all of them, and
# which it needs one of at least (A3: a reference request needs an image or a video; A4 rule 5:
# audio alone is refused).
TAKES: dict[str, tuple[str, ...]] = {
    "text_to_video": (),
    "image_to_video": ("first_frame_image",),
    "first_last_frame": ("first_frame_image", "last_frame_image"),
    "subject_reference": ("subject_image",),
    "reference": tuple(REFERENCE_FIELDS),
    "image": ("subject_image",),  # a character to keep (B1); imagerules words the fields a still lacks
}
NEEDS: dict[str, tuple[str, ...]] = {
    "image_to_video": ("first_frame_image",),
    "first_last_frame": ("first_frame_image", "last_frame_image"),
    "subject_reference": ("subject_image",),
}
NEEDS_ONE_OF: dict[str, tuple[str, ...]] = {"reference": ("reference_images", "reference_videos")}
FRAME_FIELDS = ("first_frame_image", "last_frame_image")
INPUT_FIELDS = (*IMAGE_FIELDS, *REFERENCE_FIELDS)
KIND_OF = {**{f: "image" for f in IMAGE_FIELDS}, **REFERENCE_FIELDS}
_OTHER_MODE_FOR = {  # an input field that is wrong in this mode -> the mode that takes it
    "first_frame_image": "image_to_video or first_last_frame",
    "last_frame_image": "first_last_frame",
    "subject_image": "subject_reference",
    **{f: "reference" for f in REFERENCE_FIELDS},
}
_FRAME_MODES = frozenset(m for m, fields in TAKES.items() if set(fields) & set(FRAME_FIELDS))
_DATA_URI_OVERHEAD = 64  # bytes a data URI adds besides its base64: the prefix, quotes, the JSON around it
_BODY_OVERHEAD = 4096  # bytes of JSON besides the files and the prompt: model, roles, settings


def rule_input_fields(ctx: RuleContext, shot: ShotView) -> None:
    """A mode takes exactly its inputs: frames or references (never both, A4 rule 3), and needs them."""
    mode = shot.mode
    if mode is None:
        return
    for f in INPUT_FIELDS:
        if f in shot.merged and f not in TAKES[mode] and not shot.is_still:
            shot.report(f, _not_taken(mode, f))
    for f in NEEDS.get(mode, ()):
        if f not in shot.merged and f not in shot.guessed:
            shot.report(f, f"{mode} needs {f} (a file path relative to the manifest, or an https URL)", at=shot.here)
    one_of = NEEDS_ONE_OF.get(mode, ())
    if one_of and not any(shot.merged.get(f, []) != [] or f in shot.guessed for f in one_of):
        if shot.items("reference_audio"):
            shot.report("reference_audio", f"needs a reference image or video beside it (the API refuses audio "
                                           f"alone); add {or_list(one_of)}")
        else:
            shot.report(one_of[0], f"{mode} needs {or_list(one_of)} (file paths relative to the manifest, "
                                   "or https URLs)", at=shot.here)


def _not_taken(mode: str, f: str) -> str:
    other = _OTHER_MODE_FOR[f]
    if mode == "text_to_video":
        what = "images" if f in IMAGE_FIELDS else "references"
        return f"text_to_video takes no {what}; remove {f} or use mode {other}"
    if mode == "subject_reference" and f == "first_frame_image":
        return "subject_reference takes no first_frame_image; the face goes in subject_image"
    if (mode in _FRAME_MODES and f in REFERENCE_FIELDS) or (mode == "reference" and f in FRAME_FIELDS):
        return f"{mode} takes no {f}: frames and references never mix in one request; {f} belongs to mode {other}"
    return f"{mode} takes no {f}; {f} belongs to mode {other}"


def rule_reference_count(ctx: RuleContext, shot: ShotView) -> None:
    """At most so many references in all (A4 rule 4; each kind's own cap is the schema's maxItems)."""
    limits = catalogue.INPUT_LIMITS.get(shot.api)
    if limits is None or shot.mode != "reference":
        return
    lists = {f: shot.merged.get(f) for f in REFERENCE_FIELDS}
    lists = {f: v for f, v in lists.items() if isinstance(v, list)}
    if any(len(v) > limits.max_references[REFERENCE_FIELDS[f]] for f, v in lists.items()):
        return  # the schema said which list is too long
    n = 0
    for f, values in lists.items():
        for i in range(len(values)):
            n += 1
            if n > limits.max_references_total:
                counts = ", ".join(f"{len(v)} {f.removeprefix('reference_')}" for f, v in lists.items() if v)
                shot.report_item(f, i, f"reference {n} of {sum(map(len, lists.values()))} ({counts}); the API "
                                       f"takes at most {limits.max_references_total} reference files in all")
                return


@dataclass(frozen=True)
class Checked:
    """One input file, looked at: why it cannot be used (None: it can), and what it is if local."""

    problem: str | None
    facts: mediafiles.MediaFacts | None = None


def rule_input_files(ctx: RuleContext, shot: ShotView) -> None:
    """Each input the mode takes is usable (an https URL, or a file inside the project that the
    shot's API takes); then the references' total length and the whole request's size. Another
    shot's output (a FrameRef) is no file: the runner checks the frame cut for it when it has it,
    so it is left out here, and out of the request's size."""
    if shot.mode is not None and shot.mode not in catalogue.api_modes(shot.api):
        return  # an unknown model sent to v1 in a v2 mode: rule_model_does_mode said so
    fields = TAKES[shot.mode] if shot.mode is not None else IMAGE_FIELDS
    checks = _FILE_CHECKS[shot.api]
    usable: list[tuple[str, int | None, Checked]] = []
    broken = False
    for f in fields:
        kind = KIND_OF[f]
        check = checks.get(kind)
        if check is None:
            continue  # this API generation has no mode that takes it: rule_model_does_mode said so
        if f in REFERENCE_FIELDS:
            entries: list[tuple[int | None, str]] = list(shot.items(f))
        else:
            value = shot.merged.get(f)
            entries = [(None, value)] if isinstance(value, str) and value else []
        for i, value in entries:
            checked = check(ctx, value, kind)
            if checked.problem is None:
                usable.append((f, i, checked))
                continue
            broken = True
            _report(shot, f, i, checked.problem)
    limits = catalogue.INPUT_LIMITS.get(shot.api)
    if limits is not None and not broken and not _total_lengths(shot, limits, usable):
        _body_size(shot, limits, usable)


def _report(shot: ShotView, field: str, index: int | None, message: str) -> None:
    if index is None:
        shot.report(field, message)
    else:
        shot.report_item(field, index, message)


def _total_lengths(shot: ShotView, limits: catalogue.InputLimits, usable: list) -> bool:
    """The reference files of one kind together no longer than the API takes (A4 rules 9, 10)."""
    for f, kind in REFERENCE_FIELDS.items():
        most = limits.media[kind].max_total_seconds
        if most is None:
            continue
        total = 0.0
        for field, i, checked in usable:
            if field == f and checked.facts is not None and checked.facts.seconds is not None:
                total += checked.facts.seconds
                if total > most:
                    shot.report_item(f, i, f"with this one, the {f.replace('_', ' ')} add up to {total:g} s; the "
                                           f"API takes at most {most:g} s of reference {kind} in all")
                    return True
    return False


def _body_size(shot: ShotView, limits: catalogue.InputLimits, usable: list) -> bool:
    """The request with its local files inlined as base64 fits the API's body limit (A4 rule 11)."""
    local = [(c.facts.size, f, i) for f, i, c in usable if c.facts is not None]
    if not local:
        return False
    prompt = shot.merged.get("prompt")
    body = (sum(mediafiles.base64_size(size) + _DATA_URI_OVERHEAD for size, _, _ in local) + _BODY_OVERHEAD
            + (len(prompt.encode("utf-8", "replace")) if isinstance(prompt, str) else 0))
    if body <= limits.max_body_bytes:
        return False
    size, f, i = max(local, key=lambda entry: entry[0])
    message = (f"the request would be about {mediafiles.mb(body)} with the shot's local files sent inline as "
               f"base64 (a third bigger than the files); the API takes at most {mediafiles.mb(limits.max_body_bytes)}: "
               f"use URLs (https) for the biggest files, starting with this one ({mediafiles.mb(size)})")
    _report(shot, f, i, message)
    return True


# -- one file ---------------------------------------------------------------------------------


def _v1_file(ctx: RuleContext, value: str, kind: str) -> Checked:
    """v1 takes images only, by images.py's rules (shared with the simulator)."""
    if value not in ctx.images:
        ctx.images[value] = _reference_problem(value) or _local_v1_image_problem(value, ctx.folder)
    return Checked(ctx.images[value])


def _v2_file(ctx: RuleContext, value: str, kind: str) -> Checked:
    """v2 takes images, videos and audio, by catalogue.INPUT_LIMITS['v2']."""
    return _media_file(ctx, value, catalogue.V2_INPUTS.media[kind], "v2")


def _image_api_file(ctx: RuleContext, value: str, kind: str) -> Checked:
    """The image API takes one image, a subject reference: catalogue.IMAGE_SUBJECT."""
    return _media_file(ctx, value, catalogue.IMAGE_SUBJECT, "image")


def _media_file(ctx: RuleContext, value: str, limits: catalogue.MediaLimits, api: str) -> Checked:
    key = (value, limits.kind, api)
    hit = ctx.media.get(key)
    if hit is None:
        hit = ctx.media[key] = _media_checked(value, limits, ctx.folder)
    return hit


def _media_checked(value: str, limits: catalogue.MediaLimits, folder: Path) -> Checked:
    kind = limits.kind
    early = _reference_problem(value, kind)
    if early is not None or imagefiles.kind(value) != "path":
        return Checked(early)
    target, problem = _local_target(value, folder, kind)
    if target is None:
        return Checked(problem)
    try:
        facts = mediafiles.facts(target)
    except OSError as exc:
        return Checked(f"cannot read '{lint.show(value)}': {exc.strerror or exc}")
    found = mediafiles.problem(facts, limits)
    return Checked(f"'{lint.show(value)}': {found}" if found else None, facts)


# API -> kind of input -> how a file of it is checked (a kind missing: never taken).
_FILE_CHECKS: dict[str, dict[str, Callable[[RuleContext, str, str], Checked]]] = {
    "v1": {"image": _v1_file},
    "v2": {kind: _v2_file for kind in catalogue.V2_INPUTS.media},
    "image": {"image": _image_api_file},
}


def _reference_problem(value: str, kind: str = "image") -> str | None:
    """What is wrong with a reference before any file is read: a hidden character, a URL we do not take."""
    hidden = lint.hidden_char(value)
    if hidden:
        return hidden
    if imagefiles.kind(value) != "path":
        return imagefiles.url_problem(value, kind)
    return None


def _local_target(value: str, folder: Path, kind: str) -> tuple[Path | None, str | None]:
    """(the file behind a local reference, None) or (None, why it cannot be used)."""
    try:
        target = imagefiles.resolve_local(value, folder)
    except imagefiles.ImageRefError as exc:
        return None, str(exc)
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable folder
        return None, f"cannot resolve '{lint.show(value)}': {exc}"
    if not target.exists():
        return None, f"{kind} file not found: '{lint.show(value)}' (paths are relative to the manifest's folder)"
    if not target.is_file():
        return None, f"'{lint.show(value)}' is not a file"
    return target, None


def _local_v1_image_problem(value: str, folder: Path) -> str | None:
    if imagefiles.kind(value) != "path":
        return None
    target, problem = _local_target(value, folder, "image")
    if target is None:
        return problem
    try:
        facts = imagefiles.facts(target)
    except OSError as exc:
        return f"cannot read '{lint.show(value)}': {exc.strerror or exc}"
    if facts.error:
        return f"'{lint.show(value)}': {facts.error}"
    return None


INPUT_RULES: tuple[Callable[[RuleContext, ShotView], None], ...] = (
    rule_input_fields, rule_reference_count, rule_input_files,
)
