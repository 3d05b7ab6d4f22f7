"""Carry out a plan: start each take's job (pipeline/run/job.py) in manifest order, as fast as the
pacer allows (pipeline/run/pacer.py); stop on Ctrl-C or an account problem; settle; collect results.

Each take is a small state machine (create -> poll -> download) whose every step is written to
the ledger before the program acts on it. Time is read from an injected clock
(pipeline/run/clock.py): the simulator's fast time scale lives there, tests pass a fake one.
"""

from __future__ import annotations

import asyncio
import heapq
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
from pipeline.run.plan import outcome_of
from pipeline.run.result import RunResult, TakeResult, initial_result
from pipeline.run.status import BLOCKED, Action, label

if TYPE_CHECKING:
    from pipeline.errors import ShotsError
    from pipeline.minimax.client import MiniMaxClient
    from pipeline.run.chain import Finished, Key
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
        body_of: Callable[[TakeSpec], dict[str, Any]],
        options: RunOptions = RunOptions(),
        on_phase: Callable[[TakeSpec, str], None] | None = None,
        history: Iterable[gentime.Observation] | None = None,
        clock: Clock | None = None,
        replan: Callable[[TakeSpec, Finished], PlannedTake] | None = None,
    ):
        """`history`: generation times seen before this run; by default read from `view`.
        `clock`: by default the real one at `options.time_scale`.
        `on_phase`: told each take's phase (queued, creating, ..., done); a Watcher hears the news too.
        `replan`: a dependant waiting for its upstream takes, planned again once they are on disk
        (its frames cut, its fingerprint known); the plan's rule (workflow.py builds it)."""
        self.clock = clock if clock is not None else ScaledClock(options.time_scale)
        self.writer = writer
        self.result = RunResult()
        self.pacer = Pacer(options, self.clock)
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.out_dir = out_dir
        self.replan = replan
        # The graph (dependants): takes waiting for upstream takes, the upstream takes' files once
        # finished, and the creates ready to start, in manifest order.
        self._waiting: dict[Key, PlannedTake] = {}
        self._dependants: dict[Key, list[Key]] = {}
        self._resolving: dict[Key, int] = {}  # dependants whose frames are being cut -> their place
        self._finished: dict[Key, tuple[Path, str, bool]] = {}
        self._ready: list[tuple[int, Key]] = []
        self._ready_takes: dict[Key, PlannedTake] = {}
        self._ready_news = asyncio.Event()
        self._order: dict[Key, int] = {}
        self._results: dict[Key, TakeResult] = {}
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
        self._results = results
        self._order = {t.spec.key: i for i, t in enumerate(plan.takes)}
        self._finished = {t.spec.key: (self.out_dir / t.state.file, t.state.sha256, True) for t in plan.takes
                          if t.action == Action.UP_TO_DATE and t.state.file and t.state.sha256}
        for t in creates:
            if t.spec.waiting:
                self._wait(t)
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
        dispatcher = asyncio.create_task(self._dispatch(creates))
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
        self._ready_news.set()  # a dispatcher waiting for dependants to get ready hears the stop
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
        for key, planned in self._waiting.items():
            res = self._results[key]
            if res.outcome == "pending" and not res.detail:
                ups = ", ".join(label(k) for k in planned.spec.waits_for if k not in self._finished)
                res.detail = f"waits for {ups}; the next run makes it"
        for key in (*self._ready_takes, *self._resolving):  # resolved (or being resolved), not started
            res = self._results[key]
            if res.outcome == "pending" and not res.detail and self.result.aborted is None:
                res.detail = "not started: the run was stopped; the next run makes it"

    async def _job(self, planned: PlannedTake, res: TakeResult) -> None:
        """The take's job (a still's or a video's); when it ends, the takes waiting for it hear."""
        from pipeline.run.imagejob import ImageJob

        job = ImageJob if getattr(planned.spec.shot, "is_still", False) else TakeJob
        try:
            await job(self.jobs, planned, res).run()
        finally:
            if not self._stopping:
                self._ended(planned.spec.key, res)

    # -- the graph --------------------------------------------------------------------------

    def _wait(self, planned: PlannedTake) -> None:
        key = planned.spec.key
        self._waiting[key] = planned
        for up in planned.spec.waits_for:
            self._dependants.setdefault(up, []).append(key)

    def _ended(self, key: Key, res: TakeResult) -> None:
        """A take ended: its dependants whose upstream takes are all on disk are planned again
        (resolve); if it did not end done, they are blocked (and theirs, down the chain)."""
        if res.outcome == "done" and res.file and res.sha256:
            self._finished[key] = (self.out_dir / res.file, res.sha256, True)
        for dep_key in self._dependants.pop(key, ()):
            dep = self._waiting.get(dep_key)
            if dep is None:
                continue
            if key not in self._finished:
                self._block(dep_key, _why_blocked(key, res))
            elif all(k in self._finished for k in dep.spec.waits_for):
                del self._waiting[dep_key]
                self._resolving[dep_key] = self._order[dep_key]
                self._spawn(self._resolve(dep))
        self._ready_news.set()

    def _block(self, key: Key, why: str) -> None:
        planned = self._waiting.pop(key)
        res = self._results[key]
        res.outcome, res.detail = "pending", f"{BLOCKED}{why}"
        self.jobs.on_phase(planned.spec, "pending")
        self.jobs.on_news(planned.spec, "pending", res.detail)
        self._ended(key, res)

    async def _resolve(self, waiting: PlannedTake) -> None:
        """Plan a dependant again now that its upstream takes are on disk: cut its frames, then
        create it (in manifest order among the ready creates), follow it, or skip it."""
        res = self._results[waiting.spec.key]
        try:
            assert self.replan is not None
            try:
                planned = await asyncio.to_thread(self.replan, waiting.spec, self._finished.get)
            except Exception as exc:  # a frame that cannot be cut or read: this take's problem alone
                log.exception("%s: its inputs could not be resolved", waiting.spec.label)
                res.outcome, res.detail = "pending", f"{BLOCKED}its input frames could not be made ({exc})"
                self._ended(waiting.spec.key, res)
                return
            res.spec = planned.spec
            self.jobs.on_news(planned.spec, "decision", f"upstream done: {planned.action} ({planned.reason})")
            if planned.creates:
                res.cost = planned.cost
                heapq.heappush(self._ready, (self._order[planned.spec.key], planned.spec.key))
                self._ready_takes[planned.spec.key] = planned
            elif planned.action in (Action.POLL, Action.DOWNLOAD):
                self._spawn(self._job(planned, res))
            else:
                res.outcome, res.detail = outcome_of(planned)
                if planned.action == Action.UP_TO_DATE:
                    res.file, res.sha256 = planned.state.file, planned.state.sha256
                self.jobs.on_phase(planned.spec, res.outcome)
                self.jobs.on_news(planned.spec, res.outcome, res.detail)
                self._ended(planned.spec.key, res)
        finally:
            self._resolving.pop(waiting.spec.key, None)
            self._ready_news.set()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, creates: list[PlannedTake]) -> None:
        """Start creates in manifest order as fast as the in-flight cap and the rate allow; a
        dependant joins them when its upstream takes are on disk. A free slot goes to the ready
        create first in the manifest, a dependant whose frames are being cut included."""
        for planned in creates:
            self.jobs.on_phase(planned.spec, "queued")
            if not planned.spec.waiting:
                heapq.heappush(self._ready, (self._order[planned.spec.key], planned.spec.key))
                self._ready_takes[planned.spec.key] = planned
        while await self._next_ready():
            # The slot is taken only once a create is ready: a slot held while waiting for a
            # dependant would starve its upstream when the cap drops to 1 (a 429 lowers it).
            await self.pacer.in_flight.acquire()
            if self._stopping:
                self.pacer.in_flight.release()
                return
            _, key = heapq.heappop(self._ready)  # the first ready one now: more may have joined
            self._spawn(self._job(self._ready_takes.pop(key), self._results[key]))

    async def _next_ready(self) -> bool:
        """Wait until a create is ready to start and no dependant before it in the manifest is
        still being resolved. False when the run stops or nothing is left to start."""
        while not self._stopping:
            first = self._ready[0][0] if self._ready else None
            resolving = min(self._resolving.values(), default=None)
            if first is not None and (resolving is None or first < resolving):
                return True
            if first is None and not self._waiting and not self._resolving:
                return False
            self._ready_news.clear()
            await self._ready_news.wait()
        return False

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


def _why_blocked(key: Key, res: TakeResult) -> str:
    """Why the takes waiting for a take that did not end done are blocked, naming the take at the
    root of a chain of blocks: 's01 failed (flagged; --retry-failed makes it again)'."""
    if res.detail.startswith(BLOCKED):
        return res.detail.removeprefix(BLOCKED)
    if res.outcome == "failed":
        return f"{label(key)} failed ({res.detail or 'failed'}; --retry-failed makes it again)"
    if res.outcome == "uncertain":
        return f"{label(key)} is uncertain ({res.detail})"
    return f"{label(key)} is not done ({res.detail or 'stopped'})"
