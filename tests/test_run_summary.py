"""A run that says what it did: per take, what this run did with it, and the command to type next.

Real runs against the simulator: a first run creates everything; an edited prompt regenerates one
take and leaves the others as they were; a refused prompt ends failed and points at
--retry-failed.
"""

from __future__ import annotations

import json

from runs import run_inprocess, t2v_shots, write_manifest

from pipeline.review import summary


def rows_by_shot(text: str) -> dict[str, str]:
    return {line.split()[0]: line for line in text.splitlines() if line.startswith("s0")}


def test_a_second_run_says_which_take_it_regenerated_and_which_it_left(sim, tmp_path, monkeypatch):
    shots = t2v_shots(3)
    manifest = write_manifest(tmp_path, shots)
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    first = rows_by_shot(summary.result_text(result, simulated=False, plan=prepared.plan, manifest="m.yaml"))
    assert all(" created " in row for row in first.values()), first

    shots[1]["prompt"] += " Slowly."
    manifest = write_manifest(tmp_path, shots)
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    text = summary.result_text(result, simulated=False, plan=prepared.plan, manifest="m.yaml")
    second = rows_by_shot(text)
    assert "regenerated (prompt changed; the old video is in history/)" in second["s002"]
    assert "left as it was" in second["s001"] and "left as it was" in second["s003"]
    assert second["s001"].split()[-1] == "s001.mp4" and "downloaded" not in second["s001"]
    assert "this run" in text.splitlines()[0]
    assert "next:" not in text  # nothing is left to do


def test_a_refused_take_points_at_retry_failed(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(sensitive_words=("forbidden",))
    shots = t2v_shots(2)
    shots[0]["prompt"] = "a forbidden scene"
    manifest = write_manifest(tmp_path, shots)
    prepared, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    text = summary.result_text(result, simulated=False, plan=prepared.plan, manifest="m.yaml")
    row = rows_by_shot(text)["s001"]
    assert "failed" in row and "sensitive" in row and "(1026)" in row
    assert "next: 1 failed: fix what the detail says, then `shots run m.yaml --retry-failed`" in text
    assert "uncertain:" not in text and "pending:" not in text


def test_without_a_plan_the_table_is_as_before(sim, tmp_path, monkeypatch):
    """Scripts that read the old four columns (and --json) see no change."""
    prepared, result = run_inprocess(write_manifest(tmp_path, t2v_shots(1)), sim, tmp_path / "out", monkeypatch)
    header = summary.result_text(result, simulated=False).splitlines()[0].split()
    assert header == ["shot", "take", "result", "detail"]
    doc = summary.result_json(result, "api")
    assert set(doc["takes"][0]) == {"shot", "take", "result", "detail", "task_id", "file", "queries"}
    json.dumps(doc)


def test_a_download_after_an_interrupt_is_not_called_again(sim, tmp_path, monkeypatch):
    """Generated but never fetched (the run stopped first): 'downloaded', not 'downloaded again'."""
    from pipeline.run.status import Action

    _prepared, result = run_inprocess(write_manifest(tmp_path, t2v_shots(1)), sim, tmp_path / "out", monkeypatch)
    (r,) = result.results
    fetched = summary.what_it_did(Action.DOWNLOAD, "", r, had_video=False)
    refetched = summary.what_it_did(Action.DOWNLOAD, "", r, had_video=True)
    assert fetched == "downloaded (no new charge)" and refetched == "downloaded again (no new charge)"
