"""The rules between shots: an input that is another shot's output (a FrameRef, `{shot: s01,
frame: last}`) names a shot of this manifest, a frame that shot has and a take it makes, and no
shot waits for itself through a cycle (graph.find_cycle).

Each problem is one line at the FrameRef: at its `shot:` value (an unknown shot, a cycle), or at
its `frame:` or `take:` value. Only FrameRefs in fields the shot's mode takes are looked at, and
only those the schema took: the field rules and the schema report the others.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from pipeline.manifest import graph, lint
from pipeline.manifest.inputrules import TAKES
from pipeline.manifest.merging import merged
from pipeline.manifest.models import DURATION_MAX, IMAGE_FIELDS
from pipeline.manifest.problems import Problems
from pipeline.manifest.shotview import RuleContext, ShotView
from pipeline.manifest.words import did_you_mean
from pipeline.manifest.yamlpos import clip

FRAME_NAMES = ("first", "last")
TAKES_MAX = 100  # the schema's most takes of a shot
MAX_CYCLES = 10  # cycles reported in one check (each is found in time linear in the shots)
MAX_GUESSES = 100  # unknown ids given a did-you-mean (each costs a pass over every id)


@dataclass(frozen=True)
class Ref:
    """One FrameRef as written: where the mapping is (`at`: in the shot or in defaults), how
    messages name its field (`named`: as the shot's), and its keys."""

    at: tuple
    named: tuple
    shot: str
    frame: str | float | None
    take: int | None

    @property
    def in_defaults(self) -> bool:
        return self.at[0] == "defaults"


def check_chains(ctx: RuleContext, views: list[ShotView]) -> None:
    """Every FrameRef names a shot of the manifest, a frame and a take it has; then the cycles."""
    by_id: dict[str, ShotView] = {}
    for view in views:
        if view.id is not None:
            by_id.setdefault(view.id, view)  # a duplicate id: outputnames said so
    guesses = [MAX_GUESSES]
    edges: dict[str, list[str]] = {}
    refs: dict[str, list[Ref]] = {}
    for view in views:
        sid = view.id
        found = frame_refs(view)
        for ref in found:
            upstream = by_id.get(ref.shot)
            if upstream is None:
                _report(ctx, ref, "shot", _unknown(ref.shot, by_id, guesses))
                continue
            _check_frame(ctx, ref, upstream)
            _check_take(ctx, ref, upstream)
        if sid is not None and by_id[sid] is view:
            known = [r for r in found if r.shot in by_id] if found else found
            edges[sid] = list(dict.fromkeys(r.shot for r in known)) if known else []
            refs[sid] = known
    _check_cycles(ctx, edges, refs)


def leave_out_dependants(problems: Problems, broken: set[str], only: set[str]) -> set[str] | None:
    """A run limited to `only` leaves out the shots in `broken` for their errors: it leaves out
    every shot that takes an input from one too (directly or through others), each with an error
    at that input saying why. None if a chosen shot is among them (the run cannot go on)."""
    refs = _document_refs(problems.data)
    edges = {sid: list(dict.fromkeys(up for up, _, _ in found)) for sid, found in refs.items()}
    down = graph.dependants(edges)
    root: dict[str, str] = {}
    via: dict[str, str] = {}
    todo = deque(s for s in edges if s in broken)
    while todo:  # breadth first: each shot is named by its nearest broken upstream
        up = todo.popleft()
        for shot in down.get(up, ()):
            if shot not in broken and shot not in root:
                root[shot], via[shot] = root.get(up, up), up
                todo.append(shot)
    for shot in (s for s in edges if s in root):
        at, named = next((at, named) for up, at, named in refs[shot] if up == via[shot])
        through = "" if via[shot] == root[shot] else f" through {lint.show(via[shot])}"
        message = (f"{lint.show(root[shot])} has errors, and this shot takes an input from it{through}; "
                   f"fix {lint.show(root[shot])} first")
        problems.at_value((*at, "shot"), message + (" (set in defaults)" if at[0] == "defaults" else ""),
                          report_as=(*named, "shot"))
    return None if only & root.keys() else broken | root.keys()


def _document_refs(data: dict) -> dict[str, list[tuple[str, tuple, tuple]]]:
    """{shot id: [(the id a FrameRef names, where it is written, how it is named)]} of a document
    as read, whatever a check says of it (first shot of an id only)."""
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    shots = data.get("shots") if isinstance(data.get("shots"), list) else []
    out: dict[str, list[tuple[str, tuple, tuple]]] = {}
    for i, raw in enumerate(shots):
        if not isinstance(raw, dict) or not isinstance(sid := raw.get("id"), str) or sid in out:
            continue
        fields = merged(raw, defaults)
        mode = fields.get("mode")
        taken = TAKES.get(mode, ()) if isinstance(mode, str) else ()  # as frame_refs: the field rules say the rest
        here = ("shots", i)
        places = [(f, (*here, f) if f in raw else ("defaults", f), (*here, f)) for f in IMAGE_FIELDS if f in taken]
        found = [(fields.get(f), at, named) for f, at, named in places]
        items = fields.get("reference_images")
        if isinstance(items, list) and "reference_images" in taken:
            at = (*here, "reference_images") if "reference_images" in raw else ("defaults", "reference_images")
            found += [(v, (*at, j), (*here, "reference_images", j)) for j, v in enumerate(items)]
        out[sid] = [(v["shot"], at, named) for v, at, named in found
                    if isinstance(v, dict) and isinstance(v.get("shot"), str)]
    return out


def frame_refs(view: ShotView) -> list[Ref]:
    """The shot's FrameRefs that the schema took, in fields its mode takes, in the order sent."""
    taken = TAKES.get(view.mode) if view.mode is not None else None
    if not taken:
        return []
    out: list[Ref] = []
    merged = view.merged
    for f in IMAGE_FIELDS:
        if f in taken and type(merged.get(f)) is dict:
            ref = _ref(merged[f], view.src(f), (*view.here, f))
            if ref is not None:
                out.append(ref)
    items = merged.get("reference_images") if "reference_images" in taken else None
    if type(items) is list and any(type(item) is dict for item in items):
        where = view.src("reference_images")
        for i, item in enumerate(items):
            ref = _ref(item, (*where, i), (*view.here, "reference_images", i))
            if ref is not None:
                out.append(ref)
    return out


def _ref(value: object, at: tuple, named: tuple) -> Ref | None:
    """A FrameRef the schema takes (else None: it is no FrameRef, or the schema reported it)."""
    if not isinstance(value, dict) or not value.keys() <= {"shot", "frame", "take"}:
        return None
    shot, frame, take = value.get("shot"), value.get("frame"), value.get("take")
    if not isinstance(shot, str) or not shot:
        return None
    if "frame" in value and not (frame in FRAME_NAMES if isinstance(frame, str) else _seconds(frame)):
        return None
    if "take" in value:
        if type(take) is float and take.is_integer():
            take = int(take)  # 2.0 is a whole number to the schema (and to the built FrameRef)
        if not (type(take) is int and 1 <= take <= TAKES_MAX):
            return None
    return Ref(at, named, shot, frame, take)


def _seconds(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and value >= 0  # type: ignore[arg-type]


def _report(ctx: RuleContext, ref: Ref, key: str, message: str) -> None:
    if ref.in_defaults:
        message += " (set in defaults)"
    ctx.problems.at_value((*ref.at, key), message, report_as=(*ref.named, key))


def _unknown(name: str, by_id: dict[str, ShotView], guesses: list[int]) -> str:
    shown = lint.show(clip(name))
    guess = None
    if guesses[0] > 0:
        guesses[0] -= 1
        guess = did_you_mean(name, by_id)
    if guess is not None:
        return f"no shot '{shown}' in this manifest; did you mean '{lint.show(guess)}'?"
    return f"no shot '{shown}' in this manifest; name the id of the shot whose output this is"


def _check_frame(ctx: RuleContext, ref: Ref, upstream: ShotView) -> None:
    """A still is used whole (no frame); a time is within the video shot's duration."""
    if upstream.mode is None:
        return  # the upstream's own error says what it is
    name = lint.show(ref.shot)
    if upstream.is_still:
        if ref.frame is not None:
            _report(ctx, ref, "frame", f"{name} is a still (mode image): drop frame")
        return
    if isinstance(ref.frame, (int, float)):
        duration = duration_of(upstream)
        if duration is not None and ref.frame >= duration:
            _report(ctx, ref, "frame", f"{name} is {duration} s long, so it has no frame at {ref.frame:g} s; use a "
                                       f"time under {duration} s, or frame: last")


def duration_of(view: ShotView) -> int | None:
    """The video shot's duration in seconds as it is sent (its own, the defaults', the model's);
    None when the API decides it (the 01-series, S2V-01) or it is not known."""
    model = view.model
    if model is not None and not model.sends_duration_resolution:
        return None
    default = model.default_duration if model is not None else None
    duration = view.merged.get("duration", default)
    if type(duration) is int and 1 <= duration <= DURATION_MAX:
        return duration
    return None


def _check_take(ctx: RuleContext, ref: Ref, upstream: ShotView) -> None:
    """The upstream makes the take named."""
    count = upstream.merged.get("takes", 1)
    if ref.take is None or type(count) is not int or not 1 <= count <= TAKES_MAX or ref.take <= count:
        return
    name = lint.show(ref.shot)
    if count == 1:
        fix = f"drop take, or give {name} takes: {ref.take}"
    else:
        fix = f"use take 1 to {count}, or give {name} takes: {ref.take}"
    _report(ctx, ref, "take", f"{name} has {count} take{'s' if count > 1 else ''}, so no take {ref.take}; {fix}")


def _check_cycles(ctx: RuleContext, edges: dict[str, list[str]], refs: dict[str, list[Ref]]) -> None:
    """Each cycle once, named whole in the order outputs flow ('s01 -> s02 -> s03 -> s01'), at the
    input of its first shot in the manifest that closes it."""
    if not any(edges.values()):
        return  # no shot takes another's output
    index = {sid: i for i, sid in enumerate(edges)}  # manifest order
    edges = dict(edges)
    for _ in range(MAX_CYCLES):
        cycle = graph.find_cycle(edges)
        if cycle is None:
            return
        waits = cycle[:-1]  # each shot takes the next one's output
        first = min(waits, key=index.__getitem__)
        start = waits.index(first)
        upstream = waits[(start + 1) % len(waits)]
        flow = [waits[(start - k) % len(waits)] for k in range(len(waits))] + [first]
        shown = " -> ".join(lint.show(s) for s in flow)
        what = "the shot takes its own output" if len(waits) == 1 else \
            "each shot takes the output of the one before it, so none can be made first"
        ref = next(r for r in refs[first] if r.shot == upstream)
        _report(ctx, ref, "shot", f"a cycle: {shown} ({what}); take this input from a file or a shot outside it")
        for shot in waits:
            edges.pop(shot, None)
