"""The invalid-manifest corpus: each file breaks one rule and names its first error line.

A file's first line is `# expect: {file}:LINE:COL: message`, or a sidecar FILE.expect holds
that line (binary and empty files). `{file}` is the path as given to check().
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.manifest.checker import ManifestError, check, load

CORPUS = Path(__file__).parent / "manifests" / "invalid"
CASES = sorted(p for p in CORPUS.glob("*.yaml"))


def expected_first_error(path: Path) -> str:
    sidecar = path.with_name(path.name + ".expect")
    if sidecar.exists():
        line = sidecar.read_text(encoding="utf-8").splitlines()[0]
    else:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# expect: "), f"{path.name} does not declare its expected error"
        line = first.removeprefix("# expect: ")
    return line.replace("{file}", str(path))


def test_corpus_is_big_enough():
    assert len(CASES) >= 50


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_first_error(path: Path):
    problems = check(path)
    errors = [p for p in problems if p.severity == "error"]
    assert errors, f"{path.name} passed, but it should fail"
    assert str(errors[0]) == expected_first_error(path)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_load_raises_with_every_problem(path: Path):
    with pytest.raises(ManifestError) as caught:
        load(path)
    err = caught.value
    assert err.problems == check(path)
    first = str([p for p in err.problems if p.severity == "error"][0])
    assert str(err).startswith(first)
    more = len(err.problems) - 1
    assert str(err).endswith(f"({more} more problem{'s' if more > 1 else ''})" if more else first)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_each_file_breaks_one_rule_without_cascades(path: Path):
    """One problem per file: a broken field is reported once, and rules that depend on it stay quiet."""
    assert len(check(path)) == 1, "\n".join(str(p) for p in check(path))
