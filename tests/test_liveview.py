"""The live view of `shots run` on a terminal (pipeline/run/liveview.py, pipeline/run/progress.py):
frames rendered to strings at 80 and 160 columns, a clock that ticks without phase changes, the
view drawn through a pseudo-terminal, and NO_COLOR."""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.run import liveview, progress

ROOT = Path(__file__).resolve().parents[1]
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def spec(shot: str, take: int = 1):
    return SimpleNamespace(key=(shot, take), label=shot if take == 1 else f"{shot}#{take}")


def busy_view(clock: Clock) -> progress.Progress:
    view = progress.Progress(10, enabled=False, now=clock, costs={("s01", 1): 0.43, ("s02", 1): 0.43})
    phases = [("s01", "done"), ("s02", "failed"), ("s03-the-lighthouse-keeper", "generating"),
              ("s04", "creating"), ("s05", "downloading"), ("s06", "uncertain"), ("s07", "queued")]
    for shot, phase in phases:
        view(spec(shot), "queued")
        clock.t += 5
        view(spec(shot), phase)
    return view


def counts_in(lines: list[str]) -> dict[str, int]:
    text = COLOUR.sub("", "\n".join(lines[1:3]))
    return {name: int(n) for name, n in re.findall(r"([a-z]+) (\d+)", text)}


@pytest.mark.parametrize("width", [80, 160])
def test_a_frame_adds_up_and_fits(width):
    clock = Clock()
    view = busy_view(clock)
    clock.t += 65
    lines = view.render(width)
    assert all(len(COLOUR.sub("", ln)) <= width for ln in lines), lines
    counts = counts_in(lines)
    assert set(counts) == set(liveview.STATES)
    assert sum(counts.values()) == 10  # the takes this run works on, no more, no less
    assert counts["done"] == 1 and counts["failed"] == 1 and counts["uncertain"] == 1
    assert counts["queued"] == 4  # one told queued, three not yet heard of
    assert "1/10 done" in lines[0]  # the failed take is not progress
    assert "$0.43 spent" in lines[0]  # only the done take's cost
    assert re.search(r"\|[█▏▎▍▌▋▊▉ ]+\|", lines[0])  # a bar, more than one character wide
    flight = {ln.split()[0]: ln.split()[1:] for ln in lines[3:] if ln.strip()}
    assert flight["s03-the-lighthouse-keeper"] == ["generating", "1m25s"]
    assert flight["s04"] == ["creating", "1m20s"]
    assert flight["s05"] == ["downloading", "1m15s"]
    assert "s01" not in flight and "s07" not in flight


def test_the_clock_ticks_without_a_phase_change():
    clock = Clock()
    view = progress.Progress(3, enabled=False, now=clock)
    view(spec("s01"), "generating")
    first = view.render(80)
    assert "00:00 elapsed" in first[0] and "ETA ?" in first[0]
    clock.t += 61
    later = view.render(80)
    assert "01:01 elapsed" in later[0]
    assert any("1m01s" in ln for ln in later[3:])


def test_eta_from_the_takes_done_so_far():
    clock = Clock()
    view = progress.Progress(4, enabled=False, now=clock)
    view(spec("bad"), "failed")
    assert "ETA ?" in view.render(80)[0]  # a quick refusal says nothing about a video's time
    clock.t += 60
    view(spec("s01"), "done")
    assert "ETA 01:00" in view.render(80)[0]  # 60 s for 2 finished, 2 left


def test_too_many_in_flight_reads_plus_n_more():
    clock = Clock()
    view = progress.Progress(20, enabled=False, now=clock)
    for i in range(12):
        view(spec(f"s{i:02d}"), "generating")
    flight = view.render(80)[3:]
    assert len(flight) == progress.MAX_FLIGHT_LINES
    assert flight[-1].strip() == f"+{12 - progress.MAX_FLIGHT_LINES + 1} more"


def test_narrow_lines_are_cut_not_wrapped():
    clock = Clock()
    view = busy_view(clock)
    assert all(len(COLOUR.sub("", ln)) <= 30 for ln in view.render(30))


@pytest.mark.parametrize("env,flag,coloured", [("", False, True), ("1", False, False), ("", True, False)])
def test_no_color_and_the_flag(monkeypatch, env, flag, coloured):
    monkeypatch.setenv("NO_COLOR", env)
    stream = Terminal()
    view = progress.for_stderr(2, stream=stream, no_color=flag)
    assert isinstance(view, progress.Progress)
    view(spec("s01"), "done")
    view(spec("s02"), "failed")
    view.close()
    out = stream.getvalue()
    assert "done 1" in COLOUR.sub("", out)
    assert bool(COLOUR.search(out)) == coloured


DRIVER = textwrap.dedent("""
    import sys, time
    from types import SimpleNamespace
    from pipeline.run.progress import Progress

    def spec(shot):
        return SimpleNamespace(key=(shot, 1), label=shot)

    view = Progress(2, stream=sys.stderr, tick=0.05)
    view(spec("s01-cliff"), "generating")
    view(spec("s02-keeper"), "creating")
    time.sleep(0.5)
    view(spec("s01-cliff"), "done")
    view(spec("s02-keeper"), "failed")
    view.close()
    print("AFTER", file=sys.stderr)
""")


def test_through_a_pseudo_terminal_frames_are_drawn_and_the_last_stays(tmp_path):
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    script = tmp_path / "drive.py"
    script.write_text(DRIVER)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": ""}
    proc = subprocess.Popen([sys.executable, str(script)], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 10)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=10) == 0
    text = out.decode()
    assert text.count("0/2 done") >= 3  # redrawn by the clock while nothing changed
    assert re.search(r"s01-cliff +generating +\d+s", text) and re.search(r"s02-keeper +creating +\d+s", text)
    final, after = text.rsplit("1/2 done", 1)[1].split("AFTER")
    plain = COLOUR.sub("", final)
    assert "done 1 · failed 1" in plain and "queued 0 · creating 0" in plain
    assert "\x1b[A" not in final.split("queued 0")[1]  # nothing moves back up over the last frame
    drawn = re.split(r"[\r\n]+", COLOUR.sub("", text).replace("\x1b[A", ""))
    assert max(len(ln) for ln in drawn) <= 80, max(drawn, key=len)
