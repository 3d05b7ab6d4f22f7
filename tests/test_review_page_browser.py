"""The review page in a real browser: headless Chromium driven over the DevTools protocol
(websocket-client). It clicks a take's number, an approve button, types a redo note and submits
it, and the manifest on disk then differs by exactly those decisions; the page patches itself
(no reload) and shows each line it changed. Edited by hand meanwhile, the manifest reloads the
page, which says so. The continuity example, with a pick and an approval made, is photographed
(docs/review-page.png is made the same way).

Every wait is on an event in the page (a promise that settles when the DOM shows it, with a
deadline), never a fixed sleep. Chromium runs offline: every host name resolves to nothing and any
proxied request goes to a closed port; the page is on 127.0.0.1, which needs neither.
"""

from __future__ import annotations

import base64
import difflib
import itertools
import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from pipeline.manifest.checker import load
from pipeline.review.serve import ReviewServer, ReviewSession

from runs import ROOT, run_inprocess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (`apt-get install chromium`), so the review page is not clicked in a browser",
)
websocket = pytest.importorskip("websocket", reason="websocket-client drives Chromium over the DevTools protocol")

MANIFEST = """\
# The review page's browser test: decisions land here, one line each.
version: 1
name: review-browser
defaults:
  model: MiniMax-Hailuo-02
  duration: 6
  resolution: 768P

shots:
  - id: s01-open
    mode: text_to_video
    prompt: "Dusk over the sea [Push in]."   # the opening
    takes: 2

  - id: s02-keeper
    mode: text_to_video
    prompt: The keeper turns [Static shot].
    notes: Pick the calmer one.

  - id: s03-end
    mode: text_to_video
    prompt: 'The lamp goes out.'
"""


class DevToolsError(RuntimeError):
    pass


class Browser:
    """Headless Chromium and one page, over the DevTools protocol."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 1000) -> None:
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        found = None
        for line in self.proc.stderr:  # Chromium says where its DevTools listen, then goes on logging
            self.log.append(line)
            found = found or re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                break
        if found is None:
            raise DevToolsError("Chromium did not start: " + "".join(self.log)[-2000:])
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()  # keep the pipe drained
        pages = httpx.get(f"http://127.0.0.1:{found.group(1)}/json/list", timeout=30).json()
        target = next(t for t in pages if t["type"] == "page")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.ids = itertools.count(1)
        self.errors: list[str] = []  # exceptions thrown and console errors, for the page's whole life
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Page.enable")

    def send(self, method: str, **params) -> dict:
        call = next(self.ids)
        self.ws.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(json.dumps(params.get("args"))[:500])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(params["entry"].get("text", ""))

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise DevToolsError(json.dumps(result["exceptionDetails"])[:1000])
        return result["result"].get("value")

    def wait_for(self, condition: str, what: str, timeout: float = 30):
        """The value of the JS expression `condition` once it is truthy: each try is a promise
        that settles when the page shows it (checked at each animation frame), or after a second;
        a page that navigates meanwhile is asked again."""
        deadline = time.monotonic() + timeout
        probe = ("new Promise(settle => { const end = Date.now() + 1000; (function look() {"
                 f" let v; try {{ v = ({condition}); }} catch (e) {{ v = null; }}"
                 " if (v || Date.now() > end) settle(v || null); else requestAnimationFrame(look); })(); })")
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(probe)
            except DevToolsError as exc:  # the page reloaded under the probe: its context is gone
                if "context" not in str(exc).lower() and "Inspected target navigated" not in str(exc):
                    raise
                continue
            if value:
                return value
        raise AssertionError(f"timed out waiting for {what}")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && !!document.querySelector('.board')", "the board")

    def click(self, selector: str) -> None:
        """A real click (mouse down and up) at the middle of the element: what a person does."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        assert box, f"nothing to click at {selector}"
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def type(self, text: str) -> None:
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        shot = self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def browser(tmp_path):
    opened = Browser(tmp_path / "profile")
    yield opened
    opened.close()


def serve(manifest: Path, endpoint: str, out_dir: Path) -> ReviewServer:
    return ReviewServer(ReviewSession(str(manifest), endpoint, out_dir))


def panel(shot: str) -> str:
    return f'.panel[data-shot="{shot}"]'


def edited(browser: Browser, shot: str, words: str) -> str:
    """The lines the panel says its last action changed, once they include `words`."""
    return browser.wait_for(
        f"(() => {{ const e = document.querySelector('{panel(shot)} .edited');"
        f" return e && e.textContent.includes({json.dumps(words)}) && e.textContent; }})()",
        f"{shot}'s panel to show {words!r}")


@pytest.fixture
def reviewed(sim_factory, tmp_path, monkeypatch):
    """(manifest, out dir, endpoint) of a run of MANIFEST against the simulator."""
    sim = sim_factory()
    manifest = tmp_path / "manifests" / "review.yaml"
    manifest.parent.mkdir()
    manifest.write_text(MANIFEST, encoding="utf-8")
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    assert [r.outcome for r in result.results] == ["done"] * 4
    return manifest, tmp_path / "out" / "review-browser", sim.base_url


def test_a_pick_an_approval_and_a_redo_note_by_clicking_then_an_edit_by_hand(reviewed, browser):
    manifest, out_dir, endpoint = reviewed
    with serve(manifest, endpoint, out_dir) as server:
        browser.open(server.url)
        key = "document.querySelector('" + panel("s01-open") + " .key img').getAttribute('src')"
        assert browser.evaluate(key) == "thumbs/s01-open.take1.middle.jpg"
        browser.evaluate("window.notReloaded = true")  # gone if the page reloads

        browser.click(panel("s01-open") + ' button.dot[data-take="2"]')
        browser.click(panel("s03-end") + " button.approve")  # at once: the page sends one after the other
        assert edited(browser, "s01-open", "pick: 2") == f"{manifest}:14  pick: 2"
        assert browser.evaluate(key) == "thumbs/s01-open.take2.middle.jpg"  # the picked take is the key frame
        assert browser.evaluate(f"document.querySelector('{panel('s01-open')} button.dot.chosen').dataset.take") == "2"
        assert browser.evaluate("document.querySelector('#take2-s01-open .in-cut') !== null")  # its sheet too

        assert edited(browser, "s03-end", "status: approved").startswith(f"{manifest}:")
        assert browser.evaluate(f"document.querySelector('{panel('s03-end')} .decision').textContent") == "approved"
        assert browser.evaluate(f"document.querySelector('{panel('s03-end')} button.approve').textContent"
                                ).startswith("approved")

        browser.click(panel("s02-keeper") + " details.redo summary")
        browser.click(panel("s02-keeper") + " textarea[name=note]")
        browser.type("Slower: the keeper turns too fast")
        browser.click(panel("s02-keeper") + " .redo-form button[type=submit]")
        lines = edited(browser, "s02-keeper", "status: redo").splitlines()
        notes, status = sorted(line.split("  ", 1)[1] for line in lines)  # "manifests/...:N  field: value"
        assert status == "status: redo" and notes.startswith("notes: ") and "the keeper turns too fast" in notes
        assert browser.evaluate(f"document.querySelector('{panel('s02-keeper')} p.notes').textContent"
                                ) == "Slower: the keeper turns too fast"
        assert browser.evaluate("window.notReloaded === true")  # all of it without a reload

        # The manifest differs by exactly those decisions, and nothing else moved.
        after = manifest.read_text(encoding="utf-8")
        diff = [line for line in difflib.unified_diff(MANIFEST.splitlines(), after.splitlines(), lineterm="", n=0)
                if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        assert sorted(diff) == sorted(["+    pick: 2", "+    status: approved", "+    status: redo",
                                       "-    notes: Pick the calmer one.",
                                       "+    notes: " + re.search(r"notes: (.*)", after).group(1)])
        shots = {s.id: s for s in load(manifest).shots}
        assert (shots["s01-open"].pick, shots["s03-end"].status, shots["s02-keeper"].status) == (2, "approved", "redo")
        assert shots["s02-keeper"].notes == "Slower: the keeper turns too fast"

        # By hand, in an editor: the page reloads with what the file says now, and says why.
        manifest.write_text(after.replace("'The lamp goes out.'", "'The lamp flickers out.'"), encoding="utf-8")
        banner = browser.wait_for("(() => { const b = document.querySelector('.reloaded');"
                                  " return b && !b.hidden && b.textContent; })()", "the reload note")
        assert banner == "The manifest changed on disk; the page was reloaded"
        assert browser.evaluate("window.notReloaded === undefined")
        assert "The lamp flickers out." in browser.evaluate(f"document.querySelector('{panel('s03-end')} .prompt')"
                                                           ".textContent")
        assert browser.evaluate(f"document.querySelector('{panel('s01-open')} button.dot.chosen').dataset.take") == "2"

        # And it goes on deciding against the new file.
        browser.click(panel("s03-end") + " button.approve")  # approved: this undoes it
        assert edited(browser, "s03-end", "removed").endswith("status: approved")
        assert "status: approved" not in manifest.read_text(encoding="utf-8")
    assert browser.errors == []


def test_a_click_that_races_an_edit_by_hand_is_refused_and_writes_nothing(reviewed, browser):
    """The file changes between the page's last look and a click: a 409, said on the panel, and
    the file stays as the hand left it. (The page's polls are held, so that the click surely
    comes first: the reload that follows is the test above's.)"""
    manifest, out_dir, endpoint = reviewed
    with serve(manifest, endpoint, out_dir) as server:
        browser.open(server.url)
        browser.evaluate("(() => { const real = window.fetch; window.fetch = (url, init) =>"
                         " String(url).includes('/api/state') ? new Promise(() => {}) : real(url, init); })()")
        by_hand = MANIFEST.replace("Pick the calmer one.", "Either one.")
        manifest.write_text(by_hand, encoding="utf-8")
        browser.click(panel("s02-keeper") + " button.approve")
        refused = browser.wait_for(f"(() => {{ const e = document.querySelector('{panel('s02-keeper')} .edited.bad');"
                                   " return e && e.textContent; })()", "the refusal")
        assert "changed on disk since the page read it" in refused
        assert manifest.read_text(encoding="utf-8") == by_hand
        assert browser.evaluate(f"document.querySelector('{panel('s02-keeper')} button.approve')"
                                ".getAttribute('aria-pressed')") == "false"
    assert all("409" in e for e in browser.errors)  # the refused POST, as the browser logs it


@pytest.fixture
def continuity(sim_factory, tmp_path, monkeypatch):
    """The continuity example, copied (the review writes to it), run against the simulator."""
    sim = sim_factory(render_width=640)  # frames cut from the previz pass the API's 300 px rule
    manifest = tmp_path / "manifests" / "continuity.yaml"
    manifest.parent.mkdir()
    shutil.copyfile(ROOT / "manifests" / "continuity.yaml", manifest)
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    assert [r.outcome for r in result.results] == ["done"] * 6
    return manifest, tmp_path / "out" / "keepers-round", sim.base_url


def test_the_continuity_example_with_a_pick_and_an_approval(continuity, tmp_path):
    manifest, out_dir, endpoint = continuity
    browser = Browser(tmp_path / "profile", width=1400, height=1150)
    try:
        with serve(manifest, endpoint, out_dir) as server:
            browser.open(server.url)
            browser.click(panel("kf-01") + ' button.dot[data-take="2"]')
            note = edited(browser, "kf-01", "pick: 2")
            assert "s01-path starts from this shot's picked take" in note  # a still's pick moves its chain
            browser.click(panel("s02-door") + " button.approve")
            edited(browser, "s02-door", "status: approved")
            assert browser.evaluate("document.querySelector('" + panel("kf-01") + " .key img').getAttribute('src')"
                                    ) == "thumbs/kf-01.take2.still.jpg"
            browser.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
            shot = browser.screenshot(tmp_path / "review-page.png")
        print(f"\nscreenshot of the review page (docs/review-page.png is made so): {shot}")
        assert browser.errors == []
    finally:
        browser.close()
