"""The package layers and who may import whom (README, "Layout"), read from the source itself.

Every import counts, also one inside a function (a lazy import still loads the module when that
code runs); only imports under `if TYPE_CHECKING:` are free. A rule is checked on the closure:
what a module imports, what those import, and so on, so a forbidden module cannot come in
through a back door. One test also imports the review and manifest layers in a fresh interpreter
and looks at what got loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"
LAYERS = ("manifest", "minimax", "run", "review", "sim")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@lru_cache(maxsize=None)
def direct_imports(name: str) -> frozenset[str]:
    """Modules `name` imports (pipeline modules resolved to the module, others by their top name)."""
    modules = all_modules()
    tree = ast.parse(modules[name].read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking_only(node)
            for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name if alias.name.startswith("pipeline") else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.add("<relative import>")  # the rules read absolute names only: none allowed
        elif isinstance(node, ast.ImportFrom) and node.module:
            if not node.module.startswith("pipeline"):
                found.add(node.module.split(".")[0])
                continue
            found.add(node.module)
            for alias in node.names:  # `from pipeline.run import ledger` imports pipeline.run.ledger
                if f"{node.module}.{alias.name}" in modules:
                    found.add(f"{node.module}.{alias.name}")
    # Importing a.b.c runs a/__init__ and a/b/__init__ too.
    for imported in list(found):
        parts = imported.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules)
    return frozenset(found)


@lru_cache(maxsize=None)
def closure(name: str) -> frozenset[str]:
    seen, todo = set(), [name]
    modules = all_modules()
    while todo:
        current = todo.pop()
        for imported in direct_imports(current):
            if imported not in seen:
                seen.add(imported)
                if imported in modules:
                    todo.append(imported)
    return frozenset(seen)


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def in_layer(layer: str) -> list[str]:
    return [m for m in all_modules() if under(m, f"pipeline.{layer}")]


# (layer, forbidden, why): checked on every module of the layer, through everything it imports.
RULES = [
    ("review", ("httpx", "pipeline.run.runner", "pipeline.run.workflow", "pipeline.run.backend",
                "pipeline.minimax.client", "pipeline.sim"),
     "drawing what a run made needs no network client and no runner"),
    ("manifest", ("httpx", "pipeline.run", "pipeline.review", "pipeline.sim"),
     "checking a shot list is below running it"),
    ("minimax", ("pipeline.run", "pipeline.review", "pipeline.manifest", "pipeline.sim"),
     "what the API is does not depend on how we use it"),
    ("sim", ("pipeline.run", "pipeline.review", "pipeline.manifest"),
     "the simulator stands in for the API: it knows the API, never our client side"),
    ("run", ("pipeline.review",), "a run never waits on drawing its results"),
]
LEAVES = ("pipeline.completion", "pipeline.errors", "pipeline.files", "pipeline.gcpause", "pipeline.textlayout")


@pytest.mark.parametrize("layer, forbidden, why", RULES, ids=[r[0] for r in RULES])
def test_a_layer_never_imports_what_is_above_it(layer, forbidden, why):
    modules = in_layer(layer)
    assert modules, f"no modules in pipeline/{layer}/"
    broken = sorted(f"{m} -> {bad}" for m in modules for bad in forbidden
                    if any(under(imported, bad) for imported in closure(m)))
    assert not broken, f"{why}:\n" + "\n".join(broken)


def test_the_shared_leaves_import_no_layer():
    broken = sorted(f"{m} -> {i}" for m in LEAVES for i in closure(m) if i.startswith("pipeline."))
    assert not broken, broken


def test_no_relative_or_dynamic_imports():
    """What the rules cannot read: `from .x import y`, importlib.import_module, __import__."""
    broken = []
    for name, path in all_modules().items():
        if "<relative import>" in direct_imports(name):
            broken.append(f"{name}: relative import")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (
                    (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")):
                broken.append(f"{name}:{node.lineno}: dynamic import")
    assert not broken, broken


def test_nothing_imports_the_cli():
    broken = sorted(m for m in all_modules() if m not in ("pipeline.cli", "pipeline.__main__")
                    and "pipeline.cli" in direct_imports(m))
    assert not broken, broken


def test_the_layers_are_the_five_packages():
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(LAYERS)


@pytest.mark.parametrize("layer", ["manifest", "review"])
def test_loading_a_layer_loads_no_http_client(layer):
    """The closure above, seen from a real interpreter: nothing lazily imported at module level slips by."""
    imports = "; ".join(f"import {m}" for m in in_layer(layer))
    probe = f"import sys; {imports}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'httpx' " \
            f"or m in ('pipeline.run.runner', 'pipeline.run.workflow')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]"


def test_the_rules_would_catch_a_back_door(tmp_path, monkeypatch):
    """The checker itself: a review module that imports the runner through a helper is caught."""
    fake = tmp_path / "pipeline"
    for rel, text in {
        "__init__.py": "", "review/__init__.py": "", "run/__init__.py": "",
        "review/page.py": "def draw():\n    from pipeline.run import helper\n",
        "run/helper.py": "from pipeline.run.runner import Runner\n",
        "run/runner.py": "import httpx\nclass Runner: ...\n",
    }.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    direct_imports.cache_clear()
    closure.cache_clear()
    try:
        assert {"pipeline.run.helper", "pipeline.run.runner", "httpx"} <= closure("pipeline.review.page")
    finally:
        direct_imports.cache_clear()
        closure.cache_clear()
