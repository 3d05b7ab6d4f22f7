"""A whole run in virtual time: the Runner and the simulator read one FakeClock, which moves only
when nothing else can happen. No test built on this waits on wall time, so what it asserts does
not depend on how loaded the machine is.

Two rules make such a run a function of its seeds alone:
- time moves only when the run is idle (no request, ledger write or thread job under way or
  waiting for its turn, and every ready task has run); then the one earliest sleeper wakes;
- the work done outside the event loop (HTTP requests, asyncio.to_thread jobs: ledger writes,
  request bodies, video checks) runs one job at a time, in the order the loop asked for it, so
  the simulator's fault dice meet the requests in the same order on every run.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Iterator, TypeVar

import pytest

from pipeline.manifest.checker import load
from pipeline.minimax.client import MiniMaxClient
from pipeline.run import ledger, request, workflow
from pipeline.run.options import RunOptions
from pipeline.run.runner import Runner

from fakeclock import FakeClock
from runs import KEY

if TYPE_CHECKING:
    from pipeline.minimax.client import Download, FileInfo, TaskStatus
    from pipeline.run.result import RunResult
    from pipeline.run.workflow import Prepared
    from pipeline.sim.server import Simulator

T = TypeVar("T")


class OneAtATime:
    """Work outside the event loop, one job at a time in the order asked for."""

    def __init__(self) -> None:
        self._turn = asyncio.Lock()  # asyncio's locks are fair: first asked, first served
        self._idle = asyncio.Event()
        self._idle.set()
        self.pending = 0  # jobs under way or waiting for their turn

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        self.pending += 1
        self._idle.clear()
        try:
            async with self._turn:
                yield
        finally:
            self.pending -= 1
            if not self.pending:
                self._idle.set()

    async def settled(self) -> None:
        """Return once no job is under way or waiting and every task that could run has run."""
        while True:
            await quiesce()
            if not self.pending:
                return
            await self._idle.wait()

    def to_thread(self, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """asyncio.to_thread, taking turns."""

        async def to_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
            async with self.turn():
                return await real(func, *args, **kwargs)

        return to_thread


class TakingTurns:
    """A MiniMaxClient whose every call waits for its turn (OneAtATime)."""

    def __init__(self, client: MiniMaxClient, work: OneAtATime):
        self.client, self.work = client, work

    async def create(self, body: dict[str, Any], **hints: Any) -> str:
        async with self.work.turn():
            return await self.client.create(body)

    async def query(self, task_id: str) -> TaskStatus:
        async with self.work.turn():
            return await self.client.query(task_id)

    async def retrieve(self, file_id: str | int) -> FileInfo:
        async with self.work.turn():
            return await self.client.retrieve(file_id)

    async def download(self, url: str, path: Path, **kwargs: Any) -> Download:
        async with self.work.turn():
            return await self.client.download(url, path, **kwargs)


async def quiesce() -> None:
    """Let every ready task run until none is left ready (each may make others ready: a lock
    handed on, an event set, a task started), however long that chain is."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    while loop._ready:  # type: ignore[attr-defined]  # CPython's queue of callbacks due now
        await asyncio.sleep(0)


async def run_until_done(clock: FakeClock, work: OneAtATime, main: Awaitable[T]) -> T:
    """Run `main`, waking the clock's sleepers one by one, each only once the run is idle."""
    run = asyncio.ensure_future(main)
    while True:
        await work.settled()
        if run.done():
            return run.result()
        if not clock.wake_next():
            run.cancel()
            raise AssertionError("the run waits for something that can never happen: nothing sleeps, "
                                 "no request or thread job is under way")


@contextmanager
def simulator_on(clock: FakeClock, renders: Path, **config: Any) -> Iterator[Simulator]:
    """A started simulator whose every schedule, rate window and URL lifetime is read from `clock`
    (time scale 1: its seconds are the run's API seconds); stopped on leaving."""
    from pipeline.sim import SimConfig, Simulator

    config.setdefault("render_height", 180)  # small previews, as conftest's sim_factory makes
    config.setdefault("render_fps", 12)
    sim = Simulator(SimConfig(render_cache_dir=renders, **config), now=clock.now).start()
    try:
        yield sim
    finally:
        sim.stop()


def run_virtual(manifest: Path, sim: Simulator, clock: FakeClock, out: Path,
                **options: Any) -> tuple[Prepared, RunResult]:
    """Plan `manifest` against `sim` (on `clock`) and run the plan on `clock`, as workflow.run
    does with the API backend; returns (prepared, result). `options`: RunOptions fields."""
    loaded = load(manifest)
    prepared = workflow.prepare(loaded, sim.base_url, out)
    planned = {spec.shot.id: spec.request for spec in prepared.specs}
    writer = ledger.LedgerWriter(ledger.ledger_path(prepared.out_dir))

    async def main() -> RunResult:
        work = OneAtATime()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(asyncio, "to_thread", work.to_thread(asyncio.to_thread))
            async with MiniMaxClient(KEY, sim.base_url) as client:
                runner = Runner(client=TakingTurns(client, work), writer=writer, view=prepared.view,
                                out_dir=prepared.out_dir, options=RunOptions(**options), clock=clock,
                                body_of=lambda spec: request.api_body(spec.shot, loaded.dir, planned.get(spec.shot.id)))
                return await run_until_done(clock, work, runner.run(prepared.plan))

    try:
        result = asyncio.run(main())
    finally:
        writer.close()
    return prepared, result
