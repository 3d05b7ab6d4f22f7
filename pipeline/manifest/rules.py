"""The rules a shot must keep beyond the schema, one function each, in the order they report.

Each rule looks at one shot with the defaults merged in (`ShotView`) and reports at the value
that breaks it: the shot's own field, else the default it inherits ("(set in defaults)"). A
rule that needs the mode or the model skips a shot whose mode or model the schema refused.
The rules about a shot's input files (frames, references) are in inputrules.py, an image shot's
own in imagerules.py; the rules between shots (one taking another's output) in chainrules.py.
"""

from __future__ import annotations

from typing import Callable

from pipeline.manifest import imagerules, inputrules, lint
from pipeline.manifest.models import DURATION_MAX
from pipeline.manifest.shotview import RuleContext, ShotView
from pipeline.manifest.words import did_you_mean, or_list
from pipeline.manifest.yamlpos import clip
from pipeline.minimax import catalogue

__all__ = ["RuleContext", "ShotView", "check_shots", "SHOT_RULES"]

# The optional fields only some video models take (catalogue.API_FIELDS and each model's own); a
# still's fields are imagerules' (aspect_ratio on a video shot, a video's field on a still).
_LIMITED_FIELDS = tuple(f for f in dict.fromkeys(
    [f for fields in catalogue.API_FIELDS.values() for f in sorted(fields)]
    + [f for m in catalogue.MODELS.values() for f in sorted(m.own_fields)]) if f != "aspect_ratio")
_VIDEO_MODELS = [n for n, m in catalogue.MODELS.items() if m.api != "image"]
TAKES_MAX = 100  # the schema's most takes of a shot (and highest pick)


def check_shots(ctx: RuleContext, shots: list, defaults: dict) -> list[ShotView]:
    """Every shot rule on every shot (each shot that is a mapping); the shots as the rules saw them."""
    views: list[ShotView] = []
    for i, raw in enumerate(shots):
        if not isinstance(raw, dict):
            continue
        shot = ShotView(ctx, i, raw, defaults)
        views.append(shot)
        for rule in SHOT_RULES:
            rule(ctx, shot)
    return views


def rule_mode(ctx: RuleContext, shot: ShotView) -> None:
    """A shot has a mode, its own or the default."""
    if "mode" not in shot.merged and "mode" not in shot.guessed:
        ctx.problems.at_value(shot.here, f"no mode; set mode ({or_list(catalogue.MODES)}) on the shot or in defaults")


def rule_model_known(ctx: RuleContext, shot: ShotView) -> None:
    """A model the catalogue does not know is sent as written, unchecked: a warning."""
    name = shot.model_name
    if isinstance(name, str) and shot.model is not None and shot.model.name != name:
        shot.report("model", f"'{lint.show(clip(name))}': model names are case-sensitive (the API would not "
                             f"know it); write '{shot.model.name}'")
    elif isinstance(name, str) and name and shot.model is None:
        guess = did_you_mean(name, catalogue.MODELS, cutoff=0.75)
        hint = f"; did you mean '{guess}'?" if guess else ""
        shot.report("model", f"'{lint.show(clip(name))}' is not in the catalogue; sent as written, and its "
                             f"duration and resolution are not checked{hint}", "warning")


def rule_model_does_mode(ctx: RuleContext, shot: ShotView) -> None:
    """The model does the mode; a model the catalogue does not know goes to v1, which must have the mode."""
    model, mode = shot.model, shot.mode
    if mode is None:
        return
    if model is not None and mode not in model.options:
        shot.report("model", f"{model.name} does not do {mode}; for {mode} use {or_list(catalogue.models_for(mode))}")
    elif model is None and isinstance(shot.model_name, str) and shot.model_name and \
            mode not in catalogue.api_modes(shot.api):
        shot.report("mode", f"{shot.model_label} has no {mode} mode; for {mode} use "
                            f"{or_list(catalogue.models_for(mode))}")


def rule_switched_mode(ctx: RuleContext, shot: ShotView) -> None:
    """A mode the official pages disagree on for this model is sent only when the manifest allows it."""
    model, mode = shot.model, shot.mode
    if model is None or mode is None or mode not in model.switched_modes:
        return
    switch = model.switched_modes[mode]
    if switch not in ctx.switches:
        others = [n for n in catalogue.models_for(mode) if mode not in catalogue.MODELS[n].switched_modes]
        shot.report("model", f"{model.name} with {mode} is refused unless allowed: "
                             f"{catalogue.SWITCHES[switch]}; use {or_list(others)}, or set "
                             f"'{switch}: true' at the top of the manifest to send it anyway")


def rule_limited_fields(ctx: RuleContext, shot: ShotView) -> None:
    """An optional field only some models take (v1's prompt_optimizer, v2's ratio, H3-Max's
    prompt_expansion) is refused on a model that does not: the API would refuse or drop it. A
    still's fields are imagerules'."""
    if not isinstance(shot.model_name, str) or not shot.model_name or shot.is_still:
        return
    for f in _LIMITED_FIELDS:
        if f not in shot.merged:
            continue
        takes = shot.model.takes_field(f) if shot.model is not None else f in catalogue.API_FIELDS[shot.api]
        if not takes:
            takers = [n for n in _VIDEO_MODELS if catalogue.MODELS[n].takes_field(f)]
            apis = {catalogue.MODELS[n].api for n in takers}
            who = or_list(takers) if len(takers) <= 3 or len(apis) > 1 else \
                f"the {apis.pop()} models ({', '.join(takers[:2])}, ...)"
            shot.report(f, f"{shot.model_label} does not take {f}; it is for {who}")


def rule_options(ctx: RuleContext, shot: ShotView) -> None:
    """The model offers the shot's resolution and duration (in its mode; a still has neither)."""
    model, mode, merged = shot.model, shot.mode, shot.merged
    if model is None or mode is None or mode not in model.options or shot.is_still:
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
    if model is None or mode is None or mode not in model.options or not model.takes_field("fast_pretreatment"):
        return  # a model that takes no fast_pretreatment at all: rule_limited_fields says so
    if shot.merged.get("fast_pretreatment") is True and mode not in model.fast_pretreatment:
        takers = [n for n, m in catalogue.MODELS.items() if mode in m.fast_pretreatment]
        where = f"; in {mode} only {or_list(takers)} take it" if takers else f"; no model takes it in {mode}"
        shot.report("fast_pretreatment", f"{model.name} does not take fast_pretreatment in {mode}{where}")


def rule_ratio(ctx: RuleContext, shot: ShotView) -> None:
    """v2's ratio by mode (catalogue.RATIO_BY_MODE): text alone needs a concrete one; with a frame
    the API uses the picture's shape and silently ignores any other (a warning)."""
    model, mode = shot.model, shot.mode
    if model is None or mode is None or mode not in model.options or not model.takes_field("ratio"):
        return
    rule, ratio = catalogue.RATIO_BY_MODE.get(mode), shot.merged.get("ratio")
    concrete = or_list([r for r in catalogue.RATIOS if r != "adaptive"])
    if rule == "concrete" and "ratio" not in shot.merged and "ratio" not in shot.guessed \
            and "aspect_ratio" not in shot.merged:  # imagerules says to write it as ratio
        shot.report("ratio", f"{mode} on {model.name} needs a ratio: {concrete}", at=shot.here)
    elif rule == "concrete" and ratio == "adaptive":
        shot.report("ratio", f"adaptive needs a picture to adapt to, and {mode} has none; use {concrete}")
    elif rule == "adaptive" and isinstance(ratio, str) and ratio in catalogue.RATIOS and ratio != "adaptive":
        shot.report("ratio", f"ignored: with a first or last frame the API takes the picture's shape "
                             f"(adaptive) and silently ignores {ratio}; remove ratio, or crop the image", "warning")


def rule_prompt(ctx: RuleContext, shot: ShotView) -> None:
    """text_to_video (and every v2 shot) has a prompt that says something, no longer than the
    model takes; no prompt hides characters."""
    prompt = shot.merged.get("prompt")
    if shot.mode == "text_to_video":
        needs = "text_to_video needs a prompt"
    elif shot.is_still:
        needs = "mode image needs a prompt: what the still shows"
    elif shot.model is not None and shot.model.prompt_required and shot.mode is not None:
        needs = f"{shot.model.name} needs a prompt in every mode"
    else:
        needs = None
    if needs and "prompt" not in shot.merged and "prompt" not in shot.guessed:
        shot.report("prompt", needs, at=shot.here)
    if isinstance(prompt, str):
        if needs and not prompt.strip():
            shot.report("prompt", f"{needs}; this one is empty")
        limit = catalogue.prompt_limit(shot.model_name) if isinstance(shot.model_name, str) else None
        if limit is not None and len(prompt) > limit:
            shot.report("prompt", f"is {len(prompt)} characters long; the API takes at most {limit}")
        hidden = lint.hidden_char(prompt, allow_newlines=True)
        if hidden:
            shot.report("prompt", hidden)


def rule_camera(ctx: RuleContext, shot: ShotView) -> None:
    """Warnings for [camera commands] the model does not know, at the command itself."""
    prompt = shot.merged.get("prompt")
    limit = catalogue.prompt_limit(shot.model_name) if isinstance(shot.model_name, str) else \
        catalogue.PROMPT_MAX_CHARS_ANY
    if not isinstance(prompt, str) or len(prompt) > limit or "[" not in prompt:
        return  # an over-long prompt is an error already
    pos = ctx.problems.pos
    lint_model = shot.model.name if shot.model is not None else None
    for finding in lint.camera_findings(prompt, lint_model, shot.mode):
        at = pos.find_text(shot.src("prompt"), finding.snippet)
        line, col = at if at else pos.value(shot.src("prompt"))
        name, field = ctx.problems.where((*shot.here, "prompt"))
        ctx.problems.add(line, col, finding.message, "warning", name, field)


def rule_pick(ctx: RuleContext, shot: ShotView) -> None:
    """The picked take is one the shot makes (the schema says it is a whole number from 1)."""
    pick, count = _whole(shot.merged.get("pick")), _whole(shot.merged.get("takes", 1))
    if pick is None or count is None or not 1 <= count <= TAKES_MAX or not count < pick <= TAKES_MAX:
        return
    name = lint.show(shot.id) if shot.id is not None else "the shot"
    fix = f"drop pick, or set takes: {pick}" if count == 1 else f"pick 1 to {count}, or set takes: {pick}"
    shot.report("pick", f"{name} has {count} take{'s' if count > 1 else ''}, so no take {pick}; {fix}")


def _whole(value: object) -> int | None:
    """A whole number as the schema takes one (2.0 is 2), else None (the schema reported it)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value if type(value) is int else None


SHOT_RULES: tuple[Callable[[RuleContext, ShotView], None], ...] = (
    rule_mode, rule_model_known, rule_model_does_mode, rule_switched_mode, rule_options, rule_limited_fields,
    *imagerules.IMAGE_RULES, rule_fast_pretreatment, rule_ratio, *inputrules.INPUT_RULES, rule_prompt, rule_camera,
    rule_pick,
)
