"""One v2 task: what was asked, its drawn schedule, and the task object the API shows (A5).

A task's status is a function of the clock and of when it got a running slot (`start`, worked out
by v2engine from the key's CONN cap); nothing runs in the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pipeline.sim.v2render import Previz
from pipeline.sim.v2validate import V2Spec

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TASK_TYPES = ("generation", "h3_context_ir", "regeneration")

URL_MEDIA_SECONDS = 5  # a reference video or audio behind a URL is never fetched: counted as this long
# Usage tokens: the simulator's own conversion, fitted to the one documented example (A5: 2K, 5 s,
# one image, 6 s of audio -> 13500 prompt and 260390 completion tokens); other tiers by pixel area.
TOKENS_PER_SECOND = {"2K": 52_078, "768P": 14_582, "480P": 5_650}
TOKENS_PER_IMAGE = 4_500
TOKENS_PER_AUDIO_SECOND = 1_500


@dataclass
class V2Task:
    task_id: str
    key: str
    fingerprint: str
    model: str
    resolution: str
    duration: int
    ratio: str  # the actual, concrete ratio
    created_at: float
    ready_at: float  # the queue phase ends: from here the task runs as soon as a slot is free
    run_seconds: float
    error: tuple[str, str] | None  # (code, message) when it will end failed
    usage: dict[str, int]  # shown only once succeeded
    previz: Previz
    task_type: str = "generation"
    modality: str = "video"  # "text": a Context-IR task, its content the enhanced prompt
    text: str | None = None
    cancelled_at: float | None = None
    deleted_at: float | None = None

    def status(self, now: float, start: float | None) -> str:
        """The status at `now`, given the time it takes a slot (None: never, it was cancelled first)."""
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return CANCELLED
        if start is None or now < start:
            return QUEUED
        if now < start + self.run_seconds:
            return RUNNING
        return FAILED if self.error else SUCCEEDED

    def updated_at(self, status: str, start: float | None) -> float:
        """When the task last changed status."""
        if status == CANCELLED:
            return self.cancelled_at
        if status == RUNNING:
            return start
        if status in (SUCCEEDED, FAILED):
            return start + self.run_seconds
        return self.created_at

    def answer(self, status: str, start: float | None, url: str | None, *, modality: bool = True) -> dict[str, Any]:
        """The task object of a query (modality shown) or a list item (modality left out, as in A2's example)."""
        out: dict[str, Any] = {
            "id": self.task_id, "model": self.model, "status": status,
            "created_at": int(self.created_at), "updated_at": int(self.updated_at(status, start)),
        }
        if status == SUCCEEDED:
            out["content"] = {"url": url} if self.modality == "video" else {"prompt": self.text}
        out.update(resolution=self.resolution, duration=self.duration, ratio=self.ratio, task_type=self.task_type)
        if modality:
            out["modality"] = self.modality
        out["usage"] = dict(self.usage) if status == SUCCEEDED else {}
        if status == FAILED:
            out["error"] = {"code": self.error[0], "message": self.error[1]}
        return out


def usage_for(spec: V2Spec) -> dict[str, int]:
    """A5's usage: requested seconds out, reference-video seconds in, images and audio counted."""
    video = sum(_seconds(i) for i in spec.inputs if i.kind == "video")
    audio = sum(_seconds(i) for i in spec.inputs if i.kind == "audio")
    images = sum(1 for i in spec.inputs if i.kind == "image")
    input_seconds = math.ceil(video - 1e-9)
    per_second = TOKENS_PER_SECOND[spec.resolution]
    prompt = TOKENS_PER_IMAGE * images + round(TOKENS_PER_AUDIO_SECOND * audio) + per_second * input_seconds
    completion = per_second * spec.duration
    usage = {"total_seconds": input_seconds + spec.duration, "input_seconds": input_seconds,
             "output_seconds": spec.duration, "input_image_count": images}
    if any(i.kind == "audio" for i in spec.inputs):
        usage["input_audio_seconds"] = round(audio)
    usage.update(total_tokens=prompt + completion, prompt_tokens=prompt, completion_tokens=completion)
    return usage


def _seconds(item) -> float:
    if item.media is not None and item.media.seconds:
        return item.media.seconds
    return URL_MEDIA_SECONDS
