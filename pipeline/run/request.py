"""A shot's create request: the canonical form that decides its video (and so its fingerprint),
and the real body to POST to `/v1/video_generation` (or, for a model served on v2, the one
request_v2.py builds for `/v2/video_generation`: `_dialect` is the one place that decides).

The canonical request is the v1 body with each local image replaced by the hash of its bytes,
so the fingerprint follows what the API is asked for, not where a file lives or what the shot
is called: re-ordering shots, editing notes, tags or takes, or changing run settings leaves it
alone; editing any field the API reads, or an image's content, changes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from types import ModuleType
from typing import Callable, Mapping

from pipeline.errors import InputError
from pipeline.manifest import imagefiles
from pipeline.manifest.models import FrameRef, Shot
from pipeline.minimax import catalogue, images
from pipeline.run import request_image, request_v2
from pipeline.run.frameinputs import Frames, NoFrameYet, canonical_frame, frame_source, local_or_frame, shown

__all__ = ["canonical_request", "fingerprint", "api_body", "FINGERPRINT_CHARS", "SIM_ENDPOINT", "INPUTS_FROM"]

# The endpoint the embedded simulator's fingerprints name (a real API's is its base URL): a previz
# never counts as a take made on the real API.
SIM_ENDPOINT = "simulator"

FINGERPRINT_CHARS = 16  # 64 bits of sha256: plenty to tell one shot's requests apart
# One encoder for every fingerprint: json.dumps builds a new one per call when given options.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# The canonical request's record of which inputs are other shots' outputs: field -> "s01#1@last".
# Part of the fingerprint, and how a plan tells "upstream s01 changed" from "the shot changed".
INPUTS_FROM = "inputs_from"


def canonical_request(shot: Shot, manifest_dir: str | os.PathLike, frames: Frames | None = None,
                      shots: Mapping[str, Shot] | None = None) -> dict:
    """The create body that decides the shot's video, local images as "sha256:<hex>"; pure but for
    reading images. An input that is another shot's output is its frame's hash when `frames` has
    it, else a placeholder ("frame:s01#1@last": the upstream is not made yet)."""
    canonical = _dialect(shot).canonical_request(shot, manifest_dir, frames or {})
    refs = shot.frame_refs()
    if refs:
        shots = shots or {}  # the upstream shots by id: their picks decide the take a reference means
        canonical[INPUTS_FROM] = {field: frame_source(ref, shots.get(ref.shot)) for field, ref in refs}
    return canonical


def fingerprint(canonical: dict, endpoint: str) -> str:
    """A stable hash of (endpoint, canonical request): equal exactly when the API is asked the same
    thing. `inputs_from` is left out: the inputs' identities decide the video, not how the
    manifest spells where they come from ({shot: s01} and {shot: s01, frame: last} are one frame)."""
    if INPUTS_FROM in canonical:
        canonical = {k: v for k, v in canonical.items() if k != INPUTS_FROM}
    text = _CANONICAL_JSON.encode({"endpoint": endpoint, "request": canonical})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:FINGERPRINT_CHARS]


def api_body(shot: Shot, manifest_dir: str | os.PathLike, planned: dict | None = None,
             frames: Frames | None = None) -> dict:
    """The JSON body to POST: local images (and frames cut for a dependant) as data URLs with their
    real MIME type, plus callback_url.

    `planned` is the canonical request the plan fingerprinted (and the ledger's intent records):
    an image whose bytes no longer hash as planned is refused, never sent under the old hash.
    """
    try:
        return _dialect(shot).api_body(shot, manifest_dir, planned, frames or {})
    except NoFrameYet as exc:  # the runner resolves every input before it sends: a bug if not
        raise InputError(f"shot '{shot.id}': {exc.args[0]} is not made yet, so the shot was not sent") from None


class _V1:
    """The v1 dialect's builders; request_v2 has the same two."""

    @staticmethod
    def canonical_request(shot: Shot, manifest_dir: str | os.PathLike, frames: Frames) -> dict:
        base = os.fspath(manifest_dir)
        return _body(shot, lambda field, value: _image_digest(shot, field, value, base, frames))

    @staticmethod
    def api_body(shot: Shot, manifest_dir: str | os.PathLike, planned: dict | None, frames: Frames) -> dict:
        base = os.fspath(manifest_dir)
        expected = _planned_images(planned) if planned is not None else {}
        body = _body(shot, lambda field, value: _image_payload(shot, field, value, base, expected.get(field),
                                                               frames))
        if shot.callback_url is not None:
            body["callback_url"] = shot.callback_url
        return body


def _dialect(shot: Shot) -> type[_V1] | ModuleType:
    """The one place a shot's API generation is decided: the catalogue's, by its model (an image
    shot's is the image API's whatever model it names: the checker refused any other)."""
    if shot.is_still:
        return request_image
    return request_v2 if catalogue.api_of(shot.model) == "v2" else _V1


def _body(shot: Shot, image: Callable[[str, str | FrameRef], str]) -> dict:
    model = catalogue.MODELS.get(shot.model)
    body: dict = {"model": shot.model}
    if shot.prompt is not None:
        body["prompt"] = shot.prompt
    if shot.prompt_optimizer is not None:
        body["prompt_optimizer"] = shot.prompt_optimizer
    # The checker refuses fast_pretreatment: true where the model does not take it; an explicit
    # false there is the API's default, so it is left out of a body that has no such field.
    if shot.fast_pretreatment is not None and (model is None or shot.mode in model.fast_pretreatment):
        body["fast_pretreatment"] = shot.fast_pretreatment
    if shot.aigc_watermark is not None:
        body["aigc_watermark"] = shot.aigc_watermark
    if model is None or model.sends_duration_resolution:
        if shot.duration is not None:
            body["duration"] = shot.duration
        if shot.resolution is not None:
            body["resolution"] = shot.resolution
    if shot.first_frame_image is not None:
        body["first_frame_image"] = image("first_frame_image", shot.first_frame_image)
    if shot.last_frame_image is not None:
        body["last_frame_image"] = image("last_frame_image", shot.last_frame_image)
    if shot.subject_image is not None:
        body["subject_reference"] = [{"type": "character", "image": [image("subject_image", shot.subject_image)]}]
    return body


def _local(shot: Shot, field: str, value: str, base: str) -> str | None:
    """The file behind a local image reference, None for a URL; InputError if it cannot be used."""
    return imagefiles.local_file(shot.id, field, value, base)


def _image_digest(shot: Shot, field: str, value: str | FrameRef, base: str, frames: Frames) -> str:
    if isinstance(value, FrameRef):
        return canonical_frame(field, value, frames)
    path = _local(shot, field, value, base)
    if path is None:
        return str(value)
    try:
        return "sha256:" + imagefiles.facts(path).sha256
    except OSError as exc:
        raise InputError(f"shot '{shot.id}' field '{field}': cannot read '{value}': {exc.strerror or exc}") from None


def _planned_images(canonical: dict) -> dict[str, str]:
    """Image field -> the value the canonical request holds for it ("sha256:<hex>" or a URL)."""
    found = {f: canonical[f] for f in ("first_frame_image", "last_frame_image") if f in canonical}
    for ref in canonical.get("subject_reference", ()):
        found["subject_image"] = ref["image"][0]
    return found


def _image_payload(shot: Shot, field: str, value: str | FrameRef, base: str, planned: str | None,
                   frames: Frames) -> str:
    path = local_or_frame(field, value, frames, lambda v: _local(shot, field, v, base))
    if path is None:
        return str(value)
    if isinstance(value, FrameRef):  # our own frame, checked when it was cut; planned by its identity
        planned = None
    value = shown(value)
    try:
        with open(path, "rb") as fh:
            data = fh.read(images.MAX_BYTES)  # never more: a file swapped for a huge one since the check
    except OSError as exc:
        raise InputError(f"shot '{shot.id}' field '{field}': cannot read '{value}': {exc.strerror or exc}") from None
    if planned is not None and planned != "sha256:" + hashlib.sha256(data).hexdigest():
        raise InputError(f"shot '{shot.id}' field '{field}': '{value}' changed after the plan was made, so it "
                         f"was not sent; run again to plan (and fingerprint) the new image")
    try:
        return images.to_data_url(data)
    except images.ImageError as exc:
        raise InputError(f"shot '{shot.id}' field '{field}': '{value}': {exc}") from None
