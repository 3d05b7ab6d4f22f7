"""Seeded fault injection: which faults exist, where each can strike, and the dice.

Each fault has its own random stream (seeded by the simulator seed and the fault's name), so
turning one fault on or off never changes when another one strikes.
"""

from __future__ import annotations

import difflib
import random
import threading
from typing import Mapping

# Endpoints, as the server names them in its stats.
API = frozenset({"create", "query", "retrieve", "retrieve_content"})
TRANSPORT = API | {"download"}

# fault name -> the endpoints it can strike, in the order the server tries them.
FAULTS: dict[str, frozenset[str]] = {
    "reset": TRANSPORT,  # connection closed with RST before the request is processed
    "slow": TRANSPORT,  # answer delayed by slow_seconds, then answered normally
    "http_500": TRANSPORT,
    "http_502": TRANSPORT,
    "http_503": TRANSPORT,
    "error_1000": API,  # a base_resp error answer instead of the real one
    "error_1001": API,
    "error_1002": API,
    "error_1013": API,
    "error_1033": API,
    "drop_create": frozenset({"create"}),  # the task is made, then the answer is lost (RST)
    "truncate_download": frozenset({"download", "retrieve_content"}),  # short body, full Content-Length
    "expire_url": frozenset({"retrieve"}),  # the download URL handed out is already expired
    "fail_1027": frozenset({"create"}),  # decided at create: the task ends in Fail with 1027
}

HTTP_FAULTS = ("http_500", "http_502", "http_503")
ERROR_FAULTS = ("error_1000", "error_1001", "error_1002", "error_1013", "error_1033")


def check_faults(faults: Mapping[str, float], known: Mapping[str, frozenset[str]] = FAULTS,
                 what: str = "fault") -> dict[str, float]:
    """A validated copy: names in `known`, probabilities in [0, 1]; ValueError names the problem."""
    out = {}
    for name, p in faults.items():
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown {what} '{name}'.{hint} Known {what}s: {', '.join(known)}")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{what} '{name}' has probability {p!r}; it must be a number from 0 to 1")
        out[name] = float(p)
    return out


def parse_faults(text: str, known: Mapping[str, frozenset[str]] = FAULTS, what: str = "fault") -> dict[str, float]:
    """'reset=0.05,http_500=0.02' -> {'reset': 0.05, 'http_500': 0.02}."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{what} '{item}' needs a probability, e.g. {item}=0.05")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{what} '{name.strip()}' has probability '{value}', not a number") from None
    return check_faults(out, known, what)


class FaultDice:
    """Rolls for each fault with its probability; thread-safe; probabilities can change live.
    One stream per fault, seeded by the seed, `stream` and the fault's name: turning one fault
    on never moves another, and dice with another `stream` never move these."""

    def __init__(self, faults: Mapping[str, float], seed: int, *,
                 known: Mapping[str, frozenset[str]] = FAULTS, what: str = "fault", stream: str = "fault") -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._known, self._what, self._stream = known, what, stream
        self._streams: dict[str, random.Random] = {}
        self._p = check_faults(faults, known, what)

    def set(self, faults: Mapping[str, float]) -> None:
        """Replace every probability (a fault left out is off)."""
        checked = check_faults(faults, self._known, self._what)
        with self._lock:
            self._p = checked

    @property
    def probabilities(self) -> dict[str, float]:
        with self._lock:
            return dict(self._p)

    def roll(self, name: str) -> bool:
        """True if `name` strikes now."""
        with self._lock:
            p = self._p.get(name, 0.0)
            if p <= 0.0:
                return False
            if p >= 1.0:
                return True
            stream = self._streams.get(name)
            if stream is None:
                stream = self._streams[name] = random.Random(f"{self._seed}:{self._stream}:{name}")
            return stream.random() < p
