"""How long `load()` takes on big manifests: 1,000, 10,000 and 100,000 shots sharing a few images.

    .venv/bin/python bench/validate.py [--profile N]

Every shot is really checked (schema, catalogue, images, prompt lint); the images are read
once each because the checker caches them by (path, size, mtime). Target: 10,000 shots well
under 2 s. Times are the best of three runs (one for 100,000). `--profile N` prints the top of a cProfile of one N-shot load.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from pipeline.manifest import imagefiles  # noqa: E402
from pipeline.manifest.checker import load  # noqa: E402
from pipeline.run.request import canonical_request, fingerprint  # noqa: E402

MODES = [
    ("text_to_video", {}),
    ("image_to_video", {"first_frame_image": "assets/a.jpg"}),
    ("first_last_frame", {"first_frame_image": "assets/a.jpg", "last_frame_image": "assets/b.png"}),
    ("subject_reference", {"subject_image": "assets/face.jpg", "model": "S2V-01"}),
]


def write_manifest(folder: Path, n: int) -> Path:
    assets = folder / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (640, 360), (10, 60, 120)).save(assets / "a.jpg")
    Image.new("RGB", (640, 360), (200, 120, 40)).save(assets / "b.png")
    Image.new("RGB", (480, 640), (230, 190, 160)).save(assets / "face.jpg")
    lines = [
        "version: 1", f"name: bench-{n}", "defaults:", "  model: MiniMax-Hailuo-02",
        "  duration: 6", "  resolution: 768P", "shots:",
    ]
    for i in range(n):
        mode, extra = MODES[i % len(MODES)]
        lines += [f"  - id: s{i:06d}", f"    mode: {mode}",
                  f'    prompt: "Shot {i}: the keeper climbs the stairs [Push in], then looks out [Pan left]."']
        for key, value in extra.items():
            lines.append(f"    {key}: {value}")
        if i % 10 == 0:
            lines += ["    tags: [bench, wide]", "    notes: generated"]
    path = folder / f"bench-{n}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def timed(path: Path, repeat: int) -> tuple[float, int]:
    """The best of `repeat` loads (other work on a shared machine only ever adds time)."""
    best = float("inf")
    for _ in range(repeat):
        imagefiles._facts.clear()  # a cold image cache, as in a fresh process
        start = time.perf_counter()
        manifest = load(path)
        best = min(best, time.perf_counter() - start)
    return best, len(manifest.shots)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=int, metavar="N", help="profile one load of N shots")
    parser.add_argument("--sizes", default="1000,10000,100000", help="shot counts, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.profile:
            path = write_manifest(folder, args.profile)
            load(path)  # warm: schema compiled once per process
            profiler = cProfile.Profile()
            profiler.runcall(load, path)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            return
        load(write_manifest(folder, 10))  # compile the schema validator once, as the CLI would
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; best of 3 runs up to 10,000 shots")
        for n in (int(x) for x in args.sizes.split(",")):
            path = write_manifest(folder, n)
            size_mb = path.stat().st_size / 1e6
            seconds, count = timed(path, repeat=3 if n <= 10_000 else 1)
            manifest = load(path)
            start = time.perf_counter()
            prints = {fingerprint(canonical_request(s, manifest.dir), "/v1/video_generation") for s in manifest.shots}
            fp_seconds = time.perf_counter() - start
            print(f"{count:>7,} shots ({size_mb:5.1f} MB): load {seconds:6.2f} s "
                  f"({seconds / count * 1e6:5.1f} us/shot); fingerprints {fp_seconds:5.2f} s "
                  f"({len(prints):,} distinct)")


if __name__ == "__main__":
    main()
