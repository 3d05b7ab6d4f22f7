"""Finals: the picked take of each MiniMax-H3 shot made at 768P, regenerated in 2K (minimax-api-v2.md
A11) — which shots have one to make, their takes as the runner takes them, their price, and the
file a reel or an export uses.

A final is a take like any other in the ledger, under a key no manifest id can have: shot
`<id>@final` ('@' is not allowed in ids), take = the picked take, fingerprint = its canonical
regeneration request's (request_regen.py: the draft take's fingerprint and task id). So the
ledger's rules hold as they are: intent before create, a known task polled and never created
again, a lost answer uncertain (on v2, looked up in the task list). Its file sits beside the
draft: `<id>.final.mp4` for take 1, `<id>.take2.final.mp4` for take 2.

The runner checks a final as a 2K H3 clip: its Shot is the draft's with the final's id and
resolution "2K" (video.Expected). Its price is the regeneration's, not a 2K generation's: A8's
$0.05 per requested second, plus the original inputs billed again.

Nothing here talks to a server: the reel, the export and the plan read it (finalize.py runs it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from pipeline.manifest import takes as naming
from pipeline.manifest.models import picked_take
from pipeline.minimax import catalogue
from pipeline.run import request, request_regen, store
from pipeline.run.ledger import LedgerView
from pipeline.run.plan import PAID_UNFETCHED, EarlierShot, OrphanSpec, Plan, PlannedTake, TakeSpec, make_plan
from pipeline.run.specs import resolved_specs
from pipeline.run.status import Action, made_on

if TYPE_CHECKING:
    from pipeline.manifest.models import Manifest, Shot
    from pipeline.run.ledger import TakeState

FINAL = "@final"  # a final's ledger shot key: '<id>@final'
FINAL_SUFFIX = ".final" + naming.VIDEO_SUFFIX
MODEL = "MiniMax-H3"  # the only model with a 2K regeneration (A11); H3-Max has no 2K (A3)
DRAFT_RESOLUTION = "768P"

# Regeneration 768P -> 2K: USD per requested second, plus the original inputs billed again
# (minimax-api-v2.md A8, [O*]). Prices are the catalogue's data: these belong in catalogue.py.
REGENERATION_PER_SECOND = {MODEL: 0.05}


def final_id(shot_id: str) -> str:
    """The ledger's shot key of a shot's final."""
    return shot_id + FINAL


def is_final(ledger_shot: str) -> bool:
    """Whether a ledger shot key is a final's (no manifest id has an '@')."""
    return ledger_shot.endswith(FINAL)


def final_name(shot_id: str, take: int) -> str:
    """A final's file, beside its draft: `s01.final.mp4`, `s01.take2.final.mp4`."""
    return naming.stem(shot_id, take) + FINAL_SUFFIX


@dataclass(frozen=True)
class FinalSpec(TakeSpec):
    """A final as the runner takes it: `shot` is the draft's Shot with the final's id and
    resolution 2K (what the video check and the ledger key read); `draft` the 768P take it
    regenerates, whose file (`draft_file`, `draft_sha256`) goes as the base_video."""

    draft: TakeSpec | None = None
    draft_file: str = ""
    draft_sha256: str | None = None

    @property
    def shot_id(self) -> str:
        """The manifest's id of the shot."""
        return self.shot.id.removesuffix(FINAL)

    @property
    def label(self) -> str:
        return f"{naming.label(self.shot_id, self.take)} final"

    @property
    def filename(self) -> str:
        return final_name(self.shot_id, self.take)

    @property
    def source_task_id(self) -> str:
        return self.request[request_regen.SOURCE]["task_id"]


@dataclass(frozen=True)
class Skipped:
    """A shot that gets no final in this run, and why."""

    shot: str
    take: int
    why: str


@dataclass(frozen=True)
class Finals:
    """The finals a manifest (or its --only shots) has to make, and the shots left out."""

    specs: list[FinalSpec]
    skipped: list[Skipped]
    # Finals of shots --only leaves out: not this run's business (see make_plan's `declared`).
    left_out: list[tuple[str, int]] = field(default_factory=list)


def final_specs(manifest: Manifest, endpoint: str, out_dir: Path, view: LedgerView,
                only: Iterable[str] | None = None, *, verify: bool = False) -> Finals:
    """For each shot (or each --only one), in manifest order: its picked take's final, or why it
    has none (not H3, already 2K, no intact video yet, ...). `verify` hashes each draft."""
    drafts = {spec.key: spec for spec in resolved_specs(manifest, endpoint, out_dir, view, only)}
    wanted = set(only) if only else None
    specs, skipped, left_out = [], [], []
    for shot in manifest.shots:
        take = picked_take(shot)
        if wanted is not None and shot.id not in wanted:
            left_out.append((final_id(shot.id), take))
            continue
        why = _not_final(shot, take)
        draft = drafts.get((shot.id, take))
        state = view.get(*draft.ledger_key) if draft is not None else None
        if why is None:
            why = _no_draft(draft, state, view, out_dir, verify)
        if why is not None:
            skipped.append(Skipped(shot.id, take, why))
            continue
        assert draft is not None and state is not None and state.task_id and state.file
        canonical = request_regen.canonical_request(draft, state.task_id)
        final_shot = shot.model_copy(update={"id": final_id(shot.id), "resolution": request_regen.RESOLUTION})
        specs.append(FinalSpec(final_shot, take, request.fingerprint(canonical, endpoint), canonical,
                               draft=draft, draft_file=state.file, draft_sha256=state.sha256))
    return Finals(specs, skipped, left_out)


def _not_final(shot: Shot, take: int) -> str | None:
    """Why a shot has no 2K final to make, by what it is (None: it may have one)."""
    if shot.is_still or catalogue.api_of(shot.model) != "v2":
        return f"not MiniMax-H3 ({shot.model}): only H3 takes are regenerated in 2K"
    if shot.model != MODEL:
        return f"{shot.model} has no 2K (only {MODEL} is regenerated in 2K)"
    if shot.resolution == request_regen.RESOLUTION:
        return "already made in 2K: it is its own final"
    if shot.resolution != DRAFT_RESOLUTION:
        return f"made at {shot.resolution or 'an unknown resolution'}: only {DRAFT_RESOLUTION} takes are regenerated"
    if shot.status == "redo":
        return "marked for redo: finalize it once it is made again"
    if take > shot.takes:
        return f"its pick, take {take}, is not one of its {shot.takes} take(s)"
    return None


def _no_draft(draft: TakeSpec | None, state: TakeState | None, view: LedgerView, out_dir: Path,
              verify: bool) -> str | None:
    """Why the picked take has no video to regenerate (None: it has, downloaded and intact)."""
    run = "`shots run` makes it first"
    if draft is None or state is None:
        return f"no video yet: {run}"
    if draft.waiting or draft.problem:
        return f"no video yet (it waits for its inputs): {run}"
    if state.state != "downloaded":
        current = view.current(*draft.key)
        if current is not None and current.fingerprint != draft.fingerprint:
            return f"changed since its video was made: {run} again"
        return f"no video yet{'' if state.state == 'new' else f' ({state.state})'}: {run}"
    problem = store.check_intact(out_dir, state, verify)
    if problem is not None:
        return f"{problem}: `shots run` fetches it again first"
    if not state.task_id:
        return "its video has no task recorded to regenerate"
    return None


def finalize_plan(finals: Finals, view: LedgerView, out_dir: Path, *, endpoint: str, retry_failed: bool = False,
                  resubmit_uncertain: bool = False, verify: bool = False) -> Plan:
    """What a finalize run would do, by the plan's own rule (make_plan) over the finals' ledger
    entries, each final to create priced as a regeneration. Finals of earlier drafts whose task
    was paid but not fetched are followed (their video goes to history/)."""
    declared = [spec.key for spec in finals.specs] + finals.left_out
    plan = make_plan(finals.specs, only_finals(view), lambda state: store.check_intact(out_dir, state, verify),
                     retry_failed=retry_failed, resubmit_uncertain=resubmit_uncertain, declared=declared,
                     endpoint=endpoint)
    return Plan([_as_final(t) for t in plan.takes], [], earlier_finals(finals, view, endpoint))


def only_finals(view: LedgerView) -> LedgerView:
    """The finals' part of a ledger view (the drafts' are `shots run`'s)."""
    return replace(view, states={k: s for k, s in view.states.items() if is_final(k[0])},
                   latest={k: fp for k, fp in view.latest.items() if is_final(k[0])})


def earlier_finals(finals: Finals, view: LedgerView, endpoint: str) -> list[PlannedTake]:
    """Finals of earlier drafts (or of another pick) whose task was paid and never fetched: each
    followed to its video, which goes to history/ (make_plan's rule for a take's earlier
    versions, over the finals alone; a finals' shot --only leaves out is not this run's)."""
    wanted = {spec.key: spec.fingerprint for spec in finals.specs}
    left_out = set(finals.left_out)
    found = []
    for (shot, take, fp), state in sorted(view.states.items()):
        if is_final(shot) and state.state in PAID_UNFETCHED and (shot, take) not in left_out \
                and wanted.get((shot, take)) != fp and made_on(state, endpoint):
            spec = OrphanSpec(EarlierShot(shot, None, str((state.request or {}).get("model", ""))), take, fp,
                              state.request or {})
            if state.state == "succeeded":
                found.append(PlannedTake(spec, Action.DOWNLOAD, "an earlier final's paid video, not fetched yet: "
                                                                "it goes to history/", state, 0.0))
            else:
                found.append(PlannedTake(spec, Action.POLL, f"task {state.task_id} of an earlier final was paid for: "
                                                            f"its video goes to history/", state, 0.0))
    return found


def _as_final(planned: PlannedTake) -> PlannedTake:
    """A planned final: priced as a regeneration; a new draft's final said so."""
    if not planned.creates:
        return planned
    spec = planned.spec
    assert isinstance(spec, FinalSpec) and spec.draft is not None
    price = regeneration_price(spec.draft.shot)
    reason = planned.reason
    if planned.action == Action.REGENERATE:
        reason = f"its take was made again since its last final (task {spec.source_task_id})"
    return replace(planned, reason=reason, cost=price.usd, price_how=price.how)


def regeneration_price(shot: Any) -> catalogue.Price:
    """A final's price from its 768P draft `shot`: the requested seconds at the regeneration rate,
    plus the draft's inputs billed again as they were (images past the free ones, reference video
    seconds at the draft's rate; A8)."""
    rate = REGENERATION_PER_SECOND.get(shot.model)
    model = catalogue.MODELS.get(shot.model)
    rates = model.rates if model is not None else None
    if rate is None or rates is None or shot.duration is None:
        return catalogue.Price(None, None, f"no known price: no 2K regeneration price for {shot.model}"
                               + (" with no duration" if shot.duration is None else ""))
    parts = [f"{catalogue.usd(rate)}/s x {shot.duration} s (2K regeneration)"]
    total, bound = rate * shot.duration, False
    images = (sum(getattr(shot, f, None) is not None for f in ("first_frame_image", "last_frame_image"))
              + len(getattr(shot, "reference_images", ())))
    paid = max(0, images - rates.free_images)
    if paid:
        total += paid * rates.per_image
        parts.append(f"{paid} image{'s' if paid > 1 else ''} past {rates.free_images} free x "
                     f"{catalogue.usd(rates.per_image)} again")
    videos = tuple(getattr(shot, "reference_videos", ()))
    if videos:
        video_rate = rates.reference_video_per_second[shot.resolution]
        known = tuple(getattr(shot, "reference_video_seconds", ()))
        lengths = [known[i] if i < len(known) else None for i in range(len(videos))]
        seconds = math.ceil(round(sum(s for s in lengths if s is not None), 3))
        if None in lengths:  # a URL: at most what the API takes in all
            bound = True
            cap = catalogue.INPUT_LIMITS["v2"].media["video"].max_total_seconds or 0
            seconds = max(seconds, math.ceil(cap))
            parts.append(f"at most {seconds} s reference video x {catalogue.usd(video_rate)}/s again")
        else:
            parts.append(f"{seconds} s reference video x {catalogue.usd(video_rate)}/s again")
        total += seconds * video_rate
    total = round(total, 6)
    return catalogue.Price(total, "catalogue",
                           " + ".join(parts) + f" = {'at most ' if bound else ''}{catalogue.usd(total)} (catalogue rates)")


def final_file(out_dir: Path, shot: Shot, view: LedgerView, *, draft_fingerprint: str | None = None) -> Path | None:
    """The final of the shot's picked take, downloaded and intact, else None. It must be the
    final of the take's video as the ledger last has it (a take made again since has none yet);
    `draft_fingerprint`: also require that take to be this version of it (the manifest's now)."""
    take = picked_take(shot)
    draft = view.current(shot.id, take)
    final = view.current(final_id(shot.id), take)
    if draft is None or final is None or final.state != "downloaded" or not final.file:
        return None
    if draft_fingerprint is not None and draft.fingerprint != draft_fingerprint:
        return None
    source = (final.request or {}).get(request_regen.SOURCE)
    if not isinstance(source, dict) or source.get("fingerprint") != draft.fingerprint \
            or not draft.task_id or source.get("task_id") != draft.task_id:
        return None
    if store.check_intact(out_dir, final) is not None:
        return None
    return out_dir / final.file
