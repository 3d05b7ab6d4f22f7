"""Load and check a manifest: YAML with positions, the JSON Schema, then the catalogue's rules.

Every problem is one line that names the file, line, column, shot and field, and says the fix:

    manifests/x.yaml:7:5: shot 's03' field 'resolution': 1080P allows only 6 s; MiniMax-Hailuo-02 allows ...

`check(path)` returns every problem (errors and warnings, sorted by position) and never raises
for bad input; `load(path)` returns a typed `Manifest` or raises `ManifestError`. Nothing here
touches the network. The steps live beside this module: `problems` (the collector),
`schemamessages` (the schema's errors in our words), `outputnames`, `rules` (one function per
shot rule, on a `shotview`) with `inputrules` (frames and references, their files read by
`imagefiles` for v1 and `mediafiles` for v2 and the image API) and `imagerules` (a still's
fields), `chainrules` (a shot that takes another's output), and `prices`, then `build` (the
checked document to a `Manifest`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable

from pipeline import gcpause
from pipeline.errors import InputError
from pipeline.manifest.build import build
from pipeline.manifest.chainrules import check_chains, leave_out_dependants
from pipeline.manifest.models import MAX_FILE_BYTES, Manifest, Problem, Settings, Shot
from pipeline.manifest.outputnames import RESERVED_IDS, RESERVED_SUFFIXES, check_ids, check_name, reserved_id_problem
from pipeline.manifest.prices import check_prices, price_shape_problems
from pipeline.manifest.problems import Problems
from pipeline.manifest.rules import RuleContext, check_shots
from pipeline.manifest.schemacheck import SCHEMA_PATH
from pipeline.manifest.schemamessages import report_schema_errors
from pipeline.manifest.words import describe_value
from pipeline.manifest.yamlpos import Positions, YamlError, decode, parse
from pipeline.minimax import catalogue

__all__ = ["load", "check", "Manifest", "ManifestError", "Shot", "Problem", "Settings", "SCHEMA_PATH",
           "RESERVED_IDS", "RESERVED_SUFFIXES", "reserved_id_problem", "price_shape_problems"]


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


def load(path: str | os.PathLike, only: Iterable[str] | None = None) -> Manifest:
    """The checked manifest at `path`; ManifestError listing every problem if it has any error.

    With `only` (the shot ids a run is limited to), errors inside other shots do not stop it: the
    manifest comes without those shots, and their errors join its `warnings` (still errors, so
    that the caller prints them); a shot that takes another's output is left out with it. An error
    in a chosen shot or outside any shot, or in a shot a chosen one takes an input from, still raises.
    """
    problems, manifest = _check(path, None if only is None else set(only))
    if manifest is None:
        raise ManifestError(problems)
    return manifest


def check(path: str | os.PathLike) -> list[Problem]:
    """Every error and warning in the manifest at `path`, sorted by position. Never raises for bad input."""
    return _check(path)[0]


def left_out(problems: Iterable[Problem], only: set[str]) -> set[str] | None:
    """The shots whose errors a run limited to `only` can leave out; None if an error is in a
    chosen shot or belongs to no shot (top-level settings, a shot without an id)."""
    broken = {p.shot for p in problems if p.severity == "error"}
    if None in broken or broken & only:
        return None
    return {shot for shot in broken if shot is not None}


class _Stop(Exception):
    """Reading cannot go on (the file is missing, too big, not a mapping)."""


def _check(path: str | os.PathLike, only: set[str] | None = None) -> tuple[list[Problem], Manifest | None]:
    """(every problem, sorted; the Manifest, or None if any problem is an error that `only`
    cannot leave out)."""
    problems = Problems(os.fspath(path))
    # A big manifest is a million small containers and none of them cyclic: the collector would
    # only re-scan them over and over (15% of a 10,000-shot load).
    with gcpause.suspended():
        try:
            _check_document(Path(path), problems)
        except YamlError as exc:
            problems.add(exc.line, exc.col, exc.message)
        except _Stop:
            pass
    found = problems.in_order()
    if not problems.has_errors():
        return found, build(problems.data, Path(path), problems)
    broken = None if only is None else left_out(found, only)
    if broken:  # the shots that take an input from them go too, each saying why
        broken = leave_out_dependants(problems, broken, only)  # type: ignore[arg-type]
        found = problems.in_order()
    if not broken:
        return found, None
    return found, _build_without(broken, Path(path), problems)


def _build_without(broken: set[str], path: Path, problems: Problems) -> Manifest | None:
    """The Manifest of the document less the shots in `broken`, whose errors join its warnings."""
    kept = [i for i, s in enumerate(problems.data["shots"]) if not (isinstance(s, dict) and s.get("id") in broken)]
    less = Problems(problems.file)
    less.found = problems.found
    less.read({**problems.data, "shots": [problems.data["shots"][i] for i in kept]},
              _Renumbered(problems.pos, kept))  # type: ignore[arg-type]  # Positions' reading half
    manifest = build(less.data, path, less)
    if manifest is None:
        return None
    said = [p for p in problems.found if p.severity == "warning" or p.shot in broken]
    return dataclasses.replace(manifest, warnings=said)


class _Renumbered:
    """Positions of a document whose shots list kept only the shots at `kept`: ('shots', i, ...)
    is looked up as ('shots', kept[i], ...), so each shot keeps its own line."""

    def __init__(self, pos: Positions, kept: list[int]):
        self.pos, self.kept = pos, kept

    def _path(self, path: Iterable) -> tuple:
        path = tuple(path)
        if len(path) >= 2 and path[0] == "shots" and isinstance(path[1], int):
            return ("shots", self.kept[path[1]], *path[2:])
        return path

    def value(self, path: Iterable) -> tuple[int, int]:
        return self.pos.value(self._path(path))

    def key(self, path: Iterable) -> tuple[int, int]:
        return self.pos.key(self._path(path))

    def has(self, path: Iterable) -> bool:
        return self.pos.has(self._path(path))


def _check_document(path: Path, problems: Problems) -> None:
    """Read the file, then the schema check, then the rules beyond it."""
    data, pos, notes = parse(_read_text(path, problems))
    problems.read(data, pos)
    said: set[tuple] = set()  # paths of values the reader reported in full (an infinite number)
    for note in notes:
        shot, field = problems.where(note.path)
        problems.add(note.line, note.col, note.message, "error", shot, field)
        if note.says_all:
            said.add(note.path)
    if not isinstance(data, dict):
        line, col = pos.value(())
        problems.add(line, col, "the top level must be a mapping with version, name and shots; "
                                f"found {describe_value(data)}")
        raise _Stop
    schema = report_schema_errors(problems, data, said)
    check_name(problems, data)
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    shots = data.get("shots") if isinstance(data.get("shots"), list) else []
    check_ids(problems, shots, defaults)
    switches = frozenset(k for k in catalogue.SWITCHES if data.get(k) is True)
    ctx = RuleContext(problems, path.parent, schema.guessed, switches=switches)
    views = check_shots(ctx, shots, defaults)
    check_chains(ctx, views)
    shot_models = [v.model_name for v in views if isinstance(v.model_name, str) and v.model_name]
    if isinstance(data.get("prices"), dict):
        check_prices(problems, data["prices"], shot_models, schema.bad_prices)


def _read_text(path: Path, problems: Problems) -> str:
    """The manifest's text; _Stop (with the problem added) if it cannot be read or is too big."""
    try:
        st = path.stat()
    except OSError as exc:
        problems.add(1, 1, f"cannot read the manifest: {exc.strerror or exc}")
        raise _Stop from None
    if path.is_dir():
        problems.add(1, 1, "this is a folder; give the manifest file (a .yaml file)")
        raise _Stop
    if st.st_size > MAX_FILE_BYTES:
        problems.add(1, 1, f"the file is {st.st_size:,} bytes; a manifest may be at most "
                           f"{MAX_FILE_BYTES:,} bytes (50 MB)")
        raise _Stop
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # never more: a pipe or a device has no size to stat
    except OSError as exc:
        problems.add(1, 1, f"cannot read the manifest: {exc.strerror or exc}")
        raise _Stop from None
    if len(raw) > MAX_FILE_BYTES:  # it grew between stat and read, or it is a stream
        problems.add(1, 1, f"the file is over {MAX_FILE_BYTES:,} bytes (50 MB)")
        raise _Stop
    return decode(raw)
