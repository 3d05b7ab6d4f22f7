"""Camera commands in prompts: the official 15, how to find them, and did-you-mean for typos.

`[Pan left,Pedestal up]` runs two moves together; brackets in sequence run in order
(minimax-api.md section 4). Both the linter and the simulator's previz renderer read this.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

COMMANDS: tuple[str, ...] = (
    "Truck left", "Truck right",
    "Pan left", "Pan right",
    "Push in", "Pull out",
    "Pedestal up", "Pedestal down",
    "Tilt up", "Tilt down",
    "Zoom in", "Zoom out",
    "Shake",
    "Tracking shot",
    "Static shot",
)

CN_COMMANDS: dict[str, str] = {
    "左移": "Truck left", "右移": "Truck right",
    "左摇": "Pan left", "右摇": "Pan right",
    "推进": "Push in", "拉远": "Pull out",
    "上升": "Pedestal up", "下降": "Pedestal down",
    "上摇": "Tilt up", "下摇": "Tilt down",
    "变焦推近": "Zoom in", "变焦拉远": "Zoom out",
    "晃动": "Shake", "跟随": "Tracking shot", "固定": "Static shot",
}

MAX_PER_BRACKET = 3

_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_BY_LOWER = {c.lower(): c for c in COMMANDS}


@dataclass(frozen=True)
class Bracket:
    """One `[...]` group in a prompt: its position, its raw items, and the commands recognised."""

    start: int
    end: int
    items: tuple[str, ...]
    commands: tuple[str, ...]
    unknown: tuple[str, ...]


def canonical(item: str) -> str | None:
    """The official command an item names (case-insensitive, English or Chinese), else None."""
    text = item.strip()
    return _BY_LOWER.get(text.lower()) or CN_COMMANDS.get(text)


# How a move is made, by the verb people use for it: turning the camera (pan, tilt), moving it
# (truck, pedestal, dolly, crane), or changing the lens (zoom). "pan up" is a turn, so it means
# [Tilt up] first and [Pedestal up] second.
_VERB_FAMILY = {
    "pan": "turn", "tilt": "turn", "turn": "turn", "rotate": "turn", "swivel": "turn", "look": "turn",
    "truck": "move", "pedestal": "move", "dolly": "move", "crane": "move", "boom": "move", "jib": "move",
    "track": "move", "move": "move", "slide": "move", "push": "move", "pull": "move", "rise": "move",
    "zoom": "lens",
}
_BY_DIRECTION = {  # direction -> the command for each family, in the order to suggest them
    "up": {"turn": "Tilt up", "move": "Pedestal up"},
    "down": {"turn": "Tilt down", "move": "Pedestal down"},
    "left": {"turn": "Pan left", "move": "Truck left"},
    "right": {"turn": "Pan right", "move": "Truck right"},
    "in": {"move": "Push in", "lens": "Zoom in"},
    "out": {"move": "Pull out", "lens": "Zoom out"},
    "forward": {"move": "Push in", "lens": "Zoom in"},
    "back": {"move": "Pull out", "lens": "Zoom out"},
    "backward": {"move": "Pull out", "lens": "Zoom out"},
}
_SYNONYMS = {
    "static": ["Static shot"], "still": ["Static shot"], "locked": ["Static shot"], "fixed": ["Static shot"],
    "follow": ["Tracking shot"], "tracking": ["Tracking shot"], "track": ["Tracking shot"],
    "handheld": ["Shake"], "shaky": ["Shake"], "shaking": ["Shake"], "zoom": ["Zoom in", "Zoom out"],
    "push": ["Push in"], "pull": ["Pull out"], "pan": ["Pan left", "Pan right"], "tilt": ["Tilt up", "Tilt down"],
}


def suggest(item: str) -> list[str]:
    """Likely meant commands for an unknown item, best first: near spellings, then moves in the same direction."""
    text = " ".join(item.strip().lower().replace("-", " ").replace("_", " ").split())
    found: list[str] = []

    def add(*names: str) -> None:
        for name in names:
            if name not in found:
                found.append(name)

    add(*(_BY_LOWER[c] for c in difflib.get_close_matches(text, list(_BY_LOWER), n=2, cutoff=0.8)))
    words = text.split()
    if len(words) == 2 and words[1] in _BY_DIRECTION and words[0] in _VERB_FAMILY:
        options = _BY_DIRECTION[words[1]]
        family = _VERB_FAMILY[words[0]]
        if family in options:
            add(options[family])
        add(*options.values())
    elif len(words) == 1 and words[0] in _SYNONYMS:
        add(*_SYNONYMS[words[0]])
    add(*(_BY_LOWER[c] for c in difflib.get_close_matches(text, list(_BY_LOWER), n=2, cutoff=0.6)))
    return found[:3]


def brackets(prompt: str) -> list[Bracket]:
    """Every bracket group in the prompt, in order."""
    out = []
    for match in _BRACKET.finditer(prompt):
        items = tuple(part.strip() for part in match.group(1).split(",") if part.strip())
        known = tuple(c for c in (canonical(i) for i in items) if c)
        unknown = tuple(i for i in items if canonical(i) is None)
        out.append(Bracket(match.start(), match.end(), items, known, unknown))
    return out


def moves(prompt: str) -> list[tuple[str, ...]]:
    """The camera moves in order: one tuple of simultaneous commands per bracket that has any."""
    return [b.commands for b in brackets(prompt) if b.commands]
