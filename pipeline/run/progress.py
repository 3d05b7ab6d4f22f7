"""The live progress bar on stderr: one bar for the run, counts per phase, an ETA."""

from __future__ import annotations

import sys
import time
from collections import Counter

from tqdm import tqdm

from pipeline.run.plan import TakeSpec

REDRAW_EVERY = 0.25  # seconds: phase changes redraw the counts, but not thousands of times a second
FINAL = frozenset({"done", "failed", "uncertain", "pending"})
SHOWN = ("queued", "creating", "generating", "downloading", "failed", "uncertain")


class Progress:
    """Fed by the runner's on_phase callback; silent when stderr is not a terminal or --quiet."""

    def __init__(self, total: int, *, enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = tqdm(total=total, file=sys.stderr, disable=not enabled, unit="take",
                        dynamic_ncols=True, desc="shots")
        self.phase: dict[tuple[str, int], str] = {}
        self.counts: Counter[str] = Counter()
        self._drawn = 0.0

    def __call__(self, spec: TakeSpec, phase: str) -> None:
        old = self.phase.get(spec.key)
        if old == phase or old in FINAL:
            return
        if old:
            self.counts[old] -= 1
        self.phase[spec.key] = phase
        self.counts[phase] += 1
        if phase in FINAL:
            self.bar.update(1)
        now = time.monotonic()
        redraw = now - self._drawn >= REDRAW_EVERY
        if redraw:
            self._drawn = now
        self.bar.set_postfix_str(", ".join(f"{self.counts[p]} {p}" for p in SHOWN if self.counts[p] > 0),
                                 refresh=redraw)

    def close(self) -> None:
        self.bar.close()
