"""The async MiniMax v1 video client: create, query, retrieve, download; one call each, no policy.

Retries, pacing and resume live in the runner; this module only says what happened, as a value
or as one of these errors (every `base_resp` code and transport failure maps to exactly one):

    ApiError                   root (a ShotsError); .code, .trace_id
    ├── TransientError         a later identical call may succeed: network error, HTTP 5xx,
    │   │                      1000/1001/1013/1024/1033/1039/1041; safe to retry for reads
    │   ├── RateLimitError     1002/2045 or HTTP 429: retry later, and slow down
    │   ├── UrlExpiredError    the download URL expired (HTTP 403/410): retrieve a new one
    │   ├── DownloadError      a download cut short, of another size than announced, past its
    │   │                      deadline, or in an encoding we cannot undo: retrieve a new URL
    │   └── MalformedAnswerError  a 200 answer that is not the documented JSON (not JSON, a
    │                          field of the wrong type, a file_id that is no integer)
    ├── AccountError           1004/1008/2049/2056, or the host is wrong: stop all new work
    ├── ShotRejectedError      1026/1027/2013/1042 or an unknown code: this shot failed for good
    │   └── TaskNotFoundError  2013 on a query or a retrieve: the server has no such task or file
    │                          (expired, made with another key, or on another server)
    └── UncertainCreateError   a create was sent but its answer was lost: a task may exist
                               and be billed; never retry it blindly

A create whose answer is malformed or unreadable is an UncertainCreateError, never a
TransientError: the server may have made the task. The API key is held privately and never
appears in a message, repr or exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import httpx

from pipeline.errors import EXIT_ABORTED, ShotsError
from pipeline.minimax.account import api_key_from_env, base_url_from

API_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # per read; the MCP hung forever without one
DOWNLOAD_CHUNK = 1024 * 1024
# The read timeout bounds each read, not the download: a server sending a byte a second would
# never time out. So each download also has a deadline, scaled to its size.
DOWNLOAD_DEADLINE_FLOOR = 60.0  # seconds, however small the file
DOWNLOAD_MIN_THROUGHPUT = 100_000  # bytes a second; slower than this is a stuck download
DOWNLOAD_UNSIZED_DEADLINE = 600.0  # no size announced at all: a 60 MB video at the minimum rate
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


class DownloadError(TransientError):
    """Raised when a download did not bring the whole file as it is: a fresh URL may."""


class MalformedAnswerError(TransientError):
    """Raised when a 200 answer is not the documented JSON; `.code` is None (nothing was said)."""


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


def download_deadline(size: int | None) -> float:
    """Seconds a download of `size` bytes may take in all; None or 0: the size is not known."""
    if not size:
        return DOWNLOAD_UNSIZED_DEADLINE
    return max(DOWNLOAD_DEADLINE_FLOOR, size / DOWNLOAD_MIN_THROUGHPUT)


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
        download_deadline: Callable[[int | None], float] = download_deadline,
    ):
        key = api_key or api_key_from_env()
        if not key:
            raise AccountError(
                "no API key: set MINIMAX_API_KEY (or run without one against the built-in simulator)"
            )
        self._key = _Secret(key)
        self.base_url = base_url_from(base_url)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(
            max_connections=API_CALLS_AT_ONCE + DOWNLOAD_CONNECTIONS, max_keepalive_connections=KEEPALIVE,
        ))
        self._api_calls = asyncio.Semaphore(API_CALLS_AT_ONCE)
        self._timeout = timeout
        self._download_timeout = download_timeout
        self._download_deadline = download_deadline

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
        except (httpx.TransportError, httpx.DecodingError) as exc:
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
        """Stream a video to `path` in bounded memory, fsync it, and return its size and sha256.

        The URL is a CDN link: it gets no Authorization header. `expected_bytes` is the size
        files/retrieve announced (FileInfo.bytes; None or 0: not announced). Raises DownloadError
        when the body is cut (short of Content-Length, or a chunked body that never ends), when
        the file written differs from `expected_bytes`, when the whole download outlasts its
        deadline (download_deadline of the announced size, else of Content-Length), or when
        it comes in an encoding that cannot be undone; UrlExpiredError for an expired link.
        A body that simply stops, with neither size known, is only caught by video.verify.
        """
        announced = expected_bytes or None
        digest = hashlib.sha256()
        written = 0
        wire: int | None = None  # Content-Length: bytes on the wire, before any decoding
        loop = asyncio.get_running_loop()
        began = loop.time()
        deadline = asyncio.timeout(self._download_deadline(announced))
        try:
            async with deadline:
                async with self._http.stream(
                    "GET", url, headers=_IDENTITY, timeout=self._download_timeout
                ) as response:
                    if response.status_code in (403, 410):
                        raise UrlExpiredError(
                            f"download URL refused (HTTP {response.status_code}); it has probably expired")
                    if response.status_code != 200:
                        raise TransientError(f"download answered HTTP {response.status_code}")
                    wire = _whole(response.headers.get("Content-Length"))
                    if announced is None and wire:
                        deadline.reschedule(began + self._download_deadline(wire))
                    _check_encoding(response)
                    with open(path, "wb") as out:
                        # aiter_bytes, not aiter_raw: it undoes a gzip/deflate the server sent
                        # although we asked for identity, so the file on disk is the video.
                        async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            written += len(chunk)
                            if progress:
                                progress(len(chunk))
                        out.flush()
                        os.fsync(out.fileno())
                    received = response.num_bytes_downloaded
        except TimeoutError as exc:
            seconds = (deadline.when() or loop.time()) - began
            raise DownloadError(
                f"download too slow: {written} bytes in its {seconds:.3g} s deadline"
                f"{f' for {announced or wire} bytes' if announced or wire else ''}"
            ) from exc
        except httpx.DecodingError as exc:
            raise DownloadError(f"download could not be decoded after {written} bytes: {_describe(exc)}") from exc
        except httpx.TransportError as exc:
            raise DownloadError(f"download interrupted after {written} bytes: {_describe(exc)}") from exc
        except httpx.InvalidURL as exc:
            raise MalformedAnswerError(f"the download URL is not a URL: {_describe(exc)}") from exc
        if wire is not None and received != wire:
            raise DownloadError(f"download truncated: {received} of {wire} bytes")
        if announced is not None and written != announced:
            raise DownloadError(f"download has {written} of {announced} bytes the API announced")
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
        except httpx.DecodingError as exc:  # a Content-Encoding its body does not match
            raise MalformedAnswerError(f"{path}: the answer could not be decoded ({_describe(exc)})") from exc
        if response.status_code == 429:
            raise RateLimitError("rate limited: HTTP 429", trace_id=_trace(response))
        if response.status_code >= 500:
            raise TransientError(f"{path} answered HTTP {response.status_code}", trace_id=_trace(response))
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
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's depth
        raise MalformedAnswerError(f"{response.request.url.path}: answer is not JSON",
                                   trace_id=_trace(response)) from exc
    if not isinstance(data, dict):
        raise _malformed(response, "JSON that is not a JSON object", data)
    return data


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


def _malformed(response: httpx.Response, what: str, value: Any) -> MalformedAnswerError:
    return MalformedAnswerError(f"{response.request.url.path} answered {what}: {_show(value)}",
                                trace_id=_trace(response))


def _show(value: Any) -> str:
    """A value from an answer, short enough for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _whole(value: Any) -> int | None:
    """A non-negative integer (an id, a size) given as a number or as its digits; None for anything
    else. Strict on purpose: a float id may already have lost digits, and True is not 1."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    return None


def _ident(value: Any) -> str:
    """A task id given as text or as a whole number; "" for anything else."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return url.scheme in ("http", "https") and bool(url.host)


_IDENTITY = {"Accept-Encoding": "identity"}  # a video gains nothing from compression
try:  # the encodings httpx's aiter_bytes undoes (br and zstd need optional packages)
    from httpx._decoders import SUPPORTED_DECODERS as _DECODERS

    _DECODABLE = frozenset(_DECODERS) | {"none"}
except ImportError:  # pragma: no cover - a future httpx
    _DECODABLE = frozenset({"identity", "none", "gzip", "deflate"})


def _check_encoding(response: httpx.Response) -> None:
    """httpx passes an encoding it does not know through untouched: refuse it, never save it."""
    names = [n.strip().lower() for n in response.headers.get("Content-Encoding", "").split(",") if n.strip()]
    unknown = [n for n in names if n not in _DECODABLE]
    if unknown:
        raise DownloadError(f"download came as Content-Encoding {', '.join(unknown)}, which cannot be decoded here")


def _trace(response: httpx.Response) -> str | None:
    return response.headers.get("Trace-Id")


def _describe(exc: Exception) -> str:
    """A transport error's class and text; httpx messages carry no headers, so no key."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
