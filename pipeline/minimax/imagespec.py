"""What the image API is (minimax-api-v2.md part B1): `POST /v1/image_generation` with image-01.

Data shared by the manifest's checks, the client and the simulator, so that each rule of the
image API lives here once. Synchronous: the answer carries the images; v1-style errors in
`base_resp` (HTTP 200); not idempotent, so a create whose answer is lost is uncertain.
"""

from __future__ import annotations

PATH = "/v1/image_generation"
MODELS: tuple[str, ...] = ("image-01",)  # image-01-live (styles) is not offered: storyboards want the plain model
DEFAULT_MODEL = "image-01"
PROMPT_MAX_CHARS = 1500
N_MAX = 9  # images per request; shots asks for one per take

# aspect_ratio -> (width, height) of the still (B1); the API's default is 1:1.
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1280, 720),
    "4:3": (1152, 864),
    "3:2": (1248, 832),
    "2:3": (832, 1248),
    "3:4": (864, 1152),
    "9:16": (720, 1280),
    "21:9": (1344, 576),
}
DEFAULT_ASPECT_RATIO = "1:1"

PRICE_PER_IMAGE = 0.0035  # USD, image-01 (B1, pay-as-you-go page)
RPM = 10  # requests per minute [S]
SUBJECT_MAX_BYTES = 10 * 1024 * 1024  # a subject reference is JPG/JPEG/PNG under 10 MB
SUBJECT_FORMATS: tuple[str, ...] = ("jpeg", "png")  # images.sniff_format's names
TIMEOUT_SECONDS = 120.0  # a generous read timeout: a retry after a timeout bills again (B1)


def size_of(aspect_ratio: str | None) -> tuple[int, int]:
    """The still's pixel size for an aspect ratio (None: the API's default, 1:1)."""
    return ASPECT_RATIOS[aspect_ratio or DEFAULT_ASPECT_RATIO]
