"""What a run shows on stderr while it works: the live view on a terminal (pipeline/run/liveview.py,
painted here with tqdm), the event log (pipeline/run/eventlog.py) elsewhere; `for_stderr` picks.

tqdm, not rich: it is already a dependency, and its positioned bars are exactly a fixed block of
lines redrawn in place (it moves the cursor, trims to the width, writes messages above the block)."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from typing import TYPE_CHECKING, Callable, TextIO

from pipeline.run import liveview
from pipeline.run.eventlog import EventLog

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tqdm import tqdm

    from pipeline.run.job import NewsKind
    from pipeline.run.plan import TakeSpec

TICK = 1.0  # seconds: the clock and the ages move even when no take changes phase
REDRAW_EVERY = 0.25  # seconds: phase changes redraw, but not thousands of times a second
MAX_FLIGHT_LINES = 8  # takes in flight shown one per line; more read "+N more"
FINAL = liveview.FINAL


def for_stderr(total: int, *, quiet: bool = False, verbose: bool = False, stream: TextIO | None = None,
               no_color: bool = False, costs: Mapping[tuple[str, int], float] | None = None,
               simulated: bool = False) -> Progress | EventLog:
    """The live view when stderr is a terminal, else one line per event. `quiet`: no view, and the
    log only when `verbose` asks for it (a quiet run in CI says nothing while it works).
    `costs`: the new spend of each take that creates (PlannedTake.cost), for "spent so far";
    `no_color` (or NO_COLOR in the environment): no colour codes."""
    stream = stream if stream is not None else sys.stderr
    if verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # decisions, not one line per HTTP request
    if _is_terminal(stream):
        return Progress(total, enabled=not quiet, verbose=verbose, stream=stream,
                        color=wants_color(no_color), costs=costs, simulated=simulated)
    if quiet and not verbose:
        return Progress(total, enabled=False, stream=stream)
    return EventLog(verbose=verbose, stream=stream)


def wants_color(no_color: bool = False) -> bool:
    """Colour unless `--no-color` or NO_COLOR (any non-empty value, no-color.org) says not."""
    return not no_color and not os.environ.get("NO_COLOR")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _terminal_size(stream: TextIO) -> os.terminal_size:
    try:
        return os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return shutil.get_terminal_size()


class Progress:
    """A Watcher (pipeline/run/runner.py) drawing the live view: per-state counts, elapsed, ETA,
    spend and the takes in flight, redrawn every TICK by a thread until `close`, which leaves the
    last frame on screen. Silent when disabled (--quiet). `verbose`: retries and decisions are
    written above the view."""

    def __init__(self, total: int, *, enabled: bool | None = None, verbose: bool = False,
                 stream: TextIO | None = None, color: bool = False,
                 costs: Mapping[tuple[str, int], float] | None = None, simulated: bool = False,
                 now: Callable[[], float] = time.monotonic, tick: float = TICK):
        from tqdm import tqdm  # here: a run logged to a file never draws a view

        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = _is_terminal(self.stream)
        self.verbose = verbose
        self.color = color
        self.now = now
        self.state = liveview.LiveState(total, now(), costs=dict(costs or {}), simulated=simulated)
        size = _terminal_size(self.stream) if enabled else os.terminal_size((80, 24))
        flight = max(0, min(MAX_FLIGHT_LINES, total, size.lines - liveview.HEADER_LINES - 1))
        lines = liveview.HEADER_LINES + flight
        # One tqdm per line, each showing a line of the frame as its whole format ("{desc}").
        self.bar = tqdm(total=total, file=self.stream, disable=not enabled, position=0, leave=True,
                        bar_format="{desc}", dynamic_ncols=True)
        self.lines: list[tqdm] = [self.bar] + [
            tqdm(total=total, file=self.stream, disable=not enabled, position=i, leave=True,
                 bar_format="{desc}", dynamic_ncols=True) for i in range(1, lines)]
        self._lock = threading.Lock()
        self._drawn = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if enabled:
            self.draw()
            self._ticker = threading.Thread(target=self._tick, args=(tick,), name="shots-live-view", daemon=True)
            self._ticker.start()

    def __call__(self, spec: TakeSpec, phase: str, /) -> None:
        now = self.now()
        with self._lock:
            changed = self.state.move(spec.key, spec.label, phase, now)
        if changed and now - self._drawn >= REDRAW_EVERY:
            self.draw()

    def news(self, spec: TakeSpec, kind: NewsKind, detail: str, /) -> None:
        """Under -v, what a log would say of retries and decisions, written above the view; the
        outcomes are in the summary."""
        if self.verbose and kind in ("retrying", "decision") and detail:
            with self._lock:
                self.bar.write(f"{spec.label}: {kind + ': ' if kind == 'retrying' else ''}{detail}", file=self.stream)

    def render(self, width: int) -> list[str]:
        """The frame as it would be drawn now at `width` columns."""
        with self._lock:
            return liveview.frame(self.state, self.now(), width=width, flight_lines=len(self.lines) - 3,
                                  color=self.color)

    def draw(self) -> None:
        if self.bar.disable:
            return
        width = max(20, _terminal_size(self.stream).columns - 1)  # the last column wraps on some terminals
        text = self.render(width)
        with self._lock:
            self._drawn = self.now()
            for line, shown in zip(self.lines, text):
                line.set_description_str(shown, refresh=False)
            for line in self.lines:
                line.refresh()

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.draw()
            except (ValueError, OSError):  # the terminal went away: the run goes on without a view
                return

    def close(self) -> None:
        """Stop the clock, draw the final frame and leave it on screen."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.draw()
        with self._lock:
            for line in self.lines:  # in position order: each leaves its line and steps down one
                line.close()
