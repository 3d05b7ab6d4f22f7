"""A v2 shot's create request (MiniMax-H3, MiniMax-H3-Max): the canonical form and the real
body to POST to `/v2/video_generation` (minimax-api-v2.md A3). request.py picks this module for
a model the catalogue serves on v2.

    {"model": "MiniMax-H3",
     "content": [{"type": "text", "text": "..."},
                 {"type": "image_url", "image_url": {"url": ...}, "role": "first_frame"}, ...],
     "resolution": "768P", "duration": 6, "ratio": "adaptive",
     "extra": {"prompt_expansion_mode": "quality"}, "aigc_watermark": false}

Exactly one text item, first; then the frames, then reference images, videos and audio in the
manifest's order, every image with its role spelt out (a lone image without one would count as a
first frame). `ratio`: text-only sends the shot's own (the checker makes it concrete); with a
first or last frame the API forces `adaptive` and silently ignores anything else, so `adaptive`
is sent whatever the shot says, and a ratio the API would ignore never changes the fingerprint;
references send the shot's, else `adaptive` (the default, spelt out). The canonical form holds
each local file as "sha256:<hex>" of its bytes; the body holds it as a data URL.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Callable, Literal, Mapping

from pipeline.errors import InputError
from pipeline.manifest import imagefiles, mediafiles
from pipeline.manifest.models import FrameRef, Shot
from pipeline.minimax.catalogue import V2_INPUTS
from pipeline.run.frameinputs import canonical_frame, local_or_frame, shown

ADAPTIVE = "adaptive"
MM_FILE = "mm_file://"  # a file uploaded to MiniMax: sent as it is

# (field, role) of the frames; (field, kind, role) of the references, whose i-th is named field[i].
_FRAMES = (("first_frame_image", "first_frame"), ("last_frame_image", "last_frame"))
_REFERENCES = (("reference_images", "image", "reference_image"),
               ("reference_videos", "video", "reference_video"),
               ("reference_audio", "audio", "reference_audio"))
_ROLE_FIELD = {role: field for field, role in _FRAMES} | {role: field for field, _, role in _REFERENCES}

Kind = Literal["image", "video", "audio"]
Media = Callable[[str, "str | FrameRef", Kind], str]  # (field, value as written, kind) -> url for the body


def canonical_request(shot: Shot, manifest_dir: str | os.PathLike, frames: Mapping[str, str]) -> dict:
    """The create body that decides the shot's video, local files (and frames cut from other
    shots, `frames`) as "sha256:<hex>"."""
    base = os.fspath(manifest_dir)
    return _body(shot, lambda field, value, kind: _digest(shot, field, value, kind, base, frames))


def api_body(shot: Shot, manifest_dir: str | os.PathLike, planned: dict | None, frames: Mapping[str, str]) -> dict:
    """The JSON body to POST: local files as data URLs, plus callback_url. A file whose bytes no
    longer hash as `planned` (the canonical request the plan fingerprinted) is refused."""
    base = os.fspath(manifest_dir)
    expected = planned_files(planned) if planned is not None else {}
    body = _body(shot, lambda field, value, kind: _payload(shot, field, value, kind, base, expected.get(field),
                                                           frames))
    if shot.callback_url is not None:
        body["callback_url"] = shot.callback_url
    return body


def planned_files(canonical: dict) -> dict[str, str]:
    """Field -> the url a canonical request holds for it ("sha256:<hex>", or a URL)."""
    found: dict[str, str] = {}
    seen: dict[str, int] = {}
    for item in canonical.get("content", ()):
        field = _ROLE_FIELD.get(item.get("role"))
        payload = item.get(item.get("type"))
        if field is None or not isinstance(payload, dict):
            continue
        if field.startswith("reference_"):
            index = seen[field] = seen.get(field, -1) + 1
            field = f"{field}[{index}]"
        found[field] = payload.get("url")
    return found


def _body(shot: Shot, url: Media) -> dict:
    content: list[dict] = []
    if shot.prompt is not None:
        content.append({"type": "text", "text": shot.prompt})
    frames = references = 0
    for field, role in _FRAMES:
        value = getattr(shot, field)
        if value is not None:
            content.append(_item("image", url(field, value, "image"), role))
            frames += 1
    for field, kind, role in _REFERENCES:
        for index, value in enumerate(getattr(shot, field)):
            content.append(_item(kind, url(f"{field}[{index}]", value, kind), role))
            references += 1
    body: dict = {"model": shot.model, "content": content}
    if shot.resolution is not None:
        body["resolution"] = shot.resolution
    if shot.duration is not None:
        body["duration"] = shot.duration
    if frames:
        ratio = ADAPTIVE  # forced by the API; anything else would be ignored
    elif references:
        ratio = shot.ratio or ADAPTIVE
    else:
        ratio = shot.ratio  # text-only: the checker makes it concrete
    if ratio is not None:
        body["ratio"] = ratio
    if shot.prompt_expansion is not None:
        body["extra"] = {"prompt_expansion_mode": shot.prompt_expansion}
    if shot.aigc_watermark is not None:
        body["aigc_watermark"] = shot.aigc_watermark
    return body


def _item(kind: Kind, url: str, role: str) -> dict:
    key = f"{kind}_url"
    return {"type": key, key: {"url": url}, "role": role}


def _local(shot: Shot, field: str, value: str | FrameRef, base: str, frames: Mapping[str, str]) -> str | None:
    """The file behind a local reference or a frame cut for it, None for a URL sent as it is;
    InputError if unusable."""
    def local(v: str) -> str | None:
        return None if v.startswith(MM_FILE) else imagefiles.local_file(shot.id, field, v, base)

    return local_or_frame(field, value, frames, local)


def _digest(shot: Shot, field: str, value: str | FrameRef, kind: Kind, base: str, frames: Mapping[str, str]) -> str:
    """The "sha256:<hex>" of a local file (read once per version of it: mediafiles' cache, shared
    with the manifest checker); a URL as it is; a frame not cut yet as its placeholder."""
    if isinstance(value, FrameRef):
        return canonical_frame(field, value, frames)
    path = _local(shot, field, value, base, frames)
    if path is None:
        return str(value)
    try:
        digest = mediafiles.facts(path).sha256
    except OSError as exc:
        raise InputError(f"shot '{shot.id}' field '{field}': cannot read '{value}': {exc.strerror or exc}") from None
    if digest == mediafiles.UNHASHED:
        raise InputError(f"shot '{shot.id}' field '{field}': '{value}' is too large to send; give an https URL")
    return "sha256:" + digest


def _payload(shot: Shot, field: str, value: str | FrameRef, kind: Kind, base: str, planned: str | None,
             frames: Mapping[str, str]) -> str:
    """A local file as a data URL of its real format (lower case; audio/mp3, never audio/mpeg),
    refused if it is not the kind its field takes, too large, or changed since the plan."""
    path = _local(shot, field, value, base, frames)
    if path is None:
        return str(value)
    if isinstance(value, FrameRef):  # our own frame, checked when it was cut; planned by its identity
        planned = None
    value = shown(value)
    limits = V2_INPUTS.media[kind]
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)  # never more: one byte over is refused below
    except OSError as exc:
        raise InputError(f"shot '{shot.id}' field '{field}': cannot read '{value}': {exc.strerror or exc}") from None
    where = f"shot '{shot.id}' field '{field}': '{value}'"
    if len(data) > limits.max_bytes:
        raise InputError(f"{where} is over {mediafiles.mb(limits.max_bytes)}, too large to send; give an https URL")
    if planned is not None and planned != "sha256:" + hashlib.sha256(data).hexdigest():
        raise InputError(f"{where} changed after the plan was made, so it was not sent; run again to plan "
                         f"(and fingerprint) the new file")
    found, fmt = mediafiles.sniff(data[:64])
    if found != kind or fmt not in limits.formats:
        raise InputError(f"{where} is {mediafiles.name_of(fmt)}; this field takes "
                         f"{', '.join(limits.formats.values())} {kind} files")
    return mediafiles.data_uri_prefix(fmt) + base64.b64encode(data).decode("ascii")
