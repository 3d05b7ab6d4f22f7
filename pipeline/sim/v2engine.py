"""v2 (MiniMax-H3) account state behind the HTTP server: the three creates (video generation,
2K regeneration, Context-IR), query, list, cancel/delete, and the signed content URLs.

Like the v1 engine, everything is a function of the injected clock: a task's queue phase and run
length are drawn at create, and its status follows from timestamps. The CONN cap is per key:
in "queue" mode a key's tasks take running slots first come (by the end of their queue phase),
first served, and a task waiting for a slot stays `queued`; a cancel frees its place at once. That
schedule is worked out again from the key's tasks whenever one is made or cancelled, which never
changes what already happened (a task only ever yields a slot it has not taken yet).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import random
import secrets
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pipeline.sim import v2codes
from pipeline.sim.codes import INVALID_KEY, ApiError
from pipeline.sim.config import SimConfig
from pipeline.sim.engine import LinkError, _shot_hint, _take_hint, redact, take_label, variation_seed
from pipeline.sim.state import StateDir, key_hash
from pipeline.sim.v2codes import V2Error, bad_request
from pipeline.sim.v2config import V2Config
from pipeline.sim.v2render import Previz, VideoFiles, frame_count, nominal_size, snap_ratio
from pipeline.sim.v2state import event_record, keep_images, open_state, task_from, task_record
from pipeline.sim.v2regen import enhanced_prompt, validate_context_ir, validate_regeneration
from pipeline.sim.v2task import (FAILED, QUEUED, RUNNING, STATUSES, SUCCEEDED, TASK_TYPES, TOKENS_PER_SECOND, V2Task,
                                 usage_for)
from pipeline.sim.v2validate import V2Spec, parse_body, validate_v2
from pipeline.sim.validate import fingerprint

DEFAULT_PAGE_SIZE = 20
FALLBACK_RATIO = "16:9"  # adaptive, and nothing to take a ratio from (an image behind a URL)
CONTENT_PREFIX = "/inference_output/"


class V2Engine:
    """The simulated v2 account state. Thread-safe."""

    def __init__(self, cfg: SimConfig, v2: V2Config, *, authenticate: Callable[[str | None], str],
                 videos: VideoFiles | None = None, now: Callable[[], float] = time.time,
                 roll: Callable[[str], bool] = lambda name: False) -> None:
        """`authenticate`: the v1 engine's (same keys, same 1004/2049 answers); `roll`: v2 fault dice."""
        self.cfg, self.v2 = cfg, v2
        self.videos, self.now = videos, now
        self._authenticate, self._roll = authenticate, roll
        self._lock = threading.Lock()
        self._timing = random.Random(f"{cfg.seed}:v2timing")
        self._secret = secrets.token_bytes(16)  # signs content URLs; a new simulator's URLs differ
        self._tasks: dict[str, V2Task] = {}
        self._by_key: dict[str, list[V2Task]] = {}
        self._starts: dict[str, dict[str, float]] = {}  # key -> task_id -> when it takes a slot
        self._repeats: dict[tuple[str, str], int] = {}  # (key, fingerprint) -> creates so far: the take
        self._state: StateDir | None = None
        if cfg.state_dir is None:
            self._ids = random.Random(f"{cfg.seed}:v2ids")
        else:
            self._ids = random.Random(secrets.randbits(128))
            self._state = open_state(cfg.state_dir)
            try:
                self._load()
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        with self._lock:
            if self._state is not None:
                self._state.close()

    # --- auth ------------------------------------------------------------------------------

    def authenticate(self, key: str | None) -> str:
        """The key, or the 401 the v1 engine's rule gives (a Token-Plan key is a valid key)."""
        if key and key in self.v2.token_plan_keys:
            return key
        try:
            return self._authenticate(key)
        except ApiError as exc:
            if exc.code == INVALID_KEY:
                raise v2codes.other_region() from None
            raise (v2codes.unknown_key() if key else v2codes.missing_key()) from None

    # --- create ----------------------------------------------------------------------------

    def create(self, key: str | None, raw: bytes, *, shot: str | None = None, take: str | None = None) -> V2Task:
        """POST /v2/video_generation: a task, or the V2Error the API would answer. `shot` and `take`
        are the X-Shots-Shot/-Take hints, used as v1 uses them: for the previz's label and take."""
        key, body = self._begin(key, raw)
        spec = validate_v2(body, self.v2)
        self._check_words(spec.prompt)
        ratio, previz = self._picture(spec)
        return self._make(key, body, spec.model, spec.resolution, spec.duration, ratio, previz, usage_for(spec),
                          self._media_error(spec), shot=shot, take=take)

    def create_context_ir(self, key: str | None, raw: bytes, *, shot: str | None = None,
                          take: str | None = None) -> V2Task:
        """POST /v2/h3_context_ir: a text task whose content is an enhanced prompt (A11); no video."""
        key, body = self._begin(key, raw)
        spec = validate_context_ir(body, self.v2)
        self._check_words(spec.prompt)
        ratio, previz = self._picture(replace(spec, resolution="768P"))  # the ratio; nothing is drawn
        usage = {k: v for k, v in usage_for(replace(spec, resolution="768P")).items() if k.endswith("tokens")}
        text = enhanced_prompt(spec, ratio)
        usage["completion_tokens"] = len(text) // 2
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return self._make(key, body, spec.model, "", spec.duration, ratio, previz, usage, self._media_error(spec),
                          shot=shot, take=take, task_type="h3_context_ir", modality="text", text=text)

    def create_regeneration(self, key: str | None, raw: bytes, *, shot: str | None = None,
                            take: str | None = None) -> V2Task:
        """POST /v2/video_regeneration: a 2K video from a succeeded task, or from the inputs and a base_video."""
        key, body = self._begin(key, raw)
        regen = validate_regeneration(body, self.v2, self.videos.size if self.videos is not None else None)
        if regen.source_task_id is not None:
            source = self._regeneration_source(key, regen.source_task_id)
            previz = replace(source.previz, **dict(zip(("width", "height"), nominal_size("2K", source.ratio))))
            usage = dict(source.usage)  # the original inputs are billed again
            per_second = TOKENS_PER_SECOND["2K"]
            usage.update(completion_tokens=per_second * source.duration,
                         total_tokens=usage.get("prompt_tokens", 0) + per_second * source.duration)
            return self._make(key, body, source.model, "2K", source.duration, "", previz, usage, None,
                              shot=shot, take=take, task_type="regeneration")
        spec, base = regen.spec, regen.base
        self._check_words(spec.prompt)
        ratio = FALLBACK_RATIO
        if base.media is not None and base.media.width and base.media.height:
            ratio = snap_ratio(base.media.width, base.media.height)
        _, previz = self._picture(replace(spec, ratio=ratio))
        previz = replace(previz, **dict(zip(("width", "height"), nominal_size("2K", ratio))))
        error = self._media_error(replace(spec, inputs=(*spec.inputs, base)))
        return self._make(key, body, spec.model, "2K", spec.duration, "", previz, usage_for(spec), error,
                          shot=shot, take=take, task_type="regeneration")

    def _begin(self, key: str | None, raw: bytes) -> tuple[str, dict[str, Any]]:
        """What every create checks first: the key (401), the balance (402), JSON, the plan (400)."""
        key = self.authenticate(key)
        if key in self.cfg.no_balance_keys:
            raise v2codes.no_balance()
        body = parse_body(raw)
        if key in self.v2.token_plan_keys:
            raise v2codes.token_plan()
        return key, body

    def _check_words(self, prompt: str) -> None:
        """Rule 12: a sensitive prompt is a 422 (SimConfig.sensitive_words, as on v1)."""
        lowered = prompt.lower()
        if any(word.lower() in lowered for word in self.cfg.sensitive_words if word):
            raise v2codes.sensitive()

    def _regeneration_source(self, key: str, task_id: str) -> V2Task:
        """A succeeded generation task of this key inside the window (A11), if the account may ask."""
        if not self.v2.regeneration_whitelist:
            raise bad_request("source_task_id needs whitelist access; send content with the original inputs "
                              "and a base_video instead")
        with self._lock:
            try:
                task, status, _ = self._seen(key, task_id, self.now())
            except V2Error:
                task, status = None, None
        if task is None or task.task_type != "generation" or status != SUCCEEDED:
            raise bad_request(f"source_task_id {task_id} is not a succeeded video generation task of this "
                              f"account from the last 7 days")
        return task

    def _make(self, key: str, body: dict[str, Any], model: str, resolution: str, duration: int, ratio: str,
              previz: Previz, usage: dict[str, int], error: tuple[str, str] | None, *, shot: str | None,
              take: str | None, task_type: str = "generation", modality: str = "video",
              text: str | None = None) -> V2Task:
        """The task, its schedule drawn, durable (with a state folder) before it is returned."""
        sources = keep_images(previz, self._state) if self._state is not None else {}
        cfg, draw, body_hash = self.cfg, self._timing.uniform, fingerprint(body)
        with self._lock:
            now = self.now()
            if self.v2.over_cap == "reject" and self.v2.conn_cap is not None \
                    and self._active(key, now) >= self.v2.conn_cap:
                raise v2codes.rate_limited()
            repeat = self._repeats[(key, body_hash)] = self._repeats.get((key, body_hash), 0) + 1
            told = _take_hint(take)
            number = told or repeat
            previz = replace(previz, take=number, seed=variation_seed(cfg.seed, body_hash),
                             label=take_label(_shot_hint(shot), number, told is not None, previz))
            ready_at = now + cfg.scaled(draw(*self.v2.queued))
            run_seconds = cfg.scaled(draw(*(self.v2.text_running if modality == "text" else self.v2.running)))
            if self._roll("fail_1026") and error is None:
                error = ("1026", v2codes.SENSITIVE)
            task = V2Task(
                task_id=self._new_id(), key=key, fingerprint=body_hash, model=model, resolution=resolution,
                duration=duration, ratio=ratio, created_at=now, ready_at=ready_at, run_seconds=run_seconds,
                error=error, usage=usage, previz=previz, task_type=task_type, modality=modality, text=text,
            )
            if self._state is not None:
                self._state.append(task_record(task, sources))
            self._add(task)
        if self._state is not None:
            self._state.sync()  # durable before the answer: a task the client hears of is never lost
        return task

    def _picture(self, spec: V2Spec) -> tuple[str, Previz]:
        """The actual ratio (A3: frames force adaptive) and what the previz draws."""
        def ratio_of(items) -> str | None:
            for item in items:
                if item.media is not None and item.media.width and item.media.height:
                    return snap_ratio(item.media.width, item.media.height)
            return None

        first, last = spec.role("first_frame"), spec.role("last_frame")
        images = spec.role("reference_image")
        source = {"first": None, "last": None, "subject": None}
        if spec.scenario == "text":
            ratio, mode = spec.ratio, "text_to_video"
        elif spec.scenario == "frames":
            ratio = ratio_of(first or last) or FALLBACK_RATIO
            mode = "image_to_video" if first and not last else "first_last_frame"
            source.update(first=first[0].source if first else None, last=last[0].source if last else None)
        else:
            ratio = spec.ratio if spec.ratio != "adaptive" else \
                ratio_of(images + spec.role("reference_video")) or FALLBACK_RATIO
            mode = "subject_reference"
            kinds = ", ".join(f"{len(spec.role(r))} {r.replace('_', ' ')}" for r in
                              ("reference_image", "reference_video", "reference_audio") if spec.role(r))
            source["subject"] = images[0].source if images else f"({kinds})"
        width, height = nominal_size(spec.resolution, ratio)
        return ratio, Previz(mode, spec.prompt, width, height, frame_count(spec.duration), **source)

    def _media_error(self, spec: V2Spec) -> tuple[str, str] | None:
        """Media the task will fail on: a data URI checked as 'task', or a URL marked bad (never fetched)."""
        marker = self.v2.bad_media_marker
        for item in spec.inputs:
            if item.problem:
                return "2013", f"invalid params, {item.problem}"
            if marker and item.url and marker in item.url:
                return "2013", (f"invalid params, content[{item.index}].{item.kind}_url.url: the media could not "
                                f"be used (the simulator fails every URL containing {marker!r})")
        return None

    def _active(self, key: str, now: float) -> int:
        """The key's tasks queued or running at `now`. Call under the lock."""
        starts = self._schedule(key)
        return sum(1 for t in self._by_key.get(key, ()) if t.status(now, starts.get(t.task_id)) in (QUEUED, RUNNING))

    def _add(self, task: V2Task) -> None:
        self._tasks[task.task_id] = task
        self._by_key.setdefault(task.key, []).append(task)
        self._starts.pop(task.key, None)

    def _count(self, task: V2Task) -> None:
        """A loaded task counts as a create of its request (so the next one is the next take)."""
        pair = (task.key, task.fingerprint)
        self._repeats[pair] = self._repeats.get(pair, 0) + 1

    def _new_id(self) -> str:
        while True:
            task_id = str(self._ids.randrange(10**14, 10**15))  # 15 digits, as observed
            if task_id not in self._tasks:
                return task_id

    # --- the schedule ----------------------------------------------------------------------

    def _schedule(self, key: str) -> dict[str, float]:
        """task_id -> when it starts running, for the key's tasks that ever run. Call under the lock."""
        starts = self._starts.get(key)
        if starts is not None:
            return starts
        cap = self.v2.conn_cap if self.v2.over_cap == "queue" else None
        tasks = sorted(self._by_key.get(key, ()), key=lambda t: (t.ready_at, t.created_at))
        busy: list[float] = []  # when each taken slot frees
        starts = {}
        for task in tasks:
            start = task.ready_at
            if cap is not None and len(busy) >= cap:
                start = max(start, busy[0])
            if task.cancelled_at is not None and task.cancelled_at <= start:
                continue  # cancelled while queued: it never takes a slot
            if cap is not None:
                if len(busy) >= cap:
                    heapq.heappop(busy)
                heapq.heappush(busy, start + task.run_seconds)
            starts[task.task_id] = start
        self._starts[key] = starts
        return starts

    def _seen(self, key: str, task_id: str, now: float) -> tuple[V2Task, str, float | None]:
        """(task, status, start) of a task this key can see now, or 400 invalid task_id. Under the lock."""
        task = self._tasks.get(task_id)
        if task is None or task.key != key or not self._visible(task, now):
            raise v2codes.invalid_task()
        start = self._schedule(key).get(task_id)
        return task, task.status(now, start), start

    def _visible(self, task: V2Task, now: float) -> bool:
        """Not deleted, and created inside the query window [now - window, now]."""
        if task.deleted_at is not None:
            return False
        window = self.v2.window
        return window is None or now - task.created_at <= self.cfg.scaled(window)

    # --- query, list, delete ---------------------------------------------------------------

    def query(self, key: str | None, task_id: str, base_url: str) -> dict[str, Any]:
        """GET /v2/query/video_generation/{task_id}: {"task": {...}}."""
        key = self.authenticate(key)
        with self._lock:
            now = self.now()
            task, status, start = self._seen(key, task_id, now)
        url = self._url(task, base_url, now, self._roll("expire_url")) if status == SUCCEEDED else None
        return {"task": task.answer(status, start, url)}

    def list(self, key: str | None, params: Mapping[str, Sequence[str]], base_url: str) -> dict[str, Any]:
        """GET /v2/query/video_generation: {"items": [...], "total": N}, the key's tasks in the window."""
        key = self.authenticate(key)
        page = _whole(params, "page_num", 1, 1, None)
        size = _whole(params, "page_size", DEFAULT_PAGE_SIZE, 1, self.v2.max_page_size)
        status = _one(params, "filter.status")
        if status is not None and status not in STATUSES:
            raise bad_request(f"filter.status must be one of {', '.join(STATUSES)}, not {status!r}")
        task_type = _one(params, "filter.task_type")
        if task_type is not None and task_type not in TASK_TYPES:
            raise bad_request(f"filter.task_type must be one of {', '.join(TASK_TYPES)}, not {task_type!r}")
        model = _one(params, "filter.model")
        ids = {i.strip() for value in params.get("filter.task_ids", ()) for i in value.split(",") if i.strip()}
        with self._lock:
            now = self.now()
            starts = self._schedule(key)
            rows = []
            for task in self._by_key.get(key, ()):
                if not self._visible(task, now):
                    continue
                start = starts.get(task.task_id)
                current = task.status(now, start)
                if (status is None or current == status) and (not ids or task.task_id in ids) \
                        and (model is None or task.model == model) and (task_type is None or task.task_type == task_type):
                    rows.append((task, current, start))
        rows.sort(key=lambda r: r[0].created_at, reverse=self.v2.list_order == "newest")
        shown = rows[(page - 1) * size:page * size]
        expired = bool(shown) and self._roll("expire_url")
        items = [task.answer(current, start, self._url(task, base_url, now, expired) if current == SUCCEEDED else None,
                             modality=False) for task, current, start in shown]
        return {"items": items, "total": len(rows)}

    def delete(self, key: str | None, task_id: str) -> dict[str, str]:
        """DELETE /v2/video_generation/{task_id}: cancel a queued task, delete a finished one (A2)."""
        key = self.authenticate(key)
        with self._lock:
            now = self.now()
            task, status, _ = self._seen(key, task_id, now)
            if status == QUEUED:
                task.cancelled_at, kind = now, "cancel"
                self._starts.pop(key, None)
                answer = {"task_id": task_id, "action": "cancelled", "status": "cancelled"}
            elif status in (SUCCEEDED, FAILED):
                task.deleted_at, kind = now, "delete"
                answer = {"task_id": task_id, "action": "deleted", "status": "deleted"}
            else:
                why = "it is running and cannot be cancelled" if status == RUNNING else "it is already cancelled"
                raise bad_request(f"task {task_id} cannot be deleted: {why}")
            if self._state is not None:
                self._state.append(event_record(kind, task_id, now))
        if self._state is not None:
            self._state.sync()
        return answer

    # --- content URLs ----------------------------------------------------------------------

    def _url(self, task: V2Task, base_url: str, now: float, expired: bool = False) -> str:
        """A fresh signed URL for the task's video, valid for url_ttl (already dead if `expired`)."""
        expires = int(now) - 1 if expired else int(now + self.cfg.scaled(self.v2.url_ttl))
        return (f"{base_url}{CONTENT_PREFIX}{task.task_id}/output.mp4"
                f"?Expires={expires}&Signature={self._sign(task.task_id, expires)}")

    def _sign(self, task_id: str, expires: int) -> str:
        return hmac.new(self._secret, f"{task_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def download(self, path: str, params: Mapping[str, str]) -> Path:
        """The video a content URL points to; LinkError 404 (no such file) or 403 (expired, bad signature)."""
        task_id, _, name = path[len(CONTENT_PREFIX):].partition("/")
        with self._lock:
            task = self._tasks.get(task_id)
            now = self.now()
            ok = task is not None and name == "output.mp4" and task.deleted_at is None and task.modality == "video" \
                and task.status(now, self._schedule(task.key).get(task_id)) == SUCCEEDED
        if not ok:
            raise LinkError(404, "The specified key does not exist.")
        expires = params.get("Expires", "")
        if not expires.lstrip("-").isdigit() or not hmac.compare_digest(
                self._sign(task_id, int(expires)), params.get("Signature", "")):
            raise LinkError(403, "The request signature we calculated does not match the signature you provided.")
        if now >= int(expires):
            raise LinkError(403, "Request has expired")
        return self.video_path(task)

    def video_path(self, task: V2Task) -> Path:
        if self.videos is None:
            raise RuntimeError("this engine has no video files")
        return self.videos.path(task.task_id, task.previz)

    # --- the state folder ------------------------------------------------------------------

    def _load(self) -> None:
        """Every task of the v2 state folder, with its cancels and deletes replayed."""
        everyone = (*self.cfg.keys, *self.cfg.no_balance_keys, *self.cfg.other_region_keys, *self.v2.token_plan_keys)
        keys = {key_hash(k): k for k in everyone}
        for record in self._state.records():
            try:
                kind = record["kind"]
                if kind == "task":
                    task = task_from(record, keys, self._state)
                    if task.task_id not in self._tasks:
                        self._add(task)
                        self._count(task)
                elif kind in ("cancel", "delete"):
                    task = self._tasks[str(record["task_id"])]
                    setattr(task, "cancelled_at" if kind == "cancel" else "deleted_at", float(record["at"]))
                    self._starts.pop(task.key, None)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                continue  # not a line this version wrote

    # --- introspection ---------------------------------------------------------------------

    def tasks(self) -> list[dict[str, Any]]:
        """Every task, deleted ones too, in creation order (keys redacted): GET /_sim/v2/tasks."""
        with self._lock:
            now = self.now()
            out = []
            for task in self._tasks.values():
                start = self._schedule(task.key).get(task.task_id)
                out.append({
                    "task_id": task.task_id, "key": redact(task.key), "fingerprint": task.fingerprint,
                    "model": task.model, "resolution": task.resolution, "duration": task.duration,
                    "ratio": task.ratio, "frames": task.previz.frames, "take": task.previz.take,
                    "label": task.previz.label, "status": task.status(now, start),
                    "created_at": task.created_at, "ready_at": task.ready_at, "started_at": start,
                    "finished_at": None if start is None else start + task.run_seconds,
                    "cancelled_at": task.cancelled_at, "deleted_at": task.deleted_at,
                    "error": list(task.error) if task.error else None,
                })
        return out


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values and values[0] != "" else None


def _whole(params: Mapping[str, Sequence[str]], name: str, default: int, low: int, high: int | None) -> int:
    text = _one(params, name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        bounds = f"from {low} to {high}" if high is not None else f">= {low}"
        raise bad_request(f"{name} must be a whole number {bounds}, not {text!r}")
    return int(text)
