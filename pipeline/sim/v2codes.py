"""The v2 API's error answers (minimax-api-v2.md A6): a real HTTP status and one JSON shape,

    {"type":"error","error":{"type":"bad_request_error","message":"invalid params, ... (2013)",
     "http_code":"400"},"request_id":"021785229015510a2c883cf675b9804d"}

the internal code only in the message's trailing parentheses, `http_code` a string.
"""

from __future__ import annotations

import secrets
from typing import Any

# HTTP status -> error.type
TYPES = {
    400: "bad_request_error",
    401: "authorized_error",
    402: "insufficient_balance_error",
    422: "unprocessable_entity_error",
    429: "rate_limit_error",
    500: "server_error",
    529: "overloaded_error",
}

MISSING_KEY = "login fail: Please carry the API secret key in the 'Authorization' field of the request header"
UNKNOWN_KEY = "login fail: the API secret key is not valid"
TOKEN_PLAN = "invalid params, TokenPlan 或 Credit 暂不支持 MiniMax-H3 系列模型"
NO_TEXT = "invalid params, content must include a non-empty text item (prompt is required)"
SENSITIVE = "video description contains sensitive content"
INVALID_TASK = "invalid params, invalid task_id"


class V2Error(Exception):
    """An error answer: `status` is the HTTP status, `code` the internal code (None: not shown)."""

    def __init__(self, status: int, message: str, code: int | None) -> None:
        self.status, self.code, self.text = status, code, message
        self.message = message if code is None else f"{message} ({code})"
        super().__init__(f"{status} {self.message}")

    def body(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": TYPES[self.status], "message": self.message, "http_code": str(self.status)},
            "request_id": secrets.token_hex(16),
        }


def bad_request(message: str) -> V2Error:
    """400 bad_request_error (2013); `message` without the 'invalid params, ' prefix."""
    return V2Error(400, f"invalid params, {message}", 2013)


def missing_key() -> V2Error:
    return V2Error(401, MISSING_KEY, 1004)


def unknown_key() -> V2Error:
    return V2Error(401, UNKNOWN_KEY, 1004)


def other_region() -> V2Error:
    return V2Error(401, "invalid api key", 2049)


def token_plan() -> V2Error:
    return V2Error(400, TOKEN_PLAN, 2013)


def no_balance() -> V2Error:
    return V2Error(402, "insufficient balance", 1008)


def sensitive() -> V2Error:
    return V2Error(422, SENSITIVE, 1026)


def rate_limited() -> V2Error:
    return V2Error(429, "rate limit, please retry later", 1002)


def server_error() -> V2Error:
    return V2Error(500, "internal error", 1000)


def overloaded() -> V2Error:
    return V2Error(529, "the service is overloaded, please retry later", None)


def invalid_task() -> V2Error:
    """An id this key cannot see: unknown, another key's, deleted or older than the window."""
    return V2Error(400, INVALID_TASK, 2013)
