"""The manifest JSON Schema and a fast validator for it that reports exactly what jsonschema does.

jsonschema's Draft202012Validator spends most of its time descending into each property:
it builds a validator object per value, about 60,000 of them for 10,000 shots. Most values
are plainly valid (a short string, an enum member), so this validator first tries a compiled
test of the property's simple keywords (type, enum, const, length, pattern, bounds); only a
value that fails it (or a subschema with other keywords) goes through jsonschema's own
descent, which then produces the real error. Valid values are still checked, every one; a
test holds the two validators to the same errors on every corpus file.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any, Callable, Iterator

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from pipeline.manifest.models import SCHEMA_PATH

_ANNOTATIONS = {"title", "description", "examples", "$comment", "default"}
_SIMPLE = {"type", "enum", "const", "maxLength", "minLength", "pattern", "minimum", "maximum"}
# Keywords that say nothing about a text value (JSON Schema applies each to its own type only).
_NOT_FOR_TEXT = {"properties", "required", "additionalProperties", "minProperties", "maxProperties",
                 "propertyNames", "items", "minItems", "maxItems", "minimum", "maximum"}
_TEXT_ONLY = {"minLength", "maxLength", "pattern"}  # keywords that say nothing about a mapping


@lru_cache(maxsize=1)
def schema() -> dict:
    """The manifest JSON Schema, as published in schemas/manifest.schema.json."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def shot_fields() -> tuple[str, ...]:
    """The fields a shot may set, as the schema lists them (there is no other list of them)."""
    return tuple(schema()["$defs"]["shot"]["properties"])


def inline_refs(doc: dict) -> dict:
    """The schema with its local `$ref`s replaced by their targets: the same rules without
    jsonschema resolving each `$ref` anew for every one of 10,000 shots."""
    defs = doc.get("$defs", {})

    def walk(node):
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items() if k not in ("$ref", "$defs")}
        ref = node.get("$ref")
        if ref is not None:
            if not ref.startswith("#/$defs/"):
                raise ValueError(f"only local $defs references are supported, not {ref}")
            target = walk(defs[ref.removeprefix("#/$defs/")])
            for key, value in target.items():
                if key in out and key not in _ANNOTATIONS and out[key] != value:
                    raise ValueError(f"$ref {ref} and its siblings disagree on '{key}'")
                out.setdefault(key, value)
        return out

    out = walk(doc)
    out["$schema"] = doc["$schema"]
    return out


def _quick_test(sub: dict) -> Callable[[Any], bool] | None:
    """A test that passes only values `sub` accepts, or None if `sub` is not simple enough."""
    kinds = sub.get("type")
    if isinstance(kinds, list) and set(kinds) == {"string", "object"}:
        # An image input: text, or a mapping that names another shot's output. Each keyword
        # applies to its own type only, so each type gets its own test.
        text = _quick_test({**{k: v for k, v in sub.items() if k not in _NOT_FOR_TEXT}, "type": "string"})
        mapping = _mapping_test({k: v for k, v in sub.items() if k not in _TEXT_ONLY})
        if text is None or mapping is None:
            return text
        return lambda v: text(v) if type(v) is str else mapping(v)
    if set(sub) - _ANNOTATIONS == {"anyOf"}:
        branches = [_quick_test(b) if isinstance(b, dict) else None for b in sub["anyOf"]]
        if any(t is None for t in branches):
            return None
        return lambda v: any(t(v) for t in branches)  # type: ignore[misc]
    keys = set(sub) - _ANNOTATIONS
    if not keys <= _SIMPLE:
        return None
    tests: list[Callable[[Any], bool]] = []
    kind = sub.get("type")
    if kind == "string":
        tests.append(lambda v: type(v) is str)
    elif kind == "integer":
        tests.append(lambda v: type(v) is int)  # 6.0 is valid too, but left to jsonschema
    elif kind == "number":
        tests.append(lambda v: (type(v) is int) or (type(v) is float and math.isfinite(v)))
    elif kind == "boolean":
        tests.append(lambda v: type(v) is bool)
    elif kind is not None:
        return None
    if "enum" in sub:
        members = sub["enum"]
        if not all(type(m) is str for m in members):
            return None
        allowed = frozenset(members)
        tests.append(lambda v: type(v) is str and v in allowed)
    if "const" in sub:
        const = sub["const"]
        if type(const) is not int:
            return None
        tests.append(lambda v: type(v) is int and v == const)
    is_text = kind == "string" or "enum" in sub
    if {"maxLength", "minLength", "pattern"} & keys and not is_text:
        return None
    if "maxLength" in sub:
        most = sub["maxLength"]
        tests.append(lambda v: len(v) <= most)
    if "minLength" in sub:
        least = sub["minLength"]
        tests.append(lambda v: len(v) >= least)
    if "pattern" in sub:
        search = re.compile(sub["pattern"]).search  # as jsonschema applies it
        tests.append(lambda v: search(v) is not None)
    if {"minimum", "maximum"} & keys and kind not in ("integer", "number"):
        return None
    if "minimum" in sub:
        low = sub["minimum"]
        tests.append(lambda v: v >= low)
    if "maximum" in sub:
        high = sub["maximum"]
        tests.append(lambda v: v <= high)
    if not tests:
        return None
    return lambda v: all(t(v) for t in tests)


def _mapping_test(sub: dict) -> Callable[[Any], bool] | None:
    """A test that passes only mappings `sub` accepts (fixed keys, each value simple), or None."""
    keys = set(sub) - _ANNOTATIONS - {"type"}
    if not keys <= {"properties", "required", "additionalProperties"} or sub.get("additionalProperties") is not False:
        return None
    props = {name: _quick_test(p) if isinstance(p, dict) else None for name, p in sub.get("properties", {}).items()}
    if any(t is None for t in props.values()):
        return None
    required = tuple(sub.get("required", ()))
    return lambda v: (type(v) is dict and all(r in v for r in required)
                      and all(k in props and props[k](x) for k, x in v.items()))  # type: ignore[misc]


def _fast_validator_class(quick: dict[int, Callable[[Any], bool]]):
    def properties(validator, props, instance, sub) -> Iterator[ValidationError]:
        if not validator.is_type(instance, "object"):
            return
        for name, subschema in props.items():
            if name in instance:
                test = quick.get(id(subschema))
                value = instance[name]
                if test is not None and test(value):
                    continue
                yield from validator.descend(value, subschema, path=name, schema_path=name)

    return validators.extend(Draft202012Validator, {"properties": properties})


@lru_cache(maxsize=1)
def validator():
    """The compiled manifest validator (fast path), built once per process."""
    Draft202012Validator.check_schema(schema())
    inlined = inline_refs(schema())
    quick: dict[int, Callable[[Any], bool]] = {}

    def collect(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    for sub in value.values():
                        test = _quick_test(sub) if isinstance(sub, dict) else None
                        if test is not None:
                            quick[id(sub)] = test
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(inlined)
    cls = _fast_validator_class(quick)
    return cls(inlined)  # it holds `inlined`, so the ids above stay valid


@lru_cache(maxsize=1)
def reference_validator() -> Draft202012Validator:
    """Plain jsonschema on the published schema, `$ref`s and all: the authority the fast one is tested against."""
    return Draft202012Validator(schema())
