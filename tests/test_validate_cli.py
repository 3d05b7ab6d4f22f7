"""`python -m pipeline validate`: problems on stderr, one per line; exit 2 on any error, else 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "manifests" / "invalid"
INVALID = ["top-version-2.yaml", "cat-1080p-10s.yaml", "img-symlink-outside.yaml"]


def expected_first_error(path: Path) -> str:
    """The corpus file's declared first error (see test_manifest_corpus.py)."""
    first = (ROOT / path).read_text(encoding="utf-8").splitlines()[0]
    return first.removeprefix("# expect: ").replace("{file}", str(path))


def validate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "validate", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("name", INVALID)
def test_invalid_file_exits_2_with_its_first_error(name):
    path = str(CORPUS.relative_to(ROOT) / name)
    done = validate(path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[0] == expected_first_error(Path(path))


@pytest.mark.parametrize("name", ["example.yaml", "minimal.yaml", "h3.yaml"])
def test_examples_exit_0(name):
    done = validate(f"manifests/{name}")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_json_lists_every_file():
    good, bad = "manifests/minimal.yaml", str(CORPUS.relative_to(ROOT) / INVALID[0])
    done = validate("--json", good, bad)
    assert done.returncode == 2
    files = json.loads(done.stdout)["files"]
    assert [(f["file"], f["valid"]) for f in files] == [(good, True), (bad, False)]
    assert files[1]["problems"][0]["text"] == expected_first_error(Path(bad))
