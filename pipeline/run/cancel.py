"""`shots cancel`: cancel a manifest's v2 tasks that are still queued (free, per the API).

Only a queued task can be cancelled; a running one will finish and bill, and the next run
downloads it. A v2 DELETE of a finished task deletes it instead, so each task is asked first
and only a queued one is sent the DELETE. Each cancel is written to the ledger: the take is
then as if never created, and the next run submits it again (unless `--only` leaves it out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pipeline.minimax import catalogue
from pipeline.minimax.apierrors import ApiError, ShotRejectedError, TaskNotFoundError
from pipeline.run.ledger import event

if TYPE_CHECKING:
    from pipeline.minimax.dialects import Clients
    from pipeline.run.ledger import LedgerView, LedgerWriter
    from pipeline.run.plan import TakeSpec

Result = Literal["cancelled", "running", "finished", "v1", "gone", "error"]


@dataclass(frozen=True)
class Cancelled:
    """What became of one take's task."""

    label: str
    task_id: str
    result: Result
    detail: str


def in_flight(specs: list[TakeSpec], view: LedgerView) -> list[tuple[TakeSpec, str]]:
    """The takes whose task was created and has not been seen finished: (spec, task id)."""
    out = []
    for spec in specs:
        state = view.get(*spec.ledger_key)
        if state.state == "submitted" and state.task_id:
            out.append((spec, state.task_id))
    return out


async def cancel_queued(specs: list[TakeSpec], view: LedgerView, client: Clients,
                        writer: LedgerWriter) -> list[Cancelled]:
    """Ask each take's task; cancel the queued ones and record it; say what became of each."""
    done = []
    for spec, task_id in in_flight(specs, view):
        done.append(await _cancel_one(spec, task_id, client, writer))
    return done


async def _cancel_one(spec: TakeSpec, task_id: str, client: Clients, writer: LedgerWriter) -> Cancelled:
    label = spec.label
    if catalogue.api_of(spec.shot.model) != "v2":
        return Cancelled(label, task_id, "v1", "a v1 task cannot be cancelled; it finishes and bills")
    try:
        status = await client.v2.query(task_id)
        if status.raw_status == "running":
            return Cancelled(label, task_id, "running", _RUNNING)
        if status.raw_status != "queued":
            return Cancelled(label, task_id, "finished",
                             f"already {status.raw_status or status.status}; the next run fetches it")
        action, _ = await client.v2.cancel(task_id)
    except TaskNotFoundError as exc:
        return Cancelled(label, task_id, "gone", f"the server no longer knows the task ({exc})")
    except ShotRejectedError as exc:  # started between the query and the DELETE
        return Cancelled(label, task_id, "running", f"{_RUNNING} ({exc})")
    except ApiError as exc:
        return Cancelled(label, task_id, "error", f"not cancelled: {exc}")
    if action != "cancelled":
        return Cancelled(label, task_id, "error", f"the server answered '{action}', not 'cancelled'")
    await writer.write(event("cancelled", *spec.ledger_key, task_id=task_id))
    return Cancelled(label, task_id, "cancelled", "cancelled while queued (free); the next run submits it again")


_RUNNING = "it cannot be cancelled any more: it finishes (and is billed, on the real API); the next run downloads it"
