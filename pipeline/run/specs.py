"""The takes a manifest declares, each with its canonical request and fingerprint.

A shot whose input is another shot's output (a dependant) is fingerprinted with the frame cut
from its upstream take once that take is finished (`finished`, run/chain.py); until then it
waits for it. Shots are taken in the graph's order (manifest/graph.py) so that an upstream's
fingerprint is known before its dependants'.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pipeline.errors import InputError
from pipeline.manifest import graph
from pipeline.run import chain, request, status, store
from pipeline.run.plan import PENDING, TakeSpec

if TYPE_CHECKING:
    from pipeline.manifest.models import Manifest, Shot
    from pipeline.run.frames import FrameStore
    from pipeline.run.ledger import LedgerView


SpecFinished = Callable[[TakeSpec], "tuple[Path, str, bool] | None"]  # see chain.Finished


def take_specs(manifest: Manifest, endpoint: str, only: Iterable[str] | None = None, *,
               finished: SpecFinished | None = None, frames: FrameStore | None = None,
               keep: Callable[[TakeSpec], TakeSpec] | None = None) -> list[TakeSpec]:
    """Every take the manifest declares (or the --only ones), with its request and fingerprint,
    in manifest order. Dependants are resolved against `finished` (upstream takes on disk, their
    frames cut into `frames`); without them, every dependant waits. `keep` may give a dependant
    its earlier version instead (an approved shot: see `resolved_specs`); its own dependants are
    then made from that."""
    wanted = _check_only(manifest, only)
    if not any(shot.frame_refs() for shot in manifest.shots):  # the common case: no graph
        return [spec for shot in manifest.shots if wanted is None or shot.id in wanted
                for spec in shot_specs(manifest, shot, endpoint)]
    by_id = {shot.id: shot for shot in manifest.shots}
    made: dict[chain.Key, TakeSpec] = {}

    def upstream_done(key: chain.Key) -> tuple[Path, str, bool] | None:
        spec = made.get(key)
        return None if finished is None or spec is None or spec.waiting or spec.problem else finished(spec)

    for shot_id in graph.order(graph.edges_of(manifest.shots)):
        for spec in shot_specs(manifest, by_id[shot_id], endpoint, by_id, upstream_done, frames):
            made[spec.key] = keep(spec) if keep is not None and spec.shot.frame_refs() else spec
    return [made[(shot.id, take)] for shot in manifest.shots if wanted is None or shot.id in wanted
            for take in range(1, shot.takes + 1)]


def resolved_specs(manifest: Manifest, endpoint: str, out_dir: Path, view: LedgerView,
                   only: Iterable[str] | None = None, *, force: bool = False) -> list[TakeSpec]:
    """`take_specs` with dependants resolved against what the output folder holds: an upstream
    take downloaded (under its current fingerprint) gives its frame, cut into frames/ (or found
    there, cut by an earlier run: then its file need not be intact). What the plan, the views and
    the lock file all use.

    An approved shot (`status: approved`) is never made again because a shot it is made from
    changed: it keeps its video (and its dependants theirs), unless `force`."""
    if not any(shot.frame_refs() for shot in manifest.shots):
        return take_specs(manifest, endpoint, only)
    from pipeline.run.frames import FrameStore

    def finished(spec: TakeSpec) -> tuple[Path, str, bool] | None:
        state = view.get(*spec.ledger_key)
        if state.state != "downloaded" or not state.sha256 or not state.file:
            return None
        return out_dir / state.file, state.sha256, store.check_intact(out_dir, state) is None

    frames = FrameStore(out_dir)

    def keep(spec: TakeSpec) -> TakeSpec:
        if force:
            return spec
        return kept_if_approved(spec, view, lambda state: store.check_intact(out_dir, state), endpoint, frames)

    return take_specs(manifest, endpoint, only, finished=finished, frames=frames, keep=keep)


def kept_if_approved(spec: TakeSpec, view: LedgerView, intact: Callable[[Any], str | None], endpoint: str,
                     frames: FrameStore) -> TakeSpec:
    """An approved dependant whose upstream changed keeps the version it was approved as: that
    version's spec (its fingerprint, request and the frames it was made from), when that version
    was made on this endpoint (a simulator previz never stands for the API's video), its video is
    on disk and intact, and only what it takes from the same other shots differs."""
    if getattr(spec.shot, "status", None) != "approved" or view.get(*spec.ledger_key).state != "new":
        return spec
    previous = view.current(spec.shot.id, spec.take)
    if previous is None or previous.state != "downloaded" or previous.request is None \
            or not status.made_on(previous, endpoint) or intact(previous) is not None \
            or not status.only_upstream_changed(previous.request, spec.request):
        return spec
    inputs = chain.kept_inputs(previous.request, frames)
    if inputs is None:  # a frame it was made from is gone from frames/: it cannot be sent again
        return spec
    return replace(spec, fingerprint=previous.fingerprint, request=previous.request, waits_for=(), inputs=inputs,
                   problem=None, kept="approved: kept as approved although what it is made from changed "
                                      "(--force makes it again)")


def shot_specs(manifest: Manifest, shot: Shot, endpoint: str, shots: dict[str, Shot] | None = None,
               finished: chain.Finished | None = None, frames: FrameStore | None = None) -> list[TakeSpec]:
    """One shot's takes. A dependant's inputs are resolved against `finished` upstream takes
    (`shots`: the manifest's by id)."""
    if not shot.frame_refs():
        canonical = request.canonical_request(shot, manifest.dir)
        fp = request.fingerprint(canonical, endpoint)
        return [TakeSpec(shot, take, fp, canonical) for take in range(1, shot.takes + 1)]
    found = chain.resolve(shot, shots or {}, finished, frames)
    canonical = request.canonical_request(shot, manifest.dir, found.inputs, shots)
    fp = request.fingerprint(canonical, endpoint)
    if found.waits_for or found.problem:
        fp = PENDING + fp
    inputs = tuple(sorted(found.inputs.items()))
    return [TakeSpec(shot, take, fp, canonical, found.waits_for, inputs, found.problem)
            for take in range(1, shot.takes + 1)]


def _check_only(manifest: Manifest, only: Iterable[str] | None) -> set[str] | None:
    if not only:
        return None
    ids = [s.id for s in manifest.shots]
    wanted = set(only)
    for name in sorted(wanted - set(ids)):
        close = difflib.get_close_matches(name, ids, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise InputError(f"--only: no shot '{name}' in {manifest.path}{hint}")
    return wanted
