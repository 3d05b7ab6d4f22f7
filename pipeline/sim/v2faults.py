"""Seeded fault injection on the v2 routes: the v1 names where the fault is the same, plus the
answers only v2 has (529, 402, 422, 429 as HTTP statuses; a task failing with error.code "1026").

The dice are the v1 design (faults.py): one stream per fault, seeded by the simulator seed and
the fault's name, so turning one fault on never moves another. The streams are v2's own, so v2
traffic never shifts when a v1 fault strikes.
"""

from __future__ import annotations

from typing import Mapping

from pipeline.sim.faults import FaultDice, check_faults, parse_faults

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
    """A validated copy: known v2 names, probabilities in [0, 1]; ValueError names the problem."""
    return check_faults(faults, V2_FAULTS, "v2 fault")


def parse_v2_faults(text: str) -> dict[str, float]:
    """'reset=0.05,http_529=0.02' -> {'reset': 0.05, 'http_529': 0.02} (for a --v2-faults option)."""
    return parse_faults(text, V2_FAULTS, "v2 fault")


class V2Dice(FaultDice):
    """The v2 faults' dice: v1's kind, with streams of their own."""

    def __init__(self, faults: Mapping[str, float], seed: int) -> None:
        super().__init__(faults, seed, known=V2_FAULTS, what="v2 fault", stream="v2fault")
