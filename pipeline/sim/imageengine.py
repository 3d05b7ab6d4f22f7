"""The image API's account state (minimax-api-v2.md B1): POST /v1/image_generation answered at
once with the stills, their signed URLs (24 h of simulated time), and its own rate limit.

Synchronous, as the API is: a request is checked, admitted, and its stills drawn (stills.py) and
written to the render folder before the answer. Errors are the v1 kind (codes.ApiError: HTTP
200, `base_resp`), with the v1 engine's key rules (1004, 2049) and balance (1008).

Takes: a client may say which shot and take a request is for (X-Shots-Shot / X-Shots-Take, as
for the videos); without that, the n-th identical request of a key is take n, unless the body
has a seed (the same seed and parameters make the same image). Image i of a request for n is
variation (take - 1) * n + i + 1: take 1's first image is the prompt as written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.sim import codes
from pipeline.sim.codes import ApiError
from pipeline.sim.config import RATE_WINDOW, SimConfig
from pipeline.sim.engine import LinkError, _shot_hint, _take_hint, redact, take_label, variation_seed
from pipeline.sim.imageconfig import ImageConfig
from pipeline.sim.imagevalidate import ImageRequest, validate_image
from pipeline.sim.ratelimit import Limiter, make_limiter
from pipeline.sim.stills import StillSpec, render_still
from pipeline.sim.validate import fingerprint, parse_body

IMAGE_PREFIX = "/image_output/"  # the stills' URLs: /image_output/<id>/<n>_aigc.jpeg?Expires=&Signature=


@dataclass(frozen=True)
class Generation:
    """One answered request: the stills made (and billed), and how many were withheld."""

    id: str
    key: str
    request: ImageRequest
    files: tuple[Path, ...]
    failed: int
    take: int
    labels: tuple[str, ...]
    created_at: float

    @property
    def billed(self) -> int:
        return len(self.files)


class ImageEngine:
    """The simulated image account state. Thread-safe."""

    def __init__(self, cfg: SimConfig, image: ImageConfig, *, folder: str | Path,
                 authenticate: Callable[[str | None], str], also_valid: tuple[str, ...] = (),
                 now: Callable[[], float] = time.time, roll: Callable[[str], bool] = lambda name: False) -> None:
        """`folder`: where the stills are written (the render folder); `authenticate`: the v1
        engine's (1004/2049); `also_valid`: keys it does not know that may make images (v2's
        Token-Plan keys); `roll`: the image fault dice."""
        self.cfg, self.image = cfg, image
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.now = now
        self._authenticate, self._also_valid, self._roll = authenticate, frozenset(also_valid), roll
        self._lock = threading.Lock()
        # As the video engines: seeded ids, unless a state folder says runs follow one another
        # (then fresh ones, so that no two runs hand out the same id).
        self._ids = random.Random(f"{cfg.seed}:imageids" if cfg.state_dir is None else secrets.randbits(128))
        self._withheld = random.Random(f"{cfg.seed}:imagewithheld")
        self._secret = secrets.token_bytes(16)  # signs image URLs; a new simulator's URLs differ
        self._limiters: dict[str, Limiter] = {}
        self._repeats: dict[tuple[str, str], int] = {}
        self._made: dict[str, Generation] = {}

    # --- generate --------------------------------------------------------------------------

    def authenticate(self, key: str | None) -> str:
        if key and key in self._also_valid:
            return key
        return self._authenticate(key)

    def generate(self, key: str | None, raw: bytes, *, shot: str | None = None, take: str | None = None) -> Generation:
        """Make the stills of a request body, or raise the ApiError the API would answer."""
        key = self.authenticate(key)
        if key in self.cfg.no_balance_keys:
            raise ApiError(codes.NO_BALANCE)
        body = parse_body(raw)
        request = validate_image(body, self.image.precedence)
        lowered = request.prompt.lower()
        if any(word.lower() in lowered for word in self.cfg.sensitive_words if word):
            raise ApiError(codes.INPUT_SENSITIVE)
        body_hash = fingerprint(body)
        told = _take_hint(take)
        with self._lock:
            now = self.now()
            self._admit(key, now)
            repeat = self._repeats[(key, body_hash)] = self._repeats.get((key, body_hash), 0) + 1
            number = told or (1 if request.seed is not None else repeat)
            image_id = self._new_id()
            withheld = self._withheld.randint(1, request.n) if self._roll("withhold") else 0
        seed, n = variation_seed(self.cfg.seed, body_hash), request.n
        labels = tuple(_label(_shot_hint(shot), number, told is not None, i, n) for i in range(n))
        files = []
        for i in range(n - withheld):
            spec = StillSpec(request.prompt, request.width, request.height, number=(number - 1) * n + i + 1, seed=seed,
                             label=labels[i], subject=request.subject, watermark=request.aigc_watermark,
                             style=request.style[0] if request.style else None)
            path = self.folder / f"image-{image_id}-{i + 1}.jpeg"
            path.write_bytes(render_still(spec))
            files.append(path)
        made = Generation(image_id, key, request, tuple(files), withheld, number, labels, now)
        with self._lock:
            self._made[image_id] = made
        return made

    def _admit(self, key: str, now: float) -> None:
        """Spend one request of the key's image budget, or 1002 (spending nothing). Under the lock."""
        if self.image.rpm is None:
            return
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = make_limiter(self.cfg.rate_limiter, self.image.rpm,
                                                         self.cfg.scaled(RATE_WINDOW))
        if not limiter.allow(now):
            raise ApiError(codes.RATE_LIMITED)
        limiter.take(now)

    def _new_id(self) -> str:
        while True:
            image_id = f"{self._ids.getrandbits(128):032x}"
            if image_id not in self._made:
                return image_id

    # --- the answer and the URLs -----------------------------------------------------------

    def answer(self, made: Generation, base_url: str) -> dict[str, Any]:
        """The B1 answer: the images as URLs or Base64, the counts as strings (or integers)."""
        if made.request.response_format == "base64":
            data: dict[str, Any] = {"image_base64": [base64.b64encode(p.read_bytes()).decode("ascii")
                                                     for p in made.files]}
        else:
            expires = int(self.now() + self.cfg.scaled(self.image.url_ttl))
            data = {"image_urls": [f"{base_url}{IMAGE_PREFIX}{made.id}/{i + 1}_aigc.jpeg?Expires={expires}"
                                   f"&Signature={self._sign(made.id, i + 1, expires)}" for i in range(made.billed)]}
        count = str if self.image.counts == "string" else int
        return {"id": made.id, "data": data,
                "metadata": {"success_count": count(made.billed), "failed_count": count(made.failed)},
                "base_resp": codes.base_resp()}

    def _sign(self, image_id: str, number: int, expires: int) -> str:
        return hmac.new(self._secret, f"{image_id}:{number}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def download(self, path: str, params: Mapping[str, str]) -> Path:
        """The still an image URL points to; LinkError 404 (no such image) or 403 (expired, bad signature)."""
        image_id, _, name = path[len(IMAGE_PREFIX):].partition("/")
        number_text, _, tail = name.partition("_")
        with self._lock:
            made = self._made.get(image_id)
        number = int(number_text) if number_text.isascii() and number_text.isdigit() else 0
        if made is None or tail != "aigc.jpeg" or not 1 <= number <= made.billed:
            raise LinkError(404, "The specified key does not exist.")
        expires = params.get("Expires", "")
        if not expires.lstrip("-").isdigit() or not hmac.compare_digest(
                self._sign(image_id, number, int(expires)), params.get("Signature", "")):
            raise LinkError(403, "The request signature we calculated does not match the signature you provided.")
        if self.now() >= int(expires):
            raise LinkError(403, "Request has expired")
        return made.files[number - 1]

    # --- introspection ---------------------------------------------------------------------

    def generations(self) -> list[dict[str, Any]]:
        """Every answered request, in order (keys redacted): GET /_sim/images."""
        with self._lock:
            made = list(self._made.values())
        return [{"id": m.id, "key": redact(m.key), "model": m.request.model, "width": m.request.width,
                 "height": m.request.height, "n": m.request.n, "success_count": m.billed, "failed_count": m.failed,
                 "response_format": m.request.response_format, "take": m.take, "labels": list(m.labels),
                 "created_at": m.created_at} for m in made]


def _label(shot: str | None, take: int, told: bool, index: int, n: int) -> str:
    """The still's corner: "kf-01 · take 2" (its number too in a request for several), none without a shot."""
    if not shot:
        return ""
    label = take_label(shot, take, told, None)  # with a shot, take_label reads nothing else
    return label if n == 1 else f"{label} · {index + 1}/{n}"
