"""Lost create answers on v2, looked up in the task list: which listed task, if any, is a take's.

A create whose answer never came back ("uncertain") may or may not have made a task, and the
API has no idempotency key. On v2 the list endpoint shows every task the key made in the last
7 days, without prompts, but with the model, duration, resolution, ratio, task type and the
creation time. A take's task, if it exists, was created between the take's intent and the
moment its answer was given up on, and has the take's shape. So:

- exactly one unclaimed listed task fits: it is the take's (adopt it: poll, never pay again);
- none fits, and the server has had `lag` seconds since to show it: no task was made (submit
  again, safely);
- several fit: it stays uncertain, and the user is told which tasks.

Pure: the caller lists the tasks and says which ids the ledger already holds ("claimed").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Union

SKEW = 5.0  # seconds: our clock against the server's, and created_at rounded to whole seconds
LIST_LAG = 30.0  # seconds after a lost answer before an empty list is believed
LISTED_FOR = 7 * 86400 - 12 * 3600  # the list shows 7 days of tasks; older intents are not looked up
FRAME_ROLES = frozenset({"first_frame", "last_frame"})


@dataclass(frozen=True)
class Shape:
    """What the list shows of a create: all a take's task can be recognised by."""

    model: str
    duration: int | None
    resolution: str | None
    ratio: str | None  # None: any (adaptive, or frames given: the server picks the ratio)
    task_type: str = "generation"


@dataclass(frozen=True)
class Listed:
    """One task from the list endpoint."""

    task_id: str
    created_at: float
    model: str
    duration: int | None
    resolution: str | None
    ratio: str | None
    task_type: str = "generation"


@dataclass(frozen=True)
class Lost:
    """A take whose create answer was lost: its shape and the window its task was made in."""

    key: Any  # the take's ledger key, handed back untouched
    shape: Shape
    sent_at: float  # the intent: the create left no earlier
    lost_at: float  # the answer was given up on: the server had the request before then


@dataclass(frozen=True)
class Adopt:
    task_id: str


@dataclass(frozen=True)
class NoTask:
    """The list shows no such task although the server has had time to: nothing was made."""


@dataclass(frozen=True)
class Wait:
    """Nothing listed yet, but too soon after the lost answer to believe it: ask again at `until`."""

    until: float


@dataclass(frozen=True)
class Ambiguous:
    task_ids: tuple[str, ...]


Verdict = Union[Adopt, NoTask, Wait, Ambiguous]


def shape_of(request: dict[str, Any]) -> Shape:
    """The shape of a v2 create body (canonical or real): frames make the ratio the server's choice."""
    content = request.get("content") or []
    framed = any(isinstance(item, dict) and item.get("role") in FRAME_ROLES for item in content)
    ratio = request.get("ratio")
    return Shape(
        model=str(request.get("model")),
        duration=request.get("duration"),
        resolution=request.get("resolution"),
        ratio=None if framed or ratio in (None, "", "adaptive") else ratio,
    )


def fits(lost: Lost, task: Listed, skew: float = SKEW) -> bool:
    """Whether `task` could be the one `lost`'s create made."""
    s = lost.shape
    return (task.model == s.model
            and task.task_type == s.task_type
            and (s.duration is None or task.duration == s.duration)
            and (s.resolution is None or task.resolution == s.resolution)
            and (s.ratio is None or task.ratio == s.ratio)
            and lost.sent_at - skew <= task.created_at <= lost.lost_at + skew)


def reconcile(lost: Iterable[Lost], listed: Iterable[Listed], claimed: Iterable[str], now: float, *,
              lag: float = LIST_LAG, skew: float = SKEW) -> dict[Any, Verdict]:
    """A verdict per lost take. Takes are settled together: a take adopts its one candidate unless
    another unsettled take has that same task as its only candidate (then either could own it, and
    one might get the other's video); adopting claims the task, which may settle another take, so
    adoption repeats until nothing changes."""
    pending = list(lost)
    tasks = list(listed)
    taken = set(claimed)
    verdicts: dict[Any, Verdict] = {}
    progress = True
    while progress:
        progress = False
        for take in pending:
            if take.key in verdicts:
                continue
            candidates = [t for t in tasks if t.task_id not in taken and fits(take, t, skew)]
            if len(candidates) == 1 and not any(
                    other.key != take.key and other.key not in verdicts
                    and [t for t in tasks if t.task_id not in taken and fits(other, t, skew)] == candidates
                    for other in pending):  # another take could own only this task: whose is it?
                verdicts[take.key] = Adopt(candidates[0].task_id)
                taken.add(candidates[0].task_id)
                progress = True
    for take in pending:
        if take.key in verdicts:
            continue
        candidates = [t.task_id for t in tasks if t.task_id not in taken and fits(take, t, skew)]
        if candidates:
            verdicts[take.key] = Ambiguous(tuple(sorted(candidates)))
        elif now >= take.lost_at + lag:
            verdicts[take.key] = NoTask()
        else:
            verdicts[take.key] = Wait(take.lost_at + lag)
    return verdicts
