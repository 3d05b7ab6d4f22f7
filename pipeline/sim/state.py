"""The simulator's tasks on disk, so that a simulator started later answers for them (SimConfig.state_dir).

    tasks.jsonl      one line per task, appended and fsynced before its create is answered
    images/<sha256>  the input images, once each however many tasks use them

A line holds everything a task is: its ids, its schedule on the absolute engine clock, the
checked request and what to render, so a video is rendered again, identically, by whichever
simulator is asked for it. The key is kept only as a hash. A line cut short by a crash is
skipped (that task was never answered). One simulator at a time uses a folder (a lock on
tasks.jsonl, released by the kernel when its process dies).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

from pipeline import files
from pipeline.errors import AbortError

try:
    import fcntl
except ImportError:  # not on POSIX: no lock, one simulator per folder is then up to the user
    fcntl = None  # type: ignore[assignment]

FORMAT_VERSION = 1
JOURNAL = "tasks.jsonl"
IMAGES = "images"


class StateDirError(AbortError, ValueError):
    """The state folder cannot be used: in use by another simulator, or not writable."""


def key_hash(key: str) -> str:
    return hashlib.sha256(f"minimax-sim-key:{key}".encode()).hexdigest()


class StateDir:
    """tasks.jsonl and the image blobs in one folder. `append` under the engine's lock, then `sync`."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.images = self.directory / IMAGES
        self.path = self.directory / JOURNAL
        self._lock = threading.Lock()
        try:
            self.images.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateDirError(f"cannot use the simulator state folder {self.directory}: "
                                f"{exc.strerror or exc}") from exc
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise StateDirError(f"the simulator state folder {self.directory} is in use by another "
                                        f"simulator; stop that one or give another folder") from None
            self._end_torn_line()
            files.fsync_dir(self.directory, strict=False)
        except BaseException:
            os.close(self._fd)
            raise

    def _end_torn_line(self) -> None:
        """A crash can leave a last line without its newline: end it, so the next task gets a line of its own."""
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            os.write(self._fd, b"\n")
            os.fsync(self._fd)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every complete, readable task line, in the order the tasks were made."""
        with open(self.path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("v") == FORMAT_VERSION:
                    yield record

    def append(self, record: dict[str, Any]) -> None:
        """One task line, written with a single append (call `sync` before answering the create)."""
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd < 0:
                raise RuntimeError("the simulator has stopped")
            os.write(self._fd, line)

    def sync(self) -> None:
        """Make every appended line durable. Concurrent creates fsync at once, each through its own
        descriptor, so one create's fsync does not hold up the others' appends."""
        with self._lock:
            if self._fd < 0:
                raise RuntimeError("the simulator has stopped")
            fd = os.dup(self._fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put_image(self, data: bytes) -> str:
        """Keep an image (durably) under its sha256; return that name."""
        name = hashlib.sha256(data).hexdigest()
        target = self.images / name
        if target.exists():
            return name
        fd, tmp = tempfile.mkstemp(prefix=f".{name[:16]}.", suffix=".part", dir=self.images)
        os.close(fd)  # a unique temporary name: two requests may send the same image at once
        with files.replacing(target, Path(tmp), durable=True) as part:
            part.write_bytes(data)
        return name

    def get_image(self, name: str) -> bytes | None:
        try:
            return (self.images / name).read_bytes()
        except OSError:
            return None

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)  # releases the folder's lock once no dup is left
                self._fd = -1
