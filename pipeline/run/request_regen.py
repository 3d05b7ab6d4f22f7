"""A final's request: the 2K regeneration of a 768P MiniMax-H3 take (minimax-api-v2.md A11), in
its canonical form (what decides the final, so its fingerprint) and as the body to POST.

    canonical  {"model": "MiniMax-H3", "resolution": "2K",
                "source": {"fingerprint": <the draft take's>, "task_id": <its task>}}
    body       {"model": "MiniMax-H3", "resolution": "2K", "source_task_id": <its task>,
                "content": [<the draft's content as sent>, {"role": "base_video", <the draft, a data URL>}]}

The final follows from the draft alone: its fingerprint (what was asked: prompt, inputs, seconds)
and its task (which of the videos that request can give). A draft made again is a new task, so a
new final. The body carries both of the API's forms; the v2 dialect sends the `source_task_id`
one and falls back on the content one when the account may not use it (v2client.py). `content`
is the draft's own, built as its create was (the final prompt and the same inputs, A11 and C2.15).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import InputError
from pipeline.minimax.catalogue import V2_INPUTS
from pipeline.run import request

if TYPE_CHECKING:
    from pipeline.run.plan import TakeSpec

RESOLUTION = "2K"
BASE_VIDEO = "base_video"
SOURCE = "source"  # the canonical request's record of the draft; never sent
MP4_DATA_URL = "data:video/mp4;base64,"  # A3: data:video/mp4;base64,...
MAX_BASE_BYTES = V2_INPUTS.media["video"].max_bytes  # A4 rule 9: a video input is at most 50 MB


def canonical_request(draft: TakeSpec, task_id: str) -> dict[str, Any]:
    """What decides the final of `draft`, made by task `task_id`."""
    return {"model": draft.shot.model, "resolution": RESOLUTION,
            SOURCE: {"fingerprint": draft.fingerprint, "task_id": task_id}}


def is_regeneration(canonical: dict[str, Any] | None) -> bool:
    """A canonical request of a final (a regeneration), not of a generation."""
    return isinstance(canonical, dict) and isinstance(canonical.get(SOURCE), dict)


def api_body(draft: TakeSpec, manifest_dir: str | os.PathLike, task_id: str, base_video: Path,
             base_sha256: str | None) -> dict[str, Any]:
    """The body to POST: both forms. The draft's video goes as `base_video`, refused if its bytes
    are no longer the ones the ledger recorded (`base_sha256`); a draft over the API's 50 MB for a
    video input leaves the content form out (then only a whitelisted account can regenerate it)."""
    shot = draft.shot
    body: dict[str, Any] = {"model": shot.model, "resolution": RESOLUTION, "source_task_id": task_id}
    if shot.aigc_watermark is not None:
        body["aigc_watermark"] = shot.aigc_watermark
    base = _base_video_url(shot.id, draft.take, base_video, base_sha256)
    if base is not None:
        sent = request.api_body(shot, manifest_dir, draft.request, dict(draft.inputs))
        body["content"] = [*sent["content"],
                           {"type": "video_url", "video_url": {"url": base}, "role": BASE_VIDEO}]
    return body


def _base_video_url(shot_id: str, take: int, path: Path, sha256: str | None) -> str | None:
    """The draft as a data URL; None when it is too large to send."""
    try:
        if path.stat().st_size > MAX_BASE_BYTES:
            return None
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"shot '{shot_id}' take {take}: cannot read its video {path.name} to regenerate it in 2K: "
                         f"{exc.strerror or exc}") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise InputError(f"shot '{shot_id}' take {take}: its video {path.name} changed after the plan, so it was "
                         f"not sent; run `shots run` to fetch it again, then finalize")
    return MP4_DATA_URL + base64.b64encode(data).decode("ascii")
