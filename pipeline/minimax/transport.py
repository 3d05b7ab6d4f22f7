"""The HTTP under both API dialects: one connection pool, one cap on calls in flight, one secret
key, the create's "did it leave this machine" rule, and the verified streaming download.

v1 (client.py) and v2 (v2client.py) share one Transport, so a run that uses both never holds
two pools or lets twice the calls through. The key is held privately and never appears in a
message, repr or exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import httpx

from pipeline.minimax.account import api_key_from_env, base_url_from
from pipeline.minimax.apierrors import (
    AccountError,
    DownloadError,
    MalformedAnswerError,
    TransientError,
    UncertainCreateError,
    UrlExpiredError,
)

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


@dataclass(frozen=True)
class Download:
    path: Path
    bytes: int
    sha256: str


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


Hints = Mapping[str, Any]  # a create's {"shot": id, "take": n}: for the built-in simulator's previz only


class Transport:
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
        simulator_hints: bool = False,
    ):
        """`simulator_hints`: send a create's shot and take as X-Shots-* headers, for the built-in
        simulator's previz label; never for any other server (the API is told only the API's fields)."""
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
        self._simulator_hints = simulator_hints

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, api_key=<redacted>)"

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    async def send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   json: Any = None, headers: Mapping[str, str] | None = None,
                   timeout: httpx.Timeout | None = None) -> httpx.Response:
        """One API call under the in-flight cap, with the key. httpx's own errors pass through.
        `timeout`: this call's own (the image API answers only when its images are made)."""
        async with self._api_calls:
            return await self._http.request(
                method, f"{self.base_url}{path}", params=params, json=json,
                headers={**(headers or {}), **self._auth}, timeout=timeout or self._timeout,
            )

    def hint_headers(self, hints: Hints | None) -> dict[str, str]:
        """The X-Shots-* headers of a create, for the built-in simulator only."""
        if not self._simulator_hints or not hints:
            return {}
        return {f"X-Shots-{name.title()}": str(value) for name, value in hints.items() if value is not None}

    async def create(self, path: str, body: dict[str, Any], hints: Hints | None = None, *,
                     timeout: httpx.Timeout | None = None) -> httpx.Response:
        """POST a create. A failure before the request left this machine is a TransientError (no
        task can exist); any later one is an UncertainCreateError. The answer's status is the
        dialect's to read."""
        try:
            return await self.send("POST", path, json=body, headers=self.hint_headers(hints), timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Never left this machine: no task can exist.
            raise TransientError(f"cannot connect to {self.base_url}: {describe(exc)}") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise UncertainCreateError(
                f"create sent but its answer was lost ({describe(exc)}); a billed task may exist"
            ) from exc

    async def read(self, method: str, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A call that makes nothing (a query, a list, a retrieve): any failure on the way is transient."""
        try:
            return await self.send(method, path, params=params)
        except httpx.TransportError as exc:
            raise TransientError(f"{path}: {describe(exc)}") from exc
        except httpx.DecodingError as exc:  # a Content-Encoding its body does not match
            raise MalformedAnswerError(f"{path}: the answer could not be decoded ({describe(exc)})") from exc

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
        the API announced (None or 0: not announced). Raises DownloadError when the body is cut
        (short of Content-Length, or a chunked body that never ends), when the file written
        differs from `expected_bytes`, when the whole download outlasts its deadline
        (download_deadline of the announced size, else of Content-Length), or when it comes in
        an encoding that cannot be undone; UrlExpiredError for an expired link. A body that
        simply stops, with neither size known, is only caught by video.verify.
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
                    wire = whole(response.headers.get("Content-Length"))
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
            raise DownloadError(f"download could not be decoded after {written} bytes: {describe(exc)}") from exc
        except httpx.TransportError as exc:
            raise DownloadError(f"download interrupted after {written} bytes: {describe(exc)}") from exc
        except httpx.InvalidURL as exc:
            raise MalformedAnswerError(f"the download URL is not a URL: {describe(exc)}") from exc
        if wire is not None and received != wire:
            raise DownloadError(f"download truncated: {received} of {wire} bytes")
        if announced is not None and written != announced:
            raise DownloadError(f"download has {written} of {announced} bytes the API announced")
        return Download(path=path, bytes=written, sha256=digest.hexdigest())


# -- reading answers: shared by both dialects ---------------------------------------------


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's body as a JSON object; MalformedAnswerError for anything else."""
    try:
        data = response.json()
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's depth
        raise MalformedAnswerError(f"{response.request.url.path}: answer is not JSON",
                                   trace_id=trace_of(response)) from exc
    if not isinstance(data, dict):
        raise malformed(response, "JSON that is not a JSON object", data)
    return data


def malformed(response: httpx.Response, what: str, value: Any) -> MalformedAnswerError:
    return MalformedAnswerError(f"{response.request.url.path} answered {what}: {show(value)}",
                                trace_id=trace_of(response))


def show(value: Any) -> str:
    """A value from an answer, short enough for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def whole(value: Any) -> int | None:
    """A non-negative integer (an id, a size) given as a number or as its digits; None for anything
    else. Strict on purpose: a float id may already have lost digits, and True is not 1."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    return None


def ident(value: Any) -> str:
    """A task id given as text or as a whole number; "" for anything else."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def trace_of(response: httpx.Response) -> str | None:
    return response.headers.get("Trace-Id")


def describe(exc: Exception) -> str:
    """A transport error's class and text; httpx messages carry no headers, so no key."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


class OnTransport:
    """What every dialect client shares: a Transport of its own (closed with it) or one it is given."""

    _transport: Transport
    _own_transport: bool

    def _use(self, transport: Transport | None, make: Callable[[], Transport]) -> None:
        self._own_transport = transport is None
        self._transport = transport or make()

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<redacted>)"

    async def __aenter__(self):  # noqa: ANN204  (the subclass itself)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_transport:
            await self._transport.aclose()
