"""Hostile input costs neither time nor memory (issue 12, point 6): a huge sparse image is refused
by its size without being read, a manifest of millions of tiny items by the loader's caps, a
huge-dimension PNG by its header, and an absurd number anywhere is a FILE:LINE:COL error, never
a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

from pipeline.manifest import imagefiles, yamlpos
from pipeline.minimax import images
from pipeline.manifest.checker import check, load

ROOT = Path(__file__).resolve().parent.parent


def write(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def errors(problems) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


def run_capped(code: str, *args: str, memory_gb: float = 2.0) -> subprocess.CompletedProcess:
    """`code` in a Python of its own with its address space capped, so that a regression fails
    this test (MemoryError, or the timeout) instead of taking the machine's memory."""
    import resource

    def cap() -> None:
        limit = int(memory_gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, preexec_fn=cap)


I2V = "version: 1\nname: n\nshots:\n  - id: s01\n    mode: image_to_video\n    first_frame_image: {image}\n"


# -- images -------------------------------------------------------------------------------------


def test_a_30_gb_sparse_image_is_refused_by_its_size_without_being_read(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    with big.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
    os.truncate(big, 30 * 1024**3)  # sparse: no disk used
    opened = []
    real_open = open

    def watching_open(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(big):
            opened.append(file)
            raise AssertionError("the 30 GB image was opened")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(imagefiles, "open", watching_open, raising=False)
    imagefiles._facts.clear()
    path = write(tmp_path, I2V.format(image="big.png"))
    assert errors(check(path)) == [
        f"{path}:6:24: shot 's01' field 'first_frame_image': 'big.png': image is 32,212.3 MB; "
        "the API takes images under 20 MB"]
    assert opened == []


def test_an_image_that_grew_after_its_stat_is_read_no_further_than_the_limit(tmp_path, monkeypatch):
    """The size is decided from at most MAX_BYTES read bytes, whatever the file holds by then."""
    grown = tmp_path / "grown.png"
    with grown.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
    os.truncate(grown, images.MAX_BYTES + 5_000_000)
    real_stat = os.stat

    class Small:  # what a stat taken before the file grew said
        def __init__(self, st):
            self.st_size, self.st_mtime_ns, self.st_mode = 100, st.st_mtime_ns, st.st_mode

    monkeypatch.setattr(imagefiles.os, "stat", lambda p, *a, **k: Small(real_stat(p)) if os.fspath(p) == str(grown)
                        else real_stat(p, *a, **k))
    imagefiles._facts.clear()
    facts = imagefiles.facts(str(grown))
    assert facts.error == "image is at least 21.0 MB; the API takes images under 20 MB"  # 20 MiB read
    assert facts.sha256 == imagefiles.UNHASHED and facts.info is None


@pytest.mark.parametrize("side", [9000, 13000])  # 81 MP: PIL says nothing; 169 MP: PIL only warns
def test_a_huge_dimension_png_of_a_few_kb_is_refused_from_its_header(tmp_path, side):
    png = tmp_path / "huge.png"
    Image.new("1", (side, side)).save(png, optimize=True)
    assert png.stat().st_size < 100_000
    imagefiles._facts.clear()
    path = write(tmp_path, I2V.format(image="huge.png"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        found = errors(check(path))
    assert found == [
        f"{path}:6:24: shot 's01' field 'first_frame_image': 'huge.png': image is {side}x{side} "
        f"({side * side / 1e6:,.0f} megapixels), too many pixels: its sides may be at most 8192 px "
        "(shots' own limit; the API documents none); scale it down"]


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height: its header, one empty row of data, its end."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


def test_the_side_cap_is_inclusive_and_over_pils_own_limit_it_is_the_same_error():
    info = images.inspect(png_header(images.MAX_SIDE, 3277))  # 2.5:1 at the longest side
    assert (info.width, info.height) == (8192, 3277)
    assert images.inspect(png_header(3277, 8192)).height == 8192
    with pytest.raises(images.ImageError, match="8193x4000 .33 megapixels., too many pixels"):
        images.inspect(png_header(8193, 4000))
    with pytest.raises(images.ImageError, match="20000x20000 .400 megapixels., too many pixels"):
        images.inspect(png_header(20_000, 20_000))  # over PIL's own decompression-bomb error limit


# -- the manifest's size in values --------------------------------------------------------------


def test_48_mb_of_24_million_list_items_is_refused_quickly_and_small(tmp_path):
    """The issue's manifest: 3.3 GB and two minutes before the loader counted list items."""
    path = tmp_path / "items.yaml"
    with path.open("wb") as fh:
        fh.write(b"version: 1\nname: n\nshots:\n  - id: s01\n    mode: text_to_video\n    prompt: x\n    tags: [")
        fh.write(b"a," * 24_000_000 + b"a]\n")
    assert path.stat().st_size > 48_000_000
    code = ("import resource, sys; from pipeline.manifest.checker import check; "
            "print(*map(str, check(sys.argv[1])), sep='\\n'); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    done = run_capped(code, str(path))
    assert done.returncode == 0, done.stderr[-2000:]
    *problems, peak_mb = done.stdout.splitlines()
    col = len("    tags: [") + 2 * yamlpos.MAX_ITEMS + 1
    assert problems == [f"{path}:7:{col}: more than 200,000 items in one list; a manifest holds at most 200,000 "
                        "shots (split it into several manifests)"]
    assert int(peak_mb) < 600, f"peak RSS {peak_mb} MB"  # 3.3 GB before the cap


def test_one_list_may_hold_exactly_max_items(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlpos, "MAX_ITEMS", 5)
    ok = write(tmp_path, "version: 1\nname: n\nshots:\n  - {id: a, mode: text_to_video, prompt: x, "
                         "tags: [a, b, c, d, e]}\n")
    assert check(ok) == []
    over = write(tmp_path, "version: 1\nname: n\nshots:\n  - {id: a, mode: text_to_video, prompt: x, "
                           "tags: [a, b, c, d, e, f]}\n", "over.yaml")
    assert errors(check(over)) == [
        f"{over}:4:67: more than 5 items in one list; a manifest holds at most 5 shots (split it into several "
        "manifests)"]


def test_the_values_in_all_are_capped_where_the_cap_is_crossed(tmp_path, monkeypatch):
    """Many short lists, none long: the count of all values stops the reading, at the value that
    crossed it. (The real cap, 2,000,000, is 2.7 times bench/scale.py's 100,000 shots.)"""
    monkeypatch.setattr(yamlpos, "MAX_NODES", 100)
    lines = ["version: 1", "name: n", "shots:"] + [f"  - {{id: s{i}, mode: text_to_video, prompt: x}}"
                                                    for i in range(20)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    # The top mapping, version, 1, name, n, the shots key and list: 7 values; then 7 per shot (its
    # mapping, 3 keys, 3 values): value 101 is the 14th shot's third, 's13', on line 17.
    assert errors(check(path)) == [
        f"{path}:17:10: the file holds more than 100 YAML values (keys, values and list items); a manifest this "
        "big is not a shot list (split it into several manifests)"]


def test_the_caps_sit_far_above_the_biggest_benchmark():
    """bench/scale.py's 100,000 shots: about 740,000 values, 100,000 in one list, 14 MB."""
    assert yamlpos.MAX_NODES >= 2 * 740_000 and yamlpos.MAX_ITEMS >= 2 * 100_000
    assert yamlpos.MAX_NODES * 130 < 500_000_000  # about 130 bytes a value: well under 3.3 GB


def test_a_manifest_read_from_a_stream_is_read_no_further_than_the_size_cap():
    """A pipe or a device has no size to stat: /dev/zero was read until memory ran out."""
    code = "from pipeline.manifest.checker import check; print(*map(str, check('/dev/zero')), sep='\\n')"
    done = run_capped(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["/dev/zero:1:1: the file is over 50,000,000 bytes (50 MB)"]


# -- absurd numbers -----------------------------------------------------------------------------


BIG = "9" * 5000
SHOWN = "9" * 50 + "...99999999 (5,000 characters)"
OUT_OF_RANGE = ("is out of range; a manifest's whole numbers lie within -9,007,199,254,740,991 to "
                "9,007,199,254,740,991 (2^53 - 1, what JSON keeps exactly)")
TOP = "version: 1\nname: n\n{top}\nshots:\n  - id: s01\n    mode: text_to_video\n    prompt: x\n    {shot}\n"

NUMBER_CASES = {
    "duration-5000-digits": ("", f"duration: {BIG}", f"8:15: the number {SHOWN} {OUT_OF_RANGE}"),
    "duration-tagged-int": ("", f"duration: !!int {BIG}", f"8:15: the number {SHOWN} {OUT_OF_RANGE}"),
    "duration-hex": ("", "duration: 0x" + "f" * 5000, f"8:15: the number 0x{'f' * 48}...ffffffff (5,002 characters) "
                                                       f"{OUT_OF_RANGE}"),
    "duration-sexagesimal": ("", "duration: 1" + ":59" * 40, f"8:15: the number 1{':59' * 16}:...59:59:59 (121 "
                                                             f"characters) {OUT_OF_RANGE}"),
    "duration-2^53": ("", f"duration: {2**53}", f"8:15: the number {2**53} {OUT_OF_RANGE}"),
    "duration-too-long": ("", "duration: 10000", "8:15: shot 's01' field 'duration': must be at most 9999, got 10000"),
    "duration-infinite": ("", "duration: !!float 1e999", "8:15: shot 's01' field 'duration': '1e999' is not a finite "
                                                         "number; a manifest holds only what JSON can"),
    "takes": ("", f"takes: {BIG}", f"8:12: the number {SHOWN} {OUT_OF_RANGE}"),
    "takes-negative": ("", f"takes: -{2**60}", f"8:12: the number -{2**60} {OUT_OF_RANGE}"),
    "tags": ("", f"tags: [{BIG}]", f"8:12: the number {SHOWN} {OUT_OF_RANGE}"),
    "notes": ("", f"notes: {BIG}", f"8:12: the number {SHOWN} {OUT_OF_RANGE}"),
    "rpm": (f"rpm: {BIG}", "", f"3:6: the number {SHOWN} {OUT_OF_RANGE}"),
    "rpm-big": ("rpm: 9007199254740991", "", "3:6: field 'rpm': must be at most 10000, got 9007199254740991"),
    "concurrency": (f"concurrency: {BIG}", "", f"3:14: the number {SHOWN} {OUT_OF_RANGE}"),
    "poll_interval": (f"poll_interval: {BIG}", "", f"3:16: the number {SHOWN} {OUT_OF_RANGE}"),
    "poll_interval-float": ("poll_interval: 1.0e+300", "", "3:16: field 'poll_interval': must be at most 3600, "
                                                           "got 1e+300"),
    "poll_interval-infinite": ("poll_interval: 1.0e+999", "", "3:16: field 'poll_interval': '1.0e+999' is not a "
                                                              "finite number; a manifest holds only what JSON can"),
    "max_cost": (f"max_cost: {BIG}", "", f"3:11: the number {SHOWN} {OUT_OF_RANGE}"),
    "max_cost-400-digits": ("max_cost: " + "9" * 400, "", f"3:11: the number {'9' * 50}...99999999 (400 characters) "
                                                          f"{OUT_OF_RANGE}"),
    "max_cost-float": ("max_cost: 1.0e+300", "", "3:11: field 'max_cost': must be at most 1000000000, got 1e+300"),
    "max_cost-infinite": ("max_cost: .inf", "", "3:11: field 'max_cost': '.inf' is not a finite number; a manifest "
                                                "holds only what JSON can"),
    "price": (f"prices:\n  S2V-01: {BIG}", "", f"4:11: the number {SHOWN} {OUT_OF_RANGE}"),
    "price-400-digits": ("prices:\n  S2V-01: " + "9" * 400, "", f"4:11: the number {'9' * 50}...99999999 (400 "
                                                                f"characters) {OUT_OF_RANGE}"),
    "price-float": ("prices:\n  S2V-01: 1.0e+300", "", "4:11: field 'prices.S2V-01': must be at most 10,000 (USD), "
                                                       "got 1e+300"),
    "price-infinite": ("prices:\n  S2V-01: {per_second: .inf}", "", "4:24: field 'prices.S2V-01.per_second': '.inf' "
                                                                    "is not a finite number; a manifest holds only "
                                                                    "what JSON can"),
    "price-duration-key": ("prices:\n  T2V-01:\n    720P:\n      ? " + BIG + "\n      : 0.4", "",
                           f"6:9: field 'prices.T2V-01.720P.{'9' * 50}...99999999 (5,000 characters)': "
                           f"{SHOWN} seconds is too long a duration; at most 9999"),
    "version": (f"version: {BIG}", "", f"2:10: the number {SHOWN} {OUT_OF_RANGE}"),
}


@pytest.mark.parametrize("case", NUMBER_CASES, ids=list(NUMBER_CASES))
def test_an_absurd_number_is_one_error_at_its_place(tmp_path, case):
    top, shot, expected = NUMBER_CASES[case]
    text = TOP.format(top=top, shot=shot)
    if case == "version":
        text = text.replace("version: 1\n", "")
    path = write(tmp_path, text)
    assert [str(p) for p in check(path) if p.severity == "error"] == [f"{path}:{expected}"]


def test_shots_validate_exits_2_with_the_place_of_a_5000_digit_duration(tmp_path):
    path = write(tmp_path, TOP.format(top="max_cost: 5", shot=f"duration: {BIG}"))
    done = subprocess.run([sys.executable, "-m", "pipeline", "validate", str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0] == f"{path}:8:15: the number {SHOWN} {OUT_OF_RANGE}"


def test_a_manifest_at_the_limits_loads(tmp_path):
    path = write(tmp_path, TOP.format(
        top="rpm: 10000\nconcurrency: 10000\npoll_interval: 3600\nmax_cost: 1000000000\n"
            "prices:\n  Some-Model: {720P: {9999: 10000}}",
        shot="model: Some-Model\n    resolution: 720P\n    duration: 9999\n    takes: 100"))
    m = load(path)
    assert m.shots[0].duration == 9999 and m.settings.max_cost == 1e9
    assert m.prices.entries[0].usd == 10000 and m.prices.entries[0].duration == 9999
