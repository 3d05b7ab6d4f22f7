"""Image references in a manifest: a local file (kept inside the project) or an https URL. The
same rules of place hold for v2's videos and audio (mediafiles.py reads those).

A local file is read once per version of it: its content hash and its image check are cached
by (resolved path, size, mtime_ns), so 10,000 shots that share one image cost one read, and
an edited image (new size or mtime) is read again.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.errors import InputError
from pipeline.minimax import images

Kind = Literal["https", "http", "data", "other-url", "path"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: "C:" is a drive
_PROJECT_MARKERS = (".git", "pyproject.toml")


class ImageRefError(ValueError):
    """An image reference that cannot be used; the message names the rule (no absolute paths)."""


def kind(value: str) -> Kind:
    """What an image field holds: an https URL, another URL, a data URL, or a file path."""
    low = value[:8].lower()
    if low.startswith("https://"):
        return "https"
    if low.startswith("http://"):
        return "http"
    if low.startswith("data:"):
        return "data"
    if _SCHEME.match(value):
        return "other-url"
    return "path"


def url_problem(value: str, what: str = "image") -> str | None:
    """Why a non-path reference to an image (or a video, an audio file) cannot be used, or None
    for a usable https URL."""
    k = kind(value)
    if k == "https":
        host = value[8:].split("/", 1)[0]
        if not host or any(c.isspace() for c in value):
            return f"'{value}' is not a valid https URL"
        return None
    if k == "http":
        return "plain http URLs are not allowed; use https (or a local file)"
    if k == "data":
        return f"inline data URLs are not supported; save the {what} as a file next to the manifest"
    if k == "other-url":
        return f"'{_SCHEME.match(value).group(1)}:' URLs are not supported; use an https URL or a file path"
    return None


_roots: dict[str, tuple[str, str]] = {}


def project_root(manifest_dir: Path) -> Path:
    """The folder images may come from: the enclosing project (a .git or pyproject.toml), else the manifest's folder."""
    return Path(_bases(manifest_dir)[1])


def _bases(manifest_dir: str | os.PathLike) -> tuple[str, str]:
    """(real path of the manifest's folder, real path of its project), cached per folder."""
    key = os.fspath(manifest_dir)
    hit = _roots.get(key)
    if hit is None:
        base = os.path.realpath(key)
        root = base
        folder = base
        while True:
            if any(os.path.exists(os.path.join(folder, marker)) for marker in _PROJECT_MARKERS):
                root = folder
                break
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        hit = _roots[key] = (base, root)
    return hit


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def resolve_local(value: str, manifest_dir: str | os.PathLike) -> Path:
    """The real path of a local image, refusing one that leads outside the project (by '..' or a symlink)."""
    return Path(real_path(value, manifest_dir))


def real_path(value: str, manifest_dir: str | os.PathLike) -> str:
    """resolve_local as a string: the checker and the request builder call it once per shot."""
    base, root = _bases(manifest_dir)
    target = os.path.realpath(os.path.join(base, value))  # an absolute value replaces base
    if not (_inside(target, base) or _inside(target, root)):
        raise ImageRefError(
            f"'{value}' leads outside the manifest's folder and project (through '..', an absolute path "
            "or a symlink); keep images inside the project"
        )
    return target


def local_file(shot_id: str, field: str, value: str, manifest_dir: str | os.PathLike) -> str | None:
    """The real path behind a shot's local file reference, None for a URL; InputError (naming the
    shot and the field) for a URL or a path that cannot be used. For the request builders, which
    meet a file that changed since the check."""
    if kind(value) != "path":
        problem = url_problem(value)
        if problem:
            raise InputError(f"shot '{shot_id}' field '{field}': {problem}")
        return None
    try:
        return real_path(value, manifest_dir)
    except ImageRefError as exc:
        raise InputError(f"shot '{shot_id}' field '{field}': {exc}") from None


@dataclass(frozen=True)
class FileFacts:
    """What one read of an image file told us: its content hash and whether the API would take it."""

    sha256: str  # UNHASHED for a file refused by its size (error is set)
    size: int
    info: images.ImageInfo | None
    error: str | None  # the broken image rule, None when the image is fine


UNHASHED = ""  # the sha256 of a file refused by its size: never read, so never hashed

_facts: dict[tuple[str, int, int], FileFacts] = {}
_FACTS_MAX = 10_000


def facts(path: str | os.PathLike) -> FileFacts:
    """Hash and check a local image file, once per (path, size, mtime_ns). OSError if unreadable."""
    name = os.fspath(path)
    st = os.stat(name)
    key = (name, st.st_size, st.st_mtime_ns)
    hit = _facts.get(key)
    if hit is not None:
        return hit
    if st.st_size >= images.MAX_BYTES:
        # Refused by its size alone, never opened: a 200 GB (sparse) file took 165 s to hash.
        # No fingerprint needs its hash: a refused image is in no valid manifest.
        out = FileFacts(UNHASHED, st.st_size, None, images.too_big(st.st_size))
    else:
        with open(name, "rb") as fh:
            data = fh.read(images.MAX_BYTES)  # never more: the file may have grown since the stat
        if len(data) >= images.MAX_BYTES:
            out = FileFacts(UNHASHED, len(data), None, images.too_big(len(data), at_least=True))
        else:
            try:
                info, error = images.inspect(data), None
            except images.ImageError as exc:
                info, error = None, str(exc)
            out = FileFacts(hashlib.sha256(data).hexdigest(), len(data), info, error)
    remember(name, st.st_size, st.st_mtime_ns, out)
    return out


def seen(path: str) -> tuple[FileFacts, int, int] | None:
    """(facts, size, mtime_ns) if this file was read as it is now; None if never, or changed since."""
    st = os.stat(path)
    hit = _facts.get((path, st.st_size, st.st_mtime_ns))
    return (hit, st.st_size, st.st_mtime_ns) if hit is not None else None


def remember(path: str, size: int, mtime_ns: int, known: FileFacts) -> None:
    """Keep facts for the file at this size and mtime (read here, or by an earlier process: the manifest cache)."""
    if len(_facts) >= _FACTS_MAX:
        _facts.clear()
    _facts[(path, size, mtime_ns)] = known
