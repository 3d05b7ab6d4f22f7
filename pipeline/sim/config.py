"""The simulator's settings, and the `shots sim` options that build them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

from pipeline.errors import InputError
from pipeline.sim.faults import FAULTS, check_faults, parse_faults
from pipeline.sim.imageconfig import ImageConfig, add_image_arguments, image_config_from_args
from pipeline.sim.sizes import DEFAULT_FPS, DEFAULT_WIDTH, MIN_SHORT_SIDE, default_previz_size, output_size, previz_size
from pipeline.sim.v2config import V2Config, add_v2_arguments, v2_config_from_args

RATE_LIMITERS = ("window", "bucket")
RATE_WINDOW = 60.0  # seconds: "requests per minute", before time_scale


@dataclass(frozen=True)
class SimConfig:
    """Everything the simulator does differently from run to run. Durations are in seconds
    of simulated time; `time_scale` turns them into real seconds (0.01 = 100x faster)."""

    keys: tuple[str, ...] = ("sim-key",)
    other_region_keys: tuple[str, ...] = ()  # -> 2049 invalid api key
    no_balance_keys: tuple[str, ...] = ()  # valid, but create -> 1008 insufficient balance
    time_scale: float = 1.0
    preparing: tuple[float, float] = (1.0, 5.0)
    queueing: tuple[float, float] = (0.0, 30.0)
    processing: tuple[float, float] = (90.0, 240.0)
    concurrency: int | None = None  # tasks Processing at once per key; others wait in Queueing
    rpm: int | None = None  # creates per (scaled) minute per key; over it -> 1002
    rate_limiter: Literal["window", "bucket"] = "window"
    rate_limit_queries: bool = False  # query/retrieve calls also spend the rpm budget
    url_ttl: float = 3600.0
    seed: int = 0
    faults: Mapping[str, float] = field(default_factory=dict)
    sensitive_words: tuple[str, ...] = ()  # a prompt containing one -> 1026 at create
    slow_seconds: float = 1.0  # real seconds, not scaled
    # The previz: `render_width` px wide (a portrait video's previz is that tall), its height from
    # the video's aspect; or, if `render_height` is given, that tall (tests and load runs ask
    # for small, fast ones); at `render_fps`. Neither given: DEFAULT_WIDTH wide, or wider for a
    # ratio that would leave the short side under MIN_SHORT_SIDE (sizes.default_previz_size).
    render_width: int | None = None
    render_height: int | None = None
    render_fps: int = DEFAULT_FPS
    render_cache_dir: str | Path | None = None
    # Where the simulator keeps its tasks and files across processes (the embedded default keeps
    # them beside the ledger, so a resumed keyless run finds the tasks an earlier run created).
    state_dir: str | Path | None = None
    v2: V2Config = field(default_factory=V2Config)  # the v2 API's own switches (MiniMax-H3)
    image: ImageConfig = field(default_factory=ImageConfig)  # the image API's own switches (image-01)

    def __post_init__(self) -> None:
        for name in ("keys", "other_region_keys", "no_balance_keys", "sensitive_words"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ValueError(f"{name} must be a sequence of strings, not one string")
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "faults", check_faults(self.faults))
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be > 0, not {self.time_scale}")
        for name in ("preparing", "queueing", "processing"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (low, high) seconds with 0 <= low <= high, not {(lo, hi)}")
            object.__setattr__(self, name, (float(lo), float(hi)))
        for name in ("concurrency", "rpm"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1 or None, not {value!r}")
        if self.rate_limiter not in RATE_LIMITERS:
            raise ValueError(f"rate_limiter must be one of {RATE_LIMITERS}, not {self.rate_limiter!r}")
        if not self.url_ttl > 0:
            raise ValueError(f"url_ttl must be > 0 seconds, not {self.url_ttl}")
        if self.slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, not {self.slow_seconds}")
        for name in ("render_width", "render_height", "render_fps"):
            value = getattr(self, name)
            if value is None and name != "render_fps":
                continue
            low = 1 if name == "render_fps" else 16
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be a whole number >= {low}, not {value!r}")

    def previz_size(self, video_width: int, video_height: int) -> tuple[int, int]:
        """The rendered size of a video_width x video_height video (even sides, the same aspect)."""
        if self.render_height is not None:
            return output_size(video_width, video_height, self.render_height)
        if self.render_width is not None:
            return previz_size(video_width, video_height, self.render_width)
        return default_previz_size(video_width, video_height)

    def scaled(self, seconds: float) -> float:
        """Simulated seconds -> real seconds."""
        return seconds * self.time_scale


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """The `shots sim` options; `config_from_args` turns the parsed namespace into a SimConfig."""
    d = SimConfig()
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="loopback address to bind (only loopback is allowed) (default: %(default)s)")
    add("--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default: %(default)s)")
    add("--key", action="append", dest="keys", metavar="KEY",
        help=f"a valid bearer key; repeat for several (default: {d.keys[0]})")
    add("--other-region-key", action="append", dest="other_region_keys", metavar="KEY", default=[],
        help="a key that answers 2049 'invalid api key', as a wrong-region key does; repeatable (default: none)")
    add("--no-balance-key", action="append", dest="no_balance_keys", metavar="KEY", default=[],
        help="a valid key whose creates answer 1008 'insufficient balance'; repeatable (default: none)")
    add("--time-scale", type=float, default=d.time_scale, metavar="X",
        help="multiplies every simulated duration (phases, the rate window, URL lifetime); "
             "0.01 runs 100x faster (default: %(default)s)")
    add("--concurrency", type=int, default=None, metavar="N",
        help="tasks Processing at once per key; the rest wait in Queueing (default: unlimited)")
    add("--rpm", type=int, default=None, metavar="N",
        help="creates per minute per key before 1002 'rate limit exceeded(RPM)' (default: unlimited)")
    add("--rate-limiter", choices=RATE_LIMITERS, default=d.rate_limiter,
        help="'window': at most RPM creates in any 60 s; 'bucket': RPM tokens refilling over 60 s "
             "(default: %(default)s)")
    add("--rate-limit-queries", action="store_true",
        help="queries and retrieves also spend the RPM budget (default: only creates)")
    add("--url-ttl", type=float, default=d.url_ttl, metavar="S",
        help="download URL lifetime in simulated seconds (default: %(default)s)")
    add("--faults", default="", metavar="NAME=P,...",
        help=f"fault probabilities, e.g. reset=0.05,http_500=0.02; names: {', '.join(FAULTS)} (default: none)")
    add("--seed", type=int, default=d.seed, metavar="N", help="seed for ids, timings and faults (default: %(default)s)")
    add("--sensitive-word", action="append", dest="sensitive_words", metavar="W", default=[],
        help="a prompt containing W (any case) answers 1026 at create; repeatable (default: none)")
    add("--slow-seconds", type=float, default=d.slow_seconds, metavar="S",
        help="real seconds the 'slow' fault delays an answer (default: %(default)s)")
    add("--render-width", type=int, default=d.render_width, metavar="PX",
        help="width of the rendered preview videos, height from the video's aspect ratio (a portrait "
             "one is this tall); bigger is sharper and slower to render (default: "
             f"{DEFAULT_WIDTH}, wider for a ratio whose short side would be under {MIN_SHORT_SIDE})")
    add("--render-height", type=int, default=None, metavar="PX",
        help="render the previews this tall instead, width from the aspect ratio (default: from --render-width)")
    add("--render-fps", type=int, default=d.render_fps, metavar="N", help="frame rate of the rendered previews (default: %(default)s)")
    add("--render-cache-dir", default=None, metavar="DIR",
        help="keep rendered videos here (default: a temporary folder removed on exit)")
    add("--state-dir", default=None, metavar="DIR",
        help="keep the tasks and their files in DIR, so that the simulator started again on DIR still "
             "answers for them (default: forget them on exit)")
    add_v2_arguments(parser)
    add_image_arguments(parser)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """A SimConfig from `add_sim_arguments` options; InputError says which option is wrong."""
    try:
        return SimConfig(
            keys=tuple(args.keys) if args.keys else SimConfig().keys,
            other_region_keys=tuple(args.other_region_keys),
            no_balance_keys=tuple(args.no_balance_keys),
            time_scale=args.time_scale,
            concurrency=args.concurrency,
            rpm=args.rpm,
            rate_limiter=args.rate_limiter,
            rate_limit_queries=args.rate_limit_queries,
            url_ttl=args.url_ttl,
            seed=args.seed,
            faults=parse_faults(args.faults),
            sensitive_words=tuple(args.sensitive_words),
            slow_seconds=args.slow_seconds,
            render_width=args.render_width,
            render_height=args.render_height,
            render_fps=args.render_fps,
            render_cache_dir=args.render_cache_dir,
            state_dir=args.state_dir,
            v2=v2_config_from_args(args),
            image=image_config_from_args(args),
        )
    except ValueError as exc:
        raise InputError(f"shots sim: {exc}") from exc
