"""The JSON Schema is the contract: it must agree with the catalogue, with the models the checker
builds, and (its fast validator) with plain jsonschema, on every example and corpus file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from pipeline.minimax import catalogue
from pipeline.manifest import lint, schemacheck
from pipeline.manifest.models import DERIVED_FIELDS, REFERENCE_FIELDS, Settings, Shot
from pipeline.manifest.yamlpos import YamlError, decode, parse

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
DOCS = sorted((ROOT / "manifests").glob("*.yaml")) + sorted((ROOT / "tests" / "manifests").glob("*/*.yaml"))


def resolve(node: dict) -> dict:
    """A property's schema with its $ref followed (one level, as the schema uses them)."""
    if "$ref" in node:
        target = SCHEMA["$defs"][node["$ref"].removeprefix("#/$defs/")]
        return {**resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def object_schemas(node, where="#"):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield where, node
        for key, value in node.items():
            yield from object_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from object_schemas(value, f"{where}/{i}")


def test_schema_is_valid_2020_12_with_id():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"]


def test_every_object_forbids_unknown_keys_and_every_property_is_documented():
    """Records (fixed fields) forbid unknown keys; maps (prices) constrain their keys and values."""
    objects = list(object_schemas(SCHEMA))
    records = [(w, o) for w, o in objects if "properties" in o]
    maps = [(w, o) for w, o in objects if "properties" not in o]
    assert len(records) == 4  # the manifest, a shot, defaults, {per_second: N}
    assert len(maps) == 3  # prices: model -> price, resolution -> price, duration -> price
    for where, obj in records:
        assert obj.get("additionalProperties") is False, where
        for name, prop in obj["properties"].items():
            full = resolve(prop)
            for key in ("title", "description", "examples"):
                assert full.get(key), f"{where}/properties/{name} has no {key}"
    for where, obj in maps:
        assert obj.get("propertyNames") and isinstance(obj.get("additionalProperties"), dict), where
        assert obj.get("minProperties") == 1, where
    for name, node in SCHEMA["$defs"].items():
        for key in ("title", "description", "examples"):
            assert node.get(key), f"$defs/{name} has no {key}"


def test_schema_agrees_with_the_catalogue():
    defs = SCHEMA["$defs"]
    assert defs["model"]["examples"] == list(catalogue.MODELS)
    assert defs["mode"]["enum"] == list(catalogue.MODES)
    resolutions = {r for m in catalogue.MODELS.values() for opts in m.options.values() for r in opts}
    assert set(defs["resolution"]["enum"]) == resolutions == set(catalogue.RESOLUTION_SIZES)
    assert defs["prompt"]["maxLength"] == catalogue.PROMPT_MAX_CHARS_ANY == max(
        m.prompt_max_chars for m in catalogue.MODELS.values())
    assert defs["ratio"]["enum"] == list(catalogue.RATIOS)
    assert defs["prompt_expansion"]["enum"] == list(catalogue.PROMPT_EXPANSIONS)
    for field, kind in REFERENCE_FIELDS.items():
        assert defs[field]["maxItems"] == catalogue.V2_INPUTS.max_references[kind]
    assert {k for k in SCHEMA["properties"] if k.startswith("allow_")} == set(catalogue.SWITCHES)
    assert all(SCHEMA["properties"][k]["type"] == "boolean" for k in catalogue.SWITCHES)
    for name in defs["model"]["description"].split("Unless set here or in defaults: ")[1].split(".")[0].split(", or "):
        assert name.split()[0] in catalogue.DEFAULT_MODEL.values()
    assert defs["safeName"]["pattern"] == lint.NAME_PATTERN.pattern
    assert defs["safeName"]["maxLength"] == lint.NAME_MAX


def test_schema_fields_match_the_models():
    """The schema is the one list of fields: the checker reads it, and the models hold every field."""
    shot_props = SCHEMA["$defs"]["shot"]["properties"]
    default_props = SCHEMA["$defs"]["defaults"]["properties"]
    assert set(shot_props) == set(schemacheck.shot_fields()) == set(Shot.model_fields) - set(DERIVED_FIELDS)
    assert set(default_props) == set(shot_props) - {"id"}
    assert set(SCHEMA["properties"]) == {"version", "name", "prices", "defaults", "shots", *Settings.model_fields,
                                         *catalogue.SWITCHES}
    assert SCHEMA["required"] == ["version", "name", "shots"]


def test_the_yaml_language_server_header_is_documented():
    assert "# yaml-language-server: $schema=../schemas/manifest.schema.json" in SCHEMA["description"]


def load_data(path: Path):
    try:
        data, _, notes = parse(decode(path.read_bytes()))
    except YamlError:
        return None
    return data


PARSED = [(p, load_data(p)) for p in DOCS]
PARSED = [(p, d) for p, d in PARSED if d is not None]


def test_the_agreement_tests_cover_valid_and_invalid_documents():
    reference = schemacheck.reference_validator()
    valid = [p for p, d in PARSED if reference.is_valid(d)]
    assert len(valid) >= 40 and len(PARSED) - len(valid) >= 40


def error_keys(validator, data):
    return sorted((tuple(e.absolute_path), e.validator, e.message) for e in validator.iter_errors(data))


@pytest.mark.parametrize("path, data", PARSED, ids=[p.stem for p, _ in PARSED])
def test_fast_validator_reports_exactly_what_jsonschema_does(path, data):
    assert error_keys(schemacheck.validator(), data) == error_keys(schemacheck.reference_validator(), data)


EDGE_VALUES = [None, True, False, 0, 1, -1, 6, 6.0, 6.5, 10**20, math.inf, math.nan, "", "x", "6", "768P",
               "768p", "text_to_video", "a..b", ".x", "a\n", "https://h/x", "http://h/x", "x" * 2001, [], {}, ["a"], [1]]


def assert_all_agree(data: dict, field: str, value) -> None:
    """The fast validator and the reference validator give the same errors."""
    reference = schemacheck.reference_validator()
    assert error_keys(schemacheck.validator(), data) == error_keys(reference, data), (field, value)


@pytest.mark.parametrize("field", sorted(SCHEMA["$defs"]["shot"]["properties"]))
def test_agreement_on_edge_values_for_every_shot_field(field):
    """Each edge value in each field: both validators give the same verdict."""
    for value in EDGE_VALUES:
        shot = {"id": "a", "mode": "text_to_video", "prompt": "x", field: value}
        data = {"version": 1, "name": "n", "shots": [shot]}
        assert_all_agree(data, field, value)


@pytest.mark.parametrize("field", ["version", "name", "rpm", "concurrency", "poll_interval", "max_cost"])
def test_agreement_on_edge_values_for_top_fields(field):
    """As above; NaN is left to the fast-validator check, as YAML reading refuses it (see yamlpos)."""
    for value in EDGE_VALUES:
        data = {"version": 1, "name": "n", "shots": [{"id": "a"}], field: value}
        assert_all_agree(data, field, value)


PRICE_SHAPES = [0.43, 0, {"per_second": 0.08}, {"per_second": -1}, {"per_second": "x"}, {"per_second": None},
                {"per_second": 0.08, "720P": 1}, {"per_second": 0.08, "6": 1}, {"per_second": 1, "x": 2},
                {"720P": 0.43}, {"720p": 0.43}, {"720": 0.43}, {"2K": 0.4}, {"6": 0.43}, {"06": 0.4}, {"6\n": 0.4},
                {"6.0": 0.4}, {"0": 0.4}, {"-6": 0.4}, {"6": {"per_second": 1}}, {"720P": {"6": 0.43}},
                {"720P": {}}, {"720P": {"6": -1}}, {"720P": {"per_second": 0.1}}, {"720P": [1]},
                {"per_secnd": 0.08}, {"": 1}]


@pytest.mark.parametrize("level", ["prices", "model", "resolution", "duration", "per_second", "model key"])
def test_agreement_on_edge_values_for_prices(level):
    """Every edge value at every level of prices: both validators and the checker's own reading of
    prices (which words the errors) give one verdict."""
    from pipeline.manifest.checker import price_shape_problems

    for value in EDGE_VALUES + PRICE_SHAPES:
        if level == "model key" and not isinstance(value, str):
            continue
        prices = {
            "prices": value,
            "model": {"T2V-01": value},
            "resolution": {"T2V-01": {"720P": value}},
            "duration": {"T2V-01": {"720P": {"6": value}}},
            "per_second": {"T2V-01": {"768P": {"per_second": value}}},
            "model key": {value: 0.43} if isinstance(value, str) else None,
        }[level]
        data = {"version": 1, "name": "n", "shots": [{"id": "a"}], "prices": prices}
        assert_all_agree(data, level, value)
        if isinstance(value, float) and math.isnan(value):
            continue
        valid = schemacheck.reference_validator().is_valid(data)
        assert valid == (not price_shape_problems(prices)), (level, value)
