"""The async MiniMaxClient of the v1 API: create, query, retrieve, download; one call each, no policy.

Retries, pacing and resume live in the runner; this module only says what happened, as a value
or as one of the errors of apierrors.py (re-exported here; every `base_resp` code and transport
failure maps to exactly one). The HTTP, the key and the download are transport.py's, shared with
the v2 dialect (v2client.py); TaskStatus and FileInfo are what both dialects answer.

A create whose answer is malformed or unreadable is an UncertainCreateError, never a
TransientError: the server may have made the task. The API key is held privately and never
appears in a message, repr or exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import httpx

from pipeline.minimax.apierrors import (  # noqa: F401  (re-exported: the one error tree)
    ACCOUNT_CODES,
    NOT_FOUND_CODE,
    RATE_LIMIT_CODES,
    SHOT_CODES,
    TRANSIENT_CODES,
    AccountError,
    ApiError,
    ConcurrencyLimitError,
    DownloadError,
    MalformedAnswerError,
    RateLimitError,
    ShotRejectedError,
    TaskNotFoundError,
    TransientError,
    UncertainCreateError,
    UrlExpiredError,
    error_for_code,
)
from pipeline.minimax.transport import (  # noqa: F401  (re-exported: settings tests and benches read)
    API_CALLS_AT_ONCE,
    API_TIMEOUT,
    DOWNLOAD_CHUNK,
    DOWNLOAD_CONNECTIONS,
    DOWNLOAD_DEADLINE_FLOOR,
    DOWNLOAD_MIN_THROUGHPUT,
    DOWNLOAD_TIMEOUT,
    DOWNLOAD_UNSIZED_DEADLINE,
    KEEPALIVE,
    Download,
    Transport,
    _Secret,
    download_deadline,
)
from pipeline.minimax.transport import Hints, OnTransport
from pipeline.minimax.transport import describe as _describe  # noqa: F401
from pipeline.minimax.transport import ident as _ident
from pipeline.minimax.transport import is_http_url as _is_http_url
from pipeline.minimax.transport import json_object as _json_object
from pipeline.minimax.transport import malformed as _malformed
from pipeline.minimax.transport import show as _show
from pipeline.minimax.transport import trace_of as _trace
from pipeline.minimax.transport import whole as _whole

Status = Literal["Preparing", "Queueing", "Processing", "Success", "Fail"]
_STATUS_SPELLINGS: dict[str, Status] = {
    "preparing": "Preparing",
    "queueing": "Queueing", "queued": "Queueing",
    "processing": "Processing", "running": "Processing",
    "success": "Success", "succeeded": "Success",
    "fail": "Fail", "failed": "Fail",
}


@dataclass(frozen=True)
class TaskStatus:
    """A query answer, in v1's vocabulary whatever the dialect. `status` is one of Status, or the
    raw text of a status we do not know; `raw_status` is the server's own word. v2 answers also
    carry what a v2 task says of itself (None where the answer said nothing): `api` "v2", the
    actual `ratio`, the requested `duration` and `resolution`, `usage` (only on success),
    `created_at`/`updated_at` (Unix seconds), `task_type`, and `video_url` (a success's content.url,
    which expires: the file handle `file_id` is then the task id, queried again for a fresh one)."""

    task_id: str
    status: str
    file_id: str | None = None
    video_width: int | None = None
    video_height: int | None = None
    code: int = 0
    message: str = ""
    raw_status: str = ""
    api: str = "v1"
    model: str | None = None
    resolution: str | None = None
    duration: int | None = None
    ratio: str | None = None
    usage: Mapping[str, Any] | None = field(default=None, compare=False)
    created_at: int | None = None
    updated_at: int | None = None
    task_type: str | None = None
    video_url: str | None = None

    @property
    def known(self) -> bool:
        return self.status in _STATUS_SPELLINGS.values()


@dataclass(frozen=True)
class FileInfo:
    """A file to download: v1's files/retrieve answer, or a v2 task's fresh content.url (then
    `file_id` is the task id and `bytes` is 0: no size is announced)."""

    file_id: int | str
    bytes: int
    filename: str
    download_url: str


def normalise_status(raw: Any) -> str:
    """The documented spelling of a status ('Fail', 'Success', ...), or the raw text if unknown."""
    text = str(raw or "")
    return _STATUS_SPELLINGS.get(text.lower(), text)


class MiniMaxClient(OnTransport):
    """The v1 dialect on one Transport: made from its settings (arguments, then MINIMAX_API_KEY /
    MINIMAX_BASE_URL, then defaults), or on a `transport` it shares with the v2 dialect."""

    api = "v1"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = API_TIMEOUT,
        download_timeout: httpx.Timeout = DOWNLOAD_TIMEOUT,
        download_deadline: Callable[[int | None], float] = download_deadline,
        transport: Transport | None = None,
    ):
        self._use(transport, lambda: Transport(api_key, base_url, http=http, timeout=timeout,
                                               download_timeout=download_timeout,
                                               download_deadline=download_deadline))

    @property
    def _auth(self) -> dict[str, str]:
        return self._transport._auth

    # -- the three API calls -------------------------------------------------------------

    async def create(self, body: dict[str, Any], *, hints: Hints | None = None) -> str:
        """POST a generation task; return its task_id. Raises UncertainCreateError when unsure.
        `hints` (shot, take) reach only the built-in simulator (Transport.simulator_hints)."""
        response = await self._transport.create("/v1/video_generation", body, hints)
        if response.status_code == 429:
            raise RateLimitError("rate limited: HTTP 429", trace_id=_trace(response), http_status=429)
        if response.status_code >= 500:
            # The request reached a server; whether it made a task is unknown.
            raise UncertainCreateError(
                f"create answered HTTP {response.status_code}; a billed task may exist",
                trace_id=_trace(response), http_status=response.status_code,
            )
        try:
            data = self._business(response)
        except TransientError as exc:
            if exc.code is None:  # a 200 we could not read: the task may exist
                raise UncertainCreateError(f"create answer unreadable: {exc}", trace_id=exc.trace_id) from exc
            raise  # an explicit base_resp error: no task was made
        task_id = _ident(data.get("task_id"))
        if not task_id:
            raise UncertainCreateError(
                f"create answered success without a usable task_id ({_show(data.get('task_id'))}); "
                f"a billed task may exist", trace_id=_trace(response),
            )
        return task_id

    async def query(self, task_id: str) -> TaskStatus:
        """GET a task's status. A Fail is a value (with its code), not an exception."""
        response = await self._get("/v1/query/video_generation", {"task_id": task_id})
        data = _json(response)
        code, message = _base_resp(data, response)
        raw_status = data.get("status")
        if code and normalise_status(raw_status) != "Fail":
            if code == NOT_FOUND_CODE and task_id:
                raise TaskNotFoundError("task", task_id, code, message, trace_id=_trace(response))
            raise error_for_code(code, message, base_url=self.base_url, trace_id=_trace(response))
        if not isinstance(raw_status, str) or not raw_status.strip():
            raise _malformed(response, "a status that is not a word", raw_status)
        file_id: str | None = None
        if data.get("file_id") not in (None, ""):
            number = _whole(data["file_id"])
            if number is None:  # files/retrieve takes an integer: fail here, with the answer in hand
                raise _malformed(response, "a file_id that is not an integer", data["file_id"])
            file_id = str(number)
        return TaskStatus(
            task_id=_ident(data.get("task_id")) or task_id,
            status=normalise_status(raw_status.strip()),
            file_id=file_id,
            video_width=_whole(data.get("video_width")) or None,
            video_height=_whole(data.get("video_height")) or None,
            code=code,
            message=message,
            raw_status=raw_status.strip(),
        )

    async def retrieve(self, file_id: str | int) -> FileInfo:
        """GET a file's metadata and a fresh download URL (valid about an hour)."""
        number = _whole(file_id)
        if number is None:  # only a malformed answer, kept from before, can have given it
            raise MalformedAnswerError(f"cannot retrieve file_id {_show(file_id)}: it is not an integer")
        response = await self._get("/v1/files/retrieve", {"file_id": number})
        file = self._business(response, asked_for=("file", str(number))).get("file")
        if file is None:
            file = {}
        if not isinstance(file, dict):
            raise _malformed(response, "a file that is not an object", file)
        url = file.get("download_url")
        if not url:
            raise _malformed(response, "no download_url", url)
        if not _is_http_url(url):
            raise _malformed(response, "a download_url that is not an http(s) URL", url)
        return FileInfo(
            file_id=_whole(file.get("file_id")) or number,
            bytes=_whole(file.get("bytes")) or 0,  # 0: not announced
            filename=str(file.get("filename") or ""),
            download_url=url,
        )

    async def download(
        self,
        url: str,
        path: Path,
        *,
        progress: Callable[[int], None] | None = None,
        expected_bytes: int | None = None,
    ) -> Download:
        """Stream a video to `path`, verified (Transport.download); `expected_bytes` is FileInfo.bytes."""
        return await self._transport.download(url, path, progress=progress, expected_bytes=expected_bytes)

    # -- plumbing ------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        response = await self._transport.read("GET", path, params)
        if response.status_code == 429:
            raise RateLimitError("rate limited: HTTP 429", trace_id=_trace(response), http_status=429)
        if response.status_code >= 500:
            raise TransientError(f"{path} answered HTTP {response.status_code}", trace_id=_trace(response),
                                 http_status=response.status_code)
        return response

    def _business(self, response: httpx.Response, asked_for: tuple[str, str] | None = None) -> dict[str, Any]:
        """The JSON body of a 200 answer whose base_resp says success; the right error otherwise.
        `asked_for` ("file", id): the call's only parameter, so a 2013 means the server has no such thing."""
        data = _json(response)
        code, message = _base_resp(data, response)
        if code:
            if code == NOT_FOUND_CODE and asked_for is not None:
                raise TaskNotFoundError(*asked_for, code, message, trace_id=_trace(response))
            raise error_for_code(code, message, base_url=self.base_url, trace_id=_trace(response))
        return data


def _json(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status == 404:
        raise AccountError(
            f"{response.request.url.path} not found (HTTP 404): is MINIMAX_BASE_URL the API host, without /v1?",
            trace_id=_trace(response), http_status=status,
        )
    if status in (401, 403):
        raise AccountError(f"HTTP {status} from {response.request.url.path}: check MINIMAX_API_KEY",
                           trace_id=_trace(response), http_status=status)
    if 400 <= status < 500:
        raise ShotRejectedError(f"request refused: HTTP {status} from {response.request.url.path}",
                                trace_id=_trace(response), http_status=status)
    if status != 200:
        raise TransientError(f"HTTP {status} from {response.request.url.path}", trace_id=_trace(response),
                             http_status=status)
    return _json_object(response)


def _base_resp(data: dict[str, Any], response: httpx.Response) -> tuple[int, str]:
    """(status_code, status_msg) of an answer; (0, "") when it has no base_resp. The code may come
    as text ("1002"); anything that is not a whole number is a malformed answer, never success."""
    base = data.get("base_resp")
    if base is None:
        return 0, ""
    if not isinstance(base, dict):
        raise _malformed(response, "a base_resp that is not an object", base)
    raw, message = base.get("status_code"), base.get("status_msg")
    message = "" if message is None else str(message)
    if raw is None or raw == "":
        return 0, message
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*-?[0-9]+\s*", raw):
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _malformed(response, "a base_resp.status_code that is not a number", raw)
    return raw, message
