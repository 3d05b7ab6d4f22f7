"""Which server a run talks to: the real MiniMax API (a key is set) or the built-in simulator.

The endpoint identity is part of every fingerprint, so a simulator video never counts as done
against the real API. The in-process simulator runs on a fast clock; the runner scales its own
waits by the same factor so the policy is the same one the real API gets.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Literal

from pipeline.errors import InputError
from pipeline.minimax.account import api_key_from_env, base_url_from
from pipeline.run import userconfig
from pipeline.run.endpoint import name_endpoint
from pipeline.run.request import SIM_ENDPOINT

if TYPE_CHECKING:
    from pipeline.minimax.dialects import Clients

Choice = Literal["auto", "sim", "api"]
SIM_KEY = "sim-local"
SIM_TIME_SCALE = 0.01  # a 2-minute generation takes 1.2 s
SIM_STATE_DIR = ".simulator"  # in the output folder: the embedded simulator's tasks and files


@dataclass(frozen=True)
class Backend:
    client: Clients  # v1 and v2 on one connection pool: each call goes to its model's dialect
    endpoint: str  # identity in fingerprints: "simulator" or the API base URL
    kind: Literal["simulator", "api"]
    time_scale: float
    banner: str


def resolve(choice: Choice) -> Literal["simulator", "api"]:
    """auto: the API when MINIMAX_API_KEY is set, the simulator otherwise."""
    key = api_key_from_env()
    if choice == "api" and not key:
        raise InputError("--backend api needs MINIMAX_API_KEY; without it, use --backend sim (the simulator)")
    if choice == "sim" or (choice == "auto" and not key):
        return "simulator"
    return "api"


@asynccontextmanager
async def open_backend(choice: Choice, *, rpm: float | None, seed: int | None = None,
                       state_dir: Path | None = None) -> AsyncIterator[Backend]:
    """The client for `choice`. The embedded simulator keeps its tasks and files in `state_dir`
    (the output folder) so that a later process resumes them as it would against the real API."""
    from pipeline.minimax.dialects import Clients  # here: plan and status need no HTTP library

    kind = resolve(choice)
    if kind == "api":
        async with Clients(base_url=api_base_url()) as client:
            where = name_endpoint(client.base_url)
            yield Backend(client, client.base_url, "api", 1.0, f"Using {where.text}"
                          + (f" at {client.base_url}." if where.kind == "api" else "."))
        return

    from pipeline.sim import SimConfig, Simulator, V2Config

    # The v2 task list's 7 days are simulated time, so at SIM_TIME_SCALE they would pass in under
    # two hours: an embedded previz resumed the next day must still find its tasks.
    config = SimConfig(keys=(SIM_KEY,), time_scale=SIM_TIME_SCALE, rpm=None if rpm is None else max(1, int(rpm)),
                       seed=seed or 0, state_dir=state_dir, v2=V2Config(window=None))
    with Simulator(config) as sim:
        async with Clients(api_key=SIM_KEY, base_url=sim.base_url, simulator_hints=True) as client:
            yield Backend(
                client, SIM_ENDPOINT, "simulator", SIM_TIME_SCALE,
                "SIMULATOR: no MINIMAX_API_KEY is set, so this run uses the built-in MiniMax simulator "
                "(free previz videos, nothing billed). Set MINIMAX_API_KEY to generate real videos.",
            )


def endpoint_for(choice: Choice) -> str:
    """The endpoint identity a run would use, without opening any connection (for plan/status).
    Needs no key: pricing a real run, or reading its results, sends nothing."""
    if choice == "sim" or (choice == "auto" and not api_key_from_env()):
        return SIM_ENDPOINT
    return api_base_url()


def api_base_url() -> str:
    """The API host a run uses: MINIMAX_BASE_URL, then the user config's base_url, then the default.
    One function for the client and the endpoint identity, so that fingerprints agree with the host."""
    return base_url_from(configured=userconfig.load().base_url)
