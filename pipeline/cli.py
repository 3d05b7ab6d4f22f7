"""The `shots` command: argument parsing and printing only; the work is in the library.

Results go to stdout (a table, or JSON with --json); progress and chatter go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import functools
import json
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Sequence

from pipeline import __version__, gcpause
from pipeline.errors import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SHOTS_FAILED,
    InputError,
    ShotsError,
)

if TYPE_CHECKING:  # the commands import what they use when they run: start-up time
    from pipeline.manifest.models import Manifest
    from pipeline.run.options import RunSettings, SettingFlags
    from pipeline.run.eventlog import EventLog
    from pipeline.run.progress import Progress
    from pipeline.run.workflow import Prepared

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    all done (validate: valid, maybe with warnings)
  {EXIT_SHOTS_FAILED}    some shots failed, are uncertain, or are still pending
  {EXIT_INVALID}    invalid input or usage
  {EXIT_ABORTED}    run aborted: account error (key, region, balance), output folder locked, disk, --max-cost
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); run the same command again to resume"""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(json_errors="--json" in argv)
    try:
        _check_command(parser, argv)
        args = parser.parse_args(argv)
    except _UsageError as exc:  # only under --json: the usage went to stderr, the document to stdout
        _print_json({"error": str(exc), "exit_code": EXIT_INVALID})
        return EXIT_INVALID
    json_out = getattr(args, "json", False)
    logging.basicConfig(level=logging.WARNING if not getattr(args, "verbose", False) else logging.INFO,
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    if args.command in ("run", "plan", "status"):
        gcpause.pause()  # until workflow.run starts the work (see gcpause)
    try:
        return args.handler(args)
    except ShotsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        if json_out:
            _print_json({"error": str(exc), "exit_code": exc.exit_code})
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted; run the same command again to resume.", file=sys.stderr)
        if json_out:
            _print_json({"error": "interrupted", "exit_code": EXIT_INTERRUPTED})
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `shots status M | head`: the reader left; not an error
        sys.stderr.close()
        return EXIT_OK
    finally:
        gcpause.resume()


def _check_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A mistyped command gets one line with the nearest command instead of argparse's list."""
    import difflib

    if not argv or argv[0].startswith("-"):
        return
    commands = _commands(parser)
    if argv[0] in commands:
        return
    near = difflib.get_close_matches(argv[0], list(commands), n=1, cutoff=0.5)
    hint = f"did you mean '{near[0]}'?" if near else f"commands: {', '.join(commands)}"
    parser.error(f"unknown command '{argv[0]}'; {hint}")


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers by name, in the order they are listed."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


class _UsageError(Exception):
    """A usage error under --json: main() prints it as a JSON document."""


class _Parser(argparse.ArgumentParser):
    """argparse, but with `json_errors` a usage error also becomes one JSON document on stdout."""

    def __init__(self, *args: Any, json_errors: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.json_errors = json_errors

    def error(self, message: str) -> NoReturn:
        if not self.json_errors:
            super().error(message)
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise _UsageError(f"{self.prog}: {message}")


class _CommandParser(_Parser):
    """A subcommand's parser: an option it does not know is reported with its own usage
    (`shots run: error: unrecognized arguments: --bogus`), not by the top-level parser."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser(json_errors: bool = False) -> argparse.ArgumentParser:
    parser = _Parser(
        json_errors=json_errors,
        prog="shots",
        description="Turn a YAML shot list into MiniMax (Hailuo) videos, resumably.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"shots {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=functools.partial(_CommandParser, json_errors=json_errors))

    def command(name: str, help: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=f"{help}\n\nexample:\n  {example}", epilog=EXIT_CODES,
                           formatter_class=_Formatter)
        p.add_argument("-v", "--verbose", action="store_true", help="log retries and decisions to stderr")
        return p

    p = command("validate", "check manifests against the schema and the model catalogue (no network)",
                "shots validate manifests/example.yaml")
    p.add_argument("manifests", nargs="+", metavar="MANIFEST")
    p.add_argument("--json", action="store_true", help="print the problems as JSON on stdout")
    p.set_defaults(handler=cmd_validate)

    p = command("plan", "show what a run would do and what it would cost (no network)",
                "shots plan manifests/example.yaml --reason")
    _manifest_options(p)
    p.add_argument("--reason", action="store_true", help="say why each take gets its action")
    p.add_argument("--json", action="store_true", help="print the plan as JSON on stdout")
    p.set_defaults(handler=cmd_plan)

    p = command("run", "generate every shot that is not done yet; resumes where the last run stopped",
                "shots run manifests/example.yaml --rpm 20")
    _manifest_options(p)
    p.add_argument("--poll-interval", type=float, metavar="S", help="seconds between status queries (default: 10)")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-color", action="store_true", help="no colour in the live view (NO_COLOR does the same)")
    p.add_argument("--no-lock-file", action="store_true", help="do not write <manifest>.lock.json")
    p.add_argument("--seed", type=int, help="seed for jitter and the simulator (reproducible runs)")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="F",
                   help="scale every wait by F, to match a simulator started with `shots sim --time-scale F`")
    p.set_defaults(handler=cmd_run)

    p = command("status", "show what the ledger knows of each shot take", "shots status manifests/example.yaml")
    _folder_options(p, backend="whose results to show")
    p.add_argument("--verify", action="store_true",
                   help="hash every video against the ledger and the lock file; `shots run --verify` "
                        "downloads a changed one again")
    p.add_argument("--json", action="store_true", help="print the status as JSON on stdout")
    p.set_defaults(handler=cmd_status)

    p = command("cancel", "cancel the manifest's MiniMax-H3 (v2) tasks that are still queued: free, and "
                          "recorded in the ledger (a running task cannot be stopped)",
                "shots cancel manifests/h3.yaml --only h04-keeper")
    _folder_options(p, backend="whose tasks to cancel")
    p.add_argument("--only", action="append", type=_ids, metavar="ID[,ID...]",
                   help="only these shot ids; repeat the option or separate ids with commas")
    p.set_defaults(handler=cmd_cancel)

    p = command("report", "write the storyboard OUT/<name>/report.html: a panel per shot with its key frame, input "
                          "frames, prompt and timecodes; every take's player one click away; prints as paper",
                "shots report manifests/example.yaml")
    _folder_options(p, backend="whose results to show")
    p.set_defaults(handler=cmd_report)

    p = command("reel", "cut each shot's picked take into OUT/<name>/reel.mp4 (storyboard timing, the clips' "
                        "sound) with reel.srt", "shots reel manifests/example.yaml --burn-ids")
    _folder_options(p, backend="whose videos to use")
    p.add_argument("--burn-ids", action="store_true",
                   help="draw each clip's shot id and take in a corner of its frames")
    p.add_argument("--final", action="store_true",
                   help="use each shot's 2K final where one is downloaded (shots finalize), else its draft")
    p.set_defaults(handler=cmd_reel)

    from pipeline.review.export import add_export_parser  # light: the standard library only

    add_export_parser(sub, cmd_export, epilog=EXIT_CODES, formatter_class=_Formatter)

    from pipeline.review.serve import add_review_parser  # light: the standard library and errors only

    add_review_parser(sub, epilog=EXIT_CODES, formatter_class=_Formatter)

    from pipeline.run.finalize import add_finalize_parser

    add_finalize_parser(sub, epilog=EXIT_CODES, formatter_class=_Formatter)

    p = command("pick", "choose the take that represents a shot (in the reel, the sheet, the export, and for "
                        "shots that start from it): writes pick: N into the manifest, changing only that line",
                "shots pick manifests/example.yaml s04-hero 2")
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("shot", metavar="SHOT", help="the shot's id")
    p.add_argument("take", metavar="N", type=_take, help="the take, 1 to the shot's takes")
    p.add_argument("--json", action="store_true", help="print the changed lines as JSON on stdout")
    p.set_defaults(handler=cmd_pick)

    p = command("approve", "mark shots approved: writes status: approved into the manifest, changing only those "
                           "lines (an approved shot is never remade by an edit elsewhere unless --force)",
                "shots approve manifests/example.yaml s01-cliff s02-keeper")
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("shots", metavar="SHOT", nargs="+", help="the shots' ids")
    p.add_argument("--undo", action="store_true", help="remove the shots' status instead")
    p.add_argument("--json", action="store_true", help="print the changed lines as JSON on stdout")
    p.set_defaults(handler=cmd_approve)

    p = command("redo", "mark a shot to be made again: writes status: redo (and, with --note, why as its notes) "
                        "into the manifest; spends nothing by itself",
                "shots redo manifests/example.yaml s03-dawn --note 'the sea is too dark'")
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("shot", metavar="SHOT", help="the shot's id")
    p.add_argument("--note", metavar="TEXT", help="why: becomes the shot's notes, replacing what they said")
    p.add_argument("--json", action="store_true", help="print the changed lines as JSON on stdout")
    p.set_defaults(handler=cmd_redo)

    p = command("repair", "set damaged ledger lines aside so runs can go on (videos are untouched)",
                "shots repair manifests/example.yaml")
    _folder_options(p)
    p.set_defaults(handler=cmd_repair)

    p = command("sim", "serve the MiniMax-compatible simulator on 127.0.0.1",
                "shots sim --port 8765 --rpm 20 --time-scale 0.01")
    from pipeline.sim import add_sim_arguments

    add_sim_arguments(p)
    p.set_defaults(handler=cmd_sim)

    p = command("config", "show each run setting's value and where it came from: flag, manifest, "
                          "user config (~/.config/shots/config.toml or $SHOTS_CONFIG), environment, default",
                "shots config manifests/example.yaml --rpm 20")
    p.add_argument("manifest", metavar="MANIFEST", nargs="?", help="also apply this manifest's settings")
    p.add_argument("--rpm", type=float, help="as `shots run --rpm`")
    p.add_argument("--concurrency", type=int, metavar="N", help="as `shots run --concurrency`")
    p.add_argument("--poll-interval", type=float, metavar="S", help="as `shots run --poll-interval`")
    p.add_argument("--max-cost", type=_budget, metavar="USD", help="as `shots run --max-cost`")
    p.add_argument("--json", action="store_true", help="print the settings as JSON on stdout")
    p.set_defaults(handler=cmd_config)

    p = command("completion", "print a shell completion script for bash, zsh or fish to stdout",
                "shots completion bash > ~/.local/share/bash-completion/completions/shots\n"
                "  shots completion zsh > ~/.zfunc/_shots   # with fpath+=~/.zfunc before compinit in ~/.zshrc\n"
                "  shots completion fish > ~/.config/fish/completions/shots.fish\n\n"
                "The script is made from this program's own options, so it knows every command and flag\n"
                "of this version: write it again after an upgrade. It completes commands, flags, the\n"
                "choices of a flag, *.yaml / *.yml files for MANIFEST and directories for --out.")
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete for")
    p.set_defaults(handler=functools.partial(cmd_completion, parser))

    p = command("help", "show the help of a command (the same as `shots COMMAND --help`)", "shots help run")
    p.add_argument("topic", metavar="COMMAND", nargs="?", choices=list(sub.choices), help="the command")
    p.set_defaults(handler=functools.partial(cmd_help, parser))
    return parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default when there is one to show and the help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" not in text and action.default not in (None, False, argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def _folder_options(p: argparse.ArgumentParser, backend: str | None = None) -> None:
    """MANIFEST and the output folder it names; --backend when the command reads one endpoint's results."""
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("--out", type=Path, default=None,
                   help="outputs root; videos go to OUT/<name>/ (default: the outputs/ folder of the project "
                        "that holds the manifest, whatever the working directory)")
    if backend:
        p.add_argument("--backend", choices=("auto", "sim", "api"), default="auto",
                       help=f"{backend}: the API if MINIMAX_API_KEY is set, else the built-in simulator")


def _manifest_options(p: argparse.ArgumentParser) -> None:
    _folder_options(p, backend="where to generate")
    p.add_argument("--only", action="append", type=_ids, metavar="ID[,ID...]",
                   help="only these shot ids; repeat the option or separate ids with commas")
    p.add_argument("--retry-failed", action="store_true", help="create again the takes that failed for good")
    p.add_argument("--resubmit-uncertain", action="store_true",
                   help="create again the takes whose create answer was lost (may pay twice)")
    p.add_argument("--force", action="store_true",
                   help="make an approved shot again when a shot it is made from changed (else it keeps "
                        "the video it was approved as)")
    p.add_argument("--rpm", type=float, help="creates per minute (manifest or user config: rpm; default: 5, the free tier)")
    p.add_argument("--concurrency", type=int, metavar="N",
                   help="tasks in flight at once (manifest or user config: concurrency; default: no cap beyond the rate)")
    p.add_argument("--verify", action="store_true",
                   help="hash every finished video against the ledger (not only size and mtime); "
                        "a changed one is downloaded again, with no new task")
    p.add_argument("--max-cost", type=_budget, metavar="USD",
                   help="refuse to start if the new spend could exceed this; overrides the manifest's max_cost, "
                        "'none' lifts it")


def _ids(text: str) -> list[str]:
    """One --only value: an id, or ids separated by commas."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"no shot id in {text!r}")
    return ids


def _take(text: str) -> int:
    """A take number: a whole number from 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a take number from 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a take number from 1, got {text!r}")
    return value


def _budget(text: str) -> float:
    """--max-cost: USD >= 0, or 'none' for no budget (math.inf)."""
    if text.strip().lower() in ("none", "off", "inf"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an amount in USD or 'none', got {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected an amount in USD >= 0 or 'none', got {text!r}")
    return value


def _only(args: argparse.Namespace) -> list[str] | None:
    return [i for group in args.only for i in group] if args.only else None


def _print_json(data: Any) -> None:
    """One compact JSON document: with `indent`, json falls back to its pure-Python encoder,
    a second of a 10,000-take run's summary (pipe through `jq .` to read it)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def _settings(args: argparse.Namespace, manifest: Manifest) -> RunSettings:
    """The flags as parsed, handed to the one place that applies flag > manifest > user config > default."""
    from pipeline.run import userconfig
    from pipeline.run.options import RunSettings

    return RunSettings.from_sources(_setting_flags(args), manifest.settings, manifest.where, userconfig.load())


def _setting_flags(args: argparse.Namespace) -> SettingFlags:
    from pipeline.run.options import SettingFlags

    return SettingFlags(rpm=args.rpm, concurrency=args.concurrency,
                        poll_interval=getattr(args, "poll_interval", None), max_cost=args.max_cost)


# -- commands --------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.manifest.checker import check

    files = []
    any_error = False
    for name in args.manifests:
        problems = check(name)
        errors = [p for p in problems if p.severity == "error"]
        any_error = any_error or bool(errors)
        files.append({"file": name, "valid": not errors, "problems": [p.to_json() for p in problems]})
        for p in problems:
            print(str(p), file=sys.stderr)
        if not args.json:
            verdict = "invalid" if errors else "valid"
            warnings = len(problems) - len(errors)
            extra = f" ({len(errors)} error(s), {warnings} warning(s))" if problems else ""
            print(f"{name}: {verdict}{extra}")
    if args.json:
        _print_json({"files": files})
    return EXIT_INVALID if any_error else EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from pipeline.manifest.cache import load
    from pipeline.review import summary
    from pipeline.run import backend, gentime, workflow
    from pipeline.run.plan import Budget, estimate_seconds

    if _only(args):  # as the run would: errors in other shots leave them out, said here
        manifest = _load_for_run(args.manifest, _only(args))
        for warning in manifest.warnings:
            if warning.severity == "error":
                print(str(warning), file=sys.stderr)
        _say_left_out(manifest, args.manifest, "of this plan")
    else:
        manifest = load(args.manifest)
    settings = _settings(args, manifest)
    endpoint = backend.endpoint_for(args.backend)
    prepared = workflow.prepare(manifest, endpoint, args.out, only=_only(args), retry_failed=args.retry_failed,
                                force=args.force,
                                resubmit_uncertain=args.resubmit_uncertain, verify=args.verify)
    simulated = endpoint == backend.SIM_ENDPOINT  # not resolve(): plan --backend api needs no key
    time_scale = backend.SIM_TIME_SCALE if simulated else 1.0
    estimate = estimate_seconds(prepared.plan, settings.rpm, settings.concurrency, time_scale=time_scale,
                                history=gentime.history_from_view(prepared.view, time_scale))
    budget = Budget.of(prepared.plan, settings.max_cost, settings.max_cost_source)
    warning = workflow.outputs_warning(manifest, args.out, endpoint, refuse=False)
    if warning:
        print(warning, file=sys.stderr)
    if args.json:
        _print_json(summary.plan_json(prepared.plan, estimate, endpoint, out_dir=prepared.out_dir, budget=budget))
    else:
        print(summary.plan_text(prepared.plan, reasons=args.reason, estimate_s=estimate, simulated=simulated,
                                out_dir=prepared.out_dir, budget=budget))
        finals = _finals_line(manifest, endpoint, prepared)
        if finals:
            print(finals)
    return EXIT_OK


def _finals_line(manifest: Manifest, endpoint: str, prepared: Prepared) -> str | None:
    """What `shots finalize` would make now (picked H3 takes at 768P, in 2K), and its cost; None
    when there is nothing to finalize."""
    if not any(shot.model == "MiniMax-H3" for shot in manifest.shots):
        return None
    from pipeline.review.summary import money
    from pipeline.run import finals

    plan = finals.finalize_plan(finals.final_specs(manifest, endpoint, prepared.out_dir, prepared.view),
                                prepared.view, prepared.out_dir, endpoint=endpoint)
    if not plan.creates:
        return None
    return (f"finals: {len(plan.creates)} picked MiniMax-H3 take(s) could be made at 2K for "
            f"{money(plan.known_cost)} (`shots finalize {manifest.path}`; --dry-run lists them)")


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.review import summary
    from pipeline.run import workflow
    from pipeline.run.backend import endpoint_for, resolve
    from pipeline.run.plan import budget_problem
    from pipeline.run.progress import for_stderr

    manifest = _load_for_run(args.manifest, _only(args))
    for warning in manifest.warnings:
        print(str(warning), file=sys.stderr)
    broken = _say_left_out(manifest, args.manifest, "of this run", "; the lock file is not written")
    settings = _settings(args, manifest)
    options = settings.run_options(seed=args.seed, time_scale=args.time_scale)
    progress: list[Progress | EventLog] = []

    def on_start(prepared: Prepared, banner: str) -> Progress | EventLog:
        print(banner, file=sys.stderr)
        print(f"outputs: {prepared.out_dir}/", file=sys.stderr)
        if simulated:
            problem = budget_problem(prepared.plan, settings.max_cost, settings.max_cost_source or "")
            if problem:
                print(f"budget: a run with MINIMAX_API_KEY would refuse to start: {problem}", file=sys.stderr)
        work = sum(1 for t in prepared.plan.takes if not t.action.skips) + len(prepared.plan.orphans)
        costs = {t.spec.key: t.cost for t in prepared.plan.takes if t.creates and t.cost is not None}
        progress.append(for_stderr(work, quiet=args.quiet, verbose=args.verbose, no_color=args.no_color,
                                   costs=costs, simulated=simulated))
        return progress[0]

    simulated = resolve(args.backend) == "simulator"
    warning = workflow.outputs_warning(manifest, args.out, endpoint_for(args.backend), refuse=True)
    if warning:
        print(warning, file=sys.stderr)
    try:
        prepared, result, kind = asyncio.run(workflow.run(
            manifest, out_root=args.out, backend=args.backend, options=options, only=_only(args),
            retry_failed=args.retry_failed, resubmit_uncertain=args.resubmit_uncertain,
            max_cost=settings.max_cost, max_cost_source=settings.max_cost_source, verify=args.verify,
            force=args.force, write_lock_file=not args.no_lock_file and not broken, on_start=on_start,
        ))
    finally:
        if progress:
            progress[0].close()
    if args.json:
        _print_json(summary.result_json(result, kind))
    else:
        print(summary.result_text(result, simulated=kind == "simulator", plan=prepared.plan, manifest=args.manifest,
                                  aborted_by=_aborted_by(result.aborted)))
    for note in summary.removed_notes(prepared.plan):
        print(note, file=sys.stderr)
    print(f"videos: {prepared.out_dir}/", file=sys.stderr)
    gcpause.resume()  # the report decodes videos: no longer a loading phase
    if result.aborted is None or result.creates:  # not when it stopped before any work
        _report_after_run(args, manifest, nothing_ran=prepared.plan.idle)
    if result.aborted is not None:
        print(f"Error: {result.aborted}", file=sys.stderr)
        return result.aborted.exit_code
    if result.interrupted:
        print("Interrupted: tasks already created are resumed by running the same command again.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.count("done") == len(result.results):
        return EXIT_OK
    return EXIT_SHOTS_FAILED


def _aborted_by(error: ShotsError | None) -> str:
    """What stopped a run, as its takes' rows say it ("stopped: account error (see below)")."""
    if error is None:  # an idle run loads no HTTP client: neither does this
        return "run aborted"
    from pipeline.minimax.client import AccountError  # loaded already: the run used the client

    return "account error" if isinstance(error, AccountError) else "run aborted"


def _say_left_out(manifest: Manifest, path: str, what: str, after: str = "") -> list[str]:
    """With --only, say (and return) the shots left out for their errors (the chosen ones are fine)."""
    broken = sorted({p.shot for p in manifest.warnings if p.severity == "error" and p.shot is not None})
    if broken:
        print(f"note: left out {what} for their errors: {', '.join(broken)} (`shots validate {path}` shows "
              f"them all){after}", file=sys.stderr)
    return broken


def _load_for_run(path: str, only: list[str] | None) -> Manifest:
    """The manifest a run works from: with --only, errors in other shots leave those shots out
    (they come back in `warnings`); any other error stops the run, naming `shots validate`."""
    from pipeline.manifest.cache import load
    from pipeline.manifest.checker import ManifestError

    try:
        return load(path, only)
    except ManifestError as exc:
        raise InputError(f"{exc}; `shots validate {path}` shows them all") from exc


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.manifest.cache import load
    from pipeline.review import summary
    from pipeline.run import backend, ledger, workflow
    from pipeline.run.specs import resolved_specs

    manifest = load(args.manifest)
    endpoint = backend.endpoint_for(args.backend)
    out_dir = workflow.output_dir(args.out, manifest)
    view = ledger.load(out_dir)
    specs = resolved_specs(manifest, endpoint, out_dir, view)
    damaged = workflow.check_videos(manifest, out_dir, specs, view) if args.verify else {}
    rows = summary.status_rows(specs, view, damaged)
    if args.json:
        _print_json({"endpoint": endpoint, "takes": rows})
    else:
        print(summary.status_text(rows))
    # The README's table: 0 only when every take is done; failed, uncertain or still to make: 1.
    if damaged:
        print(f"{len(damaged)} video(s) differ from what was downloaded; `shots run --verify "
              f"{args.manifest}` downloads them again (no new task)", file=sys.stderr)
    return EXIT_OK if all(r["state"] == "downloaded" and not r.get("damaged") for r in rows) else EXIT_SHOTS_FAILED


def cmd_cancel(args: argparse.Namespace) -> int:
    from pipeline.manifest.cache import load
    from pipeline.run import workflow

    manifest = load(args.manifest)
    done = asyncio.run(workflow.cancel(manifest, out_root=args.out, backend=args.backend, only=_only(args)))
    if not done:
        print("nothing to cancel: no take's task is queued or running")
        return EXIT_OK
    label_width = max(len(item.label) for item in done)
    for item in done:
        print(f"{item.label:<{label_width}}  task {item.task_id}  {item.result}: {item.detail}")
    cancelled = sum(item.result == "cancelled" for item in done)
    print(f"{cancelled} of {len(done)} task(s) cancelled")
    return EXIT_OK if cancelled == len(done) else EXIT_SHOTS_FAILED


def cmd_repair(args: argparse.Namespace) -> int:
    from pipeline.manifest.cache import load
    from pipeline.run import ledger, workflow

    out_dir = workflow.output_dir(args.out, load(args.manifest))
    with ledger.RunLock(out_dir):
        kept, damaged, side = ledger.repair(out_dir)
    if not damaged:
        print(f"{ledger.ledger_path(out_dir)}: no damaged lines ({kept} events)")
    else:
        lines = ", ".join(str(n) for n in damaged[:10]) + (" ..." if len(damaged) > 10 else "")
        print(f"{ledger.ledger_path(out_dir)}: kept {kept} events; set {len(damaged)} damaged line(s) aside "
              f"(line {lines}) in {side}")
    return EXIT_OK


def cmd_sim(args: argparse.Namespace) -> int:
    from pipeline.sim import config_from_args, serve

    try:
        serve(config_from_args(args), host=args.host, port=args.port)
    except ValueError as exc:  # --host that is not loopback: the simulator never listens on a network
        raise InputError(f"shots sim: --host: {exc}") from None
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise InputError(f"shots sim: cannot listen on {args.host}:{args.port}: {exc.strerror}; "
                             f"choose another --port (0 picks a free one)") from None
        raise
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from pipeline.minimax.account import api_key_from_env, base_url_from, base_url_source
    from pipeline.run import userconfig
    from pipeline.run.options import resolve

    config = userconfig.load()
    manifest = None
    if args.manifest:
        from pipeline.manifest.cache import load

        manifest = load(args.manifest)
    chosen = resolve(_setting_flags(args), manifest.settings if manifest else None,
                     manifest.where if manifest else lambda name: None, config)
    rows = [(r.name, r.value, r.describe()) for r in chosen.values()]
    host_origin = base_url_source(None, config.base_url)
    host_place = {"environment": "environment MINIMAX_BASE_URL", "config": f"config {config.shown}"}
    rows.append(("base_url", base_url_from(None, config.base_url), host_place.get(host_origin, host_origin)))
    rows.append(("key", "set" if api_key_from_env() else "not set", "environment MINIMAX_API_KEY"))
    config_state = f"{config.shown} ({'read' if config.exists else 'not found'})"
    if args.json:
        _print_json({"config_file": config.shown, "config_exists": config.exists,
                     "settings": {name: {"value": None if isinstance(v, float) and math.isinf(v) else v,
                                         "source": where} for name, v, where in rows}})
        return EXIT_OK
    print(f"config file: {config_state}")
    for name, value, where in rows:
        print(f"{name:<14}{_setting_text(value):<26}{where}")
    return EXIT_OK


def _setting_text(value: object) -> str:
    """A setting as a person reads it: 'none' for no value, numbers without a trailing '.0'."""
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def cmd_help(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`shots help CMD` prints what `shots CMD --help` prints; `shots help` the command list."""
    target = _commands(parser).get(args.topic) if args.topic else parser
    sys.stdout.write((target or parser).format_help())
    return EXIT_OK


def cmd_completion(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`shots completion SHELL`: the script, made from the parser itself (pipeline/completion.py)."""
    from pipeline.completion import script

    sys.stdout.write(script(parser, args.shell))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline.review import report
    from pipeline.run import backend, workflow

    manifest = _load_for_run(args.manifest, [])  # a shot with errors is a panel saying so, not a refusal
    path = report.write_report(manifest, backend.endpoint_for(args.backend), workflow.output_dir(args.out, manifest))
    print(path)
    return EXIT_OK


def cmd_reel(args: argparse.Namespace) -> int:
    from pipeline.manifest.cache import load
    from pipeline.review import reel
    from pipeline.run import backend, workflow

    manifest = load(args.manifest)
    video, captions, entries = reel.build(manifest, backend.endpoint_for(args.backend),
                                          workflow.output_dir(args.out, manifest), burn_ids=args.burn_ids,
                                          final=args.final)
    cards = [f"{e.shot} ({e.status})" for e in entries if e.video is None]
    if cards:
        print(f"{len(cards)} shot(s) as title cards: {', '.join(cards)}", file=sys.stderr)
    print(video)
    print(captions)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """`shots export`: review/export.py does it; the endpoint and the folder are resolved here
    (review/ may not import run/backend or run/workflow)."""
    from pipeline.manifest.cache import load
    from pipeline.review import export
    from pipeline.run import backend, workflow

    manifest = load(args.manifest)
    return export.cmd_export(args, manifest, backend.endpoint_for(args.backend), workflow.output_dir(args.out, manifest))


def cmd_pick(args: argparse.Namespace) -> int:
    from pipeline.manifest import decisions

    edits = decisions.pick(args.manifest, args.shot, args.take)
    return _say_edits(args, edits, {args.shot: f"already has pick: {args.take}"})


def cmd_approve(args: argparse.Namespace) -> int:
    from pipeline.manifest import decisions

    edits = decisions.approve(args.manifest, args.shots, undo=args.undo)
    said = "has no status" if args.undo else "is approved already"
    return _say_edits(args, edits, dict.fromkeys(args.shots, said))


def cmd_redo(args: argparse.Namespace) -> int:
    from pipeline.manifest import decisions

    edits = decisions.redo(args.manifest, args.shot, args.note)
    return _say_edits(args, edits, {args.shot: "is marked redo already" + (" with that note" if args.note else "")})


def _say_edits(args: argparse.Namespace, edits: list, unchanged: dict[str, str]) -> int:
    """Each changed line as `manifests/x.yaml:12: pick: 2  (was: pick: 1)`; a shot the edit left
    as it was, as saying so already."""
    if args.json:
        _print_json({"manifest": args.manifest, "edits": [e.to_json() for e in edits],
                     "unchanged": [s for s in unchanged if not any(e.shot == s for e in edits)]})
        return EXIT_OK
    for e in edits:
        if not e.after:
            print(f"{args.manifest}:{e.line}: removed {e.before.strip()}")
        elif e.before:
            print(f"{args.manifest}:{e.line}: {e.after.strip()}  (was: {e.before.strip()})")
        else:
            print(f"{args.manifest}:{e.line}: {e.after.strip()}")
    for shot, said in unchanged.items():
        if not any(e.shot == shot for e in edits):
            print(f"{args.manifest}: shot '{shot}' {said}; nothing to change")
    return EXIT_OK


def _report_after_run(args: argparse.Namespace, manifest: Manifest, *, nothing_ran: bool) -> None:
    """Write the contact sheet after `shots run`; a failure here never changes the run's outcome.

    When nothing ran and the report is newer than the ledger and the manifest, it already shows
    everything there is: rewriting it would cost seconds on a 10,000-shot resume for no change.
    """
    from pipeline.review import report
    from pipeline.run import backend, ledger, workflow

    out_dir = workflow.output_dir(args.out, manifest)
    existing = out_dir / report.REPORT_NAME
    if nothing_ran and existing.exists():
        newest_input = max(_mtime(ledger.ledger_path(out_dir)), _mtime(manifest.path))
        if _mtime(existing) > newest_input:
            print(f"report: {existing} (unchanged)", file=sys.stderr)
            return
    try:
        path = report.write_report(manifest, backend.endpoint_for(args.backend),
                                   workflow.output_dir(args.out, manifest))
    except (OSError, ValueError, ShotsError) as exc:
        print(f"warning: the report could not be written: {exc}", file=sys.stderr)
        return
    print(f"report: {path}", file=sys.stderr)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
