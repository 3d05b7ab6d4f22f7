"""How the request builders meet an input that is another shot's output (a FrameRef): the frame
cut for it (run/chain.py resolves them), or, before its upstream is made, a placeholder that
names it. Shared by the three dialects' builders (request.py, request_v2.py, request_image.py).
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

from pipeline.manifest.models import FrameRef, Shot, upstream_take


class FrameInput(NamedTuple):
    """One input cut (or copied) from an upstream take: the file sent, and what the canonical
    request (so the fingerprint) holds for it."""

    path: str
    identity: str


# A dependant's inputs from its upstream takes: field -> FrameInput, the fields named as
# Shot.frame_refs names them ('first_frame_image', 'reference_images[1]').
Frames = Mapping[str, FrameInput]


def frame_identity(upstream_sha256: str, ref: FrameRef, still: bool) -> str:
    """The exact input, named by content: a still is sent whole, so its own hash
    ("sha256:<hex>", as any local image); a video's frame is a pure function of the video's bytes
    and which frame, so "frame:sha256:<video's hex>@last". Not the cut PNG's bytes: an encoder
    of another build may write other bytes for the same picture, and a resume on another machine
    must not take that for an upstream change (and pay for the chain again)."""
    if still:
        return f"sha256:{upstream_sha256}"
    return f"frame:sha256:{upstream_sha256}@{ref.selector}"


def canonical_frame(field: str, ref: FrameRef, frames: Frames, upstream: Shot | None = None) -> str:
    """What the canonical request holds for a FrameRef: its identity once resolved, else a
    placeholder naming the upstream take ("frame:s01#1@last": not made yet; `upstream`, the
    upstream Shot, decides the take when the reference names none: its pick)."""
    found = frames.get(field)
    return found.identity if found is not None else NoFrameYet(frame_source(ref, upstream)).placeholder


def frame_source(ref: FrameRef, upstream: Shot | None = None) -> str:
    """An upstream output as the canonical request names it: 's01#1@last' (a still: 'kf-01#1').
    The take is the one the reference names, else `upstream`'s pick; without `upstream`, take 1."""
    return f"{ref.shot}#{upstream_take(ref, upstream)}" + (f"@{ref.selector}" if ref.frame is not None else "")


class NoFrameYet(Exception):
    """A FrameRef whose upstream is not made yet: its canonical value is a placeholder."""

    @property
    def placeholder(self) -> str:
        return f"frame:{self.args[0]}"


def local_or_frame(field: str, value: str | FrameRef, frames: Frames,
                   local: Callable[[str], str | None]) -> str | None:
    """The file behind an input: the frame cut for it (a FrameRef; NoFrameYet when there is none
    yet), else `local(value)` (None: a URL, sent as it is)."""
    if isinstance(value, FrameRef):
        found = frames.get(field)
        if found is None:
            raise NoFrameYet(frame_source(value))
        return found.path
    return local(value)


def shown(value: str | FrameRef) -> str:
    """An input as messages name it: the path as written, or 'the last frame of s01'."""
    return value.describe() if isinstance(value, FrameRef) else value
