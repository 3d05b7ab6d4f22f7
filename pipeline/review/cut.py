"""The cut: which take of each shot is in it, and where each shot sits on its timeline.

One rule for the reel (reel.mp4, reel.srt) and the contact sheet's in/out timecodes, so that
the two always agree: every video shot in manifest order (`in_cut`: a still is not footage),
for as long as its chosen take's video really lasts (probed when it was downloaded: a "6 s"
MiniMax-H3 clip is 158 frames, 6.58 s), or for its planned duration while it has no video;
boundaries rounded to the frame from the cumulative time, so the cut's length is the sum of
those lengths to the frame however many shots there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Protocol

from pipeline.manifest.models import picked_take

if TYPE_CHECKING:
    from pipeline.manifest.models import Shot

FPS = 24  # the reel's frame rate: timecodes count its frames
DEFAULT_SECONDS = 6  # a shot that leaves its duration to an uncatalogued model: the API's default
CHOSEN_TAKE = 1  # the take in the cut when the manifest picks none (models.picked_take)


class _Placed(Protocol):
    @property
    def is_still(self) -> bool: ...


def in_cut(shot: _Placed) -> bool:
    """Whether a shot has a place on the cut: every video shot; a still (an image shot's keyframe)
    has none, it is what other shots start from. A manifest's Shot or the sheet's ShotRow."""
    return not shot.is_still


def chosen_take(shot: Shot) -> int:
    """The take of `shot` that goes into the cut: the manifest's pick (models.picked_take, the one
    rule for which take represents a shot), else take 1."""
    return picked_take(shot)


def planned_seconds(duration: int | None) -> int:
    """A shot's planned duration (the model's default when unset)."""
    return duration or DEFAULT_SECONDS


def seconds_in_cut(duration: int | None, probed: float | None) -> float:
    """How long a shot lasts in the cut: its chosen take's probed length when it has a video
    (the ledger records it since MiniMax-H3, whose clips outlast the request), else as planned."""
    return probed if probed else planned_seconds(duration)


@dataclass(frozen=True)
class Slot:
    """One shot's place on the cut, in frames at FPS."""

    first_frame: int
    frames: int

    @property
    def end_frame(self) -> int:
        return self.first_frame + self.frames

    @property
    def start(self) -> float:
        return self.first_frame / FPS

    @property
    def end(self) -> float:
        return self.end_frame / FPS


def place(seconds: Iterable[float]) -> list[Slot]:
    """Consecutive slots for shots lasting `seconds` each, rounded from the cumulative time."""
    slots, elapsed = [], 0.0
    for s in seconds:
        first, last = round(elapsed * FPS), round((elapsed + s) * FPS)
        slots.append(Slot(first, last - first))
        elapsed += s
    return slots


def timecode(frame: int) -> str:
    """HH:MM:SS:FF at FPS (non-drop frame), as an editor reads it."""
    seconds, ff = divmod(max(0, frame), FPS)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"
