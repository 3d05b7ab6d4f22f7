"""The Runner on an injected fake clock: a run that would take minutes of API time takes none.

The server here is a stand-in that answers every task "Fail" (the simulator runs on its own
clock, which a fake one cannot drive); what is checked is the runner's pacing and its ledger.
"""

import asyncio
import time

from pipeline.manifest.checker import load
from pipeline.minimax.client import TaskStatus
from pipeline.run import ledger, retry, workflow
from pipeline.run.ledger import LedgerWriter
from pipeline.run.options import RunOptions
from pipeline.run.runner import Runner

from fakeclock import FakeClock
from runs import t2v_shots, write_manifest


class FailingServer:
    """Takes every create at once; every task it made has failed when asked."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.created: list[float] = []
        self.queried: list[float] = []

    async def create(self, body: dict, **hints) -> str:
        self.created.append(self.clock.now())
        return f"task{len(self.created)}"

    async def query(self, task_id: str) -> TaskStatus:
        self.queried.append(self.clock.now())
        return TaskStatus(task_id, "Fail", code=1027, message="the output was judged sensitive")


def test_a_run_paced_by_a_fake_clock_spends_no_real_time(tmp_path):
    manifest = load(write_manifest(tmp_path, t2v_shots(5)))
    prepared = workflow.prepare(manifest, "fake", tmp_path / "out")
    writer = LedgerWriter(ledger.ledger_path(prepared.out_dir))
    clock = FakeClock()
    server = FailingServer(clock)

    async def main():
        runner = Runner(client=server, writer=writer, view=prepared.view, out_dir=prepared.out_dir,
                        body_of=lambda spec: {"prompt": spec.shot.prompt},
                        options=RunOptions(rpm=2, first_poll=20.0, seed=1), clock=clock)
        run = asyncio.ensure_future(runner.run(prepared.plan))
        while not run.done():  # time jumps from one wake-up to the next
            await asyncio.sleep(0.02)  # real: the ledger writes (and bodies are built) in threads
            wake = clock.next_wake()
            if wake is not None:
                await clock.advance(max(0.0, wake - clock.now()))
        return run.result()

    began = time.monotonic()
    result = asyncio.run(main())
    writer.close()
    assert time.monotonic() - began < 30  # about 130 s of API time
    assert [r.outcome for r in result.results] == ["failed"] * 5
    assert all(r.detail == "generation failed: the output was judged sensitive (1027)" for r in result.results)
    window = retry.RATE_WINDOW * retry.RATE_WINDOW_MARGIN
    created = server.created
    assert len(created) == 5 and created[1] - created[0] < window  # two in the first window
    assert created[2] - created[0] >= window and created[4] - created[2] >= window
    assert clock.now() >= 2 * window
    # Each task was asked once, no sooner than its fixed first poll.
    assert len(server.queried) == 5 and all(q - c >= 20.0 for q, c in zip(server.queried, created))
    events = ledger.read(ledger.ledger_path(prepared.out_dir))[0]
    for spec in prepared.specs:
        assert [e["e"] for e in events if e.get("shot") == spec.shot.id] == ["intent", "submitted", "failed"]
