"""Shots made from other shots' outputs: a dependant's inputs resolved to frames cut from its
upstream takes (run/frames.py), once those takes are on disk and verified.

The plan resolves what the ledger already has; the runner resolves the rest as upstream takes
finish. Either way one function decides: `resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from pipeline.manifest.models import FrameRef, Shot, upstream_take
from pipeline.minimax import catalogue
from pipeline.run.frameinputs import FrameInput, frame_identity

if TYPE_CHECKING:
    from pipeline.run.frames import FrameStore

Key = tuple[str, int]  # (shot id, take)
# An upstream take's output as the ledger records it, (file, sha256, intact now), or None while it
# is not made. Its sha256 alone decides a dependant's fingerprint; its file, to cut a frame from.
Finished = Callable[[Key], "tuple[Path, str, bool] | None"]


@dataclass(frozen=True)
class Resolution:
    """A dependant's inputs: the frames cut for it, the upstream takes it still waits for, or why
    a frame cannot be used."""

    inputs: dict[str, FrameInput]
    waits_for: tuple[Key, ...] = ()
    problem: str | None = None


def upstream_key(ref: FrameRef, upstream: Shot | None = None) -> Key:
    """The upstream take a reference means: the take it names, else `upstream`'s pick."""
    return (ref.shot, upstream_take(ref, upstream))


def resolve(shot: Shot, shots: Mapping[str, Shot], finished: Finished | None,
            frames: "FrameStore | None") -> Resolution:
    """The shot's FrameRefs resolved: each upstream take finished -> its frame, cut (or found
    cut) and checked against the API's image rules for this shot. `shots` by id (whether an
    upstream is a still); `finished` None (or no `frames`): every upstream is waited for."""
    from pipeline.run.frames import FrameError, image_problem

    inputs: dict[str, str] = {}
    waits: list[Key] = []
    for field, ref in shot.frame_refs():
        up = shots.get(ref.shot)
        key = upstream_key(ref, up)
        output = finished(key) if (up is not None and finished is not None and frames is not None) else None
        if output is None:
            waits.append(key)
            continue
        path, sha256, intact = output
        still = up.is_still
        if not intact and not frames.path_for(path, sha256, ref.frame, still=still).exists():
            waits.append(key)  # its file is missing or damaged and nothing was cut from it: fetched again first
            continue
        try:
            frame = frames.frame_of(path, sha256, ref.frame, still=still)
        except FrameError as exc:
            return Resolution(inputs, tuple(dict.fromkeys(waits)), f"{ref.describe(still)}: {exc}")
        problem = image_problem(frame, api_of(shot), ref.describe(still))
        if problem is not None:
            return Resolution(inputs, tuple(dict.fromkeys(waits)), f"{problem} (as {field})")
        inputs[field] = FrameInput(str(frame), frame_identity(sha256, ref, still))
    return Resolution(inputs, tuple(dict.fromkeys(waits)))


def api_of(shot: Shot) -> str:
    """Which API's image rules a shot's inputs meet: 'image' (an image shot's subject), 'v1', 'v2'."""
    return "image" if shot.is_still else catalogue.api_of(shot.model)


def kept_inputs(canonical: dict, frames: "FrameStore") -> "tuple[tuple[str, FrameInput], ...] | None":
    """The frames an earlier version of a dependant was made from, found again in frames/ by the
    identities its request recorded; None when one is gone (or a still's copy was never kept)."""
    from pipeline.manifest import takes as naming
    from pipeline.run import request as requests, status

    sources = canonical.get(requests.INPUTS_FROM) or {}
    found = []
    for field, identity in status.inputs_of(canonical).items():
        shot, _, rest = sources.get(field, "").partition("#")
        take = int(rest.partition("@")[0] or 1)
        stem = naming.stem(shot, take)
        if identity.startswith("frame:sha256:"):
            sha, _, selector = identity.removeprefix("frame:sha256:").partition("@")
            name = f"{stem}.{selector}.{sha[:16]}.png"
        elif identity.startswith("sha256:"):
            sha = identity.removeprefix("sha256:")
            name = f"{stem}.{sha[:16]}{naming.STILL_SUFFIX}"
        else:
            return None
        path = frames.folder / name
        if not path.is_file():
            return None
        found.append((field, FrameInput(str(path), identity)))
    return tuple(sorted(found))
