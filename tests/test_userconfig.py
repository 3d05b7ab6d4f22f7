"""The user config file: read once per command, checked, one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import EXIT_INVALID, InputError
from pipeline.run import userconfig
from pipeline.run.userconfig import UserConfig, config_path, load, parse

SHOWN = "~/.config/shots/config.toml"


def test_every_setting_is_read_with_its_type():
    text = 'rpm = 20\nconcurrency = 4\npoll_interval = 2.5\nbase_url = "https://api.minimaxi.com"\nmax_cost = 5\n'
    assert parse(text, SHOWN) == UserConfig(rpm=20.0, concurrency=4, poll_interval=2.5,
                                            base_url="https://api.minimaxi.com", max_cost=5.0, shown=SHOWN,
                                            exists=True)


def test_an_empty_file_sets_nothing():
    assert parse("# nothing yet\n", SHOWN) == UserConfig(shown=SHOWN, exists=True)


@pytest.mark.parametrize("text, line", [
    ('key = "sk-123"\n', 1),
    ('rpm = 20\n\napi_key = "sk-123"\n', 3),
    ('rpm = 20\n  "API_KEY" = "sk-123"\n', 2),
])
def test_a_key_is_refused_with_the_file_and_line_and_never_echoed(text, line):
    with pytest.raises(InputError) as caught:
        parse(text, SHOWN)
    message = str(caught.value)
    assert message.startswith(f"{SHOWN}:{line}: ") and "MINIMAX_API_KEY" in message
    assert "sk-123" not in message and "\n" not in message
    assert caught.value.exit_code == EXIT_INVALID


@pytest.mark.parametrize("text, expected", [
    ("rpm = \"fast\"\n", f"{SHOWN}: 'rpm' must be a number > 0 (creates per minute), got 'fast'"),
    ("rpm = 0\n", f"{SHOWN}: 'rpm' must be a number > 0 (creates per minute), got 0"),
    ("rpm = true\n", f"{SHOWN}: 'rpm' must be a number > 0 (creates per minute), got True"),
    ("concurrency = 2.5\n", f"{SHOWN}: 'concurrency' must be a whole number >= 1, got 2.5"),
    ("concurrency = 0\n", f"{SHOWN}: 'concurrency' must be a whole number >= 1, got 0"),
    ("poll_interval = -1\n", f"{SHOWN}: 'poll_interval' must be a number of seconds > 0, got -1"),
    ("max_cost = -1\n", f"{SHOWN}: 'max_cost' must be an amount in USD >= 0, got -1"),
    ("base_url = 8\n", f"{SHOWN}: 'base_url' must be a URL string such as \"https://api.minimax.io\", got 8"),
    ("colour = 1\n", f"{SHOWN}: unknown setting 'colour' (known: rpm, concurrency, poll_interval, base_url, max_cost)"),
    ("[account]\nrpm = 20\n", f"{SHOWN}: unknown setting 'account' (known: rpm, concurrency, poll_interval, "
                              "base_url, max_cost)"),
])
def test_a_wrong_type_or_an_unknown_setting_is_one_line_naming_file_key_and_type(text, expected):
    with pytest.raises(InputError) as caught:
        parse(text, SHOWN)
    assert str(caught.value) == expected


def test_broken_toml_is_one_line_naming_the_file_and_the_place():
    with pytest.raises(InputError) as caught:
        parse("rpm = \n", SHOWN)
    message = str(caught.value)
    assert message.startswith(f"{SHOWN}: not valid TOML: ") and "line 1" in message and "\n" not in message


def test_a_missing_file_is_fine(tmp_path):
    config = load(tmp_path / "absent.toml")
    assert config == UserConfig(shown=str(tmp_path / "absent.toml"))


def test_a_file_is_read_from_shots_config(tmp_path, monkeypatch):
    path = tmp_path / "mine.toml"
    path.write_text("rpm = 20\n", encoding="utf-8")
    monkeypatch.setenv("SHOTS_CONFIG", str(path))
    assert config_path() == path
    assert load().rpm == 20.0 and load().exists


def test_an_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(InputError) as caught:
        load(tmp_path)  # a folder
    assert str(caught.value).startswith(f"{tmp_path}: cannot read the shots config")


def test_the_default_path_follows_xdg_config_home(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOTS_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "shots" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_path() == tmp_path / ".config" / "shots" / "config.toml"


def test_a_path_under_home_is_shown_with_a_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert userconfig.shown_path(tmp_path / ".config" / "shots" / "config.toml") == "~/.config/shots/config.toml"
    assert userconfig.shown_path(Path("/etc/shots.toml")) == "/etc/shots.toml"


def test_tests_never_read_the_developers_config():
    assert not config_path().exists()
