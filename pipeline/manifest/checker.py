"""Load and check a manifest: YAML with positions, the JSON Schema, then the catalogue's rules.

Every problem is one line that names the file, line, column, shot and field, and says the fix:

    manifests/x.yaml:7:5: shot 's03' field 'resolution': 1080P allows only 6 s; MiniMax-Hailuo-02 allows ...

`check(path)` returns every problem (errors and warnings, sorted by position) and never raises
for bad input; `load(path)` returns a typed `Manifest` or raises `ManifestError`. Nothing here
touches the network.
"""

from __future__ import annotations

import difflib
import gc
import os
import re
from pathlib import Path
from typing import Any, Iterable, get_args

from pydantic import ValidationError

from pipeline.minimax import catalogue
from pipeline.manifest import imagefiles, lint, schemacheck
from pipeline.errors import InputError
from pipeline.manifest.models import (
    DURATION_KEY_PATTERN, DURATION_MAX, IMAGE_FIELDS, MAX_FILE_BYTES, SHOT_FIELDS, USD_MAX, Manifest, ManifestPrices,
    PriceEntry, Problem, Resolution, Settings, Severity, Shot,
)
from pipeline.manifest.schemacheck import SCHEMA_PATH
from pipeline.manifest.yamlpos import Positions, YamlError, clip, decode, parse

__all__ = ["load", "check", "Manifest", "ManifestError", "Shot", "Problem", "Settings", "SCHEMA_PATH"]

SETTING_FIELDS = ("rpm", "concurrency", "poll_interval", "max_cost")
TOP_FIELDS = ("version", "name", *SETTING_FIELDS, "prices", "defaults", "shots")

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

# The output folder's own names (pipeline/review/reel.py, report.py, ledger.py, store.py, thumbs.py; the
# embedded simulator's .simulator/ and the hidden files start with '.', which no id may). A shot
# named so would make `shots reel` write its cut over the shot's paid video (reel.mp4), or put a
# video beside the folder's own files under a name that reads as one of them.
# tests/test_reserved_names.py holds this table to those modules' constants.
RESERVED_IDS = {
    "reel": "reel.mp4 for the cut (shots reel)",
    "report": "report.html for the contact sheet",
    "ledger": "ledger.jsonl for the ledger",
    "history": "history/ for the videos that edits replace",
    "thumbs": "thumbs/ for the contact sheet's frames",
}
RESERVED_SUFFIXES = {
    ".mp4": "videos and the reel", ".part": "downloads in progress", ".srt": "the reel's captions",
    ".html": "the contact sheet", ".jsonl": "the ledger", ".json": "the ledger's snapshot and the thumbnail index",
    ".jpg": "thumbnails", ".tmp": "files being written", ".lock": "the run lock",
}


def reserved_id_problem(shot_id: str) -> str | None:
    """Why a shot id names something the output folder uses for itself, or None. Without case:
    'Reel' and 'reel' are one file on macOS and Windows."""
    low = shot_id.lower()
    use = RESERVED_IDS.get(low)
    if use is not None:
        return f"'{lint.show(shot_id)}' is reserved: the output folder uses {use}; rename the shot"
    dot = low.rfind(".")
    use = RESERVED_SUFFIXES.get(low[dot:]) if dot > 0 else None
    if use is not None:
        return (f"'{lint.show(shot_id)}' is reserved: it ends in {low[dot:]}, which the output folder uses for {use} "
                f"(its video would be {lint.show(shot_id)}.mp4); rename the shot")
    return None


class ManifestError(InputError):
    """The manifest has at least one error; `.problems` holds every error and warning, sorted."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        first = errors[0] if errors else problems[0]
        more = len(problems) - 1
        text = str(first)
        if more:
            text += f" ({more} more problem{'s' if more > 1 else ''})"
        super().__init__(text)


def load(path: str | os.PathLike) -> Manifest:
    """The checked manifest at `path`; ManifestError listing every problem if it has any error."""
    problems, manifest = _Checker(path).run()
    if manifest is None:
        raise ManifestError(problems)
    return manifest


def check(path: str | os.PathLike) -> list[Problem]:
    """Every error and warning in the manifest at `path`, sorted by position. Never raises for bad input."""
    return _Checker(path).run()[0]


# ---------------------------------------------------------------------------------- the schema


_TYPE_WORDS = {
    "string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
    "object": "a mapping (key: value lines)", "array": "a list", "null": "nothing",
}


def _describe_value(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = lint.show(value if len(value) <= 40 else value[:37] + "...")
        return f"the text '{shown}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    choices = list(choices)
    by_lower = {c.lower(): c for c in choices}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None


def _or_list(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# ---------------------------------------------------------------------------------- the checker


class _Checker:
    """One check of one file: collects problems, then builds the Manifest if there is no error."""

    def __init__(self, path: str | os.PathLike):
        self.file = os.fspath(path)
        self.path = Path(path)
        self.dir = self.path.parent
        self.problems: list[Problem] = []
        self.data: Any = None
        self.pos: Positions | None = None
        self.guessed: dict[tuple, set[str]] = {}  # mapping path -> fields an unknown key probably meant
        self.image_results: dict[str, str | None] = {}  # image reference -> its problem, once per check
        self.shot_models: list[str] = []  # the model of each shot whose model is known, in shot order
        self.bad_prices: set[str] = set()  # models under prices: whose price is malformed
        self.said: set[tuple] = set()  # paths of values the reader reported in full (an infinite number)

    # -- reporting

    def where(self, path: tuple) -> tuple[str | None, str | None]:
        """(shot id, field path) for a JSON path, for the message prefix."""
        if len(path) >= 2 and path[0] == "shots" and isinstance(path[1], int):
            shot = self._shot_id(path[1])
            if shot is not None:
                return shot, _dotted(path[2:]) or None
        return None, _dotted(path) or None

    def _shot_id(self, index: int) -> str | None:
        shots = self.data.get("shots") if isinstance(self.data, dict) else None
        if isinstance(shots, list) and 0 <= index < len(shots) and isinstance(shots[index], dict):
            sid = shots[index].get("id")
            if isinstance(sid, str) and sid:
                return sid
        return None

    def add(self, line: int, col: int, message: str, severity: Severity = "error",
            shot: str | None = None, field: str | None = None) -> None:
        self.problems.append(Problem(self.file, line, col, message, severity, shot, field))

    def at_value(self, path: tuple, message: str, severity: Severity = "error", report_as: tuple | None = None):
        line, col = self.pos.value(path)
        shot, field = self.where(report_as if report_as is not None else path)
        self.add(line, col, message, severity, shot, field)

    def at_key(self, path: tuple, message: str, severity: Severity = "error", report_as: tuple | None = None):
        line, col = self.pos.key(path)
        shot, field = self.where(report_as if report_as is not None else path)
        self.add(line, col, message, severity, shot, field)

    # -- the run

    def run(self) -> tuple[list[Problem], Manifest | None]:
        # A big manifest is a million small containers and none of them cyclic: the cyclic
        # garbage collector would only re-scan them over and over (15% of a 10,000-shot load).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._read()
        except YamlError as exc:
            self.add(exc.line, exc.col, exc.message)
        except _Stop:
            pass
        finally:
            if collecting:
                gc.enable()
        self.problems.sort(key=lambda p: (p.line, p.col, p.severity != "error"))
        if any(p.severity == "error" for p in self.problems):
            return self.problems, None
        return self.problems, self._build()

    def _read(self) -> None:
        try:
            st = self.path.stat()
        except OSError as exc:
            self.add(1, 1, f"cannot read the manifest: {exc.strerror or exc}")
            raise _Stop from None
        if self.path.is_dir():
            self.add(1, 1, "this is a folder; give the manifest file (a .yaml file)")
            raise _Stop
        if st.st_size > MAX_FILE_BYTES:
            self.add(1, 1, f"the file is {st.st_size:,} bytes; a manifest may be at most "
                           f"{MAX_FILE_BYTES:,} bytes (50 MB)")
            raise _Stop
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)  # never more: a pipe or a device has no size to stat
        except OSError as exc:
            self.add(1, 1, f"cannot read the manifest: {exc.strerror or exc}")
            raise _Stop from None
        if len(raw) > MAX_FILE_BYTES:  # it grew between stat and read, or it is a stream
            self.add(1, 1, f"the file is over {MAX_FILE_BYTES:,} bytes (50 MB)")
            raise _Stop
        text = decode(raw)
        self.data, self.pos, notes = parse(text)
        for note in notes:
            line_col = (note.line, note.col)
            shot, field = self.where(note.path)
            self.add(*line_col, note.message, "error", shot, field)
            if note.says_all:
                self.said.add(note.path)
        if not isinstance(self.data, dict):
            line, col = self.pos.value(())
            self.add(line, col, "the top level must be a mapping with version, name and shots; "
                                f"found {_describe_value(self.data)}")
            raise _Stop
        self._schema_check()
        self._semantic_check()

    # -- schema errors, translated

    def _schema_check(self) -> None:
        seen: set[tuple] = set()
        errors = list(schemacheck.validator().iter_errors(self.data))
        price_errors = [e for e in errors if tuple(e.absolute_path)[:1] == ("prices",)]
        errors = [e for e in errors if tuple(e.absolute_path)[:1] != ("prices",)]
        self._price_shapes(price_errors)
        for err in errors:
            path = tuple(err.absolute_path)
            kind = err.validator
            if path in self.said:
                continue  # `max_cost: .inf` is not a finite number; "must be at most" would say it twice
            if kind == "additionalProperties":
                self._unknown_keys(path, err.instance, err.schema)
                continue
            if kind == "required":
                continue  # reported after all unknown keys are known (see below)
            key = (path, kind if kind in ("type", "const", "enum", "minItems") else "value")
            if key in seen:
                continue
            seen.add(key)
            self.at_value(path, self._schema_message(path, err))
        # Missing required fields, skipping any that an unknown key near it probably meant.
        for err in errors:
            if err.validator != "required":
                continue
            path = tuple(err.absolute_path)
            for name in err.validator_value:
                if name in err.instance or name in self.guessed.get(path, ()):
                    continue
                self.at_value(path, _missing_message(path, name), report_as=(*path, name))

    def _price_shapes(self, schema_errors: list) -> None:
        """`prices:` errors in our own words (the schema's anyOf only says "not valid under any")."""
        if "prices" not in self.data:
            return
        found = price_shape_problems(self.data["prices"])
        for path, at_key, message in found:
            if path in self.said:
                self.bad_prices.update(path[1:2])
                continue
            named = path[:path.index("")] if "" in path else path  # an empty key is no field name
            (self.at_key if at_key else self.at_value)(path, message, report_as=named)
            if len(path) >= 2:
                self.bad_prices.add(path[1])
        if not found and schema_errors:  # the two disagree (a test holds them together): never let a bad price through
            for err in schema_errors:
                self.at_value(tuple(err.absolute_path), f"internal check failed (please report): {err.message}")

    def _unknown_keys(self, path: tuple, instance: dict, subschema: dict) -> None:
        allowed = list(subschema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            guess = _did_you_mean(key, allowed)
            if key == "id" and path == ("defaults",):
                msg = "a shot id cannot be a default; each shot sets its own"
            elif path == () and key in SHOT_FIELDS:
                msg = f"unknown field at the top level; put '{key}' under 'defaults:' or in a shot"
            elif guess:
                msg = f"unknown field; did you mean '{guess}'?"
                self.guessed.setdefault(path, set()).add(guess)
            else:
                msg = "unknown field; allowed: " + ", ".join(allowed)
            self.at_key((*path, key), msg)

    def _schema_message(self, path: tuple, err) -> str:
        kind, value, rule = err.validator, err.instance, err.validator_value
        name = path[-1] if path else ""
        if kind == "type":
            expected = _TYPE_WORDS.get(rule, rule)
            msg = f"expected {expected}, got {_describe_value(value)}"
            if isinstance(value, bool) and rule == "string":
                msg += " (YAML reads yes/no/on/off as true/false; put the text in quotes)"
            if name == "shots" and rule == "array":
                msg += "; write each shot as a '- id: ...' item"
            elif len(path) == 2 and path[0] == "shots" and rule == "object":
                msg = f"each shot must be a mapping (id, mode, prompt, ...), got {_describe_value(value)}"
            return msg
        if kind == "const":
            return f"must be {rule}; this shots reads manifest version {rule}, got {_describe_value(value)}"
        if kind == "enum":
            choices = [str(c) for c in rule]
            msg = f"{_describe_value(value)} is not allowed; use {_or_list(choices)}"
            if isinstance(value, str):
                guess = _did_you_mean(value.replace("-", "_").replace(" ", "_"), choices)
                guess = guess or _did_you_mean(value + "P", choices)
                if guess:
                    msg += f"; did you mean '{guess}'?"
            return msg
        if name in ("id", "name") and isinstance(value, str) and len(path) in (1, 3):
            reason = lint.name_problem(value)
            if reason:
                return reason
        if kind == "maxLength" and isinstance(value, str):
            if name == "prompt":
                return (f"is {len(value)} characters long; the API takes at most "
                        f"{catalogue.PROMPT_MAX_CHARS}")
            return f"is {len(value)} characters long; at most {rule}"
        if kind == "minLength":
            return "must not be empty"
        if kind == "pattern" and name == "callback_url":
            return f"'{lint.show(str(value))}' is not an https URL; the callback must be https://..."
        if kind == "minimum":
            return f"must be at least {rule}, got {value}"
        if kind == "maximum":
            return f"must be at most {rule}, got {value}"
        if kind == "minItems":
            return "the shot list is empty; add at least one shot"
        return err.message

    # -- rules beyond the schema

    def _semantic_check(self) -> None:
        top = self.data
        name = top.get("name")
        if isinstance(name, str) and lint.NAME_PATTERN.search(name) and len(name) <= lint.NAME_MAX:
            reason = lint.name_problem(name)
            if reason:
                self.at_value(("name",), reason)
        defaults = top.get("defaults") if isinstance(top.get("defaults"), dict) else {}
        shots = top.get("shots") if isinstance(top.get("shots"), list) else []
        self._check_files(shots)
        for i, raw in enumerate(shots):
            if isinstance(raw, dict):
                self._check_shot(i, raw, defaults)
        if isinstance(top.get("prices"), dict):
            self._check_prices(top["prices"])

    def _check_files(self, shots: list) -> None:
        """Ids unique, also without case, and no two shots or takes writing one output file."""
        owners: dict[str, tuple[int, str, int]] = {}  # lower-case file stem -> (shot index, id, take)
        reported: set[tuple[int, int]] = set()
        for i, raw in enumerate(shots):
            if not isinstance(raw, dict):
                continue
            sid = raw.get("id")
            if not isinstance(sid, str) or not sid:
                continue
            if lint.NAME_PATTERN.search(sid) and len(sid) <= lint.NAME_MAX:
                # What the schema's pattern cannot see: a device name, a trailing newline, a name
                # the output folder uses for itself.
                reason = lint.name_problem(sid) or reserved_id_problem(sid)
                if reason:
                    self.at_value(("shots", i, "id"), reason)
            takes = raw.get("takes", 1)
            takes = takes if isinstance(takes, int) and not isinstance(takes, bool) and 1 <= takes <= 100 else 1
            for take in range(1, takes + 1):
                stem = sid if take == 1 else f"{sid}.take{take}"
                other = owners.get(stem.lower())
                if other is None:
                    owners[stem.lower()] = (i, sid, take)
                    continue
                j, other_id, other_take = other
                if j == i or (j, i) in reported:
                    continue
                reported.add((j, i))
                line = self.pos.value(("shots", j))[0]
                if other_id == sid:
                    msg = f"duplicate id '{lint.show(sid)}' (first used by the shot on line {line}); ids must be unique"
                elif other_id.lower() == sid.lower():
                    msg = (f"id '{lint.show(sid)}' differs from '{lint.show(other_id)}' (line {line}) only in case; "
                           "both would write one file on macOS and Windows")
                else:
                    msg = (f"take {take} would write {stem}.mp4, which shot '{lint.show(other_id)}' "
                           f"(line {line}) also writes; rename one of them")
                self.at_value(("shots", i, "id"), msg)

    def _check_shot(self, i: int, raw: dict, defaults: dict) -> None:
        here = ("shots", i)
        merged = {**defaults, **raw}

        def src(field: str) -> tuple:
            if field in raw:
                return (*here, field)
            if field in defaults:
                return ("defaults", field)
            return here

        def report(field: str, message: str, severity: Severity = "error", at: tuple | None = None) -> None:
            where = at if at is not None else src(field)
            if field not in raw and field in defaults and at is None:
                message += " (set in defaults)"
            self.at_value(where, message, severity, report_as=(*here, field))

        mode = merged.get("mode")
        if "mode" not in merged:
            if "mode" not in self.guessed.get(here, ()):
                self.at_value(here, "no mode; set mode (text_to_video, image_to_video, first_last_frame "
                                    "or subject_reference) on the shot or in defaults")
            mode = None
        elif mode not in catalogue.MODES:
            mode = None  # the schema reported it

        model_name = merged.get("model")
        if model_name is None and mode is not None:
            model_name = catalogue.DEFAULT_MODEL[mode]
        model = catalogue.MODELS.get(model_name) if isinstance(model_name, str) else None
        if isinstance(model_name, str) and model_name:
            self.shot_models.append(model_name)

        # The model, and what it allows.
        if isinstance(model_name, str) and model_name and model is None:
            guess = _did_you_mean(model_name, catalogue.MODELS, cutoff=0.75)
            hint = f"; did you mean '{guess}'?" if guess else ""
            report("model", f"'{lint.show(clip(model_name))}' is not in the catalogue; sent as written, and its "
                            f"duration and resolution are not checked{hint}", "warning")
        if model is not None and mode is not None:
            if mode not in model.options:
                report("model", f"{model.name} does not do {mode}; for {mode} use "
                                f"{_or_list(catalogue.models_for(mode))}")
            else:
                self._check_options(model, mode, merged, raw, report)
                fast = merged.get("fast_pretreatment")
                if fast is True and mode not in model.fast_pretreatment:
                    takers = [n for n, m in catalogue.MODELS.items() if mode in m.fast_pretreatment]
                    where = f"; in {mode} only {_or_list(takers)} take it" if takers else f"; no model takes it in {mode}"
                    report("fast_pretreatment", f"{model.name} does not take fast_pretreatment in {mode}{where}")

        # Images: exactly the ones the mode needs, each usable.
        if mode is not None:
            needs = NEEDS_IMAGES[mode]
            for f in IMAGE_FIELDS:
                if f in merged and f not in needs:
                    takes_it = _OTHER_MODE_FOR[f]
                    if mode == "text_to_video":
                        msg = f"text_to_video takes no images; remove {f} or use mode {takes_it}"
                    elif mode == "subject_reference" and f == "first_frame_image":
                        msg = "subject_reference takes no first_frame_image; the face goes in subject_image"
                    else:
                        msg = f"{mode} takes no {f}; {f} belongs to mode {takes_it}"
                    report(f, msg)
            for f in needs:
                if f not in merged and f not in self.guessed.get(here, ()):
                    report(f, f"{mode} needs {f} (a file path relative to the manifest, or an https URL)",
                           at=here)
        for f in IMAGE_FIELDS:
            value = merged.get(f)
            if isinstance(value, str) and value and (mode is None or f in NEEDS_IMAGES[mode]):
                problem = self._image_problem(value)
                if problem:
                    report(f, problem)

        # The prompt.
        prompt = merged.get("prompt")
        if mode == "text_to_video" and "prompt" not in merged and "prompt" not in self.guessed.get(here, ()):
            report("prompt", "text_to_video needs a prompt", at=here)
        if isinstance(prompt, str):
            if mode == "text_to_video" and not prompt.strip():
                report("prompt", "text_to_video needs a prompt; this one is empty")
            hidden = lint.hidden_char(prompt, allow_newlines=True)
            if hidden:
                report("prompt", hidden)
            if len(prompt) <= catalogue.PROMPT_MAX_CHARS and "[" in prompt:
                lint_model = model.name if model is not None else None
                for finding in lint.camera_findings(prompt, lint_model, mode):
                    at = self.pos.find_text(src("prompt"), finding.snippet)
                    line, col = at if at else self.pos.value(src("prompt"))
                    shot, field = self.where((*here, "prompt"))
                    self.add(line, col, finding.message, "warning", shot, field)

    def _check_prices(self, prices: dict) -> None:
        """Warnings for prices that can never apply: a model no shot uses, a price the catalogue
        already has (the catalogue's is official and wins), a resolution or duration the model
        does not offer."""
        used = list(dict.fromkeys(self.shot_models))
        for model_name, price in prices.items():
            if model_name in self.bad_prices:
                continue
            path = ("prices", model_name)
            if model_name not in used:
                guess = None if model_name in catalogue.MODELS else _did_you_mean(model_name, used, cutoff=0.75)
                shown = ", ".join(lint.show(m) for m in used)
                hint = f"; did you mean '{lint.show(guess)}'?" if guess else f"; the shots use {shown}" if used else ""
                self.at_key(path, f"no shot uses {lint.show(clip(model_name))}, so this price is never used{hint}", "warning")
                continue
            model = catalogue.MODELS.get(model_name)
            if model is None:
                continue
            for entry, where in _price_entries(model_name, price):
                reason = _ignored_price(model, entry)
                if reason:
                    self.at_key(where, reason, "warning")

    def _check_options(self, model, mode, merged, raw, report) -> None:
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
            report("resolution", f"{model.name} does not offer {resolution} for {mode}; it allows {allowed}")
        elif not any(duration in durs for durs in options.values()):
            report("duration", f"{model.name} does not offer {duration} s for {mode}; it allows {allowed}")
        else:
            only = " or ".join(str(d) for d in durations)
            blame = "duration" if "resolution" not in raw and "duration" in raw else "resolution"
            report(blame, f"{resolution} allows only {only} s; {model.name} allows {allowed}")

    def _image_problem(self, value: str) -> str | None:
        if value in self.image_results:
            return self.image_results[value]
        hidden = lint.hidden_char(value)
        if hidden:
            result = hidden
        elif imagefiles.kind(value) != "path":
            result = imagefiles.url_problem(value)
        else:
            result = self._local_image_problem(value)
        self.image_results[value] = result
        return result

    def _local_image_problem(self, value: str) -> str | None:
        try:
            target = imagefiles.resolve_local(value, self.dir)
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

    # -- the result

    def _build(self) -> Manifest | None:
        top = self.data
        defaults = dict(top.get("defaults") or {})
        shots: list[Shot] = []
        for i, raw in enumerate(top["shots"]):
            merged = {**defaults, **raw}
            mode = merged["mode"]
            merged.setdefault("model", catalogue.DEFAULT_MODEL[mode])
            known = catalogue.MODELS.get(merged["model"])
            if known is not None:
                merged.setdefault("duration", known.default_duration)
                merged.setdefault("resolution", known.default_resolution)
            if "tags" in merged:
                merged["tags"] = tuple(merged["tags"])
            merged["line"] = self.pos.value(("shots", i))[0]
            try:
                shots.append(Shot.model_validate(merged))
            except ValidationError as exc:  # the schema and the models disagree: a bug, said plainly
                line, col = self.pos.value(("shots", i))
                self.add(line, col, f"internal check failed (please report): {exc.errors()[0]['msg']}")
                return None
        settings = Settings(**{k: top.get(k) for k in SETTING_FIELDS})
        entries = []
        for model_name, price in (top.get("prices") or {}).items():
            for entry, where in _price_entries(model_name, price):
                entries.append(entry.model_copy(update={"line": self.pos.value(where)[0]}))
        return Manifest(
            path=self.path, dir=self.dir, version=top["version"], name=top["name"], shots=shots,
            settings=settings, warnings=[p for p in self.problems if p.severity == "warning"],
            defaults=defaults, prices=ManifestPrices(entries=tuple(entries)),
            setting_positions={k: self.pos.key((k,)) if isinstance(v, (dict, list)) else self.pos.value((k,))
                               for k, v in top.items()},
        )


class _Stop(Exception):
    """Reading cannot go on (the file is missing, too big, not a mapping)."""


# ---------------------------------------------------------------------------------- prices


RESOLUTIONS: tuple[str, ...] = get_args(Resolution)
_DURATION_KEY = re.compile(DURATION_KEY_PATTERN)  # searched, as jsonschema applies "pattern"
_PRICE = "a price in USD (a number)"
_MODEL_PRICE = "a price: a number (USD per video), {per_second: N} or prices by resolution (720P: 0.43)"
_RESOLUTION_PRICE = "a price: a number (USD per video), {per_second: N} or prices by duration (6: 0.43)"


def price_shape_problems(prices: Any) -> list[tuple[tuple, bool, str]]:
    """Every way `prices:` breaks the schema, as (JSON path, at the key?, message): the same
    verdict as the schema (a test holds them to it), in words that say the fix."""
    out: list[tuple[tuple, bool, str]] = []
    here = ("prices",)
    if not isinstance(prices, dict):
        out.append((here, False, f"expected a mapping of model: price lines, got {_describe_value(prices)}"))
        return out
    if not prices:
        out.append((here, False, "empty; give a price per model (S2V-01: 0.43) or remove prices:"))
    for model_name, price in prices.items():
        if not model_name:
            out.append(((*here, model_name), True, "a model name must not be empty"))
        elif not isinstance(price, dict):
            _usd((*here, model_name), price, out, _MODEL_PRICE)
        elif "per_second" in price:
            _per_second((*here, model_name), price, out, "by resolution")
        elif not price:
            out.append(((*here, model_name), False, f"an empty mapping; give {_MODEL_PRICE}"))
        else:
            for res, value in price.items():
                path = (*here, model_name, res)
                if res in RESOLUTIONS:
                    _resolution_price(path, value, out)
                    continue
                msg = f"'{lint.show(clip(str(res)))}' is not a resolution; use {_or_list(RESOLUTIONS)}, or per_second"
                guess = (_did_you_mean(res.replace("-", "_").replace(" ", "_"), [*RESOLUTIONS, "per_second"])
                         or (_did_you_mean(res + "P", RESOLUTIONS, cutoff=1.0)))
                if guess:
                    msg += f"; did you mean '{guess}'?"
                elif _DURATION_KEY.search(res):
                    msg += f" (a duration goes under a resolution: 720P: {{{res}: ...}})"
                out.append((path, True, msg))
    return out


def _usd(path: tuple, value: Any, out: list, what: str = _PRICE) -> None:
    if type(value) is bool or not isinstance(value, (int, float)):
        msg = f"expected {what}, got {_describe_value(value)}"
        if isinstance(value, str) and re.fullmatch(r"\s*(US)?\$?\s*[0-9]+(\.[0-9]*)?\s*(USD|\$)?\s*", value):
            msg += "; write the number alone, without quotes, $ or USD"
        out.append((path, False, msg))
    elif value < 0:
        out.append((path, False, f"must be at least 0, got {value}"))
    elif value > USD_MAX:
        out.append((path, False, f"must be at most {USD_MAX:,} (USD), got {value}"))


def _per_second(path: tuple, price: dict, out: list, other: str) -> None:
    for key in price:
        if key != "per_second":
            out.append(((*path, key), True, f"a price is either per_second or {other}, not both; "
                                            f"remove '{lint.show(str(key))}' or per_second"))
    _usd((*path, "per_second"), price["per_second"], out)


def _resolution_price(path: tuple, value: Any, out: list) -> None:
    if not isinstance(value, dict):
        _usd(path, value, out, _RESOLUTION_PRICE)
    elif "per_second" in value:
        _per_second(path, value, out, "by duration")
    elif not value:
        out.append((path, False, f"an empty mapping; give {_RESOLUTION_PRICE}"))
    else:
        for dur, usd in value.items():
            if _DURATION_KEY.search(dur):
                _usd((*path, dur), usd, out)
            elif dur.isascii() and dur.isdigit() and dur[0] != "0":
                out.append(((*path, dur), True, f"{clip(dur)} seconds is too long a duration; at most {DURATION_MAX}"))
            else:
                out.append(((*path, dur), True, f"'{lint.show(clip(str(dur)))}' is not a duration; write whole "
                                                "seconds as the key, as in 6: 0.43"))


def _price_entries(model_name: str, price: Any) -> list[tuple[PriceEntry, tuple]]:
    """The entries of one valid model price, each with the path of its number (line 0 for now)."""
    here = ("prices", model_name)

    def leaf(value, path, resolution=None, duration=None) -> tuple[PriceEntry, tuple]:
        if isinstance(value, dict):  # {per_second: N}
            return (PriceEntry(model=model_name, resolution=resolution, duration=duration,
                               usd=value["per_second"], per_second=True), (*path, "per_second"))
        return PriceEntry(model=model_name, resolution=resolution, duration=duration, usd=value), path

    if not isinstance(price, dict) or "per_second" in price:
        return [leaf(price, here)]
    out = []
    for res, value in price.items():
        if isinstance(value, dict) and "per_second" not in value:
            out += [leaf(usd, (*here, res, dur), res, int(dur)) for dur, usd in value.items()]
        else:
            out.append(leaf(value, (*here, res), res))
    return out


def _ignored_price(model: catalogue.Model, entry: PriceEntry) -> str | None:
    """Why a declared price for a catalogue model never applies, or None if it can."""
    by_height = lambda rd: (catalogue.RESOLUTION_SIZES.get(rd[0], (0, 0))[1], rd[0], rd[1])  # noqa: E731
    offered = sorted({(res, dur) for options in model.options.values() for res, durs in options.items()
                      for dur in durs}, key=by_height)
    covered = [(r, d) for r, d in offered
               if (entry.resolution is None or r == entry.resolution) and (entry.duration is None or d == entry.duration)]
    if not covered:
        what = " ".join(x for x in (entry.resolution, f"{entry.duration} s" if entry.duration else None) if x)
        options: dict[str, tuple[int, ...]] = {}
        for r, d in offered:
            options[r] = (*options.get(r, ()), d)
        return (f"{model.name} does not offer {what}, so this price is never used; it offers "
                f"{catalogue.describe_options(options)}")
    known = [(r, d, model.price(r, d)) for r, d in covered]
    if any(p is None for _, _, p in known):
        return None  # it prices what the catalogue does not
    if len({p for _, _, p in known}) == 1:
        return f"the catalogue price {catalogue.usd(known[0][2])} applies; this entry is ignored"
    listed = ", ".join(f"{r} {d} s: {catalogue.usd(p)}" for r, d, p in known)
    return f"the catalogue prices apply ({listed}); this entry is ignored"


def _dotted(path: Iterable) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{clip(part)}" if out else clip(str(part)))
    return out


def _missing_message(path: tuple, name: str) -> str:
    if path == ():
        return {
            "version": "missing; add 'version: 1' at the top",
            "name": "missing; add 'name: <output folder name>'",
            "shots": "missing; add 'shots:' with at least one shot",
        }.get(name, "missing")
    if name == "id":
        return "missing; every shot needs an id (it names the output file)"
    return "missing"
