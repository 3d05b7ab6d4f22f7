"""The schema's errors in our words: jsonschema says what is wrong, these messages say the fix.

Unknown keys get a "did you mean"; a missing field is not reported where an unknown key beside
it probably meant it; `prices:` is worded by `prices.price_shape_problems` (the schema's anyOf
only says "not valid under any"); one place gets one message per kind of error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema.exceptions import ValidationError

from pipeline.manifest import lint, schemacheck
from pipeline.manifest.prices import price_shape_problems
from pipeline.manifest.problems import Problems
from pipeline.manifest.words import TYPE_WORDS, describe_value, did_you_mean, or_list

_RATIO = re.compile(r"[0-9]+:[0-9]+")
_NOT_FROM_SHOTS = ("reference_videos", "reference_audio")  # inputs that are files only, never a shot's output
_MISSING_AT_TOP = {
    "version": "missing; add 'version: 1' at the top",
    "name": "missing; add 'name: <output folder name>'",
    "shots": "missing; add 'shots:' with at least one shot",
}


@dataclass
class SchemaFindings:
    """What the schema check learnt that later rules need."""

    guessed: dict[tuple, set[str]] = field(default_factory=dict)  # mapping path -> fields an unknown key probably meant
    bad_prices: set[str] = field(default_factory=set)  # models under prices: whose price is malformed


def report_schema_errors(problems: Problems, data: dict, said: set[tuple]) -> SchemaFindings:
    """Every schema error in `data`, in our words. `said`: paths the YAML reader already reported
    in full (an infinite number), which get no second message."""
    found = SchemaFindings()
    seen: set[tuple] = set()
    errors = list(schemacheck.validator().iter_errors(data))
    price_errors = [e for e in errors if tuple(e.absolute_path)[:1] == ("prices",)]
    errors = [e for e in errors if tuple(e.absolute_path)[:1] != ("prices",)]
    _price_shapes(problems, data, said, price_errors, found)
    for err in errors:
        path = tuple(err.absolute_path)
        kind = err.validator
        if path in said:
            continue  # `max_cost: .inf` is not a finite number; "must be at most" would say it twice
        if kind == "additionalProperties":
            _unknown_keys(problems, path, err.instance, err.schema, found.guessed)
            continue
        if kind == "required":
            continue  # reported after all unknown keys are known (see below)
        if kind == "maxLength" and path[-1:] == ("prompt",):
            continue  # the schema's limit is the longest any model takes: rule_prompt applies the shot's model's
        key = (path, kind if kind in ("type", "const", "enum", "minItems") else "value")
        if key in seen:
            continue
        seen.add(key)
        problems.at_value(path, schema_message(path, err))
    # Missing required fields, skipping any that an unknown key near it probably meant.
    for err in errors:
        if err.validator != "required":
            continue
        path = tuple(err.absolute_path)
        for name in err.validator_value:
            if name in err.instance or name in found.guessed.get(path, ()):
                continue
            problems.at_value(path, _missing_message(path, name), report_as=(*path, name))
    return found


def _price_shapes(problems: Problems, data: dict, said: set[tuple], schema_errors: list[ValidationError],
                  found: SchemaFindings) -> None:
    """`prices:` errors in our own words (the schema's anyOf only says "not valid under any")."""
    if "prices" not in data:
        return
    shapes = price_shape_problems(data["prices"])
    for path, at_key, message in shapes:
        if path in said:
            found.bad_prices.update(path[1:2])
            continue
        named = path[:path.index("")] if "" in path else path  # an empty key is no field name
        (problems.at_key if at_key else problems.at_value)(path, message, report_as=named)
        if len(path) >= 2:
            found.bad_prices.add(path[1])
    if not shapes and schema_errors:  # the two disagree (a test holds them together): never let a bad price through
        for err in schema_errors:
            problems.at_value(tuple(err.absolute_path), f"internal check failed (please report): {err.message}")


def _unknown_keys(problems: Problems, path: tuple, instance: dict, subschema: dict,
                  guessed: dict[tuple, set[str]]) -> None:
    allowed = list(subschema.get("properties", {}))
    for key in instance:
        if key in allowed:
            continue
        guess = did_you_mean(key, allowed)
        if key == "id" and path == ("defaults",):
            msg = "a shot id cannot be a default; each shot sets its own"
        elif path == () and key in schemacheck.shot_fields():
            msg = f"unknown field at the top level; put '{key}' under 'defaults:' or in a shot"
        elif guess:
            msg = f"unknown field; did you mean '{guess}'?"
            guessed.setdefault(path, set()).add(guess)
        else:
            msg = "unknown field; allowed: " + ", ".join(allowed)
        problems.at_key((*path, key), msg)


def schema_message(path: tuple, err: ValidationError) -> str:
    """One jsonschema error (not `required`, not `additionalProperties`) in words that say the fix."""
    kind, value, rule = err.validator, err.instance, err.validator_value
    name = path[-1] if path else ""
    if kind == "type":
        return _type_message(path, value, rule)
    if kind == "const":
        return f"must be {rule}; this shots reads manifest version {rule}, got {describe_value(value)}"
    if kind == "enum":
        return _enum_message(value, rule)
    if kind == "anyOf" and name == "frame":
        return _frame_message(value)
    if name in ("id", "name") and isinstance(value, str) and len(path) in (1, 3):
        reason = lint.name_problem(value)
        if reason:
            return reason
    if kind == "maxLength" and isinstance(value, str):
        return f"is {len(value)} characters long; at most {rule}"
    if kind == "maxItems" and isinstance(value, list):
        return f"lists {len(value)} files; the API takes at most {rule} {str(name).replace('_', ' ')}"
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


def _type_message(path: tuple, value: Any, rule: str | list) -> str:
    name = path[-1] if path else ""
    if isinstance(value, dict) and len(path) >= 2 and path[-2] in _NOT_FROM_SHOTS:
        return (f"expected text, got a mapping: only image inputs can be another shot's output; {path[-2]} takes "
                "files (a path relative to the manifest, or an https URL)")
    if isinstance(rule, list):  # an image input: text, or a mapping naming another shot's output
        rule = "string"
    expected = TYPE_WORDS.get(rule, rule)
    msg = f"expected {expected}, got {describe_value(value)}"
    if isinstance(value, bool) and rule == "string":
        msg += " (YAML reads yes/no/on/off as true/false; put the text in quotes)"
    if name == "shots" and rule == "array":
        msg += "; write each shot as a '- id: ...' item"
    elif len(path) == 2 and path[0] == "shots" and rule == "object":
        msg = f"each shot must be a mapping (id, mode, prompt, ...), got {describe_value(value)}"
    return msg


def _enum_message(value: Any, rule: list) -> str:
    choices = [str(c) for c in rule]
    sexagesimal = f"{value // 60}:{value % 60}" if type(value) is int and value > 0 else None
    if sexagesimal in choices:  # YAML 1.1 reads 16:9 unquoted as a number in base 60: 969
        return f"YAML reads {sexagesimal} without quotes as the number {value} (base 60); write \"{sexagesimal}\""
    msg = f"{describe_value(value)} is not allowed; use {or_list(choices)}"
    if isinstance(value, str) and not _RATIO.fullmatch(value):  # 16:10 is no typo of 1:1
        guess = did_you_mean(value.replace("-", "_").replace(" ", "_"), choices)
        guess = guess or did_you_mean(value + "P", choices)
        if guess:
            msg += f"; did you mean '{guess}'?"
    return msg


def _frame_message(value: Any) -> str:
    """A FrameRef's `frame` that is neither first, last nor a time from the start."""
    choices = "first, last or a time in seconds from the start (2.5)"
    if type(value) in (int, float) and value < 0:
        return f"a frame time cannot be negative ({value:g} s); use {choices}"
    if isinstance(value, str):
        guess = did_you_mean(value, ["first", "last"])
        hint = f"; did you mean '{guess}'?" if guess else ""
        return f"{describe_value(value)} is not a frame; use {choices}{hint}"
    return f"expected {choices}, got {describe_value(value)}"


def _missing_message(path: tuple, name: str) -> str:
    if path == ():
        return _MISSING_AT_TOP.get(name, "missing")
    if name == "id":
        return "missing; every shot needs an id (it names the output file)"
    if name == "shot":
        return "missing; another shot's output names that shot: {shot: s01, frame: last}"
    return "missing"
