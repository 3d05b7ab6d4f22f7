"""Which account and host: the key and the base URL, each read in this one place.

Kept apart from the client so that commands which only need to know the endpoint (`plan`,
`status`) do not load an HTTP library. Settings: an argument, then MINIMAX_API_KEY /
MINIMAX_BASE_URL, then (the host only) the user's config file, then the default. The environment
stays above the file: it is what a user sets for one shell.
"""

from __future__ import annotations

import os

DEFAULT_BASE_URL = "https://api.minimax.io"
API_KEY_ENV = "MINIMAX_API_KEY"
BASE_URL_ENV = "MINIMAX_BASE_URL"


def api_key_from_env() -> str | None:
    """The key in MINIMAX_API_KEY; None when it is unset or empty. Callers never print it."""
    return os.environ.get(API_KEY_ENV) or None


def base_url_from(explicit: str | None = None, configured: str | None = None) -> str:
    """The API host: `explicit`, then MINIMAX_BASE_URL, then `configured` (the user config's base_url),
    then DEFAULT_BASE_URL; without a trailing '/v1'."""
    return versionless(explicit or os.environ.get(BASE_URL_ENV) or configured or DEFAULT_BASE_URL)


def base_url_source(explicit: str | None = None, configured: str | None = None) -> str:
    """Where `base_url_from` takes the host from: 'argument', 'environment', 'config' or 'default'."""
    if explicit:
        return "argument"
    if os.environ.get(BASE_URL_ENV):
        return "environment"
    return "config" if configured else "default"


def versionless(url: str) -> str:
    """Strip a trailing '/' and '/v1': '/v1' + '/v1/...' would double the prefix."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url
