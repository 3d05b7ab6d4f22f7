"""The contact sheet: the pure page from data (escaping, highlighting, costs, banners), and the
report of a real run against the simulator (thumbnails, failures, the run's wall time, the CLI)."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from pipeline.review import report, thumbs
from pipeline.manifest.checker import load
from pipeline.review.report import LastRun, ReportData, ShotRow, TakeRow, highlight_prompt, render_html

import runs
from runs import make_image, run_cli, run_inprocess, write_manifest

EVIL = "<script>alert(1)</script> \"double\" 'single' & <b>bold</b>"


def shot(id="s01", prompt="A lighthouse at dusk [Push in].", takes=None, **kw) -> ShotRow:
    takes = takes or (TakeRow(1, "done", "downloaded", task_id="t1", video=f"{id}.mp4",
                              thumbs=thumbs.names(id, 1), width=1366, height=768, seconds=6.0, cost=0.28,
                              billed=True),)
    return ShotRow(id, kw.pop("mode", "text_to_video"), kw.pop("model", "MiniMax-Hailuo-02"), prompt,
                   kw.pop("duration", 6), kw.pop("resolution", "768P"), takes=tuple(takes), **kw)


def data(*shots: ShotRow, endpoint="simulator", **kw) -> ReportData:
    return ReportData("teaser", "manifests/teaser.yaml", endpoint, tuple(shots) or (shot(),), generated=0.0, **kw)


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# -- the pure page ------------------------------------------------------------------------------------


def test_user_strings_appear_only_escaped():
    failed = TakeRow(2, "failed", "failed", reason=EVIL, task_id='9"9<x>')
    page = render_html(data(shot(prompt=f"Storm {EVIL} [Push in]", notes=EVIL, tags=(EVIL,),
                                 takes=[shot().takes[0], failed])))
    assert "<script" not in page.lower()  # the page has no script of its own, and lets none in
    assert "<b>bold</b>" not in page and '"double"' not in page and "'single'" not in page
    escaped = html.escape(EVIL, quote=True)
    assert page.count(escaped) >= 3  # notes, tag, reason (the prompt is escaped piecewise)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;double&quot; &#x27;single&#x27; &amp;" in page
    assert "9&quot;9&lt;x&gt;" in page
    assert EVIL in text_of(page)  # and reads back exactly as written


def test_camera_commands_are_marked_official_and_unknown_apart():
    prompt = 'Waves [Push in, Zoom-in slowly] then [Pan left,Tilt up] and [<img src=x>] [固定] done.'
    marked = highlight_prompt(prompt)
    assert re.findall(r'<mark class="cam"[^>]*>([^<]*)</mark>', marked) == ["Push in", "Pan left", "Tilt up", "固定"]
    unknown = re.findall(r'<mark class="cam-unknown"[^>]*>([^<]*)</mark>', marked)
    assert unknown == ["Zoom-in slowly", "&lt;img src=x&gt;"]
    assert 'title="not an official camera command; did you mean Zoom in' in marked
    assert html.unescape(re.sub(r"<[^>]+>", "", marked)) == prompt  # nothing added, nothing lost


def test_failed_uncertain_and_pending_takes_show_the_reason_instead_of_a_picture():
    takes = [TakeRow(1, "failed", "failed", reason="input new_sensitive (code 1026)"),
             TakeRow(2, "uncertain", "uncertain", reason="the answer was lost"),
             TakeRow(3, "pending", "new", reason="not run yet"),
             TakeRow(4, "changed", "changed", reason="the shot changed since its last run")]
    page = render_html(data(shot(takes=takes)))
    for t in takes:
        article = re.search(rf'<article class="take st-{t.status}" id="s01-take{t.take}">(.*?)</article>',
                            page).group(1)
        assert "<img" not in article and "<video" not in article
        assert html.escape(t.reason) in article
    assert page.count('<section class="shot st-failed"') == 1  # the shot wears its worst status


def test_done_takes_have_three_thumbnails_a_lazy_player_and_their_facts():
    page = render_html(data(shot()))
    article = re.search(r'<article class="take st-done".*?</article>', page).group(0)
    assert re.findall(r'<img src="([^"]+)"', article) == [
        "thumbs/s01.take1.first.jpg", "thumbs/s01.take1.middle.jpg", "thumbs/s01.take1.last.jpg"]
    assert '<video controls preload="none" poster="thumbs/s01.take1.first.jpg" src="s01.mp4"' in article
    for fact in ("1366&times;768, 6.0 s", "<code>t1</code>", "$0.28 (simulated, not billed)"):
        assert fact in article


def test_costs_unknown_is_never_zero():
    unknown = TakeRow(1, "done", "downloaded", video="a.mp4", cost=None, billed=True)
    known = TakeRow(2, "done", "downloaded", video="b.mp4", cost=0.49, billed=True)
    never = TakeRow(3, "failed", "failed", reason="rejected")  # refused at create: no task, no bill
    lost = TakeRow(4, "uncertain", "uncertain", reason="lost")
    api = render_html(data(shot(takes=[unknown, known, never, lost]), endpoint="https://api.minimax.io"))
    text = text_of(api)
    assert "$0.49 + 1 take(s) of unknown price" in text
    assert "$0.00" not in text
    assert re.search(r"cost\s*unknown\s*task", text)
    assert "not billed (no task was made)" in text and "unknown (a billed task may exist)" in text
    sim = text_of(render_html(data(shot(takes=[unknown, known]))))
    assert "nothing billed (simulator); the real API would have charged $0.49 + 1 take(s) of unknown price" in sim


def test_the_simulator_is_announced_and_the_api_named():
    sim = render_html(data())
    assert '<div class="banner sim"' in sim and "SIMULATOR" in sim and "simulator (previz)" in sim
    api = render_html(data(endpoint="https://api.minimax.io"))
    assert '<div class="banner sim"' not in api and "SIMULATOR" not in api
    assert "Real MiniMax API: <code>https://api.minimax.io</code>" in api


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


def test_shots_keep_manifest_order_and_the_page_is_self_contained_and_printable():
    page = render_html(data(shot("s03"), shot("s01"), shot("s02")))
    assert re.findall(r'<section class="shot st-\w+" id="(\w+)"', page) == ["s03", "s01", "s02"]
    links = re.findall(r'(?:src|href|poster)="([^"]*)"', page)
    assert links and not [u for u in links if re.match(r"[a-z]+:", u) or u.startswith("/")]  # relative only
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "@media print" in page and 'name="viewport"' in page
    assert render_html(data(shot("s03"), shot("s01"))) == render_html(data(shot("s03"), shot("s01")))  # pure


def test_last_run_pairs_the_latest_start_with_its_finish():
    events = [{"e": "run_started", "t": 10.0, "backend": "simulator"}, {"e": "run_finished", "t": 20.0, "done": 2},
              {"e": "intent", "t": 21.0}, {"e": "run_started", "t": 30.0, "backend": "api"}]
    assert report.last_run(events) == LastRun(30.0, None, "api")  # the last one never finished
    events.append({"e": "run_finished", "t": 42.5, "done": 3, "failed": 1, "interrupted": True})
    assert report.last_run(events) == LastRun(30.0, 42.5, "api", True, (("done", 3), ("failed", 1)))
    assert report.last_run([]) is None


# -- thumbnails ------------------------------------------------------------------------------------


def counting_video(path: Path, frames: int = 48) -> Path:
    """Frame i is grey level 40 + 4*i."""
    return runs.counting_video(path, frames, first_grey=40)


def grey(path: Path) -> float:
    with Image.open(path) as img:
        return ImageStat.Stat(img.convert("L")).mean[0]


def test_thumbnails_are_the_first_middle_and_last_frames(tmp_path):
    counting_video(tmp_path / "s01.mp4")
    cut = thumbs.ensure(tmp_path, "s01.mp4", "s01", 1)
    assert cut.files == ("thumbs/s01.take1.first.jpg", "thumbs/s01.take1.middle.jpg", "thumbs/s01.take1.last.jpg")
    levels = [grey(tmp_path / f) for f in cut.files]
    assert levels == pytest.approx([40, 40 + 4 * 24, 40 + 4 * 47], abs=4)
    assert (cut.meta.width, cut.meta.height, cut.meta.duration) == (320, 180, pytest.approx(2.0))


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


# -- a real run ------------------------------------------------------------------------------------


def storyboard(tmp_path: Path) -> Path:
    make_image(tmp_path / "a.png")
    return write_manifest(tmp_path, [
        {"id": "s01-open", "mode": "text_to_video", "prompt": "Dusk over the sea [Push in], gulls [soar up]."},
        {"id": "s02-keeper", "mode": "image_to_video", "first_frame_image": "a.png", "takes": 2,
         "prompt": f"The keeper {EVIL} [Pan left].", "notes": EVIL},
        {"id": "s03-banned", "mode": "text_to_video", "prompt": "A forbidden scene [Static shot]."},
        {"id": "s04-hero", "mode": "subject_reference", "model": "S2V-01", "subject_image": "a.png",
         "prompt": "She waves."},
    ], name="teaser")


def test_report_of_a_run_with_a_failure(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(sensitive_words=("forbidden",))
    manifest = storyboard(tmp_path)
    out = tmp_path / "out"
    _, result = run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    assert [r.outcome for r in result.results].count("failed") == 1
    path = report.write_report(load(manifest), sim.base_url, out / "teaser")
    page = path.read_text(encoding="utf-8")

    assert re.findall(r'<section class="shot st-\w+" id="([\w-]+)"', page) == [
        "s01-open", "s02-keeper", "s03-banned", "s04-hero"]
    imgs = re.findall(r'<img src="([^"]+)"', page)
    assert len(imgs) == 3 * 4  # s01, both takes of s02, s04
    for src in imgs:
        with Image.open(path.parent / src) as img:
            img.load()
            assert img.width == 320 and img.height in (180, 240)
    videos = re.findall(r'<video [^>]*src="([^"]+)"', page)
    assert videos == ["s01-open.mp4", "s02-keeper.mp4", "s02-keeper.take2.mp4", "s04-hero.mp4"]
    assert all((path.parent / v).exists() for v in videos)
    banned = re.search(r'<section class="shot st-failed" id="s03-banned">.*?</section>', page, re.S).group(0)
    assert "sensitive" in banned and "1026" in banned and "<img" not in banned
    assert "(1026) (code 1026)" not in banned  # the code is not repeated when the reason has it
    assert "not billed (no task was made)" in banned
    assert "<script" not in page and html.escape(EVIL) in page
    assert "Real MiniMax API: <code>http://127.0.0.1:" in page  # the test points the client at the simulator
    assert re.search(r"<dt>last run</dt><dd>\d+\.\d s \(4 done, 1 failed\), finished", page)
    assert "unknown" in re.search(r'id="s04-hero-take1">.*?</article>', page, re.S).group(0)  # S2V-01: no price
    assert '<mark class="cam">Push in</mark>' in page and '<mark class="cam-unknown"' in page


def test_cli_report_and_the_report_after_every_run(sim, tmp_path):
    manifest = storyboard(tmp_path)
    ran = run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", cwd=tmp_path)
    folder = tmp_path / "out" / "teaser"
    assert ran.returncode == 0, ran.stderr
    assert f"report: {Path('out') / 'teaser' / 'report.html'}" in ran.stderr
    assert (folder / "report.html").exists() and len(list((folder / "thumbs").glob("*.jpg"))) == 15
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


def test_many_takes_load_their_thumbnails_lazily_after_the_first_screens():
    many = [shot(f"s{i:03d}") for i in range(40)]
    page = render_html(data(*many))
    loading = re.findall(r'<img [^>]*loading="(\w+)"', page)
    assert loading == ["eager"] * 3 * report.EAGER_TAKES + ["lazy"] * 3 * (40 - report.EAGER_TAKES)


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
