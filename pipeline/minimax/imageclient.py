"""The image API's client: `POST /v1/image_generation` (image-01; minimax-api-v2.md B1), on the
Transport the video dialects share (one pool, one cap on calls, one key).

Synchronous: the answer carries the images, so there is no task to query, and nothing to
reconcile. That makes a lost answer costly: the call is not idempotent, and images made and
billed cannot be found again. So every failure after the body left this machine (a timeout, a
dropped connection, a 5xx, an answer that cannot be read) is an UncertainCreateError, never
retried here or by the runner; only an answer that names an error (`base_resp`, HTTP 200, as v1)
proves that nothing was made. The images are asked for as base64, so no URL can expire before
they are saved; a server that answers with URLs anyway is downloaded at once. Answers are v1's
(HTTP 200, errors in `base_resp`), read by the v1 client's readers.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline.minimax import images, imagespec
from pipeline.minimax.apierrors import (
    MalformedAnswerError,
    RateLimitError,
    TransientError,
    UncertainCreateError,
    error_for_code,
)
from pipeline.minimax.client import _base_resp, _json
from pipeline.minimax.transport import (
    Hints,
    OnTransport,
    Transport,
    ident,
    is_http_url,
    json_object,
    malformed,
    trace_of,
    whole,
)

# The API answers when the images are made, and giving up early bills a retry: wait long.
TIMEOUT = httpx.Timeout(imagespec.TIMEOUT_SECONDS, connect=10.0)
RESPONSE_FORMAT = "base64"  # the answer carries the pictures: nothing to fetch, nothing expires
DOWNLOAD_ATTEMPTS = 3  # of an image URL (a server ignoring response_format): the images are billed already
BILLED = "images may have been made and billed; not sent again"


@dataclass(frozen=True)
class ImageAnswer:
    """A generation's answer: its id (no endpoint takes it), the images (JPEG bytes, as the API
    makes them), and how many the safety check withheld (so `images` may be fewer than asked)."""

    id: str
    images: tuple[bytes, ...]
    failed_count: int


class ImageClient(OnTransport):
    """The image API on one Transport: its own, made from the same settings as the video
    dialects', or the one they share (`transport=`)."""

    api = "image"

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 transport: Transport | None = None, **settings: Any):
        self._use(transport, lambda: Transport(api_key, base_url, **settings))

    async def generate(self, body: dict[str, Any], *, hints: Hints | None = None) -> ImageAnswer:
        """POST a generation (`body` as the request builder makes it) and return its images.

        Raises RateLimitError (1002: nothing was made, a later call may succeed), AccountError
        (1004, 2049, 1008: stop), ShotRejectedError (1026, 2013 with the server's message: this
        shot fails), TransientError when nothing left this machine, and UncertainCreateError for
        any failure after the body was sent. `hints` (shot, take) reach only the built-in simulator.
        """
        response = await self._transport.create(
            imagespec.PATH, {**body, "response_format": RESPONSE_FORMAT}, hints, timeout=TIMEOUT)
        data = self._answer(response)
        try:
            pictures = await self._pictures(data, response)
        except (MalformedAnswerError, UncertainCreateError) as exc:
            raise UncertainCreateError(f"image_generation answered success, but {exc}; {BILLED}",
                                       trace_id=trace_of(response)) from exc
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        failed = whole(metadata.get("failed_count")) or 0  # a string in the official example
        if not pictures and not failed:
            raise UncertainCreateError(f"image_generation answered success without images; {BILLED}",
                                       trace_id=trace_of(response))
        return ImageAnswer(id=ident(data.get("id")), images=tuple(pictures), failed_count=failed)

    # -- the answer ----------------------------------------------------------------------

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON of an answer that says success; the error it proves, or UncertainCreateError."""
        status = response.status_code
        if status == 429:
            raise RateLimitError("rate limited: HTTP 429", trace_id=trace_of(response), http_status=429)
        if 400 <= status < 500:
            code, message = _said(response)
            if code:
                raise error_for_code(code, message, base_url=self.base_url, trace_id=trace_of(response),
                                     http_status=status)
            _json(response)  # raises the error of the status (a wrong key, a wrong host, a refusal)
        if status != 200:
            raise UncertainCreateError(f"image_generation answered HTTP {status}; {BILLED}",
                                       trace_id=trace_of(response), http_status=status)
        try:
            data = json_object(response)
            code, message = _base_resp(data, response)
        except MalformedAnswerError as exc:
            raise UncertainCreateError(f"image_generation answer unreadable: {exc}; {BILLED}",
                                       trace_id=exc.trace_id) from exc
        if code:  # an answer naming an error: nothing was made
            raise error_for_code(code, message, base_url=self.base_url, trace_id=trace_of(response))
        return data

    async def _pictures(self, data: dict[str, Any], response: httpx.Response) -> list[bytes]:
        """The images of a success: `data.image_base64`, else `data.image_urls` fetched now."""
        found = data.get("data") if data.get("data") is not None else {}
        if not isinstance(found, dict):
            raise malformed(response, "a data that is not an object", found)
        encoded, urls = found.get("image_base64"), found.get("image_urls")
        if encoded:
            return [_decoded(item, response) for item in _strings(encoded, "image_base64", response)]
        if urls:
            return [await self._fetch(url, response) for url in _strings(urls, "image_urls", response)]
        return []

    async def _fetch(self, url: str, response: httpx.Response) -> bytes:
        """One image URL, through the transport's verified download; tried again at once when it
        breaks (a GET makes nothing)."""
        if not is_http_url(url):
            raise malformed(response, "an image URL that is not an http(s) URL", url)
        with tempfile.TemporaryDirectory(prefix="shots-image-") as folder:
            path = Path(folder) / "image"
            for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
                try:
                    await self._transport.download(url, path)
                    break
                except TransientError as exc:
                    if attempt == DOWNLOAD_ATTEMPTS:
                        raise UncertainCreateError(f"its image could not be downloaded ({exc})") from exc
            return _picture(path.read_bytes(), "a downloaded image", response)


def _said(response: httpx.Response) -> tuple[int, str]:
    """A 4xx answer's base_resp (code, message), if it has a readable one; (0, "") otherwise."""
    try:
        return _base_resp(json_object(response), response)
    except MalformedAnswerError:
        return 0, ""


def _strings(value: Any, name: str, response: httpx.Response) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise malformed(response, f"a data.{name} that is not a list of strings", value)
    return value


def _decoded(item: str, response: httpx.Response) -> bytes:
    """One base64 image (bare, or as a data URL)."""
    try:
        data = images.from_data_url(item)[1] if images.is_data_url(item) else \
            base64.b64decode(item.strip(), validate=True)
    except (images.ImageError, binascii.Error, ValueError) as exc:
        raise malformed(response, f"an image_base64 item that is not base64 ({exc})", item) from exc
    return _picture(data, "an image_base64 item", response)


def _picture(data: bytes, what: str, response: httpx.Response) -> bytes:
    if images.sniff_format(data) is None:
        raise malformed(response, f"{what} that is not a JPG, PNG or WebP image", data[:16])
    return data
