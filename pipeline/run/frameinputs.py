"""How the request builders meet an input that is another shot's output (a FrameRef): the frame
cut for it (run/chain.py resolves them), or, before its upstream is made, a placeholder that
names it. Shared by the three dialects' builders (request.py, request_v2.py, request_image.py).
"""

from __future__ import annotations

from typing import Callable, Mapping

from pipeline.manifest.models import FrameRef, upstream_take

# A dependant's inputs cut from its upstream takes: field -> the frame's file, the fields named as
# Shot.frame_refs names them ('first_frame_image', 'reference_images[1]').
Frames = Mapping[str, str]


def frame_source(ref: FrameRef) -> str:
    """An upstream output as the canonical request names it: 's01#1@last' (a still: 'kf-01#1')."""
    return f"{ref.shot}#{upstream_take(ref)}" + (f"@{ref.selector}" if ref.frame is not None else "")


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
        path = frames.get(field)
        if path is None:
            raise NoFrameYet(frame_source(value))
        return path
    return local(value)


def shown(value: str | FrameRef) -> str:
    """An input as messages name it: the path as written, or 'the last frame of s01'."""
    return value.describe() if isinstance(value, FrameRef) else value
