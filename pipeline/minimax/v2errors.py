"""A v2 error answer, read and mapped onto the one error tree (apierrors.py).

v2 errors are real HTTP statuses with an OpenAI-style body (minimax-api-v2.md A6):

    {"type":"error","error":{"type":"bad_request_error","message":"invalid params, ... (2013)",
     "http_code":"400"},"request_id":"0217..."}

The internal code lives only at the end of the message, `http_code` is a string, and either may be
missing; a gateway may answer with an HTML page instead. Everything here tolerates all of that:
the HTTP status decides when nothing else is said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from pipeline.minimax.apierrors import (
    RATE_LIMIT_CODES,
    TRANSIENT_CODES,
    AccountError,
    ApiError,
    ConcurrencyLimitError,
    RateLimitError,
    ShotRejectedError,
    TaskNotFoundError,
    TransientError,
    UncertainCreateError,
    error_for_code,
)

Call = Literal["create", "query", "list", "cancel"]

_CODE_AT_END = re.compile(r"\((\d+)\)\s*$")
# A Token-Plan/Credit (subscription) key asking for H3: "invalid params, TokenPlan 或 Credit 暂不支持
# MiniMax-H3 系列模型 (2013)". 2013 is also every other bad parameter, so the text decides (C2.5).
_TOKEN_PLAN = re.compile(r"token\s*-?\s*plan|\bcredit\b|暂不支持\s*MiniMax-H3", re.IGNORECASE)
_CONCURRENCY = re.compile(r"concurren|parallel|running tasks?|\bCONN\b|并发", re.IGNORECASE)
_NO_TASK = re.compile(r"invalid\s+task[_ ]?id|no such task|not found|not exist", re.IGNORECASE)
PAY_AS_YOU_GO = ("this key is a Token Plan/Credit key; MiniMax-H3 needs a pay-as-you-go key (sk-api-...): "
                 "create one on the MiniMax platform and set MINIMAX_API_KEY")
_PAGE_CHARS = 80  # of a non-JSON page, kept for the message


@dataclass(frozen=True)
class ErrorAnswer:
    """What a v2 error answer said. `status` is the HTTP status that counts: the answer's own,
    or the body's `http_code` when an error body came with HTTP 200."""

    status: int
    type: str | None
    message: str
    code: int | None
    request_id: str | None
    json: bool  # False: not the documented body (a gateway page, or nothing)


def code_in(message: str) -> int | None:
    """The internal code from a message's trailing parentheses: '... (2013)' -> 2013."""
    match = _CODE_AT_END.search(message)
    return int(match.group(1)) if match else None


def read(response: httpx.Response) -> ErrorAnswer:
    """The error an answer carries, however little of the documented body it has."""
    body = _object(response)
    error = body.get("error") if body is not None else None
    if not isinstance(error, dict):
        error = {}
    message = error.get("message")
    message = message.strip() if isinstance(message, str) else ""
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    request_id = body.get("request_id") if body is not None else None
    status = response.status_code
    if 200 <= status < 300:  # an error body with a success status: its own http_code says which
        status = _int(error.get("http_code")) or 0
    if body is None and not message:
        page = " ".join(response.text.split())[:_PAGE_CHARS] if response.content else ""
        message = f"not JSON: {page!r}" if page else "no body"
    return ErrorAnswer(status=status, type=kind, message=message, code=code_in(message),
                       request_id=request_id if isinstance(request_id, str) else None,
                       json=body is not None and bool(error))


def is_error_body(data: dict[str, Any]) -> bool:
    """Whether a 2xx JSON answer is in fact an error body (a relay may answer 200 with one)."""
    return data.get("type") == "error" or (isinstance(data.get("error"), dict) and "task" not in data)


def error_for(answer: ErrorAnswer, *, call: Call, path: str, ident: str = "", base_url: str = "",
              trace_id: str | None = None) -> ApiError:
    """The error of the tree for a v2 error answer to `call` (about task `ident`, if any)."""
    status, code, message = answer.status, answer.code, answer.message
    bare = _CODE_AT_END.sub("", message).strip()  # error_for_code adds the code back
    extra = {"trace_id": answer.request_id or trace_id, "http_status": status or None}
    said = f"HTTP {status} from {path}: {message}" if status else f"{path}: {message}"
    if call == "create" and (status >= 500 or (not status and code is None)):
        # The body reached a server; whether it made a task is unknown (no idempotency key).
        return UncertainCreateError(f"create answered {said}; a billed task may exist", code=code, **extra)
    if (status == 400 or code == 2013) and _TOKEN_PLAN.search(message):
        return AccountError(f"{PAY_AS_YOU_GO} ({said})", code=code, **extra)
    if code in (1004, 2049, 1008):
        return error_for_code(code, bare, base_url=base_url, **extra)
    if status in (401, 403):
        return AccountError(f"authentication failed: {said}; check MINIMAX_API_KEY", code=code, **extra)
    if status == 402:
        return AccountError(f"insufficient balance: {said}; top up the account", code=code, **extra)
    if status == 429 or code in RATE_LIMIT_CODES:
        if _CONCURRENCY.search(message):
            return ConcurrencyLimitError(f"too many tasks running at once: {said}", code=code, **extra)
        maybe = call == "create"
        hint = "; it may be the account's cap on running tasks, not its request rate" if maybe else ""
        return RateLimitError(f"rate limited: {said}{hint}", code=code, maybe_concurrency=maybe, **extra)
    if status >= 500 or code in TRANSIENT_CODES:
        return TransientError(f"server error: {said}", code=code, **extra)
    if call != "create" and ident and answer.json and (
            status == 404 or _NO_TASK.search(message) or (call == "query" and status == 400)):
        # A query's only parameter is the id in its path: a 400 there means no such task. A
        # gateway's page says nothing of the task.
        return TaskNotFoundError("task", ident, code, message, **extra)
    if status == 404:
        return AccountError(f"{path} not found (HTTP 404): is MINIMAX_BASE_URL the API host, without /v2?",
                            code=code, **extra)
    if code in (1026, 1027):
        return error_for_code(code, bare, base_url=base_url, **extra)
    if status == 422:
        return ShotRejectedError(f"input content flagged as sensitive: {said}", code=code, **extra)
    if call == "cancel" and status == 400:
        return ShotRejectedError(f"task {ident} cannot be cancelled (only a queued task can): {said}",
                                 code=code, **extra)
    if 400 <= status < 500 or code is not None:
        return ShotRejectedError(f"invalid request: {said}", code=code, **extra)
    return TransientError(f"unexpected answer: {said}", code=code, **extra)


def _object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _int(value: Any) -> int | None:
    """http_code as the notes give it (a string) or as a number; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{3}\s*", value):
        return int(value)
    return None
