"""One bad shot need not block the others: `run --only GOOD` (issue 14)."""

from __future__ import annotations

import re

import pytest

from pipeline.manifest.checker import ManifestError, check, load
from runs import ledger_view, run_cli, write_manifest

SHOTS = [
    {"id": "good", "mode": "text_to_video", "prompt": "Waves at dusk [Push in]."},
    {"id": "bad", "mode": "text_to_video", "resolution": "4K"},  # no prompt, no such resolution
    {"id": "also-good", "mode": "text_to_video", "prompt": "A gull lands [Static shot]."},
]


@pytest.fixture
def manifest(tmp_path):
    return write_manifest(tmp_path, SHOTS, name="one-bad")


def test_load_only_leaves_the_broken_shot_out(manifest):
    every = check(manifest)
    assert {p.shot for p in every if p.severity == "error"} == {"bad"}
    with pytest.raises(ManifestError):
        load(manifest)
    with pytest.raises(ManifestError):  # a chosen shot is broken
        load(manifest, only=["good", "bad"])
    loaded = load(manifest, only=["good"])
    assert [s.id for s in loaded.shots] == ["good", "also-good"]
    assert [str(p) for p in loaded.warnings] == [str(p) for p in every]  # every problem still said
    text = manifest.read_text().splitlines()
    assert '"also-good"' in text[loaded.shots[1].line]  # each shot keeps its own line (its id follows its '{')


def test_top_level_error_stops_even_with_only(tmp_path):
    path = write_manifest(tmp_path, SHOTS, name="one-bad", rpm="fast")
    with pytest.raises(ManifestError):
        load(path, only=["good"])


def test_run_only_good_makes_it_and_prints_the_others_errors(manifest, sim, tmp_path):
    out = tmp_path / "out"
    done = run_cli(sim, "run", str(manifest), "--only", "good", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(rf"{re.escape(str(manifest))}:\d+:\d+: shot 'bad' field 'prompt'", done.stderr), done.stderr
    assert "shots validate" in done.stderr
    assert (out / "one-bad" / "good.mp4").exists()
    view = ledger_view(out / "one-bad")
    assert {shot for shot, _take, _fp in view.states} == {"good"}  # nothing paid for the broken shot
    assert len(sim.tasks()) == 1


def test_run_without_only_exits_2_naming_validate(manifest, sim, tmp_path):
    done = run_cli(sim, "run", str(manifest), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert f"`shots validate {manifest}` shows them all" in done.stderr
    assert not (tmp_path / "out" / "one-bad" / "ledger.jsonl").exists()


def test_plan_only_good_plans_it_and_says_what_it_left_out(manifest, sim, tmp_path):
    done = run_cli(sim, "plan", str(manifest), "--only", "good", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^good\s+1\s+submit", done.stdout, re.M), done.stdout
    assert "also-good" not in done.stdout  # --only: not this plan's business
    assert "note: left out of this plan for their errors: bad" in done.stderr
    assert re.search(rf"{re.escape(str(manifest))}:\d+:\d+: shot 'bad'", done.stderr)


def test_a_shot_left_out_for_its_errors_is_not_called_removed(tmp_path, sim):
    """Made once while valid, then broken: an --only run leaves it (and its video) alone, silently."""
    out = tmp_path / "out"
    valid = [SHOTS[0], {"id": "bad", "mode": "text_to_video", "prompt": "A lighthouse at night."}]
    path = write_manifest(tmp_path, valid, name="one-bad")
    assert run_cli(sim, "run", str(path), "--out", str(out), cwd=tmp_path).returncode == 0
    write_manifest(tmp_path, [SHOTS[0], SHOTS[1]], name="one-bad")
    done = run_cli(sim, "run", str(path), "--only", "good", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "left out of this run for their errors: bad" in done.stderr
    assert "no longer in the manifest" not in done.stderr
    assert (out / "one-bad" / "bad.mp4").exists() and len(sim.tasks()) == 2
