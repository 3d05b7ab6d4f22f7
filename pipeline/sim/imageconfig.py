"""The image API simulator's switches (minimax-api-v2.md part B1): its open points as settings,
and the `shots sim` options that build them.

Durations are simulated seconds, turned into real ones by SimConfig.time_scale like the others.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal, Mapping

from pipeline.errors import InputError
from pipeline.minimax import imagespec
from pipeline.sim.imagefaults import IMAGE_FAULTS, check_image_faults, parse_image_faults

PRECEDENCE = ("aspect_ratio", "width_height")
COUNTS = ("string", "integer")
DAY = 24 * 3600.0


@dataclass(frozen=True)
class ImageConfig:
    """Every image-API behaviour the notes leave open, with the default they state."""

    rpm: int | None = imagespec.RPM  # image requests per (scaled) minute per key; over it -> 1002; None = no limit
    # Both aspect_ratio and width/height given: the doc says aspect_ratio wins; some clients
    # assume the opposite [C].
    precedence: Literal["aspect_ratio", "width_height"] = "aspect_ratio"
    # metadata.success_count / failed_count: strings, as the official example shows, or integers,
    # as the schema types them.
    counts: Literal["string", "integer"] = "string"
    url_ttl: float = DAY  # image URLs are valid for 24 h
    faults: Mapping[str, float] = field(default_factory=dict)  # imagefaults names -> probability

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", check_image_faults(self.faults))
        rpm = self.rpm
        if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1):
            raise ValueError(f"image rpm must be a whole number >= 1 or None, not {rpm!r}")
        for name, allowed in (("precedence", PRECEDENCE), ("counts", COUNTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"image {name} must be one of {allowed}, not {getattr(self, name)!r}")
        if not self.url_ttl > 0:
            raise ValueError(f"image url_ttl must be > 0 seconds, not {self.url_ttl}")


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    """The image options of `shots sim`; `image_config_from_args` turns them into an ImageConfig."""
    d = ImageConfig()
    add = parser.add_argument
    add("--image-rpm", type=int, default=d.rpm, metavar="N",
        help="image generation requests per minute per key before 1002 'rate limit exceeded(RPM)'; "
             "0 = no limit (default: %(default)s)")
    add("--image-precedence", choices=PRECEDENCE, default=d.precedence,
        help="an image request with both aspect_ratio and width/height: which one sets the size (the "
             "docs say aspect_ratio; some clients assume the opposite) (default: %(default)s)")
    add("--image-counts", choices=COUNTS, default=d.counts,
        help="type of metadata.success_count and failed_count: 'string' as the official example shows, "
             "'integer' as the schema says (default: %(default)s)")
    add("--image-url-ttl", type=float, default=d.url_ttl, metavar="S",
        help="image URL lifetime in simulated seconds (default: %(default)g, 24 h)")
    add("--image-faults", default="", metavar="NAME=P,...",
        help=f"image fault probabilities, e.g. withhold=0.2,drop_create=0.05; names: {', '.join(IMAGE_FAULTS)} "
             f"(default: none)")


def image_config_from_args(args: argparse.Namespace) -> ImageConfig:
    """An ImageConfig from `add_image_arguments` options; InputError says which option is wrong."""
    try:
        return ImageConfig(
            rpm=args.image_rpm or None,
            precedence=args.image_precedence,
            counts=args.image_counts,
            url_ttl=args.image_url_ttl,
            faults=parse_image_faults(args.image_faults),
        )
    except ValueError as exc:
        raise InputError(f"shots sim: {exc}") from exc
