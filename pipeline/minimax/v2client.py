"""The async v2 video client (MiniMax-H3, MiniMax-H3-Max): create, query, list, cancel, and the
v1 client's protocol on top, so that a runner written for v1 drives v2 tasks unchanged.

The v1 protocol is create -> query -> retrieve(file_id) -> download. A v2 query answers with the
video's URL itself, and that URL expires: "query again for a new one" (minimax-api-v2.md A5).
So a succeeded task's `file_id` is its own task id, a handle meaning "ask the task again", and
`retrieve` re-queries it for a fresh URL; no size is announced (FileInfo.bytes is 0).

Statuses come back in v1's vocabulary: queued -> Queueing, running -> Processing, succeeded ->
Success, failed -> Fail, cancelled -> Fail (message "cancelled"); any other word (`expired`, seen
in one client) is kept as it is, as the v1 client keeps a status it does not know. The server's
word stays in TaskStatus.raw_status. Errors are read by v2errors.py into the one error tree;
HTTP and the key are the shared Transport's.

A 2K regeneration (A11) is created through the same `create`: a body carrying `source_task_id`
or a `base_video` goes to /v2/video_regeneration, and its task is queried like any other. The
`source_task_id` form needs whitelist access, and a source inside the 7-day window; the content
form (the original inputs plus the 768P video as `base_video`) works for every account. A body
may carry both: the short form is sent first, and when the server refuses it with a 400 (proof
that no task was made) the content form is sent instead, within the same create, so that the
runner's one intent covers whichever form made the task. An answer lost on the way (5xx,
timeout) is never followed by the other form: a task may exist. A refusal that names the
whitelist is remembered, so later regenerations go straight to the content form.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable
from urllib.parse import quote

import httpx

from pipeline.minimax import v2errors
from pipeline.minimax.apierrors import MalformedAnswerError, ShotRejectedError, TaskNotFoundError, UncertainCreateError
from pipeline.minimax.client import FileInfo, TaskStatus
from pipeline.minimax.transport import (
    Download,
    Hints,
    OnTransport,
    Transport,
    ident,
    is_http_url,
    json_object,
    malformed,
    show,
    trace_of,
    whole,
)

CREATE_PATH = "/v2/video_generation"
REGENERATION_PATH = "/v2/video_regeneration"
BASE_VIDEO = "base_video"  # the content role only a regeneration takes
QUERY_PATH = "/v2/query/video_generation"
DEFAULT_PAGE_SIZE = 20  # the notes' example; the maximum is undocumented (one client caps at 100)
MAX_PAGES = 10_000  # a list that never ends is the server's fault: stop somewhere

STATUSES = {"queued": "Queueing", "running": "Processing", "succeeded": "Success", "failed": "Fail",
            "cancelled": "Fail"}
CANCELLED_MESSAGE = "cancelled"
TASK_TYPES = ("generation", "h3_context_ir", "regeneration")


class V2Client(OnTransport):
    """The v2 dialect on one Transport: its own, made from the same settings as MiniMaxClient's,
    or one shared with the v1 dialect (`transport=`)."""

    api = "v2"

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 transport: Transport | None = None, **settings: Any):
        self._use(transport, lambda: Transport(api_key, base_url, **settings))
        self.not_whitelisted = False  # the server said so: regenerate by the content form at once

    # -- the v2 calls --------------------------------------------------------------------

    async def create(self, body: dict[str, Any], *, hints: Hints | None = None) -> str:
        """POST a generation task (or a 2K regeneration: see the module's docstring); return its
        task_id. Never resubmit on UncertainCreateError: v2 has no idempotency key; reconcile
        through list_tasks instead."""
        if is_regeneration(body):
            return await self._regenerate(body, hints)
        return await self._create(CREATE_PATH, body, hints)

    async def _regenerate(self, body: dict[str, Any], hints: Hints | None) -> str:
        """The source_task_id form, then (refused with proof that no task was made) the content form."""
        shared = {k: v for k, v in body.items() if k not in ("source_task_id", "content")}
        source, content = body.get("source_task_id"), body.get("content")
        if source is not None and (content is None or not self.not_whitelisted):
            try:
                return await self._create(REGENERATION_PATH, {**shared, "source_task_id": source}, hints)
            except ShotRejectedError as exc:
                if content is None or not refuses_source_form(exc):
                    raise
                if WHITELIST.search(str(exc)):
                    self.not_whitelisted = True
        return await self._create(REGENERATION_PATH, {**shared, "content": content}, hints)

    async def _create(self, path: str, body: dict[str, Any], hints: Hints | None) -> str:
        response = await self._transport.create(path, body, hints)
        if not 200 <= response.status_code < 300:
            raise self._error(response, "create")
        try:
            data = json_object(response)
        except MalformedAnswerError as exc:  # a 2xx we could not read: the task may exist
            raise UncertainCreateError(f"create answer unreadable: {exc}; a billed task may exist",
                                       trace_id=exc.trace_id) from exc
        if v2errors.is_error_body(data):
            raise self._error(response, "create")
        task_id = ident(data.get("task_id"))
        if not task_id:
            raise UncertainCreateError(
                f"create answered success without a usable task_id ({show(data.get('task_id'))}); "
                f"a billed task may exist", trace_id=trace_of(response),
            )
        return task_id

    async def query(self, task_id: str) -> TaskStatus:
        """GET one task by the id in its path. A failed or cancelled task is a value, not an exception."""
        path = f"{QUERY_PATH}/{_path_id(task_id)}"
        data, response = await self._read("GET", path, "query", task_id)
        task = data.get("task")
        if not isinstance(task, dict):
            raise malformed(response, "no task object", task)
        return task_status(task, task_id, response)

    async def list_tasks(
        self,
        *,
        status: str | None = None,
        task_ids: Iterable[str] | None = None,
        model: str | None = None,
        task_type: str | None = None,
        page_num: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> tuple[list[TaskStatus], int]:
        """One page of this key's tasks of the last 7 days that match every filter given:
        (tasks, total matches). `status` is v2's own word (queued, running, succeeded, ...)."""
        params: dict[str, Any] = {"page_num": page_num, "page_size": page_size}
        ids = [str(t) for t in task_ids] if task_ids is not None else []
        for name, value in (("status", status), ("model", model), ("task_type", task_type)):
            if value is not None:
                params[f"filter.{name}"] = value
        if ids:
            params["filter.task_ids"] = ",".join(ids)  # as the official CLI sends it
        data, response = await self._read("GET", QUERY_PATH, "list", ",".join(ids), params)
        items, total = data.get("items"), data.get("total")
        if items is None:
            items = []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise malformed(response, "items that are not a list of task objects", items)
        count = whole(total)
        if count is None:
            raise malformed(response, "a total that is not a whole number", total)
        return [task_status(item, "", response) for item in items], count

    async def iter_tasks(self, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Any) -> AsyncIterator[TaskStatus]:
        """Every task list_tasks matches, page after page, each once (the sort order is
        undocumented, so a task seen on an earlier page is not repeated). Ends when `total`
        tasks were seen or a page brings nothing new (a server may cap the page size)."""
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            items, total = await self.list_tasks(page_num=page, page_size=page_size, **filters)
            fresh = [t for t in items if t.task_id not in seen]
            for task in fresh:
                seen.add(task.task_id)
                yield task
            if not fresh or len(seen) >= total:
                return

    async def cancel(self, task_id: str) -> tuple[str, str]:
        """DELETE a task: (action, status). A queued task is cancelled (free); a succeeded or
        failed one deleted; a running one cannot be stopped (ShotRejectedError)."""
        path = f"{CREATE_PATH}/{_path_id(task_id)}"
        data, response = await self._read("DELETE", path, "cancel", task_id)
        action, status = data.get("action"), data.get("status")
        if not isinstance(action, str) or not action:
            raise malformed(response, "no action", action)
        return action, status if isinstance(status, str) else ""

    # -- the v1 protocol -----------------------------------------------------------------

    async def retrieve(self, file_id: str | int) -> FileInfo:
        """A fresh download URL for a succeeded task (`file_id` is its task id): query it again."""
        task_id = ident(file_id)
        status = await self.query(task_id)
        if status.status != "Success" or not status.video_url:
            raise MalformedAnswerError(
                f"task {task_id} has no video to download (status {status.raw_status!r}"
                f"{', no content.url' if status.status == 'Success' else ''})")
        name = httpx.URL(status.video_url).path.rsplit("/", 1)[-1]
        return FileInfo(file_id=status.task_id, bytes=0, filename=name, download_url=status.video_url)

    async def download(self, url: str, path: Path, *, progress: Callable[[int], None] | None = None,
                       expected_bytes: int | None = None) -> Download:
        """Stream a video to `path`, verified (Transport.download)."""
        return await self._transport.download(url, path, progress=progress, expected_bytes=expected_bytes)

    # -- plumbing ------------------------------------------------------------------------

    async def _read(self, method: str, path: str, call: v2errors.Call, task_id: str,
                    params: dict[str, Any] | None = None) -> tuple[dict[str, Any], httpx.Response]:
        """The JSON object of a 2xx answer (and the answer); the mapped error otherwise."""
        response = await self._transport.read(method, path, params)
        if not 200 <= response.status_code < 300:
            raise self._error(response, call, task_id)
        data = json_object(response)
        if v2errors.is_error_body(data):
            raise self._error(response, call, task_id)
        return data, response

    def _error(self, response: httpx.Response, call: v2errors.Call, task_id: str = "") -> Exception:
        return v2errors.error_for(v2errors.read(response), call=call, path=response.request.url.path,
                                  ident=task_id, base_url=self.base_url, trace_id=trace_of(response))


WHITELIST = re.compile(r"white[- ]?list", re.IGNORECASE)


def is_regeneration(body: dict[str, Any]) -> bool:
    """A body for /v2/video_regeneration: it names a source task, or its content holds a base_video."""
    content = body.get("content")
    return "source_task_id" in body or (isinstance(content, list) and any(
        isinstance(item, dict) and item.get("role") == BASE_VIDEO for item in content))


def refuses_source_form(exc: ShotRejectedError) -> bool:
    """The server refused a regeneration by source_task_id with a 400: the account is not
    whitelisted, or the source is not its succeeded task of the last 7 days. The content form
    works in every such case; a 422 (sensitive content) would refuse it as well."""
    return exc.http_status == 400 and not isinstance(exc, TaskNotFoundError)


def task_status(task: dict[str, Any], asked: str, response: httpx.Response) -> TaskStatus:
    """A v2 task object in the v1 protocol's terms (see the module's docstring)."""
    raw = task.get("status")
    if not isinstance(raw, str) or not raw.strip():
        raise malformed(response, "a status that is not a word", raw)
    raw = raw.strip()
    status = STATUSES.get(raw.lower(), raw)
    task_id = ident(task.get("id")) or asked
    if not task_id:
        raise malformed(response, "a task without an id", task.get("id"))
    url, code, message, usage = None, 0, "", None
    if status == "Success":
        content = task.get("content")
        url = content.get("url") if isinstance(content, dict) else None
        if url in ("", None):
            url = None
        elif not is_http_url(url):
            raise malformed(response, "a content.url that is not an http(s) URL", url)
        usage = task.get("usage") if isinstance(task.get("usage"), dict) and task.get("usage") else None
    elif raw.lower() == "cancelled":
        message = CANCELLED_MESSAGE
    elif status == "Fail":
        error = task.get("error") if isinstance(task.get("error"), dict) else {}
        raw_code = error.get("code")  # a string ("1026"); tolerate a number
        code = whole(raw_code) or 0
        message = str(error.get("message") or "")
        if raw_code not in (None, "") and whole(raw_code) is None:
            message = f"{message} [code {show(raw_code)}]".strip()
    return TaskStatus(
        task_id=task_id,
        status=status,
        file_id=task_id if url else None,  # the handle: query the task again for a fresh URL
        code=code,
        message=message,
        raw_status=raw,
        api="v2",
        model=_text(task.get("model")),
        resolution=_text(task.get("resolution")),
        duration=whole(task.get("duration")),
        ratio=_text(task.get("ratio")),
        usage=usage,
        created_at=_seconds(task.get("created_at")),
        updated_at=_seconds(task.get("updated_at")),
        task_type=_text(task.get("task_type")),
        video_url=url,
    )


def _path_id(task_id: str) -> str:
    """The id as one path segment; an empty one would turn a query into a list."""
    text = ident(task_id)
    if not text:
        raise ShotRejectedError(f"no task id to ask about ({show(task_id)})")
    return quote(text, safe="")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: Any) -> int | None:
    """Unix seconds, as a whole number or a float; None for anything else."""
    if isinstance(value, float) and value >= 0:
        return int(value)
    return whole(value)
