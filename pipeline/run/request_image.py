"""An image shot's request (mode `image`, image-01): the canonical form and the body to POST to
`/v1/image_generation` (minimax-api-v2.md B1). request.py picks this module for an image shot.

    {"model": "image-01", "prompt": "...", "aspect_ratio": "16:9", "n": 1,
     "response_format": "base64", "prompt_optimizer": false,
     "subject_reference": [{"type": "character", "image_file": "data:image/jpeg;base64,..."}]}

One image per request, each take its own request: a take is one roll of the dice, kept and
fingerprinted like a video's. `base64`, so the answer carries the picture and nothing expires.
The canonical form is the body with the subject as "sha256:<hex>" (and without `n` and
`response_format`, which change how the answer comes, not the picture).
"""

from __future__ import annotations

import hashlib
import os

from pipeline.errors import InputError
from pipeline.manifest import imagefiles
from pipeline.manifest.models import FrameRef, Shot
from pipeline.minimax import images, imagespec
from pipeline.run.frameinputs import Frames, NoFrameYet, canonical_frame, local_or_frame, shown

SUBJECT = "subject_image"


def canonical_request(shot: Shot, manifest_dir: str | os.PathLike, frames: Frames) -> dict:
    """What decides the still: model, prompt, aspect ratio, flags, the subject by its hash."""
    body = _common(shot)
    if isinstance(shot.subject_image, FrameRef):
        body["subject_reference"] = [{"type": "character",
                                      "image_file": canonical_frame(SUBJECT, shot.subject_image, frames)}]
    elif shot.subject_image is not None:
        path = _local(shot, shot.subject_image, os.fspath(manifest_dir), frames)
        subject = str(shot.subject_image) if path is None else "sha256:" + imagefiles.facts(path).sha256
        body["subject_reference"] = [{"type": "character", "image_file": subject}]
    return body


def api_body(shot: Shot, manifest_dir: str | os.PathLike, planned: dict | None, frames: Frames) -> dict:
    """The body to POST: one image, answered as base64; the subject as a data URL."""
    body = _common(shot)
    body.update(n=1, response_format="base64")
    if shot.subject_image is not None:
        body["subject_reference"] = [{"type": "character", "image_file": _subject_payload(
            shot, os.fspath(manifest_dir), frames, _planned_subject(planned))}]
    return body


def _common(shot: Shot) -> dict:
    body: dict = {"model": shot.model, "prompt": shot.prompt or ""}
    if shot.aspect_ratio is not None:
        body["aspect_ratio"] = shot.aspect_ratio
    if shot.prompt_optimizer is not None:
        body["prompt_optimizer"] = shot.prompt_optimizer
    if shot.aigc_watermark is not None:
        body["aigc_watermark"] = shot.aigc_watermark
    return body


def _local(shot: Shot, value: str | FrameRef, base: str, frames: Frames) -> str | None:
    return local_or_frame(SUBJECT, value, frames, lambda v: imagefiles.local_file(shot.id, SUBJECT, v, base))


def _planned_subject(planned: dict | None) -> str | None:
    for ref in (planned or {}).get("subject_reference", ()):
        return ref.get("image_file")
    return None


def _subject_payload(shot: Shot, base: str, frames: Frames, planned: str | None) -> str:
    value = shot.subject_image
    assert value is not None
    try:
        path = _local(shot, value, base, frames)
    except NoFrameYet as exc:
        raise InputError(f"shot '{shot.id}': {exc.args[0]} is not made yet, so the shot was not sent") from None
    where = f"shot '{shot.id}' field '{SUBJECT}': '{shown(value)}'"
    if path is None:
        return str(value)
    if isinstance(value, FrameRef):  # our own frame, checked when it was cut; planned by its identity
        planned = None
    try:
        with open(path, "rb") as fh:
            data = fh.read(imagespec.SUBJECT_MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > imagespec.SUBJECT_MAX_BYTES:
        raise InputError(f"{where} is over {imagespec.SUBJECT_MAX_BYTES // (1024 * 1024)} MB; the image API "
                         f"takes a smaller subject image")
    if planned is not None and planned != "sha256:" + hashlib.sha256(data).hexdigest():
        raise InputError(f"{where} changed after the plan was made, so it was not sent; run again to plan "
                         f"(and fingerprint) the new image")
    try:
        return images.to_data_url(data)
    except images.ImageError as exc:
        raise InputError(f"{where}: {exc}") from None
