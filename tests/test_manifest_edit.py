"""In-place manifest edits (pipeline/manifest/edit.py): a decision changes exactly its lines.

A corpus of real-looking manifests (the repository's own, the valid corpus, and storyboards
written the ways people write YAML: comments everywhere, folded and literal prompts, quoted and
plain values, nested lists, defaults, flow-style shots), each also as CRLF, with a BOM, and both.
After every edit, difflib (and `git diff --no-index`) shows exactly the changed lines; the document
reads back as before with only that change; refusals leave the file's bytes as they were.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.manifest.edit import Edit, EditConflict, manifest_sha256, set_fields, set_shot_fields
from pipeline.manifest.yamlpos import decode, parse

ROOT = Path(__file__).resolve().parent.parent

STORYBOARD = """\
# yaml-language-server: $schema=../schemas/manifest.schema.json
# "Night watch": a storyboard as people write one.
version: 1
name: night-watch      # the output folder
rpm: 5

defaults:              # every shot takes these
  model: MiniMax-Hailuo-02
  duration: 6
  tags: [draft]

shots:
  # -- act one ------------------------------------------------------------
  - id: kf-01          # the keyframe every shot starts from
    mode: image
    aspect_ratio: "16:9"
    prompt: >
      The lighthouse on its cliff at dusk,
      wide, warm sky.
    takes: 3

  - id: s01
    mode: image_to_video
    first_frame_image:
      shot: kf-01      # its picked still
    prompt: "Waves break below the lighthouse [Push in]."
    takes: 2
    pick: 1            # chosen in review, 12 May
    status: redo
    notes: 'too dark: lift the sea'
  # a comment between shots, about s02
  - id: s02
    mode: text_to_video
    prompt: |
      The lamp turns on.
      Its beam sweeps the fog [Pan left].
    tags:
      - interior
      - light
  - {id: s03, mode: text_to_video, prompt: "The keeper climbs the stairs.", takes: 2}
  - {id: s04, mode: text_to_video,
     prompt: "He opens the door [Static shot].", takes: 2, pick: 2}

  - id: s05
    mode: image_to_video
    first_frame_image: {shot: s02, frame: last}
    prompt: The sea at night, calm
    takes: 2
    notes:
  - id: s06
    mode: text_to_video
    prompt: Dawn.
    tags:
    - exterior
    - dawn
    takes: 2
    notes: |+
      kept lines

  - id: s07
    mode: text_to_video
    prompt: >-
      The last light goes out
      [Pull out].
    takes: 2  # the end
"""

NO_FINAL_NEWLINE = """\
version: 1
name: tail
shots:
  - id: s01
    mode: text_to_video
    prompt: A lighthouse.
    takes: 2
    status: approved"""

DOCS = {"storyboard": STORYBOARD, "no-final-newline": NO_FINAL_NEWLINE}
REAL = sorted((ROOT / "manifests").glob("*.yaml")) + sorted((ROOT / "tests" / "manifests" / "valid").glob("*.yaml"))
VARIANTS = ("lf", "crlf", "bom", "bom-crlf")


def as_bytes(text: str, variant: str) -> bytes:
    if "crlf" in variant:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if "bom" in variant else b"") + text.encode("utf-8")


def document(raw: bytes):
    return parse(decode(raw))[0]


def changed_lines(before: bytes, after: bytes) -> tuple[list[str], list[tuple[int, str]]]:
    """(old lines that changed, [(new line number, new line)]) by difflib, endings kept: a line
    whose ending alone changed counts as changed, but the file's last line: in a file that ends
    without a line ending, the line before a new last line gains one, and the line before a
    removed last line loses its own (`git diff` shows that line too, "No newline at end of file")."""
    eol = b"\r\n" if b"\r\n" in before else b"\n"
    old, new = [(raw if raw.endswith(b"\n") else raw + eol).splitlines(keepends=True) for raw in (before, after)]
    gone, came = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op != "equal":
            gone += [line.decode("utf-8") for line in old[i1:i2]]
            came += [(j + 1, new[j].decode("utf-8")) for j in range(j1, j2)]
    return gone, came


def strip_eol(line: str) -> str:
    return line.rstrip("\r\n").removeprefix("\ufeff")


def assert_exactly(edits: list[Edit], before: bytes, after: bytes) -> None:
    """The file changed in the lines the edits name and nowhere else, with its line endings kept."""
    gone, came = changed_lines(before, after)
    assert [strip_eol(g) for g in gone] == [e.before for e in edits if e.kind != "insert"]
    assert [(n, strip_eol(c)) for n, c in came] == [(e.line, e.after) for e in edits if e.kind != "remove"]
    if b"\r\n" in before:
        assert after.count(b"\n") == after.count(b"\r\n")  # CRLF stays CRLF, new lines too
    else:
        assert b"\r" not in after
    assert after.startswith(b"\xef\xbb\xbf") == before.startswith(b"\xef\xbb\xbf")


def shot_ids(raw: bytes) -> list[str]:
    return [s["id"] for s in document(raw)["shots"]]


# -- every shot of every manifest, every variant ----------------------------------------------------


def corpus() -> list[tuple[str, bytes]]:
    cases = [(f"{name}-{v}", as_bytes(text, v)) for name, text in DOCS.items() for v in VARIANTS]
    cases += [(p.name, p.read_bytes()) for p in REAL]  # CRLF and BOM: the storyboards above
    return cases


CHANGES = [{"pick": 2}, {"status": "approved"}, {"status": "redo", "notes": "the sea: too dark"},
           {"pick": None}, {"status": None, "notes": None}, {"notes": "yes"}]


@pytest.mark.parametrize("name, raw", corpus(), ids=[c[0] for c in corpus()])
def test_each_edit_changes_exactly_its_lines(tmp_path, name, raw):
    path = tmp_path / "m.yaml"
    shared = b"&" in raw and b"*" in raw  # YAML anchors: some shots share text, and may be refused
    edited = 0
    for sid in shot_ids(raw):
        for changes in CHANGES:
            path.write_bytes(raw)
            try:
                edits = set_shot_fields(path, sid, changes)
            except InputError as exc:
                assert shared, f"{sid} {changes}: {exc}"
                assert path.read_bytes() == raw
                continue
            after = path.read_bytes()
            assert_exactly(edits, raw, after)
            expected = document(raw)
            shot = next(s for s in expected["shots"] if s.get("id") == sid)
            for key, value in changes.items():
                if value is None:
                    shot.pop(key, None)
                else:
                    shot[key] = value
            assert document(after) == expected
            assert all(e.shot == sid for e in edits)
            edited += bool(edits)
    assert edited


def test_a_set_on_a_field_written_replaces_its_value_and_keeps_its_comment(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    assert set_shot_fields(path, "s01", {"pick": 2}) == [
        Edit(28, "    pick: 1            # chosen in review, 12 May", "    pick: 2            # chosen in review, 12 May",
             "s01")]
    assert set_shot_fields(path, "s01", {"notes": "lift the sea, it's dark"}) == [  # single quotes kept
        Edit(30, "    notes: 'too dark: lift the sea'", "    notes: 'lift the sea, it''s dark'", "s01")]
    assert set_shot_fields(path, "s01", {"status": "approved"}) == [
        Edit(29, "    status: redo", "    status: approved", "s01")]
    assert set_shot_fields(path, "s05", {"notes": "calmer"}) == [  # an empty value gets one
        Edit(49, "    notes:", "    notes: calmer", "s05")]


def test_a_new_field_is_one_line_after_the_shots_last_field(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    lines = STORYBOARD.splitlines()
    # after a folded prompt and a scalar (the blank line after the shot stays after it)
    assert set_shot_fields(path, "kf-01", {"pick": 3}) == [Edit(21, "", "    pick: 3", "kf-01")]
    # after a literal block and a nested list (never inside them)
    assert set_shot_fields(path, "s02", {"status": "approved"}) == [Edit(41, "", "    status: approved", "s02")]
    # after a trailing comment's line
    assert set_shot_fields(path, "s07", {"pick": 1}) == [Edit(len(lines) + 3, "", "    pick: 1", "s07")]
    text = path.read_text(encoding="utf-8")
    assert "wide, warm sky.\n    takes: 3\n    pick: 3\n\n  - id: s01" in text
    assert "      - light\n    status: approved\n  - {id: s03" in text
    assert text.endswith("    takes: 2  # the end\n    pick: 1\n")


def test_a_new_field_after_a_kept_block_goes_after_its_kept_lines(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    set_shot_fields(path, "s06", {"status": "approved"})
    assert "    notes: |+\n      kept lines\n\n    status: approved\n  - id: s07" in path.read_text(encoding="utf-8")
    assert document(path.read_bytes())["shots"][6]["notes"] == "kept lines\n\n"


def test_a_flow_style_shot_is_edited_inside_its_braces(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    assert set_shot_fields(path, "s03", {"pick": 2, "status": "approved"}) == [Edit(
        40, '  - {id: s03, mode: text_to_video, prompt: "The keeper climbs the stairs.", takes: 2}',
        '  - {id: s03, mode: text_to_video, prompt: "The keeper climbs the stairs.", takes: 2, pick: 2, '
        'status: approved}', "s03")]
    assert set_shot_fields(path, "s04", {"pick": 1, "notes": "a, b: [c]"}) == [Edit(
        42, '     prompt: "He opens the door [Static shot].", takes: 2, pick: 2}',
        '     prompt: "He opens the door [Static shot].", takes: 2, pick: 1, notes: "a, b: [c]"}', "s04")]
    assert set_shot_fields(path, "s04", {"pick": None}) == [Edit(
        42, '     prompt: "He opens the door [Static shot].", takes: 2, pick: 1, notes: "a, b: [c]"}',
        '     prompt: "He opens the door [Static shot].", takes: 2, notes: "a, b: [c]"}', "s04")]


def test_a_removal_takes_the_fields_lines_and_nothing_else(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    assert set_shot_fields(path, "s02", {"tags": None}) == [
        Edit(37, "    tags:", "", "s02"), Edit(37, "      - interior", "", "s02"), Edit(37, "      - light", "", "s02")]
    assert set_shot_fields(path, "s01", {"status": None, "notes": None}) == [
        Edit(29, "    status: redo", "", "s01"), Edit(29, "    notes: 'too dark: lift the sea'", "", "s01")]
    assert "# a comment between shots, about s02\n  - id: s02" in path.read_text(encoding="utf-8")


def test_the_last_line_of_a_file_without_a_final_newline(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_bytes(NO_FINAL_NEWLINE.encode())
    set_shot_fields(path, "s01", {"pick": 2})
    assert path.read_bytes() == (NO_FINAL_NEWLINE + "\n    pick: 2").encode()
    assert set_shot_fields(path, "s01", {"pick": None}) == [Edit(9, "    pick: 2", "", "s01")]
    assert path.read_bytes() == NO_FINAL_NEWLINE.encode()


def test_several_shots_in_one_write(tmp_path):
    path = tmp_path / "m.yaml"
    raw = as_bytes(STORYBOARD, "crlf")
    path.write_bytes(raw)
    edits = set_fields(path, {"s07": {"status": "approved"}, "kf-01": {"status": "approved"},
                              "s03": {"status": "approved"}})
    assert [(e.shot, e.after.strip()) for e in edits] == [
        ("kf-01", "status: approved"), ("s03", ('- {id: s03, mode: text_to_video, prompt: "The keeper climbs the '
                                               'stairs.", takes: 2, status: approved}')), ("s07", "status: approved")]
    assert_exactly(edits, raw, path.read_bytes())


# -- what needs quotes gets them ------------------------------------------------------------------


TRICKY = ["yes", "No", "on", "off", "null", "~", "16:9", "1:30", "0x1F", "1e3", "1_000", ".inf", "2024-05-01", "=",
          "<<", "*alias", "&anchor", "!tag", "#hash", "a # b", "a: b", "ends:", "- dash", "[list]", "{map}", "@at",
          "`tick", "%pct", "|bar", ">gt", "'single", '"double', "it's", 'say "hi"', " lead", "trail ", "",
          "multi\nline", "tab\there", "a\\b", "é€ 中文", "line\u2028sep", "nel\x85", "del\x7f", "bom\ufeff",
          "plain words, with a comma", "a,b", "100", "-1", "true"]


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
@pytest.mark.parametrize("shot", ["s01", "s03", "s05"])  # a quoted value, a flow shot, an empty value
def test_text_reads_back_as_written(tmp_path, value, shot):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    (change,) = set_shot_fields(path, shot, {"notes": value})
    assert change.after.count("\n") == 0
    data = document(path.read_bytes())
    assert next(s for s in data["shots"] if s["id"] == shot)["notes"] == value


def test_plain_text_stays_plain_and_a_number_is_never_quoted(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    assert set_shot_fields(path, "s05", {"notes": "calmer sea"})[0].after == "    notes: calmer sea"
    assert set_shot_fields(path, "s05", {"notes": "yes"})[0].after == '    notes: "yes"'
    assert set_shot_fields(path, "s01", {"pick": 2})[0].after.split("#")[0].strip() == "pick: 2"


# -- refusals leave the file as it was --------------------------------------------------------------


def refused(path: Path, shot: str, changes: dict, message: str) -> None:
    before = path.read_bytes()
    with pytest.raises(InputError) as caught:
        set_shot_fields(path, shot, changes)
    assert str(caught.value) == message
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left


def test_an_unknown_shot_gets_the_nearest_id(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    refused(path, "so1", {"pick": 1}, f"{path}: no shot 'so1'; did you mean 's01'?")
    refused(path, "zzz", {"pick": 1}, f"{path}: no shot 'zzz'")


ANCHORS = """\
version: 1
name: anchors
shots:
  - &first
    id: a
    mode: text_to_video
    prompt: "One."
    status: approved
  - <<: *first
    id: b
  - id: d
    mode: text_to_video
    prompt: &p "Shared."
  - id: e
    mode: text_to_video
    prompt: *p
"""


def test_shots_that_share_text_through_anchors_are_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(ANCHORS, encoding="utf-8")
    refused(path, "a", {"pick": 1}, f"{path}: refused: the edit would change more than asked of shot 'a' (YAML "
                                    "anchors, aliases or merges share its text, or a layout this editor does not "
                                    "know); edit it by hand")
    refused(path, "b", {"status": None}, f"{path}: shot 'b' takes status from a YAML merge (<<); remove it there")
    refused(path, "d", {"prompt": "x"}, f"{path}: shot 'd' field 'prompt' is a YAML anchor (&p) that other values "
                                        "may use; edit it by hand")


def test_an_alias_shot_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(ANCHORS + "  - *first\n", encoding="utf-8")  # the same shot twice: the same id twice
    refused(path, "a", {"pick": 1}, f"{path}: 2 shots have the id 'a'; make the ids unique first "
                                    "(shots validate says where)")
    path.write_text("version: 1\nname: t\nx-kept: &kept {id: s09, mode: text_to_video, prompt: x}\n"
                    "shots:\n  - *kept\n", encoding="utf-8")
    refused(path, "s09", {"pick": 1}, f"{path}: shot 's09' is a YAML alias (*kept) of another; write it out in full "
                                      "to edit it")


def test_a_merged_shot_gets_its_own_line_and_an_alias_value_can_be_replaced(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(ANCHORS, encoding="utf-8")
    assert set_shot_fields(path, "b", {"status": "redo"}) == [Edit(11, "", "    status: redo", "b")]
    assert set_shot_fields(path, "e", {"prompt": "Its own."}) == [
        Edit(17, "    prompt: *p", "    prompt: Its own.", "e")]
    data = document(path.read_bytes())
    assert [s.get("status") for s in data["shots"]] == ["approved", "redo", None, None]
    assert [s["prompt"] for s in data["shots"]] == ["One.", "One.", "Shared.", "Its own."]


def test_a_field_written_twice_or_on_the_dash_line_is_refused_for_removal(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nname: t\nshots:\n  - pick: 1\n    id: s01\n    mode: text_to_video\n"
                    "    prompt: x\n    notes: a\n    notes: b\n", encoding="utf-8")
    refused(path, "s01", {"pick": None}, f"{path}: shot 's01' writes pick on the line of its '- '; move it to a line "
                                         "of its own to remove it")
    refused(path, "s01", {"notes": "c"}, f"{path}: shot 's01' sets notes more than once; remove all but one first")
    assert set_shot_fields(path, "s01", {"pick": 2}) == [Edit(4, "  - pick: 1", "  - pick: 2", "s01")]


def test_a_file_yaml_cannot_read_is_refused_with_its_place(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nname: t\nshots:\n  - id: s01\n\tmode: text_to_video\n", encoding="utf-8")
    refused(path, "s01", {"pick": 1}, f"{path}:5:1: a tab character; YAML indents with spaces, never tabs; fix it "
                                      "before editing the manifest")


def test_lone_cr_line_endings_are_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_bytes(NO_FINAL_NEWLINE.replace("\n", "\r").encode())
    refused(path, "s01", {"pick": 1}, f"{path}: ends lines with a lone CR (old Mac style); save it with LF or CRLF "
                                      "line endings to edit it")


def test_a_manifest_changed_since_it_was_read_is_a_conflict(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    seen = manifest_sha256(path)
    path.write_text(STORYBOARD.replace("Dawn.", "Dawn, grey."), encoding="utf-8")  # edited by hand meanwhile
    before = path.read_bytes()
    with pytest.raises(EditConflict) as caught:
        set_shot_fields(path, "s01", {"pick": 2}, expect=seen)
    assert str(caught.value) == f"{path} changed on disk since it was read; reload"
    assert isinstance(caught.value, InputError) and path.read_bytes() == before
    assert set_shot_fields(path, "s01", {"pick": 2}, expect=manifest_sha256(path))  # read again: fine


def test_a_change_while_the_edit_is_made_is_a_conflict(tmp_path):
    """The file is read again just before the rename: a writer in between loses nothing."""
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    theirs = STORYBOARD.replace("Dawn.", "Dawn, grey.").encode()

    def meanwhile(edited: Path) -> None:
        path.write_bytes(theirs)

    with pytest.raises(EditConflict):
        set_shot_fields(path, "s01", {"pick": 2}, validate=meanwhile)
    assert path.read_bytes() == theirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


def test_validate_sees_the_edited_file_beside_the_manifest_and_may_refuse(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    seen = []

    def no(edited: Path) -> None:
        seen.append((edited.parent, b"pick: 2" in edited.read_bytes()))
        raise InputError("not today")

    with pytest.raises(InputError, match="not today"):
        set_shot_fields(path, "s01", {"pick": 2}, validate=no)
    assert seen == [(tmp_path, True)]
    assert path.read_text(encoding="utf-8") == STORYBOARD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


def test_nothing_to_change_writes_nothing(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(STORYBOARD, encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert set_shot_fields(path, "s01", {"pick": 1, "status": "redo"}) == []
    assert set_shot_fields(path, "s02", {"pick": None}) == []
    assert path.stat().st_mtime_ns == 1


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions and symlinks")
def test_permissions_and_a_symlink_are_kept(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text(STORYBOARD, encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "m.yaml"
    link.symlink_to(real)
    set_shot_fields(link, "s01", {"pick": 2})
    assert link.is_symlink() and (real.stat().st_mode & 0o777) == 0o640
    assert "pick: 2" in real.read_text(encoding="utf-8")


# -- git diff shows only them --------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("variant", VARIANTS)
def test_git_diff_shows_only_the_changed_lines(tmp_path, variant):
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    raw = as_bytes(STORYBOARD, variant)
    before.write_bytes(raw)
    after.write_bytes(raw)
    edits = set_fields(after, {"s01": {"pick": 2}, "s02": {"status": "approved"}, "s04": {"pick": None},
                               "s06": {"notes": "one line now"}})
    diff = subprocess.run(["git", "diff", "--no-index", "--no-color", "-U0", str(before), str(after)],
                          capture_output=True, check=False).stdout.decode("utf-8")
    removed = [line[1:].rstrip("\r") for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].rstrip("\r") for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert removed == [e.before for e in edits if e.before]
    assert added == [e.after for e in edits if e.after]
    assert removed == ["    pick: 1            # chosen in review, 12 May",
                       '     prompt: "He opens the door [Static shot].", takes: 2, pick: 2}',
                       "    notes: |+", "      kept lines"]
    assert added == ["    pick: 2            # chosen in review, 12 May", "    status: approved",
                     '     prompt: "He opens the door [Static shot].", takes: 2}', "    notes: one line now"]
    hunks = [line for line in diff.splitlines() if line.startswith("@@")]
    assert len(hunks) == 4

