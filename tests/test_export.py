"""`shots export`: the cut as a timeline for an editor (OpenTimelineIO, CMX 3600 EDL, FCP 7 XML,
FCPX XML), made from a real run against the simulator and read back by the same adapters."""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from pipeline.manifest.checker import load
from pipeline.review import cut, export, reel, report, sheet_html
from pipeline.run import finalize, ledger
from pipeline.run.options import RunOptions

from runs import counting_video, point_at, run_inprocess, write_manifest

H3 = {"model": "MiniMax-H3", "ratio": "16:9"}


def storyboard(extra: list[dict] | None = None) -> list[dict]:
    """A still (not in the cut), a silent v1 clip, an H3 clip with sound whose take 2 is picked,
    a shot the simulator refuses (a gap), a long v1 clip; `extra` after them."""
    return [
        {"id": "kf", "mode": "image", "prompt": "A keeper on a cliff.", "aspect_ratio": "16:9"},
        {"id": "s01-open", "mode": "text_to_video", "prompt": "Dusk over the sea [Push in].\nSecond line."},
        {"id": "h02-keeper", "mode": "text_to_video", **H3, "duration": 6, "takes": 2, "pick": 2,
         "prompt": "The keeper climbs the stairs."},
        {"id": "s03-banned", "mode": "text_to_video", "prompt": "A forbidden scene."},
        {"id": "s04-end", "mode": "text_to_video", "duration": 10, "prompt": "The lamp goes out."},
        *(extra or []),
    ]


def made(sim_factory, tmp_path, monkeypatch, finals: bool = False):
    """Run the storyboard (and finalize it: h02-keeper's take 2 in 2K), then add a shot that has
    not run (a gap at the end); returns (manifest path, its output folder, endpoint)."""
    sim = sim_factory(sensitive_words=("forbidden",))
    manifest = write_manifest(tmp_path, storyboard(), name="teaser")
    run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600)
    if finals:
        point_at(sim, monkeypatch)
        asyncio.run(finalize.finalize(load(manifest), out_root=tmp_path / "out", backend="api",
                                      options=RunOptions(time_scale=sim.cfg.time_scale)))
    write_manifest(tmp_path, storyboard([{"id": "s05-later", "mode": "text_to_video", "duration": 10,
                                          "prompt": "Not made yet."}]), name="teaser")
    return manifest, tmp_path / "out" / "teaser", sim.base_url


def items(track: otio.schema.Track) -> list[tuple[str, str, int]]:
    """(kind, name, frames at 24 fps) of each item, in order."""
    return [(type(item).__name__, item.name, round(item.duration().rescaled_to(24).value)) for item in track]


def records(track: otio.schema.Track) -> dict[str, tuple[int, int]]:
    """Each clip's (first frame, frames) on the timeline."""
    out = {}
    for item in track:
        if isinstance(item, otio.schema.Clip):
            span = item.range_in_parent()
            out[item.name] = (round(span.start_time.rescaled_to(24).value), round(span.duration.rescaled_to(24).value))
    return out


def video_track(timeline) -> otio.schema.Track:
    (track,) = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    return track


def audio_track(timeline) -> otio.schema.Track:
    (track,) = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Audio]
    return track


def test_export_writes_the_cut_in_every_format_and_each_reads_back(sim_factory, tmp_path, monkeypatch):
    manifest_path, folder, endpoint = made(sim_factory, tmp_path, monkeypatch)
    manifest = load(manifest_path)
    done = export.export(manifest, endpoint, folder, ["otio", "edl", "fcp7", "fcpx"])
    assert done.paths == tuple(folder / f"teaser{s}" for s in (".otio", ".edl", ".fcp7.xml", ".fcpx.fcpxml"))

    view = ledger.load(folder)
    h02 = view.current("h02-keeper", 2)
    seconds = {"s01-open": 6.0, "h02-keeper": h02.seconds, "s03-banned": 6, "s04-end": 10.0, "s05-later": 10}
    assert h02.seconds > 6.5  # an H3 "6 s" clip outlasts its request
    slots = dict(zip(seconds, cut.place(seconds.values())))
    frames = {shot: slot.frames for shot, slot in slots.items()}
    assert frames["s01-open"] == 144 and frames["h02-keeper"] in (157, 158) and frames["s04-end"] == 240
    clips = ["s01-open", "h02-keeper", "s04-end"]

    # OpenTimelineIO: everything, as built
    timeline = otio.adapters.read_from_file(str(folder / "teaser.otio"))
    assert [t.name for t in timeline.tracks] == ["V1", "A1"]
    video, audio = timeline.tracks
    assert items(video) == [("Clip", "s01-open", 144), ("Clip", "h02-keeper", frames["h02-keeper"]),
                            ("Gap", "s03-banned", 144), ("Clip", "s04-end", 240), ("Gap", "s05-later", 240)]
    assert records(video) == {shot: (slots[shot].first_frame, slots[shot].frames) for shot in clips}
    by_name = {item.name: item for item in video}
    keeper = by_name["h02-keeper"]
    assert keeper.media_reference.target_url == (folder / "h02-keeper.take2.mp4").resolve().as_uri()
    assert dict(keeper.metadata["shots"]) == {
        "shot": "h02-keeper", "take": 2, "task_id": h02.task_id, "prompt": "The keeper climbs the stairs.",
        "model": "MiniMax-H3", "fingerprint": h02.fingerprint, "final": False}
    opening = by_name["s01-open"]
    assert opening.metadata["shots"]["take"] == 1 and opening.metadata["shots"]["model"] == "MiniMax-Hailuo-02"
    assert [(m.name, m.comment, m.marked_range.start_time.value) for m in opening.markers] == \
        [("s01-open take 1", "Dusk over the sea [Push in].\nSecond line.", 0)]
    assert [m.name for m in keeper.markers] == ["h02-keeper take 2"]
    banned = by_name["s03-banned"]
    assert banned.metadata["shots"]["status"] == "failed" and banned.metadata["shots"]["reason"]
    assert by_name["s05-later"].metadata["shots"]["status"] == "pending"
    for clip in video.find_clips():
        url = clip.media_reference.target_url
        assert url.startswith("file:///") and Path(url.removeprefix("file://")).is_file()
    # sound: the H3 clip's, under its picture; silence (gaps) elsewhere
    assert items(audio) == [("Gap", "", 144), ("Clip", "h02-keeper", frames["h02-keeper"]), ("Gap", "", 144),
                            ("Gap", "", 240), ("Gap", "", 240)]
    assert records(audio) == {"h02-keeper": records(video)["h02-keeper"]}
    assert timeline.duration().value == sum(frames.values())

    # CMX 3600 EDL: the video track's clips, gaps as jumps in the record timecode
    text = (folder / "teaser.edl").read_text()
    edl = otio.adapters.read_from_file(str(folder / "teaser.edl"), rate=24)
    edl_video = video_track(edl)
    assert items(edl_video) == [("Clip", "s01-open", 144), ("Clip", "h02-keeper", frames["h02-keeper"]),
                                ("Gap", "", 144), ("Clip", "s04-end", 240)]  # the trailing gap: no event
    assert records(edl_video) == records(video)
    events = re.findall(r"^\d{3}  (\S+)\s+V\s+C\s+(\S+) (\S+) (\S+) (\S+)$", text, re.MULTILINE)
    assert [(reel_name, rec_in, rec_out) for reel_name, _, _, rec_in, rec_out in events] == [
        (export.reel_names(clips)[shot], cut.timecode(slots[shot].first_frame), cut.timecode(slots[shot].end_frame))
        for shot in clips]
    assert all(len(reel_name) <= 8 for reel_name, *_ in events)
    edl_clips = {clip.name: clip for clip in edl_video.find_clips()}
    assert [m.name for m in edl_clips["h02-keeper"].markers] == ["H02-KEEPER TAKE 2"]
    assert list(edl_clips["h02-keeper"].metadata["cmx_3600"]["comments"]) == [
        f"SHOT h02-keeper TAKE 2 TASK {h02.task_id}"]
    assert edl_clips["h02-keeper"].media_reference.target_url == keeper.media_reference.target_url

    # Final Cut Pro 7 XML: both tracks, markers with comments, logging info
    fcp7 = otio.adapters.read_from_file(str(folder / "teaser.fcp7.xml"))
    fcp7_video, fcp7_audio = video_track(fcp7), audio_track(fcp7)
    assert items(fcp7_video) == items(edl_video)  # gaps unnamed; the trailing gap left out
    assert records(fcp7_video) == records(video)
    assert records(fcp7_audio) == records(audio)
    fcp7_clips = {clip.name: clip for clip in fcp7_video.find_clips()}
    marker = fcp7_clips["h02-keeper"].markers[0]
    assert (marker.name, marker.metadata["fcp_xml"]["comment"]) == ("h02-keeper take 2", "The keeper climbs the stairs.")
    assert dict(fcp7_clips["h02-keeper"].metadata["fcp_xml"]["logginginfo"]) == {
        "description": "The keeper climbs the stairs.", "scene": "h02-keeper", "shottake": "2",
        "lognote": f"h02-keeper take 2; task {h02.task_id}; model MiniMax-H3; fingerprint {h02.fingerprint}"}
    assert fcp7_clips["s01-open"].metadata["fcp_xml"]["logginginfo"]["description"] == \
        "Dusk over the sea [Push in]. Second line."

    # FCPX XML: the project's clips, markers, and each asset clip's note, keyword and metadata
    fcpx = otio.adapters.read_from_file(str(folder / "teaser.fcpx.fcpxml"))
    fcpx_video = video_track(fcpx[0] if isinstance(fcpx, otio.schema.SerializableCollection) else fcpx)
    assert items(fcpx_video) == [("Clip", "s01-open", 144), ("Clip", "h02-keeper", frames["h02-keeper"]),
                                 ("Gap", "", 144), ("Clip", "s04-end", 240)]
    assert records(fcpx_video) == records(video)
    fcpx_clips = {clip.name: clip for clip in fcpx_video.find_clips()}
    assert [m.name for m in fcpx_clips["s04-end"].markers] == ["s04-end take 1"]
    facts = fcpx_clips["h02-keeper"].media_reference.metadata["fcpx"]
    assert facts["note"].startswith(f"h02-keeper take 2; task {h02.task_id}")
    assert [k["value"] for k in facts["keywords"]] == ["h02-keeper"]
    assert {"com.apple.proapps.studio.take": "2"} in [dict(md) for md in facts["metadata"]]


def test_the_export_the_reel_and_the_contact_sheet_cut_alike(sim_factory, tmp_path, monkeypatch):
    manifest_path, folder, endpoint = made(sim_factory, tmp_path, monkeypatch)
    manifest = load(manifest_path)
    timeline = export.build_timeline(manifest, endpoint, folder, ledger.load(folder))
    exported = [(item.name, *_span(item)) for item in video_track(timeline)]
    shown = [(e.shot, e.first_frame, e.frames) for e in reel.collect(manifest, endpoint, folder)]
    data = report.collect(manifest, endpoint, folder)  # thumbnails too: the sheet's own reading of each video
    sheet = [(row.id, slot.first_frame, slot.frames) for row, slot in zip(data.shots, sheet_html.slots(data.shots))
             if slot is not None]
    assert exported == shown == sheet
    assert [name for name, *_ in exported] == ["s01-open", "h02-keeper", "s03-banned", "s04-end", "s05-later"]


def _span(item) -> tuple[int, int]:
    span = item.range_in_parent()
    return round(span.start_time.value), round(span.duration.value)


def test_final_uses_a_shots_final_where_one_is_downloaded(sim_factory, tmp_path, monkeypatch):
    manifest_path, folder, endpoint = made(sim_factory, tmp_path, monkeypatch, finals=True)
    final = folder / "h02-keeper.take2.final.mp4"  # the picked take's, in 2K (shots finalize)
    done = export.export(load(manifest_path), endpoint, folder, ["otio", "edl", "fcp7"], final=True)
    assert done.finals == 1
    video, audio = done.timeline.tracks
    by_name = {item.name: item for item in video}
    keeper = by_name["h02-keeper"]
    assert keeper.media_reference.target_url == final.resolve().as_uri()
    assert keeper.metadata["shots"]["final"] is True and keeper.metadata["shots"]["take"] == 2
    assert [m.name for m in keeper.markers] == ["h02-keeper take 2 final"]
    assert {c.name: c.media_reference.target_url for c in audio.find_clips()} == {"h02-keeper": final.resolve().as_uri()}
    assert by_name["s01-open"].metadata["shots"]["final"] is False  # no final (a v1 shot): its draft
    assert by_name["s01-open"].media_reference.target_url.endswith("/s01-open.mp4")
    without = export.build_timeline(load(manifest_path), endpoint, folder, ledger.load(folder))
    assert items(video) == items(video_track(without))  # a final changes the picture, not the timing
    assert "SHOT h02-keeper TAKE 2 FINAL TASK " in (folder / "teaser.edl").read_text()
    fcp7 = otio.adapters.read_from_file(str(folder / "teaser.fcp7.xml"))
    assert {c.name: c.media_reference.target_url for c in video_track(fcp7).find_clips()}["h02-keeper"] == \
        final.resolve().as_uri()


def test_a_storyboard_not_run_yet_is_all_gaps_of_the_planned_lengths(tmp_path):
    manifest = load(write_manifest(tmp_path, [
        {"id": "a", "mode": "text_to_video", "prompt": "One.", "duration": 10},
        {"id": "b", "mode": "text_to_video", **H3, "prompt": "Two.", "duration": 5},
    ], name="idea"))
    done = export.export(manifest, "simulator", tmp_path / "out", ["otio", "edl", "fcp7", "fcpx"])
    video, audio = done.timeline.tracks
    assert items(video) == [("Gap", "a", 240), ("Gap", "b", 120)] and items(audio) == [("Gap", "", 240), ("Gap", "", 120)]
    assert [m.name for item in video for m in item.markers] == ["a take 1 (pending)", "b take 1 (pending)"]
    assert otio.adapters.read_from_file(str(tmp_path / "out" / "idea.otio")).duration().value == 360
    assert all(path.is_file() for path in done.paths)


def test_reel_names_fit_cmx_3600_and_stay_unique():
    ids = ["s001-cliff-top", "s001-cliff-bottom", "S001CLIF", "---", "_", "a.b", "h02"]
    names = export.reel_names(ids)
    assert names == {"s001-cliff-top": "s001clif", "s001-cliff-bottom": "s001cli2", "S001CLIF": "S001CLI3",
                     "---": "SHOT", "_": "SHOT2", "a.b": "ab", "h02": "h02"}
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,8}", n) for n in names.values())
    assert len({n.upper() for n in names.values()}) == len(ids)


def test_cmd_export_prints_what_it_wrote(tmp_path, capsys):
    manifest = load(write_manifest(tmp_path, [{"id": "a", "mode": "text_to_video", "prompt": "One."}], name="idea"))
    out_dir = tmp_path / "out" / "idea"
    parser = argparse.ArgumentParser(prog="shots")
    sub = parser.add_subparsers(dest="command")
    export.add_export_parser(sub, handler=lambda args: export.cmd_export(args, manifest, "simulator", out_dir))

    args = parser.parse_args(["export", str(tmp_path / "shots.yaml")])
    assert args.handler(args) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(out_dir / "idea.otio")]
    assert "1 shot(s) as gaps, no video yet: a (pending)" in captured.err

    args = parser.parse_args(["export", "M", "--format", "edl,fcp7", "--format", "EDL", "--format", "fcpx", "--final"])
    assert (args.formats, args.final) == ([["edl", "fcp7"], ["edl"], ["fcpx"]], True)
    assert args.handler(args) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(out_dir / f"idea{s}") for s in (".edl", ".fcp7.xml", ".fcpx.fcpxml")]
    assert "finals: 0 shot(s)" in captured.err

    with pytest.raises(SystemExit):
        parser.parse_args(["export", "M", "--format", "aaf"])
    assert "unknown format aaf; formats: otio, edl, fcp7, fcpx" in capsys.readouterr().err


def test_importing_the_module_for_its_parser_stays_light():
    """cli.py adds `shots export` to its parser on every start: the module must not bring the
    timeline's dependencies with it."""
    code = ("import sys, pipeline.review.export; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pipeline', 'opentimelineio', 'av', 'PIL')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['pipeline', 'pipeline.errors', 'pipeline.review', 'pipeline.review.export']"
    assert export.FPS == cut.FPS


def test_a_video_shorter_than_its_slot_never_points_past_its_media_wherever_it_is(tmp_path):
    folder = tmp_path / "the keeper's cut"  # a URL, encoded, in every format
    folder.mkdir()
    clip = counting_video(folder / "a.mp4", 20)  # 20 frames for a 24-frame slot
    timeline = export._timeline(
        load(write_manifest(tmp_path, [{"id": "a", "mode": "text_to_video", "prompt": "x"}])),
        [(_Spec("a"), report.TakeRow(1, "done", "downloaded", task_id="t1"))],
        [reel.ReelEntry("a", "x", 0, 24, clip, "done")])
    (item,) = video_track(timeline)
    assert item.source_range.duration.value == 24 and item.media_reference.available_range.duration.value == 24
    assert item.metadata["shots"]["task_id"] == "t1"
    url = item.media_reference.target_url
    assert url == clip.resolve().as_uri() and "%27" in url and "%20" in url
    for name, fmt in export.FORMATS.items():
        path = tmp_path / f"cut{fmt.suffix}"
        path.write_text(export.timeline_text(timeline, name), encoding="utf-8")
        back = otio.adapters.read_from_file(str(path))
        back = back[0] if isinstance(back, otio.schema.SerializableCollection) else back
        (read,) = video_track(back).find_clips()
        assert (read.media_reference.target_url, read.duration().value) == (url, 24), name


class _Spec:
    """A take spec's fields the timeline reads."""

    def __init__(self, shot_id: str) -> None:
        from types import SimpleNamespace

        self.shot = SimpleNamespace(id=shot_id, prompt="x", model="MiniMax-Hailuo-02")
        self.fingerprint = "f" * 16
