"""Text and JSON views of plans, run results and ledger status. Pure: strings and dicts out."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.review import chainview
from pipeline.run.ledger import LedgerView
from pipeline.run.plan import Budget, Plan, TakeSpec, make_plan
from pipeline.run.result import RunResult, TakeResult
from pipeline.run.status import Action, classify


def money(value: float | None) -> str:
    """'$0.28'; a price under a cent keeps its digits ('$0.0035': an image-01 still), never '$0.00'."""
    if value is None:
        return "unknown"
    if 0 < value < 0.01:
        return f"${value:.4f}".rstrip("0")
    return f"${value:.2f}"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def plan_text(plan: Plan, *, reasons: bool, estimate_s: float, simulated: bool,
              out_dir: Path | None = None, budget: Budget | None = None) -> str:
    header = ["shot", "take", "action", "cost"] + (["why"] if reasons else [])
    rows = []
    for t in plan.takes:
        row = [t.spec.shot.id, str(t.spec.take), t.action.label, money(t.cost) if t.creates else "-"]
        if reasons:
            row.append(f"{t.reason}; {t.price_how}" if t.creates and t.price_how else t.reason)
        rows.append(row)
    counts = Counter(t.action for t in plan.takes)
    unknown = plan.unknown_cost_takes
    cost = money(plan.known_cost) + (f" + {unknown} take(s) of unknown price" if unknown else "")
    order = chainview.order_lines({t.spec.shot.id: t.spec.shot for t in plan.takes}.values())
    lines = [*order, *([""] if order else []), table(rows, header), ""]
    lines.append("; ".join(f"{n} {action.label}" for action, n in counts.items()) or "nothing to do")
    lines += chainview.cascade_lines(plan, money)
    lines += redo_lines(plan)
    lines.append(f"new tasks: {len(plan.creates)}, estimated cost: {cost}"
                 + (" (simulator: nothing is billed)" if simulated else ""))
    lines.append(f"estimated wall time: {duration(estimate_s)}" + (" (simulator)" if simulated else ""))
    if budget is not None and budget.source is not None:
        lines.append(budget_line(plan, budget, simulated))
    if out_dir is not None:
        lines.append(f"outputs: {out_dir}/")
    lines += removed_notes(plan)
    return "\n".join(lines)


def redo_lines(plan: Plan) -> list[str]:
    """Shots marked `status: redo` that this plan leaves as they are: a decision recorded, not yet
    acted on (a redo never spends on its own)."""
    lines = []
    for shot in {t.spec.shot.id: t.spec.shot for t in plan.takes}.values():
        if getattr(shot, "status", None) == "redo" and not any(t.creates for t in plan.takes if t.spec.shot.id == shot.id):
            note = f" ({shot.notes.strip()})" if shot.notes else ""
            lines.append(f"redo: {shot.id}{note} is marked for redo but unchanged, so nothing is made: edit the "
                         f"shot, or add a take (takes:)")
    return lines


def budget_line(plan: Plan, budget: Budget, simulated: bool) -> str:
    """The budget check a run would make, said before anything runs."""
    if budget.problem is None:
        if budget.limit is None or math.isinf(budget.limit):
            return f"budget: none ({budget.source})"
        return f"budget: {money(plan.known_cost)} of {money(budget.limit)} ({budget.source}): within it"
    if simulated:
        return f"budget: the simulator bills nothing, but a run with MINIMAX_API_KEY would refuse: {budget.problem}"
    return f"budget: a run would refuse to start: {budget.problem}"


def removed_notes(plan: Plan) -> list[str]:
    followed = {(t.state.shot, t.state.take) for t in plan.orphans}
    return [f"note: {shot} take {take} is in the ledger but no longer in the manifest ("
            + ("its paid task is followed; the video goes to history/)" if (shot, take) in followed
               else "left untouched)")
            for shot, take in plan.removed]


def plan_json(plan: Plan, estimate_s: float, endpoint: str, *, out_dir: Path | None = None,
              budget: Budget | None = None) -> dict[str, Any]:
    return {
        "out_dir": None if out_dir is None else str(out_dir),
        "budget": None if budget is None or budget.source is None else {
            "limit": None if budget.limit is None or math.isinf(budget.limit) else budget.limit,
            "source": budget.source, "refused": budget.problem,
        },
        "endpoint": endpoint,
        "takes": [
            {"shot": t.spec.shot.id, "take": t.spec.take, "fingerprint": t.spec.fingerprint,
             "action": t.action, "reason": t.reason, "cost": t.cost if t.creates else 0.0,
             "price": t.price_how if t.creates else None,
             "task_id": t.state.task_id,
             "waits_for": [{"shot": s, "take": n} for s, n in t.spec.waits_for]}
            for t in plan.takes
        ],
        "new_tasks": len(plan.creates),
        "known_cost": round(plan.known_cost, 4),
        "unknown_cost_takes": plan.unknown_cost_takes,
        "estimated_seconds": round(estimate_s, 1),
        "removed": [{"shot": s, "take": t} for s, t in plan.removed],
    }


def what_it_did(action: Action, reason: str, res: TakeResult, *, had_video: bool = False) -> str:
    """What this run did with a take, in a user's words, from the plan's action and the result."""
    if action is Action.UP_TO_DATE:
        return "left as it was"
    if action in (Action.FAILED_SKIPPED, Action.UNCERTAIN_SKIPPED):
        return "skipped"
    if action is Action.POLL:
        return f"followed task {res.task_id}" if res.task_id else "followed its task"
    if action is Action.DOWNLOAD:
        again = " again" if had_video else ""  # damaged or missing, or generated and never fetched
        return f"downloaded{again} (no new charge)" if res.outcome == "done" else f"tried to download{again}"
    if not res.task_made:
        return "not created"
    if action is Action.REGENERATE:
        why = reason.split("; ")[0]
        if why.startswith("changed since the last run: "):
            why = why.removeprefix("changed since the last run: ") + " changed"
        kind = "still" if res.spec.shot.is_still else "video"
        moved = f"; the old {kind} is in history/" if res.archived else ""
        return f"regenerated ({why}{moved})"
    if action is Action.RETRY_FAILED:
        return "created again (it had failed)"
    if action is Action.RESUBMIT_UNCERTAIN:
        return "created again (its first create was uncertain)"
    return "created"


def next_steps(result: RunResult, manifest: str) -> list[str]:
    """The command to type next for what is left, one line each; none when every take is done."""
    steps = []
    if result.count("failed"):
        steps.append(f"{result.count('failed')} failed: fix what the detail says, then "
                     f"`shots run {manifest} --retry-failed` creates them again")
    if result.count("uncertain"):
        steps.append(f"{result.count('uncertain')} uncertain: a billed task may exist; check the MiniMax console, "
                     f"then `shots run {manifest} --resubmit-uncertain` (may pay twice)")
    waiting = result.count("pending") - result.blocked
    if waiting:
        steps.append(f"{waiting} pending: `shots run {manifest}` again resumes them (no new charge "
                     f"for tasks already created)")
    if result.blocked:
        steps.append(f"{result.blocked} blocked: each waits for the shot its detail names; make that one first (its "
                     f"detail says how: fix it and --retry-failed, --resubmit-uncertain, or add it to --only), "
                     f"then `shots run {manifest}` makes them")
    return steps


def result_text(result: RunResult, simulated: bool, *, plan: Plan | None = None, manifest: str | None = None,
                aborted_by: str = "run aborted") -> str:
    """The run's table; with `plan`, what this run did with each take; with `manifest`, what to type next.
    `aborted_by` names what stopped an aborted run ("account error") in its takes' rows."""
    planned = {t.spec.key: t for t in plan.takes} if plan is not None else {}
    stopped = stopped_detail(result, aborted_by)
    rows = []
    for r in result.results:
        row = [r.spec.shot.id, str(r.spec.take), r.outcome, _detail(r, result, stopped)]
        if planned:
            p = planned.get(r.spec.key)
            row.insert(3, what_it_did(Action(p.action), p.reason, r, had_video=p.state.state == "downloaded")
                       if p is not None else "")
            if p is not None and p.action == Action.UP_TO_DATE and r.file:
                row[4] = r.file  # untouched: its file, not the plan's "downloaded ..." (as if just fetched)
        rows.append(row)
    header = ["shot", "take", "result", "this run", "detail"] if planned else ["shot", "take", "result", "detail"]
    lines = [table(rows, header), ""]
    lines.append(
        f"{result.count('done')} done, {result.count('failed')} failed, {result.count('uncertain')} uncertain, "
        f"{result.count('pending')} pending{f' ({result.blocked} blocked)' if result.blocked else ''} "
        f"in {duration(result.seconds)}; "
        f"{result.creates} create request(s), {result.rate_limited} rate-limited; "
        + _spend(result, simulated)
    )
    generating = result.generating
    if generating:
        cost = money(sum(r.cost or 0.0 for r in generating))
        billed = "would be billed" if simulated else "are billed"
        lines.append(f"{len(generating)} task(s) created in this run are still generating: they {billed} when they "
                     f"finish ({cost}); run the same command again to fetch them, never to pay again")
    paid = "" if simulated else ", paid"
    lines += [f"earlier version of {r.spec.shot.id} take {r.spec.take} (task {r.task_id}{paid}): "
              + (f"its video is in {r.file}" if r.outcome == "done" else f"{r.outcome}: {r.detail}")
              for r in result.orphans]
    if manifest is not None and not result.aborted and not result.interrupted:
        lines += [f"next: {step}" for step in next_steps(result, manifest)]
    return "\n".join(lines)


STOPPED_BY_THE_RUN = "interrupted; the next run resumes it"  # pipeline/run/job.py, a take the stop cancelled


def stopped_detail(result: RunResult, why: str) -> str | None:
    """What a take left pending by an aborted run says instead of the error (`why`: "account
    error"): the error is printed once, after the table ("Error: ..."). None when not aborted."""
    return None if result.aborted is None else f"stopped: {why} (see below)"


def _detail(r: TakeResult, result: RunResult, stopped: str | None) -> str:
    """A take's detail; a pending one the abort stopped (or that repeats its error) points below."""
    if stopped is None or r.outcome != "pending":
        return r.detail
    if not r.detail or r.detail == STOPPED_BY_THE_RUN or str(result.aborted) in r.detail:
        return stopped
    return r.detail


def _spend(result: RunResult, simulated: bool) -> str:
    amount = money(result.spent) + (f" + {result.unpriced} video(s) of unknown price" if result.unpriced else "")
    if simulated:
        return f"{amount} at API prices (simulator: nothing billed)"
    return f"spent {amount}"


def result_json(result: RunResult, backend: str) -> dict[str, Any]:
    return {
        "backend": backend,
        "done": result.count("done"),
        "failed": result.count("failed"),
        "uncertain": result.count("uncertain"),
        "pending": result.count("pending"),
        "blocked": result.blocked,
        "interrupted": result.interrupted,
        "aborted": str(result.aborted) if result.aborted else None,
        "creates": result.creates,
        "rate_limited": result.rate_limited,
        "spent": round(result.spent, 4),
        "unpriced_videos": result.unpriced,
        "seconds": round(result.seconds, 3),
        "takes": [
            {"shot": r.spec.shot.id, "take": r.spec.take, "result": r.outcome, "detail": r.detail,
             "task_id": r.task_id, "file": r.file, "queries": r.queries}
            for r in result.results
        ],
        "earlier_versions": [
            {"shot": r.spec.shot.id, "take": r.spec.take, "fingerprint": r.spec.fingerprint, "result": r.outcome,
             "detail": r.detail, "task_id": r.task_id, "file": r.file}
            for r in result.orphans
        ],
    }


def status_rows(specs: list[TakeSpec], view: LedgerView,
                damaged: dict[tuple[str, int], str] | None = None) -> list[dict[str, Any]]:
    """One row per take; `damaged` (from a --verify) says which finished videos differ, and how.
    A take blocked by what it is made from (the plan's rule) says so, and why."""
    blocked = _blocked(specs, view)
    rows = []
    for spec in specs:
        status = classify(spec, view)  # the ledger at its word: the files are --verify's (`damaged`)
        state = status.state
        why_blocked = blocked.get(spec.key)
        row = {
            "shot": spec.shot.id, "take": spec.take,
            "state": "blocked" if why_blocked else "changed" if status.changed else state.state,
            "task_id": state.task_id, "file": state.file, "cost": state.cost,
            "last_error": why_blocked or state.reason, "fingerprint": None if spec.waiting else spec.fingerprint,
        }
        if spec.waits_for:
            row["waits_for"] = [{"shot": s, "take": t} for s, t in spec.waits_for]
        if state.adopted:  # its create's answer was lost; the task was found in the v2 task list
            row["adopted"] = True
        if damaged is not None and state.state == "downloaded":
            row["damaged"] = damaged.get(spec.key)
        rows.append(row)
    return rows


def _blocked(specs: list[TakeSpec], view: LedgerView) -> dict[tuple[str, int], str]:
    """(shot, take) -> why it is blocked, for the takes made from others (the plan's own rule)."""
    if not any(spec.waits_for or spec.problem for spec in specs):
        return {}
    plan = make_plan(specs, view, lambda state: None)
    return {t.spec.key: t.reason for t in plan.takes if t.action is Action.BLOCKED}


def status_text(rows: list[dict[str, Any]]) -> str:
    body = [[r["shot"], str(r["take"]), r["state"] + (" (damaged)" if r.get("damaged") else ""),
             (r["task_id"] or "-") + (" (adopted)" if r.get("adopted") else ""), r["file"] or "-",
             money(r["cost"]) if r["state"] not in ("new", "blocked") else "-",
             r.get("damaged") or r["last_error"] or ""] for r in rows]
    counts = Counter(r["state"] + (" (damaged)" if r.get("damaged") else "") for r in rows)
    adopted = sum(bool(r.get("adopted")) for r in rows)
    note = (f"\n(adopted: {adopted} task(s) found in the v2 task list after their create answer was lost; "
            f"paid once)") if adopted else ""
    return table(body, ["shot", "take", "state", "task", "file", "cost", "last error"]) + "\n\n" + \
        ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + note
