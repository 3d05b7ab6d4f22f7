"""The contact sheet, a storyboard: the pure page from data (panels in manifest order, timecodes
in the cut, input frames, the endpoint named as it is, escaping, costs, history links), and the
report of real runs against the simulator (thumbnails, failures, history/, the CLI)."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image, ImageStat

from pipeline.manifest.checker import load
from pipeline.review import cut, reel, report, sheet_html, thumbs
from pipeline.run.endpoint import name_endpoint
from pipeline.review.report import (EarlierVersion, InputFrame, LastRun, ReportData, ShotRow, TakeRow,
                                    highlight_prompt, render_html)
from pipeline.run.status import BILLED_MAY_EXIST, Action, Standing

import runs
from runs import make_image, run_cli, run_inprocess, write_manifest

EVIL = "<script>alert(1)</script> \"double\" 'single' & <b>bold</b>"


def done_take(id="s01", take=1, **kw) -> TakeRow:
    return TakeRow(take, "done", "downloaded", task_id=kw.pop("task_id", f"t{take}"),
                   video=kw.pop("video", f"{id}.mp4" if take == 1 else f"{id}.take{take}.mp4"),
                   thumbs=thumbs.names(id, take), width=1366, height=768, seconds=kw.pop("seconds", 6.0),
                   cost=0.28, billed=True, **kw)


def shot(id="s01", prompt="A lighthouse at dusk [Push in].", takes=None, **kw) -> ShotRow:
    takes = takes or (done_take(id),)
    return ShotRow(id, kw.pop("mode", "text_to_video"), kw.pop("model", "MiniMax-Hailuo-02"), prompt,
                   kw.pop("duration", 6), kw.pop("resolution", "768P"), takes=tuple(takes), **kw)


def data(*shots: ShotRow, endpoint="simulator", **kw) -> ReportData:
    return ReportData("teaser", "manifests/teaser.yaml", endpoint, tuple(shots) or (shot(),), generated=0.0, **kw)


def text_of(fragment: str) -> str:
    """Visible text, roughly: style and script dropped, tags dropped, entities decoded."""
    fragment = re.sub(r"<(style|script)>.*?</\1>", "", fragment, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def panel(page: str, shot_id: str) -> str:
    return re.search(rf'<li class="panel [^"]*" id="shot-{re.escape(shot_id)}">.*?</li>', page, re.S).group(0)


def sheet(page: str, shot_id: str) -> str:
    return re.search(rf'<section class="sheet" id="takes-{re.escape(shot_id)}".*?</div></section>', page,
                     re.S).group(0)


def article(page: str, shot_id: str, take: int) -> str:
    return re.search(rf'<article class="take [^"]*" id="take{take}-{re.escape(shot_id)}">.*?</article>', page,
                     re.S).group(0)


def panel_ids(page: str) -> list[str]:
    return re.findall(r'<li class="panel [^"]*" id="shot-([^"]+)"', page)


# -- the pure page ------------------------------------------------------------------------------------


def test_user_strings_appear_only_escaped():
    failed = TakeRow(2, "failed", "failed", reason=EVIL, task_id='9"9<x>')
    page = render_html(data(
        shot(prompt=f"Storm {EVIL} [Push in]", notes=EVIL, tags=(EVIL,), takes=[done_take(), failed],
             inputs=(InputFrame("first frame", f"https://example.com/{EVIL}.jpg", url=True),
                     InputFrame("subject", f"{EVIL}.png", problem=EVIL)),
             history=(EarlierVersion(1, "history/s01.abc.20260101-000000.mp4", 1.0, prompt=EVIL),)),
        ShotRow("bad<id>", "", "", "", None, None, errors=(f"line 9: field 'prompt': {EVIL}",)),
    ))
    assert page.lower().count("<script") == 1 and sheet_html.SCRIPT in page  # the page's own, and no other
    body = page.replace(sheet_html.SCRIPT, "")
    assert "<b>bold</b>" not in body and '"double"' not in body and "'single'" not in body
    escaped = html.escape(EVIL, quote=True)
    assert body.count(escaped) >= 7  # notes, tag, reason, input refs, the input's problem, earlier prompt, error
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;double&quot; &#x27;single&#x27; &amp;" in body
    assert "9&quot;9&lt;x&gt;" in body and "bad&lt;id&gt;" in body
    assert 'id="shot--2"' in body  # an id unsafe in a URL fragment is not used as one
    assert EVIL in text_of(page)  # and reads back exactly as written


def test_camera_commands_are_marked_official_and_unknown_apart():
    prompt = 'Waves [Push in, Zoom-in slowly] then [Pan left,Tilt up] and [<img src=x>] [固定] done.'
    marked = highlight_prompt(prompt)
    assert re.findall(r'<mark class="cam"[^>]*>([^<]*)</mark>', marked) == ["Push in", "Pan left", "Tilt up", "固定"]
    unknown = re.findall(r'<mark class="cam-unknown"[^>]*>([^<]*)</mark>', marked)
    assert unknown == ["Zoom-in slowly", "&lt;img src=x&gt;"]
    assert 'title="not an official camera command; did you mean Zoom in' in marked
    assert html.unescape(re.sub(r"<[^>]+>", "", marked)) == prompt  # nothing added, nothing lost
    page = render_html(data(shot(prompt=prompt)))
    assert marked in panel(page, "s01") and marked in sheet(page, "s01")  # on the panel and in the sheet


def test_panels_in_manifest_order_with_number_id_key_frame_prompt_and_timing():
    page = render_html(data(shot("s03"), shot("s01", takes=[done_take("s01"), done_take("s01", 2)]), shot("s02")))
    assert panel_ids(page) == ["s03", "s01", "s02"]
    p = panel(page, "s01")
    assert re.search(r'<span class="n">02</span> <code class="id">s01</code>', p)
    key = re.search(r'<a class="key st-done" href="#takes-s01"[^>]*>(.*?)</a>', p, re.S).group(1)
    assert '<img src="thumbs/s01.take1.middle.jpg"' in key and "2 takes" in key  # the chosen take's key frame
    assert "<video" not in p  # the players are one click away, in the shot's sheet
    assert '<mark class="cam">Push in</mark>' in p
    assert "in 00:00:06:00" in text_of(p) and "out 00:00:12:00" in text_of(p)


def test_timecodes_are_the_reels_cut_of_probed_lengths_else_planned_durations():
    pending = TakeRow(1, "pending", "new", reason="not run yet")
    shots = [shot("a", duration=6), shot("b", duration=None), shot("c", duration=10, takes=[done_take("c", seconds=10.0)]),
             ShotRow("gone", "", "", "", None, None, errors=("line 3: no prompt",)), shot("d", duration=5, takes=[pending]),
             shot("h3", duration=6, takes=[done_take("h3", seconds=158 / 24)]), shot("e", duration=4, takes=[pending])]
    page = render_html(data(*shots))
    timing = {s.id: re.findall(r"(?:in|out)</span> (\d\d:\d\d:\d\d:\d\d)", panel(page, s.id)) for s in shots}
    assert timing == {"a": ["00:00:00:00", "00:00:06:00"], "b": ["00:00:06:00", "00:00:12:00"],  # default 6 s
                      "c": ["00:00:12:00", "00:00:22:00"], "gone": [], "d": ["00:00:22:00", "00:00:27:00"],
                      "h3": ["00:00:27:00", "00:00:33:14"],  # a "6 s" H3 clip is 158 frames: its real length
                      "e": ["00:00:33:14", "00:00:37:14"]}
    assert "not in the cut" in panel(page, "gone")
    assert "00:00:37:14 (37.6 s) in 6 shot(s)" in text_of(page)
    # The reel places the same shots at the same frames (both read review/cut.py's rule).
    kept = [s for s in shots if not s.broken]
    entries = reel.plan([(SimpleNamespace(id=s.id, prompt=s.prompt, duration=s.duration), s.takes[0])
                         for s in kept], Path("."))
    assert [(e.first_frame, e.frames) for e in entries] == [(p.first_frame, p.frames)
                                                            for p in sheet_html.slots(tuple(kept))]
    assert (cut.FPS, cut.DEFAULT_SECONDS, cut.CHOSEN_TAKE) == (reel.FPS, reel.DEFAULT_SECONDS, reel.CHOSEN_TAKE)


def test_timecodes_round_to_frames_from_the_cumulative_time():
    slots = cut.place([1 / 3] * 3 + [2.5])
    assert [(s.first_frame, s.frames) for s in slots] == [(0, 8), (8, 8), (16, 8), (24, 60)]
    assert cut.timecode(0) == "00:00:00:00" and cut.timecode(24 * 3661 + 23) == "01:01:01:23"


def test_a_video_that_is_not_its_planned_length_is_cut_at_its_real_length_and_says_so():
    short = render_html(data(shot(takes=[done_take(seconds=5.875)])))
    timing = text_of(re.search(r'<p class="timing">.*?</p>', panel(short, "s01")).group(0))
    assert "out 00:00:05:21" in timing and "planned 6 s" in timing
    exact = render_html(data(shot(takes=[done_take(seconds=6.01)])))
    assert "planned" not in text_of(re.search(r'<p class="timing">.*?</p>', panel(exact, "s01")).group(0))


def test_the_chosen_take_is_the_panels_and_the_reels():
    assert cut.chosen_take(SimpleNamespace(id="s01", takes=3, pick=None)) == 1
    failed_first = shot(takes=[TakeRow(1, "failed", "failed", reason="input new_sensitive (1026)"), done_take(take=2)])
    page = render_html(data(failed_first))
    p = panel(page, "s01")
    assert 'class="panel st-failed"' in p and "<img" not in p  # take 2 is done, but take 1 is in the cut
    assert "input new_sensitive (1026)" in p
    assert re.search(r'class="dot st-failed chosen"[^>]*>1<', p) and re.search(r'class="dot st-done"[^>]*>2<', p)
    assert "in the cut" in article(page, "s01", 1) and "in the cut" not in article(page, "s01", 2)


def test_the_sheet_has_every_takes_player_frames_and_facts():
    page = render_html(data(shot(takes=[done_take(), TakeRow(2, "pending", "new", reason="not run yet")])))
    done = article(page, "s01", 1)
    assert re.findall(r'<img src="([^"]+)"', done) == [
        "thumbs/s01.take1.first.jpg", "thumbs/s01.take1.middle.jpg", "thumbs/s01.take1.last.jpg"]
    assert re.findall(r'<img [^>]*loading="(\w+)"', done) == ["lazy"] * 3  # hidden until the sheet opens
    assert '<video controls preload="none" poster="thumbs/s01.take1.middle.jpg" src="s01.mp4"' in done
    for fact in ("1366&times;768, 6.00 s", "<code>t1</code>", "$0.28 (simulated, not billed)", 'href="s01.mp4"'):
        assert fact in done
    pending = article(page, "s01", 2)
    assert "<video" not in pending and "<img" not in pending and "not run yet" in pending
    assert 'href="#shot-s01"' in sheet(page, "s01")  # close: back to the panel


def test_failed_uncertain_pending_and_changed_takes_show_why_instead_of_a_picture():
    takes = [TakeRow(1, "failed", "failed", reason="input new_sensitive (code 1026)"),
             TakeRow(2, "uncertain", "uncertain", reason="the answer was lost"),
             TakeRow(3, "pending", "new", reason="not run yet"),
             TakeRow(4, "changed", "changed", reason="the shot changed since its last run")]
    page = render_html(data(shot(takes=takes)))
    for t in takes:
        a = article(page, "s01", t.take)
        assert "<img" not in a and "<video" not in a and html.escape(t.reason) in a
    assert 'class="panel st-failed"' in page  # the panel wears its chosen take's status


def test_a_billed_task_may_exist_is_said_once_per_take():
    reason = report.take_row(1, SimpleNamespace(
        changed=False, standing=Standing.UNCERTAIN, action=Action.UNCERTAIN_SKIPPED, status="uncertain", billed=False,
        problem=None,
        state=SimpleNamespace(reason=f"create answered HTTP 502; {BILLED_MAY_EXIST}", state="uncertain",
                              task_id=None, file=None, cost=0.28))).reason
    assert reason.count(BILLED_MAY_EXIST) == 1
    page = render_html(data(shot(takes=[TakeRow(1, "uncertain", "uncertain", reason=reason, cost=0.28)]),
                            endpoint="https://api.minimax.io"))
    assert text_of(article(page, "s01", 1)).count(BILLED_MAY_EXIST) == 1
    assert text_of(panel(page, "s01")).count(BILLED_MAY_EXIST) == 1


def test_costs_unknown_is_never_zero():
    unknown = TakeRow(1, "done", "downloaded", video="a.mp4", cost=None, billed=True)
    known = TakeRow(2, "done", "downloaded", video="b.mp4", cost=0.49, billed=True)
    never = TakeRow(3, "failed", "failed", reason="rejected")  # refused at create: no task, no bill
    lost = TakeRow(4, "uncertain", "uncertain", reason=f"lost; {BILLED_MAY_EXIST}")
    api = render_html(data(shot(takes=[unknown, known, never, lost]), endpoint="https://api.minimax.io"))
    text = text_of(api)
    assert "$0.49 + 1 take(s) of unknown price" in text
    assert "$0.00" not in text
    assert re.search(r"cost\s*unknown\s*task", text_of(article(api, "s01", 1)))
    assert "not billed (no task was made)" in text and "unknown (see why above)" in text
    sim = text_of(render_html(data(shot(takes=[unknown, known]))))
    assert "nothing billed (simulator); the real API would have charged $0.49 + 1 take(s) of unknown price" in sim
    local = text_of(render_html(data(shot(takes=[known]), endpoint="http://127.0.0.1:8765")))
    assert "$0.49 at MiniMax API prices" in local and "simulated" not in local


@pytest.mark.parametrize("endpoint, server, kind, text", [
    ("simulator", None, "simulator", "the built-in simulator (previz)"),
    ("https://api.minimax.io", None, "api", "the MiniMax API (api.minimax.io)"),
    ("https://api.minimaxi.com", None, "api", "the MiniMax API, mainland China (api.minimaxi.com)"),
    ("http://127.0.0.1:8765", None, "local", "a local server at http://127.0.0.1:8765"),
    ("http://127.0.0.1:8765", "minimax-sim/1.0 Python/3.11", "local", "shots sim at http://127.0.0.1:8765"),
    ("http://localhost:9000", None, "local", "a local server at http://localhost:9000"),
    ("http://[::1]:9000", None, "local", "a local server at http://[::1]:9000"),
    ("https://minimax-proxy.example.com/v", None, "custom", "custom server at minimax-proxy.example.com"),
    ("https://user:secret@proxy.example.com", None, "custom", "custom server at proxy.example.com"),
    ("http://api.minimax.io", None, "custom", "custom server at api.minimax.io"),  # not the API's https
    ("https://api.minimax.io:8443", None, "custom", "custom server at api.minimax.io:8443"),
])
def test_the_endpoint_is_named_as_it_is(endpoint, server, kind, text):
    where = name_endpoint(endpoint, server)
    assert (where.kind, where.text) == (kind, text)
    assert "secret" not in (where.url or "")
    run = LastRun(0.0, 1.0, "api", server=server)
    page = render_html(data(endpoint=endpoint, last_run=run))
    assert f"<dt>endpoint</dt><dd>{html.escape(text)}</dd>" in page and "secret" not in page
    assert ("SIMULATOR" in page) == (kind == "simulator")
    assert ("Real MiniMax API" not in page) and (("MINIMAX API</strong>" in page) == (kind == "api"))
    assert (f'<body class="ep-{kind}">') in page


def test_input_frames_local_as_thumbnails_urls_named_never_loaded():
    inputs = (InputFrame("first frame", "assets/night.jpg", "thumbs/inputs/0123456789abcdef.jpg", 320, 180),
              InputFrame("last frame", "https://cdn.example.com/frames/deep/dawn.jpg", url=True),
              InputFrame("subject", "assets/hero.jpg", problem="No such file or directory"))
    page = render_html(data(shot(mode="first_last_frame", inputs=inputs)))
    p = panel(page, "s01")
    imgs = re.findall(r'<img src="([^"]+)"', p)
    assert imgs == ["thumbs/s01.take1.middle.jpg", "thumbs/inputs/0123456789abcdef.jpg"]
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", p) == ["first frame", "last frame", "subject"]
    assert "URL, not loaded" in p and "cdn.example.com/…/dawn.jpg" in text_of(p)
    assert "No such file or directory" in p
    assert "https://cdn.example.com/frames/deep/dawn.jpg" in text_of(sheet(page, "s01"))  # whole, in the sheet
    assert not re.search(r'(?:src|href|poster)="https?:', page)  # nothing is fetched from the network
    no_inputs = panel(render_html(data(shot())), "s01")
    assert "no input frame" in no_inputs and "<figure" not in no_inputs


def test_earlier_versions_are_linked_from_the_shot():
    history = (EarlierVersion(1, "s01.mp4", prompt="A lighthouse at noon.", current=True),
               EarlierVersion(1, "history/s01.3212af84b47ad511.20260101-120000.mp4", 1_700_000_000.0,
                              prompt="A lighthouse at dawn [Pan left]."),
               EarlierVersion(2, "history/s01.take2.unrecorded.20260101-120000.mp4"))
    page = render_html(data(shot(history=history)))
    p = panel(page, "s01")
    assert '<a class="hist" href="#history-s01">3 earlier versions</a>' in p
    h = re.search(r'<section class="history" id="history-s01">.*?</section>', page, re.S).group(0)
    assert re.findall(r'<a href="([^"]+)"', h) == [v.file for v in history]  # relative links to the files
    text = text_of(h)
    assert "was: A lighthouse at dawn [Pan left]." in text and '<mark class="cam">Pan left</mark>' in h
    assert "still in place: the next run moves it to history/" in text and "take 2" in text
    assert "history" not in text_of(panel(render_html(data(shot())), "s01"))


def test_a_shot_left_out_for_its_errors_is_a_panel_that_says_so():
    broken = ShotRow("bad", "", "", "", None, None,
                     errors=("line 12: field 'prompt': text_to_video needs a prompt", "line 13: field 'resolution': x"))
    page = render_html(data(shot("a"), broken, shot("b")))
    assert panel_ids(page) == ["a", "bad", "b"]
    p = panel(page, "bad")
    assert 'class="panel st-errors"' in p and "not run" in text_of(p).lower()
    assert "line 12: field 'prompt': text_to_video needs a prompt" in text_of(p)
    assert "1 more; shots validate shows them all" in text_of(p)
    assert 'id="takes-bad"' not in page  # nothing to play
    chips = dict((k, int(v)) for v, k in re.findall(r'<li class="chip st-[\w-]+"><b>(\d+)</b> ([\w ]+)</li>', page))
    assert chips["not run"] == 1


def test_header_totals_and_last_run():
    takes = [TakeRow(1, "done", "downloaded", video="a.mp4", cost=0.28, billed=True),
             TakeRow(2, "failed", "failed", reason="x"), TakeRow(3, "pending", "new", reason="y"),
             TakeRow(4, "changed", "changed", reason="z")]
    run = LastRun(started=1000.0, finished=1125.0, backend="simulator", outcome=(("done", 1), ("failed", 1)))
    page = render_html(data(shot(takes=takes), last_run=run))
    chips = dict((k, int(v)) for v, k in re.findall(r'<li class="chip st-\w+"><b>(\d+)</b> (\w+)</li>', page))
    assert chips == {"done": 1, "failed": 1, "uncertain": 0, "pending": 2}
    assert "2 min 05 s (1 done, 1 failed), finished" in page
    stopped = render_html(data(last_run=LastRun(started=1000.0, finished=None, backend="api")))
    assert "did not finish (interrupted or still running)" in stopped
    assert "no run yet" in render_html(data())


def test_the_page_is_self_contained_pure_and_printable():
    page = render_html(data(shot("s03"), shot("s01"), shot("s02")))
    links = re.findall(r'(?:src|href|poster)="([^"]*)"', page)
    assert links and not [u for u in links if re.match(r"[a-z]+:", u) or u.startswith("/")]  # relative only
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert 'name="viewport"' in page
    assert render_html(data(shot("s03"), shot("s01"))) == render_html(data(shot("s03"), shot("s01")))  # pure
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    printed = css[css.index("@media print"):]
    assert "size:A4 landscape" in printed and "grid-template-columns:repeat(3,1fr)" in printed  # 3 across, 2 down
    assert re.search(r"\.sheets[^{]*\{display:none\}", printed.replace(",script", ""))  # no players on paper
    assert "break-inside:avoid" in printed
    assert 'counter(page) " of " counter(pages)' in page


def test_the_printed_page_names_escape_css():
    css = sheet_html.page_css('te"st</style><script>', "a local server at http://127.0.0.1:1")
    assert "</style>" not in css and '"st' not in css and "<" not in css
    assert "\\22 " in css and "\\3c " in css


def test_many_panels_load_their_pictures_lazily_after_the_first_screens():
    many = [shot(f"s{i:03d}", inputs=(InputFrame("first frame", "a.jpg", f"thumbs/inputs/{i:016d}.jpg", 320, 180),))
            for i in range(40)]
    page = render_html(data(*many))
    board = page[page.index('<ol class="board">'):page.index('<div class="sheets">')]
    loading = re.findall(r'<img [^>]*loading="(\w+)"', board)
    assert loading == ["eager"] * 2 * report.EAGER_PANELS + ["lazy"] * 2 * (40 - report.EAGER_PANELS)
    sheets = page[page.index('<div class="sheets">'):]
    assert set(re.findall(r'<img [^>]*loading="(\w+)"', sheets)) == {"lazy"}
    assert set(re.findall(r'<video [^>]*preload="(\w+)"', page)) == {"none"}


def test_last_run_pairs_the_latest_start_with_its_finish():
    events = [{"e": "run_started", "t": 10.0, "backend": "simulator"}, {"e": "run_finished", "t": 20.0, "done": 2},
              {"e": "intent", "t": 21.0}, {"e": "run_started", "t": 30.0, "backend": "api"}]
    assert report.last_run(events) == LastRun(30.0, None, "api")  # the last one never finished
    events.append({"e": "run_finished", "t": 42.5, "done": 3, "failed": 1, "interrupted": True})
    assert report.last_run(events) == LastRun(30.0, 42.5, "api", True, (("done", 3), ("failed", 1)))
    assert report.last_run([]) is None
    assert report.last_run([{"e": "run_started", "t": 1.0, "server": "minimax-sim/1"}]).server == "minimax-sim/1"


# -- thumbnails ------------------------------------------------------------------------------------


def counting_video(path: Path, frames: int = 48) -> Path:
    """Frame i is grey level 40 + 4*i."""
    return runs.counting_video(path, frames, first_grey=40)


def grey(path: Path) -> float:
    with Image.open(path) as img:
        return ImageStat.Stat(img.convert("L")).mean[0]


def test_thumbnails_are_the_first_middle_and_last_frames(tmp_path):
    counting_video(tmp_path / "s01.mp4")
    made = thumbs.ensure(tmp_path, "s01.mp4", "s01", 1)
    assert made.files == ("thumbs/s01.take1.first.jpg", "thumbs/s01.take1.middle.jpg", "thumbs/s01.take1.last.jpg")
    levels = [grey(tmp_path / f) for f in made.files]
    assert levels == pytest.approx([40, 40 + 4 * 24, 40 + 4 * 47], abs=4)
    assert (made.meta.width, made.meta.height, made.meta.duration) == (320, 180, pytest.approx(2.0))


def test_thumbnails_are_cut_again_only_when_the_video_changes(tmp_path):
    video = counting_video(tmp_path / "s01.mp4")
    assert thumbs.ensure(tmp_path, "s01.mp4", "s01", 1).made
    assert not thumbs.ensure(tmp_path, "s01.mp4", "s01", 1).made  # same size and mtime: not even hashed
    os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 10**9))
    again = thumbs.ensure(tmp_path, "s01.mp4", "s01", 1)
    assert not again.made and again.meta.mtime_ns == video.stat().st_mtime_ns  # touched, same sha256
    counting_video(video, frames=24)  # new content
    changed = thumbs.ensure(tmp_path, "s01.mp4", "s01", 1)
    assert changed.made and changed.meta.duration == pytest.approx(1.0)
    assert grey(tmp_path / changed.files[2]) == pytest.approx(40 + 4 * 23, abs=4)
    (tmp_path / changed.files[1]).unlink()  # a thumbnail went missing
    assert thumbs.ensure(tmp_path, "s01.mp4", "s01", 1).made


def test_an_image_shots_still_gets_one_thumbnail_made_with_pillow_and_reused(tmp_path):
    make_image(tmp_path / "kf.jpg", size=(1280, 720), color=(200, 40, 40))
    make_image(tmp_path / "kf.take2.jpg", size=(720, 1280))
    made = thumbs.ensure(tmp_path, "kf.jpg", "kf", 1, still=True)
    assert made.made and made.still
    assert made.files == thumbs.names("kf", 1, still=True) == ("thumbs/kf.take1.still.jpg",)
    assert (made.meta.width, made.meta.height, made.meta.duration, made.meta.fps) == (1280, 720, 0.0, None)
    with Image.open(tmp_path / made.files[0]) as img:
        assert img.size == (320, 180) and img.format == "JPEG"
    again = thumbs.ensure(tmp_path, "kf.jpg", "kf", 1, still=True)
    assert not again.made and again.still and again.meta == made.meta  # the index remembers it
    tall = thumbs.ensure(tmp_path, "kf.take2.jpg", "kf", 2, still=True)
    with Image.open(tmp_path / tall.files[0]) as img:  # as wide as a video's thumbnails, however tall
        assert img.size == (320, 569) and (tall.meta.width, tall.meta.height) == (720, 1280)
    (tmp_path / "bad.jpg").write_bytes(b"not a picture")
    with pytest.raises(thumbs.ThumbError):
        thumbs.ensure(tmp_path, "bad.jpg", "bad", 1, still=True)


def test_input_stills_are_small_named_by_content_and_made_once(tmp_path):
    big = make_image(tmp_path / "big.png", size=(1280, 720), color=(200, 40, 40))
    portrait = make_image(tmp_path / "tall.jpg", size=(400, 900))
    out = tmp_path / "out"
    still = thumbs.input_still(out, big, "ab" * 32)
    assert still.file == "thumbs/inputs/abababababababab.jpg" and (still.width, still.height) == (320, 180)
    with Image.open(out / still.file) as img:
        assert img.size == (320, 180) and img.format == "JPEG"
    before = (out / still.file).stat().st_mtime_ns
    assert thumbs.input_still(out, big, "ab" * 32) == still and (out / still.file).stat().st_mtime_ns == before
    tall = thumbs.input_still(out, portrait, "cd" * 32)
    assert (tall.width, tall.height) == (142, 320)
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    with pytest.raises(thumbs.ThumbError):
        thumbs.input_still(out, tmp_path / "broken.png", "ef" * 32)


def test_one_index_for_many_takes_and_the_ledgers_hash_is_trusted(tmp_path, monkeypatch):
    for i in range(3):
        counting_video(tmp_path / f"s{i}.mp4", frames=12)
    monkeypatch.setattr(thumbs, "sha256_of", lambda path: pytest.fail("hashed a video the ledger vouched for"))
    index = thumbs.Index(tmp_path)
    made = [index.ensure(f"s{i}.mp4", f"s{i}", 1, sha256=f"hash{i}") for i in range(3)]
    assert all(t.made for t in made) and not (tmp_path / "thumbs" / "index.json").exists()  # not saved yet
    index.save()
    saved = json.loads((tmp_path / "thumbs" / "index.json").read_text())
    assert {k: v["meta"]["sha256"] for k, v in saved.items()} == {f"s{i}.take1": f"hash{i}" for i in range(3)}
    assert not any(thumbs.Index(tmp_path).ensure(f"s{i}.mp4", f"s{i}", 1).made for i in range(3))


# -- real runs -------------------------------------------------------------------------------------


def storyboard(tmp_path: Path, still: bool = False) -> Path:
    """Four video shots, one of them refused; with `still`, an image shot's keyframe among them."""
    make_image(tmp_path / "a.png")
    keyframe = [{"id": "kf-look", "mode": "image", "prompt": "The keeper's look: yellow oilskin, dusk.",
                 "aspect_ratio": "16:9"}] if still else []
    return write_manifest(tmp_path, [
        {"id": "s01-open", "mode": "text_to_video", "prompt": "Dusk over the sea [Push in], gulls [soar up]."},
        *keyframe,
        {"id": "s02-keeper", "mode": "image_to_video", "first_frame_image": "a.png", "takes": 2,
         "prompt": f"The keeper {EVIL} [Pan left].", "notes": EVIL},
        {"id": "s03-banned", "mode": "text_to_video", "prompt": "A forbidden scene [Static shot]."},
        {"id": "s04-hero", "mode": "subject_reference", "model": "S2V-01", "subject_image": "a.png",
         "prompt": "She waves."},
    ], name="teaser")


def test_report_of_a_run_with_a_failure(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(sensitive_words=("forbidden",))
    manifest = storyboard(tmp_path, still=True)
    out = tmp_path / "out"
    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert [r.outcome for r in result.results].count("failed") == 1
    path = report.write_report(load(manifest), sim.base_url, out / "teaser")
    page = path.read_text(encoding="utf-8")

    assert panel_ids(page) == ["s01-open", "kf-look", "s02-keeper", "s03-banned", "s04-hero"]
    board = page[page.index('<ol class="board">'):page.index('<div class="sheets">')]
    keys = re.findall(r'<a class="key[^"]*"[^>]*><img src="([^"]+)"', board)
    assert keys == ["thumbs/s01-open.take1.middle.jpg", "thumbs/kf-look.take1.still.jpg",
                    "thumbs/s02-keeper.take1.middle.jpg", "thumbs/s04-hero.take1.middle.jpg"]
    inputs = re.findall(r'<figure class="input"><img src="([^"]+)"', board)
    assert len(inputs) == 2 and len(set(inputs)) == 1  # s02's first frame and s04's subject: one image, one still
    imgs = set(re.findall(r'<img src="([^"]+)"', page))
    assert len(imgs) == 3 * 4 + 1 + 1  # three frames of each video, the input, and the still
    for src in imgs:
        with Image.open(path.parent / src) as img:
            img.load()
            assert img.width == 320 and img.height in (180, 240)
    videos = re.findall(r'<video [^>]*src="([^"]+)"', page)
    assert videos == ["s01-open.mp4", "s02-keeper.mp4", "s02-keeper.take2.mp4", "s04-hero.mp4"]
    assert all((path.parent / v).exists() for v in videos)
    banned = panel(page, "s03-banned") + sheet(page, "s03-banned")
    assert "sensitive" in banned and "1026" in banned and "<img" not in banned
    assert "(1026) (code 1026)" not in banned  # the code is not repeated when the reason has it
    assert "not billed (no task was made)" in banned
    assert html.escape(EVIL) in page and page.lower().count("<script") == 1
    assert f"a local server at {sim.base_url}" in page  # the test points the client at its simulator
    assert re.search(r"<dt>last run</dt><dd>\d+\.\d s \(5 done, 1 failed\), finished", page)
    assert "unknown" in article(page, "s04-hero", 1)  # S2V-01: no price
    assert '<mark class="cam">Push in</mark>' in page and '<mark class="cam-unknown"' in page
    # The timecodes are the reel's: its entries, read the same way from the same ledger. The still
    # is in neither cut (review/cut.py's one rule): no timecode on its panel, not counted.
    entries = reel.collect(load(manifest), sim.base_url, out / "teaser")
    assert [e.shot for e in entries] == ["s01-open", "s02-keeper", "s03-banned", "s04-hero"]
    for e in entries:
        p = text_of(panel(page, e.shot))
        assert f"in {cut.timecode(e.first_frame)}" in p and f"out {cut.timecode(e.first_frame + e.frames)}" in p
    still = text_of(panel(page, "kf-look"))
    assert "not in the cut" in still and not re.search(r"\d\d:\d\d:\d\d:\d\d", still)
    end = entries[-1].first_frame + entries[-1].frames
    assert re.search(rf"<dt>cut</dt><dd>{cut.timecode(end)} \([\d.]+ s\) in {len(entries)} shot\(s\)", page)


def test_an_edited_shot_links_its_earlier_video_in_history(sim, tmp_path):
    shots = [{"id": "s01", "mode": "text_to_video", "prompt": "A lighthouse at dusk [Push in]."}]
    manifest = write_manifest(tmp_path, shots, name="teaser")
    assert run_cli(sim, "run", str(manifest), "--out", "out", "--quiet", cwd=tmp_path).returncode == 0
    folder = tmp_path / "out" / "teaser"
    first = (folder / "s01.mp4").read_bytes()

    shots[0]["prompt"] = "A lighthouse at night [Pan left]."
    write_manifest(tmp_path, shots, name="teaser")
    page = report.write_report(load(manifest), sim.base_url, folder).read_text(encoding="utf-8")
    assert "changed" in panel(page, "s01") and "still in place" in page  # until the next run moves it
    assert '<a href="s01.mp4">s01.mp4</a>' in page

    assert run_cli(sim, "run", str(manifest), "--out", "out", "--quiet", cwd=tmp_path).returncode == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert '<a class="hist" href="#history-s01">1 earlier version</a>' in panel(page, "s01")
    (earlier,) = re.findall(r'<a href="(history/[^"]+)"', page)
    assert (folder / earlier).read_bytes() == first
    assert "was: A lighthouse at dusk [Push in]." in text_of(page)


def test_cli_report_and_the_report_after_every_run(sim, tmp_path):
    manifest = storyboard(tmp_path)
    ran = run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", cwd=tmp_path)
    folder = tmp_path / "out" / "teaser"
    assert ran.returncode == 0, ran.stderr
    assert f"report: {Path('out') / 'teaser' / 'report.html'}" in ran.stderr
    assert (folder / "report.html").exists() and len(list((folder / "thumbs").glob("*.jpg"))) == 15
    assert len(list((folder / "thumbs" / "inputs").glob("*.jpg"))) == 1
    index = json.loads((folder / "thumbs" / "index.json").read_text())
    assert set(index) == {"s01-open.take1", "s02-keeper.take1", "s02-keeper.take2", "s03-banned.take1",
                          "s04-hero.take1"}

    (folder / "report.html").unlink()
    again = run_cli(sim, "report", str(manifest), "--out", "out", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == str(Path("out") / "teaser" / "report.html")
    assert (folder / "report.html").exists()


def test_no_report_when_the_run_is_refused_before_any_work(sim, tmp_path):
    manifest = storyboard(tmp_path)
    folder = tmp_path / "out" / "teaser"
    folder.mkdir(parents=True)
    from pipeline.run.ledger import RunLock

    with RunLock(folder):  # another run holds the folder
        refused = run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", cwd=tmp_path)
    assert refused.returncode == 3
    assert "report:" not in refused.stderr and not (folder / "report.html").exists()


def test_an_interrupted_run_still_writes_its_report(sim_factory, tmp_path):
    import signal
    import subprocess
    import time

    from runs import cli_env, shots_cmd, t2v_shots

    sim = sim_factory(time_scale=0.01)  # generations take 0.9-2.4 s: Ctrl-C lands while one runs
    manifest = write_manifest(tmp_path, t2v_shots(4), name="teaser")
    proc = subprocess.Popen(shots_cmd("run", str(manifest), "--out", "out", "--rpm", "600", "--quiet",
                                      "--no-lock-file", "--time-scale", "0.01"),
                            cwd=tmp_path, env=cli_env(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    ledger_file = tmp_path / "out" / "teaser" / "ledger.jsonl"
    deadline = time.monotonic() + 20
    while '"submitted"' not in (ledger_file.read_text() if ledger_file.exists() else ""):  # a task is running
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    page = (tmp_path / "out" / "teaser" / "report.html").read_text(encoding="utf-8")
    assert "report: " in stderr
    assert "is being generated; run again to fetch it" in page
    assert "did not finish" not in page and "(interrupted" in page  # the run recorded its own stop
