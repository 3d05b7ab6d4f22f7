"""The model catalogue: which model does which mode, at which duration x resolution, for what price.

Data, not if-chains: the manifest validator, the simulator and the cost estimate all read
these tables, so a model rule lives in exactly one place (source: minimax-api.md 2.2, 4, 7.4).
`price_of` is the one answer to "what does this video cost": the catalogue's official price,
else a price the manifest declares under `prices:`, else unknown (never $0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

if TYPE_CHECKING:
    from pipeline.manifest.models import ManifestPrices

Mode = Literal["text_to_video", "image_to_video", "first_last_frame", "subject_reference"]
MODES: tuple[Mode, ...] = ("text_to_video", "image_to_video", "first_last_frame", "subject_reference")

# resolution -> allowed durations (seconds)
Options = Mapping[str, tuple[int, ...]]

HAILUO_23: Options = {"768P": (6, 10), "1080P": (6,)}
ONE_SERIES: Options = {"720P": (6,)}

PROMPT_MAX_CHARS = 2000

# Output pixel sizes by resolution (768P is 1366x768 and 1080P 1920x1080 as observed;
# 512P is undocumented, 912x512 keeps 16:9).
RESOLUTION_SIZES: dict[str, tuple[int, int]] = {
    "512P": (912, 512),
    "720P": (1280, 720),
    "768P": (1366, 768),
    "1080P": (1920, 1080),
}


@dataclass(frozen=True)
class Model:
    """One model: its modes, the duration x resolution pairs each mode allows, and prices."""

    name: str
    options: Mapping[Mode, Options]
    default_resolution: str
    default_duration: int = 6
    honours_camera: frozenset[Mode] = frozenset()
    # (resolution, duration) -> USD per video; a missing entry is an unknown price, never 0.
    prices: Mapping[tuple[str, int], float] = field(default_factory=dict)
    # The 01-series and S2V-01 reject (or ignore) explicit duration/resolution: omit both.
    sends_duration_resolution: bool = True
    fast_pretreatment: frozenset[Mode] = frozenset()

    @property
    def modes(self) -> tuple[Mode, ...]:
        return tuple(m for m in MODES if m in self.options)

    def allows(self, mode: Mode, resolution: str, duration: int) -> bool:
        return duration in self.options.get(mode, {}).get(resolution, ())

    def price(self, resolution: str, duration: int) -> float | None:
        return self.prices.get((resolution, duration))


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
    )
}

DEFAULT_MODEL: dict[Mode, str] = {
    "text_to_video": "MiniMax-Hailuo-02",
    "image_to_video": "MiniMax-Hailuo-02",
    "first_last_frame": "MiniMax-Hailuo-02",
    "subject_reference": "S2V-01",
}


def models_for(mode: Mode) -> list[str]:
    """The known models that accept `mode`, in catalogue order."""
    return [name for name, m in MODELS.items() if mode in m.options]


def describe_options(options: Options) -> str:
    """'768P: 6 or 10 s; 1080P: 6 s' for error messages."""
    parts = []
    for res, durs in options.items():
        parts.append(f"{res}: {' or '.join(str(d) for d in durs)} s")
    return "; ".join(parts)


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
    """The price of one video of `shot` (anything with .model, .resolution and .duration):
    the catalogue's official price first, then the manifest's `prices:` (most specific entry:
    resolution and duration, then resolution, then the model), else unknown, saying why."""
    model_name, resolution, duration = shot.model, shot.resolution, shot.duration
    model = MODELS.get(model_name)
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


def expected_generation_seconds(model: str, resolution: str) -> float:
    """A rough generation time, for the first poll and the plan's wall-time estimate."""
    if resolution == "1080P":
        return 240.0
    if model.startswith(("T2V-01", "I2V-01", "S2V-01")):
        return 180.0
    return 120.0
