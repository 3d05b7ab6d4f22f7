"""YAML text to plain data plus the line and column of every key and value, refusing hostile input.

We build the data from libyaml's event stream rather than with `yaml.compose`: composing is
recursive (deep nesting ends in RecursionError), ten times slower (a 10,000-shot manifest
takes 2 s to compose), and it hides how far aliases expand. Walking the events with an
explicit stack bounds depth, counts alias expansion as it happens (billion laughs), and sees
duplicate keys, which YAML itself silently resolves to the last one.

Limits, each far above any real shot list (bench/scale.py's 100,000 shots: 14 MB, 740,000
values, 100,000 items in one list) and far below what costs a machine (24 million list items
in 48 MB took 3.3 GB and two minutes to read; a value costs about 130 bytes here): MAX_NODES
values in all, MAX_ITEMS in one list, MAX_DEPTH, the alias limits, and whole numbers within
JSON's exact range (a 5000-digit number is refused before Python converts it: int() refuses
more than 4300 digits). The file's size is checked before it is read (manifest.py).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Iterable

import yaml
from yaml.nodes import ScalarNode

MAX_DEPTH = 50
MAX_ALIASES = 1000
MAX_ALIAS_NODES = 100_000  # nodes that alias expansion may add, in all
MAX_NODES = 2_000_000  # keys, values and list items in all: 2.7x the 740,000 of 100,000 shots
MAX_ITEMS = 200_000  # items in one list: twice the biggest benchmark's 100,000 shots
MAX_INT = 2**53 - 1  # the largest whole number every JSON reader keeps exactly
_MAX_INT_TEXT = 100  # a longer integer literal is refused without converting it

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_STR, _MERGE, _INT = _TAG + "str", _TAG + "merge", _TAG + "int"


class YamlError(Exception):
    """The file cannot be read as a manifest at all (syntax, encoding, size, a YAML bomb)."""

    def __init__(self, line: int, col: int, message: str):
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


@dataclass(frozen=True)
class Note:
    """A problem found while reading that does not stop the reading (a duplicate key, say)."""

    line: int
    col: int
    path: tuple
    message: str
    says_all: bool = False  # it says all there is to say about the value at `path` (no other rule should)


class Pos:
    """Where one value sits (1-based), where its key sits, and the positions of its children."""

    __slots__ = ("line", "col", "key_line", "key_col", "children")

    def __init__(self, line: int, col: int, children: dict | list | None = None):
        self.line, self.col = line, col
        self.key_line, self.key_col = line, col
        self.children = children

    def child(self, part: Any) -> "Pos | None":
        kids = self.children
        if isinstance(kids, dict):
            return kids.get(part)
        if isinstance(kids, list) and isinstance(part, int) and 0 <= part < len(kids):
            return kids[part]
        return None


class Positions:
    """Line and column of any JSON path (a tuple of keys and indices) in the document."""

    def __init__(self, root: Pos, text: str):
        self.root = root
        self._text = text
        self._line_starts: list[int] | None = None

    def _find(self, path: Iterable) -> Pos:
        node = self.root
        for part in path:
            nxt = node.child(part)
            if nxt is None:
                break  # the nearest existing ancestor
            node = nxt
        return node

    def value(self, path: Iterable) -> tuple[int, int]:
        """Where the value at `path` starts (or its nearest ancestor, if the path is absent)."""
        node = self._find(path)
        return node.line, node.col

    def key(self, path: Iterable) -> tuple[int, int]:
        """Where the key of the mapping entry at `path` starts (the value's position for items)."""
        node = self._find(path)
        return node.key_line, node.key_col

    def has(self, path: Iterable) -> bool:
        node = self.root
        for part in path:
            node = node.child(part)
            if node is None:
                return False
        return True

    def find_text(self, path: Iterable, needle: str) -> tuple[int, int] | None:
        """Where `needle` appears in the source of the scalar at `path`, if written verbatim."""
        node = self._find(path)
        start = self.index_of(node.line, node.col)
        at = self._text.find(needle, start)
        if at < 0:
            return None
        return self.line_col(at)

    def _starts(self) -> list[int]:
        if self._line_starts is None:
            starts, at = [0], self._text.find("\n")
            while at >= 0:
                starts.append(at + 1)
                at = self._text.find("\n", at + 1)
            self._line_starts = starts
        return self._line_starts

    def index_of(self, line: int, col: int) -> int:
        starts = self._starts()
        return starts[min(line, len(starts)) - 1] + col - 1

    def line_col(self, index: int) -> tuple[int, int]:
        starts = self._starts()
        line = bisect_right(starts, index)
        return line, index - starts[line - 1] + 1


def decode(data: bytes) -> str:
    """UTF-8 text of a manifest file; YamlError naming the place of a NUL byte or a bad byte."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _byte_position(data, nul)
        raise YamlError(line, col, "this is a binary file (a NUL byte); a manifest is YAML text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(data, exc.start)
        raise YamlError(
            line, col, f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} here is not valid UTF-8); save it as UTF-8"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    col = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return line, col


class _Frame:
    __slots__ = ("data", "pos", "anchor", "size", "key", "key_line", "key_col", "merges", "seen")

    def __init__(self, data, pos, anchor):
        self.data, self.pos, self.anchor = data, pos, anchor
        self.size = 1
        self.key = None  # the pending mapping key, None while waiting for one
        self.key_line = self.key_col = 0
        self.merges: list | None = None
        self.seen: dict | None = None


_constructor = yaml.constructor.SafeConstructor()
_resolver_obj = yaml.resolver.Resolver()
_SCALARS = {
    _TAG + "int": _constructor.construct_yaml_int,
    _TAG + "float": _constructor.construct_yaml_float,
    _TAG + "bool": _constructor.construct_yaml_bool,
    _TAG + "null": lambda node: None,
    # Dates stay text: no manifest field is a date, and "2024-05-01" in notes should just work.
    _TAG + "timestamp": lambda node: node.value,
}
_plain_cache: dict[str, Any] = {}
_PLAIN_CACHE_MAX = 4096


class _TooBig(ValueError):
    """A whole number out of the manifest's range (the message says so, with the text clipped)."""


def clip(text: str, most: int = 100) -> str:
    """`text` shortened for a message: a 5000-digit number is shown by its ends and its length."""
    if len(text) <= most:
        return text
    return f"{text[:most // 2]}...{text[-8:]} ({len(text):,} characters)"


def _int(text: str) -> int:
    """A YAML 1.1 integer (decimal, 0x, 0o, 0b, 1_000, 1:30), refused beyond +-MAX_INT."""
    if len(text) > _MAX_INT_TEXT:
        raise _TooBig(_out_of_range(text))
    value = _constructor.construct_yaml_int(ScalarNode(_INT, text))
    if abs(value) > MAX_INT:
        raise _TooBig(_out_of_range(text))
    return value


def _out_of_range(text: str) -> str:
    return (f"the number {clip(text)} is out of range; a manifest's whole numbers lie within "
            f"-{MAX_INT:,} to {MAX_INT:,} (2^53 - 1, what JSON keeps exactly)")


def _plain(value: str) -> tuple[Any, str]:
    """The value and tag of a plain (unquoted) scalar, by YAML 1.1's implicit rules; _TooBig for a
    whole number out of range."""
    hit = _plain_cache.get(value)
    if hit is not None:
        return hit
    tag = _resolver_obj.resolve(ScalarNode, value, (True, False))
    if tag == _STR or tag == _MERGE:
        out = (value, tag)
    elif tag == _INT:
        out = (_int(value), tag)
    else:
        out = (_SCALARS[tag](ScalarNode(tag, value)), tag)
    if len(_plain_cache) < _PLAIN_CACHE_MAX:
        _plain_cache[value] = out
    return out


def parse(text: str) -> tuple[Any, Positions, list[Note]]:
    """(data, positions, notes) of a single-document YAML text; YamlError if it cannot be read."""
    builder = _Builder()
    try:
        builder.read(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text) from None
    except yaml.reader.ReaderError as exc:
        line, col = Positions(Pos(1, 1), text).line_col(exc.position)
        raise YamlError(line, col, f"character U+{exc.character:04X} is not allowed in YAML ({exc.reason})") from None
    if not builder.root:
        raise YamlError(1, 1, "the file is empty; a manifest needs at least version, name and shots")
    value, pos = builder.root[0]
    return value, Positions(pos, text), builder.notes


class _Builder:
    """Plain data and positions from libyaml's events, one method per kind of event.

    The open mappings and lists are a stack of frames (never recursion); each finished value is
    `put` into the frame below it. The counters are the limits' (MAX_NODES, the alias limits).
    """

    __slots__ = ("notes", "anchors", "open_anchors", "stack", "path", "root",
                 "aliases", "alias_nodes", "documents", "nodes")

    def __init__(self) -> None:
        self.notes: list[Note] = []
        self.anchors: dict[str, tuple[Any, Pos, int]] = {}  # name -> (value, position, values in it)
        self.open_anchors: set[str] = set()  # anchors of the containers still being read
        self.stack: list[_Frame] = []
        self.path: list = []  # JSON path of the frame on top of the stack
        self.root: list[tuple[Any, Pos]] = []  # the document's value, once read
        self.aliases = self.alias_nodes = 0  # aliases read, and the values they added (MAX_ALIAS_*)
        self.documents = 0
        self.nodes = 0  # keys, values and list items read so far (MAX_NODES)

    def read(self, events: Iterable[yaml.Event]) -> None:
        scalar, ScalarEvent = self.scalar, yaml.ScalarEvent  # most events: tested first, looked up once
        others = {
            yaml.MappingStartEvent: self.mapping_start, yaml.SequenceStartEvent: self.sequence_start,
            yaml.MappingEndEvent: self.collection_end, yaml.SequenceEndEvent: self.collection_end,
            yaml.AliasEvent: self.alias, yaml.DocumentStartEvent: self.document_start,
        }
        for event in events:
            if type(event) is ScalarEvent:
                scalar(event)
            else:
                handler = others.get(type(event))
                if handler is not None:
                    handler(event)

    # -- one method per event kind

    def scalar(self, event: yaml.ScalarEvent) -> None:
        mark = event.start_mark  # as in _count, inline: a call per scalar costs 4% of all reading
        line, col = mark.line + 1, mark.column + 1
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(line, col, _too_many_nodes())
        stack = self.stack
        tag = event.tag
        if stack and (top := stack[-1]).key is None and type(top.data) is dict:
            # A key: always its text, so `1:` or `yes:` is reported as an unknown key.
            value = event.value
            is_merge = value == "<<" and event.implicit[0]
        elif tag is None or tag == "!":
            value, is_merge = event.value, False
            if event.implicit[0]:  # plain: typed by YAML 1.1's rules (the cache first: most repeat)
                try:
                    value, resolved = _plain_cache.get(value) or _plain(value)
                except _TooBig as exc:
                    raise YamlError(line, col, str(exc)) from None
                is_merge = resolved == _MERGE
                if type(value) is float and not math.isfinite(value):
                    self._not_finite(event, line, col)
        else:
            value, is_merge = self._tagged_value(event, tag, line, col), False
        pos = Pos(line, col)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, pos, 1)
        self.put(value, pos, 1, line, col, is_merge)

    def mapping_start(self, event: yaml.MappingStartEvent) -> None:
        self._open(event, {}, {})

    def sequence_start(self, event: yaml.SequenceStartEvent) -> None:
        self._open(event, [], [])

    def collection_end(self, event: yaml.CollectionEndEvent) -> None:
        frame = self.stack.pop()
        if frame.merges:
            data, kids = frame.data, frame.pos.children
            for src, src_pos in frame.merges:
                for k, v in src.items():
                    if k not in data:  # explicit keys, then earlier merges, win
                        data[k] = v
                        kids[k] = src_pos.children[k]
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (frame.data, frame.pos, frame.size)
        if self.stack:
            self.path.pop()
        self.put(frame.data, frame.pos, frame.size, frame.pos.line, frame.pos.col)

    def alias(self, event: yaml.AliasEvent) -> None:
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        name = event.anchor
        if name in self.open_anchors:
            raise YamlError(line, col, f"the alias *{name} refers to itself; recursive data is not allowed")
        if name not in self.anchors:
            raise YamlError(line, col, f"the alias *{name} has no anchor &{name} before it")
        value, src_pos, size = self.anchors[name]
        self.aliases += 1
        self.alias_nodes += size
        if self.aliases > MAX_ALIASES:
            raise YamlError(line, col, f"more than {MAX_ALIASES} YAML aliases; use 'defaults:' instead")
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise YamlError(
                line, col,
                f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} values (a 'billion laughs' bomb?)",
            )
        self.put(value, Pos(line, col, src_pos.children), size, line, col)

    def document_start(self, event: yaml.DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            mark = event.start_mark
            raise YamlError(mark.line + 1, mark.column + 1,
                            "the file holds more than one YAML document ('---'); a manifest is one")

    # -- the steps they share

    def _tagged_value(self, event: yaml.ScalarEvent, tag: str, line: int, col: int) -> Any:
        """A value with an explicit tag (`!!int 6`): converted as the tag says, if we take the tag."""
        if tag == _STR:
            return event.value
        if tag in _SCALARS:
            try:
                value = _int(event.value) if tag == _INT else _SCALARS[tag](ScalarNode(tag, event.value))
            except _TooBig as exc:
                raise YamlError(line, col, str(exc)) from None
            except (ValueError, yaml.YAMLError):
                raise YamlError(line, col, f"'{clip(event.value)}' is not a valid {tag.removeprefix(_TAG)}") from None
            if type(value) is float and not math.isfinite(value):
                self._not_finite(event, line, col)
            return value
        self.notes.append(Note(line, col, self.here(), f"the YAML tag '{tag}' is not supported; write plain values"))
        return event.value

    def _not_finite(self, event: yaml.ScalarEvent, line: int, col: int) -> None:
        self.notes.append(Note(line, col, self.here(), f"'{clip(event.value)}' is not a finite number; "
                                                       "a manifest holds only what JSON can", says_all=True))

    def _count(self, event: yaml.NodeEvent) -> tuple[int, int]:
        """Where a value starts (line, column, 1-based), counted against MAX_NODES."""
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(line, col, _too_many_nodes())
        return line, col

    def _open(self, event: yaml.CollectionStartEvent, data: dict | list, children: dict | list) -> None:
        """A mapping or a list starts: a new frame on the stack, its key or index on the path."""
        line, col = self._count(event)
        stack = self.stack
        if len(stack) >= MAX_DEPTH:
            raise YamlError(line, col, f"the data is nested more than {MAX_DEPTH} levels deep")
        if event.tag not in (None, "!", _TAG + "map", _TAG + "seq"):
            self.notes.append(Note(line, col, self.here(), f"the YAML tag '{event.tag}' is not supported"))
        if stack:
            top = stack[-1]
            if isinstance(top.data, list):
                self.path.append(len(top.data))
            elif top.key is None:
                raise YamlError(line, col, "a mapping key must be plain text, not a list or a mapping")
            else:
                self.path.append(top.key if top.key is not _MERGE else "<<")
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        stack.append(_Frame(data, Pos(line, col, children), event.anchor))

    def here(self) -> tuple:
        """The JSON path of the value being read now."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.data, list):
            return (*self.path, len(top.data))
        if top.key is None or top.key is _MERGE:
            return tuple(self.path)
        return (*self.path, top.key)

    def put(self, value: Any, pos: Pos, size: int, line: int, col: int, is_merge_key: bool = False) -> None:
        """A finished value (of `size` values in all) into the open container, or as the document."""
        stack = self.stack
        if not stack:
            self.root.append((value, pos))
            return
        top = stack[-1]
        top.size += size
        if type(top.data) is list:
            if len(top.data) >= MAX_ITEMS:
                raise YamlError(line, col, f"more than {MAX_ITEMS:,} items in one list; a manifest holds at most "
                                           f"{MAX_ITEMS:,} shots (split it into several manifests)")
            top.data.append(value)
            top.pos.children.append(pos)
            return
        if top.key is None:  # this value is a key
            if not isinstance(value, str):
                raise YamlError(line, col, "a mapping key must be plain text, not a list or a mapping")
            top.key = _MERGE if is_merge_key else value
            top.key_line, top.key_col = line, col
            return
        key, top.key = top.key, None
        if key is _MERGE:
            self._merge_source(top, value, pos, line, col)
            return
        if top.seen is None:
            top.seen = {}
        first = top.seen.get(key)
        if first is not None:
            self.notes.append(Note(top.key_line, top.key_col, (*self.path, key),
                                   f"duplicate key '{key}' (first on line {first}); YAML would keep only the last"))
        else:
            top.seen[key] = top.key_line
        pos.key_line, pos.key_col = top.key_line, top.key_col
        top.data[key] = value
        top.pos.children[key] = pos

    def _merge_source(self, top: _Frame, value: Any, pos: Pos, line: int, col: int) -> None:
        sources = [(value, pos)] if isinstance(value, dict) else None
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            sources = list(zip(value, pos.children))
        if sources is None:
            self.notes.append(Note(line, col, tuple(self.path),
                                   "'<<' (a YAML merge) needs a mapping or a list of mappings"))
            return
        if top.merges is None:
            top.merges = []
        top.merges.extend(sources)


def _too_many_nodes() -> str:
    return (f"the file holds more than {MAX_NODES:,} YAML values (keys, values and list items); "
            "a manifest this big is not a shot list (split it into several manifests)")


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    at_tab = mark is not None and text[mark.index:mark.index + 1] == "\t"
    if "tab character" in problem or ("cannot start any token" in problem and at_tab):
        return YamlError(line, col, "a tab character; YAML indents with spaces, never tabs")
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
        message += f" ({exc.context} on line {exc.context_mark.line + 1})"
    return YamlError(line, col, message)

