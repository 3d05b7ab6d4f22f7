"""One client for the runner over both API generations: each call goes to its model's dialect.
An image model's stills are made by `images` (imageclient.py) on the same transport: it answers
with the images themselves, so it has no task to create, query or retrieve here.

A create names its model (body["model"]; catalogue.api_of says v1 or v2). A query or a retrieve
names only an id, and v1 and v2 ids look alike (digits), so the router remembers which dialect
made each task and handed out each file handle: the creates and queries it made itself, and what
it is told of tasks made by an earlier run (`learn`, from the ledger's requests). An explicit
`model=` wins over both. An id it knows nothing of is asked of v1 first (every task made before
v2 existed is v1's), then, if v1 has no such task or file, of v2; the answer is remembered. So a
paid v2 task is never given up as "not found" for want of knowledge; `learn` saves the extra call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pipeline.minimax import catalogue, imagespec
from pipeline.minimax.apierrors import TaskNotFoundError
from pipeline.minimax.client import FileInfo, MiniMaxClient, TaskStatus
from pipeline.minimax.imageclient import ImageClient
from pipeline.minimax.transport import Download, Hints, Transport
from pipeline.minimax.v2client import V2Client

Dialect = MiniMaxClient | V2Client


def api_of(model: Any) -> str:
    """Which API serves `model`: "image" (the image API), "v2", or "v1" (also for a model the
    catalogue does not know)."""
    if not isinstance(model, str):
        return "v1"
    return "image" if model in imagespec.MODELS else catalogue.api_of(model)


class Clients:
    """The v1 and v2 dialects on one Transport (one pool, one cap on calls, one key), behind the
    v1 protocol the runner speaks: create, query, retrieve, download. `v1` and `v2` are the
    dialects themselves (v2's list_tasks and cancel are there); `images` makes an image model's
    stills (`images.generate`)."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 transport: Transport | None = None, **settings: Any):
        self._own_transport = transport is None
        self.transport = transport or Transport(api_key, base_url, **settings)
        self.v1 = MiniMaxClient(transport=self.transport)
        self.v2 = V2Client(transport=self.transport)
        self.images = ImageClient(transport=self.transport)
        self._tasks: dict[str, Dialect] = {}
        self._files: dict[str, Dialect] = {}

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def __repr__(self) -> str:
        return f"Clients(base_url={self.base_url!r}, api_key=<redacted>)"

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_transport:
            await self.transport.aclose()

    def for_model(self, model: Any) -> Dialect:
        """The video dialect that serves `model` (v1 for a model the catalogue does not know);
        ValueError for an image model, which has no tasks (use `images`)."""
        api = api_of(model)
        if api == "image":
            raise ValueError(f"{model} makes stills with the image API: call Clients.images.generate")
        return self.v2 if api == "v2" else self.v1

    def learn(self, model: Any, *, task_id: str | int | None = None, file_id: str | int | None = None) -> None:
        """Remember that this task (and file handle) belong to `model`'s dialect: a task made
        by an earlier run, known from the ledger's request, before it is queried or fetched. An
        image model's take has no task: nothing to learn."""
        if api_of(model) == "image":
            return
        dialect = self.for_model(model)
        if task_id not in (None, ""):
            self._tasks[str(task_id)] = dialect
        if file_id not in (None, ""):
            self._files[str(file_id)] = dialect

    def dialect_of_task(self, task_id: str | int, model: Any = None) -> Dialect | None:
        """The dialect of a task: by `model`, else as remembered; None if nothing is known."""
        return self.for_model(model) if model is not None else self._tasks.get(str(task_id))

    def dialect_of_file(self, file_id: str | int, model: Any = None) -> Dialect | None:
        return self.for_model(model) if model is not None else self._files.get(str(file_id))

    # -- the v1 protocol, routed -----------------------------------------------------------

    async def create(self, body: dict[str, Any], *, hints: Hints | None = None) -> str:
        dialect = self.for_model(body.get("model"))
        task_id = await dialect.create(body, hints=hints)
        self._tasks[task_id] = dialect
        return task_id

    async def query(self, task_id: str, *, model: str | None = None) -> TaskStatus:
        dialect = self.dialect_of_task(task_id, model)
        if dialect is None:
            dialect, status = await self._either("query", task_id)
            self._tasks[str(task_id)] = dialect
        else:
            status = await dialect.query(task_id)
        if status.file_id:
            self._files[status.file_id] = dialect
        return status

    async def retrieve(self, file_id: str | int, *, model: str | None = None) -> FileInfo:
        dialect = self.dialect_of_file(file_id, model)
        if dialect is not None:
            return await dialect.retrieve(file_id)
        dialect, info = await self._either("retrieve", file_id)
        self._files[str(file_id)] = dialect
        if dialect is self.v2:  # a v2 file handle is its task's id
            self._tasks[str(file_id)] = dialect
        return info

    async def download(self, url: str, path: Path, *, progress: Callable[[int], None] | None = None,
                       expected_bytes: int | None = None) -> Download:
        return await self.transport.download(url, path, progress=progress, expected_bytes=expected_bytes)

    async def _either(self, call: str, ident: str | int) -> tuple[Dialect, Any]:
        """Ask v1, then v2 if v1 has no such thing: (the dialect that knew it, its answer). Both
        not knowing it raises v1's TaskNotFoundError."""
        try:
            return self.v1, await getattr(self.v1, call)(ident)
        except TaskNotFoundError as v1_missing:
            try:
                return self.v2, await getattr(self.v2, call)(str(ident))
            except TaskNotFoundError:
                raise v1_missing from None
