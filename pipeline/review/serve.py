"""`shots review M`: the contact sheet served on 127.0.0.1, with controls that write decisions.

The page is the contact sheet (report.collect, sheet_html.render_html) in review mode: each
panel can pick a take, approve (or undo it) and mark the shot for redo with a note. Each action
goes through manifest/decisions.py, the code of `shots pick`, `approve` and `redo` (an in-place
edit, edit.set_fields, refused if the manifest would not validate): only its lines change, and
the answer names them ("manifests/x.yaml:12  pick: 2"), which the page shows. The page sends back the sha256 of the
manifest it last saw, so an edit made meanwhile by hand is never overwritten: that is a 409,
and the page, which polls the sha256, reloads and says why.

Who may act: only a page this server drew. The server listens on 127.0.0.1 alone and answers
only requests addressed to it by that name (a Host header of 127.0.0.1 or localhost: no DNS
rebinding); every API call carries the session's token, which only the page holds (32 random
bytes in a <meta>; another site's page cannot read it, it gets no CORS header); a POST must come
from the page's own origin (or say none) and be `application/json`, which a plain form cannot
send. Files are served only when the page references them, from the output folder.

cli.py builds this module's parser on every start, so it loads only the standard library's light
modules: the page, the manifest and the HTTP server are imported when a review starts.
"""

from __future__ import annotations

import argparse
import hmac
import html
import json
import logging
import re
import sys
import threading
from dataclasses import replace
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote, urlsplit

from pipeline.errors import EXIT_OK, InputError, ShotsError

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from pipeline.manifest.edit import Edit
    from pipeline.manifest.models import Shot

__all__ = ["LOOPBACK", "TOKEN_HEADER", "ActionError", "ReviewServer", "ReviewSession", "add_review_parser",
           "cmd_review", "endpoint_of", "referenced_files", "shot_state"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TOKEN_HEADER = "X-Shots-Token"
MAX_BODY = 64 * 1024  # an action is a few dozen bytes; a note, a sentence or two
MAX_NOTE = 2000  # characters
ACTIONS = {"/api/pick": "pick", "/api/approve": "approve", "/api/redo": "redo"}
# The page loads nothing from anywhere but this server, runs only its own inline script, posts
# nowhere, and is never framed (another page cannot trick a click on it).
PAGE_POLICY = ("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; "
               "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
               "frame-ancestors 'none'")
_LINK = re.compile(r'(?:src|href|poster)="([^"]*)"')


class ActionError(Exception):
    """An action refused, with the HTTP status that says why (400 bad request, 404 no such shot,
    409 the manifest changed or cannot be used); str() is the message the page shows."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- the session: page, state, decisions (no HTTP here) --------------------------------------------


class ReviewSession:
    """One `shots review`: the manifest (named as the user gave it), where its results are, and
    the token. Draws the page, answers the state, writes decisions; safe from the server's threads."""

    def __init__(self, manifest: str, endpoint: str, out_dir: Path, token: str | None = None) -> None:
        self.manifest = manifest
        self.path = Path(manifest)
        self.endpoint, self.out_dir = endpoint, out_dir
        self.token = token or _new_token()
        self._drawing = threading.Lock()
        self._deciding = threading.Lock()  # one action at a time, and the state it reads
        self._page: tuple[tuple[str, int, int], bytes] | None = None  # (manifest sha, ledger stat), the page
        self._files: frozenset[str] = frozenset()  # what the last page drawn references
        self._facts: tuple[str, dict[str, Shot] | str] | None = None  # sha -> its shots, or why it cannot be used

    # The page

    def page(self) -> bytes:
        """The review page, drawn again when the manifest or the ledger changed since the last one."""
        from pipeline.manifest import cache
        from pipeline.review import sheet_html
        from pipeline.review.report import collect
        from pipeline.run import ledger

        with self._drawing:
            sha = self._sha()
            key = (sha, *_stat(ledger.ledger_path(self.out_dir)))
            if self._page is not None and self._page[0] == key:
                return self._page[1]
            review = sheet_html.Review(self.token, sha)
            try:
                manifest = cache.load(self.path, [])  # a shot with errors is a panel saying so, as in `shots report`
                data = replace(collect(manifest, self.endpoint, self.out_dir), manifest=self.manifest)
            except (ShotsError, OSError) as exc:  # the manifest edited into an error, a damaged ledger
                text = sheet_html.render_review_problem(self.manifest, _why(exc), review)
            else:
                text = sheet_html.render_html(data, review)
            self._files = referenced_files(text)
            self._page = (key, text.encode("utf-8"))
            return self._page[1]

    def file(self, name: str) -> Path | None:
        """The file `name` (relative to the output folder, as the page writes it) if the page
        references it and it is a file inside the output folder; else None."""
        if name not in self._files:
            return None
        root = self.out_dir.resolve()
        try:
            real = (root / name).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return real if real.is_relative_to(root) and real.is_file() else None

    # The state

    def state(self) -> dict[str, Any]:
        """The manifest's sha256 and each shot's decisions: what the page polls."""
        with self._deciding:
            sha, shots = self._current()
        if isinstance(shots, str):
            return {"sha": sha, "manifest": self.manifest, "error": shots, "shots": {}}
        return {"sha": sha, "manifest": self.manifest, "shots": {i: shot_state(s) for i, s in shots.items()}}

    def _current(self) -> tuple[str, dict[str, Shot] | str]:
        """(the manifest's sha256, its shots by id or why it cannot be used), checked once per sha."""
        from pipeline.manifest import cache

        sha = self._sha()
        if self._facts is None or self._facts[0] != sha:
            try:
                # As the page is drawn: a shot with errors is left out, the others can still be decided
                shots: dict[str, Shot] | str = {s.id: s for s in cache.load(self.path, []).shots}
            except (InputError, OSError) as exc:
                shots = _why(exc)
            self._facts = (sha, shots)
        return self._facts

    def _sha(self) -> str:
        from pipeline.manifest.edit import manifest_sha256

        try:
            return manifest_sha256(self.path)
        except OSError:
            return ""  # gone: the state says so (cannot be used), and it differs from any page's

    # The decisions

    def act(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Apply `action` ("pick", "approve", "redo") to the shot `body` names, if the manifest is
        still the one the page saw (`body["sha"]`). Returns the new sha256, the lines changed and
        the shot's decisions; raises ActionError."""
        from pipeline.manifest.edit import EditConflict

        shot_id, expect = _field(body, "shot", str), _field(body, "sha", str)
        with self._deciding:
            sha, shots = self._current()
            if isinstance(shots, str):
                raise ActionError(HTTPStatus.CONFLICT, f"{self.manifest} cannot be used now: {shots}")
            if expect != sha:
                raise ActionError(HTTPStatus.CONFLICT, f"{self.manifest} changed on disk since the page read it; "
                                                       f"the page reloads with what it says now")
            shot = shots.get(shot_id)
            if shot is None:
                raise ActionError(HTTPStatus.NOT_FOUND, f"{self.manifest} has no shot {shot_id!r}")
            changes = {k: v for k, v in _changes(action, body, shot).items() if getattr(shot, k) != v}
            edits: list[Edit] = []
            if changes:
                try:
                    edits = _decide(self.path, shot_id, action, changes, expect)
                except EditConflict as exc:  # changed between the check above and the write
                    raise ActionError(HTTPStatus.CONFLICT, str(exc)) from None
                except InputError as exc:  # it would not validate, or a shot it cannot edit safely
                    raise ActionError(HTTPStatus.CONFLICT, str(exc)) from None
            decided = shot.model_copy(update=changes)
            if edits:
                sha = self._sha()
                self._facts = (sha, {**shots, shot_id: decided})
        answer: dict[str, Any] = {
            "sha": sha, "manifest": self.manifest, "shot": shot_state(decided),
            "edits": [{"line": e.line, "before": e.before, "after": e.after} for e in edits]}
        if action == "pick" and edits:
            later = [s.id for s in shots.values() if any(r.shot == shot_id and r.take is None for _, r in s.frame_refs())]
            if later:
                answer["note"] = (f"{', '.join(later)} start{'s' if len(later) == 1 else ''} from this shot's picked "
                                  f"take: `shots plan` shows what the next run makes again")
        return answer


def shot_state(shot: Shot) -> dict[str, Any]:
    """A shot's decisions as the API answers them: its pick as written, the take that represents
    it (models.picked_take), its status and notes."""
    from pipeline.manifest.models import picked_take

    return {"pick": shot.pick, "take": picked_take(shot), "status": shot.status, "notes": shot.notes}


def _changes(action: str, body: dict[str, Any], shot: Shot) -> dict[str, object | None]:
    """The fields `action` sets on `shot` (None removes one). An undo undoes only its own
    decision: un-approving a shot marked for redo leaves it so."""
    from pipeline.manifest import decisions

    undo = _field(body, "undo", bool, False)
    if action == "pick":
        take = _field(body, "take", int)
        if not 1 <= take <= shot.takes:
            raise ActionError(HTTPStatus.BAD_REQUEST, f"{shot.id} has {shot.takes} take(s): no take {take}")
        return {"pick": take}
    if action == "approve":
        if undo:
            return {"status": None} if shot.status == decisions.APPROVED else {}
        return {"status": decisions.APPROVED}
    if undo:  # redo
        return {"status": None} if shot.status == decisions.REDO else {}
    changes: dict[str, object | None] = {"status": decisions.REDO}
    note = (_field(body, "note", str, None) or "").strip()
    if len(note) > MAX_NOTE:
        raise ActionError(HTTPStatus.BAD_REQUEST, f"a note of {len(note)} characters; at most {MAX_NOTE}")
    if note:  # it becomes the shot's notes, as `shots redo --note` does; none: the notes stay
        changes["notes"] = note
    return changes


def _decide(path: Path, shot_id: str, action: str, changes: dict[str, object | None], expect: str) -> list[Edit]:
    """`action`'s `changes` (from _changes, not empty) written by manifest/decisions.py, as the
    command line writes them."""
    from pipeline.manifest import decisions

    if action == "pick":
        return decisions.pick(path, shot_id, changes["pick"], expect=expect)  # type: ignore[arg-type]
    if "status" in changes and changes["status"] is None:  # an undo: no status
        return decisions.approve(path, [shot_id], undo=True, expect=expect)
    if action == "approve":
        return decisions.approve(path, [shot_id], expect=expect)
    return decisions.redo(path, shot_id, changes.get("notes"), expect=expect)  # type: ignore[arg-type]


_MISSING = object()


def _field(body: dict[str, Any], name: str, kind: type, default: Any = _MISSING) -> Any:
    value = body.get(name, default)
    if value is _MISSING:
        raise ActionError(HTTPStatus.BAD_REQUEST, f"'{name}' is missing")
    if value is not default and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise ActionError(HTTPStatus.BAD_REQUEST, f"'{name}' must be {kind.__name__}")
    return value


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename or 'the manifest'}: {exc.strerror or exc}"
    return str(exc)


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return 0, 0
    return st.st_mtime_ns, st.st_size


def referenced_files(page: str) -> frozenset[str]:
    """The files a page links to (src, href, poster), relative to it: what the server may serve."""
    found = set()
    for link in _LINK.findall(page):
        name = html.unescape(link).split("#", 1)[0].split("?", 1)[0]
        if name and not name.startswith("/") and ":" not in name:
            found.add(name)
    return frozenset(found)


# -- HTTP ------------------------------------------------------------------------------------------


class _Serving:
    """What the server adds to http.server's ThreadingHTTPServer (ReviewServer mixes them when it
    starts: http.server is not loaded to build the parser)."""

    daemon_threads = True
    session: ReviewSession
    hosts: frozenset[str]  # the Host headers this server answers: itself by name


class _Handling:
    """The request handler's own methods, mixed into http.server's BaseHTTPRequestHandler (see
    _Serving)."""

    if TYPE_CHECKING:  # what BaseHTTPRequestHandler gives it
        server: _Serving
        path: str
        headers: Any
        rfile: Any
        wfile: Any
        close_connection: bool
        send_response = BaseHTTPRequestHandler.send_response
        send_header = BaseHTTPRequestHandler.send_header
        end_headers = BaseHTTPRequestHandler.end_headers
        address_string = BaseHTTPRequestHandler.address_string

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        route = urlsplit(self.path).path
        if route == "/":
            self._send(HTTPStatus.OK, self.server.session.page(), "text/html; charset=utf-8",
                       {"Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY",
                        "Referrer-Policy": "same-origin"})
        elif route == "/api/state":
            if self._token_ok():
                self._json(HTTPStatus.OK, self.server.session.state())
        elif route == "/favicon.ico":  # a browser asks for it; the page has none
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif route.startswith("/api/"):
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no {route}"})
        else:
            self._file(unquote(route[1:]))

    def do_POST(self) -> None:
        if not (self._host_ok() and self._origin_ok() and self._token_ok()):
            return
        route = urlsplit(self.path).path
        if route not in ACTIONS:
            return self._refuse(HTTPStatus.NOT_FOUND, f"no {route}")
        if self.headers.get_content_type() != "application/json":
            return self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "an action is sent as application/json")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._refuse(HTTPStatus.LENGTH_REQUIRED, "Content-Length is missing")
        if not 0 <= length <= MAX_BODY:
            return self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"})
        if not isinstance(body, dict):
            return self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not a JSON object"})
        try:
            answer = self.server.session.act(ACTIONS[route], body)
        except ActionError as exc:
            return self._json(exc.status, {"error": str(exc)})
        self._json(HTTPStatus.OK, answer)

    # Who may ask

    def _host_ok(self) -> bool:
        if self.headers.get("Host") in self.server.hosts:
            return True
        self._refuse(HTTPStatus.FORBIDDEN, "this server answers only at its own address")
        return False

    def _origin_ok(self) -> bool:
        own = f"http://{self.headers['Host']}"
        origin, referer = self.headers.get("Origin"), self.headers.get("Referer")
        if origin is not None and origin != own:
            self._refuse(HTTPStatus.FORBIDDEN, "refused: the request comes from another page")
            return False
        if referer is not None and referer != own and not referer.startswith(own + "/"):
            self._refuse(HTTPStatus.FORBIDDEN, "refused: the request comes from another page")
            return False
        return True

    def _token_ok(self) -> bool:
        given = self.headers.get(TOKEN_HEADER, "")
        if hmac.compare_digest(given.encode(), self.server.session.token.encode()):
            return True
        self._refuse(HTTPStatus.FORBIDDEN, "refused: no valid review token (reload the page from shots review)")
        return False

    # Answers

    def _refuse(self, status: int, message: str) -> None:
        """An answer before the body was read: the connection closes after it."""
        self.close_connection = True
        self._json(status, {"error": message}, {"Connection": "close"})

    def _json(self, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc).encode("utf-8"), "application/json", headers)

    def _send(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _file(self, name: str) -> None:
        """A file the page references, whole or the byte range asked for (a player seeks)."""
        import mimetypes

        path = self.server.session.file(name)
        if path is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not a file of this page"})
        try:
            source = path.open("rb")
        except OSError:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not a file of this page"})
        with source:
            size = path.stat().st_size
            span = _byte_range(self.headers.get("Range"), size)
            if span is None:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = span
            self.send_response(HTTPStatus.PARTIAL_CONTENT if (start, end) != (0, size) else HTTPStatus.OK)
            if (start, end) != (0, size):
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(end - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            source.seek(start)
            try:
                _copy(source, self.wfile, end - start)
            except ConnectionError:  # the player moved on
                self.close_connection = True


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a `Range: bytes=a-b` header (one range); the whole file without one;
    None for a range outside the file."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
    if header is None or match is None or match.groups() == ("", ""):
        return 0, size
    first, last = match.groups()
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    return (start, end) if start < end else None


def _copy(source: Any, target: Any, count: int) -> None:
    while count > 0:
        chunk = source.read(min(count, 1 << 16))
        if not chunk:
            return
        target.write(chunk)
        count -= len(chunk)


class ReviewServer:
    """`session` served on 127.0.0.1:`port` (0: a free one). Nothing else: any other address is
    refused. `with ReviewServer(...) as server:` serves from a thread (tests); `serve_forever()`
    from the caller's."""

    def __init__(self, session: ReviewSession, port: int = 0, host: str = LOOPBACK) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        if host != LOOPBACK:
            raise InputError(f"shots review listens on {LOOPBACK} only, never on {host!r}: the page writes "
                             f"to your manifest")
        server = type("ReviewHTTPServer", (_Serving, ThreadingHTTPServer), {})
        handler = type("ReviewHandler", (_Handling, BaseHTTPRequestHandler), {})
        self.httpd: Any = server((host, port), handler)
        self.httpd.session = session
        self.port = self.httpd.server_address[1]
        self.httpd.hosts = frozenset({f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"})
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.1)

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self.serve_forever, name="shots-review", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the command -----------------------------------------------------------------------------------


def add_review_parser(subparsers: Any, **parser_options: Any) -> argparse.ArgumentParser:
    """`shots review` in `subparsers` (cli.py's); `parser_options` go to add_parser (an epilog,
    a formatter). Its handler is cmd_review."""
    what = ("serve the storyboard on 127.0.0.1 with controls that write decisions to the manifest: "
            "pick a take, approve, mark for redo with a note")
    parser_options.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    p = subparsers.add_parser("review", help=what, description=f"{what}\n\nexample:\n  shots review "
                              f"manifests/example.yaml", **parser_options)
    p.add_argument("-v", "--verbose", action="store_true", help="log each request to stderr")
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("--out", type=Path, default=None,
                   help="outputs root; videos are in OUT/<name>/ (default: the outputs/ folder of the project "
                        "that holds the manifest, whatever the working directory)")
    p.add_argument("--backend", choices=("auto", "sim", "api"), default="auto",
                   help="whose results to show: the API if MINIMAX_API_KEY is set, else the built-in simulator")
    p.add_argument("--port", type=_port, default=0, help=f"the port on {LOOPBACK} (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address only; do not open a browser")
    p.set_defaults(handler=cmd_review)
    return p


def cmd_review(args: argparse.Namespace) -> int:
    """Serve the review page until Ctrl-C."""
    import webbrowser

    from pipeline.manifest import cache
    from pipeline.run import store

    try:
        manifest = cache.load(args.manifest, [])  # a shot with errors is a panel saying so
    except InputError as exc:
        raise InputError(f"{exc}; `shots validate {args.manifest}` shows them all") from exc
    root = args.out if args.out is not None else store.default_root(manifest.path)
    session = ReviewSession(args.manifest, endpoint_of(args.backend), root / manifest.name)
    session.page()  # drawn (thumbnails cut) before the address is given: the first view is ready
    try:
        server = ReviewServer(session, args.port)
    except OSError as exc:
        raise InputError(f"shots review: cannot listen on {LOOPBACK}:{args.port}: {exc.strerror}; choose another "
                         f"--port (0 picks a free one)") from None
    print(f"Reviewing {args.manifest} at {server.url} (Ctrl-C to stop)", flush=True)
    if not args.no_browser:  # from a thread: a text-mode browser would hold this one, and no page be served
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.close()
    return EXIT_OK


def endpoint_of(choice: str) -> str:
    """The endpoint whose results to show: run/backend.endpoint_for's rule (review/ may not
    import the backend module, which opens clients): the simulator unless a key is set or
    `--backend api`, else the API host."""
    from pipeline.minimax.account import api_key_from_env, base_url_from
    from pipeline.run import userconfig
    from pipeline.run.request import SIM_ENDPOINT

    if choice == "sim" or (choice == "auto" and not api_key_from_env()):
        return SIM_ENDPOINT
    return base_url_from(configured=userconfig.load().base_url)


def _new_token() -> str:
    import secrets

    return secrets.token_urlsafe(32)  # 32 random bytes


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {port}")
    return port

