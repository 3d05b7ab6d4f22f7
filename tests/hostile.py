"""A tiny stdlib HTTP server on loopback that answers what a test tells it to, byte for byte.

The simulator answers correctly by design; tests of what the client and the runner do with a
malformed, lying or stubborn server use this instead.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Callable


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _serve(self) -> None:
        server: Hostile = self.server.hostile  # type: ignore[attr-defined]
        server.seen.append((self.command, self.path, dict(self.headers)))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        answer = server.routes.get(self.path.split("?")[0])
        if answer is None:
            self.raw(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            answer(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: that is what some tests want

    do_GET = do_POST = _serve

    def raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


class Hostile:
    """A threaded HTTP server on 127.0.0.1; `routes[path](handler)` writes the raw answer."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Handler], None]] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.hostile = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def json(self, path: str, body: object, *, headers: str = "") -> None:
        """Answer `path` with HTTP 200 and `body` (bytes as they are, anything else as JSON)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[path] = lambda h: h.raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers.encode()
            + f"Content-Length: {len(data)}\r\n\r\n".encode() + data
        )

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
