"""Request counters for tests and benchmarks: per endpoint, per key, per answer, per fault."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

ENDPOINTS = ("create", "query", "retrieve", "retrieve_content", "download", "blob", "sim", "other",
             "image_generation", "image_download")


class Stats:
    """Thread-safe counters; `snapshot()` is the JSON of GET /_sim/stats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter({e: 0 for e in ENDPOINTS})
            self._by_key: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._answers: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._fingerprints: Counter[str] = Counter()
            self._tasks_created = 0
            self._image_generations = 0  # image generations answered (made and billed), any number of images
            self._images_billed: Counter[str] = Counter()  # key prefix -> images billed
            self._downloads_bytes = 0
            self._in_flight = 0
            self._peak_in_flight = 0

    def request(self, endpoint: str, key_prefix: str | None) -> None:
        with self._lock:
            self._requests[endpoint] += 1
            if key_prefix is not None:
                self._by_key[key_prefix][endpoint] += 1

    def started(self) -> None:
        """A request is being handled: the peak says how many a client had in flight at once."""
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def answer(self, http_status: int, code: int | None = None) -> None:
        with self._lock:
            self._answers[f"http_{http_status}"] += 1
            if code is not None:
                self._answers[str(code)] += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def task_created(self, fingerprint: str) -> None:
        with self._lock:
            self._tasks_created += 1
            self._fingerprints[fingerprint] += 1

    def images_made(self, key_prefix: str, billed: int) -> None:
        """An image request made its stills: `billed` images (withheld ones are not billed)."""
        with self._lock:
            self._image_generations += 1
            self._images_billed[key_prefix] += billed

    def sent(self, nbytes: int) -> None:
        with self._lock:
            self._downloads_bytes += nbytes

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._requests),
                "by_key": {k: dict(v) for k, v in sorted(self._by_key.items())},
                "answers": dict(sorted(self._answers.items())),
                "faults": dict(sorted(self._faults.items())),
                "tasks_created": self._tasks_created,
                "creates_by_fingerprint": dict(self._fingerprints),
                "image_generations": self._image_generations,
                "images_billed": sum(self._images_billed.values()),
                "images_billed_by_key": dict(sorted(self._images_billed.items())),
                "downloads_bytes": self._downloads_bytes,
                "peak_in_flight": self._peak_in_flight,
            }
