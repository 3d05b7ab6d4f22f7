"""Carry out a plan: start each take's job (pipeline/run/job.py) in manifest order, as fast as the
pacer allows (pipeline/run/pacer.py); stop on Ctrl-C or an account problem; settle; collect results.

Each take is a small state machine (create -> poll -> download) whose every step is written to
the ledger before the program acts on it. Time is read from an injected clock
(pipeline/run/clock.py): the simulator's fast time scale lives there, tests pass a fake one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Protocol, runtime_checkable

from pipeline.run import gentime
from pipeline.run.clock import ScaledClock
from pipeline.run.lookup import TaskFinder
from pipeline.run.job import JobContext, NewsKind, TakeJob, lost_earlier, no_news
from pipeline.run.options import RunOptions
from pipeline.run.pacer import Pacer
from pipeline.run.result import RunResult, TakeResult, initial_result
from pipeline.run.status import Action

if TYPE_CHECKING:
    from pipeline.errors import ShotsError
    from pipeline.manifest.models import Shot
    from pipeline.minimax.client import MiniMaxClient
    from pipeline.run.clock import Clock
    from pipeline.run.ledger import LedgerView, LedgerWriter
    from pipeline.run.plan import Plan, PlannedTake, TakeSpec

log = logging.getLogger("shots.runner")


@runtime_checkable
class Watcher(Protocol):
    """An on_phase callback that also hears the news a log reports (pipeline/run/eventlog.py):
    a task submitted, a retry and why, an outcome and its detail, and the decisions `-v` shows.
    A plain (spec, phase) function still works: it hears the phases only."""

    def __call__(self, spec: TakeSpec, phase: str, /) -> None: ...

    def news(self, spec: TakeSpec, kind: NewsKind, detail: str, /) -> None: ...


class Runner:
    """Owns one run: its jobs, its stop, its results. Create it inside the running event loop."""

    def __init__(
        self,
        *,
        client: MiniMaxClient,
        writer: LedgerWriter,
        view: LedgerView,
        out_dir: Path,
        body_of: Callable[[Shot], dict[str, Any]],
        options: RunOptions = RunOptions(),
        on_phase: Callable[[TakeSpec, str], None] | None = None,
        history: Iterable[gentime.Observation] | None = None,
        clock: Clock | None = None,
    ):
        """`history`: generation times seen before this run; by default read from `view`.
        `clock`: by default the real one at `options.time_scale`.
        `on_phase`: told each take's phase (queued, creating, ..., done); a Watcher hears the news too."""
        self.clock = clock if clock is not None else ScaledClock(options.time_scale)
        self.writer = writer
        self.result = RunResult()
        self.pacer = Pacer(options, self.clock)
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        writer.on_full = self._ledger_full
        if history is None:
            history = gentime.history_from_view(view, self.clock.scale)
        self.jobs = JobContext(
            client=client, writer=writer, view=view, out_dir=out_dir, body_of=body_of, options=options,
            clock=self.clock, pacer=self.pacer,
            gen=gentime.GenTimes(options.poll_interval, history, scouts=options.scouts),
            rng=random.Random(options.seed), on_phase=on_phase or _no_phase, totals=self.result,
            stopping=lambda: self._stopping, abort=self._abort,
            on_news=on_phase.news if isinstance(on_phase, Watcher) else no_news,
            finder=TaskFinder.for_view(client, view, self.clock.scale) if hasattr(client, "v2") else None,
        )

    async def run(self, plan: Plan) -> RunResult:
        self._loop = asyncio.get_running_loop()
        started = self.clock.now()
        results: dict[tuple[str, int], TakeResult] = {}
        for t in plan.takes:
            results[t.spec.key] = initial_result(t)
        self.result.results = list(results.values())
        creates = [t for t in plan.takes if t.creates]
        if self.jobs.finder is not None:  # earlier lost creates: none takes a task another may own
            for t in creates:
                if t.action == Action.LOOK_UP:
                    self.jobs.finder.lost(lost_earlier(t))
        for t in plan.takes:
            if t.action in (Action.POLL, Action.DOWNLOAD):
                self._spawn(self._job(t, results[t.spec.key]))
        for t in plan.orphans:  # paid tasks of earlier versions: their videos go to history/
            self.result.orphans.append(initial_result(t))
            self._spawn(self._job(t, self.result.orphans[-1]))
        dispatcher = asyncio.create_task(self._dispatch(creates, results))
        try:
            await dispatcher
            while self._tasks:
                await asyncio.wait(set(self._tasks))
        except asyncio.CancelledError:
            self.stop()
        finally:
            await self._settle()
            self.result.seconds = (self.clock.now() - started) * self.clock.scale
        return self.result

    def stop(self) -> None:
        """First Ctrl-C: no new creates; cancel waits and downloads; answered creates are still recorded."""
        if not self._stopping:
            self._stopping = True
            self.result.interrupted = self.result.aborted is None
        for task in list(self._tasks):
            task.cancel()

    async def _settle(self) -> None:
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self.jobs.critical:
            await asyncio.wait(set(self.jobs.critical))
        await self.writer.drain()

    def _job(self, planned: PlannedTake, res: TakeResult) -> Awaitable[None]:
        return TakeJob(self.jobs, planned, res).run()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, creates: list[PlannedTake], results: dict[tuple[str, int], TakeResult]) -> None:
        """Start creates in manifest order as fast as the in-flight cap and the rate allow."""
        for planned in creates:
            self.jobs.on_phase(planned.spec, "queued")
        for planned in creates:
            await self.pacer.in_flight.acquire()
            if self._stopping:
                self.pacer.in_flight.release()
                return
            self._spawn(self._job(planned, results[planned.spec.key]))

    def _ledger_full(self, exc: ShotsError) -> None:
        """From the ledger's writing thread: the disk is full, stop every take (exit 3)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._abort, exc)

    def _abort(self, exc: ShotsError) -> None:
        if self.result.aborted is None:
            self.result.aborted = exc
            log.info("stopping: %s", exc)  # the CLI says it once, at the end
        self.stop()


def _no_phase(spec: TakeSpec, phase: str) -> None:
    pass
