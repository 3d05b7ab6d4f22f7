"""What a run would do: a pure function of (manifest, ledger view, file checks, options).

Each take's action is its ledger standing's (pipeline/run/status.py, `classify`): downloaded and
intact -> up to date; succeeded, file missing -> download only; task id known -> poll it, never
create again; failed for good -> skip unless retry_failed; sent but answer lost -> uncertain,
skip unless resubmit_uncertain; nothing known -> submit. Paid tasks of earlier versions are
followed to their videos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pipeline.manifest import graph
from pipeline.manifest import takes as naming
from pipeline.minimax import catalogue, imagespec
from pipeline.run.gentime import GenTimes, Observation, task_class
from pipeline.run.ledger import LedgerView, TakeState
from pipeline.run.status import BLOCKED, Action, classify, label, made_on, uncertain_why
from pipeline.run.store import HISTORY

if TYPE_CHECKING:
    from pipeline.manifest.models import ManifestPrices, Shot
    from pipeline.run.result import Outcome


@dataclass(frozen=True)
class TakeSpec:
    """One take of one shot as the manifest declares it now.

    A dependant (a shot whose input is another shot's output) is resolved once its upstream takes
    are on disk: `inputs` holds the frames cut for it, and its fingerprint covers their bytes.
    Before that, `waits_for` names the upstream takes it waits for, its request holds
    placeholders and its fingerprint is `PENDING`-prefixed (never in a ledger). `problem`: a
    frame that cannot be used (past the clip's end, refused by the API's image rules)."""

    shot: Shot
    take: int
    fingerprint: str
    request: dict[str, Any]  # the canonical request (images by content hash)
    waits_for: tuple[tuple[str, int], ...] = ()
    inputs: tuple[tuple[str, Any], ...] = ()  # (field, frameinputs.FrameInput) for a resolved dependant
    problem: str | None = None
    kept: str | None = None  # an approved take kept as it was though its upstream changed: why

    @property
    def waiting(self) -> bool:
        """An upstream take is not made yet: the take is created after it."""
        return bool(self.waits_for)

    @property
    def key(self) -> tuple[str, int]:
        return (self.shot.id, self.take)

    @property
    def ledger_key(self) -> tuple[str, int, str]:
        """How the ledger names this version of the take: (shot id, take, fingerprint)."""
        return (self.shot.id, self.take, self.fingerprint)

    @property
    def label(self) -> str:
        return naming.label(self.shot.id, self.take)

    @property
    def filename(self) -> str:
        return naming.output_name(self.shot.id, self.take, self.shot.is_still)


PENDING = "after-"  # a waiting dependant's fingerprint starts so: no ledger event is ever written under it


@dataclass(frozen=True)
class EarlierShot:
    """What a paid task of an earlier version of a shot needs of its shot: its id, duration and model."""

    id: str
    duration: int | None = None
    model: str = ""
    is_still: bool = False  # image shots leave no paid task to follow: the answer is the image
    resolution: str | None = None  # what its video is checked against (a 2K final's size)


@dataclass(frozen=True)
class OrphanSpec(TakeSpec):
    """A take's earlier version whose task was paid but whose video was never fetched (the shot
    was edited or removed meanwhile): followed to its video, which goes to history/."""

    shot: EarlierShot  # type: ignore[assignment]  # all a follow-up needs: the id and the duration

    @property
    def key(self) -> tuple[str, int]:  # apart from the take's current version
        return (f"{self.shot.id}@{self.fingerprint}", self.take)

    @property
    def label(self) -> str:
        return f"{super().label} (earlier version {self.fingerprint[:8]})"

    @property
    def filename(self) -> str:
        return f"{HISTORY}/{naming.stem(self.shot.id, self.take)}.{self.fingerprint}{naming.VIDEO_SUFFIX}"


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
        return self.action.creates


def outcome_of(planned: PlannedTake) -> tuple[Outcome, str]:
    """(outcome, detail) of a take before a run works on it: a skipped take's is final."""
    outcome = Action(planned.action).outcome
    if outcome == "failed":
        return outcome, planned.state.reason or "failed before"
    if planned.action == Action.BLOCKED:  # pending: the next run makes it once its upstream is done
        return outcome, planned.reason
    return outcome, planned.reason if outcome != "pending" else ""


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
        return not self.orphans and all(t.action.skips for t in self.takes)

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
        takes.append(plan_take(spec, view, intact, retry_failed=retry_failed, resubmit_uncertain=resubmit_uncertain,
                               endpoint=endpoint, prices=prices))
    known = spec_keys if declared is None else set(declared)
    takes = _block_dependants(takes, known)
    removed = sorted(k for k in view.latest if k not in known and not _final(k[0]))
    wanted = {t.spec.key: t.spec.fingerprint for t in takes}
    left_out = known - spec_keys  # by --only: not this run's business
    # A dependant still waiting for its upstream has no fingerprint yet: its paid tasks are its
    # own until it is resolved (in the run), never an earlier version's.
    left_out |= {t.spec.key for t in takes if t.spec.waiting}
    orphans = [_follow(state) for (shot, take, fp), state in sorted(view.states.items())
               if state.state in PAID_UNFETCHED and (shot, take) not in left_out and wanted.get((shot, take)) != fp
               and made_on(state, endpoint) and not _final(shot)]
    return Plan(takes, removed, orphans)


def _final(ledger_shot: str) -> bool:
    """A 2K final's ledger key (`<id>@final`, run/finals.py): `shots finalize` plans those; no
    manifest id has an '@'."""
    return "@" in ledger_shot


def plan_take(spec: TakeSpec, view: LedgerView, intact: Callable[[TakeState], str | None], *,
              retry_failed: bool = False, resubmit_uncertain: bool = False, endpoint: str | None = None,
              prices: ManifestPrices | None = None) -> PlannedTake:
    """One take's action and cost: `make_plan`'s rule, also used by the runner for a dependant
    resolved when its upstream finishes."""
    status = classify(spec, view, intact, retry_failed=retry_failed, resubmit_uncertain=resubmit_uncertain,
                      endpoint=endpoint)
    if status.action.creates:
        price = catalogue.price_of(spec.shot, prices)
        return PlannedTake(spec, status.action, status.reason, status.state, price.usd, price.how)
    return PlannedTake(spec, status.action, status.reason, status.state, 0.0)


def _block_dependants(takes: list[PlannedTake], declared: set[tuple[str, int]]) -> list[PlannedTake]:
    """A dependant whose upstream take will not be made in this run (failed, uncertain, blocked,
    left out by --only, or has errors) is blocked: never submitted, never billed; the next run
    makes it once the upstream is done. Decided in the graph's order, so blocks pass down a chain."""
    if not any(t.spec.waits_for for t in takes):
        return takes
    by_key = {t.spec.key: t for t in takes}
    for key in graph.order({t.spec.key: list(t.spec.waits_for) for t in takes}):
        planned = by_key[key]
        if not planned.spec.waits_for or planned.action.skips:
            continue
        why = next(filter(None, (_why_blocked(up, by_key.get(up), declared) for up in planned.spec.waits_for)), None)
        if why is not None:
            by_key[key] = replace(planned, action=Action.BLOCKED, reason=f"{BLOCKED}{why}", cost=0.0, price_how="")
    return [by_key[t.spec.key] for t in takes]


def _why_blocked(up: tuple[str, int], planned: PlannedTake | None, declared: set[tuple[str, int]]) -> str | None:
    """Why an upstream take will not be made in this run, naming the take at the root of a
    chain of blocks (what the user must fix); None when it will be made (or is)."""
    name = label(up)
    if planned is None:
        if up in declared:
            return f"{name} is not made yet and --only leaves it out of this run (add it to --only)"
        return f"{name} is not in the manifest's checked shots (see shots validate)"
    if planned.action == Action.FAILED_SKIPPED:
        return f"{name} failed ({planned.state.reason or 'failed before'}; --retry-failed makes it again)"
    if planned.action == Action.UNCERTAIN_SKIPPED:
        return f"{name} is uncertain ({uncertain_why(planned.state)}; see shots status)"
    if planned.action == Action.BLOCKED:
        return planned.reason.removeprefix(BLOCKED)  # the root's own words
    return None


def _follow(state: TakeState) -> PlannedTake:
    request = state.request or {}
    duration = request.get("duration") if isinstance(request.get("duration"), int) else None
    model = request.get("model") if isinstance(request.get("model"), str) else ""
    resolution = request.get("resolution") if isinstance(request.get("resolution"), str) else None
    spec = OrphanSpec(EarlierShot(state.shot, duration, model, resolution=resolution), state.take,
                      state.fingerprint, request)
    if state.state == "succeeded":
        return PlannedTake(spec, Action.DOWNLOAD, "an earlier version's paid video, not fetched yet: "
                                                  "it goes to history/", state, 0.0)
    return PlannedTake(spec, Action.POLL, f"task {state.task_id} of an earlier version was paid for: "
                                          f"its video goes to history/", state, 0.0)


PAID_UNFETCHED = frozenset({"submitted", "succeeded"})  # a task exists (billed once it succeeds), no video yet


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


def estimate_seconds(plan: Plan, rpm: float, concurrency: int | None, *,
                     history: Iterable[Observation] = (), time_scale: float = 1.0) -> float:
    """Wall time at the given pace: creates limited by RPM and the in-flight cap, plus generation.

    A take's generation time is what the ledger has learned of its class (`history`, see
    gentime.history_from_view), else the documented prior. A chain of dependants takes one
    generation per link at least; stills go at the image API's own pace. `time_scale` is the
    run's clock: the simulator's (backend.SIM_TIME_SCALE) runs pacing and generation alike that
    much faster.
    """
    creates = [t for t in plan.creates if not t.spec.shot.is_still]
    stills = [t for t in plan.creates if t.spec.shot.is_still]
    polls = [t for t in plan.takes if t.action == Action.POLL]
    if not creates and not polls and not stills:
        return 0.0
    learned = GenTimes(0.0, history)
    gen = max((generation_seconds(t.spec, learned) for t in creates + polls), default=0.0)
    by_rate = math.ceil(len(creates) / max(rpm, 1e-9)) * 60.0 if creates else 0.0
    by_slots = (len(creates) / concurrency) * gen if concurrency else 0.0
    by_chain = (_chain_links(plan) - 1) * gen
    by_stills = math.ceil(len(stills) / imagespec.RPM) * 60.0 if stills else 0.0
    return (max(by_rate, by_slots, by_chain, by_stills) + gen) * time_scale


def _chain_links(plan: Plan) -> int:
    """The most videos to make one after another: the longest chain of dependants to create."""
    made = {t.spec.key: t for t in plan.takes if t.creates or t.action == Action.POLL}
    if not any(t.spec.waits_for for t in made.values()):
        return 1
    links: dict[tuple[str, int], int] = {}
    for key in graph.order({k: list(t.spec.waits_for) for k, t in made.items()}):
        own = 0 if made[key].spec.shot.is_still else 1
        links[key] = own + max((links.get(up, 0) for up in made[key].spec.waits_for), default=0)
    return max(links.values(), default=1)


def generation_seconds(spec: TakeSpec, learned: GenTimes) -> float:
    """How long a take's video should take to generate (API seconds): the high quantile learned
    for its class, or the documented time when nothing is."""
    cls = task_class(spec.request)
    known = learned.estimate(cls)
    if known is not None:
        return known.high
    return catalogue.expected_generation_seconds(spec.shot.model, spec.shot.resolution)
