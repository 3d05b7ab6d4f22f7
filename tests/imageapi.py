"""For the image simulator tests: a client for POST /v1/image_generation written from
minimax-api-v2.md part B1 alone (not from pipeline.minimax or pipeline.sim).

It posts a body, reads `base_resp`, and decodes the images whichever way they come (URLs to
fetch, or Base64), the counts whichever type they have (the example's strings, the schema's
integers): an independent check of the simulator, and through it of our production client.
"""

from __future__ import annotations

import base64
import io
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

PATH = "/v1/image_generation"
KEY = "sim-key"
_TLS = ssl.create_default_context()  # loaded once (a new httpx.Client would load it again)


@dataclass
class Answer:
    """What one request answered, as a client reads it."""

    http_status: int
    code: int  # base_resp.status_code: 0 ok; 1002, 1004, 1008, 1026, 2013, 2049 ...
    message: str
    id: str = ""
    urls: list[str] = field(default_factory=list)
    base64: list[str] = field(default_factory=list)
    success: int | None = None
    failed: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == 0


class ImageApi:
    """POST /v1/image_generation with a Bearer key; images fetched from their URLs on demand."""

    def __init__(self, base_url: str, key: str | None = KEY) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60, verify=_TLS)

    def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """The raw answer (a body that is not a dict is sent as given, for the bad-body tests)."""
        if isinstance(body, (bytes, str)):
            return self.http.post(PATH, content=body, headers={"Content-Type": "application/json", **(headers or {})})
        return self.http.post(PATH, json=body, headers=headers)

    def generate(self, body: Any, headers: dict[str, str] | None = None) -> Answer:
        return read(self.post(body, headers))

    def images(self, answer: Answer) -> list[bytes]:
        """The image files of a successful answer: the URLs fetched, or the Base64 decoded."""
        if answer.base64:
            return [base64.b64decode(b, validate=True) for b in answer.base64]
        out = []
        for url in answer.urls:
            got = self.http.get(url)  # the URL is absolute; the key is not needed, but harmless
            assert got.status_code == 200, (got.status_code, got.text[:200])
            out.append(got.content)
        return out

    def close(self) -> None:
        self.http.close()


def read(response: httpx.Response) -> Answer:
    """An Answer from an HTTP 200 JSON answer; every code is in base_resp (B1)."""
    body = response.json()
    base = body["base_resp"]
    answer = Answer(response.status_code, int(base["status_code"]), str(base.get("status_msg", "")),
                    str(body.get("id") or ""), raw=body)
    data = body.get("data") or {}
    answer.urls = list(data.get("image_urls") or [])
    answer.base64 = list(data.get("image_base64") or [])
    metadata = body.get("metadata") or {}
    if "success_count" in metadata:
        answer.success, answer.failed = count(metadata["success_count"]), count(metadata.get("failed_count", 0))
    return answer


def count(value: Any) -> int:
    """A count as the example shows it ("2") or as the schema types it (2)."""
    if isinstance(value, bool):
        raise TypeError(f"a count is not a boolean: {value!r}")
    return int(value)


def picture(data: bytes) -> Image.Image:
    """A decoded image (JPEG expected), loaded."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def body(prompt: str = "A lighthouse on a cliff at dusk, red lantern light", **over: Any) -> dict[str, Any]:
    """A minimal image-01 body (B1)."""
    return {"model": "image-01", "prompt": prompt, **over}


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
