"""`shots pick`, `shots approve`, `shots redo`: people's decisions written into the manifest, each
printed as the line it changed, refused in one line (exit 2) with the manifest untouched when the
input is wrong or the manifest would no longer validate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.manifest import decisions
from pipeline.manifest.checker import check, load

ROOT = Path(__file__).resolve().parent.parent

MANIFEST = """\
version: 1
name: review   # decisions go in this file
shots:
  - id: s01-cliff
    mode: text_to_video
    prompt: >-
      A lighthouse on a cliff at dusk
      [Push in].
    takes: 3
    pick: 1          # the calm one
  - id: s02-keeper
    mode: text_to_video
    prompt: "The keeper turns."
    takes: 2
    notes: Two takes; pick the calmer one.
  - {id: s03-lamp, mode: text_to_video, prompt: "The lamp.", status: approved}
"""


@pytest.fixture
def manifest(tmp_path) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, manifest: Path, *argv: str) -> str:
    """The one-line error of a refused command; the manifest is as it was."""
    before = manifest.read_bytes()
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "", err
    assert manifest.read_bytes() == before
    assert sorted(p.name for p in manifest.parent.iterdir()) == [manifest.name]
    return err.splitlines()[-1]


def test_pick_replaces_the_line_and_says_what_it_was(capsys, manifest):
    code, out, err = run(capsys, "pick", str(manifest), "s01-cliff", "3")
    assert code == 0 and err == ""
    assert out == f"{manifest}:10: pick: 3          # the calm one  (was: pick: 1          # the calm one)\n"
    assert manifest.read_text(encoding="utf-8") == MANIFEST.replace("pick: 1 ", "pick: 3 ")
    assert load(manifest).shot("s01-cliff").pick == 3


def test_pick_inserts_a_line_where_there_was_none(capsys, manifest):
    code, out, _ = run(capsys, "pick", str(manifest), "s02-keeper", "2")
    assert code == 0 and out == f"{manifest}:16: pick: 2\n"
    assert manifest.read_text(encoding="utf-8") == MANIFEST.replace(
        "calmer one.\n", "calmer one.\n    pick: 2\n")


def test_pick_again_changes_nothing(capsys, manifest):
    code, out, _ = run(capsys, "pick", str(manifest), "s01-cliff", "1")
    assert code == 0 and out == f"{manifest}: shot 's01-cliff' already has pick: 1; nothing to change\n"
    assert manifest.read_text(encoding="utf-8") == MANIFEST


def test_pick_beyond_the_takes_is_refused(capsys, manifest):
    assert refused(capsys, manifest, "pick", str(manifest), "s02-keeper", "3") == (
        f"Error: {manifest}: refused, the manifest would not validate: shot 's02-keeper' field 'pick': s02-keeper "
        "has 2 takes, so no take 3; pick 1 to 2, or set takes: 3")
    assert refused(capsys, manifest, "pick", str(manifest), "s03-lamp", "2").endswith(
        "s03-lamp has 1 take, so no take 2; drop pick, or set takes: 2")


@pytest.mark.parametrize("take", ["0", "-1", "two", "1.5"])
def test_a_take_that_is_no_take_number_is_a_usage_error(capsys, manifest, take):
    assert refused(capsys, manifest, "pick", str(manifest), "s01-cliff", take) == (
        f"shots pick: error: argument N: expected a take number from 1, got '{take}'")


def test_an_unknown_shot_gets_the_nearest_id(capsys, manifest):
    assert refused(capsys, manifest, "pick", str(manifest), "s01-clif", "2") == (
        f"Error: {manifest}: no shot 's01-clif'; did you mean 's01-cliff'?")
    assert refused(capsys, manifest, "approve", str(manifest), "s02-keeper", "s9") == f"Error: {manifest}: no shot 's9'"


def test_a_missing_manifest_is_one_line(capsys, tmp_path):
    missing = tmp_path / "nope.yaml"
    code, out, err = run(capsys, "approve", str(missing), "s01")
    assert code == 2 and out == ""
    assert err.splitlines() == [f"Error: cannot read the manifest {missing}: No such file or directory"]


def test_approve_several_shots_at_once(capsys, manifest):
    code, out, _ = run(capsys, "approve", str(manifest), "s01-cliff", "s02-keeper", "s03-lamp")
    assert code == 0
    assert out.splitlines() == [f"{manifest}:11: status: approved", f"{manifest}:17: status: approved",
                                f"{manifest}: shot 's03-lamp' is approved already; nothing to change"]
    assert [s.status for s in load(manifest).shots] == ["approved"] * 3


def test_approve_undo_removes_the_status(capsys, manifest):
    code, out, _ = run(capsys, "approve", str(manifest), "s03-lamp", "s01-cliff", "--undo")
    assert code == 0
    assert out.splitlines() == [
        (f'{manifest}:16: - {{id: s03-lamp, mode: text_to_video, prompt: "The lamp."}}  '
        f'(was: - {{id: s03-lamp, mode: text_to_video, prompt: "The lamp.", status: approved}})'),
        f"{manifest}: shot 's01-cliff' has no status; nothing to change"]
    assert [s.status for s in load(manifest).shots] == [None] * 3


def test_approve_undo_refuses_when_defaults_approve_every_shot(capsys, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.replace("shots:\n", "defaults:\n  status: approved\nshots:\n"), encoding="utf-8")
    assert refused(capsys, path, "approve", str(path), "s03-lamp", "--undo") == (
        f"Error: {path}: defaults: sets status: approved for every shot that sets none, so removing a shot's own "
        "status would not undo it; remove it from defaults: first")


def test_redo_with_a_note_replaces_the_notes(capsys, manifest):
    code, out, _ = run(capsys, "redo", str(manifest), "s02-keeper", "--note", "too dark: lift the sea")
    assert code == 0
    assert out.splitlines() == [
        f'{manifest}:15: notes: "too dark: lift the sea"  (was: notes: Two takes; pick the calmer one.)',
        f"{manifest}:16: status: redo"]
    shot = load(manifest).shot("s02-keeper")
    assert (shot.status, shot.notes) == ("redo", "too dark: lift the sea")


def test_redo_without_a_note_leaves_the_notes(capsys, manifest):
    code, out, _ = run(capsys, "redo", str(manifest), "s03-lamp")
    assert code == 0
    assert out == (f'{manifest}:16: - {{id: s03-lamp, mode: text_to_video, prompt: "The lamp.", status: redo}}  '
                   f'(was: - {{id: s03-lamp, mode: text_to_video, prompt: "The lamp.", status: approved}})\n')
    code, out, _ = run(capsys, "redo", str(manifest), "s03-lamp")
    assert out == f"{manifest}: shot 's03-lamp' is marked redo already; nothing to change\n"


@pytest.mark.parametrize("note, says", [("   ", "the note is empty; say what to change, or leave the note out"),
                                        ("bad\x1b[31m", ("the note contains the control character U+001B at "
                                                        "character 4; remove it"))])
def test_a_note_that_says_nothing_or_hides_text_is_refused(capsys, manifest, note, says):
    assert refused(capsys, manifest, "redo", str(manifest), "s01-cliff", "--note", note) == f"Error: {says}"


def test_json_prints_the_edits(capsys, manifest):
    code, out, _ = run(capsys, "approve", str(manifest), "s01-cliff", "s03-lamp", "--json")
    assert code == 0
    assert json.loads(out) == {"manifest": str(manifest), "unchanged": ["s03-lamp"], "edits": [
        {"shot": "s01-cliff", "line": 11, "kind": "insert", "before": "", "after": "    status: approved"}]}
    code, out, _ = run(capsys, "pick", str(manifest), "nope", "2", "--json")
    assert code == 2 and json.loads(out) == {"error": f"{manifest}: no shot 'nope'",
                                             "exit_code": 2}


def test_decisions_on_the_example_keep_it_valid_and_change_only_their_lines(tmp_path, capsys):
    """The repository's storyboard, with its images: every command, then `git diff`-sized changes."""
    folder = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", folder, ignore=shutil.ignore_patterns("*.lock.json"))
    path = folder / "example.yaml"
    before = path.read_text(encoding="utf-8").splitlines()
    assert run(capsys, "pick", str(path), "s02-keeper", "2")[0] == 0
    assert run(capsys, "approve", str(path), "s01-cliff", "s03-lantern")[0] == 0
    assert run(capsys, "redo", str(path), "s04-storm", "--note", "more rain")[0] == 0
    after = path.read_text(encoding="utf-8").splitlines()
    assert check(path) == []
    added = [line for line in after if line not in before]
    assert sorted(line.strip() for line in added) == ["notes: more rain", "pick: 2", "status: approved",
                                                      "status: approved", "status: redo"]
    assert [line for line in before if line not in after] == []


def test_the_library_refuses_what_the_command_refuses(manifest):
    with pytest.raises(InputError, match="a take is a whole number from 1"):
        decisions.pick(manifest, "s01-cliff", 0)
    with pytest.raises(InputError, match="name at least one shot"):
        decisions.approve(manifest, [])
    assert manifest.read_text(encoding="utf-8") == MANIFEST


def test_a_redo_mark_is_said_by_the_plan_and_carried_to_the_editor(tmp_path, sim, monkeypatch):
    """`status: redo` spends nothing on its own: the plan says the shot is unchanged, and the
    export's notes carry the decision and the note."""
    from pipeline.manifest.checker import load
    from pipeline.review import export, summary
    from pipeline.run import ledger, workflow
    from pipeline.run.backend import endpoint_for
    from runs import run_inprocess, t2v_shots, write_manifest

    shots = t2v_shots(2)
    manifest = write_manifest(tmp_path, shots)
    run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    shots[1].update(status="redo", notes="more gulls")
    write_manifest(tmp_path, shots)
    prepared = workflow.prepare(load(manifest), endpoint_for("api"), tmp_path / "out")
    text = summary.plan_text(prepared.plan, reasons=False, estimate_s=0, simulated=False)
    assert "redo: s002 (more gulls) is marked for redo but unchanged, so nothing is made" in text
    timeline = export.build_timeline(load(manifest), endpoint_for("api"), prepared.out_dir,
                                     ledger.load(prepared.out_dir))
    (_, second) = [c for c in timeline.tracks[0] if c.name.startswith("s00")]
    assert second.metadata["shots"]["status"] == "redo" and "notes: more gulls" in export._note(second.metadata["shots"])
