"""How `shots plan` shows the shot graph: the order shots are made in (a tree of the shots made
from other shots' outputs) and the cascade of an edit (a changed shot and the dependants made
again after it, with what that costs). Pure: strings out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from pipeline.manifest import graph
from pipeline.run.status import Action

if TYPE_CHECKING:
    from pipeline.manifest.models import Shot
    from pipeline.run.plan import Plan

_ROLE = {"first_frame_image": "first frame", "last_frame_image": "last frame", "subject_image": "subject"}


def order_lines(shots: Iterable[Shot]) -> list[str]:
    """The shots made from other shots, as a tree under the shots they start from; [] if none.
    A shot with several upstreams is drawn once, under the one made last, naming them all."""
    shots = list(shots)
    by_id = {s.id: s for s in shots}
    edges = graph.edges_of(shots)
    if not any(edges.values()):
        return []
    place = {s: i for i, s in enumerate(graph.order(edges))}
    parent = {s: max((u for u in ups if u in by_id), key=place.__getitem__, default=None) for s, ups in edges.items()}
    children: dict[str | None, list[str]] = {}
    for s in graph.order(edges):
        children.setdefault(parent[s], []).append(s)
    linked = {s for s, ups in edges.items() if ups} | {u for ups in edges.values() for u in ups}
    lines = ["order (each shot is made after the shots it takes a frame from):"]

    def draw(shot_id: str, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(f"  {prefix}{branch}{_node(by_id[shot_id], by_id)}")
        kids = children.get(shot_id, [])
        deeper = prefix + ("" if top else ("   " if last else "│  "))
        for i, kid in enumerate(kids):
            draw(kid, deeper, i == len(kids) - 1, False)

    for root in children.get(None, []):
        if root in linked:
            draw(root, "", True, True)
    alone = sum(1 for root in children.get(None, []) if root not in linked)
    if alone:
        lines.append(f"  and {alone} shot{'s' if alone > 1 else ''} made from no other shot")
    return lines


def _node(shot: Shot, by_id: dict[str, Shot]) -> str:
    refs = shot.frame_refs()
    kind = " (still)" if shot.is_still else ""
    if not refs:
        return shot.id + kind
    inputs = []
    for field, ref in refs:
        up = by_id.get(ref.shot)
        role = _ROLE.get(field, field.replace("_", " "))
        inputs.append(f"{role}: {ref.describe(up is not None and up.is_still)}")
    return f"{shot.id}{kind}  <- " + "; ".join(inputs)


def cascade_lines(plan: Plan, money: Callable[[float], str]) -> list[str]:
    """Each edited shot whose dependants are made again after it, and the whole cost:
    "cascade: s01 changed: it and 2 shots made from it (s02, s03) are made again, $0.84"; [] if none."""
    shots = {t.spec.shot.id: t.spec.shot for t in plan.takes}
    edges = graph.edges_of(shots.values())
    if not any(edges.values()):
        return []
    again = {t.spec.shot.id for t in plan.takes if t.action is Action.REGENERATE}
    lines = []
    for shot_id in graph.order(edges):
        if shot_id not in again or any(u in again for u in edges[shot_id]):
            continue  # not edited, or made again because of its own upstream: counted under that one
        down = [d for d in graph.downstream(edges, [shot_id]) if d in again]
        if not down:
            continue
        takes = [t for t in plan.takes if t.spec.shot.id in (shot_id, *down) and t.action is Action.REGENERATE]
        cost = money(sum(t.cost or 0.0 for t in takes))
        unknown = sum(1 for t in takes if t.cost is None)
        if unknown:
            cost += f" + {unknown} take{'s' if unknown > 1 else ''} of unknown price"
        names = ", ".join(down[:6]) + (f" and {len(down) - 6} more" if len(down) > 6 else "")
        lines.append(f"cascade: {shot_id} changed: it and {len(down)} shot{'s' if len(down) > 1 else ''} made "
                     f"from it ({names}) are made again, {cost}")
    return lines
