"""A MiniMax-compatible video API on loopback, v1 and v2 (MiniMax-H3) and the image API on one
port: the embedded default backend and the test double.

    config.py    SimConfig and the `shots sim` options
    validate.py  create bodies -> CreateSpec (catalogue and image rules)
    engine.py    task state as a function of the clock: keys, schedule, rate limits, files
    state.py     the tasks kept on disk (state_dir), for a simulator started again
    ratelimit.py window and token-bucket limiters
    faults.py    seeded fault dice
    stats.py     request counters
    render.py    previz MP4 renderer (PyAV, H.264): RenderSpec, the frames, the file cache
    camerapath.py  the previz camera: commands -> a pose per frame, takes' variations, warps
    cards.py     what it films: pictures and their surroundings, title and portrait cards, label
    previz_audio.py  the optional sound track (AAC);  sizes.py  previz sizes (no imaging)
    server.py    the HTTP server (I/O only), Simulator and serve()

    v2config.py  V2Config (the v2 switches) and its `shots sim` options
    v2validate.py, v2media.py   v2 create bodies -> V2Spec; the media rules on data URIs
    v2engine.py  v2 tasks as a function of the clock: CONN cap, list, cancel/delete, signed URLs
    v2task.py, v2state.py       one v2 task and its answers; v2 tasks on disk (state_dir/v2/)
    v2render.py  the H3 output (24 fps, 107 + 17k frames, sound) and the one adapter to render.py
    v2codes.py, v2faults.py     v2 error answers (real HTTP statuses); v2 fault dice

    imageconfig.py  ImageConfig (the image API's switches) and its `shots sim` options
    imagevalidate.py  image_generation bodies -> ImageRequest;  imagefaults.py  image fault dice
    imageengine.py  POST /v1/image_generation: keys, its rate limit, the stills, signed image URLs
    stills.py    the image previz: a JPEG card that follows the prompt, varied per take
"""

from typing import Any

from pipeline.sim.config import SimConfig, add_sim_arguments, config_from_args
from pipeline.sim.v2config import V2Config

__all__ = ["Simulator", "SimConfig", "V2Config", "serve", "add_sim_arguments", "config_from_args"]


def __getattr__(name: str) -> Any:
    """Simulator and serve load the server and the PyAV renderer on first use, so that every
    `shots` command, which builds the `sim` parser, does not pay for importing them."""
    if name in ("Simulator", "serve"):
        from pipeline.sim import server

        return getattr(server, name)
    raise AttributeError(f"module 'pipeline.sim' has no attribute {name!r}")
