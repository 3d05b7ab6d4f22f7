"""The previz renderer on its own: real H.264 of the exact duration, and camera moves that go
the way the prompt says (measured on a bright marker in the decoded frames)."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from pipeline.minimax import images
from pipeline.sim import SimConfig
from pipeline.sim.render import RenderSpec, output_size, previz_size, render_video
from pipeline.sim.sizes import MIN_SHORT_SIDE, default_previz_size
from pipeline.sim.v2render import RATIOS, nominal_size

MODES = ("text_to_video", "image_to_video", "first_last_frame", "subject_reference")


def picture(width=640, height=360, colour=(0, 0, 0), marker=True) -> bytes:
    img = Image.new("RGB", (width, height), colour)
    if marker:
        ImageDraw.Draw(img).rectangle([width // 2 - 20, height // 2 - 20, width // 2 + 20, height // 2 + 20],
                                      fill="white")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def frames(path) -> list[Image.Image]:
    with av.open(str(path)) as container:
        return [f.to_image() for f in container.decode(video=0)]


# The motion tests render small and slow (160x90 at 4 fps): the moves are fractions of the frame,
# so the geometry is the same at any size, and the suite stays fast. Here the 640x360 picture's
# 40 px marker is 10 px wide, and a quarter-frame move is 40 px.
SMALL = {"width": 160, "height": 90, "fps": 4}


def marker(img: Image.Image) -> tuple[float, float, int]:
    """(centre x, centre y, width) of the bright marker."""
    box = img.convert("L").point(lambda v: 255 if v > 200 else 0).getbbox()
    assert box, "marker not visible"
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0]


def render(tmp_path, prompt: str, mode="image_to_video", **kw) -> list[Image.Image]:
    spec = RenderSpec(mode, prompt, **SMALL, frames=kw.pop("duration", 6) * SMALL["fps"],
                      first=kw.pop("first", picture()), **kw)
    path = tmp_path / "out.mp4"
    render_video(spec, path)
    return frames(path)


@pytest.mark.parametrize("duration", [6, 10])
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_renders_h264_of_the_exact_duration(tmp_path, mode, duration):
    # at 24 fps, as the simulator renders; small, so that eight clips take little time
    spec = RenderSpec(mode, "A lighthouse at dusk [Pan left], then [Push in]", 192, 108, fps=24, frames=duration * 24,
                      first=picture(), last=picture(colour=(200, 60, 60)), subject=picture(400, 600), label="s01 · take 1")
    path = tmp_path / f"{mode}.mp4"
    render_video(spec, path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert container.duration / 1e6 == pytest.approx(duration, abs=1e-3)
        assert (stream.width, stream.height) == (192, 108) and stream.average_rate == 24
        assert not container.streams.audio  # v1 videos have no sound
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == duration * 24


def test_the_default_previz_is_640_wide_at_24_fps(tmp_path):
    spec = RenderSpec("text_to_video", "A title [Push in]", *previz_size(1366, 768))
    assert (spec.width, spec.height, spec.fps, spec.frames, spec.duration) == (640, 360, 24, 144, 6.0)
    render_video(spec, tmp_path / "t.mp4")
    with av.open(str(tmp_path / "t.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate, stream.frames) == (640, 360, 24, 144)


@pytest.mark.parametrize("vw, vh, width, expected", [
    (1366, 768, 640, (640, 360)), (912, 512, 640, (640, 360)), (1920, 1080, 1280, (1280, 720)),
    (1344, 768, 640, (640, 366)),  # H3's 768P 16:9 is 7:4
    (768, 1344, 640, (366, 640)),  # portrait: the longer side is `width`
    (512, 768, 640, (426, 640)), (1000, 400, 640, (640, 256)), (1024, 1024, 640, (640, 640)),
    (1792, 768, 640, (640, 274)),  # 21:9
])
def test_previz_keeps_the_aspect_with_even_sides(vw, vh, width, expected):
    assert previz_size(vw, vh, width) == expected
    assert previz_size(vw, vh, width + 1) == expected


@pytest.mark.parametrize("resolution", ["768P", "2K"])
@pytest.mark.parametrize("ratio", list(RATIOS))
def test_the_default_previz_of_every_h3_ratio_hands_on_frames_the_api_takes(resolution, ratio):
    """A previz's last frame may start the next shot: its short side stays over the API's 300 px."""
    vw, vh = nominal_size(resolution, ratio)
    w, h = SimConfig().previz_size(vw, vh)
    assert (w, h) == default_previz_size(vw, vh) and w % 2 == 0 and h % 2 == 0
    assert min(w, h) >= MIN_SHORT_SIDE > images.MIN_SHORT_SIDE
    assert max(w, h) == 640 or min(w, h) == MIN_SHORT_SIDE  # 640 on the long side, unless too thin
    assert w / h == pytest.approx(vw / vh, rel=0.01)


@pytest.mark.parametrize("vw, vh, expected", [
    (1366, 768, (640, 360)), (1344, 768, (640, 366)), (768, 1344, (366, 640)), (1024, 1024, (640, 640)),  # as before
    (1472, 640, (736, 320)),  # H3's 768P 21:9: 640x278 would be too small to send on
    (1792, 768, (746, 320)), (768, 1792, (320, 746)),  # 21:9 and 9:21 at their true ratio
    (1000, 400, (800, 320)),  # 5:2, the widest picture the API takes (an image_to_video's aspect)
])
def test_the_default_previz_is_640_on_the_long_side_and_320_at_least_on_the_short(vw, vh, expected):
    assert default_previz_size(vw, vh) == SimConfig().previz_size(vw, vh) == expected


def test_a_size_asked_for_is_honoured_as_it_is():
    assert SimConfig(render_width=640).previz_size(1472, 640) == previz_size(1472, 640, 640) == (640, 278)
    assert SimConfig(render_height=180).previz_size(1472, 640) == (414, 180)  # the tests' small previz
    assert SimConfig(render_width=640, render_height=90).previz_size(1366, 768) == (160, 90)  # the height wins


@pytest.mark.parametrize("vw, vh, expected", [(1366, 768, (320, 180)), (512, 768, (120, 180)),
                                              (1920, 1080, (320, 180)), (1000, 400, (450, 180))])
def test_output_by_height_keeps_the_aspect_with_even_sides(vw, vh, expected):
    assert output_size(vw, vh, 180) == expected
    assert output_size(vw, vh, 181) == expected


@pytest.mark.parametrize("bad", [dict(width=161), dict(height=0), dict(fps=0), dict(frames=0)])
def test_a_spec_must_be_encodable(bad):
    with pytest.raises(ValueError):
        RenderSpec("text_to_video", "", **{"width": 160, "height": 90, **bad})


@pytest.mark.parametrize("prompt, axis, sign", [
    ("[Pan left]", 0, +1), ("[Truck left]", 0, +1),  # the camera goes left: the scene slides right
    ("[Pan right]", 0, -1), ("[Truck right]", 0, -1),
    ("[Tilt up]", 1, +1), ("[Pedestal up]", 1, +1),  # the camera goes up: the scene slides down
    ("[Tilt down]", 1, -1), ("[Pedestal down]", 1, -1),
    ("平移 [左摇]", 0, +1),  # Chinese commands too
])
def test_moves_shift_the_picture_the_commanded_way(tmp_path, prompt, axis, sign):
    video = render(tmp_path, prompt)
    first, last = marker(video[0]), marker(video[-1])
    assert (last[axis] - first[axis]) * sign > 20
    assert abs(last[1 - axis] - first[1 - axis]) < 2


@pytest.mark.parametrize("prompt, bigger", [("[Push in]", True), ("[Zoom in]", True), ("[Tracking shot]", True),
                                            ("[Pull out]", False), ("[Zoom out]", False)])
def test_push_and_zoom_change_the_size(tmp_path, prompt, bigger):
    video = render(tmp_path, prompt)
    first, last = marker(video[0]), marker(video[-1])
    assert (last[2] > first[2] * 1.1) if bigger else (last[2] < first[2] / 1.2)
    assert abs(last[0] - first[0]) < 2 and abs(last[1] - first[1]) < 2  # straight in or out


def test_tracking_shot_is_slower_than_a_push(tmp_path):
    tracking = marker(render(tmp_path, "[Tracking shot]")[-1])[2]
    push = marker(render(tmp_path, "[Push in]")[-1])[2]
    assert tracking < push


def test_static_shot_and_no_camera_hold_still(tmp_path):
    for video in (render(tmp_path, "[Static shot]"), render(tmp_path, "[Pan left]", camera=False)):
        assert marker(video[0]) == marker(video[-1]) == marker(video[len(video) // 2])


def test_shake_jitters_around_the_start(tmp_path):
    video = render(tmp_path, "[Shake]")
    positions = [marker(f)[:2] for f in video]
    assert len(set(positions)) > 5
    assert max(abs(x - positions[0][0]) for x, _ in positions) < 10


def test_brackets_run_in_order_and_share_the_clip(tmp_path):
    video = render(tmp_path, "The keeper looks out [Pan left], then back [Pan right].")
    start, middle, end = marker(video[0])[0], marker(video[len(video) // 2])[0], marker(video[-1])[0]
    assert middle - start > 30 and abs(end - start) < 2


def test_commands_in_one_bracket_run_together(tmp_path):
    video = render(tmp_path, "[Pan left, Push in]")
    first, last = marker(video[0]), marker(video[-1])
    assert last[0] > first[0] + 20 and last[2] > first[2] * 1.2


def test_image_to_video_starts_on_the_first_frame(tmp_path):
    video = render(tmp_path, "[Push in]")
    x, y, w = marker(video[0])
    assert abs(x - 80) < 1.5 and abs(y - 45) < 1.5 and abs(w - 10) <= 2  # the 640x360 picture at 160x90


def test_first_last_frame_slides_from_one_picture_to_the_other(tmp_path):
    dark, bright = picture(colour=(10, 10, 10), marker=False), picture(colour=(230, 230, 230), marker=False)
    video = render(tmp_path, "", mode="first_last_frame", first=dark, last=bright)
    means = [ImageStat.Stat(f.convert("L")).mean[0] for f in video]
    assert means[0] < 30 and means[-1] > 200
    assert all(b >= a - 2 for a, b in zip(means, means[1:]))  # the last picture only gains ground
    # mid-way, each column is one picture or the other: a moving edge, not a ghost of both
    middle = video[len(video) // 2].convert("L")
    columns = [ImageStat.Stat(middle.crop((x, 10, x + 1, 80))).mean[0] for x in range(160)]
    assert any(c < 40 for c in columns) and any(c > 200 for c in columns)
    assert sum(1 for c in columns if 60 < c < 180) <= 3


def test_title_card_moves_with_its_camera(tmp_path):
    moving = render(tmp_path, "A city at night [Pan right]", mode="text_to_video", first=None)
    still = render(tmp_path, "A city at night", mode="text_to_video", first=None)

    def diff(a: Image.Image, b: Image.Image) -> float:
        return ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean[0]

    assert diff(moving[0], moving[-1]) > 5 * max(1.0, diff(still[0], still[-1]))


def test_url_images_render_as_a_placeholder_without_network(tmp_path):
    video = render(tmp_path, "[Push in]", first="https://example.com/cat.jpg")
    assert len(video) == 24 and ImageStat.Stat(video[0].convert("L")).mean[0] > 60  # a grey card, not black


def test_subject_reference_shows_the_subject(tmp_path):
    video = render(tmp_path, "She smiles", mode="subject_reference", first=None, subject=picture(400, 600))
    x, y, _ = marker(video[0])
    assert abs(x - 80) < 5 and y < 45  # the portrait sits above the caption


def test_image_whose_body_is_damaged_renders_a_placeholder(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (640, 360), "white").save(buf, "JPEG")
    damaged = buf.getvalue()[: len(buf.getvalue()) // 3]  # the header still passes the API checks
    video = render(tmp_path, "", first=damaged)
    assert len(video) == 24 and 60 < ImageStat.Stat(video[0].convert("L")).mean[0] < 200  # the grey card
