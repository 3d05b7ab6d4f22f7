"""The HTTP face of the simulator: routes, faults on the wire, streaming. I/O only; the
decisions live in engine.py (state), faults.py (dice) and stats.py (counters), for the v2
API beside v1 on the same port in v2engine.py, v2faults.py and v2codes.py, and for the image
API in imageengine.py and imagefaults.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from pipeline.sim import codes, v2codes
from pipeline.sim.codes import ApiError
from pipeline.sim.config import SimConfig
from pipeline.sim.engine import Engine, LinkError, redact
from pipeline.sim.faults import API, ERROR_FAULTS, FAULTS, HTTP_FAULTS, FaultDice
from pipeline.sim.imageconfig import ImageConfig
from pipeline.sim.imageengine import IMAGE_PREFIX, ImageEngine
from pipeline.sim.imagefaults import HTTP_FAULTS as IMAGE_HTTP_FAULTS
from pipeline.sim.imagefaults import IMAGE_FAULTS, ImageDice
from pipeline.sim.render import VideoCache
from pipeline.sim.stats import Stats
from pipeline.sim.v2codes import V2Error
from pipeline.sim.v2config import V2Config
from pipeline.sim.v2engine import CONTENT_PREFIX, V2Engine
from pipeline.sim.v2faults import ERROR_FAULTS as V2_ERROR_FAULTS
from pipeline.sim.v2faults import HTTP_FAULTS as V2_HTTP_FAULTS
from pipeline.sim.v2faults import V2_FAULTS, V2Dice
from pipeline.sim.v2render import VideoFiles

MAX_BODY_BYTES = 32 * 1024 * 1024  # base64 of a 20 MB image fits; more is refused with 413
SHOT_HEADER, TAKE_HEADER = "X-Shots-Shot", "X-Shots-Take"  # a client's hints to the simulator only
V2_MAX_BODY_BYTES = 64 * 1024 * 1024  # v2 rule 11: "whole request body <= 64 MB", else 400 (2013)
CHUNK = 64 * 1024
MAX_BLOB_BYTES = 1 << 40

ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/video_generation"): "create",
    ("GET", "/v1/query/video_generation"): "query",
    ("GET", "/v1/files/retrieve"): "retrieve",
    ("GET", "/v1/files/retrieve_content"): "retrieve_content",
    ("GET", "/_sim/stats"): "sim",
    ("GET", "/_sim/tasks"): "sim",
    ("GET", "/_sim/blob"): "blob",
    ("POST", "/v2/video_generation"): "v2_create",
    ("POST", "/v2/video_regeneration"): "v2_regenerate",
    ("POST", "/v2/h3_context_ir"): "v2_context_ir",
    ("GET", "/v2/query/video_generation"): "v2_list",
    ("GET", "/_sim/v2/tasks"): "sim",
    ("POST", "/v1/image_generation"): "image_generation",
    ("GET", "/_sim/images"): "sim",
}
DOWNLOAD_PREFIX = "/download/"
# v2 routes with the task id in the path: (method, prefix) -> endpoint
V2_ID_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v2/query/video_generation/"): "v2_query",
    ("DELETE", "/v2/video_generation/"): "v2_delete",
}
V2_ENDPOINTS = frozenset({"v2_create", "v2_regenerate", "v2_context_ir", "v2_list", "v2_query", "v2_delete",
                          "v2_download"})
IMAGE_ENDPOINTS = frozenset({"image_generation", "image_download"})

_HTTP_FAULT_BODIES = {
    500: ("application/json", b'{"error":"internal server error"}'),
    502: ("text/html", b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
                       b"</h1></center><hr><center>nginx</center></body></html>"),
    503: ("text/html", b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
                       b"<h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>"),
}


@dataclass
class _State:
    """What every handler thread shares."""

    cfg: SimConfig
    engine: Engine
    stats: Stats
    dice: FaultDice
    inject: Callable[[str], bool]  # roll for a fault by name; counted when it strikes
    base_url: str = ""
    log: Callable[[str], None] | None = None
    v2: V2Engine | None = None
    v2dice: V2Dice | None = None
    v2inject: Callable[[str], bool] = lambda name: False
    images: ImageEngine | None = None
    imagedice: ImageDice | None = None
    imageinject: Callable[[str], bool] = lambda name: False
    blob_chunk: bytes = b""
    connections: set[socket.socket] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops connections under a load test
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out, reset) is not a server error: stay quiet."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = "minimax-sim"
    sys_version = ""
    timeout = 300  # an idle keep-alive connection is closed after this
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stalls
    server: _Server

    # --- plumbing --------------------------------------------------------------------------

    @property
    def state(self) -> _State:
        return self.server.state

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.state.lock:
                self.state.connections.discard(self.connection)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Every answer, including the standard library's own error pages, gets a Trace-Id."""
        super().send_response(code, message)
        self.send_header("Trace-Id", secrets.token_hex(16))
        self.state.stats.answer(code, getattr(self, "_base_code", None))
        self._base_code = None

    def log_message(self, format: str, *args: Any) -> None:
        if self.state.log is not None:
            self.state.log(f"{self.address_string()} {format % args}")

    def handle_expect_100(self) -> bool:
        limit, refuse = self._body_limit()
        if self._too_large(limit):
            refuse()
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        """v2 only; elsewhere the standard library's own 501, as before v2 existed."""
        if _v2_route("DELETE", urlsplit(self.path).path) is None:
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        self._handle("DELETE")

    # --- dispatch --------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        endpoint = ROUTES.get((method, url.path))
        if endpoint is None and method == "GET" and url.path.startswith(DOWNLOAD_PREFIX):
            endpoint = "download"
        if endpoint is None and method == "GET" and url.path.startswith(IMAGE_PREFIX):
            endpoint = "image_download"
        if endpoint is None:
            endpoint = _v2_route(method, url.path)
        key = self._bearer()
        self.state.stats.request(endpoint or "other", redact(key) if key else None)
        self.state.stats.started()
        try:
            if endpoint in V2_ENDPOINTS:
                self._handle_v2(method, endpoint, url.path, params, key)
                return
            if endpoint in IMAGE_ENDPOINTS:
                self._handle_image(method, endpoint, url.path, params, key)
                return
            if endpoint in FAULTS["reset"] and self.state.inject("reset"):
                self._reset()
                return
            body = self._read_body() if method == "POST" else b""
            if body is None:
                return
            if endpoint is None:
                self._not_found(method, url.path)
            else:
                if endpoint in FAULTS["slow"] and self.state.inject("slow"):
                    time.sleep(self.state.cfg.slow_seconds)
                if not self._inject_errors(endpoint):
                    getattr(self, f"_do_{endpoint}")(url.path, params, key, body)
        except ApiError as exc:
            self._business_error(endpoint, exc)
        except V2Error as exc:
            self._v2_error(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a simulator bug: answer 500 and say why in the log
            self.close_connection = True
            message = traceback.format_exc()
            if self.state.log is not None:
                self.state.log(message)
            else:
                sys.stderr.write(message)
            self._json(500, {"error": "simulator error", "detail": message.strip().splitlines()[-1]})
        finally:
            self.state.stats.finished()

    def _inject_errors(self, endpoint: str) -> bool:
        """HTTP 5xx and base_resp error faults; True if one was answered."""
        if endpoint in FAULTS["http_500"]:
            for name in HTTP_FAULTS:
                if self.state.inject(name):
                    status = int(name[5:])
                    content_type, body = _HTTP_FAULT_BODIES[status]
                    self._send(status, body, content_type)
                    return True
        if endpoint in API:
            for name in ERROR_FAULTS:
                if self.state.inject(name):
                    self._business_error(endpoint, ApiError(int(name[6:])))
                    return True
        return False

    def _handle_v2(self, method: str, endpoint: str, path: str, params: dict, key: str | None) -> None:
        """A v2 request: the v2 faults (same order as v1's), then the route. V2Error is answered by _handle."""
        inject = self.state.v2inject
        if endpoint in V2_FAULTS["reset"] and inject("reset"):
            self._reset()
            return
        body = self._read_body(V2_MAX_BODY_BYTES, self._refuse_large_v2) if method in ("POST", "DELETE") else b""
        if body is None:
            return
        if endpoint in V2_FAULTS["slow"] and inject("slow"):
            time.sleep(self.state.cfg.slow_seconds)
        for name in (*V2_HTTP_FAULTS, *V2_ERROR_FAULTS):
            if endpoint in V2_FAULTS[name] and inject(name):
                self._v2_fault(name)
                return
        getattr(self, f"_do_{endpoint}")(path, params, key, body)

    def _handle_image(self, method: str, endpoint: str, path: str, params: dict, key: str | None) -> None:
        """An image request: the image faults (in v1's order), then the route. ApiError is answered by _handle."""
        inject = self.state.imageinject
        if endpoint in IMAGE_FAULTS["reset"] and inject("reset"):
            self._reset()
            return
        body = self._read_body() if method == "POST" else b""
        if body is None:
            return
        if endpoint in IMAGE_FAULTS["slow"] and inject("slow"):
            time.sleep(self.state.cfg.slow_seconds)
        for name in IMAGE_HTTP_FAULTS:
            if endpoint in IMAGE_FAULTS[name] and inject(name):
                content_type, page = _HTTP_FAULT_BODIES[int(name[5:])]
                self._send(int(name[5:]), page, content_type)
                return
        getattr(self, f"_do_{endpoint}")(path, params, key, body)

    def _v2_fault(self, name: str) -> None:
        errors = {"http_500": v2codes.server_error, "http_529": v2codes.overloaded, "error_429": v2codes.rate_limited,
                  "error_402": v2codes.no_balance, "error_422": v2codes.sensitive}
        if name in errors:
            self._v2_error(errors[name]())
        else:  # a gateway's page: not JSON
            content_type, body = _HTTP_FAULT_BODIES[int(name[5:])]
            self._send(int(name[5:]), body, content_type)

    # --- routes ----------------------------------------------------------------------------

    def _do_create(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        # Optional hints for the previz's label and take (engine.create); the API has no such headers.
        task = self.state.engine.create(key, body, shot=self.headers.get(SHOT_HEADER),
                                        take=self.headers.get(TAKE_HEADER))
        self.state.stats.task_created(task.fingerprint)
        if self.state.inject("drop_create"):
            self._reset()
            return
        self._json(200, {"task_id": task.task_id, "base_resp": codes.base_resp()})

    def _do_query(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        self._json(200, self.state.engine.query(key, params.get("task_id")))

    def _do_retrieve(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        # GroupId (legacy) is accepted and ignored.
        self._json(200, self.state.engine.retrieve(key, params.get("file_id"), self.state.base_url))

    def _do_retrieve_content(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        video = self.state.engine.content(key, params.get("file_id"))
        self._send_file(video, truncate=self.state.inject("truncate_download"))

    def _do_download(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        try:
            video = self.state.engine.download(path[len(DOWNLOAD_PREFIX):])
        except LinkError as exc:
            self._link_error(exc)
            return
        self._send_file(video, truncate=self.state.inject("truncate_download"))

    def _do_sim(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        if path.endswith("/stats"):
            self._json(200, self.state.stats.snapshot())
        elif path == "/_sim/v2/tasks":
            self._json(200, self.state.v2.tasks())
        elif path == "/_sim/images":
            self._json(200, self.state.images.generations())
        else:
            self._json(200, self.state.engine.tasks())

    # --- v2 routes -------------------------------------------------------------------------

    def _do_v2_create(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        self._v2_made(self.state.v2.create, key, body)

    def _do_v2_regenerate(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        self._v2_made(self.state.v2.create_regeneration, key, body)

    def _do_v2_context_ir(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        self._v2_made(self.state.v2.create_context_ir, key, body)

    def _v2_made(self, create: Callable[..., Any], key: str | None, body: bytes) -> None:
        """A v2 create of any kind: {"task_id"}, or the task made and the answer lost (drop_create)."""
        task = create(key, body, shot=self.headers.get(SHOT_HEADER), take=self.headers.get(TAKE_HEADER))
        self.state.stats.task_created(task.fingerprint)
        if self.state.v2inject("drop_create"):
            self._reset()  # the task exists (and is durable): the client cannot know
            return
        self._json(200, {"task_id": task.task_id})

    def _do_v2_query(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        task_id = path.rsplit("/", 1)[1]
        self._json(200, self.state.v2.query(key, task_id, self.state.base_url))

    def _do_v2_list(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        # filter.task_ids may come repeated as well as comma-joined: every value counts.
        every = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        self._json(200, self.state.v2.list(key, every, self.state.base_url))

    def _do_v2_delete(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        self._json(200, self.state.v2.delete(key, path.rsplit("/", 1)[1]))

    def _do_v2_download(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        try:
            video = self.state.v2.download(path, params)
        except LinkError as exc:
            self._link_error(exc)
            return
        self._send_file(video, truncate=self.state.v2inject("truncate_download"))

    # --- image routes ----------------------------------------------------------------------

    def _do_image_generation(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        """Synchronous: the stills are made (and billed) before the answer, which drop_create loses."""
        made = self.state.images.generate(key, body, shot=self.headers.get(SHOT_HEADER),
                                          take=self.headers.get(TAKE_HEADER))
        self.state.stats.images_made(redact(made.key), made.billed)
        if self.state.imageinject("drop_create"):
            self._reset()  # made and billed: a client that retries pays again
            return
        self._json(200, self.state.images.answer(made, self.state.base_url))

    def _do_image_download(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        try:
            still = self.state.images.download(path, params)
        except LinkError as exc:
            self._link_error(exc)
            return
        self._send_file(still, truncate=self.state.imageinject("truncate_download"), content_type="image/jpeg")

    def _link_error(self, exc: LinkError) -> None:
        """A dead link as an object store answers it: 403 or 404 with an XML body."""
        self._send(exc.status, f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                   f"{'AccessDenied' if exc.status == 403 else 'NoSuchKey'}</Code><Message>{exc.message}"
                   f"</Message></Error>".encode(), "application/xml")

    def _do_blob(self, path: str, params: dict, key: str | None, body: bytes) -> None:
        """N pseudo-random bytes, streamed, for download throughput benchmarks."""
        text = params.get("bytes", "")
        if not text.isascii() or not text.isdigit() or int(text) > MAX_BLOB_BYTES:
            self._json(400, {"error": f"bytes must be a whole number from 0 to {MAX_BLOB_BYTES}"})
            return
        remaining = int(text)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(remaining))
        self.end_headers()
        chunk = self.state.blob_chunk
        while remaining:
            n = min(remaining, len(chunk))
            self.wfile.write(chunk[:n] if n < len(chunk) else chunk)
            remaining -= n

    def _not_found(self, method: str, path: str) -> None:
        if any(p == path for _, p in ROUTES):
            allowed = ", ".join(m for m, p in ROUTES if p == path)
            self._json(405, {"error": f"method {method} not allowed on {path}; use {allowed}"}, {"Allow": allowed})
        else:
            self._json(404, {"error": "404 page not found", "path": path})

    # --- answers ---------------------------------------------------------------------------

    def _bearer(self) -> str | None:
        value = self.headers.get("Authorization", "")
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None

    def _business_error(self, endpoint: str | None, exc: ApiError) -> None:
        answer: dict[str, Any] = {"base_resp": codes.base_resp(exc.code, exc.message)}
        if endpoint == "create":
            answer = {"task_id": "", **answer}
        elif endpoint == "image_generation":
            answer = {"id": "", **answer}
        self._json(200, answer)

    def _v2_error(self, exc: V2Error) -> None:
        """A v2 error answer: its HTTP status and the A6 body (the internal code counted in the stats)."""
        self._base_code = exc.code
        self._send(exc.status, json.dumps(exc.body(), ensure_ascii=False).encode("utf-8"),
                   "application/json; charset=utf-8")

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(obj, dict) and isinstance(obj.get("base_resp"), dict):
            self._base_code = obj["base_resp"].get("status_code")
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                   "application/json; charset=utf-8", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_file(self, path: Path, truncate: bool = False, content_type: str = "video/mp4") -> None:
        """Stream a file, honouring one `Range: bytes=...`; `truncate` sends half and hangs up."""
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        wanted = _parse_range(self.headers.get("Range"), size)
        if wanted == "unsatisfiable":
            self._send(416, b"", content_type, {"Content-Range": f"bytes */{size}"})
            return
        if wanted is not None:
            (start, end), status = wanted, 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        remaining = length // 2 if truncate else length
        sent = 0
        try:
            with open(path, "rb") as f:
                f.seek(start)
                while remaining:
                    data = f.read(min(CHUNK, remaining))
                    if not data:
                        break
                    self.wfile.write(data)
                    sent += len(data)
                    remaining -= len(data)
        finally:
            self.state.stats.sent(sent)
        if truncate:
            self.close_connection = True

    # --- bodies and broken connections -----------------------------------------------------

    def _body_limit(self) -> tuple[int, Callable[[], None]]:
        """The largest body this path takes, and how a larger one is refused."""
        if urlsplit(self.path).path.startswith("/v2/"):
            return V2_MAX_BODY_BYTES, self._refuse_large_v2
        return MAX_BODY_BYTES, self._refuse_large

    def _too_large(self, limit: int = MAX_BODY_BYTES) -> bool:
        try:
            return int(self.headers.get("Content-Length") or 0) > limit
        except ValueError:
            return False

    def _refuse_large(self) -> None:
        self.close_connection = True
        self._base_code = codes.INVALID_PARAMS
        self._send(413, json.dumps({"base_resp": codes.base_resp(
            codes.INVALID_PARAMS, f"invalid params, request body is over {MAX_BODY_BYTES} bytes")}).encode(),
            "application/json; charset=utf-8", {"Connection": "close"})

    def _refuse_large_v2(self) -> None:
        self.close_connection = True
        error = v2codes.bad_request(f"request body is over {V2_MAX_BODY_BYTES} bytes (64 MB); "
                                    f"send media as URLs or mm_file:// instead of data URIs")
        self._base_code = error.code
        self._send(400, json.dumps(error.body()).encode(), "application/json; charset=utf-8", {"Connection": "close"})

    def _read_body(self, limit: int = MAX_BODY_BYTES, refuse: Callable[[], None] | None = None) -> bytes | None:
        """The request body (Content-Length or chunked), or None once a 4xx has been answered."""
        refuse = refuse or self._refuse_large
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit, refuse)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._json(400, {"error": "bad Content-Length"}, {"Connection": "close"})
            return None
        if length > limit:
            refuse()
            return None
        return self.rfile.read(length)

    def _read_chunked(self, limit: int, refuse: Callable[[], None]) -> bytes | None:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                n = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                self.close_connection = True
                self._json(400, {"error": "bad chunked encoding"}, {"Connection": "close"})
                return None
            if n == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(parts)
            total += n
            if total > limit:
                refuse()
                return None
            parts.append(self.rfile.read(n))
            self.rfile.readline(16)

    def _reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), answering nothing."""
        self.close_connection = True
        sock = self.connection
        with self.state.lock:
            self.state.connections.discard(sock)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())  # close the descriptor now, whatever rfile/wfile still hold
        except OSError:
            pass


def _nominal(width: int, height: int) -> tuple[int, int]:
    """V2Config.full_size: the previz as big as the video it stands for."""
    return width, height


def _v2_route(method: str, path: str) -> str | None:
    """The v2 endpoint of a path that carries a task id (or a content URL), else None."""
    for (m, prefix), endpoint in V2_ID_ROUTES.items():
        if m == method and path.startswith(prefix):
            task_id = path[len(prefix):]
            return endpoint if task_id and "/" not in task_id else None
    if method == "GET" and path.startswith(CONTENT_PREFIX):
        return "v2_download"
    return None


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) of a single byte range, 'unsatisfiable', or None to send everything."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return "unsatisfiable"
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


def check_loopback(host: str) -> None:
    """ValueError unless `host` is a loopback address: the simulator never listens on a network."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the simulator listens only on loopback (127.0.0.1, ::1, localhost), not {host!r}")


class Simulator:
    """The MiniMax v1 and v2 video APIs on 127.0.0.1, in a background thread.

        with Simulator(SimConfig(time_scale=0.01)) as sim:
            client = httpx.Client(base_url=sim.base_url)
    """

    def __init__(self, cfg: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 log: Callable[[str], None] | None = None, now: Callable[[], float] = time.time,
                 v2: V2Config | None = None, image: ImageConfig | None = None) -> None:
        """`now`: the clock every task's schedule, rate window and URL lifetime is read from (a
        test gives a virtual one, with time_scale 1, to run the simulator and a client in step).
        `v2`, `image`: the v2 and image API switches (default: cfg.v2, cfg.image)."""
        check_loopback(host)
        self.cfg = cfg or SimConfig()
        self.v2 = v2 if v2 is not None else self.cfg.v2
        self.image = image if image is not None else self.cfg.image
        self.host, self._port, self._log, self._now = host, port, log, now
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: str | None = None
        self._state: _State | None = None

    def start(self) -> "Simulator":
        if self._server is not None:
            raise RuntimeError("simulator already started")
        cfg = self.cfg
        # With a state_dir the videos are not kept there: a later simulator renders them again,
        # byte for byte the same, from the task's line (the output folder keeps no second copy).
        if cfg.render_cache_dir is None:
            self._tempdir = tempfile.mkdtemp(prefix="shots-sim-")
        stats, dice = Stats(), FaultDice(cfg.faults, cfg.seed)

        def inject(name: str) -> bool:
            if dice.roll(name):
                stats.fault(name)
                return True
            return False

        v2dice = V2Dice(self.v2.faults, cfg.seed)

        def v2inject(name: str) -> bool:
            if v2dice.roll(name):
                stats.fault(f"v2_{name}")
                return True
            return False

        imagedice = ImageDice(self.image.faults, cfg.seed)

        def imageinject(name: str) -> bool:
            if imagedice.roll(name):
                stats.fault(f"image_{name}")
                return True
            return False

        engine: Engine | None = None
        v2engine: V2Engine | None = None
        try:
            cache = VideoCache(cfg.render_cache_dir or self._tempdir)
            engine = Engine(cfg, videos=cache, now=self._now, roll=inject)
            v2engine = V2Engine(cfg, self.v2, authenticate=engine.authenticate, now=self._now, roll=v2inject,
                                videos=VideoFiles(cache, _nominal if self.v2.full_size else cfg.previz_size))
            images = ImageEngine(cfg, self.image, folder=cache.directory / "images", authenticate=engine.authenticate,
                                 also_valid=self.v2.token_plan_keys, now=self._now, roll=imageinject)
            state = _State(cfg, engine, stats, dice, inject, log=self._log,
                           blob_chunk=random.Random(f"{cfg.seed}:blob").randbytes(CHUNK),
                           v2=v2engine, v2dice=v2dice, v2inject=v2inject,
                           images=images, imagedice=imagedice, imageinject=imageinject)
            server_class = _Server
            if ":" in self.host:
                server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
            self._server = server_class((self.host, self._port), _Handler)
        except BaseException:
            if engine is not None:
                engine.close()
            if v2engine is not None:
                v2engine.close()
            self._remove_tempdir()
            raise
        self._server.state = state
        self._state = state
        port = self._server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        state.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"minimax-sim:{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, cut open connections, remove the temporary render folder."""
        if self._server is None:
            return
        self._server.shutdown()
        with self._state.lock:
            connections = list(self._state.connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None
        self._state.engine.close()
        self._state.v2.close()
        self._remove_tempdir()

    def _remove_tempdir(self) -> None:
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _live(self) -> _State:
        if self._state is None:
            raise RuntimeError("simulator not started")
        return self._state

    @property
    def base_url(self) -> str:
        """'http://127.0.0.1:PORT', versionless like the real API host."""
        return self._live().base_url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def engine(self) -> Engine:
        return self._live().engine

    def stats(self) -> dict[str, Any]:
        """The same dict as GET /_sim/stats."""
        return self._live().stats.snapshot()

    def tasks(self) -> list[dict[str, Any]]:
        """The same list as GET /_sim/tasks."""
        return self._live().engine.tasks()

    def set_faults(self, faults: dict[str, float]) -> None:
        """Replace the fault probabilities (ValueError for an unknown name or a bad probability)."""
        self._live().dice.set(faults)

    @property
    def v2_engine(self) -> V2Engine:
        return self._live().v2

    def v2_tasks(self) -> list[dict[str, Any]]:
        """The same list as GET /_sim/v2/tasks."""
        return self._live().v2.tasks()

    def set_v2_faults(self, faults: dict[str, float]) -> None:
        """Replace the v2 fault probabilities (v2faults.V2_FAULTS names)."""
        self._live().v2dice.set(faults)

    @property
    def image_engine(self) -> ImageEngine:
        return self._live().images

    def images(self) -> list[dict[str, Any]]:
        """The same list as GET /_sim/images."""
        return self._live().images.generations()

    def set_image_faults(self, faults: dict[str, float]) -> None:
        """Replace the image fault probabilities (imagefaults.IMAGE_FAULTS names)."""
        self._live().imagedice.set(faults)

    def reset_stats(self) -> None:
        self._live().stats.reset()

    def __repr__(self) -> str:
        where = self._state.base_url if self._server is not None and self._state else "stopped"
        return f"<Simulator {where} time_scale={self.cfg.time_scale:g}>"


def serve(cfg: SimConfig, host: str = "127.0.0.1", port: int = 8765, v2: V2Config | None = None) -> None:
    """Run the simulator in the foreground until Ctrl-C (or SIGTERM), logging each request to stderr."""
    check_loopback(host)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM stops as cleanly as Ctrl-C, so the temporary render folder is removed.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if in_main else None
    sim = Simulator(cfg, host=host, port=port, log=log, v2=v2).start()
    print(f"MiniMax simulator on {sim.base_url} (keys: {', '.join(redact(k) for k in cfg.keys)}; "
          f"time scale {cfg.time_scale:g}); Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("simulator stopped", file=sys.stderr, flush=True)
    finally:
        sim.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
