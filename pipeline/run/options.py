"""How a run paces itself: the account's limits, polling and downloads, the simulator's clock."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.run import gentime, retry

DEFAULT_QUERY_RPM = 600.0  # queries per minute across the run: 10 per second


@dataclass(frozen=True)
class RunOptions:
    rpm: float | None = 5.0  # None: unknown, learned from the server's 1002 answers
    concurrency: int | None = None  # tasks in flight on the server; None: limited by the rate only
    query_rpm: float = DEFAULT_QUERY_RPM
    poll_interval: float = retry.POLL_INTERVAL
    first_poll: float | None = None  # None: learned (pipeline/run/gentime.py); seconds: fixed, as before
    scouts: int = gentime.SCOUTS  # tasks of an unknown class polled every interval from the start
    downloads: int = 4
    time_scale: float = 1.0  # < 1 only against the simulator's fast clock
    seed: int | None = None
