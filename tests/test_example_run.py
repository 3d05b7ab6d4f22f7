"""The README's main command: the example storyboard with no key, against the built-in simulator."""

import json
import subprocess
import sys
from pathlib import Path

from pipeline.run import video
from pipeline.manifest.checker import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "manifests" / "example.yaml"


def shots(*args, cwd):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # no MINIMAX_* at all
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_example_storyboard_runs_with_no_key_and_a_second_run_does_nothing(tmp_path):
    first = shots("run", str(EXAMPLE), "--out", "out", "--no-lock-file", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith("SIMULATOR: no MINIMAX_API_KEY is set")
    summary = json.loads(first.stdout)
    manifest = load(EXAMPLE)
    takes = sum(s.takes for s in manifest.shots)
    assert summary["backend"] == "simulator" and summary["done"] == takes == summary["creates"]
    folder = tmp_path / "out" / manifest.name
    for shot in manifest.shots:
        assert video.verify(folder / f"{shot.id}.mp4", shot.duration).codec == "h264"
    assert (folder / "report.html").exists()

    second = shots("run", str(EXAMPLE), "--out", "out", "--no-lock-file", "--json", cwd=tmp_path)
    assert second.returncode == 0
    again = json.loads(second.stdout)
    assert again["done"] == takes and again["creates"] == 0
    assert "Nothing to do" in second.stderr
    assert f"report: out/{manifest.name}/report.html (unchanged)" in second.stderr  # nothing new to show
