"""The commands' shared steps: manifest -> take specs -> (ledger view, plan) -> run -> lock file.

Everything here is I/O around the pure pieces (request, plan, ledger.replay); cli.py only parses
arguments and prints.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pipeline import gcpause
from pipeline.errors import AbortError, InputError
from pipeline.run import ledger as ledgerlib
from pipeline.run import lockfile, request, store
from pipeline.run.backend import SIM_STATE_DIR, Choice, endpoint_for, open_backend, resolve
from pipeline.run.ledger import LedgerView, LedgerWriter, RunLock
from pipeline.run.options import RunOptions
from pipeline.run.plan import Plan, TakeSpec, budget_problem, make_plan
from pipeline.run.result import RunResult, nothing_to_do
from pipeline.run.specs import resolved_specs, take_specs

if TYPE_CHECKING:
    from pipeline.manifest.models import Manifest
    from pipeline.run.runner import Runner


@dataclass(frozen=True)
class Prepared:
    manifest: Manifest
    specs: list[TakeSpec]
    out_dir: Path
    view: LedgerView
    plan: Plan

    def __repr__(self) -> str:  # short: see RunResult.__repr__
        return f"<Prepared {len(self.specs)} takes, {len(self.plan.creates)} to create, in {self.out_dir}>"


def output_dir(out_root: Path | None, manifest: Manifest) -> Path:
    """OUT/<name>/; with no --out, OUT is resolved from the manifest's place (store.default_root)."""
    root = out_root if out_root is not None else store.default_root(manifest.path)
    return root / manifest.name


def check_videos(manifest: Manifest, out_dir: Path, specs: list[TakeSpec], view: LedgerView) -> dict[tuple[str, int], str]:
    """Hash every finished video: (shot, take) -> what is wrong with it, against the ledger, then
    against the lock file's sha256 (a lock from another ledger, or hand-edited, is said too)."""
    locked = lockfile.recorded_hashes(lockfile.lock_path(manifest.path))
    problems = {}
    for spec in specs:
        state = view.get(*spec.ledger_key)
        if state.state != "downloaded":
            continue
        problem = store.check_intact(out_dir, state, verify=True)
        lock_sha = locked.get(spec.key)
        if problem is None and lock_sha is not None and lock_sha != state.sha256:
            problem = f"the lock file records another sha256 for {state.file} than the ledger"
        if problem is not None:
            problems[spec.key] = problem
    return problems


def outputs_warning(manifest: Manifest, out_root: Path | None, endpoint: str, *, refuse: bool) -> str | None:
    """A folder with no results yet, while this manifest's results for `endpoint` are elsewhere
    (the folder its lock file recorded, or its default one): a run there would create and pay for
    every finished take again. With `refuse` and no --out, that is an InputError; otherwise a
    warning to print."""
    out_dir = output_dir(out_root, manifest)
    if ledgerlib.ledger_path(out_dir).exists():
        return None
    recorded = lockfile.recorded_out_dir(lockfile.lock_path(manifest.path))
    others: list[Path] = []
    for folder in (recorded, output_dir(None, manifest)):
        if folder is not None and folder.resolve() != out_dir.resolve() \
                and all(folder.resolve() != o.resolve() for o in others) and _holds_results(folder, manifest, endpoint):
            others.append(folder)
    if not others:
        return None
    where = " and ".join(str(f) for f in others)
    if refuse and out_root is None:
        move = f", or move that folder to {out_dir}" if not out_dir.exists() else ""
        raise InputError(f"{manifest.path}: {out_dir} holds no results yet, but this manifest's are in {where}; "
                         f"a run here would create, and pay for, its finished takes again. Resume there with "
                         f"--out {others[0].parent}{move}")
    return (f"warning: {out_dir} holds no results yet, but this manifest's are in {where}: "
            f"a run here creates (and pays for) every take again")


def _holds_results(folder: Path, manifest: Manifest, endpoint: str) -> bool:
    """Whether a folder's ledger has a task of this manifest made on `endpoint` (a simulator
    previz elsewhere saves nothing a real run would pay for again)."""
    if not ledgerlib.ledger_path(folder).exists():
        return False
    made = {s.ledger_key for s in take_specs(manifest, endpoint)}
    view = ledgerlib.load(folder)
    return any(key in made and state.task_id for key, state in view.states.items())


def prepare(
    manifest: Manifest,
    endpoint: str,
    out_root: Path | None,
    *,
    only: Iterable[str] | None = None,
    retry_failed: bool = False,
    resubmit_uncertain: bool = False,
    verify: bool = False,
    force: bool = False,
) -> Prepared:
    """The takes, the ledger and the plan. `verify` hashes every finished video (slow, thorough).
    `force`: an approved shot is made again when what it is made from changed."""
    out_dir = output_dir(out_root, manifest)
    view = ledgerlib.load(out_dir)
    specs = resolved_specs(manifest, endpoint, out_dir, view, only, force=force)
    declared = None if not only else [(s.id, t) for s in manifest.shots for t in range(1, s.takes + 1)]
    if declared is not None:  # shots left out of an --only run for their errors are still the manifest's
        broken = {p.shot for p in manifest.warnings if p.severity == "error" and p.shot is not None}
        declared += [key for key in view.latest if key[0] in broken]
    plan = make_plan(
        specs, view, lambda state: store.check_intact(out_dir, state, verify),
        retry_failed=retry_failed, resubmit_uncertain=resubmit_uncertain, declared=declared, endpoint=endpoint,
        prices=manifest.prices,
    )
    return Prepared(manifest, specs, out_dir, view, plan)


def check_budget(plan: Plan, max_cost: float | None, source: str | None = None) -> None:
    """Refuse to start when the plan's new spend could exceed the budget (or cannot be bounded)."""
    if max_cost is None:
        return
    problem = budget_problem(plan, max_cost, source or f"--max-cost {max_cost:g}")
    if problem is not None:
        raise AbortError(f"{problem}; nothing was submitted")


async def run(
    manifest: Manifest,
    *,
    out_root: Path | None,
    backend: Choice,
    options: RunOptions,
    only: Iterable[str] | None = None,
    retry_failed: bool = False,
    resubmit_uncertain: bool = False,
    max_cost: float | None = None,
    max_cost_source: str | None = None,
    verify: bool = False,
    force: bool = False,
    write_lock_file: bool = True,
    on_start: Callable[[Prepared, str], Callable[[TakeSpec, str], None] | None] | None = None,
) -> tuple[Prepared, RunResult, str]:
    """Lock the output folder, plan, run, record. Returns (prepared, result, backend kind).

    The plan comes first, from the endpoint's identity alone: a run with nothing to do opens
    no connection and starts no simulator.
    """
    out_dir = output_dir(out_root, manifest)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AbortError(f"cannot create the output folder {out_dir}: {exc.strerror}") from exc
    kind = resolve(backend)
    endpoint = endpoint_for(backend)
    with RunLock(out_dir):
        prepared = prepare(manifest, endpoint, out_root, only=only, verify=verify, force=force,
                           retry_failed=retry_failed, resubmit_uncertain=resubmit_uncertain)
        if kind == "api":  # the simulator bills nothing
            check_budget(prepared.plan, max_cost, max_cost_source)
        if prepared.plan.idle:
            if on_start:
                on_start(prepared, "Nothing to do: every take is up to date, failed or uncertain.")
            result = nothing_to_do(prepared.plan)
        else:
            gcpause.resume()  # the loading is over; a run may last hours
            replan = _replanner(prepared, endpoint, retry_failed=retry_failed, resubmit_uncertain=resubmit_uncertain)
            result = await _execute(prepared, backend, options, on_start, replan)
        if write_lock_file:
            # Nothing ran: the ledger is still the one just planned from (a resume of 10,000 takes
            # would otherwise replay it and fingerprint every shot twice).
            idle = prepared.plan.idle
            view = prepared.view if idle else ledgerlib.load(out_dir)
            chained = any(spec.shot.frame_refs() for spec in prepared.specs)  # resolved anew as they ran
            all_specs = prepared.specs if not only and (idle or not chained) else \
                resolved_specs(manifest, endpoint, out_dir, view, force=force)
            lock = lockfile.lock_path(manifest.path)
            lockfile.write_lock(lock, lockfile.lock_data(manifest.name, endpoint, all_specs, view,
                                                         outputs=lockfile.outputs_field(lock, out_dir)))
        return prepared, result, kind


async def _execute(prepared: Prepared, backend: Choice, options: RunOptions,
                   on_start: Callable[[Prepared, str], Any] | None, replan: Callable[..., Any] | None = None) -> RunResult:
    async with open_backend(backend, rpm=options.rpm, seed=options.seed,
                            state_dir=prepared.out_dir / SIM_STATE_DIR) as chosen:
        on_phase = on_start(prepared, chosen.banner) if on_start else None
        for planned in (*prepared.plan.takes, *prepared.plan.orphans):  # which dialect made each earlier task
            state = planned.state
            if state.task_id or state.file_id:
                chosen.client.learn((state.request or planned.spec.request).get("model"),
                                    task_id=state.task_id, file_id=state.file_id)
        writer = LedgerWriter(ledgerlib.ledger_path(prepared.out_dir))
        try:
            writer.write_now(ledgerlib.event("run_started", endpoint=chosen.endpoint, backend=chosen.kind,
                                             takes=len(prepared.specs)))
            from pipeline.run.runner import Runner  # here: plan, status and an idle resume load no HTTP client

            runner = Runner(
                client=chosen.client, writer=writer, view=prepared.view, out_dir=prepared.out_dir,
                body_of=_body_builder(prepared), options=_scaled(options, chosen.time_scale), on_phase=on_phase,
                replan=replan,
            )
            with _interrupts(runner):
                result = await runner.run(prepared.plan)
            writer.write_now(ledgerlib.event(
                "run_finished", done=result.count("done"), failed=result.count("failed"),
                uncertain=result.count("uncertain"), pending=result.count("pending"),
                interrupted=result.interrupted or None,
            ))
        finally:
            writer.close()
    return result


async def cancel(manifest: Manifest, *, out_root: Path | None, backend: Choice,
                 only: Iterable[str] | None = None) -> list[Any]:
    """`shots cancel`: the manifest's queued v2 tasks cancelled (free) and recorded, under the
    folder's run lock (a run in progress would poll them meanwhile); what became of each task."""
    from pipeline.run.cancel import cancel_queued

    out_dir = output_dir(out_root, manifest)
    endpoint = endpoint_for(backend)
    with RunLock(out_dir):
        view = ledgerlib.load(out_dir)
        specs = resolved_specs(manifest, endpoint, out_dir, view, only)
        if not any(view.get(*s.ledger_key).state == "submitted" for s in specs):
            return []
        async with open_backend(backend, rpm=None, state_dir=out_dir / SIM_STATE_DIR) as chosen:
            writer = LedgerWriter(ledgerlib.ledger_path(out_dir))
            try:
                done = await cancel_queued(specs, view, chosen.client, writer)
            finally:
                writer.close()
        view = ledgerlib.load(out_dir)
        all_specs = resolved_specs(manifest, endpoint, out_dir, view)
        lock = lockfile.lock_path(manifest.path)
        lockfile.write_lock(lock, lockfile.lock_data(manifest.name, endpoint, all_specs, view,
                                                     outputs=lockfile.outputs_field(lock, out_dir)))
        return done


def _replanner(prepared: Prepared, endpoint: str, *, retry_failed: bool, resubmit_uncertain: bool
               ) -> Callable[[TakeSpec, Any], Any] | None:
    """A dependant planned again once its upstream takes are on disk (Runner's `replan`): its
    frames cut into frames/, its fingerprint and action decided by the plan's own rule."""
    manifest, out_dir = prepared.manifest, prepared.out_dir
    if not any(spec.waiting for spec in prepared.specs):
        return None
    from pipeline.run.frames import FrameStore
    from pipeline.run.plan import plan_take
    from pipeline.run.specs import shot_specs

    frames = FrameStore(out_dir)
    shots = {shot.id: shot for shot in manifest.shots}

    def replan(spec: TakeSpec, finished: Any) -> Any:
        resolved = shot_specs(manifest, spec.shot, endpoint, shots, finished, frames)[spec.take - 1]
        return plan_take(resolved, prepared.view, lambda state: store.check_intact(out_dir, state),
                         retry_failed=retry_failed, resubmit_uncertain=resubmit_uncertain, endpoint=endpoint,
                         prices=manifest.prices)

    return replan


def _body_builder(prepared: Prepared) -> Callable[[TakeSpec], dict[str, Any]]:
    """take -> API body, checked against the canonical request it was planned with (a dependant's
    frames as resolved, at the plan or as its upstream finished in the run)."""
    return lambda spec: request.api_body(spec.shot, prepared.manifest.dir, spec.request, dict(spec.inputs))


def _scaled(options: RunOptions, time_scale: float) -> RunOptions:
    from dataclasses import replace

    return replace(options, time_scale=options.time_scale * time_scale)


class _interrupts:
    """First SIGINT/SIGTERM: runner.stop() (graceful). Second: the default handler (KeyboardInterrupt)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.count = 0

    def _handle(self) -> None:
        self.count += 1
        if self.count == 1:
            self.runner.stop()
        else:
            loop = asyncio.get_running_loop()
            loop.remove_signal_handler(signal.SIGINT)
            raise KeyboardInterrupt

    def __enter__(self) -> "_interrupts":
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._handle)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
