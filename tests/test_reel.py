"""The reel: every shot's take 1 in manifest order at one size and frame rate, the storyboard's
exact timing, title cards for shots without a video, and captions at the right timestamps."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from pipeline.review import reel
from pipeline.manifest.checker import load
from pipeline.review.reel import FPS, SIZE, ReelEntry, srt_text, title_card
from pipeline.review.report import TakeRow

from runs import counting_video, make_image, run_cli, run_inprocess, write_manifest


def diff(a: Image.Image, b: Image.Image) -> float:
    return ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean[0]


def frames_of(path: Path):
    """(index, time, picture) of every frame, decoded one at a time."""
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            yield i, frame.time, frame.to_image()


def parse_srt(text: str) -> list[tuple[str, str, list[str]]]:
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        start, end = lines[1].split(" --> ")
        blocks.append((start, end, lines[2:]))
    return blocks


def test_reel_of_a_run_keeps_the_storyboard_timing_and_cards_the_failed_shot(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(sensitive_words=("forbidden",))
    make_image(tmp_path / "a.png")
    manifest = write_manifest(tmp_path, [
        {"id": "s01-open", "mode": "text_to_video", "prompt": "Dusk over the sea [Push in].\nSecond line."},
        {"id": "s02-storm", "mode": "image_to_video", "first_frame_image": "a.png", "duration": 10,
         "prompt": "Rain on the window [Truck left]."},
        {"id": "s03-banned", "mode": "text_to_video", "prompt": "A forbidden scene [Static shot]."},
        {"id": "s04-end", "mode": "text_to_video", "prompt": "The lamp goes out.", "takes": 2},
    ], name="teaser")
    out = tmp_path / "out"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    folder = out / "teaser"
    video, captions, entries = reel.build(load(manifest), sim.base_url, folder)

    planned = 6 + 10 + 6 + 6
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (stream.width, stream.height) == SIZE and stream.average_rate == FPS
        assert abs(container.duration / 1e6 - planned) <= 1 / FPS
        assert stream.frames == planned * FPS

    assert [(e.shot, e.start, e.end, e.video is None) for e in entries] == [
        ("s01-open", 0, 6, False), ("s02-storm", 6, 16, False), ("s03-banned", 16, 22, True),
        ("s04-end", 22, 28, False)]
    assert entries[3].video == folder / "s04-end.mp4"  # take 1, not take 2
    assert parse_srt(captions.read_text(encoding="utf-8")) == [
        ("00:00:00,000", "00:00:06,000", ["s01-open", "Dusk over the sea [Push in]."]),
        ("00:00:06,000", "00:00:16,000", ["s02-storm", "Rain on the window [Truck left]."]),
        ("00:00:16,000", "00:00:22,000", ["s03-banned (failed)", "A forbidden scene [Static shot]."]),
        ("00:00:22,000", "00:00:28,000", ["s04-end", "The lamp goes out."]),
    ]

    card = title_card(entries[2])
    with av.open(str(folder / "s02-storm.mp4")) as source:
        storm_first = next(source.decode(video=0)).to_image().resize(SIZE)
    times = []
    for i, t, picture in frames_of(video):
        times.append(t)
        on_card = diff(picture, card)
        if 16 * FPS <= i < 22 * FPS:
            assert on_card < 3, (i, on_card)  # the failed shot is its card, all six seconds of it
        elif i in (16 * FPS - 1, 22 * FPS):
            assert on_card > 15, (i, on_card)  # and only those
        if i == 6 * FPS:
            assert diff(picture, storm_first) < 6  # the next shot starts on its own first frame
    assert times == pytest.approx([i / FPS for i in range(planned * FPS)])


def test_title_card_names_the_shot_its_status_and_prompt():
    entry = ReelEntry("s03-banned", "A forbidden scene at night " * 20, 0, 24, None, "failed",
                      "input content flagged as sensitive (1026)")
    card = title_card(entry)
    assert card.size == SIZE
    stripe = card.getpixel((4, 200))
    assert stripe == reel.STATUS_COLOURS["failed"]
    pending = title_card(ReelEntry("s03-banned", "x", 0, 24, None, "pending", "not run yet"))
    assert pending.getpixel((4, 200)) == reel.STATUS_COLOURS["pending"] and diff(card, pending) > 1
    # the text is drawn, long prompts are cut to the card, not past its bottom edge
    assert ImageStat.Stat(card.crop((40, 20, 600, 70)).convert("L")).extrema[0][1] > 200
    assert ImageStat.Stat(card.crop((20, SIZE[1] - 16, SIZE[0], SIZE[1])).convert("L")).extrema[0][1] < 60


def test_short_videos_hold_their_last_frame_and_long_ones_are_cut(tmp_path):
    short = counting_video(tmp_path / "short.mp4", 24)  # 1 s for a 2 s slot
    long = counting_video(tmp_path / "long.mp4", 72)  # 3 s for a 2 s slot
    entries = [ReelEntry("a", "", 0, 48, short, "done"), ReelEntry("b", "", 48, 48, long, "done")]
    reel.write_reel(entries, tmp_path / "reel.mp4")
    levels = [ImageStat.Stat(p.convert("L")).mean[0] for _, _, p in frames_of(tmp_path / "reel.mp4")]
    assert len(levels) == 96
    assert levels[:24] == pytest.approx([20 + 4 * i for i in range(24)], abs=3)
    assert levels[24:48] == pytest.approx([20 + 4 * 23] * 24, abs=3)  # held
    assert levels[48:] == pytest.approx([20 + 4 * i for i in range(48)], abs=3)  # cut after 2 s


def test_other_frame_rates_and_shapes_are_normalised(tmp_path):
    portrait = counting_video(tmp_path / "portrait.mp4", 25, size=(180, 320), fps=25)  # 1 s at 25 fps
    reel.write_reel([ReelEntry("p", "", 0, 24, portrait, "done")], tmp_path / "reel.mp4")
    pictures = [p for _, _, p in frames_of(tmp_path / "reel.mp4")]
    assert len(pictures) == 24 and pictures[0].size == SIZE
    first = pictures[0].convert("L")
    assert first.getpixel((10, 180)) < 8 and first.getpixel((630, 180)) < 8  # pillarboxed in black
    assert abs(first.getpixel((320, 180)) - 20) < 4
    left, right = (SIZE[0] - 202) // 2, (SIZE[0] + 202) // 2  # 180x320 scaled to 202x360
    assert first.getpixel((left + 3, 180)) > 12 and first.getpixel((right - 3, 180)) > 12
    # frame k of the reel (at k/24 s) shows the 25 fps source frame on screen then
    levels = [ImageStat.Stat(p.convert("L").crop((300, 100, 340, 260))).mean[0] for p in pictures]
    expected = [20 + 4 * int(k / 24 * 25 + 1e-6) for k in range(24)]
    assert levels == pytest.approx(expected, abs=3)


def test_plan_rounds_from_the_cumulative_time_and_defaults_unknown_durations(tmp_path):
    def shot(id, duration):
        return SimpleNamespace(id=id, prompt=f"prompt {id}", duration=duration)

    done = TakeRow(1, "done", "downloaded", video="x.mp4")
    missing = TakeRow(1, "failed", "failed", reason="nope")
    entries = reel.plan([(shot("a", 6), done), (shot("b", None), missing), (shot("c", 10), done)], tmp_path)
    assert [(e.first_frame, e.frames) for e in entries] == [(0, 144), (144, 144), (288, 240)]
    assert [e.video for e in entries] == [tmp_path / "x.mp4", None, tmp_path / "x.mp4"]
    assert entries[1].reason == "nope"


def test_srt_text_format():
    entries = [ReelEntry("s01", "First line [Push in]\nsecond", 0, 144, Path("a.mp4"), "done"),
               ReelEntry("s02", "x" * 200, 144, 3 * 3600 * FPS + 12, None, "pending")]
    text = srt_text(entries)
    assert text.startswith("1\n00:00:00,000 --> 00:00:06,000\ns01\nFirst line [Push in]\n\n2\n00:00:06,000 --> ")
    assert "03:00:06,500\ns02 (pending)\n" + "x" * 79 + "…\n" in text
    assert re.fullmatch(r"(\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n[^\n]+\n[^\n]+\n\n?)+", text)


def test_cli_reel(sim_factory, tmp_path):
    sim = sim_factory(sensitive_words=("forbidden",))
    manifest = write_manifest(tmp_path, [
        {"id": "s01", "mode": "text_to_video", "prompt": "Dusk [Push in]."},
        {"id": "s02", "mode": "text_to_video", "prompt": "forbidden"},
    ], name="teaser")
    run_cli(sim, "run", str(manifest), "--out", "out", "--rpm", "600", "--quiet", cwd=tmp_path)
    made = run_cli(sim, "reel", str(manifest), "--out", "out", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = Path("out") / "teaser"
    assert made.stdout.splitlines() == [str(folder / "reel.mp4"), str(folder / "reel.srt")]
    assert "1 shot(s) as title cards: s02 (failed)" in made.stderr
    with av.open(str(tmp_path / folder / "reel.mp4")) as container:
        assert container.streams.video[0].frames == 12 * FPS
