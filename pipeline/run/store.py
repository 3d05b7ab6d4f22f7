"""The output folder: where videos go, whether they are intact, and how they are published.

A video is written as `.part`, verified, fsynced, then renamed into place; the file it replaces
is moved to `history/`, never deleted.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from pipeline import files
from pipeline.run.ledger import TakeState

HISTORY = "history"
PART_SUFFIX = ".part"


OUTPUTS = "outputs"


def default_root(manifest_path: Path) -> Path:
    """Where a manifest's outputs go when --out is not given, whatever the working directory:
    `outputs/` in the nearest folder at or above the manifest's that holds `outputs/` or `.git`
    (the project), else beside the manifest. Running from another folder finds the same ledger."""
    start = Path(os.path.abspath(manifest_path)).parent
    for folder in (start, *start.parents):
        if (folder / OUTPUTS).is_dir() or (folder / ".git").exists():
            return folder / OUTPUTS
    return start / OUTPUTS


def human_size(n: int) -> str:
    """'812 bytes', '21 KB', '3.4 MB': never '0.0 MB' for a small video."""
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1e6:.1f} MB"


def part_path(final: Path) -> Path:
    return final.with_name(final.name + PART_SUFFIX)


sha256_of = files.sha256_file  # a video's hex sha256, as the ledger records it


def check_intact(out_dir: Path, state: TakeState, verify: bool = False) -> str | None:
    """None if the take's video is as the ledger recorded it, else what is wrong.

    Fast path: same size and mtime as recorded. Otherwise the sha256 decides, so a touched but
    unchanged file is still fine and an edited one is caught. `verify` always hashes: bit rot, or
    an edit that kept the size and the mtime (`touch -r`), is caught only so.
    """
    if not state.file:
        return "no video recorded"
    path = os.path.join(out_dir, state.file)  # os.path, not pathlib: 10,000 of these on every resume
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"video {state.file} is missing"
    if stat.S_ISDIR(st.st_mode):
        return f"{state.file} is a folder, not the video"
    if st.st_size != state.bytes:
        return f"video {state.file} was changed since it was downloaded ({st.st_size} bytes, expected {state.bytes})"
    if not verify and state.mtime_ns is not None and st.st_mtime_ns == state.mtime_ns:
        return None
    if sha256_of(path) != state.sha256:
        return f"video {state.file} was changed since it was downloaded (sha256 differs)"
    return None


def archive(out_dir: Path, final: Path, label: str) -> Path:
    """Move an existing video to history/ under a name that never overwrites; return the new path."""
    history = out_dir / HISTORY
    history.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = history / f"{final.stem}.{label}.{stamp}{final.suffix}"
    n = 1
    while target.exists():
        n += 1
        target = history / f"{final.stem}.{label}.{stamp}-{n}{final.suffix}"
    os.replace(final, target)
    return target


def publish(part: Path, final: Path) -> int:
    """Atomically rename a verified, fsynced `.part` into place and make the rename durable."""
    os.replace(part, final)
    files.fsync_dir(final.parent)
    return final.stat().st_mtime_ns
