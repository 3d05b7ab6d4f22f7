"""The rules a shot must keep beyond the schema, one function each, in the order they report.

Each rule looks at one shot with the defaults merged in (`ShotView`) and reports at the value
that breaks it: the shot's own field, else the default it inherits ("(set in defaults)"). A
rule that needs the mode or the model skips a shot whose mode or model the schema refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, Callable

from pipeline.manifest import imagefiles, lint
from pipeline.manifest.models import DURATION_MAX, IMAGE_FIELDS, Severity
from pipeline.manifest.problems import Problems
from pipeline.manifest.words import did_you_mean, or_list
from pipeline.manifest.yamlpos import clip
from pipeline.minimax import catalogue

# Which images each mode needs; a mode takes exactly the images it needs.
NEEDS_IMAGES: dict[str, tuple[str, ...]] = {
    "text_to_video": (),
    "image_to_video": ("first_frame_image",),
    "first_last_frame": ("first_frame_image", "last_frame_image"),
    "subject_reference": ("subject_image",),
}
_OTHER_MODE_FOR = {  # an image field that is wrong in this mode -> the mode that takes it
    "first_frame_image": "image_to_video or first_last_frame",
    "last_frame_image": "first_last_frame",
    "subject_image": "subject_reference",
}


@dataclass
class RuleContext:
    """What the shot rules share across one check."""

    problems: Problems
    folder: Path  # the manifest's folder: image paths are relative to it
    guessed: dict[tuple, set[str]]  # mapping path -> fields an unknown key there probably meant
    images: dict[str, str | None] = dc_field(default_factory=dict)  # image reference -> its problem, once per check


class ShotView:
    """One shot as written (`raw`), merged with the defaults, with its mode and catalogue model
    when they are known (None: missing, or refused by the schema)."""

    __slots__ = ("problems", "all_guessed", "here", "raw", "defaults", "merged", "mode", "model_name", "model")

    def __init__(self, ctx: RuleContext, index: int, raw: dict, defaults: dict):
        self.problems, self.all_guessed = ctx.problems, ctx.guessed
        self.here = ("shots", index)
        self.raw, self.defaults = raw, defaults
        self.merged = merged = {**defaults, **raw}
        mode = merged.get("mode")
        if "mode" not in merged or mode not in catalogue.MODES:
            mode = None  # missing (rule_mode says so) or not a mode (the schema said so)
        self.mode: str | None = mode
        model_name = merged.get("model")
        if model_name is None and mode is not None:
            model_name = catalogue.DEFAULT_MODEL[mode]
        self.model_name: Any = model_name  # as written: the schema reports one that is not text
        self.model = catalogue.MODELS.get(model_name) if isinstance(model_name, str) else None

    @property
    def guessed(self) -> set[str] | tuple[()]:
        """The fields an unknown key in the shot probably meant (a rule does not call them missing)."""
        return self.all_guessed.get(self.here, ())

    def src(self, field: str) -> tuple:
        """Where `field`'s value is written: in the shot, in defaults, or nowhere (the shot)."""
        if field in self.raw:
            return (*self.here, field)
        if field in self.defaults:
            return ("defaults", field)
        return self.here

    def report(self, field: str, message: str, severity: Severity = "error", at: tuple | None = None) -> None:
        """A problem with the shot's `field`, at its value (or at `at`), named as the shot's field."""
        where = at if at is not None else self.src(field)
        if field not in self.raw and field in self.defaults and at is None:
            message += " (set in defaults)"
        self.problems.at_value(where, message, severity, report_as=(*self.here, field))


def check_shots(ctx: RuleContext, shots: list, defaults: dict) -> list[str]:
    """Every shot rule on every shot; the model name of each shot that names one, in shot order."""
    models: list[str] = []
    for i, raw in enumerate(shots):
        if not isinstance(raw, dict):
            continue
        shot = ShotView(ctx, i, raw, defaults)
        if isinstance(shot.model_name, str) and shot.model_name:
            models.append(shot.model_name)
        for rule in SHOT_RULES:
            rule(ctx, shot)
    return models


def rule_mode(ctx: RuleContext, shot: ShotView) -> None:
    """A shot has a mode, its own or the default."""
    if "mode" not in shot.merged and "mode" not in shot.guessed:
        ctx.problems.at_value(shot.here, "no mode; set mode (text_to_video, image_to_video, first_last_frame "
                                         "or subject_reference) on the shot or in defaults")


def rule_model_known(ctx: RuleContext, shot: ShotView) -> None:
    """A model the catalogue does not know is sent as written, unchecked: a warning."""
    name = shot.model_name
    if isinstance(name, str) and name and shot.model is None:
        guess = did_you_mean(name, catalogue.MODELS, cutoff=0.75)
        hint = f"; did you mean '{guess}'?" if guess else ""
        shot.report("model", f"'{lint.show(clip(name))}' is not in the catalogue; sent as written, and its "
                             f"duration and resolution are not checked{hint}", "warning")


def rule_model_does_mode(ctx: RuleContext, shot: ShotView) -> None:
    model, mode = shot.model, shot.mode
    if model is not None and mode is not None and mode not in model.options:
        shot.report("model", f"{model.name} does not do {mode}; for {mode} use {or_list(catalogue.models_for(mode))}")


def rule_options(ctx: RuleContext, shot: ShotView) -> None:
    """The model offers the shot's resolution and duration (in its mode)."""
    model, mode, merged = shot.model, shot.mode, shot.merged
    if model is None or mode is None or mode not in model.options:
        return
    options = model.options[mode]
    duration = merged.get("duration", model.default_duration)
    resolution = merged.get("resolution", model.default_resolution)
    if not isinstance(duration, int) or isinstance(duration, bool) or not 1 <= duration <= DURATION_MAX:
        return  # the schema reported it
    if resolution not in catalogue.RESOLUTION_SIZES:
        return  # the schema reported it
    durations = options.get(resolution)
    if durations is not None and duration in durations:
        return
    allowed = catalogue.describe_options(options)
    if durations is None:
        shot.report("resolution", f"{model.name} does not offer {resolution} for {mode}; it allows {allowed}")
    elif not any(duration in durs for durs in options.values()):
        shot.report("duration", f"{model.name} does not offer {duration} s for {mode}; it allows {allowed}")
    else:
        only = " or ".join(str(d) for d in durations)
        blame = "duration" if "resolution" not in shot.raw and "duration" in shot.raw else "resolution"
        shot.report(blame, f"{resolution} allows only {only} s; {model.name} allows {allowed}")


def rule_fast_pretreatment(ctx: RuleContext, shot: ShotView) -> None:
    model, mode = shot.model, shot.mode
    if model is None or mode is None or mode not in model.options:
        return
    if shot.merged.get("fast_pretreatment") is True and mode not in model.fast_pretreatment:
        takers = [n for n, m in catalogue.MODELS.items() if mode in m.fast_pretreatment]
        where = f"; in {mode} only {or_list(takers)} take it" if takers else f"; no model takes it in {mode}"
        shot.report("fast_pretreatment", f"{model.name} does not take fast_pretreatment in {mode}{where}")


def rule_image_fields(ctx: RuleContext, shot: ShotView) -> None:
    """A mode takes exactly the images it needs."""
    mode = shot.mode
    if mode is None:
        return
    needs = NEEDS_IMAGES[mode]
    for f in IMAGE_FIELDS:
        if f in shot.merged and f not in needs:
            takes_it = _OTHER_MODE_FOR[f]
            if mode == "text_to_video":
                msg = f"text_to_video takes no images; remove {f} or use mode {takes_it}"
            elif mode == "subject_reference" and f == "first_frame_image":
                msg = "subject_reference takes no first_frame_image; the face goes in subject_image"
            else:
                msg = f"{mode} takes no {f}; {f} belongs to mode {takes_it}"
            shot.report(f, msg)
    for f in needs:
        if f not in shot.merged and f not in shot.guessed:
            shot.report(f, f"{mode} needs {f} (a file path relative to the manifest, or an https URL)", at=shot.here)


def rule_image_files(ctx: RuleContext, shot: ShotView) -> None:
    """Each image the mode takes is usable: an https URL, or an image file inside the project."""
    for f in IMAGE_FIELDS:
        value = shot.merged.get(f)
        if isinstance(value, str) and value and (shot.mode is None or f in NEEDS_IMAGES[shot.mode]):
            problem = _image_problem(ctx, value)
            if problem:
                shot.report(f, problem)


def rule_prompt(ctx: RuleContext, shot: ShotView) -> None:
    """text_to_video has a prompt that says something; no prompt hides characters."""
    prompt = shot.merged.get("prompt")
    if shot.mode == "text_to_video" and "prompt" not in shot.merged and "prompt" not in shot.guessed:
        shot.report("prompt", "text_to_video needs a prompt", at=shot.here)
    if isinstance(prompt, str):
        if shot.mode == "text_to_video" and not prompt.strip():
            shot.report("prompt", "text_to_video needs a prompt; this one is empty")
        hidden = lint.hidden_char(prompt, allow_newlines=True)
        if hidden:
            shot.report("prompt", hidden)


def rule_camera(ctx: RuleContext, shot: ShotView) -> None:
    """Warnings for [camera commands] the model does not know, at the command itself."""
    prompt = shot.merged.get("prompt")
    if not isinstance(prompt, str) or len(prompt) > catalogue.PROMPT_MAX_CHARS or "[" not in prompt:
        return
    pos = ctx.problems.pos
    lint_model = shot.model.name if shot.model is not None else None
    for finding in lint.camera_findings(prompt, lint_model, shot.mode):
        at = pos.find_text(shot.src("prompt"), finding.snippet)
        line, col = at if at else pos.value(shot.src("prompt"))
        name, field = ctx.problems.where((*shot.here, "prompt"))
        ctx.problems.add(line, col, finding.message, "warning", name, field)


SHOT_RULES: tuple[Callable[[RuleContext, ShotView], None], ...] = (
    rule_mode, rule_model_known, rule_model_does_mode, rule_options, rule_fast_pretreatment,
    rule_image_fields, rule_image_files, rule_prompt, rule_camera,
)


def _image_problem(ctx: RuleContext, value: str) -> str | None:
    """Why an image reference cannot be used, or None; each reference is looked at once per check."""
    if value in ctx.images:
        return ctx.images[value]
    hidden = lint.hidden_char(value)
    if hidden:
        result = hidden
    elif imagefiles.kind(value) != "path":
        result = imagefiles.url_problem(value)
    else:
        result = _local_image_problem(value, ctx.folder)
    ctx.images[value] = result
    return result


def _local_image_problem(value: str, folder: Path) -> str | None:
    try:
        target = imagefiles.resolve_local(value, folder)
    except imagefiles.ImageRefError as exc:
        return str(exc)
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable folder
        return f"cannot resolve '{lint.show(value)}': {exc}"
    if not target.exists():
        return f"image file not found: '{lint.show(value)}' (paths are relative to the manifest's folder)"
    if not target.is_file():
        return f"'{lint.show(value)}' is not a file"
    try:
        facts = imagefiles.facts(target)
    except OSError as exc:
        return f"cannot read '{lint.show(value)}': {exc.strerror or exc}"
    if facts.error:
        return f"'{lint.show(value)}': {facts.error}"
    return None
