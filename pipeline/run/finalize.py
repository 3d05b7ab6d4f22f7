"""`shots finalize M [--only ID...]`: each picked MiniMax-H3 take made at 768P regenerated in 2K,
by the same runner and ledger as `shots run` (finals.py says which, and at what price).

The runner needs nothing new: a final's take spec names its ledger key and file, and its body
carries both regeneration forms, which the v2 dialect sends in turn (v2client.py). This module is
apart from finals.py because it starts a server connection and the runner, which the reel and the
export (that read finals.final_file) must never load.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pipeline.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_SHOTS_FAILED, AbortError, InputError

if TYPE_CHECKING:  # the rest is imported where it is used: `shots` builds this parser for every command
    from pipeline.manifest.models import Manifest
    from pipeline.run.backend import Choice
    from pipeline.run.finals import Finals
    from pipeline.run.ledger import LedgerView
    from pipeline.run.options import RunOptions
    from pipeline.run.plan import Plan, TakeSpec
    from pipeline.run.result import RunResult

EXAMPLE = "shots finalize manifests/h3.yaml --only h04-keeper"
REGENERATION = "regeneration"  # the v2 task type of a 2K regeneration


@dataclass(frozen=True)
class Finalizing:
    """What a finalize run works from: its finals, the plan, the ledger it was planned on."""

    manifest: Manifest
    finals: Finals
    plan: Plan
    out_dir: Path
    view: LedgerView


def prepare(manifest: Manifest, endpoint: str, out_root: Path | None, *, only: Iterable[str] | None = None,
            retry_failed: bool = False, resubmit_uncertain: bool = False, verify: bool = False) -> Finalizing:
    """The finals and their plan, from the output folder's ledger (no network)."""
    from pipeline.run import ledger as ledgerlib
    from pipeline.run.finals import final_specs, finalize_plan
    from pipeline.run.workflow import output_dir

    out_dir = output_dir(out_root, manifest)
    view = ledgerlib.load(out_dir)
    finals = final_specs(manifest, endpoint, out_dir, view, only, verify=verify)
    plan = finalize_plan(finals, view, out_dir, endpoint=endpoint, retry_failed=retry_failed,
                         resubmit_uncertain=resubmit_uncertain, verify=verify)
    return Finalizing(manifest, finals, plan, out_dir, view)


async def finalize(manifest: Manifest, *, out_root: Path | None, backend: Choice, options: RunOptions,
                   only: Iterable[str] | None = None, retry_failed: bool = False, resubmit_uncertain: bool = False,
                   max_cost: float | None = None, max_cost_source: str | None = None,
                   on_start: Callable[[Finalizing, str], None] | None = None) -> tuple[Finalizing, RunResult, str]:
    """Lock the output folder, plan the finals, run them, record. Returns (finalizing, result,
    backend kind). Nothing to do opens no connection."""
    from pipeline.run import ledger as ledgerlib
    from pipeline.run.backend import endpoint_for, resolve
    from pipeline.run.ledger import RunLock
    from pipeline.run.plan import budget_problem
    from pipeline.run.result import nothing_to_do
    from pipeline.run.workflow import output_dir

    kind = resolve(backend)
    endpoint = endpoint_for(backend)
    out_dir = output_dir(out_root, manifest)
    if not ledgerlib.ledger_path(out_dir).exists():
        raise InputError(f"{out_dir} holds no results of {manifest.path} yet: `shots run` makes the takes "
                         f"that finalize regenerates in 2K")
    with RunLock(out_dir):
        prepared = prepare(manifest, endpoint, out_root, only=only, retry_failed=retry_failed,
                           resubmit_uncertain=resubmit_uncertain)
        if kind == "api" and max_cost is not None:
            problem = budget_problem(prepared.plan, max_cost, max_cost_source or f"--max-cost {max_cost:g}")
            if problem is not None:
                raise AbortError(f"{problem}; nothing was submitted")
        if prepared.plan.idle:
            if on_start:
                on_start(prepared, "Nothing to do: every final is made, failed or uncertain.")
            return prepared, nothing_to_do(prepared.plan), kind
        return prepared, await _execute(prepared, backend, options, on_start), kind


async def _execute(prepared: Finalizing, backend: Choice, options: RunOptions,
                   on_start: Callable[[Finalizing, str], None] | None) -> RunResult:
    from pipeline.run import ledger as ledgerlib
    from pipeline.run.backend import SIM_STATE_DIR, open_backend
    from pipeline.run.ledger import LedgerWriter
    from pipeline.run.runner import Runner
    from pipeline.run.workflow import _interrupts

    async with open_backend(backend, rpm=options.rpm, seed=options.seed,
                            state_dir=prepared.out_dir / SIM_STATE_DIR) as chosen:
        if on_start:
            on_start(prepared, chosen.banner)
        for planned in (*prepared.plan.takes, *prepared.plan.orphans):
            state = planned.state
            if state.task_id or state.file_id:
                chosen.client.learn((state.request or planned.spec.request).get("model"),
                                    task_id=state.task_id, file_id=state.file_id)
        writer = LedgerWriter(ledgerlib.ledger_path(prepared.out_dir))
        try:
            # Not run_started: the contact sheet's "last run" is the drafts' (`shots run`).
            writer.write_now(ledgerlib.event("finalize_started", endpoint=chosen.endpoint, backend=chosen.kind,
                                             takes=len(prepared.finals.specs)))
            runner = Runner(client=RegenerationClients(chosen.client), writer=writer, view=prepared.view, out_dir=prepared.out_dir,
                            body_of=body_builder(prepared.manifest, prepared.out_dir),
                            options=_scaled(options, chosen.time_scale))
            with _interrupts(runner):  # Ctrl-C as in `shots run`: no new creates, answered ones recorded
                result = await runner.run(prepared.plan)
            writer.write_now(ledgerlib.event(
                "finalize_finished", done=result.count("done"), failed=result.count("failed"),
                uncertain=result.count("uncertain"), pending=result.count("pending"),
                interrupted=result.interrupted or None))
        finally:
            writer.close()
    return result


class RegenerationClients:
    """The run's clients, with the v2 task list as a finalize run's lost creates are looked up in.

    A final's create that lost its answer is looked up in the v2 task list, as any v2 take's
    (pipeline/run/lookup.py). The list must be asked for regeneration tasks: a finalize run
    creates no other kind. The shape reconcile.py reads from a canonical request names a task
    type, which is "generation" for every request until it knows a regeneration's; the tasks
    listed are reported under the type asked for, so that they fit either way. With shape_of
    naming "regeneration" for a final's request, this class can go."""

    def __init__(self, clients: Any):
        self._clients = clients
        self.v2 = _RegenerationList(clients.v2)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clients, name)


class _RegenerationList:
    def __init__(self, v2: Any):
        self._v2 = v2

    def __getattr__(self, name: str) -> Any:
        return getattr(self._v2, name)

    async def iter_tasks(self, *, task_type: str | None = None, **filters: Any) -> Any:
        from dataclasses import replace

        async for task in self._v2.iter_tasks(task_type=REGENERATION, **filters):
            yield replace(task, task_type=task_type or task.task_type)


def body_builder(manifest: Manifest, out_dir: Path) -> Callable[[TakeSpec], dict[str, Any]]:
    """final -> its regeneration body: both forms, the draft's content as it was sent, the draft
    file (checked against the ledger's sha256) as the base_video."""
    from pipeline.run import request_regen
    from pipeline.run.finals import FinalSpec

    def body_of(spec: TakeSpec) -> dict[str, Any]:
        assert isinstance(spec, FinalSpec) and spec.draft is not None
        return request_regen.api_body(spec.draft, manifest.dir, spec.source_task_id, out_dir / spec.draft_file,
                                      spec.draft_sha256)

    return body_of


def _scaled(options: RunOptions, time_scale: float) -> RunOptions:
    from dataclasses import replace

    return replace(options, time_scale=options.time_scale * time_scale)


# -- the command -------------------------------------------------------------------------------


def add_finalize_parser(subparsers: Any, **parser_options: Any) -> argparse.ArgumentParser:
    """`shots finalize`'s parser, handled by cmd_finalize; `parser_options` (epilog, formatter_class)
    as the other commands get them."""
    what = ("regenerate each picked MiniMax-H3 take made at 768P in 2K, beside its draft as <id>.final.mp4; "
            "resumes like `shots run`, never pays twice")
    p = subparsers.add_parser("finalize", help=what, description=f"{what}\n\nexample:\n  {EXAMPLE}", **parser_options)
    p.add_argument("-v", "--verbose", action="store_true", help="log retries and decisions to stderr")
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("--only", action="append", type=_ids, metavar="ID[,ID...]",
                   help="only these shot ids; repeat the option or separate ids with commas")
    p.add_argument("--dry-run", action="store_true", help="show which finals would be made and their cost; send nothing")
    p.add_argument("--out", type=Path, default=None,
                   help="outputs root; the takes are in OUT/<name>/ (default: the outputs/ folder of the project "
                        "that holds the manifest)")
    p.add_argument("--backend", choices=("auto", "sim", "api"), default="auto",
                   help="where to regenerate: the API if MINIMAX_API_KEY is set, else the built-in simulator")
    p.add_argument("--retry-failed", action="store_true", help="create again the finals that failed for good")
    p.add_argument("--resubmit-uncertain", action="store_true",
                   help="create again the finals whose create answer was lost (may pay twice)")
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="refuse to start if the new spend could exceed this (default: the manifest's max_cost)")
    p.add_argument("--json", action="store_true", help="print the plan (--dry-run) or the result as JSON on stdout")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                   help="scale every wait by F, to match a simulator started with `shots sim --time-scale F`")
    p.set_defaults(handler=cmd_finalize)
    return p


def cmd_finalize(args: argparse.Namespace) -> int:
    """Exit 0 when every final asked for is made (or there is none to make), 1 when some failed,
    are uncertain or pending; InputError (2) and AbortError (3) are raised to the caller."""
    import asyncio

    from pipeline.run import userconfig
    from pipeline.run.backend import endpoint_for, resolve
    from pipeline.run.options import RunSettings, SettingFlags

    only = [i for group in args.only for i in group] if args.only else None
    manifest = _load(args.manifest, only)
    settings = RunSettings.from_sources(SettingFlags(max_cost=args.max_cost), manifest.settings, manifest.where,
                                        userconfig.load())
    if args.dry_run:
        endpoint = endpoint_for(args.backend)
        prepared = prepare(manifest, endpoint, args.out, only=only, retry_failed=args.retry_failed,
                           resubmit_uncertain=args.resubmit_uncertain)
        simulated = resolve(args.backend) == "simulator"
        if args.json:
            _print_json(plan_json(prepared, endpoint))
        else:
            print(plan_text(prepared, simulated=simulated))
        return EXIT_OK

    def on_start(prepared: Finalizing, banner: str) -> None:
        print(banner, file=sys.stderr)
        print(f"outputs: {prepared.out_dir}/", file=sys.stderr)

    prepared, result, kind = asyncio.run(finalize(
        manifest, out_root=args.out, backend=args.backend,
        options=settings.run_options(time_scale=args.time_scale), only=only, retry_failed=args.retry_failed,
        resubmit_uncertain=args.resubmit_uncertain, max_cost=settings.max_cost,
        max_cost_source=settings.max_cost_source, on_start=on_start))
    if args.json:
        _print_json(result_json(prepared, result, kind))
    else:
        print(result_text(prepared, result, simulated=kind == "simulator"))
    if result.aborted is not None:
        print(f"Error: {result.aborted}", file=sys.stderr)
        return result.aborted.exit_code
    if result.interrupted:
        print("Interrupted: finals already created are resumed by running the same command again.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if result.count("done") == len(result.results) else EXIT_SHOTS_FAILED


def _ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"no shot id in {text!r}")
    return ids


def _load(path: str, only: list[str] | None) -> Manifest:
    """As `shots run` loads it: with --only, errors in other shots leave those shots out."""
    from pipeline.manifest.cache import load
    from pipeline.manifest.checker import ManifestError

    try:
        return load(path, only)
    except ManifestError as exc:
        raise InputError(f"{exc}; `shots validate {path}` shows them all") from exc


# -- views ---------------------------------------------------------------------------------------


def money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.2f}"


def plan_text(prepared: Finalizing, *, simulated: bool) -> str:
    plan = prepared.plan
    rows = [[t.spec.label, t.action.label, money(t.cost) if t.creates else "-",
             f"{t.reason}; {t.price_how}" if t.creates and t.price_how else t.reason] for t in plan.takes]
    rows += [[_label(s.shot, s.take), "skipped", "-", s.why] for s in prepared.finals.skipped]
    lines = [_table(rows, ["final", "action", "cost", "why"]), ""]
    unknown = plan.unknown_cost_takes
    lines.append(f"finals to make: {len(plan.creates)}, estimated cost: {money(plan.known_cost)}"
                 + (f" + {unknown} of unknown price" if unknown else "")
                 + (" (simulator: nothing is billed)" if simulated else ""))
    lines += [f"earlier final {t.spec.label}: {t.reason}" for t in plan.orphans]
    lines.append(f"outputs: {prepared.out_dir}/")
    return "\n".join(lines)


def plan_json(prepared: Finalizing, endpoint: str) -> dict[str, Any]:
    plan = prepared.plan
    return {
        "endpoint": endpoint, "out_dir": str(prepared.out_dir),
        "finals": [{"shot": t.spec.shot_id, "take": t.spec.take, "fingerprint": t.spec.fingerprint,  # type: ignore[attr-defined]
                    "file": t.spec.filename, "action": t.action, "reason": t.reason,
                    "cost": t.cost if t.creates else 0.0, "price": t.price_how if t.creates else None,
                    "task_id": t.state.task_id} for t in plan.takes],
        "skipped": [{"shot": s.shot, "take": s.take, "why": s.why} for s in prepared.finals.skipped],
        "new_tasks": len(plan.creates), "known_cost": round(plan.known_cost, 4),
        "unknown_cost_takes": plan.unknown_cost_takes,
    }


def result_text(prepared: Finalizing, result: RunResult, *, simulated: bool) -> str:
    rows = [[r.spec.label, r.outcome, r.detail] for r in result.results]
    rows += [[_label(s.shot, s.take), "skipped", s.why] for s in prepared.finals.skipped]
    lines = [_table(rows, ["final", "result", "detail"]), ""]
    spent = f"{money(result.spent)} at API prices (simulator: nothing billed)" if simulated \
        else f"spent {money(result.spent)}"
    lines.append(f"{result.count('done')} done, {result.count('failed')} failed, {result.count('uncertain')} "
                 f"uncertain, {result.count('pending')} pending, {len(prepared.finals.skipped)} skipped; "
                 f"{result.creates} create request(s); {spent}")
    lines += [f"earlier final {r.spec.label}: " + (f"its video is in {r.file}" if r.outcome == "done"
                                                    else f"{r.outcome}: {r.detail}") for r in result.orphans]
    return "\n".join(lines)


def result_json(prepared: Finalizing, result: RunResult, backend: str) -> dict[str, Any]:
    return {
        "backend": backend, "done": result.count("done"), "failed": result.count("failed"),
        "uncertain": result.count("uncertain"), "pending": result.count("pending"),
        "skipped": len(prepared.finals.skipped), "interrupted": result.interrupted,
        "aborted": str(result.aborted) if result.aborted else None, "creates": result.creates,
        "spent": round(result.spent, 4),
        "finals": [{"shot": getattr(r.spec, "shot_id", r.spec.shot.id), "take": r.spec.take, "result": r.outcome,
                    "detail": r.detail, "task_id": r.task_id, "file": r.file} for r in result.results],
        "skipped_shots": [{"shot": s.shot, "take": s.take, "why": s.why} for s in prepared.finals.skipped],
        "earlier_finals": [{"take": r.spec.take, "fingerprint": r.spec.fingerprint, "result": r.outcome,
                            "file": r.file} for r in result.orphans],
    }


def _label(shot: str, take: int) -> str:
    return shot if take == 1 else f"{shot} take {take}"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
