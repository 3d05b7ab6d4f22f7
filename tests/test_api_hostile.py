"""The real client against a hostile server over loopback: cut, lying, slow and encoded downloads,
and 200 answers whose JSON is not what the API documents. Each must end in the client's error
tree (pipeline/minimax/client.py's docstring), never in a half file kept or a traceback.

The simulator answers correctly by design, so a tiny stdlib server here sends the bad bytes.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import time
import zlib
from contextlib import asynccontextmanager
from typing import Callable

import httpx
import pytest

from hostile import Handler, Hostile
from pipeline.minimax import client as api
from pipeline.minimax.client import (
    DownloadError,
    MalformedAnswerError,
    MiniMaxClient,
    RateLimitError,
    TransientError,
    UncertainCreateError,
)

KEY = "hostile-key"
VIDEO = bytes(range(256)) * 512  # 128 KiB: what the file really is
HALF = len(VIDEO) // 2
QUERY = "/v1/query/video_generation"
RETRIEVE = "/v1/files/retrieve"
CREATE = "/v1/video_generation"


@pytest.fixture(scope="module")
def _hostile_server():
    server = Hostile()
    yield server
    server.close()


@pytest.fixture
def hostile(_hostile_server):
    """The module's server with no routes and nothing seen (one server: starting one costs ~50 ms)."""
    _hostile_server.routes.clear()
    _hostile_server.seen.clear()
    return _hostile_server


def run(coro):
    return asyncio.run(coro)


_TLS = ssl.create_default_context()  # never used on loopback http, but a fresh one costs ~80 ms


@asynccontextmanager
async def _client(server: Hostile, **settings):
    """The real MiniMaxClient; only its httpx client is handed in, to skip loading certificates."""
    async with httpx.AsyncClient(verify=_TLS) as http:
        yield MiniMaxClient(api_key=KEY, base_url=server.base_url, http=http, **settings)


async def _download(server: Hostile, tmp_path, **kwargs):
    async with _client(server, **kwargs.pop("client", {})) as client:
        return await client.download(f"{server.base_url}/file.mp4", tmp_path / "out.mp4", **kwargs)


async def _call(server: Hostile, method: str, *args):
    async with _client(server) as client:
        return await getattr(client, method)(*args)


def _ok(**fields) -> dict:
    return {**fields, "base_resp": {"status_code": 0, "status_msg": "success"}}


# -- downloads: a half file must never pass for the whole ---------------------------------------

def _close_delimited_half(h: Handler) -> None:
    """HTTP/1.0 style: no Content-Length, the end of the body is the end of the connection."""
    h.close_connection = True
    h.raw(b"HTTP/1.0 200 OK\r\nContent-Type: video/mp4\r\n\r\n" + VIDEO[:HALF])


def _chunked_cut(h: Handler) -> None:
    """Chunked, and the connection closes before the terminating zero-size chunk."""
    h.close_connection = True
    h.raw(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\n\r\n")
    h.raw(f"{HALF:x}\r\n".encode() + VIDEO[:HALF] + b"\r\n")


def _content_length_lies_low(h: Handler) -> None:
    """Announces half the file and sends exactly that: HTTP itself sees nothing wrong."""
    h.raw(f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {HALF}\r\n\r\n".encode() + VIDEO[:HALF])


def _whole(h: Handler) -> None:
    h.raw(f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(VIDEO)}\r\n\r\n".encode() + VIDEO)


@pytest.mark.parametrize("answer", [_close_delimited_half, _chunked_cut, _content_length_lies_low],
                         ids=["close-delimited", "chunked-cut", "content-length-low"])
def test_a_half_download_differs_from_the_announced_size_and_is_transient(hostile, tmp_path, answer):
    hostile.routes["/file.mp4"] = answer
    with pytest.raises(DownloadError, match=f"{HALF} of {len(VIDEO)} bytes|interrupted") as caught:
        run(_download(hostile, tmp_path, expected_bytes=len(VIDEO)))
    assert isinstance(caught.value, TransientError)  # the runner retries through a fresh URL


def test_a_chunked_body_cut_before_its_last_chunk_is_an_error_even_with_no_announced_size(hostile, tmp_path):
    hostile.routes["/file.mp4"] = _chunked_cut
    with pytest.raises(DownloadError, match="interrupted"):
        run(_download(hostile, tmp_path))


@pytest.mark.parametrize("expected", [len(VIDEO), None, 0], ids=["announced", "none", "zero-is-unknown"])
def test_a_whole_download_matches_the_announced_size(hostile, tmp_path, expected):
    hostile.routes["/file.mp4"] = _whole
    got = run(_download(hostile, tmp_path, expected_bytes=expected))
    assert got.bytes == len(VIDEO) and (tmp_path / "out.mp4").read_bytes() == VIDEO


def test_a_download_larger_than_announced_is_refused_too(hostile, tmp_path):
    hostile.routes["/file.mp4"] = _whole
    with pytest.raises(DownloadError, match=f"{len(VIDEO)} of {HALF} bytes"):
        run(_download(hostile, tmp_path, expected_bytes=HALF))


# -- downloads: too slow ------------------------------------------------------------------------

def _dribble(server: Hostile) -> Callable[[Handler], None]:
    def answer(h: Handler) -> None:
        h.raw(f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(VIDEO)}\r\n\r\n".encode())
        for byte in VIDEO[:200]:  # a byte every 20 ms: each read is quick, the whole would take 45 min
            if server.stop.wait(0.02):
                return
            h.raw(bytes([byte]))
    return answer


def test_a_download_slower_than_its_deadline_fails_as_transient(hostile, tmp_path):
    hostile.routes["/file.mp4"] = _dribble(hostile)
    sizes: list[int | None] = []

    def deadline(size: int | None) -> float:
        sizes.append(size)
        return 0.3

    began = time.monotonic()
    with pytest.raises(DownloadError, match="deadline") as caught:
        run(_download(hostile, tmp_path, expected_bytes=len(VIDEO), client={"download_deadline": deadline}))
    assert isinstance(caught.value, TransientError)
    assert sizes == [len(VIDEO)]  # the deadline is scaled to the size the API announced
    assert time.monotonic() - began < 3.0  # generous: the per-read timeout (120 s) never fired


@pytest.mark.parametrize("size, seconds", [
    (None, api.DOWNLOAD_UNSIZED_DEADLINE),
    (0, api.DOWNLOAD_UNSIZED_DEADLINE),
    (1_000, api.DOWNLOAD_DEADLINE_FLOOR),
    (int(api.DOWNLOAD_MIN_THROUGHPUT * api.DOWNLOAD_DEADLINE_FLOOR), api.DOWNLOAD_DEADLINE_FLOOR),
    (int(api.DOWNLOAD_MIN_THROUGHPUT * 300), 300.0),
])
def test_the_download_deadline_grows_with_the_size(size, seconds):
    assert api.download_deadline(size) == pytest.approx(seconds)


def test_without_an_announced_size_the_content_length_sets_the_deadline(hostile, tmp_path):
    hostile.routes["/file.mp4"] = _whole
    sizes: list[int | None] = []
    run(_download(hostile, tmp_path, client={"download_deadline": lambda size: sizes.append(size) or 30.0}))
    assert sizes == [None, len(VIDEO)]


# -- downloads: content encodings ----------------------------------------------------------------

def _encoded(encoding: str, data: bytes) -> Callable[[Handler], None]:
    return lambda h: h.raw(
        f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Encoding: {encoding}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode() + data
    )


@pytest.mark.parametrize("encoding, data", [
    ("gzip", gzip.compress(VIDEO)),
    ("deflate", zlib.compress(VIDEO)),
])
def test_an_encoded_download_is_saved_decoded(hostile, tmp_path, encoding, data):
    hostile.routes["/file.mp4"] = _encoded(encoding, data)
    got = run(_download(hostile, tmp_path, expected_bytes=len(VIDEO)))
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO and got.bytes == len(VIDEO)
    assert hostile.seen[-1][2].get("Accept-Encoding") == "identity"


def test_an_encoding_the_client_cannot_undo_is_refused_not_saved(hostile, tmp_path):
    hostile.routes["/file.mp4"] = _encoded("x-squash", VIDEO[::-1])
    with pytest.raises(DownloadError, match="x-squash"):
        run(_download(hostile, tmp_path))


def test_a_corrupt_gzip_download_is_transient(hostile, tmp_path):
    hostile.routes["/file.mp4"] = _encoded("gzip", b"\x1f\x8b not gzip at all" * 10)
    with pytest.raises(DownloadError):
        run(_download(hostile, tmp_path))


# -- query answers -------------------------------------------------------------------------------

@pytest.mark.parametrize("file_id", ["abc", 3.5, "3.5", True, [1], {"id": 1}, -4, "1e3", "²"], ids=repr)
def test_a_malformed_file_id_is_a_transient_protocol_error(hostile, file_id):
    hostile.json(QUERY, _ok(task_id="7", status="Success", file_id=file_id))
    with pytest.raises(MalformedAnswerError, match="file_id") as caught:
        run(_call(hostile, "query", "7"))
    assert isinstance(caught.value, TransientError)


@pytest.mark.parametrize("file_id", ["123", 123, " 123 "])
def test_a_file_id_given_as_a_number_or_numeric_text_is_fine(hostile, file_id):
    hostile.json(QUERY, _ok(task_id="7", status="Success", file_id=file_id, video_width="1366", video_height=768))
    status = run(_call(hostile, "query", "7"))
    assert (status.file_id, status.video_width, status.video_height) == ("123", 1366, 768)


@pytest.mark.parametrize("file_id", ["", None])
def test_no_file_id_yet_is_none(hostile, file_id):
    hostile.json(QUERY, {"task_id": "7", "status": "Processing", "file_id": file_id, "video_width": "wide"})
    status = run(_call(hostile, "query", "7"))  # no base_resp at all reads as success
    assert (status.status, status.file_id, status.video_width, status.code) == ("Processing", None, None, 0)


@pytest.mark.parametrize("body, match", [
    ([1, 2], "not a JSON object"),
    (b"<html>busy</html>", "not JSON"),
    (b'{"status": "Success", ', "not JSON"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "not JSON", id="nested-too-deep"),
    ({"status": "Success", "base_resp": [0, "ok"]}, "base_resp"),
    ({"status": "Success", "base_resp": "ok"}, "base_resp"),
    ({"status": "Success", "base_resp": {"status_code": "abc"}}, "status_code"),
    ({"status": "Success", "base_resp": {"status_code": True}}, "status_code"),
    ({"status": "Success", "base_resp": {"status_code": [1002]}}, "status_code"),
    (_ok(task_id="7"), "status"),
    (_ok(task_id="7", status=["Success"]), "status"),
    (_ok(task_id="7", status=3), "status"),
])
def test_a_malformed_query_answer_is_a_transient_protocol_error(hostile, body, match):
    hostile.json(QUERY, body)
    with pytest.raises(MalformedAnswerError, match=match) as caught:
        run(_call(hostile, "query", "7"))
    assert isinstance(caught.value, TransientError) and caught.value.code is None


@pytest.mark.parametrize("code", ["1002", 1002, " 1002", 1002.0, "2045"])
def test_the_rate_limit_code_may_come_as_text(hostile, code):
    hostile.json(QUERY, {"status": "", "base_resp": {"status_code": code, "status_msg": "rate limit"}})
    with pytest.raises(RateLimitError) as caught:
        run(_call(hostile, "query", "7"))
    assert caught.value.code in (1002, 2045)


def test_a_fail_with_its_code_as_text_is_still_a_value(hostile):
    hostile.json(QUERY, {"task_id": "7", "status": "Fail", "base_resp": {"status_code": "1027", "status_msg": "x"}})
    status = run(_call(hostile, "query", "7"))
    assert (status.status, status.code) == ("Fail", 1027)


def test_an_answer_that_will_not_decode_is_transient_not_a_traceback(hostile):
    hostile.json(QUERY, b"\x1f\x8b this is no gzip", headers="Content-Encoding: gzip\r\n")
    with pytest.raises(MalformedAnswerError, match="decode"):
        run(_call(hostile, "query", "7"))


# -- retrieve answers ----------------------------------------------------------------------------

GOOD_FILE = {"file_id": 123, "bytes": len(VIDEO), "filename": "v.mp4", "download_url": "http://127.0.0.1:1/v.mp4"}


@pytest.mark.parametrize("body, match", [
    (_ok(file=[GOOD_FILE]), "file"),
    (_ok(file="v.mp4"), "file"),
    (_ok(file={**GOOD_FILE, "download_url": 5}), "download_url"),
    (_ok(file={**GOOD_FILE, "download_url": ["http://x/v.mp4"]}), "download_url"),
    (_ok(file={**GOOD_FILE, "download_url": "http://[::1/v.mp4"}), "download_url"),
    (_ok(file={**GOOD_FILE, "download_url": "ftp://example.com/v.mp4"}), "download_url"),
    ({"file": GOOD_FILE, "base_resp": 7}, "base_resp"),
])
def test_a_malformed_retrieve_answer_is_a_transient_protocol_error(hostile, body, match):
    hostile.json(RETRIEVE, body)
    with pytest.raises(MalformedAnswerError, match=match):
        run(_call(hostile, "retrieve", "123"))


def test_a_retrieve_answer_reads_sizes_strictly_and_keeps_unknown_as_zero(hostile):
    hostile.json(RETRIEVE, _ok(file={**GOOD_FILE, "file_id": "123", "bytes": "3.5"}))
    info = run(_call(hostile, "retrieve", 123))
    assert (info.file_id, info.bytes) == (123, 0)  # 0: not announced, as video.verify reads it
    hostile.json(RETRIEVE, _ok(file={**GOOD_FILE, "bytes": str(len(VIDEO))}))
    assert run(_call(hostile, "retrieve", "123")).bytes == len(VIDEO)


@pytest.mark.parametrize("file_id", ["abc", "3.5", 3.5, True])
def test_retrieving_a_file_id_that_is_not_an_integer_is_an_error_not_a_traceback(hostile, file_id):
    hostile.json(RETRIEVE, _ok(file=GOOD_FILE))
    with pytest.raises(MalformedAnswerError, match="file_id"):
        run(_call(hostile, "retrieve", file_id))
    assert not [s for s in hostile.seen if s[1].startswith(RETRIEVE)]  # nothing was sent


# -- create answers: unreadable means a task may exist -------------------------------------------

@pytest.mark.parametrize("body", [
    {"task_id": {"id": "1"}, "base_resp": {"status_code": 0}},
    {"task_id": ["1"], "base_resp": {"status_code": 0}},
    {"task_id": True, "base_resp": {"status_code": 0}},
    {"task_id": "1", "base_resp": [0]},
    {"task_id": "1", "base_resp": {"status_code": "zero"}},
    [{"task_id": "1"}],
    b"not json",
])
def test_a_malformed_create_answer_is_uncertain(hostile, body):
    hostile.json(CREATE, body)
    with pytest.raises(UncertainCreateError):
        run(_call(hostile, "create", {"model": "MiniMax-Hailuo-02", "prompt": "x"}))


def test_a_create_refused_with_a_text_rate_limit_code_proves_no_task(hostile):
    hostile.json(CREATE, {"task_id": "", "base_resp": {"status_code": "1002", "status_msg": "rate limit"}})
    with pytest.raises(RateLimitError):
        run(_call(hostile, "create", {"model": "MiniMax-Hailuo-02", "prompt": "x"}))


@pytest.mark.parametrize("task_id", ["106916112212032", 106916112212032])
def test_a_create_task_id_may_be_text_or_a_number(hostile, task_id):
    hostile.json(CREATE, _ok(task_id=task_id))
    assert run(_call(hostile, "create", {"model": "MiniMax-Hailuo-02", "prompt": "x"})) == "106916112212032"


# -- the simulator announces the size the runner will pass -----------------------------------------

def test_the_simulator_announces_the_size_it_sends_and_a_cut_is_caught(sim_factory, tmp_path):
    sim = sim_factory(url_ttl=3600.0)

    async def main():
        async with MiniMaxClient(api_key="sim-key", base_url=sim.base_url) as client:
            task_id = await client.create({"model": "MiniMax-Hailuo-02", "prompt": "A lighthouse.", "duration": 6})
            while (status := await client.query(task_id)).status not in ("Success", "Fail"):
                await asyncio.sleep(0.01)
            info = await client.retrieve(status.file_id)
            got = await client.download(info.download_url, tmp_path / "ok.mp4", expected_bytes=info.bytes)
            sim.set_faults({"truncate_download": 1.0})
            with pytest.raises(DownloadError):
                fresh = await client.retrieve(status.file_id)
                await client.download(fresh.download_url, tmp_path / "cut.mp4", expected_bytes=fresh.bytes)
            return info, got

    info, got = run(main())
    assert info.bytes > 0 and got.bytes == info.bytes == (tmp_path / "ok.mp4").stat().st_size
