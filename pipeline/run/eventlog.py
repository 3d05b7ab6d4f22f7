"""The run as a log, for a stderr that is not a terminal (CI, `2> log`): one timestamped line per
event that matters, no bar, nothing redrawn.

    09:14:02 s01 submitted (task 2876...)
    09:15:40 s01 done s01.mp4 (1.2 MB)
    09:15:41 s02 failed: the API refused the prompt as sensitive (1026)

`verbose` adds the runner's decisions (first-poll waits, rate adaptations, polls), shot by shot.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from pipeline.run.job import NewsKind
    from pipeline.run.plan import TakeSpec

# How each kind of news reads after the take's label: a word alone, or a word and a colon.
_SPACED = frozenset({"submitted", "done", "resumed"})  # "s01 done s01.mp4 (1.2 MB)"
_QUIET_WITHOUT_DETAIL = frozenset({"pending"})  # a take left pending with no reason: nothing to say


class EventLog:
    """A Watcher (pipeline/run/runner.py) that writes lines; phases alone draw nothing here."""

    def __init__(self, *, verbose: bool = False, stream: TextIO | None = None,
                 now: Callable[[], float] = time.time):
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stderr
        self.now = now

    def __call__(self, spec: TakeSpec, phase: str, /) -> None:
        """Phases are for the bar; the log hears the same moments, with their detail, as news."""

    def news(self, spec: TakeSpec, kind: NewsKind, detail: str, /) -> None:
        if kind == "decision" and not self.verbose:
            return
        if kind in _QUIET_WITHOUT_DETAIL and not detail:
            return
        self.write(line(self.now(), spec.label, kind, detail))

    def write(self, text: str) -> None:
        try:
            print(text, file=self.stream, flush=True)
        except (BrokenPipeError, ValueError):  # the reader left, or the stream is closed: the run goes on
            pass

    def close(self) -> None:
        """Nothing to tidy: every line was flushed when written (the same interface as the bar)."""


def line(when: float, label: str, kind: NewsKind, detail: str) -> str:
    """One event: `HH:MM:SS label kind detail`, the detail in brackets for a submit."""
    stamp = time.strftime("%H:%M:%S", time.localtime(when))
    if kind == "decision":
        return f"{stamp} {label} {detail}"
    if kind == "submitted":
        return f"{stamp} {label} submitted ({detail})" if detail else f"{stamp} {label} submitted"
    if kind in _SPACED:
        return f"{stamp} {label} {kind} {detail}".rstrip()
    return f"{stamp} {label} {kind}: {detail}" if detail else f"{stamp} {label} {kind}"
