"""Continuity on the contact sheet and the reel: the pure page, then the real runner against the
real simulator.

A chain kf (a still, two takes) -> s01 (from the still) -> s02 (from s01's last frame): the still
is its panel's key frame with no place in the cut, a dependant shows the frame actually cut for
it (frames/) linked to its upstream's panel, the sheet's cut is the reel's; and a chain whose
first video is refused shows its dependants blocked, on the page and on the reel.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from pipeline.manifest.checker import load
from pipeline.review import cut, reel, report, thumbs
from pipeline.review.report import InputFrame, ReportData, ShotRow, TakeRow, render_html
from pipeline.run.status import Action, Standing, TakeStatus

from runs import run_inprocess, write_manifest

FRAMED = {"render_width": 640}  # frames cut from the previz pass the API's image rules (over 300 px)


def chain(flagged: bool = False) -> list[dict]:
    return [
        {"id": "kf", "mode": "image", "prompt": "A keeper in a yellow coat on a cliff at dusk.", "aspect_ratio": "16:9",
         "takes": 2},
        {"id": "s01", "mode": "image_to_video", "first_frame_image": {"shot": "kf"},
         "prompt": ("FORBIDDEN " if flagged else "") + "The keeper walks up the cliff path [Push in]."},
        {"id": "s02", "mode": "image_to_video", "first_frame_image": {"shot": "s01", "frame": "last"},
         "prompt": "He opens the door [Static shot]."},
        {"id": "s03", "mode": "image_to_video", "first_frame_image": {"shot": "s02", "frame": "last"},
         "prompt": "He climbs the stairs [Tilt up]."},
    ]


def run_chain(tmp_path: Path, sim, monkeypatch, flagged: bool = False) -> tuple[Path, Path, str, dict[str, str]]:
    """(manifest, output folder, the page, each take's detail in the run's summary) after a run
    of the chain and its report."""
    manifest = write_manifest(tmp_path, chain(flagged), name="chain",
                              defaults={"model": "MiniMax-Hailuo-02", "duration": 6, "resolution": "768P"})
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    page = report.write_report(load(manifest), sim.base_url, prepared.out_dir)
    details = {r.spec.label: r.detail for r in result.results}
    return manifest, prepared.out_dir, page.read_text(encoding="utf-8"), details


def text_of(fragment: str) -> str:
    fragment = re.sub(r"<(style|script)>.*?</\1>", "", fragment, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def panel(page: str, shot_id: str) -> str:
    return re.search(rf'<li class="panel [^"]*" id="shot-{re.escape(shot_id)}">.*?</li>', page, re.S).group(0)


def sheet(page: str, shot_id: str) -> str:
    return re.search(rf'<section class="sheet" id="takes-{re.escape(shot_id)}".*?</div></section>', page,
                     re.S).group(0)


def chained_inputs(fragment: str) -> list[str]:
    return re.findall(r'<figure class="input chained">.*?</figure>', fragment, re.S)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0-255, at the size of `a`."""
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB").resize(a.size))).mean) / 3


def video_frames(path: Path) -> list[Image.Image]:
    with av.open(str(path)) as box:
        return [f.to_image() for f in box.decode(video=0)]


# -- the pure page ------------------------------------------------------------------------------------


def page_of(*shots: ShotRow) -> str:
    return render_html(ReportData("chain", "chain.yaml", "simulator", tuple(shots)))


def still_shot(takes: int = 2) -> ShotRow:
    rows = tuple(TakeRow(n, "done", "downloaded", task_id=f"img{n}", video=f"kf.take{n}.jpg" if n > 1 else "kf.jpg",
                         thumbs=thumbs.names("kf", n, still=True), width=1280, height=720, cost=0.0035, billed=True)
                 for n in range(1, takes + 1))
    return ShotRow("kf", "image", "image-01", "A keeper at dusk.", None, None, takes=rows, aspect_ratio="16:9")


def video_shot(shot_id: str, *inputs: InputFrame, take: TakeRow | None = None) -> ShotRow:
    take = take or TakeRow(1, "pending", "new", reason="not run yet")
    return ShotRow(shot_id, "image_to_video", "MiniMax-Hailuo-02", "He walks [Push in].", 6, "768P", takes=(take,),
                   inputs=inputs)


def test_a_still_is_a_key_frame_with_no_place_in_the_cut():
    page = page_of(still_shot(), video_shot("s01"))
    kf = panel(page, "kf")
    assert '<img src="thumbs/kf.take1.still.jpg" alt="kf: take 1, still"' in kf
    assert "not in the cut" in text_of(kf) and not re.search(r"\d\d:\d\d:\d\d:\d\d", kf)
    assert "in 00:00:00:00" in text_of(panel(page, "s01"))  # the video after it starts the cut
    assert "00:00:06:00 (6 s) in 1 shot(s)" in text_of(page)
    assert "still · image-01 · 16:9" in text_of(kf)
    takes = sheet(page, "kf")
    assert "<video" not in takes and "play" not in kf and text_of(takes).count("$0.0035") == 2
    assert '<span class="in-cut">on the board</span>' in takes and ">in the cut<" not in takes  # the panel's take


def test_an_input_from_another_shot_links_to_it_and_says_what_it_waits_for():
    cut_frame = InputFrame("first frame", "frames/s01.last.0123456789abcdef.png", "thumbs/inputs/ab.jpg", 320, 180,
                           upstream="s01", frame="last frame")
    waiting = InputFrame("last frame", "kf, still, take 2", upstream="kf", frame="still, take 2", waiting=True)
    page = page_of(still_shot(), video_shot("s01"), video_shot("s02", cut_frame, waiting))
    made, waits = chained_inputs(panel(page, "s02"))
    assert '<img src="thumbs/inputs/ab.jpg"' in made and made.count('href="#shot-s01"') == 2  # the picture, the name
    assert "first frame \u2190 s01 (last frame)" in text_of(made)
    assert "<img" not in waits and "waits for kf" in text_of(waits) and 'href="#shot-kf"' in waits
    assert "last frame \u2190 kf (still, take 2)" in text_of(waits)
    assert "frames/s01.last.0123456789abcdef.png" in sheet(page, "s02")  # the sheet names the frame's file


def test_a_blocked_take_says_why_in_its_own_style():
    status = TakeStatus(Standing.NEW, Action.BLOCKED, "blocked: s01 failed (input new_sensitive (1026))",
                        SimpleNamespace(state="new"))
    row = report.take_row(1, status)
    assert (row.status, row.reason, row.video) == ("blocked", "s01 failed (input new_sensitive (1026))", None)
    page = page_of(video_shot("s01", take=TakeRow(1, "failed", "failed", reason="input new_sensitive (1026)")),
                   video_shot("s02", take=row))
    p = panel(page, "s02")
    assert 'class="panel st-blocked"' in p and 'class="key st-blocked"' in p and 'class="pill st-blocked"' in p
    assert "blocked: s01 failed (input new_sensitive (1026))" in text_of(sheet(page, "s02"))
    assert '<li class="chip st-blocked"><b>1</b> blocked</li>' in page
    assert ".panel.st-blocked{" in page and ".key.st-blocked .card{" in page  # styled, not a pending take


# -- real runs ----------------------------------------------------------------------------------------


@pytest.fixture
def framed_sim(sim_factory):
    return sim_factory(**FRAMED)


def test_a_chain_on_the_sheet_stills_cut_frames_and_the_reels_cut(tmp_path, framed_sim, monkeypatch):
    manifest, out_dir, page, _ = run_chain(tmp_path, framed_sim, monkeypatch)

    # The still is its panel's key frame: a thumbnail made with Pillow, named as a video's are.
    kf = panel(page, "kf")
    key = re.search(r'<a class="key st-done" href="#takes-kf"[^>]*><img src="([^"]+)"', kf).group(1)
    assert key == thumbs.names("kf", 1, still=True)[0] == "thumbs/kf.take1.still.jpg"
    with Image.open(out_dir / key) as img, Image.open(out_dir / "kf.jpg") as still:
        assert img.width == thumbs.THUMB_WIDTH and abs(img.height / img.width - still.height / still.width) < 0.01
        assert mean_difference(img, still) < 4
    # Its takes as dots; no timecode and no duration: a still is not in the cut.
    assert re.search(r'class="dot st-done chosen"[^>]*>1<', kf) and re.search(r'class="dot st-done"[^>]*>2<', kf)
    assert not re.search(r"\d\d:\d\d:\d\d:\d\d", kf) and " 6 s" not in text_of(kf)
    assert "not in the cut" in text_of(kf) and "no thumbnail" not in page and "cannot decode" not in page
    # Its sheet: every take's still, its size and its price; no player.
    kf_sheet = sheet(page, "kf")
    assert re.findall(r'<img src="([^"]+)"', kf_sheet) == ["thumbs/kf.take1.still.jpg", "thumbs/kf.take2.still.jpg"]
    assert all((out_dir / src).is_file() for src in re.findall(r'<img src="([^"]+)"', kf_sheet))
    assert 'href="kf.jpg"' in kf_sheet and 'href="kf.take2.jpg"' in kf_sheet
    assert "1280&times;720" in kf_sheet and "$0.0035" in kf_sheet
    assert "<video" not in kf_sheet and not re.search(r"\d\d:\d\d:\d\d:\d\d", kf_sheet)

    # s01 starts from the still, s02 from s01's last frame: each shows it, linked to its panel.
    (s01_input,) = chained_inputs(panel(page, "s01"))
    assert 'href="#shot-kf"' in s01_input and "first frame \u2190 kf (still)" in text_of(s01_input)
    (s02_input,) = chained_inputs(panel(page, "s02"))
    assert 'href="#shot-s01"' in s02_input and "first frame \u2190 s01 (last frame)" in text_of(s02_input)
    assert chained_inputs(sheet(page, "s02")) and "frames/s01.last." in sheet(page, "s02")
    # Its thumbnail is the frame cut for it in frames/: s01's last frame, not its first.
    src = re.search(r'<img src="([^"]+)"', s02_input).group(1)
    (cut_frame,) = (out_dir / "frames").glob("s01.last.*.png")
    with Image.open(out_dir / src) as shown, Image.open(cut_frame) as frame:
        assert mean_difference(shown, frame) < 3
        s01 = video_frames(out_dir / "s01.mp4")
        assert mean_difference(shown, s01[-1]) < mean_difference(shown, s01[0])

    # The sheet's cut is the reel's: the same shots (the still is in neither), at the same frames.
    entries = reel.collect(load(manifest), framed_sim.base_url, out_dir)
    assert [e.shot for e in entries] == ["s01", "s02", "s03"]
    for e in entries:
        p = text_of(panel(page, e.shot))
        assert f"in {cut.timecode(e.first_frame)}" in p and f"out {cut.timecode(e.first_frame + e.frames)}" in p
    end = entries[-1].first_frame + entries[-1].frames
    assert re.search(rf"cut{cut.timecode(end)} \([\d.]+ s\) in 3 shot\(s\)", text_of(page))


def test_a_refused_upstream_blocks_its_chain_on_the_sheet_and_the_reel(tmp_path, sim_factory, monkeypatch):
    sim = sim_factory(sensitive_words=("FORBIDDEN",), **FRAMED)
    manifest, out_dir, page, details = run_chain(tmp_path, sim, monkeypatch, flagged=True)

    assert 'class="panel st-failed" id="shot-s01"' in page
    for shot_id, why in (("s02", "s01 failed ("), ("s03", "s01 failed (")):
        p, s = panel(page, shot_id), sheet(page, shot_id)
        assert f'class="panel st-blocked" id="shot-{shot_id}"' in page
        assert '<span class="pill st-blocked">blocked</span>' in p and "<img" not in p.split('class="inputs"')[0]
        assert f"blocked{why}" in text_of(p).replace("\n", "")  # the key frame's card: its state, then why
        assert f"blocked: {why}" in text_of(s)  # the take's state in its sheet
        assert details[shot_id] in text_of(s)  # in the run's own words: the plan's rule is the runner's
        assert "sensitive" in text_of(s)  # the upstream's own reason, as the ledger has it
        assert "nothing (never submitted)" in text_of(s) and "<video" not in s
    # Their inputs wait for their upstream: no frame was cut.
    (s02_input,) = chained_inputs(panel(page, "s02"))
    assert "waits for s01" in text_of(s02_input) and "<img" not in s02_input and 'href="#shot-s01"' in s02_input
    assert not list((out_dir / "frames").glob("s01.*"))
    assert '<li class="chip st-blocked"><b>2</b> blocked</li>' in page

    # The reel cards them as blocked, with the same reason.
    entries = {e.shot: e for e in reel.collect(load(manifest), sim.base_url, out_dir)}
    assert list(entries) == ["s01", "s02", "s03"]
    assert (entries["s02"].status, entries["s02"].video) == ("blocked", None)
    assert entries["s02"].reason.startswith("s01 failed (") and entries["s02"].reason in text_of(page)


def test_an_edit_that_fails_upstream_blocks_the_chain_and_keeps_the_earlier_videos_linked(
        tmp_path, sim_factory, monkeypatch):
    sim = sim_factory(sensitive_words=("FORBIDDEN",), **FRAMED)
    run_chain(tmp_path, sim, monkeypatch)  # the whole chain made
    _, out_dir, page, _ = run_chain(tmp_path, sim, monkeypatch, flagged=True)  # s01 edited, and refused

    assert 'class="panel st-failed" id="shot-s01"' in page
    for shot_id in ("s02", "s03"):
        p = panel(page, shot_id)
        assert f'class="panel st-blocked" id="shot-{shot_id}"' in page and "1 earlier version" in text_of(p)
        history = re.search(rf'<section class="history" id="history-{shot_id}">.*?</section>', page, re.S).group(0)
        assert f'href="{shot_id}.mp4"' in history and "still in place" in text_of(history)
        assert (out_dir / f"{shot_id}.mp4").is_file()
