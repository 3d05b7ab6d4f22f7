"""The previz renderer's camera: every official command moves the picture the way it says, commands
given together combine instead of cancelling, borders are filled with the picture's own colours,
and first-last frame lands on the last image. Measured on bright markers in decoded frames."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from pipeline.minimax import camera
from pipeline.sim import render
from pipeline.sim.render import BACKGROUND, Pose, RenderSpec, render_video, warp_points

W, H = 320, 180  # a 16:9 render, small: the moves are fractions of the frame, the same at any size
CORNERS = {"tl": (120, 70), "tr": (520, 70), "bl": (120, 290), "br": (520, 290)}  # on the 640x360 picture


def picture(*, corners: bool = False, colour=(0, 0, 0), size=(640, 360)) -> bytes:
    """Black, a 40 px white square in the centre and, if asked, a 30 px one near each corner."""
    img = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(img)
    cx, cy = size[0] // 2, size[1] // 2
    draw.rectangle([cx - 20, cy - 20, cx + 19, cy + 19], fill="white")
    if corners:
        for x, y in CORNERS.values():
            draw.rectangle([x - 15, y - 15, x + 14, y + 14], fill="white")
    return _png(img)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def frames(tmp_path, prompt: str, mode: str = "image_to_video", **kw) -> list[Image.Image]:
    fps = kw.pop("fps", 4)
    spec = RenderSpec(mode, prompt, W, H, fps=fps, frames=kw.pop("duration", 6) * fps,
                      first=kw.pop("first", picture()), **kw)
    path = tmp_path / "clip.mp4"
    render_video(spec, path)
    with av.open(str(path)) as container:
        return [f.to_image() for f in container.decode(video=0)]


def blob(img: Image.Image, box=(0, 0, W, H)) -> tuple[float, float, float, float]:
    """(centre x, centre y, width, height) of the bright pixels inside `box`, in frame coordinates."""
    found = img.crop(box).convert("L").point(lambda v: 255 if v > 160 else 0).getbbox()
    assert found, f"no marker in {box}"
    x0, y0, x1, y1 = found
    return box[0] + (x0 + x1) / 2, box[1] + (y0 + y1) / 2, x1 - x0, y1 - y0


# The corner markers start at (60, 35), (260, 35), (60, 145), (260, 145) in the 320x180 frame;
# these boxes hold each of them (and not the centre marker) through the small combined moves.
BOXES = {"tl": (0, 0, 120, 70), "tr": (200, 0, W, 70), "bl": (0, 110, 120, H), "br": (200, 110, W, H)}


def corners(img: Image.Image) -> dict[str, tuple[float, float, float, float]]:
    return {name: blob(img, box) for name, box in BOXES.items()}


def diff(a: Image.Image, b: Image.Image) -> float:
    return ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean[0]


# command -> (x move, y move, size ratio at least / at most) of the centre marker from the first
# to the last frame: the camera going left slides the scene right, going up slides it down.
EXPECTED = {
    "Truck left": (+1, 0, 0), "Truck right": (-1, 0, 0),
    "Pan left": (+1, 0, 0), "Pan right": (-1, 0, 0),
    "Pedestal up": (0, +1, 0), "Pedestal down": (0, -1, 0),
    "Tilt up": (0, +1, 0), "Tilt down": (0, -1, 0),
    "Push in": (0, 0, 1.3), "Zoom in": (0, 0, 1.3), "Tracking shot": (0, 0, 1.05),  # a slow drift forward
    "Pull out": (0, 0, 1 / 1.3), "Zoom out": (0, 0, 1 / 1.3),
    "Shake": (0, 0, 0), "Static shot": (0, 0, 0),
}


def test_the_table_covers_every_official_command():
    assert set(EXPECTED) == set(camera.COMMANDS) == set(render.MOVES)


@pytest.mark.parametrize("command", list(EXPECTED))
def test_each_command_moves_the_first_frame_the_commanded_way(tmp_path, command):
    video = frames(tmp_path, f"The keeper at the window [{command}].")
    (x0, y0, w0, _), (x1, y1, w1, _) = blob(video[0]), blob(video[-1])
    assert (x0, y0, w0) == pytest.approx((160, 90, 20), abs=1.5)  # starts on the picture as given
    sx, sy, grow = EXPECTED[command]
    # a quarter frame or more along the commanded axis, nothing along the other
    if sx:
        assert (x1 - x0) * sx > 0.2 * W, (x0, x1)
        assert abs(y1 - y0) < 2
    if sy:
        assert (y1 - y0) * sy > 0.2 * H, (y0, y1)
        assert abs(x1 - x0) < 2
    if grow:
        assert (w1 / w0 > grow) if grow > 1 else (w1 / w0 < grow), (w0, w1)
        assert abs(x1 - x0) < 2 and abs(y1 - y0) < 2  # straight in or out
    if command == "Shake":
        positions = {blob(f)[:2] for f in video}
        assert len(positions) > 8  # it jitters...
        assert max(abs(x - 160) for x, _ in positions) < 0.05 * W  # ...around where it was
    if command == "Tracking shot":  # drifting sideways on the way and back
        assert abs(blob(video[len(video) // 2])[0] - x0) > 0.02 * W
    if command == "Static shot":
        assert max(diff(video[0], f) for f in video) < 0.5
    if sx or sy or grow:  # and it moves all the way, not in one jump at the end
        xm, ym, wm, _ = blob(video[len(video) // 2])
        swaying = command == "Tracking shot"
        assert swaying or min(x0, x1) - 1 <= xm <= max(x0, x1) + 1
        assert min(y0, y1) - 1 <= ym <= max(y0, y1) + 1
        assert (x0, y0, w0) != (xm, ym, wm) != (x1, y1, w1)


def test_pan_turns_and_truck_slides(tmp_path):
    """A pan is a rotation: a column of the picture that swings toward the frame's centre shrinks
    against one that swings away. A truck only slides: both columns keep their size."""
    img = Image.open(io.BytesIO(picture(corners=True))).convert("RGB")
    draw = ImageDraw.Draw(img)
    for x, y in ((320, 70), (320, 290)):  # a column of markers above and below the centre one
        draw.rectangle([x - 15, y - 15, x + 14, y + 14], fill="white")
    marked = _png(img)

    def columns(prompt: str) -> tuple[float, float]:
        """Vertical spacing of the left column's and the centre column's markers, at the end."""
        last = frames(tmp_path, prompt, first=marked)[-1]
        left = blob(last, (100, 120, 190, H))[1] - blob(last, (100, 0, 190, 60))[1]
        centre = blob(last, (200, 120, 300, H))[1] - blob(last, (200, 0, 300, 60))[1]
        return left, centre

    left, centre = columns("[Truck left]")
    assert left == pytest.approx(110, abs=1) and centre == pytest.approx(110, abs=1)
    left, centre = columns("[Pan left]")
    assert left < centre * 0.96


@pytest.mark.parametrize("prompt, moves_too", [
    ("[Pedestal up,Tilt down]", True),  # rises while looking down: the top of the picture widens
    ("[Tilt down,Pedestal up]", True),
    ("[Truck left,Pan right]", True),  # slides left while turning right: the right side shrinks
    ("[Push in,Zoom out]", False),  # a dolly zoom: the centre holds, the edges fall away
])
def test_opposite_commands_together_combine_instead_of_cancelling(tmp_path, prompt, moves_too):
    video = frames(tmp_path, prompt, first=picture(corners=True))
    first, last = video[0], video[-1]
    assert diff(first, last) > 1.0  # not a still picture
    a, b = corners(first), corners(last)
    ca, cb = blob(first, (130, 60, 190, 120)), blob(last, (120, 50, 200, 130))
    if "Tilt" in prompt:
        top_a, top_b = a["tr"][0] - a["tl"][0], b["tr"][0] - b["tl"][0]
        bottom_a, bottom_b = a["br"][0] - a["bl"][0], b["br"][0] - b["bl"][0]
        assert top_b / bottom_b > top_a / bottom_a * 1.04  # keystone: looking down
        assert 3 < cb[1] - ca[1] < 0.15 * H  # the rise wins a little over the tilt
    elif "Pan" in prompt:
        left_a, left_b = a["bl"][1] - a["tl"][1], b["bl"][1] - b["tl"][1]
        right_a, right_b = a["br"][1] - a["tr"][1], b["br"][1] - b["tr"][1]
        assert left_b / right_b > left_a / right_a * 1.05
        assert 3 < cb[0] - ca[0] < 0.15 * W
    else:
        assert cb[2] == pytest.approx(ca[2], abs=1.5)  # the subject keeps its size...
        for name in BOXES:  # ...while every corner marker moves toward the centre
            assert abs(b[name][0] - 160) < abs(a[name][0] - 160) - 2
            assert abs(b[name][1] - 90) < abs(a[name][1] - 90) - 1
    assert moves_too == (abs(cb[0] - ca[0]) + abs(cb[1] - ca[1]) > 3)


def test_push_and_zoom_differ_alone_but_both_scale_the_centre(tmp_path):
    """Zoom magnifies uniformly; a push magnifies the centre more than the edges (depth)."""
    zoom = corners(frames(tmp_path, "[Zoom in]", first=picture(corners=True), duration=6)[10])
    push = corners(frames(tmp_path, "[Push in]", first=picture(corners=True), duration=6)[10])
    # at the same moment the centre has the same magnification, but the push's corners lag behind
    assert abs(push["tl"][0] - 160) < abs(zoom["tl"][0] - 160)


def test_pull_out_fills_the_border_with_the_picture_mirrored_and_dimmed(tmp_path):
    img = Image.new("RGB", (640, 360), (40, 120, 220))  # sky
    ImageDraw.Draw(img).rectangle([0, 200, 639, 359], fill=(40, 170, 60))  # grass
    last = frames(tmp_path, "[Pull out]", first=_png(img))[-1].convert("RGB")
    above, below = last.crop((100, 0, 220, 8)), last.crop((100, H - 8, 220, H))
    sky, grass = ImageStat.Stat(above).mean, ImageStat.Stat(below).mean
    assert sky[2] > sky[1] and sky[2] > sky[0] + 20  # the sky continues above, blue...
    assert grass[1] > grass[0] + 15 and grass[1] > grass[2]  # ...the grass below, green
    assert max(sky) < 180 and max(grass) < 140  # dimmed: clearly outside the shot
    # never the flat background colour, and never one row smeared outward
    assert max(abs(m - b) for m, b in zip(sky, BACKGROUND)) > 40
    assert diff(last.crop((100, 0, 220, 1)), last.crop((100, 6, 220, 7))) < 25


def test_first_last_frame_starts_on_the_first_image_and_lands_on_the_last(tmp_path):
    first = picture()
    lastpic = Image.new("RGB", (640, 360), (0, 0, 0))
    ImageDraw.Draw(lastpic).rectangle([60, 40, 139, 119], fill="white")  # a bigger square, top left
    video = frames(tmp_path, "Dawn [Push in]", mode="first_last_frame", first=first, last=_png(lastpic))
    assert blob(video[0])[:3] == pytest.approx((160, 90, 20), abs=1.5)
    x, y, w, h = blob(video[-1])
    assert (x, y, w, h) == pytest.approx((50, 40, 40, 40), abs=1.5)  # exactly the last image
    assert diff(video[len(video) // 2], video[len(video) // 2 + 1]) > 0.3  # moving all the way


def test_first_last_frame_slides_instead_of_cross_fading(tmp_path):
    """The first picture moves out as the last one moves in, their edge a clean line that travels
    across the frame: every pixel is one picture or the other, never a ghost of both."""
    dark = _png(Image.new("RGB", (640, 360), (10, 10, 10)))
    bright = _png(Image.new("RGB", (640, 360), (230, 230, 230)))
    video = frames(tmp_path, "The night turns to day.", mode="first_last_frame", first=dark, last=bright, fps=6)
    share = []
    for f in video:
        counts = f.convert("L").histogram()
        assert sum(counts[40:200]) <= 2 * H  # at most the seam's column or two
        lit = sum(counts[200:]) / (W * H)
        box = f.convert("L").point(lambda v: 255 if v > 120 else 0).getbbox()
        if 0 < lit < 1:  # the last picture comes in from the right, whole columns of it
            assert box[2] == W and (box[1], box[3]) == (0, H), box
            assert (box[2] - box[0]) * H == pytest.approx(lit * W * H, abs=2 * H)
        share.append(lit)
    assert share[0] == 0 and share[-1] == 1
    assert all(b >= a for a, b in zip(share, share[1:]))  # it only comes further in...
    assert sum(1 for s in share if 0.1 < s < 0.9) >= 5  # ...over seconds, not in a cut


@pytest.mark.parametrize("prompt, way", [("[Truck right]", (-1, 0)), ("[Pan left]", (1, 0)), ("[Pedestal up]", (0, 1)),
                                         ("[Tilt down]", (0, -1)), ("[Push in]", (-1, 0)), ("", (-1, 0))])
def test_first_last_frame_brings_the_last_picture_from_where_the_camera_goes(tmp_path, prompt, way):
    """The camera going right finds the last picture on the right: the first one leaves to the left."""
    spec = RenderSpec("first_last_frame", prompt, W, H, fps=4, frames=24, first=picture(), last=picture(colour=(90, 0, 0)))
    assert render.layout(spec).direction == way
    video = frames(tmp_path, prompt, mode="first_last_frame", first=_png(Image.new("RGB", (640, 360), (10, 10, 10))),
                   last=_png(Image.new("RGB", (640, 360), (230, 230, 230))))
    entering = next(f for f in video if f.convert("L").point(lambda v: 255 if v > 160 else 0).getbbox())
    x0, y0, x1, y1 = entering.convert("L").point(lambda v: 255 if v > 160 else 0).getbbox()
    side = {(-1, 0): x1 == W, (1, 0): x0 == 0, (0, -1): y1 == H, (0, 1): y0 == 0}
    assert side[way], ((x0, y0, x1, y1), way)


@pytest.mark.parametrize("prompt, axis, sign", [("[Pan right]", 0, -1), ("[Pedestal up]", 1, +1),
                                                ("[Truck left]", 0, +1), ("[Tilt down]", 1, -1)])
def test_text_to_video_title_card_moves_with_its_camera(tmp_path, prompt, axis, sign):
    video = frames(tmp_path, f"A lighthouse at dusk {prompt}", mode="text_to_video", first=None)
    # the brightest thing on the card is its text; follow its edge that stays in the frame
    a, b = _edges(video[0]), _edges(video[-1])
    edge = axis + (2 if sign < 0 else 0)
    assert (b[edge] - a[edge]) * sign > 0.2 * (W, H)[axis], (a, b)


def _edges(img: Image.Image) -> tuple[int, int, int, int]:
    box = img.convert("L").point(lambda v: 255 if v > 160 else 0).getbbox()
    assert box
    return box


def test_subject_reference_is_a_portrait_card(tmp_path):
    subject = Image.new("RGB", (400, 600), (200, 40, 160))
    ImageDraw.Draw(subject).ellipse([150, 150, 250, 250], fill="white")
    video = frames(tmp_path, "She runs up the path and waves", mode="subject_reference", first=None,
                   subject=_png(subject))
    card = video[0].convert("RGB")
    # the subject's magenta fills a portrait (taller than wide) box in the upper middle
    r, g, b = card.split()
    mask = ImageChops.multiply(ImageChops.multiply(r.point(lambda v: 255 if v > 150 else 0),
                                                   g.point(lambda v: 255 if v < 90 else 0)),
                               b.point(lambda v: 255 if v > 110 else 0))
    box = mask.getbbox()
    assert box and (box[3] - box[1]) > (box[2] - box[0]) * 1.1
    assert abs((box[0] + box[2]) / 2 - W / 2) < 4 and box[1] < H * 0.2
    # the prompt's text sits below it
    assert blob(card, (0, box[3] + 2, W, H))[1] > box[3]


def test_the_warp_is_identity_at_rest_and_the_fast_path_agrees_with_the_mesh(tmp_path):
    grid = [(u, v) for u in (0, 80, 160, 319) for v in (0, 45, 179)]
    at_rest = warp_points(Pose(), W, H, grid)
    assert [c for p in at_rest for c in p] == pytest.approx([c for u, v in grid for c in (u - W / 2, v - H / 2)])
    pose = Pose(zoom=1.3, x=0.1, y=-0.05)
    canvas = render.picture_canvas(render.decode(picture(corners=True), W, H), "", W, H,
                                   render.seen_anywhere([Pose(), pose], W, H), 2, None)
    fast = render.view(canvas, pose, W, H)
    # the same pose, forced through the mesh path with a negligible turn
    meshed = render.view(canvas, Pose(zoom=1.3, x=0.1, y=-0.05, pan=1e-9), W, H)
    assert diff(fast, meshed) < 2.0
    # and a part of the frame is that part of the whole frame
    part = render.view(canvas, Pose(zoom=1.3, x=0.1, y=-0.05, pan=1e-9), W, H, (100, 20, 260, 150))
    assert diff(part, meshed.crop((100, 20, 260, 150))) < 1.0
