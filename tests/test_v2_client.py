"""The real v2 client (and the dialect router) over loopback HTTP.

Two servers: the simulator's v2 routes for the API's behaviour (create, query, list, cancel, the
v1 protocol on top, faults), and a tiny stdlib stub here for the error shapes alone: it answers
the exact example bodies of minimax-api-v2.md A5/A6, and what the notes say a client must
tolerate (no code, no http_code, an HTML gateway page, an error body under HTTP 200).
"""

from __future__ import annotations

import asyncio
import http.server
import json
import ssl
import threading
from pathlib import Path
from contextlib import asynccontextmanager
from typing import Any, Callable

import httpx
import pytest

from pipeline.minimax.apierrors import (
    AccountError,
    ConcurrencyLimitError,
    MalformedAnswerError,
    RateLimitError,
    ShotRejectedError,
    TaskNotFoundError,
    TransientError,
    UncertainCreateError,
    UrlExpiredError,
)
from pipeline.minimax.dialects import Clients
from pipeline.minimax.v2client import V2Client
from pipeline.minimax.v2errors import code_in
from pipeline.run import video
from pipeline.sim import SimConfig, Simulator
from pipeline.sim.v2config import V2Config

KEY = "sk-api-test-key"
TASK = "424010985738629"
CREATE = "/v2/video_generation"
QUERY = f"/v2/query/video_generation/{TASK}"
LIST = "/v2/query/video_generation"
DELETE = f"/v2/video_generation/{TASK}"
T2V = {"model": "MiniMax-H3", "content": [{"type": "text", "text": "The keeper turns to the window. [Static shot]"}],
       "resolution": "768P", "duration": 6, "ratio": "16:9"}
_TLS = ssl.create_default_context()  # never used on loopback http, but a fresh one costs ~80 ms


def run(coro):
    return asyncio.run(coro)


# -- the stub: exact bodies from the notes ---------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _serve(self) -> None:
        stub: Stub = self.server.stub  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        stub.seen.append((self.command, path, query, body))
        answer = stub.routes.get((self.command, path))
        if answer is None:
            self._write(404, "text/plain", b"no route")
        elif answer == "drop":  # the request was read, the answer never comes
            self.close_connection = True
            self.connection.shutdown(2)
        else:
            self._write(*answer)

    def _write(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Trace-Id", "stub-trace")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve


class Stub:
    """A threaded loopback server: routes[(method, path)] = (status, content type, body) or "drop"."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.seen: list[tuple[str, str, str, bytes]] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.stub = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def json(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.routes[(method, path)] = (status, "application/json", json.dumps(body).encode())

    def error(self, method: str, path: str, status: int, kind: str, message: str, *, http_code: bool = True) -> None:
        """The notes' A6 body, exactly: http_code a string, the code only in the message."""
        error = {"type": kind, "message": message}
        if http_code:
            error["http_code"] = str(status)
        self.json(method, path, {"type": "error", "error": error, "request_id": "021785229015510a2c883cf675b9804d"},
                  status)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def _stub_server():
    server = Stub()
    yield server
    server.close()


@pytest.fixture
def stub(_stub_server):
    _stub_server.routes.clear()
    _stub_server.seen.clear()
    return _stub_server


@asynccontextmanager
async def v2_client(base_url: str, key: str = KEY, **settings):
    async with httpx.AsyncClient(verify=_TLS) as http:
        yield V2Client(api_key=key, base_url=base_url, http=http, **settings)


def call(stub: Stub, what: str, *args, **kwargs):
    async def main():
        async with v2_client(stub.base_url) as client:
            return await getattr(client, what)(*args, **kwargs)

    return run(main())


# -- A6: every error row ---------------------------------------------------------------------------

NO_TEXT = "invalid params, content must include a non-empty text item (prompt is required) (2013)"
LOGIN = "login fail: Please carry the API secret key in the 'Authorization' field of the request header (1004)"
TOKEN_PLAN = "invalid params, TokenPlan 或 Credit 暂不支持 MiniMax-H3 系列模型 (2013)"


@pytest.mark.parametrize("status, kind, message, error, code, text", [
    (400, "bad_request_error", NO_TEXT, ShotRejectedError, 2013, "invalid request.*non-empty text item"),
    (401, "authorized_error", LOGIN, AccountError, 1004, "authentication failed.*MINIMAX_API_KEY"),
    (401, "authorized_error", "invalid api key (2049)", AccountError, 2049, r"region.*api\.minimaxi\.com"),
    (402, "insufficient_balance_error", "insufficient balance (1008)", AccountError, 1008, "top up"),
    (422, "unprocessable_entity_error", "video description contains sensitive content (1026)", ShotRejectedError,
     1026, "flagged as sensitive"),
    (429, "rate_limit_error", "rate limit, please retry later (1002)", RateLimitError, 1002, "cap on running tasks"),
    (500, "server_error", "internal error (1000)", UncertainCreateError, 1000, "a billed task may exist"),
    (529, "overloaded_error", "the service is overloaded", UncertainCreateError, None, "HTTP 529"),
    (400, "bad_request_error", TOKEN_PLAN, AccountError, 2013, r"Token Plan/Credit key.*pay-as-you-go key \(sk-api-"),
    (400, "bad_request_error", "invalid params, ratio is required for text-only", ShotRejectedError, None, "ratio"),
])
def test_each_create_error_row_maps_to_one_error(stub, status, kind, message, error, code, text):
    stub.error("POST", CREATE, status, kind, message)
    with pytest.raises(error, match=text) as info:
        call(stub, "create", T2V)
    exc = info.value
    assert type(exc) is error and exc.code == code and exc.http_status == status
    assert exc.trace_id == "021785229015510a2c883cf675b9804d"  # the body's request_id
    assert KEY not in str(exc)
    if error is AccountError:
        assert exc.exit_code == 3
    assert len([s for s in stub.seen if s[0] == "POST"]) == 1  # never retried here


def test_a_4xx_on_create_proves_no_task_and_a_5xx_does_not(stub):
    stub.error("POST", CREATE, 400, "bad_request_error", NO_TEXT)
    with pytest.raises(ShotRejectedError) as refused:
        call(stub, "create", T2V)
    assert not isinstance(refused.value, UncertainCreateError)
    stub.routes[("POST", CREATE)] = (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    with pytest.raises(UncertainCreateError, match="HTTP 502.*not JSON.*Bad Gateway"):
        call(stub, "create", T2V)


def test_a_429_that_says_concurrency_is_a_concurrency_limit(stub):
    stub.error("POST", CREATE, 429, "rate_limit_error", "too many concurrent running tasks (1002)")
    with pytest.raises(ConcurrencyLimitError) as info:
        call(stub, "create", T2V)
    assert isinstance(info.value, RateLimitError) and info.value.maybe_concurrency and info.value.retryable


def test_a_429_on_a_read_is_the_request_rate(stub):
    stub.error("GET", QUERY, 429, "rate_limit_error", "rate limit, please retry later (1002)")
    with pytest.raises(RateLimitError) as info:
        call(stub, "query", TASK)
    assert not info.value.maybe_concurrency and not isinstance(info.value, ConcurrencyLimitError)


@pytest.mark.parametrize("status, kind, message, error", [
    (500, "server_error", "internal error (1000)", TransientError),
    (529, "overloaded_error", "the service is overloaded", TransientError),
    (401, "authorized_error", LOGIN, AccountError),
    (400, "bad_request_error", "invalid params, invalid task_id (2013)", TaskNotFoundError),
    (400, "bad_request_error", "invalid params (2013)", TaskNotFoundError),  # the path's id is the only parameter
])
def test_query_errors(stub, status, kind, message, error):
    stub.error("GET", QUERY, status, kind, message)
    with pytest.raises(error) as info:
        call(stub, "query", TASK)
    if error is TaskNotFoundError:
        assert info.value.ident == TASK and info.value.code == 2013


def test_a_gateway_page_on_a_read_is_transient_and_a_bare_404_is_the_wrong_host(stub):
    stub.routes[("GET", QUERY)] = (502, "text/html", b"<html><head><title>502 Bad Gateway</title></head></html>")
    with pytest.raises(TransientError, match="HTTP 502") as info:
        call(stub, "query", TASK)
    assert info.value.code is None
    stub.routes[("GET", QUERY)] = (404, "text/html", b"<html>Not Found</html>")
    with pytest.raises(AccountError, match="MINIMAX_BASE_URL"):
        call(stub, "query", TASK)


def test_missing_code_and_missing_http_code_are_tolerated(stub):
    stub.error("POST", CREATE, 401, "authorized_error", "login fail", http_code=False)
    with pytest.raises(AccountError) as info:
        call(stub, "create", T2V)
    assert info.value.code is None and info.value.http_status == 401
    stub.json("POST", CREATE, {"error": {}}, 400)
    with pytest.raises(ShotRejectedError, match="HTTP 400"):
        call(stub, "create", T2V)


def test_an_error_body_under_http_200_is_read_by_its_http_code(stub):
    stub.json("POST", CREATE, {"type": "error", "error": {"type": "insufficient_balance_error",
                                                        "message": "insufficient balance (1008)", "http_code": "402"}})
    with pytest.raises(AccountError, match="insufficient balance") as info:
        call(stub, "create", T2V)
    assert info.value.code == 1008


def test_cancel_errors_tell_no_such_task_from_cannot_cancel(stub):
    stub.error("DELETE", DELETE, 400, "bad_request_error", "invalid params, invalid task_id (2013)")
    with pytest.raises(TaskNotFoundError):
        call(stub, "cancel", TASK)
    stub.error("DELETE", DELETE, 400, "bad_request_error",
               "invalid params, task is running and cannot be cancelled (2013)")
    with pytest.raises(ShotRejectedError, match="cannot be cancelled") as info:
        call(stub, "cancel", TASK)
    assert not isinstance(info.value, TaskNotFoundError)


def test_list_with_an_invalid_task_id_filter_is_task_not_found(stub):
    stub.error("GET", LIST, 400, "bad_request_error", "invalid params, invalid task_id (2013)")
    with pytest.raises(TaskNotFoundError):
        call(stub, "list_tasks", task_ids=["abc"])


@pytest.mark.parametrize("message, code", [
    ("internal error (1000)", 1000), ("x (2013)  ", 2013), ("no code", None), ("(12) in the middle, then text", None),
    ("", None)])
def test_the_internal_code_is_the_messages_trailing_number(message, code):
    assert code_in(message) == code


# -- the create's answer ---------------------------------------------------------------------------


def test_create_returns_the_task_id_and_sends_the_body_as_is(stub):
    stub.json("POST", CREATE, {"task_id": TASK})
    assert call(stub, "create", T2V) == TASK
    (method, path, _, body), = stub.seen
    assert json.loads(body) == T2V


@pytest.mark.parametrize("answer", [{"task_id": ""}, {}, b"not json", {"task_id": None}])
def test_a_2xx_create_answer_without_a_task_id_is_uncertain(stub, answer):
    data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    stub.routes[("POST", CREATE)] = (200, "application/json", data)
    with pytest.raises(UncertainCreateError, match="a billed task may exist"):
        call(stub, "create", T2V)


def test_a_create_whose_answer_is_dropped_is_uncertain(stub):
    stub.routes[("POST", CREATE)] = "drop"
    with pytest.raises(UncertainCreateError, match="answer was lost"):
        call(stub, "create", T2V)
    assert [s[0] for s in stub.seen] == ["POST"]  # the body was received: never resubmitted


def test_a_create_that_never_connects_proves_no_task():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens

    async def main():
        async with v2_client(f"http://127.0.0.1:{port}") as client:
            await client.create(T2V)

    with pytest.raises(TransientError) as info:
        run(main())
    assert not isinstance(info.value, UncertainCreateError)


# -- A5: the task object, in v1's vocabulary -------------------------------------------------------

SUCCEEDED = {"task": {
    "id": TASK, "model": "MiniMax-H3", "status": "succeeded", "created_at": 1785125529, "updated_at": 1785125946,
    "content": {"url": "https://video-product.cdn.minimax.io/inference_output/x/output.mp4"},
    "resolution": "2K", "duration": 5, "ratio": "16:9", "task_type": "generation", "modality": "video",
    "usage": {"total_seconds": 5, "input_seconds": 0, "output_seconds": 5, "input_image_count": 1,
              "input_audio_seconds": 6, "total_tokens": 273890, "prompt_tokens": 13500,
              "completion_tokens": 260390}}}
FAILED = {"task": {"id": TASK, "model": "MiniMax-H3", "status": "failed", "created_at": 1785125529,
                   "error": {"code": "1026", "message": "video description contains sensitive content"},
                   "usage": {}, "resolution": "768P", "duration": 6, "ratio": "16:9", "task_type": "generation"}}


def test_a_succeeded_task_is_success_with_its_id_as_the_file_handle_and_its_extras(stub):
    stub.json("GET", QUERY, SUCCEEDED)
    status = call(stub, "query", TASK)
    assert (status.status, status.raw_status, status.known, status.api) == ("Success", "succeeded", True, "v2")
    assert status.file_id == TASK and status.video_url.endswith("/output.mp4")
    assert (status.ratio, status.duration, status.resolution, status.created_at) == ("16:9", 5, "2K", 1785125529)
    assert status.usage["output_seconds"] == 5 and status.usage["total_tokens"] == 273890
    assert status.code == 0 and status.video_width is None


def test_a_failed_task_is_a_fail_value_whose_string_code_is_read_and_whose_usage_is_not(stub):
    stub.json("GET", QUERY, FAILED)
    status = call(stub, "query", TASK)
    assert (status.status, status.code) == ("Fail", 1026)
    assert status.message == "video description contains sensitive content"
    assert status.usage is None and status.file_id is None


@pytest.mark.parametrize("raw, status, known", [
    ("queued", "Queueing", True), ("running", "Processing", True), ("succeeded", "Success", True),
    ("failed", "Fail", True), ("cancelled", "Fail", True), ("expired", "expired", False), ("Paused", "Paused", False)])
def test_statuses_in_v1_vocabulary_and_unknown_ones_kept_as_they_are(stub, raw, status, known):
    task = {"id": TASK, "status": raw, "usage": {"total_seconds": 9}}
    stub.json("GET", QUERY, {"task": task})
    got = call(stub, "query", TASK)
    assert (got.status, got.known, got.raw_status) == (status, known, raw)
    if raw == "cancelled":
        assert got.message == "cancelled"
    if raw != "succeeded":
        assert got.usage is None  # usage means something only on success


@pytest.mark.parametrize("answer, match", [
    ({}, "no task object"), ({"task": {"id": TASK}}, "status that is not a word"),
    ({"task": {"id": TASK, "status": "succeeded", "content": {"url": "ftp://x/y.mp4"}}}, "not an http"),
])
def test_a_malformed_task_answer_is_a_transient_protocol_error(stub, answer, match):
    stub.json("GET", QUERY, answer)
    with pytest.raises(MalformedAnswerError, match=match):
        call(stub, "query", TASK)


def test_a_success_without_a_url_yet_has_no_file_handle_as_v1_without_a_file_id(stub):
    stub.json("GET", QUERY, {"task": {"id": TASK, "status": "succeeded"}})
    status = call(stub, "query", TASK)
    assert status.status == "Success" and status.file_id is None


def test_list_sends_its_filters_and_reads_items_and_total(stub):
    stub.json("GET", LIST, {"items": [SUCCEEDED["task"], FAILED["task"]], "total": 7})
    items, total = call(stub, "list_tasks", status="succeeded", task_ids=["1", "2"], model="MiniMax-H3",
                        task_type="generation", page_num=2, page_size=2)
    assert total == 7 and [t.status for t in items] == ["Success", "Fail"]
    query = httpx.QueryParams(stub.seen[-1][2])
    assert dict(query) == {"page_num": "2", "page_size": "2", "filter.status": "succeeded",
                           "filter.task_ids": "1,2", "filter.model": "MiniMax-H3", "filter.task_type": "generation"}


def test_walking_the_pages_ends_on_a_page_with_nothing_new(stub):
    """A server that ignores page_num (or caps page_size) must not make the walk endless."""
    stub.json("GET", LIST, {"items": [SUCCEEDED["task"], {**FAILED["task"], "id": "1"}], "total": 7})

    async def main():
        async with v2_client(stub.base_url) as client:
            return [t.task_id async for t in client.iter_tasks(page_size=5)]

    assert run(main()) == [TASK, "1"]
    assert [httpx.QueryParams(q)["page_num"] for _, _, q, _ in stub.seen] == ["1", "2"]


def test_cancel_answers_action_and_status(stub):
    stub.json("DELETE", DELETE, {"task_id": TASK, "action": "cancelled", "status": "cancelled"})
    assert call(stub, "cancel", TASK) == ("cancelled", "cancelled")


def test_the_key_goes_only_in_the_authorization_header_and_never_in_a_repr(stub):
    stub.json("GET", QUERY, SUCCEEDED)
    seen = []

    async def main():
        async with httpx.AsyncClient(verify=_TLS, event_hooks={"request": [_record(seen)]}) as http:
            client = V2Client(api_key=KEY, base_url=stub.base_url, http=http)
            router = Clients(api_key=KEY, base_url=stub.base_url, http=http)
            assert KEY not in repr(client) + str(vars(client)) + repr(router) + str(vars(router))
            await client.query(TASK)

    run(main())
    assert seen == [f"Bearer {KEY}"]


def _record(seen: list) -> Callable:
    async def hook(request: httpx.Request) -> None:
        seen.append(request.headers.get("authorization"))

    return hook


# == against the simulator's v2 routes ===============================================================

SIM_KEY = "sim-key"
HOLD = (1e6, 1e6)  # simulated seconds: a phase that outlasts any test (1000 s at time scale 0.001)


@pytest.fixture(scope="module")
def _renders(tmp_path_factory) -> Path:
    """One render cache for the module's simulators: a clip drawn once is served again."""
    return tmp_path_factory.mktemp("v2-renders")


@pytest.fixture
def v2sim(_renders):
    """make(v2=V2Config overrides, **SimConfig overrides) -> a started simulator (time scale 0.001)."""
    started: list[Simulator] = []

    def make(v2: dict | None = None, **overrides) -> Simulator:
        overrides.setdefault("time_scale", 0.001)
        overrides.setdefault("keys", (SIM_KEY,))
        overrides.setdefault("render_cache_dir", _renders)
        sim = Simulator(SimConfig(**overrides), v2=V2Config(**(v2 or {}))).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


async def until_done(client, task_id: str):
    """Poll until Success or Fail (the simulator runs on a fast clock)."""
    while True:
        status = await client.query(task_id)
        if status.status in ("Success", "Fail"):
            return status
        await asyncio.sleep(0.01)


def on_sim(sim: Simulator, main: Callable, key: str = SIM_KEY):
    async def go():
        async with v2_client(sim.base_url, key) as client:
            return await main(client)

    return run(go())


def test_full_flow_on_the_simulator_ends_in_a_video_of_the_requested_length(v2sim, tmp_path):
    sim = v2sim()

    async def main(client):
        task_id = await client.create(T2V)
        status = await until_done(client, task_id)
        info = await client.retrieve(status.file_id)
        got = await client.download(info.download_url, tmp_path / "out.mp4", expected_bytes=info.bytes or None)
        return task_id, status, info, got

    task_id, status, info, got = on_sim(sim, main)
    assert task_id.isdigit() and status.task_id == task_id and status.file_id == task_id
    assert (status.status, status.raw_status, status.ratio, status.duration) == ("Success", "succeeded", "16:9", 6)
    assert status.usage and status.usage["output_seconds"] == 6 and status.created_at
    assert info.bytes == 0 and info.download_url.startswith("http")
    assert got.bytes == (tmp_path / "out.mp4").stat().st_size > 0
    on_the_grid(tmp_path / "out.mp4", 6)


def on_the_grid(path: Path, seconds: int) -> None:
    """A v2 clip runs a little over its request: whole frames on the 107 + 17k grid at 24 fps (A10)."""
    info = video.probe(path)
    assert seconds <= info.duration <= seconds + 17 / 24 + 0.05, info


def test_frames_make_the_ratio_adaptive_and_the_query_says_the_real_one(v2sim, data_url):
    sim = v2sim()
    body = {**T2V, "ratio": "adaptive", "content": [*T2V["content"], {
        "type": "image_url", "image_url": {"url": data_url(640, 360)}, "role": "first_frame"}]}

    status = on_sim(sim, lambda client: _create_and_wait(client, body))
    assert status.status == "Success" and status.ratio not in (None, "", "adaptive")


async def _create_and_wait(client, body):
    return await until_done(client, await client.create(body))


def test_retrieve_after_an_expired_url_hands_out_a_fresh_one(v2sim, tmp_path):
    sim = v2sim()

    async def main(client):
        status = await until_done(client, await client.create(T2V))
        sim.set_v2_faults({"expire_url": 1.0})
        stale = await client.retrieve(status.file_id)
        with pytest.raises(UrlExpiredError):
            await client.download(stale.download_url, tmp_path / "stale.mp4")
        sim.set_v2_faults({})
        fresh = await client.retrieve(status.file_id)
        assert fresh.download_url != stale.download_url
        return await client.download(fresh.download_url, tmp_path / "fresh.mp4")

    got = on_sim(sim, main)
    on_the_grid(got.path, 6)


def test_a_failed_task_is_a_fail_value_with_its_string_code_read(v2sim):
    sim = v2sim(v2={"faults": {"fail_1026": 1.0}})
    status = on_sim(sim, lambda client: _create_and_wait(client, T2V))
    assert (status.status, status.raw_status, status.code) == ("Fail", "failed", 1026)
    assert status.usage is None and status.file_id is None and status.message


def test_a_create_whose_answer_is_dropped_is_uncertain_and_the_list_shows_its_task(v2sim):
    sim = v2sim(v2={"faults": {"drop_create": 1.0}})

    async def main(client):
        with pytest.raises(UncertainCreateError, match="a billed task may exist"):
            await client.create(T2V)
        return await client.list_tasks(model="MiniMax-H3")

    items, total = on_sim(sim, main)
    assert total == 1 and len(items) == 1 and items[0].model == "MiniMax-H3" and items[0].duration == 6


@pytest.mark.parametrize("fault, on_create, on_query", [
    ("http_500", UncertainCreateError, TransientError),
    ("http_502", UncertainCreateError, TransientError),
    ("http_503", UncertainCreateError, TransientError),
    ("http_529", UncertainCreateError, TransientError),
    ("reset", UncertainCreateError, TransientError),
    ("error_429", RateLimitError, RateLimitError),
])
def test_simulator_faults_map_to_the_right_error_for_each_call(v2sim, fault, on_create, on_query):
    sim = v2sim()

    async def main(client):
        task_id = await client.create(T2V)
        sim.set_v2_faults({fault: 1.0})
        with pytest.raises(on_query):
            await client.query(task_id)
        with pytest.raises(on_create) as info:
            await client.create(T2V)
        return info.value

    error = on_sim(sim, main)
    if fault == "error_429":
        assert error.code == 1002 and error.maybe_concurrency


@pytest.mark.parametrize("fault, error, code", [
    ("error_402", AccountError, 1008), ("error_422", ShotRejectedError, 1026)])
def test_simulator_refusals_prove_no_task_was_made(v2sim, fault, error, code):
    sim = v2sim(v2={"faults": {fault: 1.0}})

    async def main(client):
        with pytest.raises(error) as info:
            await client.create(T2V)
        assert info.value.code == code and not isinstance(info.value, UncertainCreateError)
        return await client.list_tasks()

    assert on_sim(sim, main) == ([], 0)


@pytest.mark.parametrize("key, settings, text", [
    ("tp-key", {"v2": {"token_plan_keys": ("tp-key",)}, "keys": (SIM_KEY, "tp-key")}, "pay-as-you-go key"),
    ("cn-key", {"other_region_keys": ("cn-key",)}, "2049.*api.minimaxi.com"),
    ("nobody", {}, "authentication failed"),
])
def test_account_errors_on_the_simulator(v2sim, key, settings, text):
    sim = v2sim(**settings)
    with pytest.raises(AccountError, match=text) as info:
        on_sim(sim, lambda client: client.create(T2V), key=key)
    assert info.value.exit_code == 3 and key not in str(info.value)


@pytest.mark.parametrize("body", [
    {**T2V, "ratio": "adaptive"},  # text-only needs a concrete ratio
    {**T2V, "model": "MiniMax-H3-Max", "duration": 4},
    {**T2V, "content": []},
], ids=["no-ratio", "max-4s", "no-text"])
def test_invalid_bodies_are_rejected_for_the_shot(v2sim, body):
    sim = v2sim()
    with pytest.raises(ShotRejectedError) as info:
        on_sim(sim, lambda client: client.create(body))
    assert info.value.code == 2013 and info.value.http_status == 400


def test_unknown_and_other_keys_tasks_are_not_found(v2sim):
    sim = v2sim(keys=(SIM_KEY, "other-key"))

    async def main(client):
        task_id = await client.create(T2V)
        async with v2_client(sim.base_url, "other-key") as theirs:
            with pytest.raises(TaskNotFoundError):
                await theirs.query(task_id)
        with pytest.raises(TaskNotFoundError) as info:
            await client.query("999999999999999")
        return info.value

    assert on_sim(sim, main).ident == "999999999999999"


def test_list_filters_and_pages(v2sim):
    sim = v2sim(v2={"queued": HOLD})  # every task stays queued: the list cannot change under the test

    async def main(client):
        h3 = [await client.create(T2V) for _ in range(3)]
        mx = [await client.create({**T2V, "model": "MiniMax-H3-Max", "resolution": "480P"}) for _ in range(2)]
        everything, total = await client.list_tasks(page_size=100)
        assert total == 5 and {t.task_id for t in everything} == set(h3 + mx)
        assert all((t.status, t.raw_status) == ("Queueing", "queued") for t in everything)
        first, total = await client.list_tasks(page_num=1, page_size=2)
        second, _ = await client.list_tasks(page_num=2, page_size=2)
        third, _ = await client.list_tasks(page_num=3, page_size=2)
        assert total == 5 and [len(first), len(second), len(third)] == [2, 2, 1]
        assert {t.task_id for t in first + second + third} == set(h3 + mx)
        walked = [t.task_id async for t in client.iter_tasks(page_size=2)]
        assert sorted(walked) == sorted(h3 + mx)
        max_only, total = await client.list_tasks(model="MiniMax-H3-Max")
        assert total == 2 and {t.task_id for t in max_only} == set(mx)
        picked, total = await client.list_tasks(task_ids=[h3[0], mx[1]])
        assert total == 2 and {t.task_id for t in picked} == {h3[0], mx[1]}
        assert (await client.list_tasks(status="succeeded"))[1] == 0
        assert (await client.list_tasks(status="queued", task_type="generation"))[1] == 5
        assert (await client.list_tasks(task_type="regeneration"))[1] == 0

    on_sim(sim, main)


def test_cancel_a_queued_task_and_delete_a_finished_one(v2sim):
    sim = v2sim(v2={"queued": HOLD})

    async def main(client):
        queued = await client.create(T2V)
        assert await client.cancel(queued) == ("cancelled", "cancelled")
        status = await client.query(queued)
        assert (status.status, status.raw_status, status.message) == ("Fail", "cancelled", "cancelled")
        assert (await client.list_tasks(status="cancelled"))[1] == 1
        with pytest.raises(ShotRejectedError) as again:  # a cancelled task cannot be cancelled
            await client.cancel(queued)
        assert not isinstance(again.value, TaskNotFoundError)
        with pytest.raises(TaskNotFoundError):
            await client.cancel("999999999999999")

    on_sim(sim, main)


def test_a_running_task_cannot_be_cancelled_and_a_finished_one_is_deleted(v2sim):
    sim = v2sim(v2={"queued": (0, 0), "running": HOLD})

    async def main(client):
        task_id = await client.create(T2V)
        while (await client.query(task_id)).status != "Processing":
            await asyncio.sleep(0.01)
        with pytest.raises(ShotRejectedError, match="cannot be cancelled") as info:
            await client.cancel(task_id)
        assert not isinstance(info.value, TaskNotFoundError)

    on_sim(sim, main)
    done = v2sim()

    async def finished(client):
        task_id = await client.create(T2V)
        await until_done(client, task_id)
        assert await client.cancel(task_id) == ("deleted", "deleted")
        with pytest.raises(TaskNotFoundError):
            await client.query(task_id)
        return (await client.list_tasks())[1]

    assert on_sim(done, finished) == 0


# -- one router over both dialects -------------------------------------------------------------------

V1_BODY = {"model": "MiniMax-Hailuo-02", "prompt": "A lighthouse at dusk [Push in].", "duration": 6,
           "resolution": "768P"}


def test_one_router_sends_each_take_to_its_models_dialect_on_one_transport(v2sim, tmp_path):
    sim = v2sim()

    async def main():
        async with Clients(api_key=SIM_KEY, base_url=sim.base_url) as clients:
            assert clients.v1._transport is clients.transport is clients.v2._transport
            old, new = await clients.create(V1_BODY), await clients.create(T2V)
            found = {}
            for task_id in (old, new):
                status = await until_done(clients, task_id)
                info = await clients.retrieve(status.file_id)
                got = await clients.download(info.download_url, tmp_path / f"{task_id}.mp4",
                                             expected_bytes=info.bytes or None)
                found[task_id] = (status.api, got.bytes > 0)
            return old, new, found

    old, new, found = run(main())
    assert found == {old: ("v1", True), new: ("v2", True)}
    assert [t["task_id"] for t in sim.v2_tasks()] == [new]


def test_a_later_process_routes_a_v2_task_by_what_the_ledger_says_of_it(v2sim):
    sim = v2sim()

    async def main():
        async with Clients(api_key=SIM_KEY, base_url=sim.base_url) as first:
            task_id = await first.create(T2V)
            file_id = (await until_done(first, task_id)).file_id
        asked = []
        async with Clients(api_key=SIM_KEY, base_url=sim.base_url) as told:
            told.learn("MiniMax-H3", task_id=task_id, file_id=file_id)  # from the ledger's request
            assert (await told.query(task_id)).api == "v2"
            assert (await told.retrieve(file_id)).download_url.startswith("http")
            asked.append(v1_reads(sim))
        async with Clients(api_key=SIM_KEY, base_url=sim.base_url) as explicit:
            assert (await explicit.query(task_id, model="MiniMax-H3")).api == "v2"
        async with Clients(api_key=SIM_KEY, base_url=sim.base_url) as unknowing:
            info = await unknowing.retrieve(file_id)  # nothing learned: v1 says "no such file", v2 has it
            assert (await unknowing.query(task_id)).api == "v2"  # remembered: asked of v2 at once
            asked.append(v1_reads(sim))
            with pytest.raises(TaskNotFoundError):  # known to neither
                await unknowing.query("999999999999999")
        return info, asked

    info, asked = run(main())
    assert info.download_url.startswith("http")
    assert asked == [(0, 0), (0, 1)]  # v1 was asked once, by the router that knew nothing


def v1_reads(sim: Simulator) -> tuple[int, int]:
    """(v1 queries, v1 retrieves) the simulator has answered."""
    requests = sim.stats()["requests"]
    return requests.get("query", 0), requests.get("retrieve", 0)
