"""What the ledger says of one take, decided once: `classify` is the rule the plan, the runner,
the contact sheet, the reel and `shots status` all read.

The ledger's state for the take's current fingerprint (DESIGN.md, "The ledger") gives its
standing: downloaded and intact -> done; downloaded, video missing or changed -> damaged;
succeeded -> generated; a task id known -> generating; failed for good; sent but answer lost ->
uncertain; nothing known, but the take was last worked on under another fingerprint -> changed
(or, when that one was made on another endpoint, elsewhere); else new. The standing decides the
plan's action (given --retry-failed and --resubmit-uncertain), the runner's starting outcome
and the views' status; the plan's words for why are `TakeStatus.reason`, and a view that words
it otherwise keeps its own phrases, keyed by the standing.
"""

from __future__ import annotations

import enum
import time
from typing import TYPE_CHECKING, Any, Callable, Literal, NamedTuple

from pipeline.minimax import catalogue
from pipeline.run import request
from pipeline.run.ledger import LedgerView, TakeState
from pipeline.run.reconcile import LISTED_FOR

if TYPE_CHECKING:
    from pipeline.run.plan import TakeSpec
    from pipeline.run.result import Outcome

__all__ = ["Action", "Standing", "Status", "TakeStatus", "classify", "made_on", "CREATES", "SKIPS", "BILLED_MAY_EXIST",
           "uncertain_why"]


class Action(enum.StrEnum):
    """What a run does with a take. The value is the plan's word for it: shown by `shots plan`,
    printed by --json, compared by users' scripts; an Action equals its word as a string."""

    SUBMIT = "submit"
    REGENERATE = "changed: regenerate"
    RETRY_FAILED = "retry failed"
    RESUBMIT_UNCERTAIN = "resubmit uncertain"
    LOOK_UP = "look up lost task"  # v2: find the lost create's task in the task list; submit if none
    POLL = "poll existing task"
    DOWNLOAD = "download only"
    UP_TO_DATE = "up to date"
    FAILED_SKIPPED = "failed: skipped"
    UNCERTAIN_SKIPPED = "uncertain: skipped"
    BLOCKED = "blocked"  # an upstream shot failed, or its frame cannot be used: never submitted

    @property
    def label(self) -> str:
        return self.value

    @property
    def creates(self) -> bool:
        """A new task is created (and paid for)."""
        return self in CREATES

    @property
    def skips(self) -> bool:
        """A run leaves the take as it is."""
        return self in SKIPS

    @property
    def outcome(self) -> Outcome:
        """The take's result before a run works on it: what a skipped take ends as."""
        return _OUTCOME.get(self, "pending")


CREATES: frozenset[Action] = frozenset(
    {Action.SUBMIT, Action.REGENERATE, Action.RETRY_FAILED, Action.RESUBMIT_UNCERTAIN, Action.LOOK_UP})
SKIPS: frozenset[Action] = frozenset({Action.UP_TO_DATE, Action.FAILED_SKIPPED, Action.UNCERTAIN_SKIPPED,
                                      Action.BLOCKED})
_OUTCOME: dict[Action, Outcome] = {
    Action.UP_TO_DATE: "done", Action.FAILED_SKIPPED: "failed", Action.UNCERTAIN_SKIPPED: "uncertain"}


class Standing(enum.Enum):
    """What the ledger says of a take under its current fingerprint."""

    DONE = "done"  # downloaded, the video as recorded
    DAMAGED = "damaged"  # downloaded, but the video is missing or changed: fetched again, no new charge
    GENERATED = "generated"  # the task succeeded; its video is not downloaded yet
    GENERATING = "generating"  # a task exists: follow it, never create it twice
    FAILED = "failed"  # failed for good
    UNCERTAIN = "uncertain"  # a create was sent and its answer lost: a billed task may exist
    CHANGED = "changed"  # nothing yet; the take was last worked on under another fingerprint
    ELSEWHERE = "elsewhere"  # as CHANGED, but that fingerprint was made on another endpoint
    NEW = "new"  # nothing known


Status = Literal["done", "failed", "uncertain", "pending", "changed"]  # the views' word for a take
_STATUS: dict[Standing, Status] = {
    Standing.DONE: "done", Standing.DAMAGED: "pending", Standing.GENERATED: "pending",
    Standing.GENERATING: "pending", Standing.FAILED: "failed", Standing.UNCERTAIN: "uncertain",
    Standing.CHANGED: "changed", Standing.ELSEWHERE: "changed", Standing.NEW: "pending",
}


class TakeStatus(NamedTuple):
    """A take's standing, the action a run takes on it, and the plan's words for why."""

    standing: Standing
    action: Action
    reason: str
    state: TakeState  # the ledger's state under the take's current fingerprint
    problem: str | None = None  # DAMAGED: what is wrong with the video

    @property
    def status(self) -> Status:
        return _STATUS[self.standing]

    @property
    def changed(self) -> bool:
        """Nothing under this fingerprint, but the take was made under another one."""
        return self.standing is Standing.CHANGED or self.standing is Standing.ELSEWHERE

    @property
    def billed(self) -> bool:
        """A task was created and generated: its price counts as spent."""
        return self.standing in _GENERATED


_GENERATED = frozenset({Standing.DONE, Standing.DAMAGED, Standing.GENERATED})


def classify(
    spec: TakeSpec,
    view: LedgerView,
    intact: Callable[[TakeState], str | None] | None = None,
    *,
    retry_failed: bool = False,
    resubmit_uncertain: bool = False,
    endpoint: str | None = None,
) -> TakeStatus:
    """The take's status. Pure: `intact(state)` says what is wrong with a downloaded video (None:
    fine); without it the ledger is taken at its word. `endpoint`: the fingerprints' endpoint, to
    tell a take made elsewhere (submit) from a take whose shot changed (regenerate)."""
    if spec.waits_for or spec.problem:
        return _dependant(spec, view, endpoint)
    state = view.get(*spec.ledger_key)
    kind = state.state
    if kind == "downloaded":
        problem = intact(state) if intact is not None else None
        if problem is None:
            return TakeStatus(_DONE, _UP_TO_DATE, spec.kept or f"downloaded {state.file}", state)
        if spec.shot.is_still:  # the image API keeps nothing to fetch again
            return TakeStatus(Standing.DAMAGED, Action.SUBMIT, f"{problem}; a still cannot be fetched again, "
                                                               f"so a new one is made", state, problem)
        return TakeStatus(Standing.DAMAGED, Action.DOWNLOAD,
                          f"{problem}; the task's file is fetched again (no new charge)", state, problem)
    if kind == "succeeded":
        return TakeStatus(Standing.GENERATED, Action.DOWNLOAD, "generated but not downloaded yet (no new charge)",
                          state)
    if kind == "submitted":
        how = "found in the task list after its create answer was lost" if state.adopted else "already created"
        return TakeStatus(Standing.GENERATING, Action.POLL, f"task {state.task_id} {how}; never create it twice",
                          state)
    if kind == "failed":
        if retry_failed:
            return TakeStatus(Standing.FAILED, Action.RETRY_FAILED,
                              f"failed before ({state.reason}); --retry-failed creates it again", state)
        return TakeStatus(Standing.FAILED, Action.FAILED_SKIPPED, f"{state.reason} (--retry-failed to try again)",
                          state)
    if kind in ("uncertain", "intent"):
        why = uncertain_why(state)
        if resubmit_uncertain:
            return TakeStatus(Standing.UNCERTAIN, Action.RESUBMIT_UNCERTAIN,
                              f"{why}; --resubmit-uncertain creates it again (may pay twice)", state)
        if listable(state):
            return TakeStatus(Standing.UNCERTAIN, Action.LOOK_UP, (
                f"{why}; the run looks for its task in the v2 task list: followed if found "
                f"(never paid twice), created again if the list shows none"), state)
        if spec.shot.is_still:  # no task to look up: the answer was the picture
            return TakeStatus(Standing.UNCERTAIN, Action.UNCERTAIN_SKIPPED, (
                f"{why}; the still may have been made and billed, and its answer (the picture) is lost. "
                f"--resubmit-uncertain asks for it again"), state)
        return TakeStatus(Standing.UNCERTAIN, Action.UNCERTAIN_SKIPPED, (
            f"{why}; {BILLED_MAY_EXIST}. Check the MiniMax console, then run with "
            f"--resubmit-uncertain to create it again"), state)
    return _not_begun(spec, state, view.current(spec.shot.id, spec.take), endpoint)


# A resume's common case, looked up once: on Python 3.11 each enum member lookup costs 0.2 us.
_DONE, _UP_TO_DATE = Standing.DONE, Action.UP_TO_DATE


def _not_begun(spec: TakeSpec, state: TakeState, previous: TakeState | None, endpoint: str | None) -> TakeStatus:
    """Nothing under this fingerprint: new, or changed since `previous` (the take's last fingerprint)."""
    if previous is None or previous.fingerprint == spec.fingerprint:
        return TakeStatus(Standing.NEW, Action.SUBMIT, "not run before", state)
    if endpoint is not None and previous.request is not None and not made_on(previous, endpoint):
        return TakeStatus(Standing.ELSEWHERE, Action.SUBMIT,
                          "not made on this endpoint before (the take on disk came from another one)", state)
    return TakeStatus(Standing.CHANGED, Action.REGENERATE, _what_changed(previous.request, spec.request), state)


def _dependant(spec: TakeSpec, view: LedgerView, endpoint: str | None) -> TakeStatus:
    """A dependant not resolved yet: created after its upstream takes (new, or again because an
    upstream or the shot changed), or blocked by a frame that cannot be used."""
    state = view.get(*spec.ledger_key)  # never written under a waiting fingerprint: 'new'
    if spec.problem:
        return TakeStatus(Standing.NEW, Action.BLOCKED, f"{BLOCKED}{spec.problem}", state)
    after = "after " + ", ".join(label(k) for k in spec.waits_for)
    previous = view.current(spec.shot.id, spec.take)
    if previous is None:
        return TakeStatus(Standing.NEW, Action.SUBMIT, f"{after} (not run before)", state)
    if endpoint is not None and previous.request is not None and not made_on(previous, endpoint):
        return TakeStatus(Standing.ELSEWHERE, Action.SUBMIT, f"{after} (not made on this endpoint before)", state)
    return TakeStatus(Standing.CHANGED, Action.REGENERATE, f"{_what_changed(previous.request, spec.request)}; {after}",
                      state)


def label(key: tuple[str, int]) -> str:
    """An upstream take as the plan names it: 's01', 's01 take 2'."""
    return key[0] if key[1] == 1 else f"{key[0]} take {key[1]}"


def made_on(state: TakeState, endpoint: str | None) -> bool:
    """Whether a take's task was made on this endpoint (its recorded request fingerprints the same
    there): only there can it be asked for; the simulator does not know the real API's tasks."""
    return endpoint is not None and state.request is not None and \
        request.fingerprint(state.request, endpoint) == state.fingerprint


def listable(state: TakeState, now: float | None = None) -> bool:
    """Whether a lost create can be looked up: a v2 task whose intent the ledger dates, recent
    enough that the list (every task of the last 7 days) would still show it."""
    model = (state.request or {}).get("model")
    if state.intent_at is None or not isinstance(model, str) or catalogue.api_of(model) != "v2":
        return False
    return (time.time() if now is None else now) - state.intent_at < LISTED_FOR


BILLED_MAY_EXIST = "a billed task may exist"
BLOCKED = "blocked: "  # how a blocked take's reason (and its result's detail) begins: never sent, made later


def uncertain_why(state: TakeState) -> str:
    """Why a take is uncertain, without the warning every view adds after it (said once)."""
    why = state.reason or "the run stopped while its create was in flight"
    return why.replace(f"; {BILLED_MAY_EXIST}", "").replace(f", {BILLED_MAY_EXIST}", "")


def _what_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "the shot or the endpoint changed since the last run"
    keys = sorted(_MANIFEST_NAME.get(k, k) for k in set(old) | set(new) if old.get(k) != new.get(k))
    if not keys:
        return "the endpoint changed since the last run"
    upstream = _upstream_changed(old, new)
    if upstream:
        return f"upstream {upstream} changed"
    return "changed since the last run: " + ", ".join(keys)


# A request key as the manifest names the field behind it.
_MANIFEST_NAME = {"subject_reference": "subject_image", "extra": "prompt_expansion", "content": "prompt or inputs",
                  request.INPUTS_FROM: "an input from another shot"}


def only_upstream_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two requests of a take differ only in what it takes from other shots: the same
    inputs from the same shots and frames, whose content (an upstream made again) or take (an
    upstream's pick) changed; not the shot's own edit of what it takes."""
    before, after = old.get(request.INPUTS_FROM) or {}, new.get(request.INPUTS_FROM) or {}
    if not after or old == new or set(before) != set(after):
        return False
    if any(_without_take(before[f]) != _without_take(after[f]) for f in after):
        return False
    strip = {request.INPUTS_FROM: None}
    return {**_masked(old, after), **strip} == {**_masked(new, after), **strip}


def _without_take(source: str) -> str:
    """'s01#2@last' -> 's01@last': which shot and frame, whatever the take."""
    shot, _, rest = source.partition("#")
    return shot + ("@" + rest.partition("@")[2] if "@" in rest else "")


def _upstream_changed(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """'s01' (or 's01, kf-01') when the requests differ only in inputs taken from the same
    upstream outputs (made again since); names only the upstreams whose input changed."""
    sources = new.get(request.INPUTS_FROM)
    if not sources or old.get(request.INPUTS_FROM) != sources:
        return None
    if _masked(old, sources) != _masked(new, sources):
        return None
    before, after = _inputs(old, sources), _inputs(new, sources)
    changed = [src for field, src in sources.items() if before.get(field) != after.get(field)] or list(sources.values())
    return ", ".join(dict.fromkeys(source.split("#")[0] for source in changed))


def inputs_of(canonical: dict[str, Any]) -> dict[str, str]:
    """Each input a canonical request takes from another shot: field -> its identity (the
    'frame:sha256:...' or 'sha256:...' it was fingerprinted with)."""
    sources = canonical.get(request.INPUTS_FROM) or {}
    out = {}
    for field, value in _inputs(canonical, sources).items():
        if isinstance(value, dict) and "type" in value:  # a v2 content item
            value = (value.get(value["type"]) or {}).get("url")
        elif isinstance(value, list) and value and isinstance(value[0], dict):  # a subject reference
            ref = value[0]
            value = ref.get("image_file") or (ref.get("image") or [None])[0]
        if isinstance(value, str):
            out[field] = value
    return out


def _inputs(canonical: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
    """Each upstream input's value in a canonical request: v1's and the image API's fields, v2's
    `content` items by role and place."""
    found: dict[str, Any] = {}
    for field in sources:
        if field in canonical:
            found[field] = canonical[field]
    if "subject_image" in sources:
        found["subject_image"] = canonical.get("subject_reference")
    if isinstance(canonical.get("content"), list):
        places: dict[tuple[Any, int], str] = {}
        for field in sources:
            name, _, index = field.partition("[")
            places[(_ROLES.get(name), int(index.rstrip("]")) if index else 0)] = field
        seen: dict[Any, int] = {}
        for item in canonical["content"]:
            role = item.get("role") if isinstance(item, dict) else None
            place = seen[role] = seen.get(role, -1) + 1
            if (role, place) in places:
                found[places[(role, place)]] = item
    return found


_ROLES = {"first_frame_image": "first_frame", "last_frame_image": "last_frame", "reference_images": "reference_image"}


def _masked(canonical: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
    """The request with the inputs cut from other shots blanked out: v1's and the image API's
    fields, v2's `content` items by role and place."""
    out = dict(canonical)
    for field in sources:
        if field in out:
            out[field] = "*"
    if "subject_image" in sources and "subject_reference" in out:
        out["subject_reference"] = "*"
    if isinstance(out.get("content"), list):
        wanted = set()
        for field in sources:
            name, _, index = field.partition("[")
            wanted.add((_ROLES.get(name), int(index.rstrip("]")) if index else 0))
        seen: dict[str, int] = {}
        content = []
        for item in out["content"]:
            role = item.get("role") if isinstance(item, dict) else None
            place = seen[role] = seen.get(role, -1) + 1
            content.append("*" if (role, place) in wanted else item)
        out["content"] = content
    return out
