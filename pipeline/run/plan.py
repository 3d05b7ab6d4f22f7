"""What a run would do: a pure function of (manifest, ledger view, file checks, options).

Per shot take, by its latest state for the current fingerprint (DESIGN.md, "The ledger"):
downloaded and intact -> up to date; succeeded, file missing -> download only; task id known
-> poll it, never create again; failed for good -> skip unless retry_failed; sent but answer
lost -> uncertain, skip unless resubmit_uncertain; nothing known -> submit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

from pipeline.minimax import catalogue
from pipeline.run import request
from pipeline.run.ledger import LedgerView, TakeState
from pipeline.run.store import HISTORY

if TYPE_CHECKING:
    from pipeline.manifest.models import ManifestPrices

Action = Literal[
    "submit",
    "changed: regenerate",
    "retry failed",
    "resubmit uncertain",
    "poll existing task",
    "download only",
    "up to date",
    "failed: skipped",
    "uncertain: skipped",
]
CREATES: frozenset[str] = frozenset({"submit", "changed: regenerate", "retry failed", "resubmit uncertain"})
SKIPS: frozenset[str] = frozenset({"up to date", "failed: skipped", "uncertain: skipped"})


@dataclass(frozen=True)
class TakeSpec:
    """One take of one shot as the manifest declares it now."""

    shot: Any  # pipeline.manifest.checker.Shot
    take: int
    fingerprint: str
    request: dict[str, Any]  # the canonical request (images by content hash)

    @property
    def key(self) -> tuple[str, int]:
        return (self.shot.id, self.take)

    @property
    def label(self) -> str:
        return self.shot.id if self.take == 1 else f"{self.shot.id} take {self.take}"

    @property
    def filename(self) -> str:
        return f"{self.shot.id}.mp4" if self.take == 1 else f"{self.shot.id}.take{self.take}.mp4"


@dataclass(frozen=True)
class EarlierShot:
    """What a paid task of an earlier version of a shot needs of its shot: its id and duration."""

    id: str
    duration: int | None = None


@dataclass(frozen=True)
class OrphanSpec(TakeSpec):
    """A take's earlier version whose task was paid but whose video was never fetched (the shot
    was edited or removed meanwhile): followed to its video, which goes to history/."""

    @property
    def key(self) -> tuple[str, int]:  # apart from the take's current version
        return (f"{self.shot.id}@{self.fingerprint}", self.take)

    @property
    def label(self) -> str:
        return f"{super().label} (earlier version {self.fingerprint[:8]})"

    @property
    def filename(self) -> str:
        return f"{HISTORY}/{super().filename[:-len('.mp4')]}.{self.fingerprint}.mp4"


@dataclass(frozen=True)
class PlannedTake:
    spec: TakeSpec
    action: Action
    reason: str
    state: TakeState
    cost: float | None  # new spend if this take creates a task; None when the price is unknown
    price_how: str = ""  # how the cost was computed, and from what (catalogue or manifest)

    @property
    def creates(self) -> bool:
        return self.action in CREATES


@dataclass(frozen=True)
class Plan:
    takes: list[PlannedTake]
    removed: list[tuple[str, int]] = field(default_factory=list)  # in the ledger, gone from the manifest
    # Paid tasks whose shot was edited or removed while they generated: followed to their video,
    # which goes to history/ ("never lose a paid video"), never created again.
    orphans: list[PlannedTake] = field(default_factory=list)

    def count(self, *actions: str) -> int:
        return sum(1 for t in self.takes if t.action in actions)

    @property
    def idle(self) -> bool:
        """Nothing for a run to do: every take skipped, no earlier version's paid task to follow."""
        return not self.orphans and all(t.action in SKIPS for t in self.takes)

    @property
    def creates(self) -> list[PlannedTake]:
        return [t for t in self.takes if t.creates]

    @property
    def known_cost(self) -> float:
        return sum(t.cost or 0.0 for t in self.creates)

    @property
    def unknown_cost_takes(self) -> int:
        return sum(1 for t in self.creates if t.cost is None)


def make_plan(
    specs: Iterable[TakeSpec],
    view: LedgerView,
    intact: Callable[[TakeState], str | None],
    *,
    retry_failed: bool = False,
    resubmit_uncertain: bool = False,
    declared: Iterable[tuple[str, int]] | None = None,
    endpoint: str | None = None,
    prices: ManifestPrices | None = None,
) -> Plan:
    """Decide each take's action. `intact(state)` returns None if its video is fine, else why not.

    `declared`: every (shot, take) the manifest has, when `specs` are only some of them (--only),
    so that the others are not called removed. `endpoint`: the fingerprints' endpoint, to tell a
    take made elsewhere (submit) from a take whose shot changed (regenerate). `prices`: the
    manifest's own, for what the catalogue does not price.
    """
    takes = []
    spec_keys = set()
    for spec in specs:
        spec_keys.add(spec.key)
        state = view.get(spec.shot.id, spec.take, spec.fingerprint)
        action, reason = _decide(spec, state, view, intact, retry_failed, resubmit_uncertain, endpoint)
        if action in CREATES:
            price = catalogue.price_of(spec.shot, prices)
            takes.append(PlannedTake(spec, action, reason, state, price.usd, price.how))
        else:
            takes.append(PlannedTake(spec, action, reason, state, 0.0))
    known = spec_keys if declared is None else set(declared)
    removed = sorted(k for k in view.latest if k not in known)
    wanted = {t.spec.key: t.spec.fingerprint for t in takes}
    left_out = known - spec_keys  # by --only: not this run's business
    orphans = [_follow(state) for (shot, take, fp), state in sorted(view.states.items())
               if state.state in PAID_UNFETCHED and (shot, take) not in left_out and wanted.get((shot, take)) != fp
               and _made_on(state, endpoint)]
    return Plan(takes, removed, orphans)


def _made_on(state: TakeState, endpoint: str | None) -> bool:
    """Whether a take's task was made on this endpoint: only there can it be asked for (the
    simulator does not know the real API's tasks, and must never call them failed)."""
    return endpoint is not None and state.request is not None and \
        request.fingerprint(state.request, endpoint) == state.fingerprint


def _follow(state: TakeState) -> PlannedTake:
    request = state.request or {}
    duration = request.get("duration") if isinstance(request.get("duration"), int) else None
    spec = OrphanSpec(EarlierShot(state.shot, duration), state.take, state.fingerprint, request)
    if state.state == "succeeded":
        return PlannedTake(spec, "download only", "an earlier version's paid video, not fetched yet: "
                                                  "it goes to history/", state, 0.0)
    return PlannedTake(spec, "poll existing task", f"task {state.task_id} of an earlier version was paid for: "
                                                   f"its video goes to history/", state, 0.0)


PAID_UNFETCHED = frozenset({"submitted", "succeeded"})  # a task exists (billed once it succeeds), no video yet


def _decide(spec, state, view, intact, retry_failed, resubmit_uncertain, endpoint) -> tuple[Action, str]:
    if state.state == "downloaded":
        problem = intact(state)
        if problem is None:
            return "up to date", f"downloaded {state.file}"
        return "download only", f"{problem}; the task's file is fetched again (no new charge)"
    if state.state == "succeeded":
        return "download only", "generated but not downloaded yet (no new charge)"
    if state.state == "submitted":
        return "poll existing task", f"task {state.task_id} already created; never create it twice"
    if state.state == "failed":
        if retry_failed:
            return "retry failed", f"failed before ({state.reason}); --retry-failed creates it again"
        return "failed: skipped", f"{state.reason} (--retry-failed to try again)"
    if state.state in ("uncertain", "intent"):
        why = uncertain_why(state)
        if resubmit_uncertain:
            return "resubmit uncertain", f"{why}; --resubmit-uncertain creates it again (may pay twice)"
        return "uncertain: skipped", (
            f"{why}; {BILLED_MAY_EXIST}. Check the MiniMax console, then run with "
            f"--resubmit-uncertain to create it again"
        )
    previous = view.current(spec.shot.id, spec.take)
    if previous is None or previous.fingerprint == spec.fingerprint:
        return "submit", "not run before"
    if endpoint is not None and previous.request is not None and \
            request.fingerprint(previous.request, endpoint) != previous.fingerprint:
        return "submit", "not made on this endpoint before (the take on disk came from another one)"
    return "changed: regenerate", _what_changed(previous.request, spec.request)


BILLED_MAY_EXIST = "a billed task may exist"


def uncertain_why(state: TakeState) -> str:
    """Why a take is uncertain, without the warning every view adds after it (said once)."""
    why = state.reason or "the run stopped while its create was in flight"
    return why.replace(f"; {BILLED_MAY_EXIST}", "").replace(f", {BILLED_MAY_EXIST}", "")


def _what_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "the shot or the endpoint changed since the last run"
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not keys:
        return "the endpoint changed since the last run"
    return "changed since the last run: " + ", ".join(keys)


@dataclass(frozen=True)
class Budget:
    """The spending limit a run is held to, where it came from, and why it refuses (None: it starts)."""

    limit: float | None  # None or math.inf: no limit
    source: str | None  # "--max-cost 5", "max_cost 5 (manifests/example.yaml:7:11)"
    problem: str | None

    @classmethod
    def of(cls, plan: "Plan", limit: float | None, source: str | None) -> "Budget":
        return cls(limit, source, budget_problem(plan, limit, source or ""))


def budget_problem(plan: Plan, max_cost: float | None, source: str) -> str | None:
    """Why a run with this budget must not start, or None. `source` names where the budget came
    from ("--max-cost 5", "max_cost 5 (manifest.yaml:4)"); math.inf or None is no budget."""
    if max_cost is None or math.isinf(max_cost):
        return None
    unknown = [t.spec.label for t in plan.creates if t.cost is None]
    if unknown:
        names = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        return (f"{source}: {len(unknown)} take(s) to create have no known price ({names}), so the spend "
                f"cannot be bounded; declare their price under prices: in the manifest, leave them out "
                f"with --only, or lift the budget with --max-cost none")
    if plan.known_cost > max_cost + 1e-9:
        return f"the plan would spend ${plan.known_cost:.2f} on {len(plan.creates)} new task(s), over {source}"
    return None


def estimate_seconds(plan: Plan, rpm: float, concurrency: int | None) -> float:
    """Wall time at the given pace: creates limited by RPM and the in-flight cap, plus generation."""
    creates = plan.creates
    polls = [t for t in plan.takes if t.action == "poll existing task"]
    if not creates and not polls:
        return 0.0
    gen = max(
        (catalogue.expected_generation_seconds(t.spec.shot.model, t.spec.shot.resolution) for t in creates + polls),
        default=0.0,
    )
    by_rate = math.ceil(len(creates) / max(rpm, 1e-9)) * 60.0 if creates else 0.0
    by_slots = (len(creates) / concurrency) * gen if concurrency else 0.0
    return max(by_rate, by_slots) + gen
