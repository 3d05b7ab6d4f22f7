"""One take's job: create -> poll -> download, each step written to the ledger before it is acted on.

The intent-create-record step runs shielded: an interrupt waits for the create's answer instead
of losing a billed task id. Its retries stay hand-written (a proven refusal, a rate limit and an
uncertain answer each mean something else); the reads (queries, retrieve and download) share
one count of consecutive failures (retry.ReadFailures).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal

from pipeline.errors import AbortError, InputError, ShotsError
from pipeline.minimax.client import (
    AccountError,
    RateLimitError,
    ShotRejectedError,
    TaskNotFoundError,
    TransientError,
    UncertainCreateError,
    UrlExpiredError,
)
from pipeline.minimax import catalogue
from pipeline.run import gentime, retry, store, video
from pipeline.run.ledger import event
from pipeline.run.lookup import TaskFinder
from pipeline.run.reconcile import Adopt, Ambiguous, Lost, NoTask, Wait, shape_of
from pipeline.run.status import Action, uncertain_why

if TYPE_CHECKING:
    from pipeline.minimax.client import Download, MiniMaxClient, TaskStatus
    from pipeline.run.clock import Clock
    from pipeline.run.ledger import LedgerView, LedgerWriter
    from pipeline.run.options import RunOptions
    from pipeline.run.pacer import Pacer
    from pipeline.run.plan import PlannedTake, TakeSpec
    from pipeline.run.result import RunResult, TakeResult

log = logging.getLogger("shots.runner")

NO_ROOM = ""  # _send_create's answer when the cap on tasks at once is full: wait for a slot, then create
LOOK_UPS = 4  # passes over the task list for one lost create before it is left uncertain

# What a take's job reports besides its phase, each with a line of detail: the events a log of the
# run shows (submitted, resumed, retrying, and the outcome), and the decisions `-v` adds.
NewsKind = Literal["submitted", "resumed", "retrying", "done", "failed", "uncertain", "pending", "decision"]


def no_news(spec: TakeSpec, kind: NewsKind, detail: str) -> None:
    pass


class ClassNews:
    """One event per generation-time class, set (and replaced) when the class learns something."""

    def __init__(self) -> None:
        self._events: dict[gentime.Class, asyncio.Event] = {}

    def event(self, cls: gentime.Class) -> asyncio.Event:
        """The event the next news of `cls` sets (made now, so no news between here and the wait is missed)."""
        news = self._events.get(cls)
        if news is None:
            news = self._events[cls] = asyncio.Event()
        return news

    def announce(self, cls: gentime.Class) -> None:
        news = self._events.pop(cls, None)
        if news is not None:
            news.set()


@dataclass
class JobContext:
    """What every take's job of a run shares: the server, the ledger, the clock and the pacer, the
    generation-time learner, and the run's totals and state (owned by the Runner)."""

    client: MiniMaxClient
    writer: LedgerWriter
    view: LedgerView
    out_dir: Path
    body_of: Callable[[TakeSpec], dict[str, Any]]  # the take's API body, its inputs as planned
    options: RunOptions
    clock: Clock
    pacer: Pacer
    gen: gentime.GenTimes
    rng: random.Random
    on_phase: Callable[[TakeSpec, str], None]
    totals: RunResult  # creates and rate-limit answers are counted here
    stopping: Callable[[], bool]  # no new creates once True
    abort: Callable[[ShotsError], None]  # an account or disk problem: the run stops
    news: ClassNews = field(default_factory=ClassNews)
    critical: set[asyncio.Task[str]] = field(default_factory=set)  # creates in transit: the run waits for them
    warned_status: set[str] = field(default_factory=set)  # unknown statuses already logged
    on_news: Callable[[TakeSpec, NewsKind, str], None] = no_news
    finder: TaskFinder | None = None  # looks lost v2 creates up in the task list


class _OverBudget(Exception):
    """A take spent its request budget (retry.request_budget): it stops, pending, with this reason."""


class _Again(Enum):
    AGAIN = "again"


AGAIN = _Again.AGAIN  # a read's answer that says: ask again


@dataclass
class _Polling:
    """One task's polling so far. Times are API seconds on the run's clock."""

    cls: gentime.Class
    fresh: bool  # created in this run: its generation time is learned from, its first poll planned
    started: float  # the create's answer (for a resumed task: when this run took it up)
    reads: retry.ReadFailures
    learned: bool  # polled as its class's learned generation time says (not at a fixed interval)
    plan_first: bool  # the next wait is the first poll's, from the learner
    polls: int = 0  # -1: a resumed task, asked at once
    not_found: int = 0
    empty: int = 0  # "Success" answers without a file_id
    catch_ups: int = 0
    scout: bool = False  # one of its class's scouts: its place is handed on however the polling ends
    last_status: str = "unfinished"
    seen_running: float = 0.0  # after `started`, when the last answer "not yet" was asked
    sent: float = 0.0  # when the latest query was sent


class TakeJob:
    """One take of a run, from its create (or its task, or its file) to its video on disk."""

    def __init__(self, ctx: JobContext, planned: PlannedTake, res: TakeResult):
        self.ctx = ctx
        self.planned = planned
        self.spec = planned.spec
        self.res = res
        self.key = planned.spec.ledger_key
        self.adopted = False  # the task was found in the v2 task list, not answered to our create
        self.sent_at: float | None = None  # wall time of this run's last create intent

    async def run(self) -> None:
        """The take's work (`_work`), with what every kind of take does when it ends: an account
        problem stops the run, a spent budget or a bug leaves the take pending, saying why."""
        ctx, res = self.ctx, self.res
        res.began = ctx.clock.now()
        try:
            await self._work()
        except (AccountError, AbortError) as exc:
            ctx.abort(exc)
        except _OverBudget as exc:
            res.outcome, res.detail = "pending", str(exc)
        except asyncio.CancelledError:
            if res.outcome == "pending" and not res.detail:
                res.detail = "interrupted; the next run resumes it"
            raise
        except Exception as exc:  # a bug, not a shot's fault: report it, keep the other takes going
            log.exception("%s: unexpected error", self.spec.label)
            res.outcome, res.detail = "pending", f"unexpected error ({type(exc).__name__}: {exc}); run again"
        finally:
            ctx.on_phase(self.spec, res.outcome)
            ctx.on_news(self.spec, res.outcome, res.detail)

    async def _work(self) -> None:
        """create -> poll -> download, or the part of it the plan leaves."""
        ctx, planned = self.ctx, self.planned
        state = planned.state
        live = False  # a task of this run's on the server, counted in pacer.live
        try:
            if planned.creates:
                task_id = await self._create()
                if task_id is None:
                    return
                ctx.pacer.live, live = ctx.pacer.live + 1, True
                file_id = await self._poll(task_id, fresh=not self.adopted)
            elif planned.action == Action.POLL:
                ctx.pacer.in_flight.force_acquire()
                ctx.pacer.live, live = ctx.pacer.live + 1, True
                task_id = state.task_id
                ctx.on_news(self.spec, "resumed", f"polling task {task_id} (submitted in an earlier run)")
                file_id = await self._poll(task_id, fresh=False)
            else:
                task_id, file_id = state.task_id, state.file_id
        finally:
            if planned.creates or planned.action == Action.POLL:
                ctx.pacer.in_flight.release()
            if live:
                ctx.pacer.live -= 1
        if file_id is not None:
            await self._download(task_id, file_id)

    def _charge(self, what: str) -> None:
        """Count one request of the take; past its budget the take stops, pending, saying why."""
        res = self.res
        res.requests += 1
        elapsed = self.ctx.clock.now() - res.began
        if res.requests > retry.request_budget(elapsed, self.ctx.options.poll_interval):
            raise _OverBudget(f"{res.requests} requests in {elapsed:.0f} s ({what}) without getting anywhere; "
                              f"the server misbehaves: run again later to resume (no new charge)")

    async def _fail(self, task_id: str | None, code: int, reason: str) -> None:
        """The server says the take's task or file is lost for good: record it, the take failed."""
        await self.ctx.writer.write(event("failed", *self.key, task_id=task_id, code=code, reason=reason))
        self.res.outcome, self.res.detail = "failed", reason

    # -- create ---------------------------------------------------------------------------

    async def _create(self) -> str | None:
        ctx, res, spec = self.ctx, self.res, self.spec
        if self.planned.action == Action.LOOK_UP:  # a create of an earlier run lost its answer
            earlier = lost_earlier(self.planned)
            found = await self._look_up(earlier.sent_at, earlier.lost_at, uncertain_why(self.planned.state))
            if found is not None:
                return found or None
        try:
            body = await asyncio.to_thread(ctx.body_of, spec)
        except InputError as exc:  # an image changed or vanished since the plan; nothing was sent
            res.outcome, res.detail = "failed", f"{exc}; fix it and run again"
            return None
        proven_failures = rate_limited = 0
        while True:
            self._charge("creates")
            try:
                task_id = await self._send_create(body)
                if task_id == NO_ROOM:  # the cap was lowered (a 429) after this take got its slot
                    await ctx.pacer.in_flight.wait_for_room()
                    continue
                if task_id is None:
                    res.detail = "not submitted: the run was stopped"
                    return None
            except RateLimitError as exc:
                if ctx.pacer.over_capacity(exc):
                    ctx.totals.rate_limited += 1
                    ctx.on_news(spec, "retrying", f"the account has as many tasks at once as it may ({exc}); "
                                                  f"creating again when one of this run's tasks ends")
                    ctx.on_news(spec, "decision", f"at most {ctx.pacer.in_flight.limit} tasks at once")
                    await ctx.pacer.in_flight.wait_for_room()
                    continue
                ctx.totals.rate_limited += 1
                rate_limited += 1
                if rate_limited >= retry.MAX_RATE_LIMITED:
                    res.outcome, res.detail = "pending", (
                        f"the server answered 'rate limited' to {rate_limited} creates in a row ({exc}); no task "
                        f"was made: lower --rpm or run again later")
                    return None
                ctx.pacer.rate_limited()
                delay = retry.backoff_delay(proven_failures, ctx.rng, base=retry.RATE_LIMIT_BACKOFF_BASE)
                ctx.on_news(spec, "retrying", f"rate limited ({exc}); create again in {delay:.0f} s")
                ctx.on_news(spec, "decision", f"slowing to {ctx.pacer.rate.rate:.1f} creates per minute")
                await ctx.clock.sleep(delay)
                continue
            except UncertainCreateError as exc:
                if ctx.finder is None or catalogue.api_of(spec.shot.model) != "v2" or self.sent_at is None:
                    res.outcome, res.detail = "uncertain", str(exc)
                    return None
                found = await self._look_up(self.sent_at, time.time(), str(exc))
                if found is not None:
                    return found or None
                continue
            except TransientError as exc:
                proven_failures += 1
                if proven_failures >= retry.MAX_CREATE_ATTEMPTS:
                    res.outcome, res.detail = "failed", f"create kept failing: {exc}; run again to retry"
                    return None
                delay = retry.backoff_delay(proven_failures, ctx.rng)
                ctx.on_news(spec, "retrying", f"create failed ({exc}), no task was made; "
                                              f"create again in {delay:.0f} s")
                await ctx.clock.sleep(delay)
                continue
            except ShotRejectedError as exc:
                res.outcome, res.detail = "failed", str(exc)
                return None
            ctx.pacer.created()
            res.task_id, res.task_made, res.cost = task_id, True, self.planned.cost
            ctx.on_news(spec, "submitted", f"task {task_id}")
            return task_id

    async def _send_create(self, body: dict[str, Any]) -> str | None:
        """Wait for the create's turn, then intent -> POST -> record, shielded from cancellation."""
        ctx = self.ctx
        async with ctx.pacer.create_turn():
            if ctx.stopping():
                return None
            if ctx.pacer.in_flight.over:
                return NO_ROOM
            ctx.on_phase(self.spec, "creating")
            critical = asyncio.ensure_future(self._create_once(body))
            ctx.critical.add(critical)
            critical.add_done_callback(ctx.critical.discard)
            return await asyncio.shield(critical)

    async def _create_once(self, body: dict[str, Any]) -> str:
        """intent -> POST -> record the answer. Runs to completion even if the take is cancelled."""
        ctx, key = self.ctx, self.key
        self.sent_at = time.time()
        task_id = await self._recorded_create(
            lambda: ctx.client.create(body, hints={"shot": self.spec.shot.id, "take": self.spec.take}))
        ctx.pacer.accepted_creates.record()
        if ctx.finder is not None:
            ctx.finder.claim(task_id)
        await ctx.writer.write(event("submitted", *key, task_id=task_id))
        return task_id

    async def _recorded_create(self, send: Callable[[], Awaitable[Any]]) -> Any:
        """The ledger's rule for any create (a video's or a still's): the intent written before it
        is sent; a lost answer recorded uncertain, a refusal failed (for good, or not: no task was
        made). The answer is the caller's to record."""
        ctx, key = self.ctx, self.key
        await ctx.writer.write(event("intent", *key, req=self.spec.request, cost=self.planned.cost))
        ctx.totals.creates += 1
        try:
            return await send()
        except UncertainCreateError as exc:
            await ctx.writer.write(event("uncertain", *key, reason=str(exc)))
            raise
        except (ShotRejectedError, AccountError) as exc:
            await ctx.writer.write(event("create_failed", *key, final=isinstance(exc, ShotRejectedError),
                                         code=exc.code, reason=str(exc)))
            raise
        except TransientError as exc:  # proven: no task was made
            await ctx.writer.write(event("create_failed", *key, final=False, code=exc.code, reason=str(exc)))
            raise

    async def _look_up(self, sent_at: float, lost_at: float, why: str) -> str | None:
        """Find the lost create's task in the v2 task list. The task id: adopted (recorded, then
        polled, never paid again). None: no task was made (recorded; create it again). "": the
        take stays uncertain (several tasks fit, or the list cannot be read), the reason set."""
        ctx, spec, res = self.ctx, self.spec, self.res
        if ctx.finder is None:
            res.outcome, res.detail = "uncertain", why
            return ""
        lost = Lost(self.key, shape_of(spec.request), sent_at, lost_at)
        ctx.on_phase(spec, "creating")
        ctx.on_news(spec, "retrying", "its create's answer was lost: looking for its task in the v2 task list")
        ctx.finder.lost(lost)
        try:
            return await self._look_up_passes(lost, why)
        finally:
            ctx.finder.settled(lost)

    async def _look_up_passes(self, lost: Lost, why: str) -> str | None:
        ctx, spec, res = self.ctx, self.spec, self.res
        assert ctx.finder is not None
        verdict = None
        for _ in range(LOOK_UPS):
            self._charge("task list look-ups")
            try:
                async with ctx.pacer.no_create_in_transit():  # no task of this run is unanswered
                    verdict = await ctx.finder.verdict(lost)
            except (TransientError, ShotRejectedError) as exc:
                verdict = None
                ctx.on_news(spec, "retrying", f"the task list could not be read ({exc}); asking again")
            if isinstance(verdict, Adopt):
                self.adopted = True
                res.task_id, res.task_made, res.cost = verdict.task_id, True, self.planned.cost
                await ctx.writer.write(event("submitted", *self.key, task_id=verdict.task_id, adopted=True))
                ctx.on_news(spec, "submitted", f"task {verdict.task_id}, found in the task list after its "
                                               f"create answer was lost (no new charge)")
                return verdict.task_id
            if isinstance(verdict, NoTask):
                reason = "the create's answer was lost and the task list shows no such task: no task was made"
                await ctx.writer.write(event("create_failed", *self.key, final=False, reason=reason))
                ctx.on_news(spec, "retrying", f"{reason}; creating it again")
                return None
            if isinstance(verdict, Ambiguous):
                ctx.on_news(spec, "decision", f"{len(verdict.task_ids)} listed tasks fit; looking again")
            wait = max(0.0, verdict.until - time.time() if isinstance(verdict, Wait) else ctx.finder.lag)
            ctx.on_news(spec, "decision", f"asking the task list again in {wait / ctx.clock.scale:.0f} s "
                                          f"(a new task may take a moment to be listed)")
            await ctx.clock.sleep(wait / ctx.clock.scale)  # wall seconds -> the clock's API seconds
        if isinstance(verdict, Ambiguous):
            why = f"{why}; the task list has {len(verdict.task_ids)} tasks that fit it " \
                  f"({', '.join(verdict.task_ids)}), so none is taken for it"
        res.outcome, res.detail = "uncertain", why
        return ""

    # -- poll -----------------------------------------------------------------------------

    async def _poll(self, task_id: str, fresh: bool) -> str | None:
        """Poll until Success or Fail. A task created in this run is asked when its class's learned
        generation time says (pipeline/run/gentime.py), and what it shows feeds that estimate."""
        ctx = self.ctx
        cls = gentime.task_class(self.spec.request)
        ctx.on_phase(self.spec, "generating")
        polling = _Polling(cls, fresh, ctx.clock.now(), retry.ReadFailures(ctx.rng),
                           learned=fresh and ctx.options.first_poll is None, plan_first=fresh,
                           polls=0 if fresh else -1)  # a resumed task is asked at once
        try:
            return await self._poll_until_done(task_id, polling)
        finally:
            if polling.scout:
                ctx.gen.scout_ended(cls)
                ctx.news.announce(cls)

    async def _poll_until_done(self, task_id: str, p: _Polling) -> str | None:
        ctx = self.ctx
        deadline = p.started + retry.POLL_DEADLINE
        while True:
            delay = await self._delay(p)
            if delay is None:  # nothing known of the class yet: news came, plan the first poll again
                continue
            if p.reads.count:
                delay = max(delay, p.reads.backoff())
            if p.polls >= 0:
                await ctx.clock.sleep(max(delay, 0.0))
            if ctx.clock.now() > deadline:
                self.res.outcome = "pending"
                self.res.detail = (f"task {task_id} still {p.last_status} after the polling deadline; "
                                   f"run again to resume")
                return None
            p.polls = max(p.polls, 0) + 1
            status = await self._query(task_id, p)
            if status is AGAIN:
                continue
            if status is None:
                return None
            found = await self._on_status(task_id, status, p)
            if found is not AGAIN:
                return found

    async def _delay(self, p: _Polling) -> float | None:
        """Seconds until the next query. None: the class has nothing to go by yet (plan its first poll again)."""
        ctx = self.ctx
        interval = ctx.options.poll_interval
        if ctx.pacer.in_flight.waiting and p.fresh:
            # Creates wait for a slot (the account's cap on tasks at once): a finish seen an interval
            # sooner starts the next task an interval sooner, so poll every interval, as a scout does
            # (still within ceil(generation / interval) + 1 queries).
            delay = retry.poll_delay(max(p.polls, 1), ctx.rng, interval=interval)
            if p.plan_first and self.res.first_poll is None:
                self.res.first_poll = ctx.clock.now() + delay - p.started
            p.plan_first = False
            return delay
        if p.plan_first:  # when the class's estimate (or its scouts, or the prior) says
            first = await self._first_poll(p, capped=p.polls == 0)
            # Never before the budget allows: the k-th poll at least k - 1 intervals in.
            due = p.started + max(first, p.polls * interval) + retry.poll_delay(0, ctx.rng, first=0.0,
                                                                                 interval=interval)
            p.plan_first = False
            return due - ctx.clock.now()
        if p.polls > 0:  # every interval; sooner once running past what its class showed
            step, catch_up = (ctx.gen.next_poll(p.cls, ctx.clock.now() - p.started, p.polls, p.catch_ups, p.scout)
                              if p.learned else (interval, False))
            if step is None:
                p.plan_first = True
                return None
            p.catch_ups += catch_up
            return retry.poll_delay(p.polls, ctx.rng, interval=step)
        return 0.0

    async def _first_poll(self, p: _Polling, capped: bool = True) -> float:
        """Seconds after `p.started` to ask the task next; waits for news of its class while its
        scouts have nothing to tell, no longer than the prior (or old ledgers' bounds) unless
        `capped` is False (the task was asked then and was not done)."""
        ctx, res = self.ctx, self.res
        if ctx.options.first_poll is not None:
            res.first_poll = ctx.options.first_poll
            ctx.on_news(self.spec, "decision",
                        f"first poll {ctx.options.first_poll:.0f} s after the create (--first-poll)")
            return ctx.options.first_poll
        waited = False
        while True:
            plan = ctx.gen.first_poll(p.cls, ctx.clock.now() - p.started)
            why = _WHY_FIRST[plan.source]
            if plan.source != "wait":
                break
            news = ctx.news.event(p.cls)
            if not waited:
                ctx.on_news(self.spec, "decision", "waiting for another take of its class to show a generation time")
                waited = True
            try:
                await ctx.clock.wait_for(news.wait(), max(0.0, p.started + plan.delay - ctx.clock.now())
                                         if capped else None)
            except asyncio.TimeoutError:  # no news in time: asked at the prior (or the bounds)
                plan = gentime.FirstPoll(plan.delay, "learned")
                break
        p.scout = p.scout or plan.scout
        res.scout = p.scout
        ctx.on_news(self.spec, "decision", f"first poll {plan.delay or 0.0:.0f} s after the create ({why})")
        if res.first_poll is None:
            res.first_poll = plan.delay
        return float(plan.delay or 0.0)

    async def _query(self, task_id: str, p: _Polling) -> TaskStatus | None | _Again:
        """Ask once. None: the take ended here (failed, or pending with the reason set)."""
        ctx, res = self.ctx, self.res
        self._charge("queries")
        await ctx.pacer.queries.acquire()
        res.queries += 1
        p.sent = ctx.clock.now()
        try:
            return await ctx.client.query(task_id)
        except TransientError as exc:
            if p.reads.add():
                res.outcome, res.detail = "pending", f"task {task_id}: queries keep failing ({exc}); run again to resume"
                return None
            ctx.on_news(self.spec, "retrying", f"query of task {task_id} failed ({exc}); asking again")
            return AGAIN
        except TaskNotFoundError as exc:
            # A task we hold an id for: one "not found" may be the server's lag, not its loss.
            p.not_found += 1
            if p.not_found < retry.MAX_NOT_FOUND:
                p.reads.add()
                return AGAIN
            await self._fail(task_id, exc.code, str(exc))
            return None
        except ShotRejectedError as exc:
            await self._fail(task_id, exc.code, str(exc))
            return None

    async def _on_status(self, task_id: str, status: TaskStatus, p: _Polling) -> str | None | _Again:
        """What an answer means: the file id, None (the take ended here), or AGAIN (not done yet)."""
        ctx, res = self.ctx, self.res
        p.reads.reset()
        if status.status == "Success":
            if not status.file_id:
                p.empty += 1
                if p.empty >= retry.MAX_EMPTY_SUCCESS:
                    res.outcome, res.detail = "pending", (
                        f"task {task_id}: the server says Success but gives no file_id ({p.empty} times); "
                        f"run again later to fetch it (no new charge)")
                    return None
                return AGAIN
            gen = None
            if p.fresh:  # how long it took, as far as polling can tell: in (seen_running, done]
                done = ctx.clock.now() - p.started
                gen = [round(p.seen_running, 3), round(done, 3)]
                ctx.gen.observe(gentime.Observation(p.cls, p.seen_running, done))
                ctx.news.announce(p.cls)
            await ctx.writer.write(event("succeeded", *self.key, task_id=task_id, file_id=status.file_id,
                                         width=status.video_width, height=status.video_height, gen=gen))
            return status.file_id
        if status.status == "Fail":
            await self._fail(task_id, status.code,
                             f"generation failed: {status.message or 'no reason given'} ({status.code})")
            return None
        p.seen_running = p.sent - p.started
        p.last_status = status.status
        ctx.on_news(self.spec, "decision", f"poll {p.polls}: {status.status}")
        if not status.known and status.status not in ctx.warned_status:
            ctx.warned_status.add(status.status)
            log.warning("task %s: unknown status %r; polling on until the deadline", task_id, status.status)
        return AGAIN

    # -- download -------------------------------------------------------------------------

    async def _download(self, task_id: str | None, file_id: str) -> None:
        ctx, spec, res = self.ctx, self.spec, self.res
        final = ctx.out_dir / spec.filename
        final.parent.mkdir(parents=True, exist_ok=True)  # history/, for an earlier version's video
        part = store.part_path(final)
        async with ctx.pacer.download_slots:
            ctx.on_phase(spec, "downloading")
            fetched = await self._fetch(task_id, file_id, part)
            if fetched is None:
                return
            got, probed = fetched
            await self._make_room(final, got.sha256)
            mtime_ns = await asyncio.to_thread(store.publish, part, final)
        await ctx.writer.write(event(
            "downloaded", *self.key, task_id=task_id, file_id=file_id, file=spec.filename,
            bytes=got.bytes, sha256=got.sha256, mtime_ns=mtime_ns,
            seconds=round(probed.duration, 3),
        ))
        res.outcome, res.file, res.task_id, res.sha256 = "done", spec.filename, task_id, got.sha256
        res.detail = f"{spec.filename} ({store.human_size(got.bytes)})"
        if self.planned.creates:
            res.cost, res.created = self.planned.cost, True
        elif self.planned.action == Action.POLL:  # the run that created it said "billed when it finishes"
            res.cost, res.followed = self.planned.state.cost, True

    async def _fetch(self, task_id: str | None, file_id: str, part: Path) -> tuple[Download, video.VideoInfo] | None:
        """Retrieve the file and download it to `part`, verified and probed. None: the take ended here."""
        ctx = self.ctx
        reads = retry.ReadFailures(ctx.rng)
        while True:
            try:
                self._charge("downloads")
                await ctx.pacer.queries.acquire()
                info = await ctx.client.retrieve(file_id)
                got = await ctx.client.download(info.download_url, part, expected_bytes=info.bytes or None)
                probed = await asyncio.to_thread(video.verify, part, _expected(self.spec),
                                                 expected_bytes=info.bytes or None, audio=_has_audio(self.spec))
                return got, probed
            except (asyncio.CancelledError, _OverBudget):
                part.unlink(missing_ok=True)
                raise
            except OSError as exc:
                part.unlink(missing_ok=True)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EPERM):
                    raise AbortError(f"cannot write {part}: {exc.strerror}; free space or fix permissions, "
                                     f"then run again (nothing is lost)") from exc
                raise
            except (TransientError, video.VideoError) as exc:
                problem: Exception = exc  # an expired URL too: the user is told the last reason
            except ShotRejectedError as exc:
                part.unlink(missing_ok=True)
                await self._fail(task_id, exc.code, str(exc))
                return None
            part.unlink(missing_ok=True)
            if reads.add():
                self.res.outcome = "pending"
                self.res.detail = f"download keeps failing ({problem}); run again: no new charge"
                return None
            ctx.on_news(self.spec, "retrying", f"download failed ({problem}); fetching it again")
            if not isinstance(problem, UrlExpiredError):  # a fresh retrieve gives a fresh URL: no wait
                await ctx.clock.sleep(reads.backoff())

    async def _make_room(self, final: Path, new_sha: str) -> None:
        """Move what is now at `final` (a video, or anything else) to history/ unless it is the very same file."""
        ctx, spec = self.ctx, self.spec
        if not os.path.lexists(final) or (final.is_file() and store.sha256_of(final) == new_sha):
            return
        owners = [s for s in ctx.view.files_of(spec.shot.id, spec.take) if s.file == spec.filename]
        label = owners[0].fingerprint if owners else "unrecorded"
        moved = await asyncio.to_thread(store.archive, ctx.out_dir, final, label)
        rel = str(moved.relative_to(ctx.out_dir))
        self.res.archived = rel
        for owner in owners:
            await ctx.writer.write(event("archived", owner.shot, owner.take, owner.fingerprint, to=rel))
        log.info("%s: previous video moved to %s", spec.label, rel)


def lost_earlier(planned: PlannedTake, now: float | None = None) -> Lost:
    """An earlier run's lost create, as the task list is searched for it. Killed mid-create, the
    create may have reached the server any time until now (an upload of inlined media has no
    fixed bound): then its window runs to this moment."""
    state = planned.state
    lost_at = state.updated if state.state == "uncertain" else (time.time() if now is None else now)
    return Lost(planned.spec.ledger_key, shape_of(planned.spec.request), state.intent_at or 0.0, lost_at)


_WHY_FIRST = {"learned": "its class's learned generation time", "scout": "a scout: polled every interval",
              "prior": "no generation time learned yet", "wait": "no news of its class in time"}  # FirstPoll.source


def _expected(spec: TakeSpec) -> video.Expected | None:
    """The clip the shot's model makes for its duration (None: the duration is not known)."""
    if spec.shot.duration is None:
        return None
    return video.Expected.of(catalogue.api_of(spec.shot.model), float(spec.shot.duration), spec.shot.resolution)


def _has_audio(spec: TakeSpec) -> bool:
    """v2 (H3) videos carry a native stereo track (minimax-api-v2.md A10); v1 videos none."""
    return catalogue.api_of(spec.shot.model) == "v2"
