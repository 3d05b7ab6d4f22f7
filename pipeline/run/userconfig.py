"""The settings a user sets once for their account: `~/.config/shots/config.toml`.

A paid account's rpm and concurrency should not be repeated in every manifest. The file holds
account settings only, never the key (the key lives in MINIMAX_API_KEY and is never written to
a file). `parse` is pure; `load` does the file I/O around it. Precedence is applied elsewhere:
flag > manifest > this file > default (pipeline/run/options.py), and for the host
argument > MINIMAX_BASE_URL > this file > default (pipeline/minimax/account.py).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputError

CONFIG_ENV = "SHOTS_CONFIG"
KEY_NAMES = ("key", "api_key")

# setting -> (the TOML types it accepts, what an error calls the expected type)
_NUMBER = (int, float)
SETTINGS: dict[str, tuple[tuple[type, ...], str]] = {
    "rpm": (_NUMBER, "a number > 0 (creates per minute)"),
    "concurrency": ((int,), "a whole number >= 1"),
    "poll_interval": (_NUMBER, "a number of seconds > 0"),
    "base_url": ((str,), "a URL string such as \"https://api.minimax.io\""),
    "max_cost": (_NUMBER, "an amount in USD >= 0"),
}


@dataclass(frozen=True)
class UserConfig:
    """What the file sets; None where it sets nothing. `shown` is the path as messages print it."""

    rpm: float | None = None
    concurrency: int | None = None
    poll_interval: float | None = None
    base_url: str | None = None
    max_cost: float | None = None
    shown: str = ""  # "~/.config/shots/config.toml"; "" when no file was read
    exists: bool = False


def config_path() -> Path:
    """$SHOTS_CONFIG, else $XDG_CONFIG_HOME/shots/config.toml, else ~/.config/shots/config.toml."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shots" / "config.toml"


def shown_path(path: Path) -> str:
    """The path with the home folder written as '~', as a user would type it."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def load(path: Path | None = None) -> UserConfig:
    """The user config at `path` (default: `config_path()`); a missing file sets nothing."""
    path = config_path() if path is None else path
    shown = shown_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserConfig(shown=shown)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{shown}: cannot read the shots config: {getattr(exc, 'strerror', None) or exc}") from None
    return parse(text, shown)


def parse(text: str, shown: str) -> UserConfig:
    """The settings in a config.toml's text; InputError, one line naming the file, for anything wrong."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{shown}: not valid TOML: {exc}") from None
    for name in table:
        if name.lower() in KEY_NAMES:
            raise InputError(f"{shown}:{_line_of(text, name)}: '{name}' is not allowed here: the API key is read "
                             f"only from MINIMAX_API_KEY, never from a file; remove this line")
        if name not in SETTINGS:
            raise InputError(f"{shown}: unknown setting '{name}' (known: {', '.join(SETTINGS)})")
    values = {name: _checked(shown, name, value) for name, value in table.items()}
    return UserConfig(**values, shown=shown, exists=True)


def _checked(shown: str, name: str, value: object) -> float | int | str:
    """The value if it has the setting's type and range; InputError naming file, key and type."""
    types, expected = SETTINGS[name]
    ok = isinstance(value, types) and not isinstance(value, bool)
    if ok and name == "concurrency":
        ok = value >= 1  # type: ignore[operator]
    elif ok and name in ("rpm", "poll_interval"):
        ok = value > 0  # type: ignore[operator]
    elif ok and name == "max_cost":
        ok = 0 <= value < float("inf")  # type: ignore[operator]
    elif ok and name == "base_url":
        ok = bool(str(value).strip())
    if not ok:
        raise InputError(f"{shown}: '{name}' must be {expected}, got {value!r}")
    return float(value) if name in ("rpm", "poll_interval", "max_cost") else value  # type: ignore[arg-type]


def _line_of(text: str, name: str) -> int:
    """The line where `name = ...` is written (1 when it cannot be found, e.g. a quoted key)."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(name)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return 1
