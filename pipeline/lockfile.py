"""`<manifest>.lock.json`: what ran, per shot take, in a small deterministic file for git diffs.

The manifest is what the user declared; the lock is what ran (fingerprint, task id, file id,
video sha256). Sorted, no timestamps: a diff shows exactly which takes were regenerated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from pipeline.ledger import LedgerView
from pipeline.plan import TakeSpec

LOCK_VERSION = 1


def lock_path(manifest_path: Path) -> Path:
    return manifest_path.with_name(manifest_path.name + ".lock.json")


def lock_data(name: str, endpoint: str, specs: Iterable[TakeSpec], view: LedgerView) -> dict[str, Any]:
    """Pure: the lock document for these takes as the ledger knows them now."""
    takes: dict[str, Any] = {}
    for spec in specs:
        state = view.get(spec.shot.id, spec.take, spec.fingerprint)
        entry = {"fingerprint": spec.fingerprint, "state": state.state}
        for field in ("task_id", "file_id", "file", "sha256"):
            value = getattr(state, field)
            if value is not None:
                entry[field] = value
        takes[spec.shot.id if spec.take == 1 else f"{spec.shot.id}#take{spec.take}"] = entry
    return {"version": LOCK_VERSION, "name": name, "endpoint": endpoint, "takes": dict(sorted(takes.items()))}


def write_lock(path: Path, data: dict[str, Any]) -> bool:
    """Write atomically, and only when the content changed (no churn in git). True if written."""
    try:  # comparing values first: json's indented encoder is pure Python, 0.3 s for 10,000 takes
        if json.loads(path.read_bytes()) == data:
            return False
    except (OSError, ValueError):
        pass
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True
