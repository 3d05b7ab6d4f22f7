"""A video made from a frame starts on that frame: the previz of s02, given s01's last frame as its
first frame, starts on exactly that picture (its own label over s01's, no more), so a chained
storyboard previews as one continuous piece; a first-last clip likewise ends on its last image.

A chain cascades: one more word in a prompt makes another clip (another last frame to start
the next shot on), and the default previz of a wide clip is large enough for its last frame to
pass the API's image rules.

Over HTTP against the simulator (v1 and v2), with the frame cut from a real previz with PyAV as
the runner cuts it (a lossless PNG at the video's size), at a previz size whose frames pass the
API's image rules (640 px wide: 640x360 on v1, 640x366 for H3's 1344x768)."""

from __future__ import annotations

import base64
import io

import av
import httpx
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from pipeline.minimax import images
from pipeline.sim import SimConfig, Simulator, render
from pipeline.sim.render import Pose, RenderSpec

T0 = 1_785_000_000.0
KEY = "sim-key"
DARK, BRIGHT = 40, 215  # the label's slate and letters; the scene stays between them
FINISHED = 400.0  # simulated seconds: past every v1 and v2 task's phases


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def serving(tmp_path, **sizes):
    """(Simulator, Clock, httpx.Client) at 6 fps (v2: its own 24), a clock the test moves."""
    clock = Clock()
    sim = Simulator(SimConfig(time_scale=1.0, render_fps=6, render_cache_dir=tmp_path / "renders", **sizes),
                    now=clock).start()
    client = httpx.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
    yield sim, clock, client
    client.close()
    sim.stop()


@pytest.fixture
def csim(tmp_path):
    """A previz 640 px wide."""
    yield from serving(tmp_path, render_width=640)


@pytest.fixture
def dsim(tmp_path):
    """The previz at the simulator's default size (as the embedded simulator of a keyless run makes it)."""
    yield from serving(tmp_path)


def scene(width: int = 1280, height: int = 720, hue: int = 0) -> bytes:
    """A mid-tone picture with things to see everywhere (nothing as dark or bright as a label)."""
    img = Image.new("RGB", (width, height), (90 + hue, 110, 140 - hue))
    draw = ImageDraw.Draw(img)
    for i, x in enumerate(range(0, width, width // 10)):
        for j, y in enumerate(range(0, height, height // 6)):
            shade = (80 + 17 * ((i + j + hue) % 6), 150 - 9 * ((i * j) % 7), 100 + 13 * ((i + 2 * j) % 6))
            draw.ellipse([x + 10, y + 8, x + width // 10 - 10, y + height // 6 - 8], fill=shade)
    return png(img)


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(data).decode('ascii')}"


def ends(mp4: bytes) -> tuple[Image.Image, Image.Image]:
    """The first and the last frame, decoded with PyAV."""
    first = last = None
    with av.open(io.BytesIO(mp4)) as container:
        for frame in container.decode(video=0):
            first, last = first or frame.to_image(), frame
    return first, last.to_image()


def cut_last(mp4: bytes) -> bytes:
    """The last frame as the runner cuts it: decoded with PyAV, a lossless PNG at the video's size."""
    return png(ends(mp4)[1].convert("RGB"))


# --- v1 and v2 over HTTP ------------------------------------------------------------------------


def v1_video(client: httpx.Client, clock: Clock, body: dict, shot: str) -> bytes:
    made = client.post("/v1/video_generation", json=body, headers={"X-Shots-Shot": shot, "X-Shots-Take": "1"}).json()
    assert made["base_resp"]["status_code"] == 0, made
    clock.t += FINISHED
    done = client.get("/v1/query/video_generation", params={"task_id": made["task_id"]}).json()
    assert done["status"] == "Success", done
    url = client.get("/v1/files/retrieve", params={"file_id": done["file_id"]}).json()["file"]["download_url"]
    return client.get(url).content


def v2_video(client: httpx.Client, clock: Clock, images: list[tuple[str, bytes]], prompt: str, shot: str,
             **body) -> bytes:
    content = [{"type": "text", "text": prompt}]
    content += [{"type": "image_url", "image_url": {"url": data_url(data)}, "role": role} for role, data in images]
    made = client.post("/v2/video_generation", json={"model": "MiniMax-H3", "content": content, "resolution": "768P",
                                                     "duration": 4, **body}, headers={"X-Shots-Shot": shot})
    assert made.status_code == 200, made.text
    clock.t += FINISHED
    task = client.get(f"/v2/query/video_generation/{made.json()['task_id']}").json()["task"]
    assert task["status"] == "succeeded", task
    return client.get(task["content"]["url"]).content


# --- the pixel checks ---------------------------------------------------------------------------


def box_of(img: Image.Image, test) -> tuple[int, int, int, int] | None:
    return img.convert("L").point(lambda v: 255 if test(v) else 0).getbbox()


def grown(box, by: int, size) -> tuple[int, int, int, int]:
    return max(0, box[0] - by), max(0, box[1] - by), min(size[0], box[2] + by), min(size[1], box[3] + by)


def within(box, outer, slack: int = 0) -> bool:
    return (outer[0] - slack <= box[0] and outer[1] - slack <= box[1]
            and box[2] <= outer[2] + slack and box[3] <= outer[3] + slack)


def mean_outside(a: Image.Image, b: Image.Image, box) -> float:
    """The mean difference of two frames (grey levels) everywhere but `box`."""
    diff = ImageChops.difference(a.convert("L"), b.convert("L"))
    diff.paste(0, box)
    area = a.width * a.height - (box[2] - box[0]) * (box[3] - box[1])
    return ImageStat.Stat(diff).sum[0] / area


def assert_continuous(frame: Image.Image, made: Image.Image, slate) -> None:
    """`made` (a clip's first or last frame) is `frame` (the picture it was given, cut from s01)
    within the codec's loss, with its own label's slate (`slate`, measured on a clean picture)
    over s01's and nothing of s01's label showing anywhere else."""
    assert frame.size == made.size
    old = box_of(frame, lambda v: v < DARK)
    assert old is not None and within(old, slate, 1), (old, slate)  # s01's slate lies under the new one
    assert box_of(made, lambda v: v < DARK) == slate  # not one dark pixel of s01's slate outside it
    letters = box_of(made, lambda v: v > BRIGHT)
    assert letters is not None and within(letters, slate, 1), (letters, slate)  # nor of its letters
    assert mean_outside(frame, made, grown(slate, 2, made.size)) < 3.0  # and the rest is the picture


def check_chain(s01: bytes, s02: bytes, s03: bytes) -> None:
    """s02 started from s01's last frame; s03 went from a clean picture to s01's last frame."""
    frame = ends(s01)[1]
    s02_first, s02_last = ends(s02)
    s03_first, s03_last = ends(s03)
    slate = box_of(s03_first, lambda v: v < DARK)  # the label "s2 · take 1" on a clean picture
    assert slate is not None and slate[0] < 20 and slate[3] > frame.height - 20  # the bottom left corner
    assert_continuous(frame, s02_first, slate)
    assert mean_outside(s02_first, s02_last, (0, 0, 0, 0)) > 5  # and from there it moves on
    assert_continuous(frame, s03_last, slate)


# s01's label is long: a slate sized by its text would stick out from under s2's short one.
LONG, SHORT = "s01-lighthouse-exterior-wide", "s2"


def test_v1_a_clip_made_from_the_last_frame_starts_on_it_and_a_first_last_clip_ends_on_it(csim):
    _, clock, client = csim
    s01 = v1_video(client, clock, {"model": "MiniMax-Hailuo-02", "prompt": "The keeper climbs [Push in]",
                                   "first_frame_image": data_url(scene()), "duration": 6}, shot=LONG)
    frame = cut_last(s01)
    assert Image.open(io.BytesIO(frame)).size == (640, 360)
    s02 = v1_video(client, clock, {"model": "MiniMax-Hailuo-02", "prompt": "He looks out [Pan left]",
                                   "first_frame_image": data_url(frame), "duration": 6}, shot=SHORT)
    s03 = v1_video(client, clock, {"model": "MiniMax-Hailuo-02", "prompt": "Night falls",
                                   "first_frame_image": data_url(scene(640, 360, hue=10)),
                                   "last_frame_image": data_url(frame), "duration": 6}, shot=SHORT)
    check_chain(s01, s02, s03)


def test_v2_a_clip_made_from_the_last_frame_starts_on_it_and_a_first_last_clip_ends_on_it(csim):
    _, clock, client = csim
    s01 = v2_video(client, clock, [("first_frame", scene())], "The keeper climbs [Zoom in]", shot=LONG)
    frame = cut_last(s01)
    assert Image.open(io.BytesIO(frame)).size == (640, 366)  # H3's 1344x768, 640 wide
    s02 = v2_video(client, clock, [("first_frame", frame)], "He looks out [Truck left]", shot=SHORT)
    clean = png(Image.open(io.BytesIO(scene(hue=10))).resize((640, 366)))
    s03 = v2_video(client, clock, [("first_frame", clean), ("last_frame", frame)], "Night falls", shot=SHORT)
    check_chain(s01, s02, s03)


def test_a_wide_h3_clip_at_the_default_size_hands_on_a_frame_the_api_takes(dsim):
    """A 21:9 picture makes a 21:9 H3 clip (frames set the ratio). 640 px wide it would be 640x274,
    and its last frame (short side under 300 px) would block the next shot; the default previz
    keeps its short side at 320 px."""
    _, clock, client = dsim
    s01 = v2_video(client, clock, [("first_frame", scene(1792, 768))], "The coast at dawn [Truck left]", shot=LONG)
    frame = cut_last(s01)
    info = images.inspect(frame)  # the API's image rules: ImageError if it would refuse the frame
    assert (info.width, info.height) == (736, 320)  # H3's 768P 21:9 is 1472x640
    s02 = v1_video(client, clock, {"model": "MiniMax-Hailuo-02", "prompt": "He looks out [Pan left]",
                                   "first_frame_image": data_url(frame), "duration": 6}, shot=SHORT)
    first = ends(s02)[0]
    assert first.size == (736, 320)  # v1 at the frame's aspect: the same size, so it starts on the frame
    x, y, w, h = render.label_box(*first.size)
    assert mean_outside(ends(s01)[1], first, grown((x, y, x + w, y + h), 2, first.size)) < 3.0


# --- the prompt's words change the clip ----------------------------------------------------------

# One word apart: a real model makes another clip, so the previz does too, and a shot made from
# this one's last frame is made again (the frame's sha256 changes) when the prompt is edited.
WALKS, SLOWLY = "The keeper walks up the path [Push in].", "The keeper walks slowly up the path [Push in]."


def assert_same_start_other_end(one: bytes, other: bytes) -> None:
    """Both clips start on the picture they were given; they end on plainly different frames."""
    (one_first, one_last), (other_first, other_last) = ends(one), ends(other)
    assert one_first.size == other_first.size
    assert mean_outside(one_first, other_first, (0, 0, 0, 0)) < 0.5  # the same picture (codec noise)
    assert mean_outside(one_last, other_last, (0, 0, 0, 0)) > 1.0, "one more word, the same ending"


def test_v1_one_more_word_in_the_prompt_makes_another_clip(csim):
    _, clock, client = csim
    body = {"model": "MiniMax-Hailuo-02", "first_frame_image": data_url(scene()), "duration": 6}
    walks = v1_video(client, clock, {**body, "prompt": WALKS}, shot=SHORT)
    slowly = v1_video(client, clock, {**body, "prompt": SLOWLY}, shot=SHORT)
    assert_same_start_other_end(walks, slowly)
    assert v1_video(client, clock, {**body, "prompt": WALKS}, shot=SHORT) == walks  # take 1 again: the same bytes


def test_v2_one_more_word_in_the_prompt_makes_another_clip(csim):
    _, clock, client = csim
    walks = v2_video(client, clock, [("first_frame", scene())], WALKS, shot=SHORT)
    slowly = v2_video(client, clock, [("first_frame", scene())], SLOWLY, shot=SHORT)
    assert_same_start_other_end(walks, slowly)


# --- the renderer, before the codec -------------------------------------------------------------

W, H = 320, 180


@pytest.mark.parametrize("prompt", ["[Push in]", "[Pan left], then [Zoom out]", "[Shake]", "[Tracking shot]",
                                    "He waits [Static shot]", "No camera words at all"])
@pytest.mark.parametrize("take", [1, 2, 3])
def test_the_first_frame_is_the_picture_exactly_on_every_take(prompt, take):
    picture = Image.open(io.BytesIO(scene(W, H))).convert("RGB")
    spec = RenderSpec("image_to_video", prompt, W, H, fps=4, frames=24, first=png(picture), take=take, seed=7)
    lay = render.layout(spec)
    assert lay.poses[0] == Pose()
    assert render.view(lay.first, lay.poses[0], W, H).tobytes() == picture.tobytes()


@pytest.mark.parametrize("take", [1, 2])
def test_a_first_last_clip_ends_on_the_last_picture_exactly(take):
    first = Image.open(io.BytesIO(scene(W, H, hue=9))).convert("RGB")
    last = Image.open(io.BytesIO(scene(W, H, hue=33))).convert("RGB")
    spec = RenderSpec("first_last_frame", "Night falls [Truck right]", W, H, fps=4, frames=24, first=png(first),
                      last=png(last), take=take, seed=3)
    lay = render.layout(spec)
    assert lay.slide[-1] == 1.0 and lay.landing[-1] == Pose()
    assert render.view(lay.last, lay.landing[-1], W, H).tobytes() == last.tobytes()
    assert render.view(lay.first, lay.poses[0], W, H).tobytes() == first.tobytes()


def test_the_words_around_the_commands_seed_the_clip():
    assert render.prompt_words("The keeper walks up the path [Push in].") == "The keeper walks up the path ."
    assert render.prompt_words("平移 [左摇]") == "平移" and render.prompt_words("[Pan left], then [Push in]") == ", then"
    assert render.prompt_words("a [Pan left, slowly] b [not a move]") == "a slowly b [not a move]"
    take = render.variation(5, 2)
    assert render.nuance(take, "", drift=True) is take  # commands only: the take as it is
    assert render.nuance(render.FIRST_TAKE, "The keeper walks", drift=False) == \
        render.nuance(render.FIRST_TAKE, " The  keeper walks ", drift=False)  # spacing is not a word
    shaded = [render.nuance(take, words, drift=True) for words in ("The keeper walks", "The keeper walks slowly")]
    assert shaded[0] != shaded[1]
    for v in shaded:  # calmly: a lively take stays lively, and the frame stays inside the picture
        assert 0.92 * take.amount <= v.amount <= 1.08 * take.amount
        assert abs(v.x) <= (1 - 1 / v.zoom) / 2 and abs(v.y) <= (1 - 1 / v.zoom) / 2


def test_a_first_last_clip_of_other_words_moves_otherwise_and_ends_on_the_last_picture_exactly():
    first = Image.open(io.BytesIO(scene(W, H, hue=9))).convert("RGB")
    last = Image.open(io.BytesIO(scene(W, H, hue=33))).convert("RGB")
    lays = [render.layout(RenderSpec("first_last_frame", prompt, W, H, fps=4, frames=24, first=png(first),
                                     last=png(last))) for prompt in ("Night falls", "Night falls slowly")]
    assert lays[0].poses != lays[1].poses or lays[0].slide != lays[1].slide
    for lay in lays:
        assert render.view(lay.first, lay.poses[0], W, H).tobytes() == first.tobytes()
        assert render.view(lay.last, lay.landing[-1], W, H).tobytes() == last.tobytes()


@pytest.mark.parametrize("size", [(640, 360), (640, 366), (360, 640), (1280, 720), (128, 72)])
def test_the_label_slate_depends_on_the_frame_size_alone(size):
    w, h = size
    short, long = render.label_image("s2 · take 1", w, h), render.label_image("s01-" + "x" * 80 + " · take 12", w, h)
    assert short.size == long.size and render.label_box(w, h)[2:] == short.size
    x, y, bw, bh = render.label_box(w, h)
    assert all(v % 2 == 0 for v in (x, y, bw, bh)) and x + bw <= w and y + bh <= h
