"""People's decisions on shots, written into the manifest: the take that represents a shot
(`pick`), `status: approved`, `status: redo` with why in `notes`. One place for `shots pick`,
`shots approve`, `shots redo` and the review page, so that each refuses the same things and
changes the same lines.

Each decision is an in-place edit (edit.py) that must leave the manifest as valid as it was: the
edited file is checked beside the real one before it replaces it, and a decision that would bring
an error (a pick beyond the shot's takes, say) is refused with nothing written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from pipeline.errors import InputError
from pipeline.manifest import lint
from pipeline.manifest.checker import check
from pipeline.manifest.edit import Edit, set_fields
from pipeline.manifest.models import Problem
from pipeline.manifest.yamlpos import YamlError, decode, parse

__all__ = ["APPROVED", "REDO", "approve", "pick", "redo"]

APPROVED, REDO = "approved", "redo"
_LINE_NUMBER = re.compile(r"\bline \d+")


def pick(path: str | os.PathLike, shot_id: str, take: int, *, expect: str | None = None) -> list[Edit]:
    """`pick: take` on the shot: the take that represents it. Refused (nothing written) for an
    unknown shot (with the nearest id) and a take the shot does not make."""
    if type(take) is not int or take < 1:
        raise InputError(f"a take is a whole number from 1, not {take!r}")
    return _decide(path, {shot_id: {"pick": take}}, expect)


def approve(path: str | os.PathLike, shot_ids: Iterable[str], *, undo: bool = False,
            expect: str | None = None) -> list[Edit]:
    """`status: approved` on each shot (all of them or none); `undo` removes their status."""
    ids = list(dict.fromkeys(shot_ids))
    if not ids:
        raise InputError("name at least one shot to approve")
    if undo and (status := _default_status(path)) is not None:
        raise InputError(f"{os.fspath(path)}: defaults: sets status: {status} for every shot that sets none, so "
                         "removing a shot's own status would not undo it; remove it from defaults: first")
    return _decide(path, {sid: {"status": None if undo else APPROVED} for sid in ids}, expect)


def redo(path: str | os.PathLike, shot_id: str, note: str | None = None, *, expect: str | None = None) -> list[Edit]:
    """`status: redo` on the shot; with a `note`, it becomes the shot's `notes` (replacing what
    they said: the edit shows what was there, and git keeps it)."""
    changes: dict[str, object | None] = {"status": REDO}
    if note is not None:
        text = note.strip()
        if not text:
            raise InputError("the note is empty; say what to change, or leave the note out")
        hidden = lint.hidden_char(text, allow_newlines=True)
        if hidden:
            raise InputError(f"the note {hidden}")
        changes["notes"] = text
    return _decide(path, {shot_id: changes}, expect)


def _decide(path: str | os.PathLike, changes: dict[str, dict[str, object | None]], expect: str | None) -> list[Edit]:
    name = os.fspath(path)
    before = _errors(check(path))

    def still_valid(edited: Path) -> None:
        new = [p for p in check(edited) if p.severity == "error" and _key(p) not in before]
        if new:
            raise InputError(f"{name}: refused, the manifest would not validate: {_unplaced(new[0])}")

    return set_fields(path, changes, expect=expect, validate=still_valid)


def _errors(problems: list[Problem]) -> set[tuple]:
    return {_key(p) for p in problems if p.severity == "error"}


def _key(problem: Problem) -> tuple:
    """A problem without its place (an inserted line moves every place after it)."""
    return problem.shot, problem.field, _LINE_NUMBER.sub("line N", problem.message)


def _unplaced(problem: Problem) -> str:
    """The problem's text without FILE:LINE:COL: the place is in a file that was not written."""
    return str(problem).removeprefix(f"{problem.file}:{problem.line}:{problem.col}: ")


def _default_status(path: str | os.PathLike) -> object | None:
    """The `status` under `defaults:`, if the manifest reads as YAML and sets one."""
    try:
        data, _, _ = parse(decode(Path(path).read_bytes()))
    except (OSError, YamlError):
        return None  # the edit says why it cannot read it
    defaults = data.get("defaults") if isinstance(data, dict) else None
    return defaults.get("status") if isinstance(defaults, dict) else None
