"""The one error tree of every MiniMax call, v1 and v2 alike (re-exported by client.py).

    ApiError                   root (a ShotsError); .code (the internal code), .trace_id, .http_status
    ├── TransientError         a later identical call may succeed: network error, HTTP 5xx,
    │   │                      1000/1001/1013/1024/1033/1039/1041; safe to retry for reads
    │   ├── RateLimitError     1002/2045 or HTTP 429: retry later, and slow down. On a v2 create
    │   │   │                  `.maybe_concurrency` says the 429 may be the account's cap on
    │   │   │                  running tasks (CONN) rather than its request rate
    │   │   └── ConcurrencyLimitError  the server said so: run fewer tasks at once
    │   ├── UrlExpiredError    the download URL expired (HTTP 403/410): ask for a new one
    │   ├── DownloadError      a download cut short, of another size than announced, past its
    │   │                      deadline, or in an encoding we cannot undo: ask for a new URL
    │   └── MalformedAnswerError  a 200 answer that is not the documented JSON
    ├── AccountError           1004/1008/2049/2056, HTTP 401/402, a Token-Plan key on v2, or the
    │                          host is wrong: stop all new work
    ├── ShotRejectedError      1026/1027/2013/1042, HTTP 400/422 or an unknown code: this shot failed
    │   └── TaskNotFoundError  the server has no such task or file (expired, made with another
    │                          key, or on another server)
    └── UncertainCreateError   a create was sent but its answer was lost: a task may exist
                               and be billed; never retry it blindly
"""

from __future__ import annotations

from pipeline.errors import EXIT_ABORTED, ShotsError

TRANSIENT_CODES = frozenset({1000, 1001, 1013, 1024, 1033, 1039, 1041})
RATE_LIMIT_CODES = frozenset({1002, 2045})
ACCOUNT_CODES = frozenset({1004, 1008, 2049, 2056})
SHOT_CODES = frozenset({1026, 1027, 2013, 1042})
NOT_FOUND_CODE = 2013  # on a query or a retrieve, whose only parameter is the id: no such task or file


class ApiError(ShotsError):
    """A MiniMax call did not succeed; subclasses say what the caller may do about it."""

    retryable = False

    def __init__(self, message: str, *, code: int | None = None, trace_id: str | None = None,
                 http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.trace_id = trace_id
        self.http_status = http_status


class TransientError(ApiError):
    """Raised when a later identical call may succeed: network failure, HTTP 5xx, a busy code."""

    retryable = True


class RateLimitError(TransientError):
    """Raised on 1002/2045 or HTTP 429: the account's request rate was exceeded.

    `maybe_concurrency`: a v2 create's 429 that does not say which limit it is may be the cap on
    running tasks (undocumented, minimax-api-v2.md A7): a scheduler should run fewer at once too."""

    maybe_concurrency = False

    def __init__(self, message: str, *, maybe_concurrency: bool | None = None, **kwargs):
        super().__init__(message, **kwargs)
        if maybe_concurrency is not None:
            self.maybe_concurrency = maybe_concurrency


class ConcurrencyLimitError(RateLimitError):
    """Raised when the server says the account runs as many tasks as it may (v2's CONN cap)."""

    maybe_concurrency = True


class UrlExpiredError(TransientError):
    """Raised when a download URL has expired; a new retrieve (or v2 query) hands out a fresh one."""


class DownloadError(TransientError):
    """Raised when a download did not bring the whole file as it is: a fresh URL may."""


class MalformedAnswerError(TransientError):
    """Raised when a 200 answer is not the documented JSON; `.code` is None (nothing was said)."""


class AccountError(ApiError):
    """Raised when no call on this account can succeed: bad key, wrong region, no balance."""

    exit_code = EXIT_ABORTED


class ShotRejectedError(ApiError):
    """Raised when the API refuses this shot for good: invalid request or sensitive content."""


class TaskNotFoundError(ShotRejectedError):
    """Raised when the server does not know a task id (or a file id) it is asked about.

    The query and retrieve calls carry nothing but that id, so their 'invalid params' can only
    mean the server has no such task for this key: it expired, another key made it, or another
    server did. `what` is "task" or "file", `ident` the id.
    """

    def __init__(self, what: str, ident: str, code: int | None, server_message: str, *,
                 trace_id: str | None = None, http_status: int | None = None):
        said = f"{code}: " if code is not None else (f"HTTP {http_status}: " if http_status else "")
        super().__init__(
            f"the server has no {what} {ident}: it may have expired or been made with another key "
            f"({said}{server_message or 'no message'})",
            code=code, trace_id=trace_id, http_status=http_status,
        )
        self.what, self.ident = what, ident


class UncertainCreateError(ApiError):
    """Raised when a create was sent but its answer was lost: a billed task may exist."""


def error_for_code(code: int, message: str, *, base_url: str = "", trace_id: str | None = None,
                   http_status: int | None = None) -> ApiError:
    """The error class for an internal code (v1 `base_resp.status_code`, v2 the message's trailing
    number), with a message that says what to do."""
    text = f"{message or 'error'} ({code})"
    extra = {"code": code, "trace_id": trace_id, "http_status": http_status}
    if code in RATE_LIMIT_CODES:
        return RateLimitError(f"rate limited: {text}", **extra)
    if code in TRANSIENT_CODES:
        return TransientError(f"server error: {text}", **extra)
    if code == 2049:
        return AccountError(
            f"invalid API key: {text}. A key works only with the host of its region: global keys "
            f"with https://api.minimax.io, mainland China keys with https://api.minimaxi.com; "
            f"this run used {base_url or 'an unknown host'} (set MINIMAX_BASE_URL)", **extra,
        )
    if code == 1004:
        return AccountError(f"authentication failed: {text}; check MINIMAX_API_KEY", **extra)
    if code == 1008:
        return AccountError(f"insufficient balance: {text}; top up the account", **extra)
    if code in ACCOUNT_CODES:
        return AccountError(f"account limit: {text}", **extra)
    if code == 1026:
        return ShotRejectedError(f"input content flagged as sensitive: {text}", **extra)
    if code == 1027:
        return ShotRejectedError(f"output video flagged as sensitive: {text}", **extra)
    if code == 2013:
        return ShotRejectedError(f"invalid request: {text}", **extra)
    return ShotRejectedError(f"API error: {text}", **extra)
