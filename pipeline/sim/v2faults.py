"""Seeded fault injection on the v2 routes: the v1 names where the fault is the same, plus the
answers only v2 has (529, 402, 422, 429 as HTTP statuses; a task failing with error.code "1026").

The dice are the v1 design (faults.py): one stream per fault, seeded by the simulator seed and
the fault's name, so turning one fault on never moves another. The streams are v2's own, so v2
traffic never shifts when a v1 fault strikes.
"""

from __future__ import annotations

import difflib
import random
import threading
from typing import Mapping

CREATE = frozenset({"v2_create", "v2_regenerate", "v2_context_ir"})
API = CREATE | {"v2_query", "v2_list", "v2_delete"}
TRANSPORT = API | {"v2_download"}

# fault name -> the v2 endpoints it can strike, in the order the server tries them.
V2_FAULTS: dict[str, frozenset[str]] = {
    "reset": TRANSPORT,  # connection closed with RST before the request is read
    "slow": TRANSPORT,  # answer delayed by SimConfig.slow_seconds (real seconds)
    "http_500": API,  # 500 server_error (1000), the v2 JSON error body
    "http_502": TRANSPORT,  # a gateway's HTML page, not JSON
    "http_503": TRANSPORT,
    "http_529": API,  # 529 overloaded_error (no internal code in the message)
    "error_429": API,  # 429 rate_limit_error (1002)
    "error_402": CREATE,  # 402 insufficient_balance_error (1008); no task
    "error_422": CREATE,  # 422 unprocessable_entity_error (1026); no task
    "drop_create": CREATE,  # the task is made (and durable), then the connection is reset
    "fail_1026": CREATE,  # decided at create: the task ends failed with error.code "1026"
    "expire_url": frozenset({"v2_query", "v2_list"}),  # the content URL handed out is already expired
    "truncate_download": frozenset({"v2_download"}),  # half the body under the full Content-Length
}
HTTP_FAULTS = ("http_500", "http_502", "http_503", "http_529")
ERROR_FAULTS = ("error_429", "error_402", "error_422")


def check_v2_faults(faults: Mapping[str, float]) -> dict[str, float]:
    """A validated copy: known names, probabilities in [0, 1]; ValueError names the problem."""
    out = {}
    for name, p in faults.items():
        if name not in V2_FAULTS:
            close = difflib.get_close_matches(name, list(V2_FAULTS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown v2 fault '{name}'.{hint} Known v2 faults: {', '.join(V2_FAULTS)}")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"v2 fault '{name}' has probability {p!r}; it must be a number from 0 to 1")
        out[name] = float(p)
    return out


def parse_v2_faults(text: str) -> dict[str, float]:
    """'reset=0.05,http_529=0.02' -> {'reset': 0.05, 'http_529': 0.02} (for a --v2-faults option)."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"v2 fault '{item}' needs a probability, e.g. {item}=0.05")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"v2 fault '{name.strip()}' has probability '{value}', not a number") from None
    return check_v2_faults(out)


class V2Dice:
    """Rolls for each v2 fault with its probability; thread-safe; probabilities can change live."""

    def __init__(self, faults: Mapping[str, float], seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._streams: dict[str, random.Random] = {}
        self._p = check_v2_faults(faults)

    def set(self, faults: Mapping[str, float]) -> None:
        """Replace every probability (a fault left out is off)."""
        checked = check_v2_faults(faults)
        with self._lock:
            self._p = checked

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
                stream = self._streams[name] = random.Random(f"{self._seed}:v2fault:{name}")
            return stream.random() < p
