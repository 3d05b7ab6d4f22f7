"""Checked manifests, cached: a resume of a big shot list need not check it all again.

Checking 10,000 shots (YAML with positions, the JSON Schema, the catalogue, every image) takes
most of a second, and a resume with nothing to do would pay it every time. An entry is used
only when everything the check read is as it was: the manifest's bytes, each local input
file's real path, size and mtime (images, and v2's reference videos and audio), and the code
that checked it (the package's source files, the schema, Python and the checking libraries). Any difference, and any doubt (an unreadable or
damaged entry), is a miss, and a miss is simply a full check. `shots validate` never reads it.

Entries live in $SHOTS_CACHE_DIR, else $XDG_CACHE_HOME/shots, else ~/.cache/shots, one JSON
file per manifest path; SHOTS_NO_CACHE=1 turns the cache off. They hold what the manifest says
and nothing else (no key ever reaches a manifest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from pydantic import TypeAdapter

from pipeline.files import write_atomic
from pipeline.manifest import imagefiles, mediafiles
from pipeline.manifest.models import (
    MAX_FILE_BYTES,
    SCHEMA_PATH,
    Manifest,
    ManifestPrices,
    Problem,
    Settings,
    Shot,
)
from pipeline.minimax.images import ImageInfo

log = logging.getLogger(__name__)

FORMAT = 3  # 2: prices and setting_positions; 3: every local input file (v2 media), switches
MIN_SHOTS = 200  # smaller manifests check in a few milliseconds: not worth an entry
# What a check reads besides the manifest: its own package, the API catalogue, the error tree.
_PACKAGE = Path(__file__).resolve().parents[1]
_CHECK_SOURCES = ("manifest/*.py", "minimax/*.py", "errors.py")


def load(path: str | os.PathLike, only: Iterable[str] | None = None) -> Manifest:
    """checker.load(path, only), from the cache when nothing it depends on has changed. Only a
    manifest with no error is stored (a run with --only may get one less its broken shots)."""
    folder = cache_dir()
    if folder is None:
        return _check(path, only)
    entry_path = folder / _entry_name(path)
    digest = _digest(path)
    if digest is not None:
        cached = _lookup(entry_path, path, digest)
        if cached is not None:
            return cached
    manifest = _check(path, only)
    whole = all(p.severity != "error" for p in manifest.warnings)
    # Stored only if the file is still the one that was hashed: it may have changed during the check.
    if whole and digest is not None and len(manifest.shots) >= MIN_SHOTS and _digest(path) == digest:
        _store(entry_path, manifest, digest)
    return manifest


def cache_dir() -> Path | None:
    """Where entries go, or None when SHOTS_NO_CACHE is set."""
    if os.environ.get("SHOTS_NO_CACHE", "") not in ("", "0"):
        return None
    base = os.environ.get("SHOTS_CACHE_DIR")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "shots")
    return Path(base) / "manifests"


@lru_cache(maxsize=1)
def code_identity() -> str:
    """A hash of everything besides the manifest that decides a check's outcome."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(sys.version.encode())
    for dist in ("pydantic", "jsonschema", "PyYAML"):
        try:
            digest.update(f"{dist}={version(dist)};".encode())
        except PackageNotFoundError:
            digest.update(f"{dist}=none;".encode())
    sources = sorted(p for pattern in _CHECK_SOURCES for p in _PACKAGE.glob(pattern))
    for source in [*sources, SCHEMA_PATH]:
        digest.update(str(source.relative_to(_PACKAGE.parent)).encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def _check(path: str | os.PathLike, only: Iterable[str] | None = None) -> Manifest:
    from pipeline.manifest import checker as manifest

    return manifest.load(path, only)


def _entry_name(path: str | os.PathLike) -> str:
    return hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()[:32] + ".json"


def _digest(path: str | os.PathLike) -> str | None:
    """The manifest's sha256; None (no caching) when the check alone should read it: a file
    too big to be a manifest (never read whole here), a pipe (read once), an unreadable one."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        return hashlib.sha256(data).hexdigest() if len(data) <= MAX_FILE_BYTES else None
    except OSError:
        return None  # the check says what is wrong with the file


# -- reading an entry ---------------------------------------------------------------------------


def _lookup(entry_path: Path, path: str | os.PathLike, digest: str) -> Manifest | None:
    try:
        entry = json.loads(entry_path.read_bytes())
        if (entry.get("format") != FORMAT or entry.get("sha256") != digest
                or entry.get("code") != code_identity() or entry.get("path") != os.path.realpath(path)):
            return None
        directory = Path(path).parent
        for value, real, size, mtime_ns, _, _ in entry["inputs"]:
            if not _input_unchanged(value, directory, real, size, mtime_ns):
                return None
        for value, real, size, mtime_ns, image, media in entry["inputs"]:
            if image is not None:
                imagefiles.remember(real, size, mtime_ns, _facts_from(image, size))
            if media is not None:
                mediafiles.remember(real, size, mtime_ns, mediafiles.MediaFacts.from_json(media))
        return _manifest_from(entry, path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # damaged or foreign: check afresh
        log.info("manifest cache entry %s unusable (%s); checking the manifest", entry_path, exc)
        return None


def _input_unchanged(value: str, directory: Path, real: str, size: int, mtime_ns: int) -> bool:
    try:
        if imagefiles.real_path(value, directory) != real:
            return False
        st = os.stat(real)
    except (OSError, ValueError, RuntimeError):
        return False
    return (st.st_size, st.st_mtime_ns) == (size, mtime_ns)


def _facts_from(facts: dict[str, Any], size: int) -> imagefiles.FileFacts:
    info = facts["info"]
    return imagefiles.FileFacts(facts["sha256"], size, ImageInfo(*info) if info else None, None)


@lru_cache(maxsize=1)
def _shot_list() -> TypeAdapter:
    return TypeAdapter(list[Shot])


@lru_cache(maxsize=1)
def _positions() -> TypeAdapter:
    return TypeAdapter(dict[str, tuple[int, int]])


def _manifest_from(entry: dict[str, Any], path: str | os.PathLike) -> Manifest:
    file = os.fspath(path)
    return Manifest(
        path=Path(path), dir=Path(path).parent, version=entry["version"], name=entry["name"],
        shots=_shot_list().validate_python(entry["shots"]),  # pydantic-core: 5x faster than model_construct
        settings=Settings(**entry["settings"]),
        warnings=[Problem(file, *fields) for fields in entry["warnings"]],
        defaults=entry["defaults"],
        prices=ManifestPrices.model_validate(entry["prices"]),
        setting_positions=_positions().validate_python(entry["setting_positions"]),
        switches=frozenset(entry["switches"]),
    )


# -- writing an entry ---------------------------------------------------------------------------


def _store(entry_path: Path, manifest: Manifest, digest: str) -> None:
    try:
        inputs = _input_facts(manifest)
        if inputs is None:
            return  # an input file changed while it was checked: the next load checks again
        entry = {
            "format": FORMAT, "code": code_identity(), "path": os.path.realpath(manifest.path), "sha256": digest,
            "inputs": inputs, "switches": sorted(manifest.switches), "version": manifest.version, "name": manifest.name,
            "settings": manifest.settings.model_dump(), "defaults": manifest.defaults,
            "prices": manifest.prices.model_dump(), "setting_positions": manifest.setting_positions,
            "shots": [shot.model_dump(exclude_defaults=True) for shot in manifest.shots],
            "warnings": [[p.line, p.col, p.message, p.severity, p.shot, p.field] for p in manifest.warnings],
        }
        entry_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(entry_path, json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
    except (OSError, TypeError, ValueError) as exc:  # a cache that cannot be written is only slower
        log.info("manifest cache not written to %s: %s", entry_path, exc)


def _input_facts(manifest: Manifest) -> list[list[Any]] | None:
    """[reference, real path, size, mtime_ns, image facts, media facts] for each local input file,
    as the check read it: v1 images by imagefiles, v2 inputs by mediafiles (either may be None)."""
    out: dict[str, list[Any]] = {}
    for shot in manifest.shots:
        for _, value in shot.media():
            if value in out or imagefiles.kind(value) != "path":
                continue
            real = imagefiles.real_path(value, manifest.dir)
            image, media = imagefiles.seen(real), mediafiles.seen(real)
            if image is None and media is None:
                return None
            _, size, mtime_ns = image or media  # type: ignore[misc]
            out[value] = [value, real, size, mtime_ns, _image_json(image[0]) if image else None,
                          media[0].to_json() if media else None]
    return list(out.values())


def _image_json(facts: imagefiles.FileFacts) -> dict[str, Any]:
    info = facts.info
    return {"sha256": facts.sha256, "info": [info.format, info.width, info.height, info.size] if info else None}
