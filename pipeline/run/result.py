"""What a run did, take by take: the runner fills these in; the summary and status views read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.errors import ShotsError
from pipeline.run.plan import Plan, PlannedTake, TakeSpec, outcome_of
from pipeline.run.status import BLOCKED

Outcome = Literal["done", "failed", "uncertain", "pending"]


@dataclass
class TakeResult:
    spec: TakeSpec
    outcome: Outcome
    detail: str = ""
    task_id: str | None = None
    file: str | None = None
    sha256: str | None = None  # the file's, once downloaded in this run: a dependant's frame is cut from it
    archived: str | None = None  # where this run moved the file it replaced (history/...), if any
    cost: float | None = None  # spent in this run (a successful task's price), None if unknown
    created: bool = False  # a task made in this run reached Success: it is billed
    task_made: bool = False  # a create in this run answered a task id: billed once it succeeds
    followed: bool = False  # an earlier run's task, followed to its video in this run: billed now
    queries: int = 0
    requests: int = 0  # API requests this take made in this run (its budget: retry.request_budget)
    began: float = 0.0  # when its work began in this run: API seconds on the run's clock (run/clock.py)
    first_poll: float | None = None  # seconds (time scale 1) after the create's answer: when it was first asked
    scout: bool = False  # polled every interval from the start, to learn its class's generation time


@dataclass
class RunResult:
    results: list[TakeResult] = field(default_factory=list)
    creates: int = 0
    rate_limited: int = 0
    interrupted: bool = False
    aborted: ShotsError | None = None  # AccountError or AbortError: the run stopped
    orphans: list[TakeResult] = field(default_factory=list)  # earlier versions' paid tasks, followed
    seconds: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def blocked(self) -> int:
        """Pending takes never sent because a take they are made from was not made (or its frame
        cannot be used): the next run makes them once it is."""
        return sum(1 for r in self.results if r.outcome == "pending" and r.detail.startswith(BLOCKED))

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run on Python 3.11 formats its result's repr twice
        # (python/cpython#112559); the full repr of 10,000 takes costs seconds.
        return (f"<RunResult {len(self.results)} takes: {self.count('done')} done, {self.count('failed')} failed, "
                f"{self.creates} creates>")

    @property
    def spent(self) -> float:
        return sum(r.cost or 0.0 for r in self.results if r.created or r.followed)

    @property
    def generating(self) -> list[TakeResult]:
        """Takes whose task this run created but did not see finish: billed when they do."""
        return [r for r in self.results if r.task_made and not r.created and r.outcome == "pending"]

    @property
    def unpriced(self) -> int:
        """Billed takes whose price the catalogue does not know."""
        return sum(1 for r in self.results if r.created and r.cost is None)


def initial_result(planned: PlannedTake) -> TakeResult:
    """A take's result before the run works on it (run/status.py decides; a skipped take's is final)."""
    outcome, detail = outcome_of(planned)
    state = planned.state
    return TakeResult(planned.spec, outcome, detail, state.task_id, state.file if outcome == "done" else None)


def nothing_to_do(plan: Plan) -> RunResult:
    """The result of a plan whose every take is skipped: no server, no runner (nor its HTTP client) loaded."""
    return RunResult(results=[initial_result(t) for t in plan.takes])
