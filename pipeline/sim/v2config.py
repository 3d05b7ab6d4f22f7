"""The v2 (MiniMax-H3) simulator's switches: the open points of minimax-api-v2.md as settings,
and the `shots sim` options that build them.

Durations are simulated seconds, turned into real ones by SimConfig.time_scale like the v1 ones.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal, Mapping

from pipeline.errors import InputError
from pipeline.sim.v2faults import V2_FAULTS, check_v2_faults, parse_v2_faults

OVER_CAP = ("queue", "reject")
MEDIA_CHECKS = ("create", "task")
LIST_ORDERS = ("newest", "oldest")
WEEK = 7 * 24 * 3600.0


@dataclass(frozen=True)
class V2Config:
    """Every v2 behaviour the notes leave open (marked [C]), with the default they state, or ours."""

    # CONN: tasks running at once per key (notes: 2 free, 15 paid, 30 elsewhere); None = no cap.
    conn_cap: int | None = 15
    # Over the cap: "queue" keeps a new task queued until a slot frees (notes' default);
    # "reject" answers 429 rate_limit_error (1002) at create.
    over_cap: Literal["queue", "reject"] = "queue"
    queued: tuple[float, float] = (0.0, 60.0)  # the queue phase before a slot is looked for
    running: tuple[float, float] = (60.0, 300.0)
    text_running: tuple[float, float] = (5.0, 30.0)  # a Context-IR task (a prompt, no video)
    url_ttl: float = 3600.0  # v2 lifetime undocumented; v1's hour, the shorter reading
    window: float | None = WEEK  # query/list see tasks created this long ago at most; None = forever
    token_plan_keys: tuple[str, ...] = ()  # valid keys, but H3 creates -> 400 2013 TokenPlan
    max_references: bool = False  # MiniMax-H3-Max takes references (EN page: no; CN page: yes)
    last_frame_alone: bool = True  # a last_frame without a first_frame is allowed (a listed scenario)
    regeneration_whitelist: bool = False  # the account may regenerate by source_task_id (A11: whitelist only)
    # Bad media in data URIs: "create" answers 400; "task" accepts and fails the task. Media behind
    # a URL is never fetched: a URL containing `bad_media_marker` fails its task either way.
    media_checks: Literal["create", "task"] = "create"
    bad_media_marker: str = "sim-bad-media"
    list_order: Literal["newest", "oldest"] = "newest"  # sort order undocumented
    max_page_size: int = 100
    full_size: bool = False  # render at the nominal size (1344x768...), not SimConfig's previz size
    faults: Mapping[str, float] = field(default_factory=dict)  # v2fault names -> probability

    def __post_init__(self) -> None:
        if isinstance(self.token_plan_keys, str):
            raise ValueError("token_plan_keys must be a sequence of strings, not one string")
        object.__setattr__(self, "token_plan_keys", tuple(self.token_plan_keys))
        object.__setattr__(self, "faults", check_v2_faults(self.faults))
        cap = self.conn_cap
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"conn_cap must be a whole number >= 1 or None, not {cap!r}")
        for name, allowed in (("over_cap", OVER_CAP), ("media_checks", MEDIA_CHECKS), ("list_order", LIST_ORDERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        for name in ("queued", "running", "text_running"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (low, high) seconds with 0 <= low <= high, not {(lo, hi)}")
            object.__setattr__(self, name, (float(lo), float(hi)))
        if not self.url_ttl > 0:
            raise ValueError(f"url_ttl must be > 0 seconds, not {self.url_ttl}")
        if self.window is not None and not self.window > 0:
            raise ValueError(f"window must be > 0 seconds or None, not {self.window}")
        if isinstance(self.max_page_size, bool) or not isinstance(self.max_page_size, int) or self.max_page_size < 1:
            raise ValueError(f"max_page_size must be a whole number >= 1, not {self.max_page_size!r}")


def add_v2_arguments(parser: argparse.ArgumentParser) -> None:
    """The v2 options of `shots sim`; `v2_config_from_args` turns them into a V2Config."""
    d = V2Config()
    add = parser.add_argument
    add("--v2-conn-cap", type=int, default=d.conn_cap, metavar="N",
        help="v2 tasks running at once per key (CONN; 2 free, 15 paid accounts); 0 = no cap (default: %(default)s)")
    add("--v2-over-cap", choices=OVER_CAP, default=d.over_cap,
        help="a v2 create over the cap: 'queue' keeps the task queued until a slot frees, 'reject' answers "
             "429 rate_limit_error (1002) (default: %(default)s)")
    add("--v2-url-ttl", type=float, default=d.url_ttl, metavar="S",
        help="v2 content URL lifetime in simulated seconds; each query signs a fresh one (default: %(default)s)")
    add("--v2-window-days", type=float, default=d.window / 86400, metavar="D",
        help="v2 query and list see tasks created in the last D simulated days; 0 = all (default: %(default)g)")
    add("--token-plan-key", action="append", dest="token_plan_keys", metavar="KEY", default=[],
        help="a Token-Plan key: valid, but its H3 creates answer 400 (2013) TokenPlan; repeatable (default: none)")
    add("--h3-max-references", action="store_true",
        help="MiniMax-H3-Max takes reference images, videos and audio (default: refused, as the EN docs say)")
    add("--v2-regeneration-whitelist", action="store_true",
        help="the account may regenerate a task in 2K by source_task_id (default: not whitelisted, as most "
             "accounts; the content + base_video form always works)")
    add("--no-last-frame-alone", action="store_true",
        help="refuse a last_frame without a first_frame (default: allowed, a listed scenario)")
    add("--v2-media-checks", choices=MEDIA_CHECKS, default=d.media_checks,
        help="bad media in a data URI: 'create' answers 400, 'task' fails the task later (default: %(default)s)")
    add("--v2-bad-media-marker", default=d.bad_media_marker, metavar="TEXT",
        help="a media URL containing TEXT fails its task (URLs are never fetched) (default: %(default)s)")
    add("--v2-list-order", choices=LIST_ORDERS, default=d.list_order,
        help="order of the v2 task list (default: %(default)s)")
    add("--v2-faults", default="", metavar="NAME=P,...",
        help=f"v2 fault probabilities, e.g. drop_create=0.05,http_529=0.02; names: {', '.join(V2_FAULTS)} "
             f"(default: none)")
    add("--v2-full-size", action="store_true",
        help="render v2 previz videos at their nominal size (1344x768 for 768P 16:9; slow) (default: small)")


def v2_config_from_args(args: argparse.Namespace) -> V2Config:
    """A V2Config from `add_v2_arguments` options; InputError says which option is wrong."""
    try:
        return V2Config(
            conn_cap=args.v2_conn_cap or None,
            over_cap=args.v2_over_cap,
            url_ttl=args.v2_url_ttl,
            window=args.v2_window_days * 86400 or None,
            token_plan_keys=tuple(args.token_plan_keys),
            max_references=args.h3_max_references,
            last_frame_alone=not args.no_last_frame_alone,
            regeneration_whitelist=args.v2_regeneration_whitelist,
            media_checks=args.v2_media_checks,
            bad_media_marker=args.v2_bad_media_marker,
            list_order=args.v2_list_order,
            faults=parse_v2_faults(args.v2_faults),
            full_size=args.v2_full_size,
        )
    except ValueError as exc:
        raise InputError(f"shots sim: {exc}") from exc
