"""A value as YAML text on one line, written so that YAML reads back that very value: numbers and
booleans plain; text in the quoting it had when it can stay so, plain when YAML 1.1 reads it back
as the same text (not `yes` -> true, `16:9` -> 969, `*x` -> an alias, `a # b` -> a comment),
else double-quoted with every character a reader could mistake escaped.
"""

from __future__ import annotations

import json
import math
import re

import yaml
from yaml.nodes import ScalarNode

from pipeline.errors import InputError
from pipeline.manifest import lint
from pipeline.manifest.yamlpos import YamlError, parse

__all__ = ["render"]

_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()
# Characters JSON leaves raw that a YAML double-quoted scalar may not hold raw (non-printable, or
# read as a line break): written as \\u escapes.
_NOT_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_PLAIN_START = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = set(",[]{}")


def render(value: object, style: str | None, flow: bool) -> str:
    """A value as YAML text on one line: numbers and booleans plain; text in the quoting it had
    when it can stay so, plain when YAML reads it back as the same text, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"cannot write {value}: a manifest holds finite numbers only")
        return repr(value)
    if not isinstance(value, str):
        raise InputError(f"cannot write {type(value).__name__} values; only text, numbers and true/false")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("the text is not valid Unicode (an undecodable byte?)") from None
    if style == "'" and _printable(value) and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    if style != '"' and _plain_reads_back(value, flow):
        return value
    return _double_quoted(value)


def _printable(value: str) -> bool:
    return lint.hidden_char(value) is None and not _NOT_RAW.search(value)


def _plain_reads_back(value: str, flow: bool) -> bool:
    """Whether `value` written plain is read back as this very text (not `yes` -> true, `16:9`
    -> 969, `*x` -> an alias, `a # b` -> a and a comment, ...)."""
    if not value or value != value.strip() or not _printable(value) or value[0] in _PLAIN_START:
        return False
    if ": " in value or " #" in value or value.endswith(":") or "\t" in value:
        return False
    if flow and _FLOW_INDICATORS & set(value):
        return False
    if _resolver.resolve(ScalarNode, value, (True, False)) != _STR_TAG:
        return False
    try:
        data, _, _ = parse(f"k: {value}\n" if not flow else f"{{k: {value}}}\n")
    except YamlError:
        return False
    return data == {"k": value}


def _double_quoted(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return _NOT_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
