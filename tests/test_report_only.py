"""The contact sheet after `shots run M --only GOOD` on a manifest whose other shots have errors:
the broken shots are still the storyboard's, so they keep their panels, in manifest order, saying
that the shot has errors and was not run, with its first error."""

from __future__ import annotations

import html
import re

from runs import run_cli, write_manifest

SHOTS = [
    {"id": "good", "mode": "text_to_video", "prompt": "Waves at dusk [Push in]."},
    {"id": "bad", "mode": "text_to_video", "resolution": "4K"},  # no prompt, no such resolution
    {"id": "also-good", "mode": "text_to_video", "prompt": "A gull lands [Static shot]."},
]


def test_the_report_after_run_only_keeps_the_broken_shots_panels(sim, tmp_path):
    manifest = write_manifest(tmp_path, SHOTS, name="one-bad")
    out = tmp_path / "out"
    done = run_cli(sim, "run", str(manifest), "--only", "good", "--out", str(out), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = (out / "one-bad" / "report.html").read_text(encoding="utf-8")

    assert re.findall(r'<li class="panel [^"]*" id="shot-([^"]+)"', page) == ["good", "bad", "also-good"]
    bad = re.search(r'<li class="panel st-errors" id="shot-bad">.*?</li>', page, re.S).group(0)
    text = html.unescape(re.sub(r"<[^>]+>", "", bad))
    assert "not run: the shot has errors" in text
    first_error = re.search(rf"{re.escape(str(manifest))}:(\d+):\d+: shot 'bad' (field '[^']+'): ([^\n]+)",
                            done.stderr)
    assert first_error, done.stderr
    line, field, message = first_error.groups()
    assert f"line {line}: {field}: {message}" in text  # the first error, as `shots validate` says it
    assert "shots validate shows them all" in text  # and there are more
    assert "<img" not in bad and 'id="takes-bad"' not in page
    assert "it is not in the cut" in text and "00:00" not in text  # no timecode: the cut leaves it out

    good = re.search(r'<li class="panel st-done" id="shot-good">.*?</li>', page, re.S).group(0)
    assert "in 00:00:00:00" in html.unescape(re.sub(r"<[^>]+>", "", good))
    pending = re.search(r'<li class="panel st-pending" id="shot-also-good">.*?</li>', page, re.S).group(0)
    assert "in 00:00:06:00" in html.unescape(re.sub(r"<[^>]+>", "", pending))  # the broken shot is not in the cut
    assert re.search(r'<li class="chip st-not-run"><b>1</b> not run</li>', page)


def test_shots_report_draws_a_manifest_with_broken_shots_instead_of_refusing_it(sim, tmp_path):
    manifest = write_manifest(tmp_path, SHOTS, name="drawn")
    out = tmp_path / "out"
    drawn = run_cli(sim, "report", str(manifest), "--out", str(out), cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    page = (out / "drawn" / "report.html").read_text(encoding="utf-8")
    assert re.findall(r'<li class="panel [^"]*" id="shot-([^"]+)"', page) == ["good", "bad", "also-good"]
    assert 'class="panel st-errors" id="shot-bad"' in page
