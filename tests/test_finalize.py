"""`shots finalize`: each picked MiniMax-H3 take made at 768P regenerated in 2K, by the real runner
against the real simulator over loopback HTTP.

A storyboard is run at 768P first, then finalized: by `source_task_id` on a whitelisted account,
by the content form (the original inputs and the draft as base_video) on one that is not, a lost
create answer found in the task list and never paid twice, a second finalize that does nothing,
the shots that get no final and why, the 2K file check, and the prices.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path

import av
import pytest

from pipeline.errors import InputError
from pipeline.manifest.checker import load
from pipeline.run import finalize, finals, ledger, video, workflow
from pipeline.run.ledger import LedgerWriter, event
from pipeline.run.options import RunOptions
from pipeline.sim import SimConfig, Simulator, V2Config
from runs import KEY, make_image, point_at, run_inprocess, write_manifest

FAST = 0.001
PROMPT = "Shot {i}: the keeper turns to the window."


@pytest.fixture
def start_sim(tmp_path):
    started = []

    def start(**v2) -> Simulator:
        cfg = SimConfig(keys=(KEY,), time_scale=FAST, render_height=90, render_fps=12,
                        render_cache_dir=tmp_path / f"renders-{len(started)}")
        sim = Simulator(cfg, v2=V2Config(**v2)).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def h3_shots(n: int, **extra) -> list[dict]:
    """n text shots at 768P of distinct durations (4.. s): each lost create has one fit at most."""
    return [{"id": f"h{i:02d}", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9",
             "resolution": "768P", "duration": 3 + i, "prompt": PROMPT.format(i=i), **extra}
            for i in range(1, n + 1)]


def recorded_regenerations(sim: Simulator) -> list[dict]:
    """Every body POSTed to /v2/video_regeneration from now on, as the simulator read it."""
    bodies: list[dict] = []
    engine = sim.v2_engine
    original = engine.create_regeneration

    def create_regeneration(key, raw, **hints):
        bodies.append(json.loads(raw))
        return original(key, raw, **hints)

    engine.create_regeneration = create_regeneration
    return bodies


def finalize_inprocess(manifest: Path, sim: Simulator, out: Path, monkeypatch, **kwargs):
    """finalize.finalize against `sim` (with a key, as a user points shots at a server)."""
    point_at(sim, monkeypatch)
    prepared, result, kind = asyncio.run(finalize.finalize(
        load(manifest), out_root=out, backend="api", options=RunOptions(time_scale=sim.cfg.time_scale), **kwargs))
    assert kind == "api"
    return prepared, result


def drafted(tmp_path: Path, sim: Simulator, monkeypatch, shots: list[dict], name: str = "finals") -> Path:
    """The storyboard run at 768P: every take done. Returns the manifest."""
    manifest = write_manifest(tmp_path, shots, name=name)
    _, result = run_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert {r.outcome for r in result.results} == {"done"}
    return manifest


def regenerations(sim: Simulator) -> list[dict]:
    return [t for t in sim.v2_tasks() if t["resolution"] == "2K"]


def probe(path: Path) -> dict:
    with av.open(str(path)) as clip:
        stream = clip.streams.video[0]
        return {"frames": stream.frames, "fps": int(stream.average_rate), "audio": len(clip.streams.audio),
                "size": (stream.codec_context.width, stream.codec_context.height)}


def events(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in ledger.ledger_path(out_dir).read_text().splitlines()]


# --- the two forms ------------------------------------------------------------------------------


def test_a_whitelisted_account_regenerates_by_source_task_id(start_sim, tmp_path, monkeypatch):
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1))
    draft = ledger.load(tmp_path / "out" / "finals").current("h01", 1)
    bodies = recorded_regenerations(sim)
    prepared, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [(r.spec.label, r.outcome) for r in result.results] == [("h01 final", "done")]
    assert bodies == [{"model": "MiniMax-H3", "resolution": "2K", "source_task_id": draft.task_id}]
    assert sim.stats()["answers"].get("http_400", 0) == 0
    final = prepared.out_dir / "h01.final.mp4"
    assert result.results[0].file == "h01.final.mp4" and final.is_file()
    assert probe(final) == {**probe(prepared.out_dir / "h01.mp4"), "size": probe(final)["size"]}  # 107 frames, 24 fps, sound
    state = ledger.load(prepared.out_dir).current("h01@final", 1)
    assert state.state == "downloaded" and state.request["source"] == {"fingerprint": draft.fingerprint,
                                                                        "task_id": draft.task_id}
    assert state.cost == pytest.approx(0.05 * 4) and result.spent == pytest.approx(0.20)
    shot, view = load(manifest).shots[0], ledger.load(prepared.out_dir)
    assert finals.final_file(prepared.out_dir, shot, view) == final
    assert finals.final_file(prepared.out_dir, shot, view, draft_fingerprint="another") is None
    final.write_bytes(final.read_bytes()[:-10])
    assert finals.final_file(prepared.out_dir, shot, view) is None  # damaged: no final to use


def test_without_the_whitelist_the_original_inputs_and_the_draft_are_sent(start_sim, tmp_path, monkeypatch):
    sim = start_sim()  # most accounts: not whitelisted
    make_image(tmp_path / "keeper.png", size=(640, 360))
    shots = [{"id": "h01", "mode": "image_to_video", "model": "MiniMax-H3", "resolution": "768P", "duration": 5,
              "first_frame_image": "keeper.png", "prompt": "The keeper turns to the window."}]
    manifest = drafted(tmp_path, sim, monkeypatch, shots)
    out_dir = tmp_path / "out" / "finals"
    bodies = recorded_regenerations(sim)
    sim.reset_stats()
    _, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"], result.results[0].detail
    refused, sent = bodies  # exactly one refused request, then the content form
    assert set(refused) == {"model", "resolution", "source_task_id"} and "content" not in refused
    assert sim.stats()["answers"]["http_400"] == 1 and len(regenerations(sim)) == 1
    assert set(sent) == {"model", "resolution", "content"}
    text, frame, base = sent["content"]
    assert text == {"type": "text", "text": "The keeper turns to the window."}
    assert frame["role"] == "first_frame" and frame["image_url"]["url"].startswith("data:image/png;base64,")
    assert base64.b64decode(frame["image_url"]["url"].split(",", 1)[1]) == (tmp_path / "keeper.png").read_bytes()
    assert base["role"] == "base_video" and base["video_url"]["url"].startswith("data:video/mp4;base64,")
    draft_bytes = base64.b64decode(base["video_url"]["url"].split(",", 1)[1])
    assert hashlib.sha256(draft_bytes).hexdigest() == ledger.load(out_dir).current("h01", 1).sha256
    assert probe(out_dir / "h01.final.mp4")["frames"] == 124  # 5 s on the grid, as its draft
    assert result.results[0].cost == pytest.approx(0.05 * 5)  # one image: within the 5 free


def test_the_refusal_is_remembered_within_a_run(start_sim, tmp_path, monkeypatch):
    sim = start_sim()
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(3))
    bodies = recorded_regenerations(sim)
    _, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"] * 3
    forms = ["content" if "content" in b else "source" for b in bodies]
    assert forms == ["source", "content", "content", "content"]  # one refusal, not one per final
    assert len(regenerations(sim)) == 3


# --- the ledger's rules ---------------------------------------------------------------------------


def test_a_lost_create_answer_is_found_in_the_task_list_and_not_paid_twice(start_sim, tmp_path, monkeypatch):
    sim = start_sim()  # not whitelisted: the refusal is answered, the content form's answer lost
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1))
    sim.set_v2_faults({"drop_create": 1.0})  # every task is made, every answer lost
    prepared, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"], result.results[0].detail
    assert len(regenerations(sim)) == 1  # none created twice
    adopted = [e for e in events(prepared.out_dir) if e["e"] == "submitted" and e["shot"] == "h01@final"]
    assert [(e.get("adopted"), e["task_id"]) for e in adopted] == [(True, regenerations(sim)[0]["task_id"])]
    assert (prepared.out_dir / "h01.final.mp4").is_file()


def test_a_final_left_uncertain_by_a_crash_is_adopted_when_resumed(start_sim, tmp_path, monkeypatch):
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1))
    point_at(sim, monkeypatch)
    prepared = finalize.prepare(load(manifest), sim.base_url, tmp_path / "out")
    spec = prepared.plan.takes[0].spec
    writer = LedgerWriter(ledger.ledger_path(prepared.out_dir))  # killed while the create was in flight...
    writer.write_now(event("intent", *spec.ledger_key, req=spec.request, cost=0.2))
    writer.close()
    import httpx  # ...after the server made the task

    made = httpx.post(f"{sim.base_url}/v2/video_regeneration", headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "MiniMax-H3", "resolution": "2K", "source_task_id": spec.source_task_id})
    assert made.status_code == 200, made.text
    assert finalize.prepare(load(manifest), sim.base_url, tmp_path / "out").plan.takes[0].action == "look up lost task"
    _, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [r.outcome for r in result.results] == ["done"]
    assert [t["task_id"] for t in regenerations(sim)] == [made.json()["task_id"]]  # adopted, not paid twice
    assert ledger.load(prepared.out_dir).current("h01@final", 1).adopted


def test_a_second_finalize_does_nothing(start_sim, tmp_path, monkeypatch):
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(2))
    finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    bodies = recorded_regenerations(sim)
    prepared, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert prepared.plan.idle and [t.action for t in prepared.plan.takes] == ["up to date"] * 2
    assert [r.outcome for r in result.results] == ["done", "done"] and result.creates == 0
    assert bodies == [] and len(regenerations(sim)) == 2


def test_a_draft_made_again_gets_a_new_final_and_the_old_one_goes_to_history(start_sim, tmp_path, monkeypatch):
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1))
    out_dir = tmp_path / "out" / "finals"
    finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    shot = load(manifest).shots[0]
    first = finals.final_file(out_dir, shot, ledger.load(out_dir))
    old_bytes = first.read_bytes()
    edited = write_manifest(tmp_path, h3_shots(1, prompt="Shot 1: the keeper turns away."), name="finals")
    run_inprocess(edited, sim, tmp_path / "out", monkeypatch)
    assert finals.final_file(out_dir, load(edited).shots[0], ledger.load(out_dir)) is None  # not this draft's
    prepared, result = finalize_inprocess(edited, sim, tmp_path / "out", monkeypatch)
    assert [t.action for t in prepared.plan.takes] == ["changed: regenerate"]
    assert "made again since its last final" in prepared.plan.takes[0].reason
    assert [r.outcome for r in result.results] == ["done"] and result.results[0].archived.startswith("history/")
    assert (out_dir / result.results[0].archived).read_bytes() == old_bytes
    assert finals.final_file(out_dir, load(edited).shots[0], ledger.load(out_dir)) == out_dir / "h01.final.mp4"


def test_a_final_paid_for_an_earlier_draft_is_followed_to_history(start_sim, tmp_path, monkeypatch):
    """Needs plan.make_plan to pass over finals' ledger keys: else the drafts' run follows it first."""
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1))
    spec = finalize.prepare(load(manifest), sim.base_url, tmp_path / "out").plan.takes[0].spec
    import httpx  # a finalize stopped once its task was made: the ledger knows the task, no video

    made = httpx.post(f"{sim.base_url}/v2/video_regeneration", headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "MiniMax-H3", "resolution": "2K", "source_task_id": spec.source_task_id})
    writer = LedgerWriter(ledger.ledger_path(tmp_path / "out" / "finals"))
    writer.write_now(event("intent", *spec.ledger_key, req=spec.request, cost=0.2),
                     event("submitted", *spec.ledger_key, task_id=made.json()["task_id"]))
    writer.close()
    edited = write_manifest(tmp_path, h3_shots(1, prompt="Shot 1: the keeper turns away."), name="finals")
    run_inprocess(edited, sim, tmp_path / "out", monkeypatch)  # the draft made again meanwhile
    prepared, result = finalize_inprocess(edited, sim, tmp_path / "out", monkeypatch)
    assert [t.action for t in prepared.plan.orphans] == ["poll existing task"]
    assert [r.outcome for r in result.results] == ["done"] and len(regenerations(sim)) == 2
    (earlier,) = result.orphans
    assert earlier.outcome == "done" and earlier.task_id == made.json()["task_id"]
    assert earlier.file.startswith("history/") and (prepared.out_dir / earlier.file).is_file()


def test_the_picked_take_is_finalized_beside_it(start_sim, tmp_path, monkeypatch):
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1, takes=2, pick=2))
    draft = ledger.load(tmp_path / "out" / "finals").current("h01", 2)
    bodies = recorded_regenerations(sim)
    prepared, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    assert [(r.spec.label, r.outcome, r.file) for r in result.results] == [
        ("h01 take 2 final", "done", "h01.take2.final.mp4")]
    assert bodies == [{"model": "MiniMax-H3", "resolution": "2K", "source_task_id": draft.task_id}]
    assert ledger.load(prepared.out_dir).current("h01@final", 2).state == "downloaded"


def test_a_run_after_finalize_leaves_the_finals_alone(start_sim, tmp_path, monkeypatch):
    """Needs plan.make_plan to pass over finals' ledger keys ('<id>@final'): see finals.is_final."""
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1))
    finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch)
    plan = workflow.prepare(load(manifest), sim.base_url, tmp_path / "out").plan
    assert plan.removed == [] and plan.orphans == [] and plan.idle


# --- which shots ----------------------------------------------------------------------------------


def test_shots_without_a_final_to_make_are_skipped_with_why(tmp_path):
    shots = [
        {"id": "v1", "mode": "text_to_video", "model": "T2V-01", "prompt": "A lighthouse."},
        {"id": "max", "mode": "text_to_video", "model": "MiniMax-H3-Max", "ratio": "16:9", "resolution": "768P",
         "duration": 5, "prompt": "A lighthouse."},
        {"id": "big", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9", "resolution": "2K",
         "duration": 5, "prompt": "A lighthouse."},
        {"id": "redo", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9", "resolution": "768P",
         "duration": 5, "prompt": "A lighthouse.", "status": "redo"},
        {"id": "new", "mode": "text_to_video", "model": "MiniMax-H3", "ratio": "16:9", "resolution": "768P",
         "duration": 5, "prompt": "A lighthouse."},
    ]
    manifest = load(write_manifest(tmp_path, shots, name="skips"))
    prepared = finalize.prepare(manifest, "simulator", tmp_path / "out")
    why = {s.shot: s.why for s in prepared.finals.skipped}
    assert prepared.plan.takes == [] and prepared.plan.idle
    assert why["v1"].startswith("not MiniMax-H3 (T2V-01)")
    assert why["max"].startswith("MiniMax-H3-Max has no 2K")
    assert why["big"].startswith("already made in 2K")
    assert why["redo"].startswith("marked for redo")
    assert why["new"].startswith("no video yet")
    with pytest.raises(InputError, match="--only: no shot 'nope'"):
        finalize.prepare(manifest, "simulator", tmp_path / "out", only=["nope"])


def test_only_finalizes_the_shots_named(start_sim, tmp_path, monkeypatch):
    sim = start_sim(regeneration_whitelist=True)
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(2))
    _, result = finalize_inprocess(manifest, sim, tmp_path / "out", monkeypatch, only=["h02"])
    assert [(r.spec.label, r.outcome) for r in result.results] == [("h02 final", "done")]
    assert len(regenerations(sim)) == 1


def test_a_damaged_draft_is_not_sent(start_sim, tmp_path, monkeypatch):
    sim = start_sim()
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(1))
    draft = tmp_path / "out" / "finals" / "h01.mp4"
    draft.write_bytes(draft.read_bytes()[:-10])
    prepared = finalize.prepare(load(manifest), sim.base_url, tmp_path / "out")
    assert prepared.plan.takes == [] and "fetches it again first" in prepared.finals.skipped[0].why


# --- the 2K check and the prices ------------------------------------------------------------------


@pytest.mark.parametrize("size, problem", [
    ((2560, 1440), None), ((1440, 2560), None),  # 16:9 and 9:16 [S]
    ((1920, 1440), None), ((1440, 1440), None),  # other ratios: undocumented, larger than 768P
    ((1344, 768), "1344x768, not a 2K picture"), ((768, 1344), "not a 2K picture"),  # the 768P draft back
    ((1024, 768), "not a 2K picture"), ((1920, 1080), "not a 2K picture"),
    ((160, 90), None),  # under the 768P tier: the simulator's previz
])
def test_a_2k_picture_is_checked(size, problem):
    info = video.VideoInfo("h264", size[0], size[1], 107 / 24, 107, audio=True)
    found = video.picture_problem(info, "2K")
    assert found == problem if problem is None else problem in found
    assert video.picture_problem(info, None) is None and video.picture_problem(info, "768P") is None


def test_the_2k_expectation_is_a_v2_clip_on_the_grid_with_sound(tmp_path):
    expected = video.Expected.of("v2", 4.0, "2K")
    assert expected.tier == "2K" and expected.frame_grid == video.V2_FRAME_COUNTS
    assert video.Expected.of("v2", 4.0, "768P").tier is None and video.Expected.of("v1", 6.0, "2K").tier is None
    clip = tmp_path / "final.mp4"
    with av.open(str(clip), "w", format="mp4") as out:  # 768P-sized, 107 frames at 24 fps, no sound
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 1344, 768, "yuv420p"
        for i in range(107):
            frame = av.VideoFrame(1344, 768, "yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(video.VideoError, match="1344x768, not a 2K picture"):
        video.verify(clip, expected)
    with pytest.raises(video.VideoError, match="no audio track"):
        video.verify(clip, expected, audio=True)


@pytest.mark.parametrize("shot, usd", [
    ({"duration": 6}, 0.30),  # $0.05/s x 6 s
    ({"duration": 4, "reference_images": ("a",) * 7}, 0.28),  # + 2 images past 5 free x $0.04
    ({"duration": 10, "reference_videos": ("a", "b"), "reference_video_seconds": (3.2, 2.0)}, 0.98),  # + 6 s x $0.08
    ({"duration": 5, "reference_videos": ("https://x/v.mp4",), "reference_video_seconds": (None,)}, 1.45),  # at most 15 s
])
def test_a_final_costs_the_regeneration_rate_plus_its_inputs_again(shot, usd):
    from types import SimpleNamespace

    draft = SimpleNamespace(**{"model": "MiniMax-H3", "resolution": "768P", "first_frame_image": None,
                               "last_frame_image": None, "reference_images": (), "reference_videos": (),
                               "reference_video_seconds": (), **shot})
    price = finals.regeneration_price(draft)
    assert price.usd == pytest.approx(usd) and price.how.startswith("$0.05/s x ")


def test_the_dry_run_prints_the_plan_with_its_cost(start_sim, tmp_path, monkeypatch, capsys):
    sim = start_sim()
    manifest = drafted(tmp_path, sim, monkeypatch, h3_shots(2) + [
        {"id": "v1", "mode": "text_to_video", "model": "T2V-01", "prompt": "A lighthouse."}])
    parser = __import__("argparse").ArgumentParser()
    finalize.add_finalize_parser(parser.add_subparsers())
    args = parser.parse_args(["finalize", str(manifest), "--out", str(tmp_path / "out"), "--dry-run", "--json"])
    point_at(sim, monkeypatch)
    assert args.handler(args) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [(f["shot"], f["file"], f["action"], f["cost"]) for f in plan["finals"]] == [
        ("h01", "h01.final.mp4", "submit", 0.2), ("h02", "h02.final.mp4", "submit", 0.25)]
    assert plan["known_cost"] == pytest.approx(0.45) and plan["new_tasks"] == 2
    assert plan["skipped"] == [{"shot": "v1", "take": 1, "why": "not MiniMax-H3 (T2V-01): only H3 takes are "
                                                               "regenerated in 2K"}]
    assert regenerations(sim) == []  # nothing sent
    args = parser.parse_args(["finalize", str(manifest), "--out", str(tmp_path / "out"), "--dry-run"])
    assert args.handler(args) == 0
    text = capsys.readouterr().out
    assert "h01 final" in text and "$0.05/s x 4 s (2K regeneration)" in text and "estimated cost: $0.45" in text
