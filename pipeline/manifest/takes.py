"""The names one take of one shot goes by: its file, its label, its keys. Decided here only.

Take 1 is the shot itself (`s01.mp4`, "s01"); later takes say their number (`s01.take2.mp4`,
"s01 take 2"). The checker uses `stem` to refuse two shots whose files would collide.
"""

from __future__ import annotations

VIDEO_SUFFIX = ".mp4"
STILL_SUFFIX = ".jpg"  # an image shot's take: the image API answers JPEG
FRAMES = "frames"  # the output folder's subfolder of frames cut from upstream shots (run/frames.py)


def stem(shot: str, take: int) -> str:
    """The file name without its suffix: `s01`, `s01.take2`."""
    return shot if take == 1 else f"{shot}.take{take}"


def video_name(shot: str, take: int) -> str:
    return stem(shot, take) + VIDEO_SUFFIX


def still_name(shot: str, take: int) -> str:
    """An image shot's take: `kf-01.jpg`, `kf-01.take2.jpg`."""
    return stem(shot, take) + STILL_SUFFIX


def output_name(shot: str, take: int, still: bool) -> str:
    """The take's file: a video, or a still for an image shot."""
    return still_name(shot, take) if still else video_name(shot, take)


def label(shot: str, take: int) -> str:
    """How messages name a take: `s01`, `s01 take 2`."""
    return shot if take == 1 else f"{shot} take {take}"


def lock_key(shot: str, take: int) -> str:
    """The take's key in the lock file: `s01`, `s01#take2`."""
    return shot if take == 1 else f"{shot}#take{take}"


def thumbs_key(shot: str, take: int) -> str:
    """The take's key in the thumbnails' index, and their file names' stem: always numbered."""
    return f"{shot}.take{take}"
