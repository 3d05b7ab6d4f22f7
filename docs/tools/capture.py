"""Regenerate the README's pictures of a run: the live view in tmux at 80 and 160 columns (text,
ANSI and PNG) and the event log a run writes when stderr is not a terminal (plain and -v).

    .venv/bin/python docs/tools/capture.py            # docs/live-view-*.{txt,ansi,png}, docs/run-log*.txt
    .venv/bin/python docs/tools/capture.py --time-scale 0.1 --docs /tmp/look   # a quick look

Needs tmux. Not run in CI: at the real API's pace (the default) it takes about half an hour.

Every run talks to a `shots sim` started here as its own process (MINIMAX_API_KEY and
MINIMAX_BASE_URL pointing at it, as the README's "Talking to the simulator yourself" does), on a
storyboard of ten shots made from manifests/example.yaml. The simulator generates at the real
API's pace (1.5 to 4 minutes a video) unless --time-scale says otherwise, so the ages, ETA and
timestamps read as they would with a key; one prompt holds a --sensitive-word, so one shot fails
(1026) every time. The live view is captured when the pane itself shows takes generating and
others done and failed (the pane is polled, nothing waits on a guessed time). The logs come from
a simulator with seeded faults (rate-limit answers, truncated downloads, expired URLs), so they
show retries; a log without a retry or a failure is run again with the next seed.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ansi_png import render  # noqa: E402  (the sibling doc tool)

ROOT = Path(__file__).resolve().parents[2]
MARKER = ".shots-docs-capture"  # a work folder holding this file is ours to empty
SENSITIVE = "raincoat"  # in s06-visitor's prompt: the simulator refuses it with 1026
LOG_FAULTS = "error_1002=0.08,truncate_download=0.15,expire_url=0.1"
TMUX_SOCKET = "shots-docs-capture"  # our own tmux server, never the user's
EXTRA_SHOTS = [
    {"id": "s08-gulls", "mode": "text_to_video",
     "prompt": "Gulls wheel over the lantern gallery in the morning wind [Tracking shot]."},
    {"id": "s09-harbour", "mode": "text_to_video",
     "prompt": "Fishing boats leave the harbour below the cliff at sunrise [Truck right]."},
    {"id": "s10-title", "mode": "text_to_video",
     "prompt": "The lighthouse at golden hour, the camera rising slowly above it [Pedestal up]."},
]
_SGR = re.compile(r"\x1b\[[0-9;:]*[A-Za-z]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where to write (default: docs/)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "lighthouse",
                        help="a scratch folder for the storyboard and its outputs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="the simulator's seed for the logs (default: 7)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="the simulator's and the run's clock: 1 is the real pace, 0.1 ten times faster "
                             "(default: 1)")
    parser.add_argument("--only", choices=("live", "logs"), help="make only the live views or only the logs")
    args = parser.parse_args()
    if not shutil.which("tmux") and args.only != "logs":
        sys.exit("tmux is not installed (Debian: apt-get install tmux)")
    work = prepare(args.work)
    args.docs.mkdir(parents=True, exist_ok=True)
    if args.only != "logs":
        for columns, lines in ((80, 24), (160, 30)):
            live_view(work, args.docs, columns, lines, args.time_scale)
    if args.only != "live":
        for verbose in (False, True):
            run_log(work, args.docs, verbose, args.seed, args.time_scale)
    return 0


def prepare(work: Path) -> Path:
    """The scratch folder: the storyboard, its images, and a `shots` on PATH that runs this tree."""
    if work.exists():
        if not (work / MARKER).exists():
            sys.exit(f"{work} exists and was not made by this script; choose another --work")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / MARKER).touch()
    shutil.copytree(ROOT / "manifests" / "assets", work / "assets")
    manifest = yaml.safe_load((ROOT / "manifests" / "example.yaml").read_text(encoding="utf-8"))
    manifest["name"] = "lighthouse-long"
    manifest.pop("max_cost", None)  # a run with a key would refuse ten shots at the example's $5
    manifest.update(rpm=20, concurrency=4)
    manifest["shots"] += EXTRA_SHOTS
    assert any(SENSITIVE in shot["prompt"] for shot in manifest["shots"]), "no shot for the simulator to refuse"
    (work / "storyboard.yaml").write_text(
        "# The example storyboard and three more shots: docs/tools/capture.py writes it.\n"
        + yaml.safe_dump(manifest, sort_keys=False, width=100, allow_unicode=True), encoding="utf-8")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "shots"
    wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} "
                       f"-m pipeline \"$@\"\n")
    wrapper.chmod(0o755)
    return work


class Simulator:
    """`shots sim` on a free port, in its own process, stopped on exit."""

    def __init__(self, work: Path, *, time_scale: float, seed: int = 0, faults: str = "") -> None:
        self.log = work / "sim.log"
        command = [str(work / "bin" / "shots"), "sim", "--port", "0", "--time-scale", str(time_scale),
                   "--seed", str(seed), "--sensitive-word", SENSITIVE]
        if faults:
            command += ["--faults", faults]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:\d+", self.log.read_text())
            if found:
                return found.group(0)
            if self.process.poll() is not None:
                sys.exit(f"shots sim stopped: {self.log.read_text()}")
            time.sleep(0.1)
        self.stop()
        sys.exit("shots sim did not say where it listens within 30 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_env(work: Path, url: str) -> dict[str, str]:
    """A clean environment: the simulator's key and URL, no user config, UTF-8, colour allowed."""
    return {
        "PATH": f"{work / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "MINIMAX_API_KEY": "sim-key",
        "MINIMAX_BASE_URL": url,
        "SHOTS_CONFIG": str(work / "no-config.toml"),
        "SHOTS_CACHE_DIR": str(work / "cache"),
    }


def fresh_outputs(work: Path) -> None:
    """No ledger or lock file from the run before: every run starts from nothing."""
    shutil.rmtree(work / "outputs", ignore_errors=True)
    (work / "storyboard.yaml.lock.json").unlink(missing_ok=True)


def tmux(*argv: str, check: bool = True) -> str:
    return subprocess.run(["tmux", "-L", TMUX_SOCKET, *argv], capture_output=True, text=True, check=check).stdout


def counts(pane: str) -> dict[str, int]:
    return {name: int(n) for name, n in re.findall(r"\b(done|failed|generating|queued) (\d+)\b", pane)}


def shots_run(scale: float) -> str:
    """The command as typed: --time-scale only when the clock is not the real one."""
    return "shots run storyboard.yaml" + (f" --time-scale {scale:g}" if scale != 1 else "")


def live_view(work: Path, docs: Path, columns: int, lines: int, scale: float) -> None:
    """`shots run` in a tmux pane of columns x lines, captured mid-run."""
    fresh_outputs(work)
    with Simulator(work, time_scale=scale) as sim:
        env = run_env(work, sim.url) | {"PS1": "$ ", "TERM": "tmux-256color"}
        shell = "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " bash --norc --noprofile"
        tmux("kill-server", check=False)
        tmux("-u", "new-session", "-d", "-s", "live", "-x", str(columns), "-y", str(lines), "-c", str(work), shell)
        try:
            tmux("send-keys", "-t", "live", "clear", "Enter")
            tmux("send-keys", "-t", "live", shots_run(scale), "Enter")
            ansi = wait_for_frame(timeout=120 + 900 * scale)
        finally:
            tmux("kill-server", check=False)
    plain = "\n".join(_SGR.sub("", line).rstrip() for line in ansi.split("\n")).rstrip("\n") + "\n"
    ansi = "\n".join(line.rstrip() for line in ansi.split("\n")).rstrip("\n") + "\n"
    stem = docs / f"live-view-{columns}"
    stem.with_suffix(".txt").write_text(plain, encoding="utf-8")
    stem.with_suffix(".ansi").write_text(ansi, encoding="utf-8")
    image = render(ansi, columns=columns, title=f"shots run · {columns}×{lines}")
    image.save(stem.with_suffix(".png"), optimize=True)
    print(f"{stem}.txt/.ansi/.png: {counts(plain)}", file=sys.stderr)


def wait_for_frame(timeout: float) -> str:
    """The pane (with colour codes) once it shows at least two takes generating and some done and
    failed; if the run ends before that ever shows, the last frame with two generating and one done."""
    deadline = time.monotonic() + timeout
    fallback = None
    while time.monotonic() < deadline:
        pane = tmux("capture-pane", "-p", "-e", "-t", "live")
        seen = counts(_SGR.sub("", pane))
        if seen.get("generating", 0) >= 2 and seen.get("done", 0) >= 1:
            if seen.get("failed", 0) >= 1 and seen.get("done", 0) >= 3:
                return pane
            fallback = pane
        if "videos:" in pane or "Error:" in pane:  # the run is over (or never started)
            break
        time.sleep(0.2)
    if fallback is None:
        sys.exit("the live view never showed two takes generating and one done:\n" + _SGR.sub("", pane))
    return fallback


def run_log(work: Path, docs: Path, verbose: bool, seed: int, scale: float) -> None:
    """`shots run M 2> log`: stderr is a file, so the run writes its event log."""
    name = "run-log-verbose.txt" if verbose else "run-log.txt"
    for attempt in range(5):
        fresh_outputs(work)
        with Simulator(work, time_scale=scale, seed=seed + attempt, faults=LOG_FAULTS) as sim:
            argv = shots_run(scale).split() + (["-v"] if verbose else [])
            done = subprocess.run(argv, cwd=work, env=run_env(work, sim.url), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  timeout=600 + 3600 * scale)
        log = done.stderr
        if " retrying: " in log and " failed: " in log:
            break
        print(f"{name}: seed {seed + attempt} gave no retry or no failure; trying the next", file=sys.stderr)
    else:
        sys.exit(f"{name}: no seed gave a retry and a failure")
    command = f"$ {shots_run(scale)}{' -v' if verbose else ''} 2> {name}"
    (docs / name).write_text(f"{command}\n{log}", encoding="utf-8")
    print(f"{docs / name}: {len(log.splitlines())} lines, exit {done.returncode}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
