"""Issue 17's "Done when", as a user does it: a storyboard goes from `shots run` to a pick and an
approval on the review page, `shots finalize` and `shots export --format fcp7 --final` without a
file touched by hand, with and without a key; the manifest then differs from before by exactly
the lines the page changed (`git diff` shows only them).

Every step is the command line in its own process, from another working folder than the project
(a copy, as tests/test_example_keyed.py's `project`). The review page is driven through its API as
its script drives it: the token and the manifest's sha256 from the page's <meta>, the JSON body,
the token header and the page's origin. Every wait is an event: a printed line, an HTTP answer."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import opentimelineio as otio
import pytest
from test_example_keyed import free_port, project, readme_sim, readme_sim_commands  # noqa: F401  (fixtures)

MANIFEST = "handoff.yaml"
NAME = "handoff"
PICKED = "h02-keeper"  # the shot with two takes: take 2 is picked on the page, and approved
SHOTS = ["h01-harbour", PICKED, "h03-lamp"]
# Comments, quoting and a default block, so that "only those lines changed" means something.
STORYBOARD = """\
# yaml-language-server: $schema=../schemas/manifest.schema.json
version: 1
name: handoff                    # videos go to outputs/handoff/
defaults:
  model: MiniMax-H3
  resolution: 768P
  ratio: "16:9"                  # quoted: YAML reads 16:9 as a number
shots:
  - id: h01-harbour
    mode: text_to_video
    duration: 4
    prompt: "A harbour at dawn, gulls over the boats."
  - id: h02-keeper
    mode: text_to_video
    duration: 5
    takes: 2                     # two takes to choose from
    prompt: 'The keeper climbs the stairs, lamp in hand.'
  - id: h03-lamp
    mode: text_to_video
    prompt: "The lamp turns slowly."
"""


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This shell's environment with no MiniMax setting but `extra`'s."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}, **(extra or {})}


def shots(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


# -- the review page, as its script uses it --------------------------------------------------------


class ReviewPage:
    """A page of a running `shots review`: its token and the manifest's sha256 as the page holds
    them; `act` posts an action exactly as the page's script does, and keeps the new sha256."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.origin = url.rstrip("/")
        self.html = httpx.get(url).raise_for_status().text
        self.token = meta(self.html, "shots-token")
        self.sha = meta(self.html, "shots-sha")

    def act(self, path: str, body: dict) -> dict:
        headers = {"X-Shots-Token": self.token, "Content-Type": "application/json", "Origin": self.origin}
        answer = httpx.post(self.url + path.lstrip("/"), headers=headers, content=json.dumps({**body, "sha": self.sha}))
        assert answer.status_code == 200, answer.text
        self.sha = answer.json()["sha"]
        return answer.json()

    def state(self) -> dict:
        return httpx.get(self.url + "api/state", headers={"X-Shots-Token": self.token}).raise_for_status().json()


def meta(page: str, name: str) -> str:
    found = re.search(rf'<meta name="{name}" content="([^"]*)">', page)
    assert found, f"no <meta name={name!r}> in the review page"
    return found.group(1)


def panel(page: str, shot_id: str) -> str:
    """The review page's panel of a shot: from its data-shot to the next panel's."""
    start = page.index(f'data-shot="{shot_id}"')
    end = page.find("data-shot=", start + 1)
    return page[start:end if end != -1 else len(page)]


@contextmanager
def review(env: dict[str, str], cwd: Path, manifest: str) -> Iterator[ReviewPage]:
    """`shots review MANIFEST --no-browser --port 0` in its own process; yields its page once the
    address is printed, then stops it with Ctrl-C (SIGINT), which must end it cleanly (exit 0)."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "review", manifest, "--no-browser", "--port", "0"],
                            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    try:
        line = proc.stdout.readline()  # printed once the page is drawn and the port bound: an event
        address = re.search(r" at (http://127\.0\.0\.1:\d+/) ", line)
        assert address, f"{line!r}; stderr: {'' if line else proc.communicate(timeout=30)[1]}"
        yield ReviewPage(address.group(1))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        stopped = True
        assert proc.returncode == 0, err
    finally:
        if not stopped:
            proc.kill()
            proc.wait(timeout=30)


# -- what the checks read --------------------------------------------------------------------------


def added_lines(before: Path, after: Path) -> dict[int, str]:
    """`git diff --no-index` of two files: the lines `after` adds, by line number; asserts it
    removes none."""
    diff = subprocess.run(["git", "diff", "--no-index", "--no-color", "--no-ext-diff", "-U0", str(before), str(after)],
                          capture_output=True, text=True, check=False)
    assert diff.returncode in (0, 1), diff.stderr
    added: dict[int, str] = {}
    removed = []
    line = 0
    for text in diff.stdout.splitlines():
        hunk = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@", text)
        if hunk:
            line = int(hunk.group(1))
        elif text.startswith("+") and not text.startswith("+++"):
            added[line] = text[1:]
            line += 1
        elif text.startswith("-") and not text.startswith("---"):
            removed.append(text)
    assert not removed, diff.stdout
    return added


def downloads(out_dir: Path) -> dict[tuple[str, int], dict]:
    """The ledger's `downloaded` events by (ledger shot key, take): file and probed seconds."""
    events = [json.loads(line) for line in (out_dir / "ledger.jsonl").read_text(encoding="utf-8").splitlines()]
    return {(e["shot"], e["take"]): e for e in events if e["e"] == "downloaded"}


def fcp7_clips(path: Path) -> tuple[list[otio.schema.Clip], list[otio.schema.Clip]]:
    """(video clips, audio clips) of an FCP 7 XML file, read back by OTIO's fcp_xml adapter."""
    timeline = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    by_kind = {kind: [item for track in timeline.tracks if track.kind == kind for item in track]
               for kind in (otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio)}
    for items in by_kind.values():
        assert all(isinstance(item, otio.schema.Clip) for item in items), items  # every shot has a video
    return by_kind[otio.schema.TrackKind.Video], by_kind[otio.schema.TrackKind.Audio]


# -- the path --------------------------------------------------------------------------------------


def hand_off(root: Path, elsewhere: Path, env: dict[str, str], scale: list[str], backend: str) -> Path:
    """In the project copy `root`, from `elsewhere`: run -> pick take 2 and approve on the review
    page -> finalize -> export fcp7 --final, each checked. `scale` is `--time-scale F` (a separate
    simulator's) or nothing. Returns the output folder."""
    manifest = root / "manifests" / MANIFEST
    manifest.write_text(STORYBOARD, encoding="utf-8")
    before = root.parent / "before.yaml"
    shutil.copyfile(manifest, before)
    given = os.path.relpath(manifest, elsewhere)  # as a user types it, from their folder
    out_dir = root / "outputs" / NAME

    run = shots(env, elsewhere, "run", given, *scale, "--json", "--quiet")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["backend"], summary["done"], summary["creates"]) == (backend, 4, 4)
    assert not (elsewhere / "outputs").exists()
    plan = shots(env, elsewhere, "plan", given)  # the finals are priced before anything is paid
    assert plan.returncode == 0 and "finals: 3 picked MiniMax-H3 take(s) could be made at 2K for $" in plan.stdout

    with review(env, elsewhere, given) as page:
        controls = panel(page.html, PICKED)
        assert 'class="dot' in controls and 'data-take="2"' in controls and 'class="approve"' in controls
        picked = page.act("/api/pick", {"shot": PICKED, "take": 2})
        approved = page.act("/api/approve", {"shot": PICKED, "undo": False})
        assert page.state()["shots"][PICKED] == {"pick": 2, "take": 2, "status": "approved", "notes": None}
    edits = picked["edits"] + approved["edits"]
    assert [e["after"].strip() for e in edits] == ["pick: 2", "status: approved"]
    assert all(e["before"] == "" for e in edits)  # inserted, nothing replaced
    # git diff shows exactly the lines the page said it changed, where it said.
    assert added_lines(before, manifest) == {e["line"]: e["after"] for e in edits}

    finalize = shots(env, elsewhere, "finalize", given, *scale, "--json")
    assert finalize.returncode == 0, finalize.stderr
    result = json.loads(finalize.stdout)
    assert (result["backend"], result["done"], result["failed"]) == (backend, 3, 0)
    finals = {f["shot"]: f for f in result["finals"]}
    assert (finals[PICKED]["take"], finals[PICKED]["file"]) == (2, f"{PICKED}.take2.final.mp4")
    assert (out_dir / f"{PICKED}.take2.final.mp4").is_file()

    export = shots(env, elsewhere, "export", given, "--format", "fcp7", "--final")
    assert export.returncode == 0, export.stderr
    assert export.stdout.split() == [str(out_dir / f"{NAME}.fcp7.xml")]
    video, audio = fcp7_clips(out_dir / f"{NAME}.fcp7.xml")
    assert [clip.name for clip in video] == [clip.name for clip in audio] == SHOTS  # H3 sound under each
    seen = downloads(out_dir)
    for clip in video:
        take = 2 if clip.name == PICKED else 1
        final = seen[(clip.name + "@final", take)]
        assert clip.media_reference.target_url == (out_dir / final["file"]).resolve().as_uri()
        assert clip.metadata["fcp_xml"]["logginginfo"]["shottake"] == str(take)
        draft_seconds = seen[(clip.name, take)]["seconds"]  # the picked take's probed length
        assert round(clip.duration().rescaled_to(24).value) == round(draft_seconds * 24)
    assert video[1].media_reference.target_url.endswith(f"/{PICKED}.take2.final.mp4")
    return out_dir


def test_keyless_from_run_to_the_editor(project, tmp_path):  # noqa: F811
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out_dir = hand_off(project, elsewhere, clean_env(), [], "simulator")
    reel = shots(clean_env(), elsewhere, "reel", os.path.relpath(project / "manifests" / MANIFEST, elsewhere),
                 "--final", "--burn-ids")
    assert reel.returncode == 0, reel.stderr
    assert (out_dir / "reel.mp4").is_file()


@pytest.fixture(params=["not whitelisted", "whitelisted"])
def keyed_sim(request) -> Iterator[tuple[dict[str, str], list[str], bool]]:
    """`shots sim` in its own process: the README's (whose account may not regenerate by task id),
    or the same line with `--v2-regeneration-whitelist`. Yields (run env, `--time-scale F`, whitelisted)."""
    _, _, run_argv = readme_sim_commands()
    scale = run_argv[run_argv.index("--time-scale"):][:2]
    if request.param == "not whitelisted":
        env, _ = request.getfixturevalue("readme_sim")
        yield env, scale, False
        return
    sim_argv, env, _ = readme_sim_commands()
    port = str(free_port())
    sim_argv = [port if a == "8765" else a for a in sim_argv] + ["--v2-regeneration-whitelist"]
    env = {k: v.replace("8765", port) for k, v in env.items()}
    proc = subprocess.Popen(sim_argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=clean_env())
    try:
        line = proc.stderr.readline()  # the banner comes once the port is bound
        assert f"127.0.0.1:{port}" in line, line
        # Its request log is read on, so that a full pipe never stalls it mid-test.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield env, scale, True
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_with_a_key_from_run_to_the_editor(keyed_sim, project, tmp_path):  # noqa: F811
    env, scale, whitelisted = keyed_sim
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    hand_off(project, elsewhere, clean_env(env), scale, "api")
    stats = httpx.get(f"{env['MINIMAX_BASE_URL']}/_sim/stats").raise_for_status().json()
    regenerations, refused = stats["requests"]["v2_regenerate"], stats["answers"].get("http_400", 0)
    # Each final made once: by task id when whitelisted; else the content form after a refusal
    # (finals in flight at once may each be refused before the client learns it).
    assert regenerations - refused == 3
    assert (refused == 0) if whitelisted else (refused >= 1)
