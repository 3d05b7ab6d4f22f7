"""The run as a log when stderr is not a terminal: one timestamped line per event, no bar;
`-v` adds the decisions, never raw HTTP lines."""

from __future__ import annotations

import io
import logging
import re

from pipeline.run import eventlog, progress
from pipeline.run.eventlog import EventLog

from runs import run_inprocess, t2v_shots, write_manifest

STAMP = r"\d\d:\d\d:\d\d"
BAR_CHARS = ("\r", "█", "▏", "|", "it/s", "take/s")


class Captured(io.StringIO):
    """A stream that is not a terminal, as stderr is under CI or `2> log`."""

    def isatty(self) -> bool:
        return False


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_logged(tmp_path, sim, monkeypatch, shots, *, verbose=False, **kwargs):
    manifest = write_manifest(tmp_path, shots)
    stream = Captured()
    made: list[object] = []

    def on_start(prepared, banner):
        work = sum(1 for t in prepared.plan.takes if not t.action.skips)
        made.append(progress.for_stderr(work, verbose=verbose, stream=stream))
        return made[0]

    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=600, on_start=on_start, **kwargs)
    assert isinstance(made[0], EventLog)
    return result, stream.getvalue().splitlines()


def lines_of(lines: list[str], label: str, kind: str) -> list[str]:
    return [ln for ln in lines if re.match(rf"{STAMP} {re.escape(label)} {kind}(:| |$)", ln)]


def test_one_submitted_and_one_done_with_size_per_take(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(sensitive_words=("forbidden",))
    shots = t2v_shots(2) + [{"id": "two", "mode": "text_to_video", "prompt": "Dawn.", "takes": 2},
                            {"id": "bad", "mode": "text_to_video", "prompt": "Something forbidden."}]
    result, lines = run_logged(tmp_path, sim, monkeypatch, shots)

    assert lines and all(re.match(rf"{STAMP} \S", ln) for ln in lines), lines
    assert not any(ch in "\n".join(lines) for ch in BAR_CHARS)
    done = [r for r in result.results if r.outcome == "done"]
    assert len(done) == 4
    for r in done:
        label = r.spec.label
        assert len(lines_of(lines, label, "submitted")) == 1, (label, lines)
        [line] = lines_of(lines, label, "done")
        assert re.fullmatch(rf"{STAMP} {re.escape(label)} done {re.escape(r.file)} \(\d+(\.\d)? (KB|MB|bytes)\)", line)
        assert "0.0 MB" not in line
        assert lines.index(lines_of(lines, label, "submitted")[0]) < lines.index(line)
    [failed] = lines_of(lines, "bad", "failed")
    assert re.match(rf"{STAMP} bad failed: ", failed)
    assert "1026" in failed and "sensitive" in failed.lower()
    assert not lines_of(lines, "bad", "submitted")
    assert not any("first poll" in ln or "poll 1" in ln for ln in lines)  # decisions are -v's


def test_verbose_adds_decisions_with_shot_ids_and_no_http_lines(sim_factory, tmp_path, monkeypatch, caplog):
    sim = sim_factory()
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        result, lines = run_logged(tmp_path, sim, monkeypatch, t2v_shots(2), verbose=True)
    assert logging.getLogger("httpx").level == logging.WARNING  # the factory quiets httpx under -v
    assert not [r for r in caplog.records if r.name.startswith("httpx")]
    assert not any("HTTP Request" in ln for ln in lines)
    for label in ("s001", "s002"):
        assert [ln for ln in lines if re.match(rf"{STAMP} {label} first poll \d+ s after the create \(", ln)], lines
        assert [ln for ln in lines if re.match(rf"{STAMP} {label} poll \d+: \w+", ln)], lines
        assert len(lines_of(lines, label, "done")) == 1


def test_retrying_says_why(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(faults={"http_503": 0.3}, seed=3)
    result, lines = run_logged(tmp_path, sim, monkeypatch, t2v_shots(4))
    retries = [ln for ln in lines if re.match(rf"{STAMP} s\d+ retrying: ", ln)]
    assert retries, lines
    assert all(re.search(r"failed \(.+\)", ln) for ln in retries), retries


def test_rate_limit_is_a_retry_and_slowing_down_a_decision(sim_factory, tmp_path, monkeypatch):
    sim = sim_factory(rpm=5, time_scale=0.01)
    manifest = write_manifest(tmp_path, t2v_shots(12))
    stream = Captured()
    log = EventLog(verbose=True, stream=stream)
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch, rpm=10, on_start=lambda p, b: log)
    lines = stream.getvalue().splitlines()
    assert result.rate_limited >= 1  # told 10 a minute, the server allows 5: it says so once or twice
    assert [ln for ln in lines if re.match(rf"{STAMP} s\d+ retrying: rate limited", ln)], lines
    assert [ln for ln in lines if re.match(rf"{STAMP} s\d+ slowing to \d+\.\d creates per minute", ln)], lines


def test_the_factory_picks_by_terminal_quiet_and_verbose():
    assert isinstance(progress.for_stderr(3, stream=Captured()), EventLog)
    assert isinstance(progress.for_stderr(3, quiet=True, verbose=True, stream=Captured()), EventLog)
    quiet = progress.for_stderr(3, quiet=True, stream=Captured())
    assert isinstance(quiet, progress.Progress) and quiet.bar.disable
    quiet.close()


def test_line_format():
    at = 0.0
    assert re.fullmatch(rf"{STAMP} s01 submitted \(task 123\)", eventlog.line(at, "s01", "submitted", "task 123"))
    assert re.fullmatch(rf"{STAMP} s01 done s01.mp4 \(1.2 MB\)", eventlog.line(at, "s01", "done", "s01.mp4 (1.2 MB)"))
    assert re.fullmatch(rf"{STAMP} s02 failed: refused", eventlog.line(at, "s02", "failed", "refused"))
    assert re.fullmatch(rf"{STAMP} s04 uncertain: lost", eventlog.line(at, "s04", "uncertain", "lost"))


def test_cli_logs_events_when_stderr_is_a_file(sim_factory, tmp_path):
    """`shots run ... 2> log`: stderr is a pipe here, as in CI: event lines, no bar."""
    from runs import run_cli

    sim = sim_factory(sensitive_words=("forbidden",))
    manifest = write_manifest(tmp_path, t2v_shots(2) + [{"id": "bad", "mode": "text_to_video", "prompt": "forbidden"}])
    run = run_cli(sim, "run", str(manifest), "--rpm", "600", "--out", "out", cwd=tmp_path)
    lines = run.stderr.splitlines()
    for label in ("s001", "s002"):
        assert len(lines_of(lines, label, "submitted")) == 1 and len(lines_of(lines, label, "done")) == 1, lines
    assert lines_of(lines, "bad", "failed") and "\r" not in run.stderr
