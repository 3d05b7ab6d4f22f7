"""Continuity as a user runs it with a key: `shots sim` in its own process, the continuity
example from a copy of the project, and a run killed (SIGKILL) after an upstream's video is on
disk but before its dependant is created, then resumed: nothing made twice, nothing cut twice."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from test_example_keyed import project, readme_sim  # noqa: F401  (fixtures)


def env_of(env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}, **env}


def events(ledger: Path) -> list[dict]:
    if not ledger.exists():
        return []
    out = []
    for line in ledger.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line being written
            break
    return out


def test_the_continuity_example_runs_with_a_key(readme_sim, project):  # noqa: F811
    env, run_argv = readme_sim
    argv = [a.replace("example.yaml", "continuity.yaml") for a in run_argv] + ["--json", "--quiet"]
    first = subprocess.run(argv, env=env_of(env), cwd=project, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["done"] == summary["creates"] == 6  # two stills, four videos
    folder = project / "outputs" / "keepers-round"
    assert (folder / "kf-01.take2.jpg").is_file() and len(list(folder.glob("*.mp4"))) == 4
    again = subprocess.run(argv, env=env_of(env), cwd=project, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["creates"] == 0


def test_killed_between_an_upstream_download_and_its_dependant_create(readme_sim, project):  # noqa: F811
    env, run_argv = readme_sim
    base_url = env["MINIMAX_BASE_URL"]
    manifest = project / "manifests" / "killed.yaml"
    # One slot, given in manifest order: kf, a (from kf), then the independent x before b (made from
    # a's last frame), so while x generates, a is on disk and b is not created: the kill lands there,
    # as the ledger shows x's task made and a's video on disk (a's slot frees once its task is done).
    manifest.write_text(json.dumps({"version": 1, "name": "killed", "concurrency": 1, "shots": [
        {"id": "kf", "mode": "image", "prompt": "A keeper on a cliff.", "aspect_ratio": "16:9"},
        {"id": "a", "mode": "image_to_video", "first_frame_image": {"shot": "kf"}, "prompt": "He walks [Push in]."},
        {"id": "x", "mode": "text_to_video", "prompt": "Waves at night [Static shot]."},
        {"id": "b", "mode": "image_to_video", "first_frame_image": {"shot": "a", "frame": "last"},
         "prompt": "He opens the door."},
    ]}), encoding="utf-8")
    argv = [a if not a.endswith(".yaml") else "manifests/killed.yaml" for a in run_argv]
    ledger = project / "outputs" / "killed" / "ledger.jsonl"
    proc = subprocess.Popen(argv, env=env_of(env), cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not {("submitted", "x"), ("downloaded", "a")} <= {(e["e"], e.get("shot")) for e in events(ledger)}:
            assert proc.poll() is None, "the run ended before x was created"
        proc.kill()
    finally:
        proc.wait(timeout=30)
    seen = [(e["e"], e.get("shot")) for e in events(ledger)]
    assert ("downloaded", "a") in seen and not any(shot == "b" for _, shot in seen)
    frames = project / "outputs" / "killed" / "frames"
    # The kill may land before or after b's frame was cut from a: either way it is cut once.
    cut = {p.name: p.stat().st_mtime_ns for p in frames.glob("*") if not p.name.endswith(".part")}

    resumed = subprocess.run(argv + ["--json", "--quiet"], env=env_of(env), cwd=project, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["done"] == 4
    with httpx.Client() as client:
        tasks = client.get(f"{base_url}/_sim/tasks").json()
    assert sorted(t["mode"] for t in tasks) == ["image_to_video", "image_to_video", "text_to_video"]  # once each
    for name, mtime in cut.items():
        assert (frames / name).stat().st_mtime_ns == mtime  # nothing cut again
    assert len(list(frames.glob("a.last.*.png"))) == 1
