"""Files that are whole or absent: written beside their target, then renamed over it.

Every file the tool writes for a user (ledger repair and snapshot, lock file, contact sheet,
thumbnails, reel, manifest cache, the simulator's state) goes through `replacing`, so a crash or
a full disk never leaves half of one under the real name. `durable=True` also fsyncs the file
and its folder, for files whose loss would cost money (the ledger, the simulator's images).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Iterator

CHUNK = 1024 * 1024  # hashing reads this much at a time: bounded memory for any video


def temp_beside(target: Path) -> Path:
    """The one temporary name for `target`: a writer killed mid-way leaves one stale file, reused."""
    return target.with_name(target.name + ".tmp")


@contextlib.contextmanager
def replacing(target: Path, tmp: Path | None = None, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it over `target`, on failure remove it."""
    tmp = temp_beside(target) if tmp is None else tmp
    try:
        yield tmp
        if durable:
            fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    if durable:
        # Windows cannot open a folder to sync it: there the rename is all there is.
        fsync_dir(target.parent, strict=os.name != "nt")


def write_atomic(target: Path, data: str | bytes, *, durable: bool = False) -> None:
    """Write all of `data` (text as UTF-8) to `target`, or leave what was there."""
    with replacing(target, durable=durable) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)


def fsync_file(path: Path) -> None:
    """Flush a written file to disk (opened for writing: Windows refuses to sync a read-only handle)."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path, *, strict: bool = True) -> None:
    """Make a rename or a create in `path` durable. Not `strict`: a folder that cannot be opened or
    synced (some file systems refuse) is let be."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if strict:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in bounded chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
