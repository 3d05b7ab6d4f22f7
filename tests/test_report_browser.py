"""The contact sheet in a real browser: headless Chromium (Debian's `chromium`, driven by its own
command line) loads the storyboard of a simulator run with no console errors, every picture
decodes (also those a sheet shows only when opened), the board has about four panels a row at
1400 px and two at 700 px, a shot's sheet opens from its link with no script, and the page prints
as a paper storyboard: six panels to an A4 landscape page. The continuity example
(manifests/continuity.yaml: a keyframe still, then videos each made from the frame before) shows
its still and the frames each shot was made from, at both widths and on paper.

Chromium runs offline: every host name resolves to nothing and every proxied request goes to a
closed loopback port, so the page (and the browser's own background services) cannot reach the
network even if they tried.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pipeline.manifest.checker import load
from pipeline.review import report

from runs import ROOT, make_image, run_inprocess, write_manifest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (`apt-get install chromium`; .ci/run installs it when it can), "
           "so report.html is not checked in a browser",
)

# Runs after load, in a copy of the page next to it (so relative paths resolve) whose images are
# all eager: the load event then waits for every one, also those of the sheets, which the page
# itself loads only when a sheet opens. What did not decode is written on <body>, with how many
# panels share the first row and which sheets are open.
CHECK = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute("src"));
  const panels = Array.from(document.querySelectorAll(".panel"));
  const top = panels[0].getBoundingClientRect().top;
  const open = Array.from(document.querySelectorAll(".sheet")).filter(s => getComputedStyle(s).display !== "none");
  const b = document.body;
  b.setAttribute("data-images", String(imgs.length));
  b.setAttribute("data-broken", JSON.stringify(broken));
  b.setAttribute("data-row", String(panels.filter(p => Math.abs(p.getBoundingClientRect().top - top) < 2).length));
  b.setAttribute("data-width", String(window.innerWidth));
  b.setAttribute("data-open", JSON.stringify(open.map(s => [s.id, s.querySelectorAll("video").length])));
});
</script>"""

SHOTS = [
    {"id": "s01-open", "mode": "text_to_video", "prompt": "Dusk over the sea [Push in], gulls [soar]."},
    {"id": "s02-keeper", "mode": "image_to_video", "first_frame_image": "a.png", "takes": 2,
     "prompt": "The keeper <b>turns</b> [Pan left,Pedestal up].", "notes": "Pick the calmer \"one\"."},
    {"id": "s03-banned", "mode": "text_to_video", "prompt": "A forbidden scene [Static shot]."},
    {"id": "s04-dawn", "mode": "first_last_frame", "first_frame_image": "a.png", "last_frame_image": "b.jpg",
     "prompt": "Night turns to dawn [Pull out].", "duration": 10},
    {"id": "s05-hero", "mode": "subject_reference", "model": "S2V-01", "subject_image": "b.jpg",
     "prompt": "She waves."},
    {"id": "s06-sea", "mode": "text_to_video", "prompt": "The calm sea [Tilt down]."},
    {"id": "s07-end", "mode": "text_to_video", "prompt": "The lamp goes out [Static shot]."},
]


def chromium(profile: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability", "--no-pings",
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
        "--virtual-time-budget=5000",  # let every image load and the media controls settle
        "--enable-logging=stderr", "--v=0", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture
def report_of_a_run(sim_factory, tmp_path, monkeypatch) -> Path:
    sim = sim_factory(sensitive_words=("forbidden",))
    make_image(tmp_path / "a.png")
    make_image(tmp_path / "b.jpg", size=(360, 640), color=(200, 150, 40))
    manifest = write_manifest(tmp_path, SHOTS, name="teaser")
    out = tmp_path / "out"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    return report.write_report(load(manifest), sim.base_url, out / "teaser")


def checked(page: Path, tmp_path: Path, *, width: int = 1400, fragment: str = "") -> tuple[dict, str]:
    """Load the page with CHECK in Chromium at `width`; (what CHECK wrote on <body>, stderr)."""
    copy = page.with_name("_browser_check.html")
    html = page.read_text(encoding="utf-8").replace(' loading="lazy"', "").replace("</body>", CHECK + "</body>")
    copy.write_text(html, encoding="utf-8")
    dumped = chromium(tmp_path / "profile", "--dump-dom", f"--window-size={width},1000", copy.as_uri() + fragment)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dumped.stdout)
    found = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1) if body else ""))
    assert "broken" in found, "the load check did not run: " + dumped.stdout[:500]
    return {k: json.loads(v.replace("&quot;", '"')) for k, v in found.items()}, dumped.stderr


def test_every_picture_decodes_with_no_console_errors(report_of_a_run, tmp_path):
    page = report_of_a_run
    html = page.read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', html)
    # six key frames (s03 failed); the inputs on the panels and again in the sheets (a.png twice, b.jpg
    # twice); three frames of each of the seven videos
    assert len(sources) == 6 + 2 * 4 + 3 * 7
    assert len({s for s in sources if s.startswith("thumbs/inputs/")}) == 2
    found, stderr = checked(page, tmp_path)
    assert found["images"] == len(sources) and found["broken"] == []
    assert console_messages(stderr) == []


@pytest.mark.parametrize("width, per_row", [(1400, 4), (700, 2)])
def test_the_board_at_1400_and_700_px(report_of_a_run, tmp_path, width, per_row):
    page = report_of_a_run
    found, stderr = checked(page, tmp_path, width=width)
    assert (found["width"], found["row"]) == (width, per_row)
    assert found["open"] == [] and console_messages(stderr) == []  # no sheet open until asked for

    shot = tmp_path / f"storyboard-{width}.png"
    taken = chromium(tmp_path / "profile", f"--screenshot={shot}", f"--window-size={width},1600", page.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    print(f"\nscreenshot of the storyboard at {width} px: {shot}")
    assert console_messages(taken.stderr) == []
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (width, 1600)
        assert len(rgb.getcolors(1 << 20) or []) > 500  # pictures, not a blank page
        banner = rgb.crop((0, 0, width, 220)).getcolors(1 << 20)
        # the endpoint banner: the test's client talks to its simulator as to a local server (#f1ecfb)
        assert any(abs(r - 241) + abs(g - 236) + abs(b - 251) < 6 and n > 5000 for n, (r, g, b) in banner), \
            "the endpoint banner is not on screen"


def test_a_shots_sheet_opens_from_its_link_without_script(report_of_a_run, tmp_path):
    page = report_of_a_run
    html = page.read_text(encoding="utf-8")
    assert 'href="#takes-s02-keeper"' in html
    bare = page.with_name("_no_script.html")  # the page's own script out: the sheet is CSS alone
    bare.write_text(re.sub(r"<script>.*?</script>", "", html, flags=re.S), encoding="utf-8")
    found, stderr = checked(bare, tmp_path, fragment="#takes-s02-keeper")
    assert found["open"] == [["takes-s02-keeper", 2]] and found["broken"] == []  # both takes' players
    shot = tmp_path / "sheet.png"
    taken = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,1000",
                     page.as_uri() + "#takes-s02-keeper")
    assert taken.returncode == 0 and console_messages(taken.stderr + stderr) == []
    print(f"\nscreenshot of a shot's sheet: {shot}")


def test_it_prints_as_a_paper_storyboard(report_of_a_run, tmp_path):
    pdf = tmp_path / "storyboard.pdf"
    printed = chromium(tmp_path / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                       report_of_a_run.as_uri())
    assert printed.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), printed.stderr[-2000:]
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    assert pages == 2  # seven panels: six on the first A4 page, one on the second
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert box and float(box.group(1)) > float(box.group(2))  # landscape
    assert pdf.stat().st_size > 20_000  # the key frames are printed, the players are not
    print(f"\nthe storyboard printed: {pdf}")


def test_a_missing_thumbnail_is_caught(report_of_a_run, tmp_path):
    """The load check can fail: delete one thumbnail and it names it."""
    page = report_of_a_run
    (page.parent / "thumbs" / "s01-open.take1.last.jpg").unlink()  # one only its sheet shows
    found, _ = checked(page, tmp_path)
    assert found["broken"] == ["thumbs/s01-open.take1.last.jpg"]


@pytest.fixture
def report_of_the_continuity_example(sim_factory, tmp_path, monkeypatch) -> Path:
    sim = sim_factory(render_width=640)  # frames cut from the previz pass the API's 300 px rule
    manifest = ROOT / "manifests" / "continuity.yaml"
    out = tmp_path / "out"
    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)  # no lock file next to the example
    assert [r.outcome for r in result.results] == ["done"] * 6, [(r.spec.label, r.detail) for r in result.results]
    return report.write_report(load(manifest), sim.base_url, out / "keepers-round")


@pytest.mark.parametrize("width, per_row", [(1400, 4), (700, 2)])
def test_the_continuity_example_shows_its_still_and_the_frames_each_shot_starts_from(
        report_of_the_continuity_example, tmp_path, width, per_row):
    page = report_of_the_continuity_example
    html = page.read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', html)
    # the still's two takes (key frame, and both in its sheet); four videos' key frames and three frames
    # each; the five inputs cut from other shots, on the panels and again in the sheets
    assert len(sources) == 1 + 2 + 4 * (1 + 3) + 2 * 5
    assert len([s for s in sources if s.startswith("thumbs/inputs/")]) == 2 * 5
    found, stderr = checked(page, tmp_path, width=width)
    assert found["images"] == len(sources) and found["broken"] == [] and found["row"] == per_row
    assert console_messages(stderr) == []

    shot = tmp_path / f"contact-sheet-chain-{width}.png"
    taken = chromium(tmp_path / "profile", f"--screenshot={shot}", f"--window-size={width},1100", page.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert console_messages(taken.stderr) == []
    print(f"\nscreenshot of the continuity example's storyboard at {width} px (docs/contact-sheet-chain.png "
          f"at 1400): {shot}")
    with Image.open(shot) as img:
        assert len(img.convert("RGB").getcolors(1 << 20) or []) > 500  # pictures, not a blank page


def test_the_continuity_example_prints_with_its_chain(report_of_the_continuity_example, tmp_path):
    pdf = tmp_path / "chain.pdf"
    printed = chromium(tmp_path / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                       report_of_the_continuity_example.as_uri())
    assert printed.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), printed.stderr[-2000:]
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes())) == 1  # five panels: one A4 page
    print(f"\nthe continuity example printed: {pdf}")
