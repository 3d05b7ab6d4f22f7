"""Names that become files and folders in the output: the manifest's name (the folder), shot ids
and their takes' file stems (the videos, and an image shot's stills). None may break a file
system or collide with another."""

from __future__ import annotations

from pipeline.manifest import lint, merging, takes
from pipeline.manifest.problems import Problems

# The output folder's own names (pipeline/review/reel.py, report.py, ledger.py, store.py, thumbs.py;
# manifest/takes.py's frames/; the embedded simulator's .simulator/ and the hidden files start with
# '.', which no id may). A shot named so would make `shots reel` write its cut over the shot's paid
# video (reel.mp4), or put a video beside the folder's own files under a name that reads as one of them.
# tests/test_reserved_names.py holds this table to those modules' constants.
RESERVED_IDS = {
    "reel": "reel.mp4 for the cut (shots reel)",
    "report": "report.html for the contact sheet",
    "ledger": "ledger.jsonl for the ledger",
    "history": "history/ for the videos that edits replace",
    "thumbs": "thumbs/ for the contact sheet's frames",
    takes.FRAMES: f"{takes.FRAMES}/ for the frames cut from shots that others start from",
}
RESERVED_SUFFIXES = {
    ".mp4": "videos and the reel", ".part": "downloads in progress", ".srt": "the reel's captions",
    ".html": "the contact sheet", ".jsonl": "the ledger", ".json": "the ledger's snapshot and the thumbnail index",
    ".jpg": "thumbnails and stills", ".tmp": "files being written", ".lock": "the run lock",
    # shot s01's 2K final is s01.final.mp4: a shot named s01.final would write its video there
    ".final": "the 2K finals of shots finalize",
}


def reserved_id_problem(shot_id: str, still: bool = False) -> str | None:
    """Why a shot id names something the output folder uses for itself, or None. Without case:
    'Reel' and 'reel' are one file on macOS and Windows. `still`: the shot makes stills (mode image)."""
    low = shot_id.lower()
    use = RESERVED_IDS.get(low)
    if use is not None:
        return f"'{lint.show(shot_id)}' is reserved: the output folder uses {use}; rename the shot"
    dot = low.rfind(".")
    use = RESERVED_SUFFIXES.get(low[dot:]) if dot > 0 else None
    if use is not None:
        what = "still" if still else "video"
        return (f"'{lint.show(shot_id)}' is reserved: it ends in {low[dot:]}, which the output folder uses for {use} "
                f"(its {what} would be {lint.show(takes.output_name(shot_id, 1, still))}); rename the shot")
    return None


def _safe_by_pattern(name: str) -> bool:
    """Whether the schema's safeName pattern and length take `name` (else the schema reported it)."""
    return bool(lint.NAME_PATTERN.search(name)) and len(name) <= lint.NAME_MAX


def check_name(problems: Problems, top: dict) -> None:
    """The manifest's name, beyond the schema's pattern: a device name, a trailing newline."""
    name = top.get("name")
    if isinstance(name, str) and _safe_by_pattern(name):
        reason = lint.name_problem(name)
        if reason:
            problems.at_value(("name",), reason)


def check_ids(problems: Problems, shots: list, defaults: dict | None = None) -> None:
    """Ids unique, also without case, and no two shots or takes writing one output file. A still
    (mode image) writes `<id>.jpg` where a video writes `<id>.mp4`: one stem all the same (the
    ledger, the frames cut and the contact sheet name a take by it)."""
    defaults = defaults or {}
    owners: dict[str, tuple[int, str, int, bool]] = {}  # lower-case file stem -> (shot index, id, take, still)
    reported: set[tuple[int, int]] = set()
    for i, raw in enumerate(shots):
        if not isinstance(raw, dict):
            continue
        sid = raw.get("id")
        if not isinstance(sid, str) or not sid:
            continue
        still = merging.is_still(raw, defaults)
        if _safe_by_pattern(sid):
            # What the schema's pattern cannot see: a device name, a trailing newline, a name
            # the output folder uses for itself.
            reason = lint.name_problem(sid) or reserved_id_problem(sid, still)
            if reason:
                problems.at_value(("shots", i, "id"), reason)
        count = raw["takes"] if "takes" in raw else defaults.get("takes", 1)
        count = count if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 100 else 1
        for take in range(1, count + 1):
            stem = takes.stem(sid, take)
            other = owners.get(stem.lower())
            if other is None:
                owners[stem.lower()] = (i, sid, take, still)
                continue
            j, other_id, other_take, other_still = other
            if j == i or (j, i) in reported:
                continue
            reported.add((j, i))
            mine, theirs = takes.output_name(sid, take, still), takes.output_name(other_id, other_take, other_still)
            problems.at_value(("shots", i, "id"), _collision(problems, sid, take, mine, j, other_id, theirs))


def _collision(problems: Problems, sid: str, take: int, mine: str, j: int, other_id: str, theirs: str) -> str:
    """Why take `take` of shot `sid` cannot have its file `mine`: shot `j` (`other_id`) writes
    `theirs` under the same name (the same file, or the same stem)."""
    line = problems.pos.value(("shots", j))[0]
    if other_id == sid:
        return f"duplicate id '{lint.show(sid)}' (first used by the shot on line {line}); ids must be unique"
    if other_id.lower() == sid.lower():
        return (f"id '{lint.show(sid)}' differs from '{lint.show(other_id)}' (line {line}) only in case; "
                "both would write one file on macOS and Windows")
    if mine.lower() == theirs.lower():
        return (f"take {take} would write {mine}, which shot '{lint.show(other_id)}' "
                f"(line {line}) also writes; rename one of them")
    return (f"take {take} would write {mine}, and shot '{lint.show(other_id)}' (line {line}) writes {theirs}: "
            f"two takes named {takes.stem(sid, take)}; rename one of them")
