"""A MiniMax-compatible v1 video API on loopback: the embedded default backend and the test double.

    config.py    SimConfig and the `shots sim` options
    validate.py  create bodies -> CreateSpec (catalogue and image rules)
    engine.py    task state as a function of the clock: keys, schedule, rate limits, files
    ratelimit.py window and token-bucket limiters
    faults.py    seeded fault dice
    stats.py     request counters
    render.py    previz MP4 renderer (PyAV, H.264)
    server.py    the HTTP server (I/O only), Simulator and serve()
"""

from pipeline.sim.config import SimConfig, add_sim_arguments, config_from_args
from pipeline.sim.server import Simulator, serve

__all__ = ["Simulator", "SimConfig", "serve", "add_sim_arguments", "config_from_args"]
