"""The previz beyond the camera: takes of one shot differ, text never leaves the frame, the clip
carries its label, a sound track when asked, and the simulator tells takes apart (by the
client's X-Shots-* hints, else by counting identical requests)."""

from __future__ import annotations

import argparse
import io
import json

import av
import httpx
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from pipeline.minimax import camera
from pipeline.sim import SimConfig, add_sim_arguments, config_from_args
from pipeline.sim import render
from pipeline.sim.engine import Engine
from pipeline.sim.render import RenderSpec, render_video, variation, warp_points

W, H = 320, 180


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def scene() -> bytes:
    """A picture with things to see everywhere: a grid of bright squares on blue."""
    img = Image.new("RGB", (640, 360), (30, 60, 110))
    draw = ImageDraw.Draw(img)
    for x in range(40, 640, 80):
        for y in range(40, 360, 80):
            draw.rectangle([x - 12, y - 12, x + 12, y + 12], fill=(240, 240, 240))
    return png(img)


def decoded(path) -> list[Image.Image]:
    with av.open(str(path)) as container:
        return [f.to_image() for f in container.decode(video=0)]


def diff(a: Image.Image, b: Image.Image) -> float:
    return ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean[0]


def clip(tmp_path, name: str, **kw) -> list[Image.Image]:
    spec = RenderSpec(**{"mode": "image_to_video", "prompt": "The keeper turns [Pan left]", "width": W,
                         "height": H, "fps": 6, "frames": 36, "first": scene(), **kw})
    render_video(spec, tmp_path / name)
    return decoded(tmp_path / name)


# --- takes -------------------------------------------------------------------------------------


def test_take_one_is_the_prompt_as_written_and_later_takes_are_seeded_variations():
    assert variation(123, 1) == variation(0, 1) == render.FIRST_TAKE
    assert variation(123, 2) == variation(123, 2)  # deterministic
    assert variation(123, 2) != variation(123, 3) and variation(123, 2) != variation(124, 2)
    for take in range(2, 40):
        v = variation(7, take)
        assert v.amount < 0.75 or v.amount > 1.25  # calm or lively, never "about the same"
        assert 0 <= v.window[0] < v.window[1] <= 1 and v.window[1] - v.window[0] >= 0.5
        assert v.zoom > 1.05 and abs(v.x) <= (1 - 1 / v.zoom) / 2 and abs(v.y) <= (1 - 1 / v.zoom) / 2
        assert v.action > 0


@pytest.mark.parametrize("mode, prompt", [
    ("image_to_video", "The keeper turns [Pan left]"),
    ("image_to_video", "The keeper sets his cap straight [Static shot]."),  # the subject moves more or less
    ("text_to_video", "A lighthouse at dusk [Push in]"),
    ("text_to_video", "A lighthouse at dusk"),  # the card is framed differently
    ("subject_reference", "She waves"),
    ("first_last_frame", "Night turns to dawn [Truck right]"),
])
def test_two_takes_of_one_shot_differ_visibly_and_each_is_reproducible(tmp_path, mode, prompt):
    kw = dict(mode=mode, prompt=prompt, seed=99, subject=scene(), last=png(Image.new("RGB", (640, 360), "orange")))
    one, two = clip(tmp_path, "1.mp4", take=1, **kw), clip(tmp_path, "2.mp4", take=2, **kw)
    assert one[0].size == two[0].size and len(one) == len(two)
    differences = [diff(a, b) for a, b in zip(one, two)]
    assert max(differences) > 3.0, differences  # plainly another take somewhere in the clip
    clip(tmp_path, "2-again.mp4", take=2, **kw)
    assert (tmp_path / "2.mp4").read_bytes() == (tmp_path / "2-again.mp4").read_bytes()


def test_every_take_of_an_image_shot_starts_on_the_image_as_given(tmp_path):
    takes = [clip(tmp_path, f"{t}.mp4", take=t, seed=5) for t in (1, 2, 3)]
    for other in takes[1:]:  # the same picture (sampled from a sharper canvas: a little noise)...
        assert diff(takes[0][0], other[0]) < 1.5
        assert diff(takes[0][-1], other[-1]) > 4  # ...taken somewhere else


def test_a_calm_take_moves_less_than_a_lively_one(tmp_path):
    seeds = {variation(s, 2).amount < 1: s for s in range(40)}  # one calm and one lively seed
    travel = {}
    for calm, seed in seeds.items():
        lay = render.layout(RenderSpec("image_to_video", "[Truck left]", W, H, fps=6, frames=36,
                                       first=scene(), take=2, seed=seed))
        travel[calm] = abs(lay.poses[-1].x - lay.poses[0].x)
    assert travel[True] < 0.75 * 0.3 < 1.25 * 0.3 < travel[False]  # 0.3: one truck, as written


# --- text stays in the frame -------------------------------------------------------------------


def to_frame(pose, w, h, x, y):
    """The output pixel that sees scene point (x, y): warp_points inverted by Newton's method."""
    u, v = x + w / 2, y + h / 2
    for _ in range(30):
        (a, b), (au, bu), (av_, bv) = warp_points(pose, w, h, [(u, v), (u + 0.5, v), (u, v + 0.5)])
        j11, j21, j12, j22 = (au - a) / 0.5, (bu - b) / 0.5, (av_ - a) / 0.5, (bv - b) / 0.5
        det = j11 * j22 - j12 * j21
        ex, ey = x - a, y - b
        du, dv = (j22 * ex - j12 * ey) / det, (j11 * ey - j21 * ex) / det
        u, v = u + du, v + dv
        if abs(du) + abs(dv) < 1e-4:
            break
    return u, v


def outline(box, n=6):
    x0, y0, x1, y1 = box
    return ([(x0 + (x1 - x0) * i / n, y) for i in range(n + 1) for y in (y0, y1)]
            + [(x, y0 + (y1 - y0) * j / n) for j in range(1, n) for x in (x0, x1)])


PROMPTS = [f"[{c}]" for c in camera.COMMANDS] + [f"[{c}], then [{c}]" for c in camera.COMMANDS] + [
    "[Truck right], then [Truck right], then [Truck right]",  # far more than the room allows
    "[Pan left,Tilt up], then [Push in]", "[Zoom in], then [Zoom in], then [Pedestal down]",
]
MODES = {
    "text_to_video": {},
    "subject_reference": {"subject": "https://example.com/hero.jpg"},
    "image_to_video": {"first": "https://example.com/not-fetched.jpg"},  # a card that says so
    "first_last_frame": {"first": "https://example.com/a.jpg", "last": "https://example.com/b.jpg"},
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("prompt", PROMPTS)
def test_no_camera_move_pushes_text_out_of_the_frame(mode, prompt):
    """Geometric: every corner and edge point of each text block, seen through the camera of
    every frame that shows it, lands inside the frame, for every take."""
    for take in (1, 2):
        spec = RenderSpec(mode, f"A lighthouse keeper climbs the stairs at night {prompt}", W, H, fps=4,
                          frames=24, take=take, seed=11, label="s01 · take 1", **MODES[mode])
        lay = render.layout(spec)
        views = lay.text_views()
        assert views, "no text laid out"
        for box, poses in views:
            for i, pose in enumerate(poses):
                for x, y in outline(box, 3):
                    u, v = to_frame(pose, W, H, x, y)
                    assert -0.5 <= u <= W + 0.5 and -0.5 <= v <= H + 0.5, (take, i, (x, y), (u, v))


def test_a_move_too_big_for_the_text_is_made_smaller_not_dropped():
    spec = RenderSpec("text_to_video", "A title [Truck right], then [Truck right], then [Truck right]", W, H,
                      fps=6, frames=36)
    lay = render.layout(spec)
    assert 0.2 < lay.amount < 0.9
    assert lay.poses[-1].x > 0.2  # it still trucks right, a good way
    small = render.layout(RenderSpec("text_to_video", "A title [Truck right]", W, H, fps=6, frames=36))
    assert small.amount == 1.0 and small.poses[-1].x == pytest.approx(0.3)  # one truck fits: as written


@pytest.mark.parametrize("prompt", [f"[{c}], then [{c}]" for c in camera.COMMANDS])
def test_the_title_cards_text_is_inside_every_frame(tmp_path, prompt):
    """In pixels: the card's text (the only bright thing on it) is seen whole in every frame."""
    spec = RenderSpec("text_to_video", f"The lighthouse beam sweeps the fog {prompt}", 192, 108, fps=4, frames=24)
    render_video(spec, tmp_path / "t.mp4")
    for i, frame in enumerate(decoded(tmp_path / "t.mp4")):
        box = frame.convert("L").point(lambda v: 255 if v > 125 else 0).getbbox()
        assert box is not None, i
        assert box[0] >= 1 and box[1] >= 1 and box[2] <= 191 and box[3] <= 107, (i, box)


# --- the label ---------------------------------------------------------------------------------


def test_the_label_is_burned_into_the_bottom_left_corner(tmp_path):
    black = png(Image.new("RGB", (640, 360), (0, 0, 0)))
    plain = clip(tmp_path, "plain.mp4", first=black, prompt="[Push in]")
    labelled = clip(tmp_path, "label.mp4", first=black, prompt="[Push in]", label="s02-keeper · take 2")
    for a, b in zip(plain, labelled):
        corner = b.convert("L").crop((0, H * 3 // 4, W // 2, H))
        assert corner.point(lambda v: 255 if v > 180 else 0).getbbox()  # white text...
        assert diff(a.crop((0, 0, W, H // 2)), b.crop((0, 0, W, H // 2))) < 0.5  # ...there and only there
    assert render.label_image("s02", 64, 36) is None  # too small a frame to carry one


# --- sound -------------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [107, 144])  # an H3 clip (4.46 s), a v1 one
def test_an_audio_render_has_a_stereo_aac_track_as_long_as_the_video(tmp_path, frames):
    spec = RenderSpec("text_to_video", "Rain on the window", 128, 72, fps=24, frames=frames, audio=True, seed=3)
    render_video(spec, tmp_path / "a.mp4")
    with av.open(str(tmp_path / "a.mp4")) as container:
        video, sound = container.streams.video[0], container.streams.audio[0]
        assert sound.codec_context.name == "aac" and sound.rate == 32000 and sound.channels == 2
        seconds = float(sound.duration * sound.time_base)
        assert seconds == pytest.approx(frames / 24, abs=0.04)
        assert float(video.duration * video.time_base) == pytest.approx(frames / 24, abs=1e-3)
        samples = sum(f.samples for f in container.decode(audio=0))
        peak = 0.0
    assert abs(samples - frames / 24 * 32000) <= 1024
    with av.open(str(tmp_path / "a.mp4")) as container:
        for f in container.decode(audio=0):
            peak = max(peak, max(abs(v) for v in memoryview(bytes(f.planes[0])).cast("f")))
    assert 0.005 < peak < 0.2  # there, and quiet


# --- the simulator tells takes apart -----------------------------------------------------------


BODY = {"model": "MiniMax-Hailuo-02", "prompt": "The keeper turns toward the window [Static shot].", "duration": 6}


def raw(body=BODY) -> bytes:
    return json.dumps(body).encode()


def test_identical_requests_are_takes_one_two_three_and_the_label_says_what_it_can():
    engine = Engine(SimConfig(), now=lambda: 1_700_000_000.0)
    tasks = [engine.create("sim-key", raw()) for _ in range(3)]
    assert [t.render.take for t in tasks] == [1, 2, 3]
    assert len({t.render.seed for t in tasks}) == 1  # one request: its takes share the seed...
    assert [t.render.label for t in tasks] == [f"The keeper turns toward the… · #{n}" for n in (1, 2, 3)]
    other = engine.create("sim-key", raw({**BODY, "prompt": "A gull [Pan left]"}))
    assert other.render.take == 1 and other.render.seed != tasks[0].render.seed  # ...another its own
    assert (tasks[0].render.width, tasks[0].render.height, tasks[0].render.fps, tasks[0].render.frames) == \
        (640, 360, 24, 144)
    assert Engine(SimConfig(seed=1), now=lambda: 0.0).create("sim-key", raw()).render.seed != tasks[0].render.seed


def test_the_clients_hints_name_the_shot_and_take():
    engine = Engine(SimConfig(), now=lambda: 1_700_000_000.0)
    second = engine.create("sim-key", raw(), shot="s02-keeper", take="2")
    first = engine.create("sim-key", raw(), shot="s02-keeper", take="1")
    assert (first.render.take, first.render.label) == (1, "s02-keeper · take 1")
    assert (second.render.take, second.render.label) == (2, "s02-keeper · take 2")
    odd = engine.create("sim-key", raw(), shot="\x07 s03\t", take="zero")  # junk is ignored, not refused
    assert (odd.render.take, odd.render.label) == (3, "s03 · #3")


def test_the_take_count_survives_a_restart_on_the_state_folder(tmp_path):
    first = Engine(SimConfig(state_dir=tmp_path), now=lambda: 1_700_000_000.0)
    made = [first.create("sim-key", raw()) for _ in range(2)]
    first.close()
    again = Engine(SimConfig(state_dir=tmp_path), now=lambda: 1_700_000_001.0)
    try:
        loaded = {t["task_id"]: t for t in again.tasks()}
        assert [loaded[t.task_id]["take"] for t in made] == [1, 2]
        assert again._tasks[made[1].task_id].render == made[1].render  # drawn again, identically
        assert again.create("sim-key", raw()).render.take == 3
    finally:
        again.close()


def test_a_state_folder_written_before_takes_still_loads(tmp_path):
    """A task recorded with only the old render fields ({height, fps, camera}) is drawn as then:
    that height, the duration at that rate, the prompt as written."""
    first = Engine(SimConfig(state_dir=tmp_path), now=lambda: 1_700_000_000.0)
    made = first.create("sim-key", raw())
    first.close()
    journal = tmp_path / "tasks.jsonl"
    record = json.loads(journal.read_text().splitlines()[0])
    record["render"] = {"height": 180, "fps": 12, "camera": True}
    journal.write_text(json.dumps(record) + "\n")
    again = Engine(SimConfig(state_dir=tmp_path), now=lambda: 1_700_000_001.0)
    try:
        spec = again._tasks[made.task_id].render
        assert (spec.width, spec.height, spec.fps, spec.frames, spec.take, spec.label) == (320, 180, 12, 72, 1, "")
    finally:
        again.close()


def test_the_headers_reach_the_simulator_over_http(sim, api):
    client = api(sim)
    plain = client.create(**BODY)
    hinted = httpx.post(f"{sim.base_url}/v1/video_generation", json=BODY, timeout=30,
                        headers={"Authorization": "Bearer sim-key", "X-Shots-Shot": "s02-keeper", "X-Shots-Take": "2"})
    assert plain["base_resp"]["status_code"] == 0 and hinted.json()["base_resp"]["status_code"] == 0
    labels = {t["task_id"]: (t["take"], t["label"]) for t in sim.tasks()}
    assert labels[plain["task_id"]] == (1, "The keeper turns toward the… · #1")
    assert labels[hinted.json()["task_id"]] == (2, "s02-keeper · take 2")


def test_the_previz_size_follows_the_settings():
    assert SimConfig().previz_size(1366, 768) == (640, 360)
    assert SimConfig(render_width=1280).previz_size(1366, 768) == (1280, 720)
    assert SimConfig(render_width=1280).previz_size(512, 768) == (854, 1280)  # portrait: 1280 tall
    assert SimConfig(render_height=90).previz_size(1366, 768) == (160, 90)  # a fixed height wins
    assert SimConfig().previz_size(1472, 640) == (736, 320)  # 21:9: the short side kept at 320 px...
    assert SimConfig(render_width=640).previz_size(1472, 640) == (640, 278)  # ...unless a width is asked for
    for bad in ({"render_width": 8}, {"render_height": 0}, {"render_fps": 0}, {"render_width": 640.0}):
        with pytest.raises(ValueError):
            SimConfig(**bad)
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    bigger = config_from_args(parser.parse_args(["--render-width", "1280", "--render-fps", "30"]))
    assert (bigger.render_width, bigger.render_height, bigger.render_fps) == (1280, None, 30)
    assert config_from_args(parser.parse_args([])).previz_size(1366, 768) == (640, 360)
    assert config_from_args(parser.parse_args([])).previz_size(1472, 640) == (736, 320)
    assert config_from_args(parser.parse_args(["--render-width", "640"])).previz_size(1472, 640) == (640, 278)
