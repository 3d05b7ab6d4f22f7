"""The live view of a run as text: pure state and a frame renderer, no terminal I/O (progress.py
paints it). A frame is a list of lines, each no wider than the width it was rendered for:

    ████████████░░░░░░░░░░░░  3/10 done · 02:15 elapsed · ETA 04:30 · $1.29 spent
    done 3 · failed 1 · uncertain 0 · pending 0
    queued 2 · creating 1 · generating 2 · downloading 1
      s02-keeper#2       generating    1m05s
      s03-gull           downloading      4s
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

OUTCOMES = ("done", "failed", "uncertain", "pending")
WORKING = ("queued", "creating", "generating", "downloading")
STATES = OUTCOMES + WORKING
IN_FLIGHT = frozenset({"creating", "generating", "downloading"})
FINAL = frozenset(OUTCOMES)
HEADER_LINES = 3  # the bar line, the outcomes, the takes at work; then the takes in flight

# SGR colours for the outcomes a director looks for first (green done, red failed, yellow uncertain).
_COLOURS = {"done": "32", "failed": "31", "uncertain": "33"}
_BAR_MIN, _BAR_MAX = 10, 40
_SGR = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class LiveState:
    """What the view knows: each take's phase and since when, the clock the run started on, and
    the cost of each take that creates (spend counts when a take is done)."""

    total: int
    started: float
    costs: Mapping[tuple[str, int], float] = field(default_factory=dict)
    simulated: bool = False
    phase: dict[tuple[str, int], str] = field(default_factory=dict)
    since: dict[tuple[str, int], float] = field(default_factory=dict)
    labels: dict[tuple[str, int], str] = field(default_factory=dict)

    def move(self, key: tuple[str, int], label: str, phase: str, now: float) -> bool:
        """Record a phase change; False when nothing changed (a repeat, or after a final outcome)."""
        old = self.phase.get(key)
        if old == phase or old in FINAL:
            return False
        self.phase[key] = phase
        self.since[key] = now
        self.labels[key] = label
        return True

    def counts(self) -> dict[str, int]:
        """Per state, adding up to the takes this run works on: a take not yet heard of is queued."""
        counts = dict.fromkeys(STATES, 0)
        for phase in self.phase.values():
            if phase in counts:
                counts[phase] += 1
        heard = sum(counts.values()) - counts["queued"]
        counts["queued"] = max(0, max(self.total, len(self.phase)) - heard)
        return counts

    def spent(self) -> float:
        return sum(cost for key, cost in self.costs.items() if self.phase.get(key) == "done")

    def in_flight(self) -> list[tuple[str, str, float]]:
        """(label, phase, since) of the takes at the API or downloading, oldest first."""
        busy = [(self.labels[k], p, self.since[k]) for k, p in self.phase.items() if p in IN_FLIGHT]
        return sorted(busy, key=lambda item: item[2])


def frame(state: LiveState, now: float, *, width: int, flight_lines: int, color: bool = False) -> list[str]:
    """HEADER_LINES + flight_lines lines, none wider than `width` (colour codes aside)."""
    counts = state.counts()
    lines = [
        _fit(_header(state, counts, now, width), width),
        _fit(_join(counts, OUTCOMES, color, width), width),
        _fit(_join(counts, WORKING, False, width), width),
    ]
    return lines + _flight(state.in_flight(), now, width, flight_lines)


def _header(state: LiveState, counts: Mapping[str, int], now: float, width: int) -> str:
    elapsed = max(0.0, now - state.started)
    total = max(state.total, sum(counts.values()))
    finished = sum(counts[s] for s in OUTCOMES)
    parts = [f"{counts['done']}/{total} done", f"{clock(elapsed)} elapsed", f"ETA {_eta(counts, total, finished, elapsed)}"]
    if state.costs:
        spent = state.spent()
        parts.append(f"${spent:.2f} simulated" if state.simulated else f"${spent:.2f} spent")
    text = " · ".join(parts)
    room = width - len(text) - 2
    if room < _BAR_MIN:
        return text
    return f"{_bar(counts['done'], total, min(room, _BAR_MAX))}  {text}"


def _eta(counts: Mapping[str, int], total: int, finished: int, elapsed: float) -> str:
    """Time per finished take so far times the takes left: '?' until a take is done, since an
    early refusal (failed in a second) says nothing about how long a video takes."""
    left = total - finished
    if left <= 0:
        return clock(0)
    if counts["done"] == 0:
        return "?"
    return clock(elapsed / finished * left)


def _bar(done: int, total: int, cells: int) -> str:
    """tqdm's own bar (its partial-block characters) between bars, `cells` wide in all."""
    from tqdm import tqdm

    return "|" + tqdm.format_meter(done, max(total, 1), 0, ncols=cells - 2, bar_format="{bar}") + "|"


def _join(counts: Mapping[str, int], states: tuple[str, ...], color: bool, width: int) -> str:
    """`name N` per state; coloured only when the plain line fits (a cut never splits a colour code)."""
    plain = " · ".join(f"{name} {counts[name]}" for name in states)
    if len(plain) > width or not color:
        return _cut(plain, width)
    parts = []
    for name in states:
        text = f"{name} {counts[name]}"
        parts.append(f"\x1b[{_COLOURS[name]}m{text}\x1b[0m" if counts[name] and name in _COLOURS else text)
    return " · ".join(parts)


def _flight(busy: list[tuple[str, str, float]], now: float, width: int, lines: int) -> list[str]:
    """One line per take in flight (label, phase, age); '+N more' on the last line when they do not fit."""
    if lines <= 0:
        return []
    shown = busy if len(busy) <= lines else busy[: lines - 1]
    label_w = max([len(label) for label, _, _ in shown] + [8])
    label_w = min(label_w, max(8, width - 24))
    rows = [_fit(f"  {_cut(label, label_w):<{label_w}}  {phase:<11}  {age(now - since):>7}", width)
            for label, phase, since in shown]
    if len(shown) < len(busy):
        rows.append(_fit(f"  +{len(busy) - len(shown)} more", width))
    return rows + [""] * (lines - len(rows))


def clock(seconds: float) -> str:
    """MM:SS, or H:MM:SS past an hour."""
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def age(seconds: float) -> str:
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def visible_len(text: str) -> int:
    """Characters on screen: colour codes take none."""
    return len(_SGR.sub("", text))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _fit(text: str, width: int) -> str:
    """The line cut to the width; a coloured line (see _join) already fits."""
    return text if visible_len(text) <= width else _cut(_SGR.sub("", text), width)
