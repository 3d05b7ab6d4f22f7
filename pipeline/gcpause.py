"""Cyclic garbage collection off while a command loads its inputs, and back on for the work.

Loading a 10,000-shot manifest, its ledger and its plan builds about a million small objects,
none of them in a reference cycle, and the collector would scan them again and again: 40% of a
resume that has nothing to do. Reference counting still frees everything as usual. When the
work starts, what was loaded is frozen (never scanned again: it lives as long as the run) and
collection resumes for what the run creates.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Undo pause(); a no-op if it did not disable collection."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """No cyclic collection within the block (nothing frozen): for one big load, such as a
    manifest check, whether or not a command paused collection already."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
