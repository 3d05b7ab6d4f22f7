"""The manifest's typed models: the `Shot` the runner sees, with defaults merged and the
catalogue's values filled in, the checked `Manifest` with its `Problem`s, and its prices. Here,
not in checker.py, so that a cached manifest can be rebuilt without loading the YAML reader and
the schema validator. The document as written is described once, by the JSON Schema
(schemas/manifest.schema.json); schemacheck.py reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict

from pipeline.manifest import lint

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "manifest.schema.json"
MAX_FILE_BYTES = 50_000_000  # a manifest's size; 100,000 shots (bench/scale.py) are 14 MB

ModeName = Literal["text_to_video", "image_to_video", "first_last_frame", "subject_reference", "reference", "image"]
IMAGE_MODE = "image"  # a still from the image API (image-01): a keyframe other shots may start from
Resolution = Literal["480P", "512P", "720P", "768P", "1080P", "2K"]

IMAGE_FIELDS = ("first_frame_image", "last_frame_image", "subject_image")
# The `reference` mode's inputs (v2) -> the kind of media each lists.
REFERENCE_FIELDS = {"reference_images": "image", "reference_videos": "video", "reference_audio": "audio"}
# Shot fields the checker fills in from what it read, never written in a manifest.
DERIVED_FIELDS = ("line", "reference_video_seconds")
FLAG_FIELDS = ("prompt_optimizer", "fast_pretreatment", "aigc_watermark")
DURATION_MAX = 9999  # seconds: far beyond any model's (10 s); bounds a typo or a hostile number
USD_MAX = 10_000  # a price per video or per second of video
DURATION_KEY_PATTERN = r"^[1-9][0-9]{0,3}$"  # a duration in whole seconds (1 to DURATION_MAX), as a mapping key


class Settings(BaseModel):
    """Run settings from the manifest; None where the manifest does not set one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rpm: Optional[int] = None
    concurrency: Optional[int] = None
    poll_interval: Optional[float] = None
    max_cost: Optional[float] = None


FrameName = Literal["first", "last"]


class FrameRef(BaseModel):
    """An image input that is another shot's output instead of a file: `{shot: s01, frame: last}`.

    `frame` is which frame of a video shot: "first", "last" or a time in seconds (None: "last");
    an image shot's still is used whole and takes no `frame`. `take` is the upstream take (None:
    the upstream shot's pick, else take 1; see `upstream_take`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shot: str
    frame: Union[FrameName, float, None] = None
    take: Optional[int] = None

    @property
    def selector(self) -> str:
        """The frame as a name part: 'last', 'first', '2.5s' (an image shot's still: 'still')."""
        if self.frame is None:
            return "last"
        if isinstance(self.frame, str):
            return self.frame
        return f"{self.frame:g}s"

    def describe(self, upstream_is_still: bool = False) -> str:
        """How messages name the input: 'the last frame of s01', 'kf-01's still', '... take 2'."""
        take = f" take {self.take}" if self.take not in (None, 1) else ""
        if upstream_is_still:
            return f"the still of {self.shot}{take}"
        if isinstance(self.frame, (int, float)) and not isinstance(self.frame, bool):
            return f"the frame at {self.frame:g} s of {self.shot}{take}"
        return f"the {self.selector} frame of {self.shot}{take}"


ImageInput = Union[str, FrameRef]  # a path or URL as written, or another shot's output
ReviewStatus = Literal["approved", "redo"]
REVIEW_STATUSES: tuple[str, ...] = ("approved", "redo")


class Shot(BaseModel):
    """One checked shot: defaults merged, model filled in, and duration and resolution too when
    the catalogue knows the model. `line` is where the shot starts in the manifest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    mode: ModeName
    model: str
    prompt: Optional[str] = None
    duration: Optional[int] = None
    resolution: Optional[str] = None
    first_frame_image: Optional[ImageInput] = None
    last_frame_image: Optional[ImageInput] = None
    subject_image: Optional[ImageInput] = None
    # v2 (MiniMax-H3): the picture's shape, H3-Max's prompt expansion, and the `reference` mode's inputs
    ratio: Optional[str] = None
    prompt_expansion: Optional[str] = None
    reference_images: tuple[ImageInput, ...] = ()
    reference_videos: tuple[str, ...] = ()
    reference_audio: tuple[str, ...] = ()
    # Each reference video's length in seconds as the check probed it (None: a URL, not known);
    # filled in by the checker for the price (reference video is billed by the second).
    reference_video_seconds: tuple[Optional[float], ...] = ()
    aspect_ratio: Optional[str] = None  # an image shot's (image-01): '16:9'; the API's default is 1:1
    prompt_optimizer: Optional[bool] = None
    fast_pretreatment: Optional[bool] = None
    aigc_watermark: Optional[bool] = None
    callback_url: Optional[str] = None
    takes: int = 1
    notes: Optional[str] = None
    tags: tuple[str, ...] = ()
    # Review decisions (issue 17): the take that represents the shot (None: take 1; read it through
    # `picked_take`) and approved / redo. People's, like notes: never in a request or a fingerprint.
    pick: Optional[int] = None
    status: Optional[ReviewStatus] = None
    line: int = 0

    @property
    def is_still(self) -> bool:
        """An image shot: its takes are stills from the image API, not videos."""
        return self.mode == IMAGE_MODE

    def images(self) -> dict[str, str]:
        """The image fields this shot sets to a file or URL: field name -> path or URL, as
        written (another shot's output, a FrameRef, is in `frame_refs`)."""
        return {f: v for f in IMAGE_FIELDS if isinstance(v := getattr(self, f), str)}

    def media(self) -> list[tuple[str, str]]:
        """Every input file the shot names, images and references: (field, path or URL), as
        written; a reference list's items as 'reference_images[0]', ... (FrameRefs left out)."""
        out = list(self.images().items())
        for f in REFERENCE_FIELDS:
            out += [(f"{f}[{i}]", value) for i, value in enumerate(getattr(self, f)) if isinstance(value, str)]
        return out

    def frame_refs(self) -> tuple[tuple[str, FrameRef], ...]:
        """The inputs that are other shots' outputs: (field, FrameRef), a list's items as
        'reference_images[0]', in the order the shot's fields are sent."""
        out = [(f, v) for f in IMAGE_FIELDS if isinstance(v := getattr(self, f), FrameRef)]
        out += [(f"reference_images[{i}]", v) for i, v in enumerate(self.reference_images) if isinstance(v, FrameRef)]
        return tuple(out)


def picked_take(shot: Shot) -> int:
    """The take that represents a shot: its `pick:`, else take 1. THE rule: the cut, the contact
    sheet, the lock file, the export and finals read it, and so does an input that names the shot
    without a take (`upstream_take`)."""
    return shot.pick if shot.pick is not None else 1


def upstream_take(ref: FrameRef, upstream: Shot | None = None) -> int:
    """Which take of the upstream shot a reference means: the one it names, else the upstream's
    pick, else take 1. A caller that does not know the upstream Shot gets take 1 for a reference
    that names none: pass the upstream wherever it is at hand."""
    if ref.take is not None:
        return ref.take
    return picked_take(upstream) if upstream is not None else 1


class PriceEntry(BaseModel):
    """One price declared under `prices:`: for `model`, at `resolution` and `duration` (None: any),
    `usd` per video, or per second of output video when `per_second`. `line` is where the
    number is written, so that an estimate can cite it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    resolution: Optional[str] = None
    duration: Optional[int] = None
    usd: float
    per_second: bool = False
    line: int = 0

    @property
    def specificity(self) -> int:
        """2: resolution and duration, 1: resolution, 0: any video of the model."""
        return (self.resolution is not None) + (self.duration is not None)

    def matches(self, model: str, resolution: str | None, duration: int | None) -> bool:
        """Whether this entry prices a video of `model` at `resolution` and `duration`. A video whose
        resolution (or duration) is not known matches only entries that name none."""
        return (self.model == model
                and (self.resolution is None or self.resolution == resolution)
                and (self.duration is None or self.duration == duration))


class ManifestPrices(BaseModel):
    """The manifest's `prices:`, one entry per price written; empty when there is no `prices:`.
    They apply only where the catalogue has no price (see catalogue.price_of)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: tuple[PriceEntry, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entries)

    def models(self) -> list[str]:
        """The models that have a declared price, in the order written."""
        return list(dict.fromkeys(e.model for e in self.entries))

    def for_model(self, model: str) -> list[PriceEntry]:
        return [e for e in self.entries if e.model == model]

    def find(self, model: str, resolution: str | None, duration: int | None) -> PriceEntry | None:
        """The most specific entry that prices this video (resolution and duration, then
        resolution, then the model), or None."""
        best = None
        for e in self.entries:
            if e.matches(model, resolution, duration) and (best is None or e.specificity > best.specificity):
                best = e
        return best


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One error or warning, at a place in the file; str() is the one-line form the CLI prints."""

    file: str
    line: int
    col: int
    message: str
    severity: Severity = "error"
    shot: str | None = None  # the shot's id, when the problem is inside a shot that has one
    field: str | None = None  # dotted path: 'resolution' in a shot, 'defaults.model', 'name'

    def __str__(self) -> str:
        where = ""
        if self.shot is not None:
            where = f"shot '{lint.show(self.shot)}' "
        if self.field is not None:
            where += f"field '{lint.show(self.field)}' "
        if where:
            where = where.rstrip() + ": "
        warn = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {warn}{where}{self.message}"

    def to_json(self) -> dict:
        return {
            "file": self.file, "line": self.line, "col": self.col, "severity": self.severity,
            "shot": self.shot, "field": self.field, "message": self.message, "text": str(self),
        }


@dataclass(frozen=True)
class Manifest:
    """A valid manifest: shots with defaults merged and model, duration and resolution filled in."""

    path: Path
    dir: Path
    version: int
    name: str
    shots: list[Shot]
    settings: Settings
    warnings: list[Problem] = dc_field(default_factory=list)
    defaults: dict = dc_field(default_factory=dict)
    prices: ManifestPrices = dc_field(default_factory=ManifestPrices)
    # Where each top-level key the manifest writes has its value, (line, col): 'max_cost' -> (9, 11);
    # a mapping or list value ('prices', 'defaults', 'shots') is placed at its key.
    setting_positions: dict[str, tuple[int, int]] = dc_field(default_factory=dict)
    # The top-level switches set to true (catalogue.SWITCHES): 'allow_h3_max_references'.
    switches: frozenset[str] = frozenset()

    @property
    def setting_lines(self) -> dict[str, int]:
        """Line of each top-level key the manifest writes: {'max_cost': 9, ...}."""
        return {k: line for k, (line, _) in self.setting_positions.items()}

    def where(self, setting: str) -> str | None:
        """'manifests/example.yaml:9:11' for a top-level key the manifest writes (e.g. 'max_cost'),
        the file as this manifest was loaded by; None when the manifest does not set it."""
        at = self.setting_positions.get(setting)
        return None if at is None else f"{self.path}:{at[0]}:{at[1]}"

    def shot(self, shot_id: str) -> Shot:
        """The shot with this id; KeyError if there is none."""
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)
