"""Where a shot's fields are written in a manifest's text, from the first character of each key
to the last of its value: what an in-place edit (edit.py) replaces. From libyaml's events, which
carry the end marks that yamlpos does not keep (only an edit needs them; a load of 100,000 shots
should not pay for them). Indexes are characters of the text as decoded (BOM removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import yaml

__all__ = ["FieldSpan", "ShotSpan", "shot_spans"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class FieldSpan:
    """One field the shot writes itself: where its key starts, where its value's text starts and
    ends (character indexes), and how the value is written."""

    key_start: int
    value_start: int
    value_end: int
    kind: str  # "scalar", "alias", "mapping", "sequence"
    style: str | None = None  # a scalar's: None or "" plain, "'", '"', "|", ">"
    anchor: str | None = None


@dataclass
class ShotSpan:
    """One shot's mapping as written: its own fields (first of each key), its style, and the end
    of its last value."""

    start: int
    close: int  # a flow mapping's '}' (its end event's start)
    flow: bool
    alias: bool = False
    anchor: str | None = None
    mapping: bool = True
    fields: dict[str, FieldSpan] = field(default_factory=dict)
    twice: set[str] = field(default_factory=set)  # keys written more than once
    first_key: int | None = None  # index of the first key (its column is the shot's indentation)
    content_end: int = 0  # the end of its last value's text


def shot_spans(text: str, wanted: set[int]) -> dict[int, ShotSpan]:
    """The spans of the `shots:` items at the indexes `wanted` (an item missing: `shots:` is not
    a list written out, an alias say)."""
    events = _Events(yaml.parse(text, Loader=_Loader))
    out: dict[int, ShotSpan] = {}
    events.next()  # stream start
    events.next()  # document start
    root = events.next()
    if not isinstance(root, yaml.MappingStartEvent):
        return out
    while not isinstance(events.peek(), yaml.MappingEndEvent):
        key = events.next()
        if isinstance(key, yaml.ScalarEvent) and key.value == "shots" and \
                isinstance(events.peek(), yaml.SequenceStartEvent):
            out = {}  # a duplicate shots: key: YAML (and yamlpos) keep the last
            events.next()
            index = 0
            while not isinstance(events.peek(), yaml.SequenceEndEvent):
                if index in wanted:
                    out[index] = _shot_span(events)
                else:
                    _skip(events)
                index += 1
            events.next()
        else:
            if not isinstance(key, yaml.ScalarEvent):
                _skip_rest(events, key)
            _skip(events)
    return out


class _Events:
    """An event stream with one event of look-ahead."""

    def __init__(self, events: Iterator[yaml.Event]):
        self._it = iter(events)
        self._ahead: yaml.Event | None = None

    def peek(self) -> yaml.Event:
        if self._ahead is None:
            self._ahead = next(self._it)
        return self._ahead

    def next(self) -> yaml.Event:
        event = self.peek()
        self._ahead = None
        return event


def _skip(events: _Events) -> int:
    """Read one node whole; the end of its last text (a scalar's or alias's end, a flow
    collection's closing bracket, else its last child's)."""
    event = events.next()
    return _skip_rest(events, event)


def _skip_rest(events: _Events, event: yaml.Event) -> int:
    """`_skip` of a node whose first event is read already."""
    if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
        return event.end_mark.index
    end = event.end_mark.index
    closing = yaml.MappingEndEvent if isinstance(event, yaml.MappingStartEvent) else yaml.SequenceEndEvent
    while not isinstance(events.peek(), closing):
        end = _skip(events)
    close = events.next()
    return close.end_mark.index if event.flow_style else end


def _shot_span(events: _Events) -> ShotSpan:
    """The next node, a shot: its fields' spans when it is a mapping written out."""
    event = events.next()
    start = event.start_mark.index
    if isinstance(event, yaml.AliasEvent):
        return ShotSpan(start, start, False, alias=True, anchor=event.anchor)
    if not isinstance(event, yaml.MappingStartEvent):
        _skip_rest(events, event)
        return ShotSpan(start, start, False, mapping=False)
    span = ShotSpan(start, start, bool(event.flow_style), anchor=event.anchor)
    end = event.end_mark.index
    while not isinstance(events.peek(), yaml.MappingEndEvent):
        key = events.next()
        if span.first_key is None:
            span.first_key = key.start_mark.index
        if not isinstance(key, yaml.ScalarEvent):  # yamlpos refuses such keys: not reached
            _skip_rest(events, key)
            end = _skip(events)
            continue
        value = events.peek()
        kind = {yaml.ScalarEvent: "scalar", yaml.AliasEvent: "alias", yaml.MappingStartEvent: "mapping",
                yaml.SequenceStartEvent: "sequence"}[type(value)]
        end = _skip(events)
        anchor = None if kind == "alias" else value.anchor  # an alias's `anchor` is the name it refers to
        found = FieldSpan(key.start_mark.index, value.start_mark.index, end, kind, getattr(value, "style", None),
                          anchor)
        if key.value in span.fields:
            span.twice.add(key.value)
        else:
            span.fields[key.value] = found
    close = events.next()
    span.close = close.start_mark.index
    span.content_end = close.end_mark.index if span.flow else end
    return span
