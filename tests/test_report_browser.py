"""The contact sheet in a real browser: headless Chromium (Debian's `chromium`, driven by its own
command line) loads the report of a simulator run with no console errors, every thumbnail
decodes, the screenshot shows the page, and it prints to PDF.

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

from pipeline.review import report
from pipeline.manifest.checker import load

from runs import make_image, run_inprocess, write_manifest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (`apt-get install chromium`; .ci/run installs it when it can), "
           "so report.html is not checked in a browser",
)

CHECK = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute("src"));
  document.body.setAttribute("data-images", String(imgs.length));
  document.body.setAttribute("data-broken", JSON.stringify(broken));
});
</script>"""


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
    manifest = write_manifest(tmp_path, [
        {"id": "s01-open", "mode": "text_to_video", "prompt": "Dusk over the sea [Push in], gulls [soar]."},
        {"id": "s02-keeper", "mode": "image_to_video", "first_frame_image": "a.png", "takes": 2,
         "prompt": "The keeper <b>turns</b> [Pan left,Pedestal up].", "notes": "Pick the calmer \"one\"."},
        {"id": "s03-banned", "mode": "text_to_video", "prompt": "A forbidden scene [Static shot]."},
    ], name="teaser")
    out = tmp_path / "out"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    return report.write_report(load(manifest), sim.base_url, out / "teaser")


def test_report_loads_in_chromium_with_every_thumbnail_and_no_console_errors(report_of_a_run, tmp_path):
    page = report_of_a_run
    html = page.read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 9  # three frames for each of the three videos

    # The same page plus a check that runs after load, next to it so relative paths resolve.
    checked = page.with_name("_browser_check.html")
    checked.write_text(html.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    dumped = chromium(tmp_path / "profile", "--dump-dom", checked.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    images = re.search(r'<body[^>]*data-images="(\d+)"', dumped.stdout)
    broken = re.search(r"<body[^>]*data-broken=\"([^\"]*)\"", dumped.stdout)
    assert images and broken, "the load check did not run: " + dumped.stdout[:500]
    assert int(images.group(1)) == len(sources)
    assert json.loads(broken.group(1).replace("&quot;", '"')) == []

    shot = tmp_path / "report.png"
    taken = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    print(f"\nscreenshot of the report: {shot}")
    assert console_messages(dumped.stderr) == [] and console_messages(taken.stderr) == []
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (1280, 2000)
        assert len(rgb.getcolors(1 << 20) or []) > 500  # pictures, not a blank page
        banner = rgb.crop((0, 0, 1280, 200)).getcolors(1 << 20)
        # the endpoint banner (the test's client talks to its simulator as to the API: #e8f3ff)
        assert any(abs(r - 232) + abs(g - 243) + abs(b - 255) < 6 and n > 5000 for n, (r, g, b) in banner), \
            "the endpoint banner is not on screen"

    pdf = tmp_path / "report.pdf"
    printed = chromium(tmp_path / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert printed.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), printed.stderr[-2000:]
    assert pdf.stat().st_size > 20_000  # the thumbnails are printed, the players are not


def test_a_missing_thumbnail_is_caught(report_of_a_run, tmp_path):
    """The load check can fail: delete one thumbnail and it names it."""
    page = report_of_a_run
    (page.parent / "thumbs" / "s01-open.take1.middle.jpg").unlink()
    checked = page.with_name("_browser_check.html")
    checked.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    dumped = chromium(tmp_path / "profile", "--dump-dom", checked.as_uri())
    broken = re.search(r"<body[^>]*data-broken=\"([^\"]*)\"", dumped.stdout)
    assert broken and json.loads(broken.group(1).replace("&quot;", '"')) == ["thumbs/s01-open.take1.middle.jpg"]
