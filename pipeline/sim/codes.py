"""The v1 API's business answers: base_resp codes, their messages, and the error to raise.

Messages follow the real API where one was observed (minimax-api.md 2.2, 6); the rest are
plain statements of the rule that was broken.
"""

from __future__ import annotations

OK = 0
UNKNOWN_ERROR = 1000
TIMEOUT = 1001
RATE_LIMITED = 1002
AUTH_FAILED = 1004
NO_BALANCE = 1008
INTERNAL = 1013
INPUT_SENSITIVE = 1026
OUTPUT_SENSITIVE = 1027
SYSTEM_ERROR = 1033
INVALID_PARAMS = 2013
INVALID_KEY = 2049

MESSAGES = {
    OK: "success",
    UNKNOWN_ERROR: "unknown error",
    TIMEOUT: "request timeout, please try again later",
    RATE_LIMITED: "rate limit exceeded(RPM)",
    NO_BALANCE: "insufficient balance",
    INTERNAL: "internal service error",
    INPUT_SENSITIVE: "input new_sensitive",
    OUTPUT_SENSITIVE: "output new_sensitive",
    SYSTEM_ERROR: "service unavailable, please try again later",
    INVALID_KEY: "invalid api key",
}

MISSING_KEY = "login fail: Please carry the API secret key in the 'Authorization' field of the request header"
UNKNOWN_KEY = "login fail: the API secret key is not valid"


class ApiError(Exception):
    """A business error: answered as HTTP 200 with this code and message in base_resp."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else MESSAGES[code]
        super().__init__(f"{code} {self.message}")


def base_resp(code: int = OK, message: str | None = None) -> dict:
    return {"status_code": code, "status_msg": message if message is not None else MESSAGES[code]}


def invalid(message: str) -> ApiError:
    """2013 with the API's 'invalid params, ...' prefix."""
    return ApiError(INVALID_PARAMS, f"invalid params, {message}")


def missing(field: str) -> ApiError:
    return invalid(f"binding: expr_path={field}, cause=missing required parameter")


def wrong_type(field: str, expected: str) -> ApiError:
    return invalid(f"binding: expr_path={field}, cause=expected {expected}")
