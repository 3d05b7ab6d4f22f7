"""A ledger line that is valid JSON but not an event the fold can use (issue 12, point 4): every
command names its line, `shots repair` sets it aside, and the good events are kept."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main

from runs import point_at, run_inprocess, t2v_shots, write_manifest


EDITS = {
    "misspelt field": lambda e: {("fild" if k == "file" else k): v for k, v in e.items()},
    "missing field": lambda e: {k: v for k, v in e.items() if k != "sha256"},
    "wrong type": lambda e: {**e, "bytes": "many"},
    "list as shot": lambda e: {**e, "shot": ["s001"]},
    "take as text": lambda e: {**e, "take": "1"},
    "version as text": lambda e: {**e, "v": "1"},
}


@pytest.mark.parametrize("how", sorted(EDITS))
def test_a_damaged_event_is_named_and_repair_sets_it_aside(sim, tmp_path, monkeypatch, capsys, how):
    point_at(sim, monkeypatch)
    manifest = write_manifest(tmp_path, t2v_shots(2))
    out = tmp_path / "o"
    run_inprocess(manifest, sim, out, monkeypatch, rpm=600)
    path = out / "test-run" / "ledger.jsonl"
    lines = path.read_text().splitlines()
    number = next(n for n, line in enumerate(lines) if json.loads(line)["e"] == "downloaded")
    lines[number] = json.dumps(EDITS[how](json.loads(lines[number])))
    path.write_text("\n".join(lines) + "\n")
    args = [str(manifest), "--out", str(out)]

    for command in ("status", "plan", "report"):
        code = main([command, *args])
        err = capsys.readouterr().err
        assert code == 3 and f"ledger.jsonl:{number + 1}: damaged ledger line" in err, (command, err)
        assert "Traceback" not in err and "newer than this shots" not in err

    assert main(["repair", *args]) == 0
    assert f"line {number + 1}" in capsys.readouterr().out
    assert main(["status", *args]) == 1  # the take whose download line was set aside is no longer done
    assert main(["run", *args, "--quiet", "--time-scale", str(sim.cfg.time_scale)]) == 0  # fetched again
    assert sim.stats()["requests"]["create"] == 2  # no new charge
