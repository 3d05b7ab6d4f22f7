"""One shot as the rules see it: as written, merged with the defaults that apply to it (merging.py),
with its mode, its model and the API it goes to; and where to report a problem with one of its fields."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from pipeline.manifest import lint
from pipeline.manifest.merging import defaults_for
from pipeline.manifest.models import IMAGE_MODE, Severity
from pipeline.manifest.problems import Problems
from pipeline.manifest.yamlpos import clip
from pipeline.minimax import catalogue


@dataclass
class RuleContext:
    """What the shot rules share across one check."""

    problems: Problems
    folder: Path  # the manifest's folder: image paths are relative to it
    guessed: dict[tuple, set[str]]  # mapping path -> fields an unknown key there probably meant
    images: dict[str, str | None] = dc_field(default_factory=dict)  # image reference -> its problem, once per check
    switches: frozenset[str] = frozenset()  # the top-level switches set to true (catalogue.SWITCHES)
    media: dict[tuple[str, str, str], Any] = dc_field(default_factory=dict)  # (reference, kind, api) -> its check


class ShotView:
    """One shot as written (`raw`), merged with the defaults that apply to it (`defaults`: only
    those), with its mode and catalogue model when they are known (None: missing, or refused by
    the schema), and the API it goes to."""

    __slots__ = ("problems", "all_guessed", "here", "raw", "defaults", "merged", "mode", "model_name", "model",
                 "api", "is_still", "id")

    def __init__(self, ctx: RuleContext, index: int, raw: dict, defaults: dict):
        self.problems, self.all_guessed = ctx.problems, ctx.guessed
        self.here = ("shots", index)
        self.raw = raw
        self.defaults = defaults = defaults_for(raw, defaults)
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
        if self.model is None and isinstance(model_name, str):  # 'minimax-h3': checked as the model
            self.model = catalogue.MODELS_BY_FOLDED.get(model_name.casefold())  # meant (rule_model_known errs)
        # The API the request goes to: a model the catalogue does not know is sent to v1.
        self.api: catalogue.Api = self.model.api if self.model is not None else "v1"
        self.is_still = mode == IMAGE_MODE  # an image shot: a still from the image API
        sid = raw.get("id")
        self.id: str | None = sid if isinstance(sid, str) and sid else None  # when it is text

    @property
    def guessed(self) -> set[str] | tuple[()]:
        """The fields an unknown key in the shot probably meant (a rule does not call them missing)."""
        return self.all_guessed.get(self.here, ())

    @property
    def model_label(self) -> str:
        """How a message names the shot's model: its name, or what an unknown one is taken for."""
        if self.model is not None:
            return self.model.name
        return f"'{lint.show(clip(str(self.model_name)))}' (not in the catalogue, so sent to the {self.api} API)"

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

    def report_item(self, field: str, index: int, message: str, severity: Severity = "error") -> None:
        """A problem with item `index` of a list field, at the item, named 'field[index]'."""
        if field not in self.raw and field in self.defaults:
            message += " (set in defaults)"
        self.problems.at_value((*self.src(field), index), message, severity, report_as=(*self.here, field, index))

    def items(self, field: str) -> list[tuple[int, str]]:
        """(index, value) of each text item of a list field (the schema reported any other)."""
        value = self.merged.get(field)
        if not isinstance(value, list):
            return []
        return [(i, v) for i, v in enumerate(value) if isinstance(v, str) and v]
