"""The run's side of a lost v2 create: list the key's tasks and let reconcile.py decide.

One look-up at a time, so that two lost takes never adopt the same task; every task id the
ledger holds, or this run is told, is "claimed" and never adopted.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Iterable

from pipeline.run.reconcile import LIST_LAG, Adopt, Listed, Lost, Verdict, reconcile

if TYPE_CHECKING:
    from pipeline.minimax.client import TaskStatus
    from pipeline.run.ledger import LedgerView


class TaskFinder:
    """Finds a lost create's task in the v2 task list. Times are wall-clock Unix seconds (the
    server's created_at, the ledger's intent); `scale` turns the list's lag into them."""

    def __init__(self, client: object, claimed: Iterable[str], scale: float = 1.0):
        self.client = client
        self.claimed = set(claimed)
        self.lag = LIST_LAG * scale
        self._lost: dict[Any, Lost] = {}  # the run's lost creates not yet settled: one task may fit several
        self._lock = asyncio.Lock()

    @classmethod
    def for_view(cls, client: object, view: LedgerView, scale: float) -> TaskFinder:
        return cls(client, (s.task_id for s in view.states.values() if s.task_id), scale)

    def claim(self, task_id: str) -> None:
        """This run holds `task_id` (it created or resumed it): never adopt it for another take."""
        self.claimed.add(task_id)

    def lost(self, lost: Lost) -> None:
        """A take's create answer is lost: until it is settled, a task it could own is not given to another."""
        self._lost[lost.key] = lost

    def settled(self, lost: Lost) -> None:
        self._lost.pop(lost.key, None)

    async def verdict(self, lost: Lost) -> Verdict:
        """Adopt (the task is claimed), NoTask, Wait or Ambiguous, from one pass over the list."""
        async with self._lock:
            listed = [listed_task(t) async for t in self.client.v2.iter_tasks(  # type: ignore[attr-defined]
                model=lost.shape.model, task_type=lost.shape.task_type)]
            others = [t for key, t in self._lost.items() if key != lost.key]
            verdict = reconcile([lost, *others], listed, self.claimed, time.time(), lag=self.lag)[lost.key]
            if isinstance(verdict, Adopt):
                self.claimed.add(verdict.task_id)
            return verdict


def listed_task(status: TaskStatus) -> Listed:
    return Listed(status.task_id, float(status.created_at or 0), status.model or "", status.duration,
                  status.resolution, status.ratio, status.task_type or "generation")
