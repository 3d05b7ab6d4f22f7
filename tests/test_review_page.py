"""`shots review`'s server over HTTP (httpx), in-process: the page in review mode (and the static
report without a control or a token), the state the page polls, actions that each change the
manifest by exactly their lines (difflib), and who may act: the page's token, its own origin,
JSON only, 127.0.0.1 only; a stale or broken manifest is a 409 that writes nothing; only the
files the page references are served."""

from __future__ import annotations

import difflib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pipeline.errors import InputError
from pipeline.manifest.checker import load
from pipeline.manifest.edit import manifest_sha256
from pipeline.review import report
from pipeline.review.serve import TOKEN_HEADER, ReviewServer, ReviewSession, referenced_files

from runs import ROOT, run_inprocess

MANIFEST = """\
# A storyboard to review: comments, order and quoting stay as they are.
version: 1
name: review-test
defaults:
  model: MiniMax-Hailuo-02
  duration: 6
  resolution: 768P

shots:
  - id: s01-open   # the opening
    mode: text_to_video
    prompt: "Dusk over the sea [Push in]."
    takes: 2

  - id: s02-keeper
    mode: text_to_video
    prompt: 'The keeper turns [Static shot].'
    takes: 3
    notes: Pick the calmer one.

  - id: s03-end
    mode: text_to_video
    prompt: The lamp goes out.
"""


def write(folder: Path, text: str = MANIFEST) -> Path:
    path = folder / "manifests" / "review.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.fixture
def served(tmp_path):
    """(server, session, manifest path): the review of MANIFEST with no run yet."""
    manifest = write(tmp_path)
    session = ReviewSession(str(manifest), "simulator", tmp_path / "out" / "review-test")
    with ReviewServer(session) as server:
        yield server, session, manifest


def client(server: ReviewServer, token: str | None) -> httpx.Client:
    headers = {TOKEN_HEADER: token} if token is not None else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30, verify=False)  # http: no TLS to set up


def post(server: ReviewServer, session: ReviewSession, route: str, body: dict, **headers: str) -> httpx.Response:
    with client(server, session.token) as http:
        return http.post(route, json=body, headers=headers)


def changed_lines(before: str, after: str) -> list[tuple[str, int, int, list[str], list[str]]]:
    """What differs, line by line: (op, line in before, line in after, lines before, lines after)."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    return [(op, i1 + 1, j1 + 1, a[i1:i2], b[j1:j2])
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
            if op != "equal"]


# -- the page -------------------------------------------------------------------------------------


def test_the_review_page_has_controls_and_the_token_the_static_report_has_neither(served, tmp_path):
    server, session, manifest = served
    with client(server, None) as http:
        page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert not [h for h in page.headers if h.lower().startswith("access-control-")]  # no CORS, ever
    text = page.text
    assert f'<meta name="shots-token" content="{session.token}">' in text and len(session.token) >= 43
    assert f'<meta name="shots-sha" content="{manifest_sha256(manifest)}">' in text
    assert text.count('class="review-controls"') == 3 and text.count('<button type="button" class="dot') == 2 + 3
    assert '<template class="key-of" data-take="3">' in text and "/api/pick" in text

    static = report.write_report(load(manifest), "simulator", tmp_path / "static").read_text(encoding="utf-8")
    for mark in ("shots-token", session.token, "<button", "<form", "<template", "/api/", "review-controls",
                 "X-Shots-Token", "data-shot="):
        assert mark not in static, mark
    assert static.lower().count("<script") == 1 and '<meta name="generator" content="shots report">' in static


def test_the_static_report_shows_the_decisions_as_badges(tmp_path):
    decided = MANIFEST.replace("    takes: 3\n", "    takes: 3\n    pick: 2\n    status: redo\n").replace(
        "    prompt: The lamp goes out.\n", "    prompt: The lamp goes out.\n    status: approved\n")
    manifest = write(tmp_path, decided)
    page = report.write_report(load(manifest), "simulator", tmp_path / "static").read_text(encoding="utf-8")
    keeper = re.search(r'<li class="panel [^"]*" id="shot-s02-keeper">.*?</li>', page, re.S).group(0)
    assert '<span class="decision d-redo" title="status: redo">redo</span>' in keeper
    assert re.search(r'class="dot st-pending chosen"[^>]*>2<', keeper)  # the pick is the panel's take
    assert '<span class="decision d-approved" title="status: approved">approved</span>' in page
    assert page.count('class="decision ') == 2 and "the picked take of each" in page
    assert "<button" not in page and "shots-token" not in page


def test_referenced_files_are_the_pages_links_only():
    page = ('<img src="thumbs/a.take1.middle.jpg"><a href="#takes-a">x</a><video src="a.mp4" poster="thumbs/p.jpg">'
            '<a href="history/a.x.mp4#t">h</a><a href="https://example.com/x.jpg">u</a><a href="/etc/passwd">p</a>'
            '<a href="s&amp;1.mp4">e</a>')
    assert referenced_files(page) == {"thumbs/a.take1.middle.jpg", "a.mp4", "thumbs/p.jpg", "history/a.x.mp4",
                                      "s&1.mp4"}


# -- the state and the actions ---------------------------------------------------------------------


def test_the_state_has_the_sha_and_each_shots_decisions(served):
    server, session, manifest = served
    with client(server, session.token) as http:
        state = http.get("/api/state").json()
    assert state["sha"] == manifest_sha256(manifest) and state["manifest"] == str(manifest)
    assert state["shots"] == {
        "s01-open": {"pick": None, "take": 1, "status": None, "notes": None},
        "s02-keeper": {"pick": None, "take": 1, "status": None, "notes": "Pick the calmer one."},
        "s03-end": {"pick": None, "take": 1, "status": None, "notes": None},
    }


def test_a_pick_writes_exactly_one_line_and_answers_it(served):
    server, session, manifest = served
    before = manifest.read_text(encoding="utf-8")
    answer = post(server, session, "/api/pick", {"shot": "s02-keeper", "take": 2, "sha": manifest_sha256(manifest)})
    assert answer.status_code == 200, answer.text
    after = manifest.read_text(encoding="utf-8")
    ((op, _, line, gone, added),) = changed_lines(before, after)
    assert (op, gone, [s.strip() for s in added]) == ("insert", [], ["pick: 2"])
    doc = answer.json()
    assert doc["edits"] == [{"line": line, "before": "", "after": added[0].rstrip("\n")}]
    assert doc["sha"] == manifest_sha256(manifest) and doc["manifest"] == str(manifest)
    assert doc["shot"] == {"pick": 2, "take": 2, "status": None, "notes": "Pick the calmer one."}
    assert load(manifest).shots[1].pick == 2

    again = post(server, session, "/api/pick", {"shot": "s02-keeper", "take": 3, "sha": doc["sha"]})
    assert again.status_code == 200
    ((op, at, _, gone, added),) = changed_lines(after, manifest.read_text(encoding="utf-8"))
    assert (op, at, [s.strip() for s in gone], [s.strip() for s in added]) == ("replace", line, ["pick: 2"],
                                                                               ["pick: 3"])
    with client(server, session.token) as http:
        assert http.get("/api/state").json()["shots"]["s02-keeper"]["take"] == 3


def test_approve_undo_and_redo_with_a_note_change_only_their_lines(served):
    server, session, manifest = served
    original = manifest.read_text(encoding="utf-8")
    sha = manifest_sha256(manifest)

    approved = post(server, session, "/api/approve", {"shot": "s01-open", "sha": sha}).json()
    ((op, _, _, _, added),) = changed_lines(original, manifest.read_text(encoding="utf-8"))
    assert op == "insert" and [s.strip() for s in added] == ["status: approved"]
    assert approved["shot"]["status"] == "approved"

    undone = post(server, session, "/api/approve", {"shot": "s01-open", "undo": True, "sha": approved["sha"]}).json()
    assert manifest.read_text(encoding="utf-8") == original and undone["sha"] == sha
    assert [e["after"] for e in undone["edits"]] == [""] and undone["edits"][0]["before"].strip() == "status: approved"

    note = "  Too fast: the keeper #2 should turn 'slower'  "
    redo = post(server, session, "/api/redo", {"shot": "s02-keeper", "note": note, "sha": sha})
    assert redo.status_code == 200, redo.text
    changes = changed_lines(original, manifest.read_text(encoding="utf-8"))
    written = [s.strip() for *_, added in changes for s in added]
    gone = [s.strip() for *_, removed, _ in changes for s in removed]
    assert len(redo.json()["edits"]) == 2 and len(written) == 2 and "status: redo" in written
    assert gone == ["notes: Pick the calmer one."]  # the note replaces the notes, as `shots redo` does
    shot = load(manifest).shots[1]
    assert (shot.status, shot.notes) == ("redo", "Too fast: the keeper #2 should turn 'slower'")
    assert redo.json()["shot"] == {"pick": None, "take": 1, "status": "redo", "notes": shot.notes}

    again = post(server, session, "/api/redo", {"shot": "s02-keeper", "note": "", "sha": redo.json()["sha"]})
    assert again.status_code == 200 and again.json()["edits"] == []  # no note: the notes stay
    assert [s.id for s in load(manifest).shots] == ["s01-open", "s02-keeper", "s03-end"]

    nothing = post(server, session, "/api/approve", {"shot": "s03-end", "undo": True, "sha": redo.json()["sha"]})
    assert nothing.status_code == 200 and nothing.json()["edits"] == []  # not approved: nothing to undo


def test_a_stale_sha_is_a_409_that_writes_nothing(served):
    server, session, manifest = served
    seen = manifest_sha256(manifest)
    by_hand = MANIFEST.replace("The lamp goes out.", "The lamp flickers out.")
    manifest.write_text(by_hand, encoding="utf-8")
    answer = post(server, session, "/api/pick", {"shot": "s01-open", "take": 2, "sha": seen})
    assert answer.status_code == 409 and "changed on disk" in answer.json()["error"]
    assert manifest.read_text(encoding="utf-8") == by_hand
    with client(server, session.token) as http:
        assert http.get("/api/state").json()["sha"] == manifest_sha256(manifest) != seen


def test_a_shot_with_errors_leaves_the_others_decidable(served):
    """As `shots approve` does: a shot broken by hand (s02's takes) does not stop a decision on
    another; the page still draws every panel."""
    server, session, manifest = served
    broken = MANIFEST.replace("takes: 3", "takes: many")
    manifest.write_text(broken, encoding="utf-8")
    sha = manifest_sha256(manifest)
    answer = post(server, session, "/api/approve", {"shot": "s01-open", "sha": sha})
    assert answer.status_code == 200, answer.text
    changed = [line for line in manifest.read_text(encoding="utf-8").splitlines() if line not in broken.splitlines()]
    assert [line.strip() for line in changed] == ["status: approved"]
    with client(server, session.token) as http:
        page = http.get("/").text
    assert 'class="review-controls"' in page


def test_while_the_manifest_cannot_be_read_the_page_says_why_and_comes_back(served):
    server, session, manifest = served
    manifest.write_text(MANIFEST.replace("shots:", "shots: [", 1), encoding="utf-8")  # a YAML error
    with client(server, session.token) as http:
        page = http.get("/").text
        assert 'class="problem"' in page and "review.yaml" in page and 'class="review-controls"' not in page
        assert session.token in page and http.get("/api/state").json()["error"]
        manifest.write_text(MANIFEST, encoding="utf-8")
        assert http.get("/").text.count('class="review-controls"') == 3 and "error" not in http.get("/api/state").json()


@pytest.mark.parametrize("body, status, words", [
    ({"shot": "s01-open", "take": 3}, 400, "has 2 take(s)"),
    ({"shot": "s01-open", "take": "2"}, 400, "'take' must be int"),
    ({"shot": "s09", "take": 1}, 404, "no shot 's09'"),
    ({"take": 1}, 400, "'shot' is missing"),
])
def test_a_bad_action_says_why_and_writes_nothing(served, body, status, words):
    server, session, manifest = served
    answer = post(server, session, "/api/pick", {**body, "sha": manifest_sha256(manifest)})
    assert answer.status_code == status and words in answer.json()["error"]
    assert manifest.read_text(encoding="utf-8") == MANIFEST


# -- who may act ----------------------------------------------------------------------------------


def test_no_action_and_no_state_without_the_token(served):
    server, session, manifest = served
    body = {"shot": "s01-open", "take": 2, "sha": manifest_sha256(manifest)}
    for token in (None, "", "x" * 43, session.token[:-1]):
        with client(server, token) as http:
            assert http.post("/api/pick", json=body).status_code == 403
            assert http.get("/api/state").status_code == 403
    assert manifest.read_text(encoding="utf-8") == MANIFEST


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},
    {"Referer": "http://evil.example/page.html"},
    {"Referer": "http://127.0.0.1:1/"},
])
def test_an_action_from_another_page_is_refused_even_with_the_token(served, headers):
    server, session, manifest = served
    answer = post(server, session, "/api/pick", {"shot": "s01-open", "take": 2, "sha": manifest_sha256(manifest)},
                  **headers)
    assert answer.status_code == 403 and "another page" in answer.json()["error"]
    assert manifest.read_text(encoding="utf-8") == MANIFEST


def test_same_origin_headers_are_accepted(served):
    server, session, manifest = served
    own = server.url.rstrip("/")
    answer = post(server, session, "/api/approve", {"shot": "s01-open", "sha": manifest_sha256(manifest)},
                  Origin=own, Referer=own + "/")
    assert answer.status_code == 200


def test_only_json_only_its_own_host_name(served):
    server, session, manifest = served
    body = f'{{"shot": "s01-open", "take": 2, "sha": "{manifest_sha256(manifest)}"}}'
    with client(server, session.token) as http:
        form = http.post("/api/pick", content=body, headers={"Content-Type": "text/plain"})
        assert form.status_code == 415
        assert http.post("/api/pick", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
                         ).status_code == 415
        # DNS rebinding: another name that resolves to 127.0.0.1 reaches the port, not the page
        assert http.get("/", headers={"Host": "evil.example"}).status_code == 403
        assert http.post("/api/pick", content=body, headers={"Host": f"evil.example:{server.port}",
                                                             "Content-Type": "application/json"}).status_code == 403
        assert http.get("/", headers={"Host": f"localhost:{server.port}"}).status_code == 200
    assert manifest.read_text(encoding="utf-8") == MANIFEST


def test_it_listens_on_127_0_0_1_only(served, tmp_path):
    server, session, _ = served
    assert server.httpd.server_address[0] == "127.0.0.1" and server.url == f"http://127.0.0.1:{server.port}/"
    for host in ("0.0.0.0", "::", "localhost", "192.168.1.10"):
        with pytest.raises(InputError, match="127.0.0.1 only"):
            ReviewServer(session, host=host)


# -- files ----------------------------------------------------------------------------------------


@pytest.fixture
def served_after_a_run(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory()
    manifest = write(tmp_path)
    out = tmp_path / "out"
    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert [r.outcome for r in result.results] == ["done"] * 6
    session = ReviewSession(str(manifest), sim.base_url, out / "review-test")
    with ReviewServer(session) as server:
        yield server, session, out / "review-test"


def test_only_the_files_the_page_references_are_served(served_after_a_run):
    server, _, folder = served_after_a_run
    with client(server, None) as http:
        page = http.get("/").text
        thumb = re.search(r'<img src="(thumbs/[^"]+)"', page).group(1)
        got = http.get("/" + thumb)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert got.content == (folder / thumb).read_bytes()
        video = http.get("/s02-keeper.take3.mp4", headers={"Range": "bytes=0-99"})
        assert video.status_code == 206 and video.headers["content-range"].endswith(
            f"/{(folder / 's02-keeper.take3.mp4').stat().st_size}")
        assert video.content == (folder / "s02-keeper.take3.mp4").read_bytes()[:100]
    assert 'href="ledger.jsonl"' not in page
    for path in ("/ledger.jsonl", "/thumbs/index.json", "/../manifests/review.yaml", "/%2e%2e/manifests/review.yaml",
                 "/thumbs/../ledger.jsonl", f"/thumbs/../{thumb}", "//etc/passwd", "/" + str(folder / "s01-open.mp4"),
                 "/thumbs%2f..%2f..%2fmanifests%2freview.yaml", "/s01-open.mp4/..", "/.simulator", "/thumbs/",
                 "/s01-open.mp4%00.jpg"):
        assert raw_get(server, path).startswith("HTTP/1.1 404 "), path  # sent as written: no client tidies it


def raw_get(server: ReviewServer, path: str) -> str:
    """The status line of a GET of `path` exactly as written (httpx would remove its dot segments)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n".encode())
        return sock.makefile("rb").readline().decode("latin-1")


# -- the command ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"MINIMAX_API_KEY": "k"}, {"MINIMAX_API_KEY": "k", "MINIMAX_BASE_URL": "http://h:1"}])
def test_the_endpoint_is_the_runs_rule(monkeypatch, env):
    """serve.endpoint_of repeats run/backend.endpoint_for (review/ may not import the backend): the same answers."""
    from pipeline.run import backend
    from pipeline.review.serve import endpoint_of

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for choice in ("auto", "sim", "api"):
        assert endpoint_of(choice) == backend.endpoint_for(choice)

def test_a_taken_port_is_one_clear_error(tmp_path):
    from argparse import Namespace

    from pipeline.review.serve import cmd_review

    manifest = write(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = Namespace(manifest=str(manifest), out=tmp_path / "out", backend="sim", port=taken.getsockname()[1],
                         no_browser=True)
        with pytest.raises(InputError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*choose another --port"):
            cmd_review(args)


def test_the_parser_loads_nothing_heavy():
    """cli.py builds every command's parser at each start: this one loads no page, manifest or server code."""
    probe = ("import argparse, sys; from pipeline.review.serve import add_review_parser; "
             "add_review_parser(argparse.ArgumentParser().add_subparsers()); "
             "print(sorted(m for m in sys.modules if m.startswith(('pipeline', 'http.server', 'pydantic', 'PIL'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "['pipeline', 'pipeline.errors', 'pipeline.review', 'pipeline.review.serve']"


WIRED = """
import argparse, sys
from pipeline.review.serve import add_review_parser
sub = argparse.ArgumentParser(prog="shots").add_subparsers(dest="command", required=True)
add_review_parser(sub)
args = sub._name_parser_map["review"].parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def test_the_command_prints_its_address_serves_and_stops_on_ctrl_c(tmp_path):
    write(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-c", WIRED, "manifests/review.yaml", "--no-browser", "--out", "out"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        found = re.fullmatch(r"Reviewing manifests/review\.yaml at (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C to stop\)\n",
                             line)
        assert found, line + proc.stderr.read() if proc.poll() is not None else line
        page = httpx.get(found.group(1), timeout=30)
        assert page.status_code == 200 and "manifests/review.yaml" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert not (tmp_path / "out" / "review-test" / "report.html").exists()  # serves; writes no report
