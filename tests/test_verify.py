"""`--verify`: a video altered with its size and mtime unchanged is found and fetched again with
no new task (issue 12, point 5); a folder in a video's place is named, not a traceback."""

from __future__ import annotations

import json
import os

from pipeline.cli import main

from runs import point_at, run_inprocess, t2v_shots, write_manifest


def rot(path) -> None:
    """Flip one byte in the middle, then put size and mtime back as they were (bit rot, touch -r)."""
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def events(folder) -> list[str]:
    return [json.loads(line)["e"] for line in (folder / "ledger.jsonl").read_text().splitlines()]


def test_status_and_run_verify_find_and_refetch_a_rotten_video(sim, tmp_path, monkeypatch, capsys):
    point_at(sim, monkeypatch)
    manifest = write_manifest(tmp_path, t2v_shots(2))
    out = tmp_path / "o"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600, write_lock_file=True)
    folder = out / "test-run"
    rot(folder / "s002.mp4")
    assert main(["status", str(manifest), "--out", str(out)]) == 0  # the quick check trusts size and mtime
    capsys.readouterr()
    assert main(["status", str(manifest), "--out", str(out), "--verify"]) == 1
    assert "1 downloaded, 1 downloaded (damaged)" in capsys.readouterr().out
    assert main(["status", str(manifest), "--out", str(out), "--verify", "--json"]) == 1
    rows = {r["shot"]: r for r in json.loads(capsys.readouterr().out)["takes"]}
    assert rows["s001"]["damaged"] is None and "sha256 differs" in rows["s002"]["damaged"]

    creates = sim.stats()["requests"]["create"]
    before = events(folder)
    assert main(["run", str(manifest), "--out", str(out), "--verify", "--quiet", "--time-scale",
                 str(sim.cfg.time_scale)]) == 0
    assert sim.stats()["requests"]["create"] == creates  # fetched again, never paid again
    assert "intent" not in events(folder)[len(before):]
    capsys.readouterr()
    assert main(["status", str(manifest), "--out", str(out), "--verify"]) == 0


def test_verify_compares_the_lock_file_too(sim, tmp_path, monkeypatch, capsys):
    point_at(sim, monkeypatch)
    manifest = write_manifest(tmp_path, t2v_shots(1))
    out = tmp_path / "o"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600, write_lock_file=True)
    lock = tmp_path / "shots.yaml.lock.json"
    data = json.loads(lock.read_text())
    data["takes"]["s001"]["sha256"] = "0" * 64
    lock.write_text(json.dumps(data))
    assert main(["status", str(manifest), "--out", str(out), "--verify"]) == 1
    assert "lock file records another sha256" in capsys.readouterr().out


def test_a_folder_in_place_of_a_video_is_named(sim, tmp_path, monkeypatch, capsys):
    point_at(sim, monkeypatch)
    manifest = write_manifest(tmp_path, t2v_shots(1))
    out = tmp_path / "o"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    video = out / "test-run" / "s001.mp4"
    video.unlink()
    video.mkdir()
    assert main(["plan", str(manifest), "--out", str(out), "--reason"]) == 0
    assert "s001.mp4 is a folder, not the video" in capsys.readouterr().out
