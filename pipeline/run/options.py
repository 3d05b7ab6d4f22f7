"""How a run paces itself: the account's limits, polling and downloads, the simulator's clock.

`RunSettings.from_sources` is the one place where a flag, the manifest and a default meet
(flag, then manifest, then default) for the four settings a manifest may declare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TypeVar

from pipeline.errors import InputError
from pipeline.run import gentime, retry

if TYPE_CHECKING:
    from pipeline.manifest.models import Settings as ManifestSettings

T = TypeVar("T")

DEFAULT_RPM = 5.0  # creates per minute: the free tier
DEFAULT_CONCURRENCY: int | None = None  # no cap on tasks in flight beyond the rate
DEFAULT_MAX_COST: float | None = None  # no budget
DEFAULT_QUERY_RPM = 600.0  # queries per minute across the run: 10 per second


@dataclass(frozen=True)
class RunOptions:
    rpm: float | None = DEFAULT_RPM  # None: unknown, learned from the server's 1002 answers
    concurrency: int | None = DEFAULT_CONCURRENCY  # tasks in flight on the server; None: limited by the rate only
    query_rpm: float = DEFAULT_QUERY_RPM
    poll_interval: float = retry.POLL_INTERVAL
    first_poll: float | None = None  # None: learned (pipeline/run/gentime.py); seconds: fixed, as before
    scouts: int = gentime.SCOUTS  # tasks of an unknown class polled every interval from the start
    downloads: int = 4
    time_scale: float = 1.0  # < 1 only against the simulator's fast clock
    seed: int | None = None


@dataclass(frozen=True)
class SettingFlags:
    """What the command line says; None where a flag was not given. max_cost math.inf: '--max-cost none'."""

    rpm: float | None = None
    concurrency: int | None = None
    poll_interval: float | None = None
    max_cost: float | None = None


@dataclass(frozen=True)
class RunSettings:
    """The settings a command runs with, and where the budget came from (shown when it refuses)."""

    rpm: float = DEFAULT_RPM
    concurrency: int | None = DEFAULT_CONCURRENCY
    poll_interval: float = retry.POLL_INTERVAL
    max_cost: float | None = DEFAULT_MAX_COST  # None or math.inf: no budget
    max_cost_source: str | None = None  # "--max-cost 5", "--max-cost none", "max_cost 5 (FILE:LINE:COL)"

    @classmethod
    def from_sources(cls, flags: SettingFlags, manifest: ManifestSettings,
                     where: Callable[[str], str | None]) -> RunSettings:
        """Flag, then manifest, then default. `where(setting)` places a manifest's setting as
        'FILE:LINE:COL' (Manifest.where). InputError for an rpm or concurrency no run can use."""
        rpm = _first(flags.rpm, manifest.rpm, DEFAULT_RPM)
        concurrency = _first(flags.concurrency, manifest.concurrency, DEFAULT_CONCURRENCY)
        if rpm <= 0:
            raise InputError(f"--rpm must be positive, got {rpm:g}")
        if concurrency is not None and concurrency < 1:
            raise InputError(f"--concurrency must be at least 1, got {concurrency}")
        max_cost = _first(flags.max_cost, manifest.max_cost, DEFAULT_MAX_COST)
        if flags.max_cost is not None:
            source: str | None = "--max-cost " + ("none" if math.isinf(flags.max_cost) else f"{flags.max_cost:g}")
        elif max_cost is not None:
            source = f"max_cost {max_cost:g} ({where('max_cost')})"
        else:
            source = None
        return cls(rpm=float(rpm), concurrency=concurrency,
                   poll_interval=float(_first(flags.poll_interval, manifest.poll_interval, retry.POLL_INTERVAL)),
                   max_cost=max_cost, max_cost_source=source)

    def run_options(self, *, seed: int | None = None, time_scale: float = 1.0) -> RunOptions:
        """The runner's options at these settings; the rest at RunOptions' own defaults."""
        return RunOptions(rpm=self.rpm, concurrency=self.concurrency, poll_interval=self.poll_interval,
                          seed=seed, time_scale=time_scale)


def _first(flag: T | None, declared: T | None, default: T) -> T:
    """The flag if given, else the manifest's value if it sets one, else the default."""
    return flag if flag is not None else declared if declared is not None else default
