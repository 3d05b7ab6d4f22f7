"""One take of an image shot: a still from the image API, written to disk in the same breath.

The image API is synchronous and not idempotent (minimax-api-v2.md B1): the answer carries the
picture and there is no task to ask for it again. So the ledger goes intent -> downloaded (with
the answer's id as the task id): an answer lost in transit, or a crash before the still is on
disk, leaves the take uncertain, never silently paid for twice. Nothing here polls.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.minimax.client import (
    RateLimitError,
    ShotRejectedError,
    TransientError,
    UncertainCreateError,
)
from pipeline.run import retry, store
from pipeline.run.job import TakeJob
from pipeline.run.ledger import event

log = logging.getLogger("shots.runner")

WITHHELD = "the image API withheld the still (failed_count 1: its safety check); change the prompt"


class StillError(Exception):
    """The answer's bytes are not a picture we can keep."""


class ImageJob(TakeJob):
    """An image shot's take: one request, one still. Shares TakeJob's budget and history rules."""

    async def _work(self) -> None:
        ctx, res = self.ctx, self.res
        try:
            if self.planned.creates:
                await self._make_still()
            else:  # nothing else can be done for a still: classify makes a missing one a create
                res.outcome, res.detail = "pending", f"{self.planned.action}: nothing to do for a still"
        finally:
            if self.planned.creates:
                ctx.pacer.in_flight.release()

    async def _make_still(self) -> None:
        ctx, res, spec = self.ctx, self.res, self.spec
        try:
            body = await asyncio.to_thread(ctx.body_of, spec)
        except InputError as exc:  # the subject image changed or vanished since the plan; nothing was sent
            res.outcome, res.detail = "failed", f"{exc}; fix it and run again"
            return
        failures = rate_limited = 0
        while True:
            self._charge("image requests")
            try:
                async with ctx.pacer.image_turn():
                    if ctx.stopping():
                        res.detail = "not requested: the run was stopped"
                        return
                    ctx.on_phase(spec, "creating")
                    critical = asyncio.ensure_future(self._request_once(body))
                    ctx.critical.add(critical)
                    critical.add_done_callback(ctx.critical.discard)
                    await asyncio.shield(critical)
                return
            except RateLimitError as exc:  # the answer proves no image was made
                ctx.totals.rate_limited += 1
                rate_limited += 1
                if rate_limited >= retry.MAX_RATE_LIMITED:
                    res.outcome, res.detail = "pending", (
                        f"the image API answered 'rate limited' {rate_limited} times in a row ({exc}); "
                        f"no image was made: run again later")
                    return
                delay = retry.backoff_delay(rate_limited, ctx.rng, base=retry.RATE_LIMIT_BACKOFF_BASE)
                ctx.on_news(spec, "retrying", f"rate limited ({exc}); asking again in {delay:.0f} s")
                await ctx.clock.sleep(delay)
            except TransientError as exc:  # proven: no image was made
                failures += 1
                if failures >= retry.MAX_CREATE_ATTEMPTS:
                    res.outcome, res.detail = "failed", f"the image request kept failing: {exc}; run again to retry"
                    return
                delay = retry.backoff_delay(failures, ctx.rng)
                ctx.on_news(spec, "retrying", f"image request failed ({exc}), no image was made; "
                                              f"asking again in {delay:.0f} s")
                await ctx.clock.sleep(delay)
            except UncertainCreateError as exc:
                res.outcome, res.detail = "uncertain", str(exc)
                return
            except (ShotRejectedError, StillError) as exc:
                res.outcome, res.detail = "failed", str(exc)
                return

    async def _request_once(self, body: dict[str, Any]) -> None:
        """intent -> POST -> the still on disk -> downloaded. Runs to the end even if the take is cancelled."""
        ctx, key, spec, res = self.ctx, self.key, self.spec, self.res
        answer = await self._recorded_create(
            lambda: ctx.client.images.generate(body, hints={"shot": spec.shot.id, "take": spec.take}))
        res.task_id, res.task_made = answer.id, True
        if not answer.images:
            await ctx.writer.write(event("create_failed", *key, final=True, code="withheld", reason=WITHHELD))
            raise ShotRejectedError(WITHHELD)
        data = answer.images[0]
        final = ctx.out_dir / spec.filename
        try:
            size = await asyncio.to_thread(_write_still, data, final)
            sha = hashlib.sha256(data).hexdigest()
            await self._make_room(final, sha)
            mtime_ns = await asyncio.to_thread(store.publish, store.part_path(final), final)
        except OSError as exc:  # a full disk, a folder gone: the still was made and billed
            reason = (f"the image API made the still (billed), but it could not be saved: {exc.strerror or exc}; "
                      f"free the space, then --resubmit-uncertain asks for it again")
            await ctx.writer.write(event("uncertain", *key, reason=reason))
            raise UncertainCreateError(reason) from None
        except StillError as exc:
            reason = f"the image API's answer is not a picture ({exc}); it was billed: run with --retry-failed " \
                     f"to ask again"
            await ctx.writer.write(event("create_failed", *key, final=True, code="bad_image", reason=reason))
            raise StillError(reason) from None
        await ctx.writer.write(event("downloaded", *key, task_id=answer.id, file=spec.filename, bytes=len(data),
                                     sha256=sha, mtime_ns=mtime_ns))
        res.outcome, res.file, res.sha256 = "done", spec.filename, sha
        res.detail = f"{spec.filename} ({size[0]}x{size[1]}, {store.human_size(len(data))})"
        res.cost, res.created = self.planned.cost, True
        ctx.on_news(spec, "submitted", f"image {answer.id}")


def _write_still(data: bytes, final: Path) -> tuple[int, int]:
    """Check the bytes decode as a picture, then write them as `.part`, fsynced. Its (width, height)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            size = picture.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise StillError(str(exc) or type(exc).__name__) from None
    final.parent.mkdir(parents=True, exist_ok=True)
    part = store.part_path(final)
    with open(part, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return size
