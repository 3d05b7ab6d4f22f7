"""v2 tasks on disk: `<state_dir>/v2/`, a StateDir of its own (state.py), so the v1 loader never
sees a v2 line and the two journals lock separately.

    tasks.jsonl  {"kind": "task", ...} one per create, then {"kind": "cancel"|"delete", "task_id", "at"}
    images/      the input images the previz draws (first, last, first reference), by sha256

Every line is appended and fsynced before its answer goes out. The key is kept only as a hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.sim.state import FORMAT_VERSION, StateDir, key_hash
from pipeline.sim.v2render import Previz
from pipeline.sim.v2task import V2Task

SUBFOLDER = "v2"
SOURCES = ("first", "last", "subject")


def open_state(state_dir: str | Path) -> StateDir:
    return StateDir(Path(state_dir) / SUBFOLDER)


def keep_images(previz: Previz, state: StateDir) -> dict[str, dict[str, str]]:
    """The previz's sources as a line names them; image bytes go (durably) to the folder's blobs."""
    out = {}
    for name in SOURCES:
        source = getattr(previz, name)
        if isinstance(source, bytes):
            out[name] = {"sha256": state.put_image(source)}
        elif source is not None:
            out[name] = {"url": source}
    return out


def task_record(task: V2Task, sources: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A task as one line (`sources` from keep_images)."""
    p = task.previz
    previz = {"mode": p.mode, "prompt": p.prompt, "width": p.width, "height": p.height, "frames": p.frames,
              "take": p.take, "seed": p.seed, "label": p.label, **sources}
    return {
        "v": FORMAT_VERSION, "kind": "task", "task_id": task.task_id, "key": key_hash(task.key),
        "fp": task.fingerprint, "model": task.model, "resolution": task.resolution, "duration": task.duration,
        "ratio": task.ratio, "task_type": task.task_type, "created_at": task.created_at,
        "ready_at": task.ready_at, "run_seconds": task.run_seconds,
        "error": list(task.error) if task.error else None, "usage": task.usage, "previz": previz,
        "modality": task.modality, "text": task.text,
    }


def event_record(kind: str, task_id: str, at: float) -> dict[str, Any]:
    return {"v": FORMAT_VERSION, "kind": kind, "task_id": task_id, "at": at}


def task_from(r: dict[str, Any], keys: dict[str, str], state: StateDir) -> V2Task:
    """A task from its line (KeyError/TypeError/ValueError for a line this version did not write)."""
    p = r["previz"]
    sources: dict[str, bytes | str | None] = {}
    for name in SOURCES:
        entry = p.get(name)
        if entry is None:
            sources[name] = None
        elif "sha256" in entry:
            data = state.get_image(entry["sha256"])
            sources[name] = data if data is not None else "(the simulator's copy of this image was deleted)"
        else:
            sources[name] = str(entry["url"])
    previz = Previz(str(p["mode"]), str(p["prompt"]), int(p["width"]), int(p["height"]), int(p["frames"]), **sources,
                    take=int(p["take"]), seed=int(p["seed"]), label=str(p["label"]))
    error = r["error"]
    return V2Task(
        task_id=str(r["task_id"]), key=keys.get(r["key"], f"unknown-key:{r['key']}"), fingerprint=str(r["fp"]),
        model=str(r["model"]), resolution=str(r["resolution"]), duration=int(r["duration"]), ratio=str(r["ratio"]),
        created_at=float(r["created_at"]), ready_at=float(r["ready_at"]), run_seconds=float(r["run_seconds"]),
        error=None if error is None else (str(error[0]), str(error[1])),
        usage={str(k): int(v) for k, v in r["usage"].items()}, previz=previz, task_type=str(r["task_type"]),
        modality=str(r["modality"]), text=None if r["text"] is None else str(r["text"]),
    )
