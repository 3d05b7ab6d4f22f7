"""Shared fixtures: a clean environment, and simulators on loopback that stop after the test."""

from __future__ import annotations

import io
import os
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from pipeline.minimax.images import to_data_url

from pipeline.sim import SimConfig, Simulator

FAST = 0.001  # 1000x: a 90-240 s generation takes 0.09-0.24 s
PREVIEW_HEIGHT, PREVIEW_FPS = 180, 12  # the test simulators' previz (see sim_factory)
_TLS = ssl.create_default_context()  # loaded once: each new httpx.Client would spend ~50 ms on it


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may pick up a real key or endpoint from the developer's shell, or use their cache."""
    monkeypatch.delenv("MINIMAX_API_KEY", raising=False)
    monkeypatch.delenv("MINIMAX_BASE_URL", raising=False)
    monkeypatch.delenv("SHOTS_NO_CACHE", raising=False)
    monkeypatch.setenv("SHOTS_CACHE_DIR", str(tmp_path_factory.mktemp("shots-cache")))


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A developer's own ~/.config/shots/config.toml never changes a test: SHOTS_CONFIG names no file."""
    monkeypatch.setenv("SHOTS_CONFIG", str(tmp_path_factory.getbasetemp() / "no-such-shots-config.toml"))


@pytest.fixture
def sim_factory(tmp_path):
    """make(**SimConfig overrides) -> a started Simulator (time_scale 0.001 unless given)."""
    started: list[Simulator] = []

    def make(**overrides) -> Simulator:
        overrides.setdefault("time_scale", FAST)
        overrides.setdefault("render_cache_dir", tmp_path / f"renders-{len(started)}")
        # Small previews (the simulator's default is 640 px at 24 fps): every downloaded take is
        # rendered, and at 320x180, 12 fps the suite spends an eighth of the time on it.
        if "render_width" not in overrides:
            overrides.setdefault("render_height", PREVIEW_HEIGHT)
        overrides.setdefault("render_fps", PREVIEW_FPS)
        sim = Simulator(SimConfig(**overrides)).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory) -> Simulator:
    return sim_factory()


@pytest.fixture
def http():
    """A plain client with no key (httpx.get would set up TLS afresh, ~50 ms, on every call)."""
    with httpx.Client(timeout=30, verify=_TLS) as client:
        yield client


class Api:
    """A thin httpx client for the v1 routes, as a test writes them (no retries, no magic)."""

    def __init__(self, base_url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30, verify=_TLS)

    def create(self, **body) -> dict:
        return self.http.post("/v1/video_generation", json=body).json()

    def query(self, task_id: str) -> dict:
        return self.http.get("/v1/query/video_generation", params={"task_id": task_id}).json()

    def retrieve(self, file_id) -> dict:
        return self.http.get("/v1/files/retrieve", params={"file_id": file_id}).json()

    def wait(self, task_id: str, timeout: float = 10.0) -> dict:
        """Poll until Success or Fail (the simulator runs on a fast clock)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.query(task_id)
            if answer.get("status") in ("Success", "Fail") or answer["base_resp"]["status_code"] != 0:
                return answer
            time.sleep(0.02)
        raise AssertionError(f"task {task_id} did not finish in {timeout} s: {answer}")


@pytest.fixture
def api():
    """api(sim, key='sim-key') -> Api bound to that simulator."""
    made: list[Api] = []

    def make(sim: Simulator, key: str | None = "sim-key") -> Api:
        made.append(Api(sim.base_url, key))
        return made[-1]

    yield make
    for a in made:
        a.http.close()


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    """A small test picture: grey, with a white square in the centre."""
    img = Image.new("RGB", (width, height), (40, 40, 40))
    s = min(width, height) // 8
    ImageDraw.Draw(img).rectangle([width // 2 - s, height // 2 - s, width // 2 + s, height // 2 + s], fill="white")
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def data_url():
    """data_url(width, height, fmt='PNG') -> a Base64 data URL of a picture made by Pillow."""
    return lambda width, height, fmt="PNG": to_data_url(image_bytes(width, height, fmt))


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs, to fill up: needs root and mount (CI runs as root); skipped where they are not."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the file system under `folder`."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler
