"""What a run shows on stderr while it works: the live bar on a terminal, the event log
(pipeline/run/eventlog.py) elsewhere; `for_stderr` picks."""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, TextIO

from pipeline.run.eventlog import EventLog

if TYPE_CHECKING:
    from pipeline.run.job import NewsKind
    from pipeline.run.plan import TakeSpec

REDRAW_EVERY = 0.25  # seconds: phase changes redraw the counts, but not thousands of times a second
FINAL = frozenset({"done", "failed", "uncertain", "pending"})
SHOWN = ("queued", "creating", "generating", "downloading", "failed", "uncertain")


def for_stderr(total: int, *, quiet: bool = False, verbose: bool = False,
               stream: TextIO | None = None) -> Progress | EventLog:
    """The bar when stderr is a terminal, else one line per event. `quiet`: no bar, and the log
    only when `verbose` asks for it (a quiet run in CI says nothing while it works)."""
    stream = stream if stream is not None else sys.stderr
    if verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # decisions, not one line per HTTP request
    if _is_terminal(stream):
        return Progress(total, enabled=not quiet, verbose=verbose)
    if quiet and not verbose:
        return Progress(total, enabled=False)
    return EventLog(verbose=verbose, stream=stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


class Progress:
    """Fed by the runner's on_phase callback; silent when stderr is not a terminal or --quiet.
    `verbose`: the runner's retries and decisions are printed above the bar."""

    def __init__(self, total: int, *, enabled: bool | None = None, verbose: bool = False):
        from tqdm import tqdm  # here: a run logged to a file never draws a bar

        if enabled is None:
            enabled = sys.stderr.isatty()
        self.verbose = verbose
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

    def news(self, spec: TakeSpec, kind: NewsKind, detail: str, /) -> None:
        """Under -v, what a log would say of retries and decisions, written above the bar; the
        outcomes are in the summary."""
        if self.verbose and kind in ("retrying", "decision") and detail:
            self.bar.write(f"{spec.label}: {kind + ': ' if kind == 'retrying' else ''}{detail}", file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
