"""The model catalogue: which model does which mode, at which duration x resolution, for what price.

Data, not if-chains: the manifest validator, the simulator and the cost estimate all read
these tables, so a model rule lives in exactly one place (sources: minimax-api.md 2.2, 4, 7.4;
minimax-api-v2.md A3, A4, A8 for MiniMax-H3; B1 for image-01, whose facts are imagespec's).
`price_of` is the one answer to "what does this take cost": the catalogue's official price (per
video for v1, per second plus inputs for v2, per image for image-01), else a price the manifest
declares under `prices:`, else unknown (never $0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

from pipeline.minimax import imagespec

if TYPE_CHECKING:
    from pipeline.manifest.models import ManifestPrices

Mode = Literal["text_to_video", "image_to_video", "first_last_frame", "subject_reference", "reference", "image"]
MODES: tuple[Mode, ...] = ("text_to_video", "image_to_video", "first_last_frame", "subject_reference", "reference",
                           "image")
# Which API serves a model: /v1/video_generation, /v2/video_generation, or /v1/image_generation
# (a still: mode image, image-01; minimax-api-v2.md B1).
Api = Literal["v1", "v2", "image"]

# resolution -> allowed durations (seconds)
Options = Mapping[str, tuple[int, ...]]

HAILUO_23: Options = {"768P": (6, 10), "1080P": (6,)}
ONE_SERIES: Options = {"720P": (6,)}
H3: Options = {"768P": tuple(range(4, 16)), "2K": tuple(range(4, 16))}  # 4-15 s (A3)
H3_MAX: Options = {"480P": tuple(range(5, 16)), "768P": tuple(range(5, 16))}  # 5-15 s, no 2K (A3)

PROMPT_MAX_CHARS = 2000  # v1; a model's own limit is Model.prompt_max_chars (v2: 7000)

# Output pixel sizes by resolution (768P is 1366x768 and 1080P 1920x1080 as observed on v1;
# 512P is undocumented, 912x512 keeps 16:9). v2 (A10): 2K is 2560x1440 at 16:9 [S]; 480P is
# undocumented, 832x480 keeps 16:9 on v2's 32-pixel grid.
RESOLUTION_SIZES: dict[str, tuple[int, int]] = {
    "480P": (832, 480),
    "512P": (912, 512),
    "720P": (1280, 720),
    "768P": (1366, 768),
    "1080P": (1920, 1080),
    "2K": (2560, 1440),
}

RATIOS: tuple[str, ...] = ("adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")  # v2 `ratio` (A3)
# What v2 does with `ratio` in each mode (A3, A4 rule 6): text alone needs a concrete one; with a
# first or last frame it is forced to adaptive (another value is silently ignored); references take any.
RATIO_BY_MODE: dict[Mode, Literal["concrete", "adaptive", "any"]] = {
    "text_to_video": "concrete", "image_to_video": "adaptive", "first_last_frame": "adaptive", "reference": "any",
}
PROMPT_EXPANSIONS: tuple[str, ...] = ("disabled", "balanced", "quality")  # H3-Max extra.prompt_expansion_mode

# The optional shot fields only one API takes (every other field both video APIs take; a still's
# fields are manifest/merging.IMAGE_SHOT_FIELDS). A model may take more of its own
# (Model.own_fields: H3-Max's prompt_expansion).
API_FIELDS: dict[Api, frozenset[str]] = {
    "v1": frozenset({"prompt_optimizer", "fast_pretreatment"}),
    "v2": frozenset({"ratio"}),
    "image": frozenset({"prompt_optimizer", "aspect_ratio"}),
}


@dataclass(frozen=True)
class MediaLimits:
    """What the API takes of one kind of input file (minimax-api-v2.md A4 rules 8-10): formats
    by content, size, picture sides and shape, length (each, and all of the kind in one request),
    frame rate and codecs. None: no limit documented."""

    kind: Literal["image", "video", "audio"]
    formats: Mapping[str, str]  # format, as read from the content -> how a message names it
    max_bytes: int  # inclusive
    min_side: int | None = None  # px, each side
    max_side: int | None = None
    min_ratio: float | None = None  # width / height
    max_ratio: float | None = None
    min_seconds: float | None = None  # each file
    max_seconds: float | None = None
    max_total_seconds: float | None = None  # all the files of this kind in one request
    min_fps: float | None = None
    max_fps: float | None = None
    video_codecs: Mapping[str, str] = field(default_factory=dict)  # codec -> its name in messages
    audio_codecs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InputLimits:
    """What one request of an API generation may carry: its media files' limits, how many
    references of each kind and in all, and the whole body (with local files inlined as base64)."""

    media: Mapping[str, MediaLimits]  # kind ("image", "video", "audio") -> its limits
    max_references: Mapping[str, int]  # kind -> at most this many references of it
    max_references_total: int
    max_body_bytes: int


MB = 1024 * 1024  # as v1's "20 MB" (images.MAX_BYTES)
V2_INPUTS = InputLimits(
    media={
        "image": MediaLimits("image", {"jpeg": "JPG", "png": "PNG", "webp": "WebP", "heic": "HEIC", "heif": "HEIF"},
                             max_bytes=30 * MB, min_side=256, max_side=5760, min_ratio=0.4, max_ratio=2.5),
        "video": MediaLimits("video", {"mp4": "MP4", "mov": "MOV"}, max_bytes=50 * MB, min_side=256, max_side=5760,
                             min_ratio=0.4, max_ratio=2.5, min_seconds=2, max_seconds=15, max_total_seconds=15,
                             min_fps=23.976, max_fps=60, video_codecs={"h264": "H.264", "hevc": "H.265"},
                             audio_codecs={"aac": "AAC", "mp3": "MP3"}),
        "audio": MediaLimits("audio", {"wav": "WAV", "mp3": "MP3"}, max_bytes=15 * MB, min_seconds=2,
                             max_seconds=15, max_total_seconds=15),
    },
    max_references={"image": 9, "video": 3, "audio": 3},
    max_references_total=12,
    max_body_bytes=64 * MB,
)
# v1's input limits are its image rules in pipeline/minimax/images.py (shared with the simulator).
INPUT_LIMITS: dict[Api, InputLimits] = {"v2": V2_INPUTS}
# The image API's one input, a subject (character) reference: JPG or PNG under 10 MB (B1); no
# documented picture or body limits, so it is no InputLimits.
IMAGE_SUBJECT = MediaLimits("image", {f: V2_INPUTS.media["image"].formats[f] for f in imagespec.SUBJECT_FORMATS},
                            max_bytes=imagespec.SUBJECT_MAX_BYTES - 1)


@dataclass(frozen=True)
class Rates:
    """A per-second price (the v2 models, minimax-api-v2.md A8): the requested seconds of output
    at the resolution's rate, each input image (frames and references alike) past the free ones,
    and the reference videos' seconds (rounded up) at their own rate; reference audio is free."""

    per_second: Mapping[str, float]  # resolution -> USD per requested second of output
    free_images: int
    per_image: float  # USD for each image past the free ones
    reference_video_per_second: Mapping[str, float]  # resolution -> USD per second of reference video


@dataclass(frozen=True)
class Model:
    """One model: its modes, the duration x resolution pairs each mode allows, and prices. An
    image model (api "image") makes stills: its mode has no duration x resolution pairs, it has
    no default duration or resolution, and it is priced per still (`still_price`)."""

    name: str
    options: Mapping[Mode, Options]
    default_resolution: str | None
    default_duration: int | None = 6
    honours_camera: frozenset[Mode] = frozenset()
    # (resolution, duration) -> USD per video; a missing entry is an unknown price, never 0.
    prices: Mapping[tuple[str, int], float] = field(default_factory=dict)
    # The 01-series and S2V-01 reject (or ignore) explicit duration/resolution: omit both.
    sends_duration_resolution: bool = True
    fast_pretreatment: frozenset[Mode] = frozenset()
    api: Api = "v1"
    # v2: priced per second and per input (Rates) instead of per video (`prices`).
    rates: Rates | None = None
    prompt_max_chars: int = PROMPT_MAX_CHARS
    prompt_required: bool = False  # in every mode (v2); v1 needs one for text_to_video only
    own_fields: frozenset[str] = frozenset()  # optional fields beyond API_FIELDS[api]
    # Modes the official pages disagree on (minimax-api-v2.md A4 open point (a)): refused unless the
    # manifest sets this top-level switch to true.
    switched_modes: Mapping[Mode, str] = field(default_factory=dict)
    # False: the notes say nothing of camera commands for this model (neither that it follows them
    # nor that it does not); the prompt lint says "not documented" rather than "read as text".
    camera_documented: bool = True
    still_price: float | None = None  # USD per still (an image model); None for a video model

    @property
    def modes(self) -> tuple[Mode, ...]:
        return tuple(m for m in MODES if m in self.options)

    def allows(self, mode: Mode, resolution: str, duration: int) -> bool:
        return duration in self.options.get(mode, {}).get(resolution, ())

    def price(self, resolution: str, duration: int) -> float | None:
        """The price of a video at (resolution, duration); for a per-second model, of its output
        seconds alone (its inputs may add to it: see price_of)."""
        if self.rates is not None:
            rate = self.rates.per_second.get(resolution)
            return None if rate is None else round(rate * duration, 6)
        return self.prices.get((resolution, duration))

    def takes_field(self, name: str) -> bool:
        """Whether the model takes an optional field that only some models take (API_FIELDS, own_fields)."""
        return name in API_FIELDS[self.api] or name in self.own_fields


_HAILUO_PRICES = {("768P", 6): 0.28, ("768P", 10): 0.56, ("1080P", 6): 0.49}

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model(
            "MiniMax-Hailuo-2.3",
            {"text_to_video": HAILUO_23, "image_to_video": HAILUO_23},
            default_resolution="768P",
            honours_camera=frozenset({"text_to_video", "image_to_video"}),
            prices=_HAILUO_PRICES,
            fast_pretreatment=frozenset({"text_to_video", "image_to_video"}),
        ),
        Model(
            "MiniMax-Hailuo-2.3-Fast",
            {"image_to_video": HAILUO_23},
            default_resolution="768P",
            honours_camera=frozenset({"image_to_video"}),
            prices={("768P", 6): 0.19, ("768P", 10): 0.32, ("1080P", 6): 0.33},
            fast_pretreatment=frozenset({"image_to_video"}),
        ),
        Model(
            "MiniMax-Hailuo-02",
            {
                "text_to_video": HAILUO_23,
                "image_to_video": {"512P": (6, 10), **HAILUO_23},
                "first_last_frame": HAILUO_23,
            },
            default_resolution="768P",
            honours_camera=frozenset({"text_to_video", "image_to_video", "first_last_frame"}),
            prices={**_HAILUO_PRICES, ("512P", 6): 0.10, ("512P", 10): 0.15},
            fast_pretreatment=frozenset({"text_to_video", "image_to_video"}),
        ),
        Model("T2V-01-Director", {"text_to_video": ONE_SERIES}, "720P",
              honours_camera=frozenset({"text_to_video"}), sends_duration_resolution=False),
        Model("T2V-01", {"text_to_video": ONE_SERIES}, "720P", sends_duration_resolution=False),
        Model("I2V-01-Director", {"image_to_video": ONE_SERIES}, "720P",
              honours_camera=frozenset({"image_to_video"}), sends_duration_resolution=False),
        Model("I2V-01-live", {"image_to_video": ONE_SERIES}, "720P", sends_duration_resolution=False),
        Model("I2V-01", {"image_to_video": ONE_SERIES}, "720P", sends_duration_resolution=False),
        # S2V-01's duration and resolution are undocumented; the official guide still sends
        # 6 s / 1080P, so accept the common pairs at 6 s and omit them from our requests.
        Model("S2V-01", {"subject_reference": {"720P": (6,), "768P": (6,), "1080P": (6,)}}, "720P",
              sends_duration_resolution=False),
        # v2 (minimax-api-v2.md). Camera commands: the notes do not say whether H3 follows them.
        Model(
            "MiniMax-H3",
            {"text_to_video": H3, "image_to_video": H3, "first_last_frame": H3, "reference": H3},
            default_resolution="768P",
            api="v2",
            rates=Rates(per_second={"768P": 0.08, "2K": 0.13}, free_images=5, per_image=0.04,
                        reference_video_per_second={"768P": 0.08, "2K": 0.13}),
            prompt_max_chars=7000,
            prompt_required=True,
            camera_documented=False,
        ),
        Model(
            "MiniMax-H3-Max",
            {"text_to_video": H3_MAX, "image_to_video": H3_MAX, "first_last_frame": H3_MAX, "reference": H3_MAX},
            default_resolution="768P",
            api="v2",
            rates=Rates(per_second={"480P": 0.05, "768P": 0.08}, free_images=2, per_image=0.074,
                        reference_video_per_second={"480P": 0.0553, "768P": 0.143}),
            prompt_max_chars=7000,
            prompt_required=True,
            own_fields=frozenset({"prompt_expansion"}),
            switched_modes={"reference": "allow_h3_max_references"},
            camera_documented=False,
        ),
        # The image API (minimax-api-v2.md B1): a still, no duration or resolution (its size
        # follows aspect_ratio: imagespec.ASPECT_RATIOS). A still has no camera to move.
        *(Model(name, {"image": {}}, default_resolution=None, default_duration=None,
                sends_duration_resolution=False, api="image", prompt_max_chars=imagespec.PROMPT_MAX_CHARS,
                prompt_required=True, still_price=imagespec.PRICE_PER_IMAGE)
          for name in imagespec.MODELS),
    )
}

DEFAULT_MODEL: dict[Mode, str] = {
    "text_to_video": "MiniMax-Hailuo-02",
    "image_to_video": "MiniMax-Hailuo-02",
    "first_last_frame": "MiniMax-Hailuo-02",
    "subject_reference": "S2V-01",
    "reference": "MiniMax-H3",
    "image": imagespec.DEFAULT_MODEL,  # also when defaults: names a video model (merging.py: it cannot make a still)
}

# Top-level manifest switches for what the official pages disagree on (Model.switched_modes).
SWITCHES: dict[str, str] = {
    # minimax-api-v2.md A4 open point (a)
    "allow_h3_max_references": "the global API page says MiniMax-H3-Max takes no references, the mainland "
                               "(CN) page and the video guide say it does",
}


MODELS_BY_FOLDED: dict[str, Model] = {name.casefold(): m for name, m in MODELS.items()}


def api_of(model_name: str) -> Api:
    """Which API generation serves `model_name`; a model the catalogue does not know is sent to v1."""
    model = MODELS.get(model_name)
    return model.api if model is not None else "v1"


def api_modes(api: Api) -> frozenset[Mode]:
    """The modes some model of this API generation does (a model the catalogue does not know is
    sent to v1, so only v1's modes can work for it)."""
    return frozenset(mode for m in MODELS.values() if m.api == api for mode in m.options)


def models_for(mode: Mode) -> list[str]:
    """The known models that accept `mode`, in catalogue order."""
    return [name for name, m in MODELS.items() if mode in m.options]


PROMPT_MAX_CHARS_ANY = max(m.prompt_max_chars for m in MODELS.values())  # the schema's maxLength


def prompt_limit(model_name: str) -> int:
    """The most characters a prompt may have for `model_name` (a model the catalogue does not
    know is sent to v1: v1's limit)."""
    model = MODELS.get(model_name)
    return model.prompt_max_chars if model is not None else PROMPT_MAX_CHARS


def describe_durations(durations: tuple[int, ...]) -> str:
    """'6 or 10 s', '4 to 15 s' (a run of three or more whole seconds)."""
    if len(durations) >= 3 and list(durations) == list(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]} to {durations[-1]} s"
    return " or ".join(str(d) for d in durations) + " s"


def describe_options(options: Options) -> str:
    """'768P: 6 or 10 s; 1080P: 6 s', '768P: 4 to 15 s; 2K: 4 to 15 s' for error messages."""
    return "; ".join(f"{res}: {describe_durations(tuple(durs))}" for res, durs in options.items())


def usd(value: float) -> str:
    """'$0.28', '$0.125', '$3.00': cents always, more digits only when the figure has them."""
    text = f"{value:.2f}"
    if float(text) != value:
        text = f"{value:.6f}".rstrip("0")
    return "$" + text


@dataclass(frozen=True)
class Price:
    """What one video (one take) costs. `usd` None: not known (never counted as $0).
    `source`: where the figure comes from; `how`: a short human account of it."""

    usd: float | None
    source: Literal["catalogue", "manifest"] | None
    how: str


NO_PRICE_HINT = "add it under prices: in the manifest"


def price_of(shot: Any, prices: "ManifestPrices | None" = None) -> Price:
    """The price of one take of `shot` (anything with .model, .resolution and .duration; for a
    v2 model also its frames and references, and .reference_video_seconds): the catalogue's
    official price first (per image for an image model, per second and per input for v2, per
    video for v1), then the manifest's `prices:` (most specific entry: resolution and duration,
    then resolution, then the model), else unknown, saying why. Frames taken from other shots
    (FrameRefs) count as input images like files."""
    model_name, resolution, duration = shot.model, shot.resolution, shot.duration
    model = MODELS.get(model_name)
    if model is not None and model.still_price is not None:
        return Price(model.still_price, "catalogue", f"{usd(model.still_price)} per image (catalogue)")
    if model is not None and model.rates is not None:
        return _per_second_price(model, model.rates, shot)
    if model is not None and resolution is not None and duration is not None:
        official = model.price(resolution, duration)
        if official is not None:
            return Price(official, "catalogue", f"{usd(official)} per video (catalogue)")
    entry = prices.find(model_name, resolution, duration) if prices else None
    if entry is not None:
        where = f"manifest line {entry.line}" if entry.line else "manifest"
        if not entry.per_second:
            return Price(entry.usd, "manifest", f"{usd(entry.usd)} per video ({where})")
        if duration is None:
            return Price(None, None, f"no known price: {model_name} is priced per second ({where}) "
                                     "but the shot has no duration; set duration: on the shot")
        total = round(entry.usd * duration, 6)
        return Price(total, "manifest", f"{usd(entry.usd)}/s x {duration} s = {usd(total)} ({where})")
    declared = prices.for_model(model_name) if prices else []
    if declared:
        lines = ", ".join(str(e.line) for e in declared if e.line)
        at = f" (manifest line{'s' if ',' in lines else ''} {lines})" if lines else ""
        if resolution is None:
            missing = "the shot has no resolution to look up"
        else:
            missing = "not at " + " ".join([resolution, *([f"{duration} s"] if duration is not None else [])])
        return Price(None, None, f"no known price: prices: has {model_name}{at}, {missing}; {NO_PRICE_HINT}")
    return Price(None, None, f"no known price: {NO_PRICE_HINT}")


def _per_second_price(model: Model, rates: Rates, shot: Any) -> Price:
    """A v2 take's price from the catalogue's rates, and how it was computed: the requested seconds,
    the images past the free ones, the reference videos' seconds. A reference video whose length
    is not known (a URL) is priced at the most the API takes in all: the price is then an upper bound."""
    resolution, duration = shot.resolution, shot.duration
    rate = rates.per_second.get(resolution) if resolution is not None else None
    if rate is None or duration is None:
        missing = "the shot has no duration" if duration is None else f"it has no price at {resolution}"
        return Price(None, None, f"no known price: {model.name} is priced per second, but {missing}")
    parts, total, bound = [f"{usd(rate)}/s x {duration} s"], rate * duration, False
    images = (sum(getattr(shot, f, None) is not None for f in ("first_frame_image", "last_frame_image"))
              + len(getattr(shot, "reference_images", ())))
    paid = max(0, images - rates.free_images)
    if paid:
        total += paid * rates.per_image
        parts.append(f"{paid} image{'s' if paid > 1 else ''} past {rates.free_images} free x {usd(rates.per_image)}")
    videos = tuple(getattr(shot, "reference_videos", ()))
    if videos:
        video_rate = rates.reference_video_per_second[resolution]
        known = tuple(getattr(shot, "reference_video_seconds", ()))
        lengths = [known[i] if i < len(known) else None for i in range(len(videos))]
        seconds = math.ceil(round(sum(s for s in lengths if s is not None), 3))  # billed in whole seconds
        unknown = lengths.count(None)
        if unknown:
            bound = True
            cap = INPUT_LIMITS[model.api].media["video"].max_total_seconds or 0
            seconds = max(seconds, math.ceil(cap))
            by_url = f"{unknown} of unknown length" if unknown < len(videos) else "length unknown"
            parts.append(f"at most {seconds} s reference video ({by_url}) x {usd(video_rate)}/s")
        else:
            parts.append(f"{seconds} s reference video x {usd(video_rate)}/s")
        total += seconds * video_rate
    total = round(total, 6)
    return Price(total, "catalogue", " + ".join(parts) + f" = {'at most ' if bound else ''}{usd(total)} (catalogue)")


def expected_generation_seconds(model: str, resolution: str) -> float:
    """A rough generation time, for the first poll and the plan's wall-time estimate."""
    if resolution == "1080P":
        return 240.0
    if model.startswith(("T2V-01", "I2V-01", "S2V-01")):
        return 180.0
    return 120.0
