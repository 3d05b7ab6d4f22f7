"""The official MiniMax example client (shared/seed/minimax_video_example.py), unchanged but for
its host, runs end to end against the simulator and saves a playable H.264 video.

The seed copy lost its indentation, so `restore_indentation` puts it back: it changes leading
whitespace only, which the first test proves.
"""

from __future__ import annotations

import ast
import re
import runpy
import time
from pathlib import Path

import av
import pytest

SEED_NAME = "seed/minimax_video_example.py"
HOST = "https://api.minimax.io"


def seed_path() -> Path:
    here = Path(__file__).resolve()
    for shared in (here.parents[2] / "shared", Path("/work/shared")):  # shared/ sits beside the repo
        if (shared / SEED_NAME).is_file():
            return shared / SEED_NAME
    pytest.skip(f"{SEED_NAME} not found beside the repository")


_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_OPENERS = ("def ", "class ", "if ", "elif ", "else", "for ", "while ", "with ", "try", "except", "finally")
_ENDERS = ("return", "raise", "break", "continue")


def restore_indentation(source: str, indent: str = "    ") -> str:
    """Re-indent a flattened flat script (top-level defs, no nested defs or classes).

    A line ending in ':' that starts a block opens one; return/raise/break/continue close it;
    elif/else go back to their if; open brackets add a level; `def`, `class`, `if __name__`
    and '# ---' section comments start at column 0.
    """
    out, depth, brackets, open_ifs = [], 0, 0, []
    for line in source.splitlines():
        text = line.strip()
        code = _STRINGS.sub('""', text).split("#", 1)[0].rstrip()
        if not text:
            out.append("")
            continue
        if text.startswith(("def ", "class ", "if __name__", "# ---")):
            depth, open_ifs = 0, []
        if text.startswith(("elif ", "else")):
            depth = open_ifs.pop() if open_ifs else max(depth - 1, 0)
        closing = 1 if code and code[0] in ")]}" else 0
        out.append(indent * (depth + brackets - closing) + text)
        brackets += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        if brackets == 0 and code.endswith(":") and text.startswith(_OPENERS):
            if text.startswith(("if ", "elif ")):
                open_ifs.append(depth)
            depth += 1
        elif brackets == 0 and text.startswith(_ENDERS):
            depth = max(depth - 1, 0)
    return "\n".join(out) + "\n"


def test_restoring_changes_only_whitespace_and_gives_the_intended_structure():
    original = seed_path().read_text(encoding="utf-8")
    restored = restore_indentation(original)
    assert [line.strip() for line in restored.splitlines()] == [line.strip() for line in original.splitlines()]
    tree = ast.parse(restored)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert set(functions) == {"invoke_text_to_video", "invoke_image_to_video", "invoke_subject_reference",
                              "query_task_status", "fetch_video"}
    for name in ("invoke_text_to_video", "invoke_image_to_video", "invoke_subject_reference"):
        assert isinstance(functions[name].body[-1], ast.Return)
    poll = functions["query_task_status"].body[-1]
    assert isinstance(poll, ast.While) and isinstance(poll.body[-1], ast.If)  # the status check is in the loop
    assert isinstance(tree.body[-1], ast.If) and len(tree.body[-1].body) == 5  # the __main__ block


def load_seed(sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = restore_indentation(seed_path().read_text(encoding="utf-8"))
    assert script.count(HOST) == 5
    path = tmp_path / "minimax_video_example.py"
    path.write_text(script.replace(HOST, sim.base_url), encoding="utf-8")
    monkeypatch.setenv("MINIMAX_API_KEY", "sim-key")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.chdir(tmp_path)
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: real_sleep(min(seconds, 0.05)))  # it polls every 10 s
    return path


def assert_h264(path: Path, seconds: int) -> None:
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.duration / 1e6 == pytest.approx(seconds, abs=0.05)
        assert sum(1 for _ in container.decode(video=0)) > 0


def test_seed_example_runs_end_to_end(sim_factory, tmp_path, monkeypatch, capsys):
    sim = sim_factory(time_scale=0.001)
    script = load_seed(sim, tmp_path, monkeypatch)
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "Current task status: Success" in out and "Video successfully saved as output.mp4" in out
    assert_h264(tmp_path / "output.mp4", 6)
    stats = sim.stats()
    assert stats["requests"]["create"] == 1 and stats["tasks_created"] == 1
    assert stats["requests"]["retrieve"] == 1 and stats["requests"]["download"] == 1
    assert set(stats["answers"]) <= {"0", "http_200"}
    assert sim.tasks()[0]["resolution"] == "1080P"


@pytest.mark.parametrize("create", ["invoke_image_to_video", "invoke_subject_reference"])
def test_seed_other_modes_are_accepted(sim_factory, tmp_path, monkeypatch, create):
    sim = sim_factory(time_scale=0.001)
    seed = runpy.run_path(str(load_seed(sim, tmp_path, monkeypatch)))  # not __main__: call its functions
    task_id = seed[create]()
    seed["fetch_video"](seed["query_task_status"](task_id))
    assert_h264(tmp_path / "output.mp4", 6)
