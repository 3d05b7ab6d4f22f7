"""Seeded fault injection on the image routes (POST /v1/image_generation and its image URLs).

The dice are the v1 design (faults.py): one stream per fault, seeded by the simulator seed and
the fault's name, with streams of their own, so image traffic never shifts v1 or v2 faults.
"""

from __future__ import annotations

from typing import Mapping

from pipeline.sim.faults import FaultDice, check_faults, parse_faults

CREATE = frozenset({"image_generation"})
TRANSPORT = CREATE | {"image_download"}

# fault name -> the image endpoints it can strike, in the order the server tries them.
IMAGE_FAULTS: dict[str, frozenset[str]] = {
    "reset": TRANSPORT,  # connection closed with RST before the request is processed: nothing made
    "slow": TRANSPORT,  # answer delayed by SimConfig.slow_seconds (real seconds)
    "http_500": TRANSPORT,  # {"error":"internal server error"}: nothing made
    "http_502": TRANSPORT,  # a gateway's HTML page, not JSON: nothing made
    "http_503": TRANSPORT,
    "withhold": CREATE,  # the safety check withholds 1..n images: failed_count > 0, fewer images
    "drop_create": CREATE,  # the images are made and billed, then the connection is reset
    "truncate_download": frozenset({"image_download"}),  # half the body under the full Content-Length
}
HTTP_FAULTS = ("http_500", "http_502", "http_503")


def check_image_faults(faults: Mapping[str, float]) -> dict[str, float]:
    """A validated copy: known image fault names, probabilities in [0, 1]; ValueError names the problem."""
    return check_faults(faults, IMAGE_FAULTS, "image fault")


def parse_image_faults(text: str) -> dict[str, float]:
    """'withhold=0.2,drop_create=0.05' -> {...} (for an --image-faults option)."""
    return parse_faults(text, IMAGE_FAULTS, "image fault")


class ImageDice(FaultDice):
    """The image faults' dice: v1's kind, with streams of their own."""

    def __init__(self, faults: Mapping[str, float], seed: int) -> None:
        super().__init__(faults, seed, known=IMAGE_FAULTS, what="image fault", stream="imagefault")
