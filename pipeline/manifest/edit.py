"""In-place edits of a shot's fields in a manifest file: only the lines that change, change.

`shots pick`, `shots approve` and the review page write people's decisions (pick, status, notes)
into the version-controlled manifest, where `git diff` must show exactly those lines. So the YAML
is never dumped again: libyaml's marks (where yamlpos places each value, and where each value
ends) say which characters hold a value, and only those are replaced; a new field is one line at
the shot's indentation after its last field. Comments, order, quoting, line endings (CRLF), a BOM
and the encoding stay as they were.

Every edit is proved before it is written: the edited text is read again and must be the old
document with exactly the asked change, else nothing is written (aliases, merges and anchors that
share text between shots are caught so). The file must still be the one the caller read (`expect`,
its sha256) and the one this module read, up to the atomic rename that replaces it.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from pipeline.errors import InputError
from pipeline.files import replacing, sha256_file
from pipeline.manifest import lint
from pipeline.manifest.models import MAX_FILE_BYTES
from pipeline.manifest.words import did_you_mean
from pipeline.manifest.yamlpos import YamlError, decode, parse
from pipeline.manifest.yamlspans import FieldSpan, ShotSpan, shot_spans
from pipeline.manifest.yamltext import render

__all__ = ["Edit", "EditConflict", "manifest_sha256", "set_fields", "set_shot_fields"]

_BOM = b"\xef\xbb\xbf"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a field name that needs no quoting
_LONE_CR = re.compile(r"\r(?!\n)")


@dataclass(frozen=True)
class Edit:
    """One changed line of the manifest, 1-based in the edited file: `before` is "" for an
    inserted line, `after` "" for a removed one (its `line` is then where it was). Lines are
    shown without their line ending. `kind` says which for a blank line too."""

    line: int
    before: str
    after: str
    shot: str | None = None  # the shot whose field the line holds
    kind: str = ""  # "replace", "insert" or "remove" ("": read it from before and after)

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", "insert" if not self.before else "remove" if not self.after else "replace")

    def to_json(self) -> dict:
        return {"shot": self.shot, "line": self.line, "kind": self.kind, "before": self.before, "after": self.after}


class EditConflict(InputError):
    """The manifest changed on disk since the caller (or this edit) read it."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(f"{os.fspath(path)} changed on disk since it was read; reload")


def manifest_sha256(path: str | os.PathLike) -> str:
    """The sha256 of the manifest file's bytes: what `expect` compares."""
    return sha256_file(Path(path))


def set_shot_fields(path: str | os.PathLike, shot_id: str, changes: Mapping[str, object | None], *,
                    expect: str | None = None, validate: Callable[[Path], None] | None = None) -> list[Edit]:
    """Set (replace or insert) or, for a None value, remove fields of one shot, in place; the
    lines changed, in file order ([] when the shot already reads so: nothing is written).

    `expect`: the sha256 the caller last read (manifest_sha256); a file that differs now raises
    EditConflict. `validate(tmp)` may refuse the edited manifest, written beside the real one
    (same folder, so relative paths hold), by raising: then nothing changes. InputError, with
    nothing written, for an unknown shot, a shot the edit cannot change safely (an alias, a
    field that a merge gives), or a file that cannot be read as YAML."""
    return set_fields(path, {shot_id: changes}, expect=expect, validate=validate)


def set_fields(path: str | os.PathLike, changes: Mapping[str, Mapping[str, object | None]], *,
               expect: str | None = None, validate: Callable[[Path], None] | None = None) -> list[Edit]:
    """`set_shot_fields` for several shots at once ({shot id: {field: value or None}}): one
    read, one check, one write; all of them or none."""
    name = os.fspath(path)
    real = Path(os.path.realpath(path))  # a symlinked manifest: its target is edited, the link stays
    with _lock_for(real):  # the review page's threads edit one at a time; other processes: EditConflict
        return _set_fields(real, name, changes, expect, validate)


def _set_fields(real: Path, name: str, changes: Mapping[str, Mapping[str, object | None]], expect: str | None,
                validate: Callable[[Path], None] | None) -> list[Edit]:
    raw = _read(real, name)
    if expect is not None and _sha256(raw) != expect:
        raise EditConflict(name)
    bom = raw.startswith(_BOM)
    try:
        text = decode(raw)
        data, _, _ = parse(text)
    except YamlError as exc:
        raise InputError(f"{name}:{exc.line}:{exc.col}: {exc.message}; fix it before editing the manifest") from None
    if _LONE_CR.search(text):  # YAML reads a lone CR as a line break; lines here are LF or CRLF ones
        raise InputError(f"{name}: ends lines with a lone CR (old Mac style); save it with LF or CRLF line "
                         "endings to edit it")
    shots = data.get("shots") if isinstance(data, dict) else None
    if not isinstance(shots, list):
        raise InputError(f"{name}: no shots: list to edit")
    indexes = {sid: _shot_index(shots, sid, name) for sid in changes}
    spans = shot_spans(text, set(indexes.values()))
    if len(spans) < len(set(indexes.values())):
        raise InputError(f"{name}: shots: is not a list written out (a YAML alias?); edit it by hand")
    splices: list[_Splice] = []
    expected = json.loads(json.dumps(data))  # no shared (aliased) objects: each shot changes alone
    for sid, shot_changes in changes.items():
        span = spans[indexes[sid]]
        splices += _shot_splices(text, span, sid, shot_changes, shots[indexes[sid]], name)
        for key, value in shot_changes.items():
            if value is None:
                expected["shots"][indexes[sid]].pop(key, None)
            else:
                expected["shots"][indexes[sid]][key] = value
    if not splices:
        return []
    new_text = _apply(text, splices)
    _prove(new_text, expected, name, changes)
    edits = _edits(text, splices)
    _write(real, name, raw, (_BOM if bom else b"") + new_text.encode("utf-8"), validate)
    return edits


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(real: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(real, threading.Lock())


# -- reading -------------------------------------------------------------------------------------


def _read(real: Path, name: str) -> bytes:
    try:
        with open(real, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise InputError(f"{name}: this is a folder; give the manifest file (a .yaml file)") from None
    except OSError as exc:
        raise InputError(f"cannot read the manifest {name}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{name}: over {MAX_FILE_BYTES:,} bytes; not a manifest")
    return raw


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _shot_index(shots: list, shot_id: str, name: str) -> int:
    """The index of the one shot with this id; InputError (with the nearest id) if there is none."""
    found = [i for i, s in enumerate(shots) if isinstance(s, dict) and s.get("id") == shot_id]
    if len(found) > 1:
        raise InputError(f"{name}: {len(found)} shots have the id '{lint.show(shot_id)}'; "
                         "make the ids unique first (shots validate says where)")
    if not found:
        ids = [s["id"] for s in shots if isinstance(s, dict) and isinstance(s.get("id"), str)]
        guess = did_you_mean(shot_id, ids)
        hint = f"; did you mean '{lint.show(guess)}'?" if guess else ""
        raise InputError(f"{name}: no shot '{lint.show(shot_id)}'{hint}")
    return found[0]


# -- the splices -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Splice:
    """Replace text[start:end] with `new`. `order` keeps insertions at one place in the order asked."""

    start: int
    end: int
    new: str
    shot: str
    order: int = 0


def _shot_splices(text: str, span: ShotSpan, sid: str, changes: Mapping[str, object | None], as_read: dict,
                  name: str) -> list[_Splice]:
    shown = lint.show(sid)
    if span.alias:
        raise InputError(f"{name}: shot '{shown}' is a YAML alias (*{span.anchor}) of another; write it out in "
                         "full to edit it")
    if not span.mapping:
        raise InputError(f"{name}: shot '{shown}' is not a mapping")
    out: list[_Splice] = []
    inserts: list[str] = []
    for key, value in changes.items():
        if not _KEY.match(key):
            raise InputError(f"cannot write a field named '{lint.show(key)}'")
        if key in span.twice:
            raise InputError(f"{name}: shot '{shown}' sets {key} more than once; remove all but one first")
        own = span.fields.get(key)
        if value is None:
            if own is not None:
                out.append(_removal(text, span, own, sid, name, key))
            elif key in as_read:
                raise InputError(f"{name}: shot '{shown}' takes {key} from a YAML merge (<<); remove it there")
            continue
        if type(as_read.get(key)) is type(value) and as_read[key] == value:
            continue  # it reads so already (`pick: 02` stays as written)
        rendered = render(value, own.style if own is not None else None, span.flow)
        if own is None:
            inserts.append(f"{key}: {rendered}")
        else:
            out += _replacement(text, own, rendered, sid, name, key)
    if inserts:
        out.append(_insertion(text, span, inserts, sid, name))
    return out


def _replacement(text: str, own: FieldSpan, rendered: str, sid: str, name: str, key: str) -> list[_Splice]:
    if own.anchor is not None:
        raise InputError(f"{name}: shot '{lint.show(sid)}' field '{key}' is a YAML anchor (&{own.anchor}) that "
                         "other values may use; edit it by hand")
    start, end = own.value_start, own.value_end
    if own.kind == "scalar" and own.style in ("|", ">"):
        end = _block_text_end(text, start, end)  # the line breaks (and blank lines) after it stay
    if start == end:  # `notes:` with nothing after it: the value goes after a space
        return [_Splice(start, end, ("" if text[start - 1:start] == " " else " ") + rendered, sid)]
    if text[start:end] == rendered:
        return []
    return [_Splice(start, end, rendered, sid)]


def _block_text_end(text: str, start: int, end: int) -> int:
    """The end of a block scalar's last text (its header when it is all blank)."""
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """The index of the line ending (\\r\\n or \\n) of the line holding `index`, or len(text)."""
    at = text.find("\n", index)
    if at < 0:
        return len(text)
    return at - 1 if at > 0 and text[at - 1] == "\r" else at


def _eol_after(text: str, index: int) -> str:
    """The line ending of the line holding `index`; a last line without one: the file's first."""
    at = _line_end(text, index)
    if at < len(text):
        return "\r\n" if text[at] == "\r" else "\n"
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _insertion(text: str, span: ShotSpan, lines: list[str], sid: str, name: str) -> _Splice:
    """New fields at the end of the shot: in braces for a flow mapping, else one line each after
    the shot's last value, at the indentation of its first key."""
    if span.flow:
        at = span.close
        while at > span.start and text[at - 1] in " \t\r\n":
            at -= 1
        joined = ", ".join(lines)
        return _Splice(at, at, (" " if text[at - 1] == "," else ", ") + joined, sid, 1)
    if span.first_key is None:
        raise InputError(f"{name}: shot '{lint.show(sid)}' has no fields to write beside")
    indent = " " * (span.first_key - _line_start(text, span.first_key))
    last = _last_field(span)
    if last.kind == "scalar" and last.style in ("|", ">") and "+" in _block_header(text, last.value_start):
        # A kept block (|+): its trailing blank lines are its text, so the new line goes after them.
        at = last.value_end
        eol = _eol_after(text, max(at - 1, 0))
        return _Splice(at, at, "".join(indent + line + eol for line in lines), sid, 1)
    end = _block_text_end(text, span.start, span.content_end)
    at = _line_end(text, max(end - 1, 0))
    eol = _eol_after(text, at)
    return _Splice(at, at, "".join(eol + indent + line for line in lines), sid, 1)


def _last_field(span: ShotSpan) -> FieldSpan:
    return max(span.fields.values(), key=lambda f: f.value_end)


def _block_header(text: str, start: int) -> str:
    """A block scalar's header line: `|`, `>-`, `|+2`, ..."""
    return text[start:_line_end(text, start)].split("#", 1)[0]


def _removal(text: str, span: ShotSpan, own: FieldSpan, sid: str, name: str, key: str) -> _Splice:
    """A field's lines out (its key's line through its value's last), or `, key: value` out of braces."""
    shown = lint.show(sid)
    if own.anchor is not None:
        raise InputError(f"{name}: shot '{shown}' field '{key}' is a YAML anchor (&{own.anchor}) that other values "
                         "may use; edit it by hand")
    if span.flow:
        before = own.key_start
        while before > span.start and text[before - 1] in " \t\r\n":
            before -= 1
        if text[before - 1] == ",":
            return _Splice(before - 1, own.value_end, "", sid)
        after = own.value_end
        while after < span.close and text[after] in " \t\r\n":
            after += 1
        if text[after:after + 1] == ",":
            after += 1
            while after < span.close and text[after] in " \t":
                after += 1
        return _Splice(own.key_start, after, "", sid)
    start = _line_start(text, own.key_start)
    if text[start:own.key_start].strip():
        raise InputError(f"{name}: shot '{shown}' writes {key} on the line of its '- '; move it to a line of its "
                         "own to remove it")
    end = _block_text_end(text, own.value_start, own.value_end)
    line_end = _line_end(text, max(end - 1, own.key_start))
    if line_end < len(text):
        line_end += 2 if text[line_end] == "\r" else 1
    elif start > 0:  # the file's last line, with no line ending: the one before it gives up its own
        start -= 2 if text[start - 2:start] == "\r\n" else 1
    return _Splice(start, line_end, "", sid)


# -- applying, proving, writing ---------------------------------------------------------------------


def _apply(text: str, splices: list[_Splice]) -> str:
    out, at = [], 0
    for s in sorted(splices, key=lambda s: (s.start, s.order)):
        if s.start < at:
            raise InputError("the changes overlap; make them one at a time")  # not reached: one splice per field
        out += [text[at:s.start], s.new]
        at = s.end
    out.append(text[at:])
    return "".join(out)


def _prove(new_text: str, expected: Any, name: str, changes: Mapping[str, Mapping[str, object | None]]) -> None:
    """The edited text reads as the old document with exactly the asked change, or nothing is written."""
    try:
        data, _, _ = parse(new_text)
    except YamlError:
        data = None
    if data is None or _canonical(data) != _canonical(expected):
        shots = ", ".join(f"'{lint.show(s)}'" for s in changes)
        raise InputError(f"{name}: refused: the edit would change more than asked of shot {shots} (YAML anchors, "
                         "aliases or merges share its text, or a layout this editor does not know); edit it by hand")


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _edits(text: str, splices: list[_Splice]) -> list[Edit]:
    """The changed lines: each group of splices on touching lines, old lines against new."""
    groups: list[list[_Splice]] = []
    bounds: list[tuple[int, int]] = []
    for s in sorted(splices, key=lambda s: (s.start, s.order)):
        lo = _line_start(text, s.start)
        hi = _line_end(text, max(s.end, s.start))
        if groups and lo <= bounds[-1][1]:
            groups[-1].append(s)
            bounds[-1] = (bounds[-1][0], max(bounds[-1][1], hi))
        else:
            groups.append([s])
            bounds.append((lo, hi))
    edits: list[Edit] = []
    shift = 0  # lines added (or removed) above the group
    for group, (lo, hi) in zip(groups, bounds):
        old = text[lo:hi]
        new = _apply(old, [_Splice(s.start - lo, s.end - lo, s.new, s.shot, s.order) for s in group])
        old_lines, new_lines = _lines(old), _lines(new)
        first = text.count("\n", 0, lo) + 1 + shift
        shot = group[0].shot
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes():
            if op == "equal":
                continue
            paired = min(i2 - i1, j2 - j1)
            for k in range(paired):
                edits.append(Edit(first + j1 + k, old_lines[i1 + k], new_lines[j1 + k], shot, "replace"))
            for k in range(i1 + paired, i2):
                edits.append(Edit(first + j1 + paired, old_lines[k], "", shot, "remove"))
            for k in range(j1 + paired, j2):
                edits.append(Edit(first + k, "", new_lines[k], shot, "insert"))
        shift += len(new_lines) - len(old_lines)
    return edits


def _lines(text: str) -> list[str]:
    """Lines without their endings (\\r\\n or \\n): a line that only gains an ending is unchanged."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _write(real: Path, name: str, read: bytes, data: bytes, validate: Callable[[Path], None] | None) -> None:
    """`data` over the manifest, atomically, keeping its permissions; EditConflict if the file is
    no longer what was read."""
    try:
        mode = stat.S_IMODE(os.stat(real).st_mode)
    except OSError as exc:
        raise InputError(f"cannot read the manifest {name}: {exc.strerror or exc}") from None
    tmp = real.with_name(f"{real.name}.{secrets.token_hex(4)}.tmp")  # two writers never share one
    try:
        with _edit_lock(real), replacing(real, tmp, durable=True) as out:
            out.write_bytes(data)
            os.chmod(out, mode)
            if validate is not None:
                validate(out)
            if _read(real, name) != read:
                raise EditConflict(name)
    except OSError as exc:  # a read-only folder, a full disk: the manifest is as it was
        raise InputError(f"cannot write the manifest {name}: {exc.strerror or exc}; it was not changed") from None


@contextlib.contextmanager
def _edit_lock(real: Path) -> Iterator[None]:
    """One edit of a manifest at a time across processes (the review page and the CLI): the
    check that the file is still what was read, and the rename, happen under a lock on the
    manifest itself (no lock file beside it). A writer that waited finds the file replaced, and
    its check refuses (EditConflict)."""
    import fcntl

    with open(real, "rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

