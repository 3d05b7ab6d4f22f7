"""A MiniMax-compatible v1 video API on loopback: the embedded default backend and the test double.

    config.py    SimConfig and the `shots sim` options
    validate.py  create bodies -> CreateSpec (catalogue and image rules)
    engine.py    task state as a function of the clock: keys, schedule, rate limits, files
    state.py     the tasks kept on disk (state_dir), for a simulator started again
    ratelimit.py window and token-bucket limiters
    faults.py    seeded fault dice
    stats.py     request counters
    render.py    previz MP4 renderer (PyAV, H.264)
    server.py    the HTTP server (I/O only), Simulator and serve()
"""

from typing import Any

from pipeline.sim.config import SimConfig, add_sim_arguments, config_from_args

__all__ = ["Simulator", "SimConfig", "serve", "add_sim_arguments", "config_from_args"]


def __getattr__(name: str) -> Any:
    """Simulator and serve load the server and the PyAV renderer on first use, so that every
    `shots` command, which builds the `sim` parser, does not pay for importing them."""
    if name in ("Simulator", "serve"):
        from pipeline.sim import server

        return getattr(server, name)
    raise AttributeError(f"module 'pipeline.sim' has no attribute {name!r}")
