"""The async MiniMax v1 video client: create, query, retrieve, download; one call each, no policy.

Retries, pacing and resume live in the runner; this module only says what happened, as a value
or as one of these errors (every `base_resp` code and transport failure maps to exactly one):

    ApiError                   root (a ShotsError); .code, .trace_id
    ├── TransientError         a later identical call may succeed: network error, HTTP 5xx,
    │   │                      1000/1001/1013/1024/1033/1039/1041; safe to retry for reads
    │   ├── RateLimitError     1002/2045 or HTTP 429: retry later, and slow down
    │   └── UrlExpiredError    the download URL expired (HTTP 403/410): retrieve a new one
    ├── AccountError           1004/1008/2049/2056, or the host is wrong: stop all new work
    ├── ShotRejectedError      1026/1027/2013/1042 or an unknown code: this shot failed for good
    │   └── TaskNotFoundError  2013 on a query or a retrieve: the server has no such task or file
    │                          (expired, made with another key, or on another server)
    └── UncertainCreateError   a create was sent but its answer was lost: a task may exist
                               and be billed; never retry it blindly

The API key is held privately and never appears in a message, repr or exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import httpx

from pipeline.errors import EXIT_ABORTED, ShotsError

DEFAULT_BASE_URL = "https://api.minimax.io"
API_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # per read; the MCP hung forever without one
DOWNLOAD_CHUNK = 1024 * 1024
# httpcore's pool scans every connection (a syscall for each idle one), and every queued
# request, on each request and each answer: with 64 connections and thousands of polls that was
# a quarter of the client's CPU. So API calls queue here instead, at most 16 in flight (53 a
# second at a 300 ms round trip, far above any account's request limit), and few idle
# connections are kept.
API_CALLS_AT_ONCE = 16
DOWNLOAD_CONNECTIONS = 16  # the runner's own download slots stay under this
KEEPALIVE = 8

Status = Literal["Preparing", "Queueing", "Processing", "Success", "Fail"]
_STATUS_SPELLINGS: dict[str, Status] = {
    "preparing": "Preparing",
    "queueing": "Queueing", "queued": "Queueing",
    "processing": "Processing", "running": "Processing",
    "success": "Success", "succeeded": "Success",
    "fail": "Fail", "failed": "Fail",
}

TRANSIENT_CODES = frozenset({1000, 1001, 1013, 1024, 1033, 1039, 1041})
RATE_LIMIT_CODES = frozenset({1002, 2045})
ACCOUNT_CODES = frozenset({1004, 1008, 2049, 2056})
SHOT_CODES = frozenset({1026, 1027, 2013, 1042})
NOT_FOUND_CODE = 2013  # on a query or a retrieve, whose only parameter is the id: no such task or file


class ApiError(ShotsError):
    """A MiniMax call did not succeed; subclasses say what the caller may do about it."""

    retryable = False

    def __init__(self, message: str, *, code: int | None = None, trace_id: str | None = None):
        super().__init__(message)
        self.code = code
        self.trace_id = trace_id


class TransientError(ApiError):
    """Raised when a later identical call may succeed: network failure, HTTP 5xx, a busy code."""

    retryable = True


class RateLimitError(TransientError):
    """Raised on 1002/2045 or HTTP 429: the account's request rate was exceeded."""


class UrlExpiredError(TransientError):
    """Raised when a download URL has expired; files/retrieve hands out a fresh one."""


class AccountError(ApiError):
    """Raised when no call on this account can succeed: bad key, wrong region, no balance."""

    exit_code = EXIT_ABORTED


class ShotRejectedError(ApiError):
    """Raised when the API refuses this shot for good: invalid request or sensitive content."""


class TaskNotFoundError(ShotRejectedError):
    """Raised when the server does not know a task id (or a file id) it is asked about.

    The query and retrieve calls carry nothing but that id, so their 2013 'invalid params' can
    only mean the server has no such task for this key: it expired, another key made it, or
    another server did. `what` is "task" or "file", `ident` the id.
    """

    def __init__(self, what: str, ident: str, code: int, server_message: str, *, trace_id: str | None = None):
        super().__init__(
            f"the server has no {what} {ident}: it may have expired or been made with another key "
            f"({code}: {server_message or 'no message'})",
            code=code, trace_id=trace_id,
        )
        self.what, self.ident = what, ident


class UncertainCreateError(ApiError):
    """Raised when a create was sent but its answer was lost: a billed task may exist."""


@dataclass(frozen=True)
class TaskStatus:
    """A query answer. `status` is one of Status, or the raw text of a status we do not know."""

    task_id: str
    status: str
    file_id: str | None = None
    video_width: int | None = None
    video_height: int | None = None
    code: int = 0
    message: str = ""

    @property
    def known(self) -> bool:
        return self.status in _STATUS_SPELLINGS.values()


@dataclass(frozen=True)
class FileInfo:
    file_id: int
    bytes: int
    filename: str
    download_url: str


@dataclass(frozen=True)
class Download:
    path: Path
    bytes: int
    sha256: str


def error_for_code(code: int, message: str, *, base_url: str = "", trace_id: str | None = None) -> ApiError:
    """The error class for a non-zero `base_resp.status_code`, with a message that says what to do."""
    text = f"{message or 'error'} ({code})"
    if code in RATE_LIMIT_CODES:
        return RateLimitError(f"rate limited: {text}", code=code, trace_id=trace_id)
    if code in TRANSIENT_CODES:
        return TransientError(f"server error: {text}", code=code, trace_id=trace_id)
    if code == 2049:
        return AccountError(
            f"invalid API key: {text}. A key works only with the host of its region: global keys "
            f"with https://api.minimax.io, mainland China keys with https://api.minimaxi.com; "
            f"this run used {base_url or 'an unknown host'} (set MINIMAX_BASE_URL)",
            code=code, trace_id=trace_id,
        )
    if code == 1004:
        return AccountError(f"authentication failed: {text}; check MINIMAX_API_KEY", code=code, trace_id=trace_id)
    if code == 1008:
        return AccountError(f"insufficient balance: {text}; top up the account", code=code, trace_id=trace_id)
    if code in ACCOUNT_CODES:
        return AccountError(f"account limit: {text}", code=code, trace_id=trace_id)
    if code == 1026:
        return ShotRejectedError(f"input content flagged as sensitive: {text}", code=code, trace_id=trace_id)
    if code == 1027:
        return ShotRejectedError(f"output video flagged as sensitive: {text}", code=code, trace_id=trace_id)
    if code == 2013:
        return ShotRejectedError(f"invalid request: {text}", code=code, trace_id=trace_id)
    return ShotRejectedError(f"API error: {text}", code=code, trace_id=trace_id)


def normalise_status(raw: Any) -> str:
    """The documented spelling of a status ('Fail', 'Success', ...), or the raw text if unknown."""
    text = str(raw or "")
    return _STATUS_SPELLINGS.get(text.lower(), text)


class _Secret:
    """Holds the key so that repr(), vars() and locals-dumping tracebacks show only <redacted>."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class MiniMaxClient:
    """One account on one host. Settings: arguments, then MINIMAX_API_KEY / MINIMAX_BASE_URL, then defaults."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = API_TIMEOUT,
        download_timeout: httpx.Timeout = DOWNLOAD_TIMEOUT,
    ):
        key = api_key or os.environ.get("MINIMAX_API_KEY")
        if not key:
            raise AccountError(
                "no API key: set MINIMAX_API_KEY (or run without one against the built-in simulator)"
            )
        self._key = _Secret(key)
        self.base_url = _versionless(base_url or os.environ.get("MINIMAX_BASE_URL") or DEFAULT_BASE_URL)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(
            max_connections=API_CALLS_AT_ONCE + DOWNLOAD_CONNECTIONS, max_keepalive_connections=KEEPALIVE,
        ))
        self._api_calls = asyncio.Semaphore(API_CALLS_AT_ONCE)
        self._timeout = timeout
        self._download_timeout = download_timeout

    def __repr__(self) -> str:
        return f"MiniMaxClient(base_url={self.base_url!r}, api_key=<redacted>)"

    async def __aenter__(self) -> MiniMaxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    # -- the three API calls -------------------------------------------------------------

    async def create(self, body: dict[str, Any]) -> str:
        """POST a generation task; return its task_id. Raises UncertainCreateError when unsure."""
        url = f"{self.base_url}/v1/video_generation"
        try:
            async with self._api_calls:
                response = await self._http.post(url, json=body, headers=self._auth, timeout=self._timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Never left this machine: no task can exist.
            raise TransientError(f"cannot connect to {self.base_url}: {_describe(exc)}") from exc
        except httpx.TransportError as exc:
            raise UncertainCreateError(
                f"create sent but its answer was lost ({_describe(exc)}); a billed task may exist"
            ) from exc
        if response.status_code == 429:
            raise RateLimitError("rate limited: HTTP 429", trace_id=_trace(response))
        if response.status_code >= 500:
            # The request reached a server; whether it made a task is unknown.
            raise UncertainCreateError(
                f"create answered HTTP {response.status_code}; a billed task may exist",
                trace_id=_trace(response),
            )
        try:
            data = self._business(response)
        except TransientError as exc:
            if exc.code is None:  # a 200 we could not read: the task may exist
                raise UncertainCreateError(f"create answer unreadable: {exc}", trace_id=exc.trace_id) from exc
            raise  # an explicit base_resp error: no task was made
        task_id = str(data.get("task_id") or "")
        if not task_id:
            raise UncertainCreateError("create answered success without a task_id", trace_id=_trace(response))
        return task_id

    async def query(self, task_id: str) -> TaskStatus:
        """GET a task's status. A Fail is a value (with its code), not an exception."""
        response = await self._get("/v1/query/video_generation", {"task_id": task_id})
        data = _json(response)
        base = data.get("base_resp") or {}
        code = _int(base.get("status_code"))
        status = normalise_status(data.get("status"))
        if code and status != "Fail":
            message = str(base.get("status_msg", ""))
            if code == NOT_FOUND_CODE and task_id:
                raise TaskNotFoundError("task", task_id, code, message, trace_id=_trace(response))
            raise error_for_code(code, message, base_url=self.base_url, trace_id=_trace(response))
        return TaskStatus(
            task_id=str(data.get("task_id") or task_id),
            status=status,
            file_id=str(data["file_id"]) if data.get("file_id") not in (None, "") else None,
            video_width=_int(data.get("video_width")) or None,
            video_height=_int(data.get("video_height")) or None,
            code=code,
            message=str(base.get("status_msg", "")),
        )

    async def retrieve(self, file_id: str | int) -> FileInfo:
        """GET a file's metadata and a fresh download URL (valid about an hour)."""
        response = await self._get("/v1/files/retrieve", {"file_id": int(file_id)})
        file = self._business(response, asked_for=("file", str(file_id))).get("file") or {}
        url = file.get("download_url")
        if not url:
            raise TransientError("files/retrieve answered without a download_url", trace_id=_trace(response))
        return FileInfo(
            file_id=_int(file.get("file_id")) or int(file_id),
            bytes=_int(file.get("bytes")),
            filename=str(file.get("filename") or ""),
            download_url=str(url),
        )

    async def download(
        self,
        url: str,
        path: Path,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> Download:
        """Stream a video to `path` in bounded memory, fsync it, and return its size and sha256.

        The URL is a CDN link: it gets no Authorization header. A short body (fewer bytes than
        Content-Length) raises TransientError; an expired link raises UrlExpiredError.
        """
        digest = hashlib.sha256()
        written = 0
        try:
            async with self._http.stream("GET", url, timeout=self._download_timeout) as response:
                if response.status_code in (403, 410):
                    raise UrlExpiredError(f"download URL refused (HTTP {response.status_code}); it has probably expired")
                if response.status_code != 200:
                    raise TransientError(f"download answered HTTP {response.status_code}")
                expected = response.headers.get("Content-Length")
                with open(path, "wb") as out:
                    async for chunk in response.aiter_raw(DOWNLOAD_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        if progress:
                            progress(len(chunk))
                    out.flush()
                    os.fsync(out.fileno())
        except httpx.TransportError as exc:
            raise TransientError(f"download interrupted after {written} bytes: {_describe(exc)}") from exc
        if expected is not None and int(expected) != written:
            raise TransientError(f"download truncated: {written} of {expected} bytes")
        return Download(path=path, bytes=written, sha256=digest.hexdigest())

    # -- plumbing ------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        try:
            async with self._api_calls:
                response = await self._http.get(
                    f"{self.base_url}{path}", params=params, headers=self._auth, timeout=self._timeout
                )
        except httpx.TransportError as exc:
            raise TransientError(f"{path}: {_describe(exc)}") from exc
        if response.status_code == 429:
            raise RateLimitError("rate limited: HTTP 429", trace_id=_trace(response))
        if response.status_code >= 500:
            raise TransientError(f"{path} answered HTTP {response.status_code}", trace_id=_trace(response))
        return response

    def _business(self, response: httpx.Response, asked_for: tuple[str, str] | None = None) -> dict[str, Any]:
        """The JSON body of a 200 answer whose base_resp says success; the right error otherwise.
        `asked_for` ("file", id): the call's only parameter, so a 2013 means the server has no such thing."""
        data = _json(response)
        base = data.get("base_resp") or {}
        code = _int(base.get("status_code"))
        if code:
            message = str(base.get("status_msg", ""))
            if code == NOT_FOUND_CODE and asked_for is not None:
                raise TaskNotFoundError(*asked_for, code, message, trace_id=_trace(response))
            raise error_for_code(code, message, base_url=self.base_url, trace_id=_trace(response))
        return data


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 404:
        raise AccountError(
            f"{response.request.url.path} not found (HTTP 404): is MINIMAX_BASE_URL the API host, without /v1?",
            trace_id=_trace(response),
        )
    if response.status_code in (401, 403):
        raise AccountError(f"HTTP {response.status_code} from {response.request.url.path}: check MINIMAX_API_KEY",
                           trace_id=_trace(response))
    if 400 <= response.status_code < 500:
        raise ShotRejectedError(f"request refused: HTTP {response.status_code} from {response.request.url.path}",
                                trace_id=_trace(response))
    if response.status_code != 200:
        raise TransientError(f"HTTP {response.status_code} from {response.request.url.path}", trace_id=_trace(response))
    try:
        data = response.json()
    except ValueError as exc:
        raise TransientError("answer is not JSON", trace_id=_trace(response)) from exc
    if not isinstance(data, dict):
        raise TransientError("answer is not a JSON object", trace_id=_trace(response))
    return data


def _versionless(url: str) -> str:
    """Strip a trailing '/' and '/v1': '/v1' + '/v1/...' would double the prefix."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _trace(response: httpx.Response) -> str | None:
    return response.headers.get("Trace-Id")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _describe(exc: Exception) -> str:
    """A transport error's class and text; httpx messages carry no headers, so no key."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
