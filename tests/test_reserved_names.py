"""A shot id never names what the output folder uses for itself (issue 12, point 7): `shots reel`
wrote its cut over the paid video of a shot called `reel`, keeping no copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.run import backend, ledger, store
from pipeline.review import reel, report, thumbs
from pipeline.errors import InputError
from pipeline.manifest import takes
from pipeline.manifest.checker import RESERVED_IDS, RESERVED_SUFFIXES, check, load, reserved_id_problem


def write(folder: Path, shot_id: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(f'version: 1\nname: t\nshots:\n  - id: "{shot_id}"\n    mode: text_to_video\n    prompt: x\n',
                    encoding="utf-8")
    return path


# Every name the output folder holds besides the videos, from the modules that write them.
PRODUCT_NAMES = [reel.REEL_NAME, reel.SRT_NAME, report.REPORT_NAME, ledger.LEDGER_NAME, ledger.LOCK_NAME,
                 ledger.SNAPSHOT_NAME, store.HISTORY, thumbs.THUMBS_DIR, f"{thumbs.THUMBS_DIR}/{thumbs.INDEX_NAME}",
                 backend.SIM_STATE_DIR, takes.FRAMES]


@pytest.mark.parametrize("name", PRODUCT_NAMES)
def test_no_shot_id_can_name_a_product_of_the_output_folder(tmp_path, name):
    """Neither the product's name nor its stem is a valid id (a hidden name is refused as hidden)."""
    for shot_id in {name, name.split("/")[0].split(".")[0] or name}:
        (problem,) = [p for p in check(write(tmp_path, shot_id)) if p.severity == "error"]
        assert (problem.line, problem.col, problem.field) == (4, 9, "id"), str(problem)


def test_the_reserved_names_cover_every_product_stem():
    stems = {n.split("/")[0].split(".")[0] for n in PRODUCT_NAMES} - {""}
    assert stems == set(RESERVED_IDS)
    suffixes = {"." + n.rsplit(".", 1)[1] for n in PRODUCT_NAMES if "." in n.lstrip(".")}
    suffixes |= {store.PART_SUFFIX, ".tmp", ".jpg"}  # downloads, atomic writes, thumbnails
    assert suffixes <= set(RESERVED_SUFFIXES)


@pytest.mark.parametrize("shot_id, message", [
    ("reel", "'reel' is reserved: the output folder uses reel.mp4 for the cut (shots reel); rename the shot"),
    ("Reel", "'Reel' is reserved: the output folder uses reel.mp4 for the cut (shots reel); rename the shot"),
    ("REPORT", "'REPORT' is reserved: the output folder uses report.html for the contact sheet; rename the shot"),
    ("ledger", "'ledger' is reserved: the output folder uses ledger.jsonl for the ledger; rename the shot"),
    ("history", "'history' is reserved: the output folder uses history/ for the videos that edits replace; "
                "rename the shot"),
    ("thumbs", "'thumbs' is reserved: the output folder uses thumbs/ for the contact sheet's frames; rename the shot"),
    ("s01.mp4", "'s01.mp4' is reserved: it ends in .mp4, which the output folder uses for videos and the reel (its "
                "video would be s01.mp4.mp4); rename the shot"),
    ("s01.part", "'s01.part' is reserved: it ends in .part, which the output folder uses for downloads in progress "
                 "(its video would be s01.part.mp4); rename the shot"),
    ("reel.srt", "'reel.srt' is reserved: it ends in .srt, which the output folder uses for the reel's captions (its "
                 "video would be reel.srt.mp4); rename the shot"),
])
def test_a_reserved_id_is_one_clear_error_at_the_id(tmp_path, shot_id, message):
    path = write(tmp_path, shot_id)
    assert [str(p) for p in check(path)] == [f"{path}:4:9: shot '{shot_id}' field 'id': {message}"]


@pytest.mark.parametrize("shot_id", ["reels", "reel-01", "s01-reel", "my.report", "history2", "thumbs_up", "s01.v2",
                                     "mp4", "part", "s01.take2", "reel.take2"])
def test_names_that_only_resemble_them_are_fine(tmp_path, shot_id):
    assert reserved_id_problem(shot_id) is None
    assert check(write(tmp_path, shot_id)) == []


def test_the_reel_refuses_to_write_over_a_video_the_ledger_records(tmp_path):
    """A folder from before the rule: shot 'reel' has its paid video at reel.mp4. The reel is
    refused before anything is written; the video is untouched."""
    manifest = load(write(tmp_path, "s01"))
    out = tmp_path / "out"
    out.mkdir()
    paid = out / "reel.mp4"
    paid.write_bytes(b"the paid video of shot 'reel'")
    writer = ledger.LedgerWriter(ledger.ledger_path(out))
    writer.write_now(ledger.event("downloaded", shot="reel", take=1, fp="f" * 16, file="reel.mp4",
                                  bytes=paid.stat().st_size, sha256="0" * 64))
    writer.close()
    with pytest.raises(InputError) as caught:
        reel.build(manifest, backend.endpoint_for("sim"), out)
    assert str(caught.value) == (
        f"{paid} is the video of shot 'reel' take 1 (the ledger records it), not a reel; shots reel will not write "
        f"over it. Rename the shot (a shot id may no longer be 'reel') and move reel.mp4 out of {out} first")
    assert paid.read_bytes() == b"the paid video of shot 'reel'"
    assert not (out / reel.SRT_NAME).exists()

    paid.rename(tmp_path / "kept.mp4")  # moved out: the reel may be made
    video, captions, entries = reel.build(manifest, backend.endpoint_for("sim"), out)
    assert video == out / "reel.mp4" and [e.shot for e in entries] == ["s01"]
