"""The reel: every shot's picked take in manifest order at one size and frame rate, the
storyboard's exact timing, title cards for shots without a video, captions at the right
timestamps, the clips' sound (MiniMax-H3) at their places, shot ids burned in on request, and
finals in place of drafts on request."""

from __future__ import annotations

import array
import math
import operator
import asyncio
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
from pipeline.run import finalize
from pipeline.run.options import RunOptions

from media import make_video
from runs import counting_video, make_image, point_at, run_cli, run_inprocess, write_manifest

H3 = {"model": "MiniMax-H3", "ratio": "16:9"}


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
        assert not container.streams.audio  # v1 clips are silent: no sound track to carry

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


def sound_of(path: Path) -> tuple[array.array, array.array, int]:
    """The video's sound from time 0: (left, right, sample rate), float samples."""
    left, right, rate = array.array("f"), array.array("f"), 0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            if not left:
                assert abs(frame.time) < 1e-3, frame.time
            left.frombytes(bytes(frame.planes[0])[: frame.samples * 4])
            right.frombytes(bytes(frame.planes[1])[: frame.samples * 4])
    return left, right, rate


def loudness(sound: tuple[array.array, array.array, int], start: float, end: float) -> float:
    """The RMS level of `sound` between two times (both channels), 0 for silence."""
    left, right, rate = sound
    a, b = round(start * rate), round(end * rate)
    chunk = left[a:b] + right[a:b]
    return math.sqrt(sum(map(operator.mul, chunk, chunk)) / len(chunk))


def first_frame(path: Path) -> Image.Image:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_image()


def test_reel_carries_the_h3_sound_at_its_place_and_the_picked_take(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory()
    manifest = write_manifest(tmp_path, [
        {"id": "s01", "mode": "text_to_video", "prompt": "Dusk over the sea [Push in]."},
        {"id": "h02", "mode": "text_to_video", **H3, "duration": 6, "takes": 2, "pick": 2,
         "prompt": "The keeper climbs the stairs."},
        {"id": "s03", "mode": "text_to_video", "prompt": "The lamp goes out."},
    ], name="teaser")
    run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    folder = tmp_path / "out" / "teaser"
    video, _, entries = reel.build(load(manifest), sim.base_url, folder)

    keeper = entries[1]
    assert (keeper.shot, keeper.take, keeper.video) == ("h02", 2, folder / "h02.take2.mp4")
    start, end = keeper.start, keeper.end
    assert 6.5 < end - start < 6.7  # the clip's own length, not the 6 s asked for
    with av.open(str(video)) as container:
        picture, sound = container.streams.video[0], container.streams.audio[0]
        assert (sound.codec_context.name, sound.codec_context.sample_rate, sound.layout.name) == ("aac", 48000, "stereo")
        assert picture.frames == entries[-1].first_frame + entries[-1].frames
        assert abs(float(sound.duration * sound.time_base) - picture.frames / FPS) < 0.03
    sound = sound_of(video)
    assert loudness(sound, 0, start - 0.1) == 0  # s01: silent
    assert loudness(sound, start + 0.1, end - 0.1) > 0.005  # h02: its own sound, at its place
    assert loudness(sound, end + 0.1, entries[-1].end) == 0  # s03: silent

    # the picked take 2 is the one on screen, not take 1
    at_start = next(p for i, _, p in frames_of(video) if i == keeper.first_frame)
    take1, take2 = (first_frame(folder / name).resize((632, 360)) for name in ("h02.mp4", "h02.take2.mp4"))
    shown = at_start.crop((4, 0, 636, 360))
    assert diff(shown, take2) < 4 < diff(shown, take1)


def test_burn_ids_draws_the_shot_and_take_in_a_corner_of_its_clips_only(tmp_path):
    clip = counting_video(tmp_path / "clip.mp4", 24)
    entries = [ReelEntry("s01-open", "", 0, 24, clip, "done", take=2),
               ReelEntry("s02", "A card.", 24, 24, None, "failed", "nope")]
    reel.write_reel(entries, tmp_path / "plain.mp4")
    reel.write_reel(entries, tmp_path / "burned.mp4", burn_ids=True)
    plain = [p for _, _, p in frames_of(tmp_path / "plain.mp4")]
    burned = [p for _, _, p in frames_of(tmp_path / "burned.mp4")]
    assert len(plain) == len(burned) == 48
    corner, rest = (8, 8, 130, 30), (0, 40, SIZE[0], SIZE[1])
    for i in range(24):  # the clip: a white-on-black label in the top left corner, the rest untouched
        label = burned[i].convert("L").crop(corner)
        assert diff(label, plain[i].convert("L").crop(corner)) > 15, i
        low, high = ImageStat.Stat(label).extrema[0]
        assert low < 30 and high > 200
        assert diff(burned[i].crop(rest), plain[i].crop(rest)) < 0.5, i
    for i in range(24, 48):  # the card shows its id already
        assert diff(burned[i], plain[i]) < 1, i
    assert entries[0].label == "s01-open take 2"


def test_final_puts_a_shots_final_in_place_of_its_draft_on_the_same_slot(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory()
    manifest = write_manifest(tmp_path, [
        {"id": "s01", "mode": "text_to_video", "prompt": "Dusk [Push in]."},
        {"id": "s02", "mode": "text_to_video", "prompt": "Night [Static shot]."},
    ], name="teaser")
    run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    folder = tmp_path / "out" / "teaser"
    final = counting_video(folder / "s02.final.mp4", 144)
    monkeypatch.setattr(reel, "final_video", lambda out_dir, spec, view: final if spec.shot.id == "s02" else None)

    drafts = reel.collect(load(manifest), sim.base_url, folder)
    video, _, entries = reel.build(load(manifest), sim.base_url, folder, final=True, burn_ids=True)
    assert [(e.shot, e.video, e.final, e.label) for e in entries] == [
        ("s01", folder / "s01.mp4", False, "s01 take 1"), ("s02", final, True, "s02 take 1 final")]
    assert [(e.first_frame, e.frames) for e in entries] == [(e.first_frame, e.frames) for e in drafts]
    levels = [ImageStat.Stat(p.convert("L").crop((200, 100, 440, 260))).mean[0]
              for i, _, p in frames_of(video) if 144 <= i < 144 + 48]
    assert levels == pytest.approx([20 + 4 * i for i in range(48)], abs=3)  # the final's frames


def test_a_clips_sound_plays_at_its_place_and_is_cut_to_its_slot(tmp_path):
    tone = make_video(tmp_path / "tone.mp4", seconds=2)  # a 220 Hz tone from its first frame: mono, 8 kHz
    entries = [ReelEntry("a", "", 0, 24, counting_video(tmp_path / "silent.mp4", 24), "done"),
               ReelEntry("b", "", 24, 24, tone, "done"),  # 1 s of its 2 s
               ReelEntry("c", "A card.", 48, 24, None, "pending")]
    reel.write_reel(entries, tmp_path / "reel.mp4")
    sound = sound_of(tmp_path / "reel.mp4")
    left, right, rate = sound
    assert rate == reel.AUDIO_RATE and len(left) / rate == pytest.approx(3.0, abs=0.03)
    heard = [i / rate for i, v in enumerate(left) if abs(v) > 0.05]
    assert heard[0] == pytest.approx(1.0, abs=0.01) and heard[-1] == pytest.approx(2.0, abs=0.01)
    # mono to both sides, each 3 dB down (a centred sound's pan law): RMS 0.1 / sqrt(2) / sqrt(2)
    assert list(left) == list(right) and loudness(sound, 1.05, 1.95) == pytest.approx(0.05, rel=0.15)
    assert loudness(sound, 0, 0.98) == loudness(sound, 2.03, 3.0) == 0


def test_a_real_final_replaces_its_draft_until_the_shot_changes(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory()
    shots = [{"id": "s01", "mode": "text_to_video", "prompt": "Dusk [Push in]."},
             {"id": "h02", "mode": "text_to_video", **H3, "duration": 5, "takes": 2, "pick": 2,
              "prompt": "The keeper climbs the stairs."}]
    manifest = write_manifest(tmp_path, shots, name="teaser")
    run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    point_at(sim, monkeypatch)
    asyncio.run(finalize.finalize(load(manifest), out_root=tmp_path / "out", backend="api",
                                  options=RunOptions(time_scale=sim.cfg.time_scale)))
    folder = tmp_path / "out" / "teaser"
    assert (folder / "h02.take2.final.mp4").is_file()

    entries = reel.collect(load(manifest), sim.base_url, folder, final=True)
    assert [(e.shot, e.video, e.final) for e in entries] == [
        ("s01", folder / "s01.mp4", False), ("h02", folder / "h02.take2.final.mp4", True)]
    assert [(e.first_frame, e.frames) for e in entries] == \
        [(e.first_frame, e.frames) for e in reel.collect(load(manifest), sim.base_url, folder)]

    shots[1]["prompt"] = "The keeper runs down the stairs."  # a new draft is due: the final is the old one's
    write_manifest(tmp_path, shots, name="teaser")
    (changed,) = [e for e in reel.collect(load(manifest), sim.base_url, folder, final=True) if e.shot == "h02"]
    assert (changed.video, changed.final, changed.status) == (None, False, "changed")
