"""How a run paces itself: the account's limits, polling and downloads, the simulator's clock.

`RunSettings.from_sources` is the one place where a flag, the manifest, the user config and a
default meet (in that order) for the four settings a manifest may declare; `resolve` says where
each value came from (`shots config`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Union

from pipeline.errors import InputError
from pipeline.run import gentime, retry
from pipeline.run.userconfig import UserConfig

if TYPE_CHECKING:
    from pipeline.manifest.models import Settings as ManifestSettings

Value = Union[float, int, None]
Origin = Literal["flag", "manifest", "config", "default"]
SETTING_NAMES = ("rpm", "concurrency", "poll_interval", "max_cost")
FLAG_NAMES = {"rpm": "--rpm", "concurrency": "--concurrency", "poll_interval": "--poll-interval",
              "max_cost": "--max-cost"}

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
                     where: Callable[[str], str | None], config: UserConfig = UserConfig()) -> RunSettings:
        """Flag, then manifest, then user config, then default. `where(setting)` places a manifest's
        setting as 'FILE:LINE:COL' (Manifest.where). InputError for an rpm or concurrency no run can use."""
        chosen = resolve(flags, manifest, where, config)
        rpm, concurrency = chosen["rpm"].value or 0, chosen["concurrency"].value
        if rpm <= 0:
            raise InputError(f"--rpm must be positive, got {rpm:g}")
        if concurrency is not None and concurrency < 1:
            raise InputError(f"--concurrency must be at least 1, got {concurrency}")
        budget = chosen["max_cost"]
        return cls(rpm=float(rpm), concurrency=None if concurrency is None else int(concurrency),
                   poll_interval=float(chosen["poll_interval"].value or 0),
                   max_cost=budget.value, max_cost_source=budget.budget_source())

    def run_options(self, *, seed: int | None = None, time_scale: float = 1.0) -> RunOptions:
        """The runner's options at these settings; the rest at RunOptions' own defaults."""
        return RunOptions(rpm=self.rpm, concurrency=self.concurrency, poll_interval=self.poll_interval,
                          seed=seed, time_scale=time_scale)


@dataclass(frozen=True)
class Resolved:
    """One setting's value and where it came from; `place` is the flag, FILE:LINE:COL or config file."""

    name: str
    value: Value
    origin: Origin
    place: str = ""

    def budget_source(self) -> str | None:
        """How a budget names its source: '--max-cost 5', 'max_cost 5 (FILE:LINE:COL)'; None: no budget."""
        if self.origin == "flag":
            return "--max-cost " + ("none" if self.value is not None and math.isinf(self.value) else f"{self.value:g}")
        if self.value is None:
            return None
        return f"max_cost {self.value:g} ({self.place})"

    def describe(self) -> str:
        """'flag --rpm', 'manifest m.yaml:3:6', 'config ~/.config/shots/config.toml', 'default'."""
        return f"{self.origin} {self.place}".strip()


DEFAULTS: dict[str, Value] = {"rpm": DEFAULT_RPM, "concurrency": DEFAULT_CONCURRENCY,
                              "poll_interval": retry.POLL_INTERVAL, "max_cost": DEFAULT_MAX_COST}


def resolve(flags: SettingFlags, manifest: ManifestSettings | None, where: Callable[[str], str | None],
            config: UserConfig = UserConfig()) -> dict[str, Resolved]:
    """Each run setting from the first source that sets it: flag, manifest, user config, default."""
    chosen: dict[str, Resolved] = {}
    for name in SETTING_NAMES:
        flag: Value = getattr(flags, name)
        declared: Value = getattr(manifest, name) if manifest is not None else None
        configured: Value = getattr(config, name)
        if flag is not None:
            chosen[name] = Resolved(name, flag, "flag", FLAG_NAMES[name])
        elif declared is not None:
            chosen[name] = Resolved(name, declared, "manifest", where(name) or "")
        elif configured is not None:
            chosen[name] = Resolved(name, configured, "config", config.shown)
        else:
            chosen[name] = Resolved(name, DEFAULTS[name], "default")
    return chosen
