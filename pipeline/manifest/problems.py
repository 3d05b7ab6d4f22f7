"""The problems one check finds, each placed at FILE:LINE:COL and named by its shot and field."""

from __future__ import annotations

from typing import Any, Iterable

from pipeline.manifest.models import Problem, Severity
from pipeline.manifest.yamlpos import Positions, clip


class Problems:
    """Collects one check's problems. Placing one by a JSON path needs the document: `read` it first."""

    def __init__(self, file: str):
        self.file = file
        self.found: list[Problem] = []
        self.data: Any = None  # the document as read: it names the shots
        self.pos: Positions | None = None

    def read(self, data: Any, pos: Positions) -> None:
        self.data, self.pos = data, pos

    def where(self, path: tuple) -> tuple[str | None, str | None]:
        """(shot id, field path) for a JSON path, for the message prefix."""
        if len(path) >= 2 and path[0] == "shots" and isinstance(path[1], int):
            shot = self._shot_id(path[1])
            if shot is not None:
                return shot, dotted(path[2:]) or None
        return None, dotted(path) or None

    def _shot_id(self, index: int) -> str | None:
        shots = self.data.get("shots") if isinstance(self.data, dict) else None
        if isinstance(shots, list) and 0 <= index < len(shots) and isinstance(shots[index], dict):
            sid = shots[index].get("id")
            if isinstance(sid, str) and sid:
                return sid
        return None

    def add(self, line: int, col: int, message: str, severity: Severity = "error",
            shot: str | None = None, field: str | None = None) -> None:
        self.found.append(Problem(self.file, line, col, message, severity, shot, field))

    def at_value(self, path: tuple, message: str, severity: Severity = "error", report_as: tuple | None = None):
        """A problem where the value at `path` starts, named by `report_as` (else `path`)."""
        line, col = self.pos.value(path)
        shot, field = self.where(report_as if report_as is not None else path)
        self.add(line, col, message, severity, shot, field)

    def at_key(self, path: tuple, message: str, severity: Severity = "error", report_as: tuple | None = None):
        """A problem where the key of the entry at `path` starts."""
        line, col = self.pos.key(path)
        shot, field = self.where(report_as if report_as is not None else path)
        self.add(line, col, message, severity, shot, field)

    def in_order(self) -> list[Problem]:
        """Every problem by position, errors before warnings at one place (else in the order found)."""
        self.found.sort(key=lambda p: (p.line, p.col, p.severity != "error"))
        return self.found

    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.found)


def dotted(path: Iterable) -> str:
    """A JSON path as a field name: 'shots[2].prompt', 'prices.S2V-01'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{clip(part)}" if out else clip(str(part)))
    return out
