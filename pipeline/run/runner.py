"""Carry out a plan: create under a rate limit and an in-flight cap, poll, retrieve, download.

Each take is a small state machine (create -> poll -> download) whose every step is written to
the ledger before the program acts on it. The intent-create-record step runs shielded: an
interrupt waits for the create's answer instead of losing a billed task id.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Literal

from asyncio_throttle import Throttler

from pipeline.run import gentime, retry, store, video
from pipeline.minimax.client import (
    AccountError,
    MiniMaxClient,
    RateLimitError,
    ShotRejectedError,
    TaskNotFoundError,
    TransientError,
    UncertainCreateError,
    UrlExpiredError,
)
from pipeline.errors import AbortError, InputError, ShotsError
from pipeline.run.ledger import LedgerView, LedgerWriter, event
from pipeline.run.options import RunOptions
from pipeline.run.plan import Plan, PlannedTake, TakeSpec
from pipeline.run.result import Outcome, RunResult, TakeResult

log = logging.getLogger("shots.runner")


class WindowLimiter(Throttler):
    """asyncio-throttle's sliding window, with one waiter at a time sleeping exactly until a slot frees.

    The stock acquire() wakes every waiter every 10 ms; with thousands of takes that is the
    whole CPU. A lock queues the waiters in order instead.
    """

    def __init__(self, rate_limit: float | None, period: float):
        super().__init__(max(1, int(rate_limit or 1)), period)
        self.limit: int | None = None if rate_limit is None else max(1, int(rate_limit))
        self._lock = asyncio.Lock()

    def record(self) -> None:
        self._task_logs.append(time.monotonic())

    def restamp(self) -> None:
        """Move the latest acquisition to now: the server counts a request when it arrives, which may be
        any time up to its answer (a first create on a cold connection arrives tens of ms late)."""
        if self._task_logs:
            self._task_logs[-1] = time.monotonic()

    def recent(self) -> int:
        """Acquisitions within the current window."""
        self.flush()
        return len(self._task_logs)

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                self.flush()
                if self.limit is None or len(self._task_logs) < self.limit:
                    break
                wait = self._task_logs[0] + self.period - time.monotonic()
                await asyncio.sleep(max(wait, 0.0005))
            self.record()


class Runner:
    def __init__(
        self,
        client: MiniMaxClient,
        writer: LedgerWriter,
        view: LedgerView,
        out_dir: Path,
        manifest_dir: Path,
        body_of: Callable[[Any], dict[str, Any]],
        options: RunOptions = RunOptions(),
        on_phase: Callable[[TakeSpec, str], None] | None = None,
        history: Iterable[gentime.Observation] | None = None,
    ):
        """`history`: generation times seen before this run; by default read from `view`."""
        self.client = client
        self.writer = writer
        self.view = view
        self.out_dir = out_dir
        self.manifest_dir = manifest_dir
        self.body_of = body_of
        self.options = options
        self.on_phase = on_phase or (lambda spec, phase: None)
        self.rng = random.Random(options.seed)
        scale = options.time_scale
        self.rate = retry.AdaptiveRate(ceiling=options.rpm)
        self.create_limiter = WindowLimiter(options.rpm, retry.RATE_WINDOW * retry.RATE_WINDOW_MARGIN * scale)
        self.accepted = WindowLimiter(None, retry.RATE_WINDOW * scale)  # creates the server took, per window
        # One create in transit at a time: a 1002 is heard before the next create is sent.
        self.create_transit = asyncio.Lock()
        self.query_limiter = WindowLimiter(options.query_rpm, retry.RATE_WINDOW * scale)
        self.download_slots = asyncio.Semaphore(options.downloads)
        self.in_flight = _Slots(options.concurrency)
        self.result = RunResult()
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._critical: set[asyncio.Task[Any]] = set()
        self._warned_status: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        writer.on_full = self._ledger_full
        if history is None:
            history = gentime.history_from_view(view, options.time_scale)
        self.gen = gentime.GenTimes(options.poll_interval, history, scouts=options.scouts)
        self._news: dict[gentime.Class, asyncio.Event] = {}  # set when a class learns something

    # -- the run ------------------------------------------------------------------------

    @staticmethod
    def nothing_to_do(plan: Plan) -> RunResult:
        """The result of a plan whose every take is skipped, without any server."""
        return RunResult(results=[_initial_result(t) for t in plan.takes])

    async def run(self, plan: Plan) -> RunResult:
        self._loop = asyncio.get_running_loop()
        started = time.monotonic()
        results: dict[tuple[str, int], TakeResult] = {}
        for t in plan.takes:
            results[t.spec.key] = _initial_result(t)
        self.result.results = list(results.values())
        creates = [t for t in plan.takes if t.creates]
        for t in plan.takes:
            if t.action in ("poll existing task", "download only"):
                self._spawn(self._take(t, results[t.spec.key]))
        for t in plan.orphans:  # paid tasks of earlier versions: their videos go to history/
            self.result.orphans.append(_initial_result(t))
            self._spawn(self._take(t, self.result.orphans[-1]))
        dispatcher = asyncio.create_task(self._dispatch(creates, results))
        try:
            await dispatcher
            while self._tasks:
                await asyncio.wait(set(self._tasks))
        except asyncio.CancelledError:
            self.stop()
        finally:
            await self._settle()
            self.result.seconds = time.monotonic() - started
        return self.result

    def stop(self) -> None:
        """First Ctrl-C: no new creates; cancel waits and downloads; answered creates are still recorded."""
        if not self._stopping:
            self._stopping = True
            self.result.interrupted = self.result.aborted is None
        for task in list(self._tasks):
            task.cancel()

    async def _settle(self) -> None:
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._critical:
            await asyncio.wait(set(self._critical))
        await self.writer.drain()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, creates: list[PlannedTake], results: dict[tuple[str, int], TakeResult]) -> None:
        """Start creates in manifest order as fast as the in-flight cap and the rate allow."""
        for planned in creates:
            self.on_phase(planned.spec, "queued")
        for planned in creates:
            await self.in_flight.acquire()
            if self._stopping:
                self.in_flight.release()
                return
            self._spawn(self._take(planned, results[planned.spec.key]))

    # -- one take -----------------------------------------------------------------------

    async def _take(self, planned: PlannedTake, res: TakeResult) -> None:
        spec, state = planned.spec, planned.state
        res.began = time.monotonic()
        try:
            try:
                if planned.creates:
                    task_id = await self._create(planned, res)
                    if task_id is None:
                        return
                    file_id = await self._poll(spec, task_id, res, fresh=True)
                elif planned.action == "poll existing task":
                    self.in_flight.force_acquire()
                    task_id = state.task_id
                    file_id = await self._poll(spec, task_id, res, fresh=False)
                else:
                    task_id, file_id = state.task_id, state.file_id
            finally:
                if planned.creates or planned.action == "poll existing task":
                    self.in_flight.release()
            if file_id is not None:
                await self._download(planned, task_id, file_id, res)
        except (AccountError, AbortError) as exc:
            self._abort(exc)
        except _OverBudget as exc:
            res.outcome, res.detail = "pending", str(exc)
        except asyncio.CancelledError:
            if res.outcome == "pending" and not res.detail:
                res.detail = "interrupted; the next run resumes it"
            raise
        except Exception as exc:  # a bug, not a shot's fault: report it, keep the other takes going
            log.exception("%s: unexpected error", spec.label)
            res.outcome, res.detail = "pending", f"unexpected error ({type(exc).__name__}: {exc}); run again"
        finally:
            self.on_phase(spec, res.outcome if res.outcome != "pending" else "pending")

    def _ledger_full(self, exc: ShotsError) -> None:
        """From the ledger's writing thread: the disk is full, stop every take (exit 3)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._abort, exc)

    def _charge(self, res: TakeResult, what: str) -> None:
        """Count one request of a take; past its budget the take stops, pending, saying why."""
        res.requests += 1
        elapsed = (time.monotonic() - res.began) / self.options.time_scale
        if res.requests > retry.request_budget(elapsed, self.options.poll_interval):
            raise _OverBudget(f"{res.requests} requests in {elapsed:.0f} s ({what}) without getting anywhere; "
                              f"the server misbehaves: run again later to resume (no new charge)")

    def _abort(self, exc: ShotsError) -> None:
        if self.result.aborted is None:
            self.result.aborted = exc
            log.error("stopping: %s", exc)
        self.stop()

    async def _send_create(self, planned: PlannedTake, body: dict[str, Any]) -> str | None:
        """Wait for the rate window, then intent -> POST -> record, shielded from cancellation."""
        async with self.create_transit:
            self.create_limiter.limit = self.rate.allowed
            await self.create_limiter.acquire()
            if self._stopping:
                return None
            self.on_phase(planned.spec, "creating")
            critical = asyncio.ensure_future(self._create_once(planned, body))
            self._critical.add(critical)
            critical.add_done_callback(self._critical.discard)
            try:
                return await asyncio.shield(critical)
            finally:
                self.create_limiter.restamp()

    async def _create(self, planned: PlannedTake, res: TakeResult) -> str | None:
        spec = planned.spec
        try:
            body = await asyncio.to_thread(self.body_of, spec.shot)
        except InputError as exc:  # an image changed or vanished since the plan; nothing was sent
            res.outcome, res.detail = "failed", f"{exc}; fix it and run again"
            return None
        proven_failures = rate_limited = 0
        while True:
            self._charge(res, "creates")
            try:
                task_id = await self._send_create(planned, body)
                if task_id is None:
                    res.detail = "not submitted: the run was stopped"
                    return None
            except RateLimitError as exc:
                self.result.rate_limited += 1
                rate_limited += 1
                if rate_limited >= retry.MAX_RATE_LIMITED:
                    res.outcome, res.detail = "pending", (
                        f"the server answered 'rate limited' to {rate_limited} creates in a row ({exc}); no task "
                        f"was made: lower --rpm or run again later")
                    return None
                self.rate.on_rate_limited(self.accepted.recent())
                log.info("%s: %s; slowing to %.1f creates per minute", spec.label, exc, self.rate.rate)
                await self._sleep(retry.backoff_delay(proven_failures, self.rng, base=retry.RATE_LIMIT_BACKOFF_BASE))
                continue
            except UncertainCreateError as exc:
                res.outcome, res.detail = "uncertain", str(exc)
                return None
            except TransientError as exc:
                proven_failures += 1
                if proven_failures >= retry.MAX_CREATE_ATTEMPTS:
                    res.outcome, res.detail = "failed", f"create kept failing: {exc}; run again to retry"
                    return None
                await self._sleep(retry.backoff_delay(proven_failures, self.rng))
                continue
            except ShotRejectedError as exc:
                res.outcome, res.detail = "failed", str(exc)
                return None
            self.rate.on_success()
            res.task_id, res.task_made, res.cost = task_id, True, planned.cost
            return task_id

    async def _create_once(self, planned: PlannedTake, body: dict[str, Any]) -> str:
        """intent -> POST -> record the answer. Runs to completion even if the take is cancelled."""
        spec = planned.spec
        key = (spec.shot.id, spec.take, spec.fingerprint)
        await self.writer.write(event("intent", *key, req=spec.request, cost=planned.cost))
        self.result.creates += 1
        try:
            task_id = await self.client.create(body)
        except UncertainCreateError as exc:
            await self.writer.write(event("uncertain", *key, reason=str(exc)))
            raise
        except (ShotRejectedError, AccountError) as exc:
            await self.writer.write(event("create_failed", *key, final=isinstance(exc, ShotRejectedError),
                                          code=exc.code, reason=str(exc)))
            raise
        except TransientError as exc:  # proven: no task was made
            await self.writer.write(event("create_failed", *key, final=False, code=exc.code, reason=str(exc)))
            raise
        self.accepted.record()
        await self.writer.write(event("submitted", *key, task_id=task_id))
        return task_id

    async def _poll(self, spec: TakeSpec, task_id: str, res: TakeResult, fresh: bool) -> str | None:
        """Poll until Success or Fail. A task created in this run is asked when its class's learned
        generation time says (pipeline/run/gentime.py), and what it shows feeds that estimate."""
        cls = gentime.task_class(spec.request)
        scout = [False]  # set by _first_poll; a scout's place is handed on however the polling ends
        self.on_phase(spec, "generating")
        try:
            return await self._poll_until_done(spec, task_id, res, fresh, cls, scout)
        finally:
            if scout[0]:
                self.gen.scout_ended(cls)
                self._announce(cls)

    async def _poll_until_done(self, spec: TakeSpec, task_id: str, res: TakeResult, fresh: bool,
                               cls: gentime.Class, scout: list[bool]) -> str | None:
        scale = self.options.time_scale
        key = (spec.shot.id, spec.take, spec.fingerprint)
        started = time.monotonic()  # the create's answer
        deadline = started + retry.POLL_DEADLINE * scale
        polls = 0 if fresh else -1  # a resumed task is asked at once
        failures = not_found = empty = 0
        last_status = "unfinished"
        seen_running = 0.0  # seconds (time scale 1) after `started` of the last answer "not yet"
        catch_ups = 0
        learned = fresh and self.options.first_poll is None
        plan_first = fresh
        while True:
            if plan_first:  # when the class's estimate (or its scouts, or the prior) says
                first = await self._first_poll(cls, started, res, scout, capped=polls == 0)
                # Never before the budget allows: the k-th poll at least k - 1 intervals in.
                due = started + max(first * scale, polls * self.options.poll_interval * scale) \
                    + retry.poll_delay(0, self.rng, first=0.0, interval=self.options.poll_interval * scale)
                delay, plan_first = due - time.monotonic(), False
            elif polls > 0:  # every interval; sooner once running past what its class showed
                step, catch_up = (self.gen.next_poll(cls, (time.monotonic() - started) / scale, polls, catch_ups,
                                                     scout[0]) if learned
                                  else (self.options.poll_interval, False))
                if step is None:  # nothing known of the class yet: wait for news, then plan again
                    plan_first = True
                    continue
                catch_ups += catch_up
                delay = retry.poll_delay(polls, self.rng, interval=step * scale)
            else:
                delay = 0.0
            if failures:
                delay = max(delay, retry.backoff_delay(failures, self.rng) * scale)
            if polls >= 0:
                await self._sleep(max(delay, 0.0), scaled=False)
            if time.monotonic() > deadline:
                res.outcome = "pending"
                res.detail = f"task {task_id} still {last_status} after the polling deadline; run again to resume"
                return None
            polls = max(polls, 0) + 1
            self._charge(res, "queries")
            await self.query_limiter.acquire()
            res.queries += 1
            sent = time.monotonic()
            try:
                status = await self.client.query(task_id)
            except TransientError as exc:
                failures += 1
                if failures >= retry.MAX_READ_ATTEMPTS:
                    res.outcome, res.detail = "pending", f"task {task_id}: queries keep failing ({exc}); run again to resume"
                    return None
                continue
            except TaskNotFoundError as exc:
                # A task we hold an id for: one "not found" may be the server's lag, not its loss.
                not_found += 1
                if not_found < retry.MAX_NOT_FOUND:
                    failures += 1
                    continue
                await self.writer.write(event("failed", *key, task_id=task_id, code=exc.code, reason=str(exc)))
                res.outcome, res.detail = "failed", str(exc)
                return None
            except ShotRejectedError as exc:
                await self.writer.write(event("failed", *key, task_id=task_id, code=exc.code, reason=str(exc)))
                res.outcome, res.detail = "failed", str(exc)
                return None
            failures = 0
            if status.status == "Success":
                if not status.file_id:
                    empty += 1
                    if empty >= retry.MAX_EMPTY_SUCCESS:
                        res.outcome, res.detail = "pending", (
                            f"task {task_id}: the server says Success but gives no file_id ({empty} times); "
                            f"run again later to fetch it (no new charge)")
                        return None
                    continue
                gen = None
                if fresh:  # how long it took, as far as polling can tell: in (seen_running, done]
                    done = (time.monotonic() - started) / scale
                    gen = [round(seen_running, 3), round(done, 3)]
                    self.gen.observe(gentime.Observation(cls, seen_running, done))
                    self._announce(cls)
                await self.writer.write(event("succeeded", *key, task_id=task_id, file_id=status.file_id,
                                              width=status.video_width, height=status.video_height, gen=gen))
                return status.file_id
            if status.status == "Fail":
                reason = f"generation failed: {status.message or 'no reason given'} ({status.code})"
                await self.writer.write(event("failed", *key, task_id=task_id, code=status.code, reason=reason))
                res.outcome, res.detail = "failed", reason
                return None
            seen_running = (sent - started) / scale
            last_status = status.status
            if not status.known and status.status not in self._warned_status:
                self._warned_status.add(status.status)
                log.warning("task %s: unknown status %r; polling on until the deadline", task_id, status.status)

    async def _first_poll(self, cls: gentime.Class, started: float, res: TakeResult, scout: list[bool],
                          capped: bool = True) -> float:
        """Seconds (time scale 1) after `started` to ask the task next; waits for news of its class
        while its scouts have nothing to tell, no longer than the prior (or old ledgers' bounds)
        unless `capped` is False (the task was asked then and was not done)."""
        if self.options.first_poll is not None:
            res.first_poll = self.options.first_poll
            return self.options.first_poll
        scale = self.options.time_scale
        while True:
            plan = self.gen.first_poll(cls, (time.monotonic() - started) / scale)
            if plan.source != "wait":
                break
            news = self._news.get(cls)
            if news is None:
                news = self._news[cls] = asyncio.Event()
            try:
                await asyncio.wait_for(news.wait(), max(0.0, started + plan.delay * scale - time.monotonic())
                                       if capped else None)
            except asyncio.TimeoutError:  # no news in time: asked at the prior (or the bounds)
                plan = gentime.FirstPoll(plan.delay, "learned")
                break
        scout[0] = scout[0] or plan.scout
        res.scout = scout[0]
        if res.first_poll is None:
            res.first_poll = plan.delay
        return float(plan.delay or 0.0)

    def _announce(self, cls: gentime.Class) -> None:
        news = self._news.pop(cls, None)
        if news is not None:
            news.set()

    async def _download(self, planned: PlannedTake, task_id: str | None, file_id: str, res: TakeResult) -> None:
        spec = planned.spec
        key = (spec.shot.id, spec.take, spec.fingerprint)
        final = self.out_dir / spec.filename
        final.parent.mkdir(parents=True, exist_ok=True)  # history/, for an earlier version's video
        part = store.part_path(final)
        failures = 0
        async with self.download_slots:
            self.on_phase(spec, "downloading")
            while True:
                try:
                    self._charge(res, "downloads")
                    await self.query_limiter.acquire()
                    info = await self.client.retrieve(file_id)
                    got = await self.client.download(info.download_url, part, expected_bytes=info.bytes or None)
                    await asyncio.to_thread(video.verify, part, _duration_of(spec), expected_bytes=info.bytes or None)
                    break
                except (asyncio.CancelledError, _OverBudget):
                    part.unlink(missing_ok=True)
                    raise
                except OSError as exc:
                    part.unlink(missing_ok=True)
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EPERM):
                        raise AbortError(f"cannot write {part}: {exc.strerror}; free space or fix permissions, "
                                         f"then run again (nothing is lost)") from exc
                    raise
                except UrlExpiredError:
                    failures += 1  # a fresh retrieve gives a fresh URL: no wait needed
                    problem: Exception | None = None
                except (TransientError, video.VideoError) as exc:
                    failures += 1
                    problem = exc
                except ShotRejectedError as exc:
                    part.unlink(missing_ok=True)
                    await self.writer.write(event("failed", *key, task_id=task_id, code=exc.code, reason=str(exc)))
                    res.outcome, res.detail = "failed", str(exc)
                    return
                part.unlink(missing_ok=True)
                if failures >= retry.MAX_READ_ATTEMPTS:
                    res.outcome = "pending"
                    res.detail = f"download keeps failing ({problem}); run again: no new charge"
                    return
                if problem is not None:
                    await self._sleep(retry.backoff_delay(failures, self.rng))
            await self._make_room(spec, final, got.sha256)
            mtime_ns = await asyncio.to_thread(store.publish, part, final)
        await self.writer.write(event(
            "downloaded", *key, task_id=task_id, file_id=file_id, file=spec.filename,
            bytes=got.bytes, sha256=got.sha256, mtime_ns=mtime_ns,
        ))
        res.outcome, res.file, res.task_id = "done", spec.filename, task_id
        res.detail = f"{spec.filename} ({store.human_size(got.bytes)})"
        if planned.creates:
            res.cost, res.created = planned.cost, True

    async def _make_room(self, spec: TakeSpec, final: Path, new_sha: str) -> None:
        """Move what is now at `final` (a video, or anything else) to history/ unless it is the very same file."""
        if not os.path.lexists(final) or (final.is_file() and store.sha256_of(final) == new_sha):
            return
        owners = [s for s in self.view.files_of(spec.shot.id, spec.take) if s.file == spec.filename]
        label = owners[0].fingerprint if owners else "unrecorded"
        moved = await asyncio.to_thread(store.archive, self.out_dir, final, label)
        rel = str(moved.relative_to(self.out_dir))
        for owner in owners:
            await self.writer.write(event("archived", owner.shot, owner.take, owner.fingerprint, to=rel))
        log.info("%s: previous video moved to %s", spec.label, rel)

    async def _sleep(self, seconds: float, scaled: bool = True) -> None:
        await asyncio.sleep(seconds * (self.options.time_scale if scaled else 1.0))


class _OverBudget(Exception):
    """A take spent its request budget (retry.request_budget): it stops, pending, with this reason."""


def _duration_of(spec: TakeSpec) -> float | None:
    return float(spec.shot.duration) if spec.shot.duration is not None else None


class _Slots:
    """A cap on tasks in flight; resumed tasks take a slot without waiting (they already run)."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.used = 0
        self._freed = asyncio.Event()

    async def acquire(self) -> None:
        while self.limit is not None and self.used >= self.limit:
            self._freed.clear()
            await self._freed.wait()
        self.used += 1

    def force_acquire(self) -> None:
        self.used += 1

    def release(self) -> None:
        self.used -= 1
        self._freed.set()


def _initial_result(planned: PlannedTake) -> TakeResult:
    state = planned.state
    if planned.action == "up to date":
        return TakeResult(planned.spec, "done", planned.reason, state.task_id, state.file)
    if planned.action == "failed: skipped":
        return TakeResult(planned.spec, "failed", state.reason or "failed before", state.task_id)
    if planned.action == "uncertain: skipped":
        return TakeResult(planned.spec, "uncertain", planned.reason, state.task_id)
    return TakeResult(planned.spec, "pending", "", state.task_id)
