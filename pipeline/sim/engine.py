"""Task state: keys, create validation, the schedule, rate limits, files and download links.

Everything is a function of an injected clock `now()`: a task's whole schedule is drawn at
create time, so its status is computed from timestamps and nothing runs in the background.
With a concurrency cap, a key's tasks start Processing in creation order as slots free up.

With `state_dir`, every task is also written there (state.py) before its create is answered,
and an engine started later on the same folder loads them: their schedules are absolute times
on the clock, so they go on as if the simulator had never stopped. Ids are then drawn from
fresh randomness (and never one the folder holds), not from the seed, so that no two runs
hand out the same id.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pipeline.minimax.catalogue import MODELS, RESOLUTION_SIZES
from pipeline.minimax.images import ImageInfo
from pipeline.sim import codes
from pipeline.sim.codes import ApiError, invalid, missing, wrong_type
from pipeline.sim.config import RATE_WINDOW, SimConfig
from pipeline.sim.ratelimit import Limiter, make_limiter
from pipeline.sim.render import RenderSpec, VideoCache
from pipeline.sim.sizes import output_size
from pipeline.sim.state import FORMAT_VERSION, StateDir, key_hash
from pipeline.sim.validate import CreateSpec, ImageInput, fingerprint, parse_body, validate_create

PREPARING, QUEUEING, PROCESSING, SUCCESS, FAIL = "Preparing", "Queueing", "Processing", "Success", "Fail"


def redact(key: str) -> str:
    """A key as it may appear in stats and logs: its first 4 characters."""
    return key[:4] + "…"


@dataclass
class Task:
    task_id: str
    key: str
    fingerprint: str
    spec: CreateSpec
    created_at: float
    queued_at: float  # Preparing ends
    started_at: float  # Processing begins
    finished_at: float
    file_id: int
    fail_code: int | None
    video_width: int
    video_height: int
    render: RenderSpec

    def status(self, now: float) -> str:
        if now < self.queued_at:
            return PREPARING
        if now < self.started_at:
            return QUEUEING
        if now < self.finished_at:
            return PROCESSING
        return FAIL if self.fail_code else SUCCESS


@dataclass(frozen=True)
class Link:
    file_id: int
    expires_at: float


class LinkError(Exception):
    """A download URL that does not work: `status` is the HTTP status a CDN would answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Engine:
    """The simulated account state behind the HTTP server. Thread-safe."""

    def __init__(self, cfg: SimConfig, *, videos: VideoCache | None = None,
                 now: Callable[[], float] = time.time, roll: Callable[[str], bool] = lambda name: False) -> None:
        self.cfg = cfg
        self.videos = videos
        self.now = now
        self._roll = roll  # fault dice: roll("fail_1027") -> bool, counted by the caller
        self._lock = threading.Lock()
        self._timing = random.Random(f"{cfg.seed}:timing")
        self._tasks: dict[str, Task] = {}
        self._files: dict[int, Task] = {}
        self._links: dict[str, Link] = {}
        self._slots: dict[str, list[float]] = {}  # key -> heap of times a Processing slot frees
        self._repeats: dict[tuple[str, str], int] = {}  # (key, body fingerprint) -> creates of it
        self._limiters: dict[str, Limiter] = {}
        self._valid = frozenset(cfg.keys) | frozenset(cfg.no_balance_keys)
        self._state: StateDir | None = None
        if cfg.state_dir is None:
            self._ids = random.Random(f"{cfg.seed}:ids")  # the same ids for the same seed
        else:
            self._ids = random.Random(secrets.randbits(128))  # unique across runs on one folder
            self._state = StateDir(cfg.state_dir)
            try:
                self._load()
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Release the state folder (a no-op without one). Creates after this fail."""
        with self._lock:
            if self._state is not None:
                self._state.close()

    # --- auth and limits -------------------------------------------------------------------

    def authenticate(self, key: str | None) -> str:
        """The key if it may use the API; 1004 (missing or unknown) or 2049 (other region)."""
        if not key:
            raise ApiError(codes.AUTH_FAILED, codes.MISSING_KEY)
        if key in self.cfg.other_region_keys:
            raise ApiError(codes.INVALID_KEY)
        if key not in self._valid:
            raise ApiError(codes.AUTH_FAILED, codes.UNKNOWN_KEY)
        return key

    def _limiter(self, key: str) -> Limiter | None:
        if self.cfg.rpm is None:
            return None
        if key not in self._limiters:
            window = self.cfg.scaled(RATE_WINDOW)
            self._limiters[key] = make_limiter(self.cfg.rate_limiter, self.cfg.rpm, window)
        return self._limiters[key]

    def _admit(self, key: str, now: float) -> None:
        """Spend one request of the key's budget, or 1002 (spending nothing). Call under the lock."""
        limiter = self._limiter(key)
        if limiter is None:
            return
        if not limiter.allow(now):
            raise ApiError(codes.RATE_LIMITED)
        limiter.take(now)

    def _admit_read(self, key: str) -> None:
        if self.cfg.rate_limit_queries:
            with self._lock:
                self._admit(key, self.now())

    # --- create ----------------------------------------------------------------------------

    def create(self, key: str | None, raw: bytes, *, shot: str | None = None, take: str | None = None) -> Task:
        """Make a task from a create body, or raise the ApiError the API would answer.

        `shot` and `take` are hints a client may give the simulator (never the API: server.py
        reads them from the X-Shots-Shot and X-Shots-Take headers) to label its previz and pick
        its variation; they change nothing else. Without them the label comes from the prompt,
        and the take is how many times this key has made this same request (see _render_spec)."""
        key = self.authenticate(key)
        if key in self.cfg.no_balance_keys:
            raise ApiError(codes.NO_BALANCE)
        body = parse_body(raw)
        spec = validate_create(body)
        lowered = spec.prompt.lower()
        if any(word.lower() in lowered for word in self.cfg.sensitive_words if word):
            raise ApiError(codes.INPUT_SENSITIVE)
        width, height = video_size(spec)
        body_hash = fingerprint(body)
        images = self._keep_images(spec) if self._state is not None else None
        with self._lock:
            now = self.now()
            self._admit(key, now)
            repeat = self._repeats[(key, body_hash)] = self._repeats.get((key, body_hash), 0) + 1
            render = self._render_spec(spec, width, height, body_hash, _shot_hint(shot), _take_hint(take), repeat)
            queued_at, started_at, finished_at = self._schedule(key, now)
            task = Task(
                task_id=self._new_task_id(), key=key, fingerprint=body_hash, spec=spec,
                created_at=now, queued_at=queued_at, started_at=started_at, finished_at=finished_at,
                file_id=self._new_file_id(),
                fail_code=codes.OUTPUT_SENSITIVE if self._roll("fail_1027") else None,
                video_width=width, video_height=height, render=render,
            )
            if self._state is not None:
                self._state.append(_record(task, images))  # in creation order, as _load replays it
            self._tasks[task.task_id] = task
            self._files[task.file_id] = task
        if self._state is not None:
            self._state.sync()  # durable before the answer: a task the client hears of is never lost
        return task

    def _render_spec(self, spec: CreateSpec, width: int, height: int, body_hash: str, shot: str | None,
                     take: int | None, repeat: int) -> RenderSpec:
        """What the task's video shows. Takes of one shot are separate, identical requests: the
        API is told nothing that tells them apart. A client's X-Shots-Take says which take this
        is; without it, the n-th create of the same body by the same key is take n, which holds
        on a resumed simulator too (_load counts the tasks it reads back) and is deterministic for
        a given sequence of requests (two identical creates in flight at once may trade numbers,
        never share one). Task ids cannot serve: with a state folder they are fresh randomness.
        The variation is seeded by the simulator's seed and the request, so the same take of the
        same request looks the same on every run, and another request's take 2 plays differently."""
        number = take or repeat
        w, h = self.cfg.previz_size(width, height)
        fps = self.cfg.render_fps
        return RenderSpec(
            spec.mode, spec.prompt, w, h, fps=fps, frames=spec.duration * fps,
            camera=spec.mode in MODELS[spec.model].honours_camera,
            first=_source(spec.first_frame), last=_source(spec.last_frame), subject=_source(spec.subject),
            take=number, seed=variation_seed(self.cfg.seed, body_hash),
            label=take_label(shot, number, take is not None, spec),
        )

    def _schedule(self, key: str, now: float) -> tuple[float, float, float]:
        """(Preparing ends, Processing starts, task ends), all drawn now."""
        cfg, draw = self.cfg, self._timing.uniform
        queued_at = now + cfg.scaled(draw(*cfg.preparing))
        ready = queued_at + cfg.scaled(draw(*cfg.queueing))
        processing = cfg.scaled(draw(*cfg.processing))
        start = ready
        if cfg.concurrency is not None:
            slots = self._slots.setdefault(key, [])
            if len(slots) >= cfg.concurrency:
                start = max(ready, heapq.heappop(slots))
            heapq.heappush(slots, start + processing)
        return queued_at, start, start + processing

    # --- the state folder ------------------------------------------------------------------

    def _keep_images(self, spec: CreateSpec) -> dict[str, dict[str, Any]]:
        """The task's input images stored in the state folder, as the record names them."""
        out = {}
        for name, image in (("first", spec.first_frame), ("last", spec.last_frame), ("subject", spec.subject)):
            if image is None:
                continue
            entry: dict[str, Any] = {"field": image.field}
            if image.data is not None:
                entry["sha256"] = self._state.put_image(image.data)
            else:
                entry["url"] = image.url
            if image.info is not None:
                i = image.info
                entry["info"] = [i.format, i.width, i.height, i.size]
            out[name] = entry
        return out

    def _load(self) -> None:
        """Every task of the state folder, with the slots and request budget they took."""
        keys = {key_hash(k): k for k in (*self.cfg.keys, *self.cfg.no_balance_keys, *self.cfg.other_region_keys)}
        blobs: dict[str, bytes | None] = {}
        for record in self._state.records():
            try:
                task = _task(record, keys, blobs, self._state)
            except (KeyError, TypeError, ValueError):
                continue  # not a line this version wrote
            if task.task_id in self._tasks or task.file_id in self._files:
                continue
            self._tasks[task.task_id] = task
            self._files[task.file_id] = task
            same = (task.key, task.fingerprint)
            self._repeats[same] = self._repeats.get(same, 0) + 1
            if self.cfg.concurrency is not None:
                slots = self._slots.setdefault(task.key, [])
                if len(slots) >= self.cfg.concurrency:
                    heapq.heappop(slots)
                heapq.heappush(slots, task.finished_at)
            limiter = self._limiter(task.key)
            if limiter is not None:
                limiter.take(task.created_at)

    def _new_task_id(self) -> str:
        while True:
            task_id = str(self._ids.randrange(10**14, 10**18))  # 15 to 18 digits
            if task_id not in self._tasks:
                return task_id

    def _new_file_id(self) -> int:
        while True:
            file_id = self._ids.randrange(10**14, 10**15)
            if file_id not in self._files:
                return file_id

    # --- query, files, downloads -----------------------------------------------------------

    def query(self, key: str | None, task_id: str | None) -> dict[str, Any]:
        """The query answer for one task of this key."""
        key = self.authenticate(key)
        self._admit_read(key)
        if not task_id:
            raise missing("task_id")
        task = self._tasks.get(task_id)
        if task is None or task.key != key:
            raise invalid(f"task_id {task_id} not found")  # unknown, or another key's: the API tells no more
        status = task.status(self.now())
        answer: dict[str, Any] = {"task_id": task.task_id, "status": status}
        if status == SUCCESS:
            answer.update(file_id=str(task.file_id), video_width=task.video_width, video_height=task.video_height)
            answer["base_resp"] = codes.base_resp()
        elif status == FAIL:
            answer["base_resp"] = codes.base_resp(task.fail_code)
        else:
            answer["base_resp"] = codes.base_resp()
        return answer

    def _owned_file(self, key: str | None, file_id: str | None) -> Task:
        key = self.authenticate(key)
        self._admit_read(key)
        if file_id is None or file_id == "":
            raise missing("file_id")
        if not file_id.isascii() or not file_id.isdigit():
            raise wrong_type("file_id", "integer")
        task = self._files.get(int(file_id))
        if task is None or task.key != key or task.status(self.now()) != SUCCESS:
            raise invalid(f"file_id {file_id} not found")
        return task

    def retrieve(self, key: str | None, file_id: str | None, base_url: str) -> dict[str, Any]:
        """The files/retrieve answer, with a fresh download URL."""
        task = self._owned_file(key, file_id)
        size = self.video_path(task).stat().st_size
        token = secrets.token_urlsafe(18)
        now = self.now()
        expires_at = now - 1 if self._roll("expire_url") else now + self.cfg.scaled(self.cfg.url_ttl)
        with self._lock:
            self._links[token] = Link(task.file_id, expires_at)
        return {
            "file": {
                "file_id": task.file_id,
                "bytes": size,
                "created_at": int(task.finished_at),
                "filename": "output_aigc.mp4",
                "purpose": "video_generation",
                "download_url": f"{base_url}/download/{token}?expires={int(expires_at)}",
            },
            "base_resp": codes.base_resp(),
        }

    def content(self, key: str | None, file_id: str | None) -> Path:
        """The video file behind files/retrieve_content."""
        return self.video_path(self._owned_file(key, file_id))

    def download(self, token: str) -> Path:
        """The video a download URL points to; LinkError 404 (unknown) or 403 (expired)."""
        link = self._links.get(token)
        if link is None:
            raise LinkError(404, "Not Found")
        if self.now() >= link.expires_at:
            raise LinkError(403, "Request has expired")
        return self.video_path(self._files[link.file_id])

    def video_path(self, task: Task) -> Path:
        if self.videos is None:
            raise RuntimeError("this engine has no video cache")
        return self.videos.path(str(task.file_id), task.render)

    # --- introspection ---------------------------------------------------------------------

    def tasks(self) -> list[dict[str, Any]]:
        """Every task, in creation order, for tests and benchmarks (keys redacted)."""
        now = self.now()
        with self._lock:
            tasks = list(self._tasks.values())
        out = []
        for t in tasks:
            status = t.status(now)
            out.append({
                "task_id": t.task_id, "key": redact(t.key), "fingerprint": t.fingerprint,
                "model": t.spec.model, "mode": t.spec.mode, "duration": t.spec.duration,
                "resolution": t.spec.resolution, "status": status,
                "created_at": t.created_at, "started_at": t.started_at, "finished_at": t.finished_at,
                "file_id": str(t.file_id),  # the API reveals it only on Success; this view always does
                "fail_code": t.fail_code,
                "take": t.render.take, "label": t.render.label,  # the previz's (see _render_spec)
            })
        return out


def video_size(spec: CreateSpec) -> tuple[int, int]:
    """The size the query reports: the resolution's, or for I2V/FL2V its height at the first frame's aspect."""
    width, height = RESOLUTION_SIZES[spec.resolution]
    if spec.mode in ("image_to_video", "first_last_frame"):
        image = spec.first_frame or spec.last_frame
        if image is not None and image.info is not None:
            width = max(2, round(height * image.info.width / image.info.height / 2) * 2)
    return width, height


def _record(task: Task, images: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """A task as one line of the state folder (the key as a hash, images by their sha256)."""
    spec, render = task.spec, task.render
    return {
        "v": FORMAT_VERSION, "task_id": task.task_id, "key": key_hash(task.key), "fp": task.fingerprint,
        "model": spec.model, "mode": spec.mode, "duration": spec.duration, "resolution": spec.resolution,
        "prompt": spec.prompt, "images": images or {},
        "created_at": task.created_at, "queued_at": task.queued_at, "started_at": task.started_at,
        "finished_at": task.finished_at, "file_id": task.file_id, "fail_code": task.fail_code,
        "video_width": task.video_width, "video_height": task.video_height,
        "render": {"width": render.width, "height": render.height, "fps": render.fps, "frames": render.frames,
                   "camera": render.camera, "take": render.take, "seed": render.seed, "label": render.label},
    }


def _task(r: dict[str, Any], keys: dict[str, str], blobs: dict[str, bytes | None], state: StateDir) -> Task:
    """A task from its line; images are read once each however many tasks share them."""
    inputs: dict[str, ImageInput] = {}
    for name, entry in r["images"].items():
        info = ImageInfo(*entry["info"]) if entry.get("info") else None
        if "sha256" in entry:
            sha = entry["sha256"]
            if sha not in blobs:
                blobs[sha] = state.get_image(sha)
            data = blobs[sha]
            # An image deleted from the folder is drawn as a card that says so.
            url = None if data is not None else "(the simulator's copy of this image was deleted)"
            inputs[name] = ImageInput(entry["field"], url=url, data=data, info=info)
        else:
            inputs[name] = ImageInput(entry["field"], url=entry["url"], info=info)
    spec = CreateSpec(r["model"], r["mode"], int(r["duration"]), r["resolution"], r["prompt"],
                      inputs.get("first"), inputs.get("last"), inputs.get("subject"))
    rr = r["render"]
    fps = int(rr["fps"])
    if "width" in rr:
        width, height, frames = int(rr["width"]), int(rr["height"]), int(rr["frames"])
    else:  # written before previz sizes and takes: the size from the height, the prompt as written
        width, height = output_size(int(r["video_width"]), int(r["video_height"]), int(rr["height"]))
        frames = spec.duration * fps
    render = RenderSpec(
        spec.mode, spec.prompt, width, height, fps=fps, frames=frames, camera=bool(rr["camera"]),
        first=_source(spec.first_frame), last=_source(spec.last_frame), subject=_source(spec.subject),
        take=int(rr.get("take", 1)), seed=int(rr.get("seed", 0)), label=str(rr.get("label", "")),
    )
    fail_code = r["fail_code"]
    return Task(
        task_id=str(r["task_id"]), key=keys.get(r["key"], f"unknown-key:{r['key']}"), fingerprint=r["fp"],
        spec=spec, created_at=float(r["created_at"]), queued_at=float(r["queued_at"]),
        started_at=float(r["started_at"]), finished_at=float(r["finished_at"]), file_id=int(r["file_id"]),
        fail_code=None if fail_code is None else int(fail_code),
        video_width=int(r["video_width"]), video_height=int(r["video_height"]), render=render,
    )


def variation_seed(seed: int, body_hash: str) -> int:
    """The seed of a request's takes: the simulator's seed and the request, nothing else."""
    return int(hashlib.sha256(f"{seed}:{body_hash}".encode()).hexdigest()[:12], 16)


LABEL_WORDS = 28  # characters of the prompt a label without a shot id shows
_BRACKETS = re.compile(r"\[[^\[\]]*\]")  # camera commands: not words of the label
SHOT_HINT = 48  # characters of an X-Shots-Shot header kept


def take_label(shot: str | None, take: int, told: bool, spec: CreateSpec) -> str:
    """What the previz's corner says: "s02-keeper · take 2" when the client said which shot and
    take; else the prompt's first words (or the mode) and "#n", the n-th time it was asked for."""
    if shot:
        return f"{shot} · take {take}" if told else f"{shot} · #{take}"
    words = " ".join(_BRACKETS.sub(" ", spec.prompt).split()) or spec.mode.replace("_", " ")
    if len(words) > LABEL_WORDS:
        words = words[:LABEL_WORDS].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return f"{words} · take {take}" if told else f"{words} · #{take}"


def _shot_hint(value: str | None) -> str | None:
    """An X-Shots-Shot header as a label: printable, trimmed, at most SHOT_HINT characters."""
    if not value:
        return None
    text = "".join(c for c in value if c.isprintable()).strip()[:SHOT_HINT]
    return text or None


def _take_hint(value: str | None) -> int | None:
    """An X-Shots-Take header as a take number (1-9999), None if absent or not one."""
    if value is None or not value.strip().isdigit():
        return None
    number = int(value.strip())
    return number if 1 <= number <= 9999 else None


def _source(image: ImageInput | None) -> bytes | str | None:
    if image is None:
        return None
    return image.data if image.data is not None else image.url
