"""Chains at scale: a 1,000-shot storyboard where each shot starts from the one before (some from
keyframe stills) validates as a whole (bench/validate.py holds the time targets; this asserts
only what is found), and the manifest cache keeps FrameRefs and misses when one is edited."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.manifest import cache as manifestcache
from pipeline.manifest import graph
from pipeline.manifest.checker import check, load
from pipeline.manifest.models import FrameRef

KEYFRAME_EVERY = 10


def write_chain(folder: Path, n: int, name: str = "chain.yaml") -> Path:
    """Shot i starts from the last frame of shot i-1 (or, right after a keyframe, from its still);
    every tenth shot is a keyframe still, every fifth a first_last_frame that ends on the next
    keyframe (written later in the file)."""
    lines = ["version: 1", f"name: chain-{n}", "defaults:", "  model: MiniMax-H3", "  duration: 6",
             '  aspect_ratio: "16:9"', "shots:"]
    for i in range(n):
        sid, prev = f"s{i:05d}", f"s{i - 1:05d}"
        if i % KEYFRAME_EVERY == 0:
            lines += [f"  - id: {sid}", "    mode: image", f'    prompt: "Keyframe {i}: the harbour at dusk."']
            if i % 20 == 0:
                lines.append("    takes: 2")
        elif i % 5 == 0 and i + 5 < n:
            lines += [f"  - id: {sid}", "    mode: first_last_frame",
                      f"    first_frame_image: {{shot: {prev}, frame: last, take: 1}}",
                      f"    last_frame_image: {{shot: s{i + 5:05d}}}", f'    prompt: "Shot {i}: the boat turns."']
        else:
            ref = f"{{shot: {prev}}}" if i % KEYFRAME_EVERY == 1 else \
                f"{{shot: {prev}, frame: {'last' if i % 3 else 2.5}}}"
            lines += [f"  - id: {sid}", "    mode: image_to_video", f"    first_frame_image: {ref}",
                      f'    prompt: "Shot {i}: the keeper climbs."']
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_1000_shot_chain_validates_and_builds_its_graph(tmp_path):
    path = write_chain(tmp_path, 1000)
    m = load(path)
    assert len(m.shots) == 1000 and m.warnings == []
    stills = [s for s in m.shots if s.is_still]
    assert len(stills) == 100 and {(s.model, s.duration, s.resolution, s.aspect_ratio) for s in stills} == {
        ("image-01", None, None, "16:9")}
    assert m.shots[1].first_frame_image == FrameRef(shot="s00000")
    assert m.shots[3].first_frame_image == FrameRef(shot="s00002", frame=2.5)
    assert m.shots[5].last_frame_image == FrameRef(shot="s00010")
    edges = graph.edges_of(m.shots)
    assert graph.find_cycle(edges) is None
    order = graph.order(edges)
    assert len(order) == 1000 and order.index("s00010") < order.index("s00005")
    assert sum(len(ups) for ups in edges.values()) == 900 + 99  # each video's start, and the ends on a keyframe


def test_a_broken_link_in_a_long_chain_is_one_error_at_its_frameref(tmp_path):
    path = write_chain(tmp_path, 1000)
    text = path.read_text(encoding="utf-8")
    assert text.count("first_frame_image: {shot: s00502, frame: last}") == 1
    path.write_text(text.replace("first_frame_image: {shot: s00502, frame: last}",
                                 "first_frame_image: {shot: s00504, frame: last}"), encoding="utf-8")
    (problem,) = check(path)
    assert (problem.shot, problem.field, problem.message) == (
        "s00503", "first_frame_image.shot", "a cycle: s00503 -> s00504 -> s00503 (each shot takes the output of the "
        "one before it, so none can be made first); take this input from a file or a shot outside it")


def test_the_manifest_cache_keeps_framerefs_and_misses_when_one_is_edited(tmp_path, monkeypatch):
    path = write_chain(tmp_path, manifestcache.MIN_SHOTS + 10)
    fresh = manifestcache.load(path)  # a miss: checks and stores
    assert len(list((Path(os.environ["SHOTS_CACHE_DIR"]) / "manifests").glob("*.json"))) == 1
    checks: list[Path] = []
    real_check = manifestcache._check
    monkeypatch.setattr(manifestcache, "_check", lambda p, only=None: checks.append(p) or real_check(p, only))
    cached = manifestcache.load(path)
    assert checks == []  # a hit
    assert cached.shots == fresh.shots
    assert [s.frame_refs() for s in cached.shots] == [s.frame_refs() for s in fresh.shots]
    assert isinstance(cached.shots[1].first_frame_image, FrameRef)
    path.write_text(path.read_text(encoding="utf-8").replace("{shot: s00002, frame: 2.5}",
                                                             "{shot: s00002, frame: 1.5}"), encoding="utf-8")
    edited = manifestcache.load(path)
    assert checks == [path]  # a miss
    assert edited.shots[3].first_frame_image == FrameRef(shot="s00002", frame=1.5)
    assert edited.shots == load(path).shots
