"""Where each setting comes from: flag, then manifest, then user config, then default; the API key and
host. Pure, no server."""

import asyncio
import math

import pytest

from pipeline.errors import InputError
from pipeline.manifest.models import Settings
from pipeline.minimax.account import DEFAULT_BASE_URL, api_key_from_env, base_url_from
from pipeline.minimax.client import MiniMaxClient
from pipeline.run import retry
from pipeline.run.options import DEFAULT_RPM, RunOptions, RunSettings, SettingFlags, resolve as resolve_sources
from pipeline.run.userconfig import UserConfig

WHERE = "shots.yaml:7:11"


def resolve(flags=SettingFlags(), **declared):
    return RunSettings.from_sources(flags, Settings(**declared), lambda setting: WHERE)


@pytest.mark.parametrize("setting, flag, declared, expected", [
    ("rpm", 20.0, 10, 20.0),
    ("rpm", None, 10, 10.0),
    ("rpm", None, None, DEFAULT_RPM),
    ("concurrency", 2, 8, 2),
    ("concurrency", None, 8, 8),
    ("concurrency", None, None, None),
    ("poll_interval", 3.0, 30.0, 3.0),
    ("poll_interval", None, 30.0, 30.0),
    ("poll_interval", None, None, retry.POLL_INTERVAL),
    ("max_cost", 5.0, 2.0, 5.0),
    ("max_cost", math.inf, 2.0, math.inf),
    ("max_cost", None, 2.0, 2.0),
    ("max_cost", None, None, None),
])
def test_a_flag_wins_over_the_manifest_which_wins_over_the_default(setting, flag, declared, expected):
    settings = resolve(SettingFlags(**{setting: flag}), **{setting: declared})
    assert getattr(settings, setting) == expected


@pytest.mark.parametrize("flag, declared, source", [
    (5.0, None, "--max-cost 5"),
    (0.25, 2.0, "--max-cost 0.25"),
    (math.inf, 2.0, "--max-cost none"),
    (None, 5.0, f"max_cost 5 ({WHERE})"),
    (None, 0.1, f"max_cost 0.1 ({WHERE})"),
    (None, None, None),
])
def test_the_budget_says_where_it_came_from(flag, declared, source):
    assert resolve(SettingFlags(max_cost=flag), max_cost=declared).max_cost_source == source


def test_rates_and_intervals_are_floats_whatever_the_manifest_wrote():
    settings = resolve(rpm=12, poll_interval=4)
    assert (settings.rpm, settings.poll_interval) == (12.0, 4.0)
    assert isinstance(settings.rpm, float) and isinstance(settings.poll_interval, float)


@pytest.mark.parametrize("flags, declared, message", [
    (SettingFlags(rpm=0.0), {}, "--rpm must be positive, got 0"),
    (SettingFlags(rpm=-1.5), {"rpm": 10}, "--rpm must be positive, got -1.5"),
    (SettingFlags(), {"rpm": 0}, "--rpm must be positive, got 0"),
    (SettingFlags(concurrency=0), {}, "--concurrency must be at least 1, got 0"),
    (SettingFlags(), {"concurrency": -2}, "--concurrency must be at least 1, got -2"),
])
def test_an_rpm_or_concurrency_no_run_can_use_is_refused(flags, declared, message):
    with pytest.raises(InputError) as caught:
        resolve(flags, **declared)
    assert str(caught.value) == message


def test_nothing_set_gives_the_runners_own_defaults():
    settings = resolve()
    assert settings == RunSettings()
    defaults = RunOptions()
    options = settings.run_options()
    assert (options.rpm, options.concurrency, options.poll_interval) == (
        defaults.rpm, defaults.concurrency, defaults.poll_interval)


def test_run_options_carry_the_settings_the_seed_and_the_time_scale():
    options = resolve(SettingFlags(rpm=30.0, concurrency=3, poll_interval=2.0)).run_options(seed=7, time_scale=0.01)
    assert options == RunOptions(rpm=30.0, concurrency=3, poll_interval=2.0, seed=7, time_scale=0.01)


def test_the_help_states_the_defaults_the_code_uses(capsys):
    from pipeline.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    run_help = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert f"default: {DEFAULT_RPM:g}, the free tier" in run_help
    assert f"(default: {retry.POLL_INTERVAL:g})" in run_help


# -- the user config, below the manifest --------------------------------------------------------

CONFIG = "~/.config/shots/config.toml"


@pytest.mark.parametrize("setting, flag, declared, configured, expected, origin", [
    ("rpm", 30.0, 10, 20.0, 30.0, "flag --rpm"),
    ("rpm", None, 10, 20.0, 10.0, f"manifest {WHERE}"),
    ("rpm", None, None, 20.0, 20.0, f"config {CONFIG}"),
    ("rpm", None, None, None, DEFAULT_RPM, "default"),
    ("concurrency", 2, 8, 4, 2, "flag --concurrency"),
    ("concurrency", None, 8, 4, 8, f"manifest {WHERE}"),
    ("concurrency", None, None, 4, 4, f"config {CONFIG}"),
    ("concurrency", None, None, None, None, "default"),
    ("poll_interval", 3.0, 30.0, 5.0, 3.0, "flag --poll-interval"),
    ("poll_interval", None, 30.0, 5.0, 30.0, f"manifest {WHERE}"),
    ("poll_interval", None, None, 5.0, 5.0, f"config {CONFIG}"),
    ("poll_interval", None, None, None, retry.POLL_INTERVAL, "default"),
    ("max_cost", 5.0, 2.0, 1.0, 5.0, "flag --max-cost"),
    ("max_cost", math.inf, 2.0, 1.0, math.inf, "flag --max-cost"),
    ("max_cost", None, 2.0, 1.0, 2.0, f"manifest {WHERE}"),
    ("max_cost", None, None, 1.0, 1.0, f"config {CONFIG}"),
    ("max_cost", None, None, None, None, "default"),
])
def test_flag_then_manifest_then_user_config_then_default(setting, flag, declared, configured, expected, origin):
    flags = SettingFlags(**{setting: flag})
    config = UserConfig(**{setting: configured}, shown=CONFIG)
    settings = RunSettings.from_sources(flags, Settings(**{setting: declared}), lambda name: WHERE, config)
    assert getattr(settings, setting) == expected
    chosen = resolve_sources(flags, Settings(**{setting: declared}), lambda name: WHERE, config)[setting]
    assert (chosen.value, chosen.describe()) == (expected, origin)


@pytest.mark.parametrize("flag, declared, configured, source", [
    (None, None, 5.0, f"max_cost 5 ({CONFIG})"),
    (None, 2.0, 5.0, f"max_cost 2 ({WHERE})"),
    (0.5, 2.0, 5.0, "--max-cost 0.5"),
    (math.inf, None, 5.0, "--max-cost none"),
    (None, None, None, None),
])
def test_a_budget_from_the_user_config_names_the_file(flag, declared, configured, source):
    config = UserConfig(max_cost=configured, shown=CONFIG)
    settings = RunSettings.from_sources(SettingFlags(max_cost=flag), Settings(max_cost=declared),
                                        lambda name: WHERE, config)
    assert settings.max_cost_source == source


def test_no_manifest_gives_the_config_and_the_defaults():
    chosen = resolve_sources(SettingFlags(), None, lambda name: None, UserConfig(rpm=20.0, shown=CONFIG))
    assert {name: r.describe() for name, r in chosen.items()} == {
        "rpm": f"config {CONFIG}", "concurrency": "default", "poll_interval": "default", "max_cost": "default"}


@pytest.mark.parametrize("explicit, env, configured, expected", [
    ("http://arg.example", "http://env.example", "http://config.example", "http://arg.example"),
    (None, "http://env.example", "http://config.example", "http://env.example"),
    (None, None, "http://config.example/v1", "http://config.example"),
    (None, "", "http://config.example", "http://config.example"),
    (None, None, None, DEFAULT_BASE_URL),
])
def test_the_base_url_is_argument_then_environment_then_user_config_then_default(
        monkeypatch, explicit, env, configured, expected):
    if env is not None:
        monkeypatch.setenv("MINIMAX_BASE_URL", env)
    assert base_url_from(explicit, configured) == expected


def test_a_run_against_the_api_uses_the_config_base_url(monkeypatch, tmp_path):
    from pipeline.run.backend import endpoint_for

    config = tmp_path / "config.toml"
    config.write_text('base_url = "http://config.example/v1"\n', encoding="utf-8")
    monkeypatch.setenv("SHOTS_CONFIG", str(config))
    monkeypatch.setenv("MINIMAX_API_KEY", "a-key")
    assert endpoint_for("auto") == "http://config.example"
    monkeypatch.setenv("MINIMAX_BASE_URL", "http://env.example")
    assert endpoint_for("auto") == "http://env.example"


# -- the API host and key ----------------------------------------------------------------------


@pytest.mark.parametrize("explicit, env, expected", [
    ("http://127.0.0.1:9/v1", "http://env.example", "http://127.0.0.1:9"),
    ("http://127.0.0.1:9/", "http://env.example", "http://127.0.0.1:9"),
    ("http://127.0.0.1:9", None, "http://127.0.0.1:9"),
    (None, "http://env.example/v1/", "http://env.example"),
    (None, "http://env.example", "http://env.example"),
    (None, "", DEFAULT_BASE_URL),
    (None, None, DEFAULT_BASE_URL),
    ("", None, DEFAULT_BASE_URL),
    (None, DEFAULT_BASE_URL + "/v1", DEFAULT_BASE_URL),
])
def test_the_base_url_is_the_argument_then_the_environment_then_the_default_without_v1(
        monkeypatch, explicit, env, expected):
    if env is not None:
        monkeypatch.setenv("MINIMAX_BASE_URL", env)
    assert base_url_from(explicit) == expected


def test_the_default_base_url_is_versionless():
    assert base_url_from() == DEFAULT_BASE_URL and not DEFAULT_BASE_URL.endswith(("/", "/v1"))


@pytest.mark.parametrize("env, expected", [("a-key", "a-key"), ("", None), (None, None)])
def test_the_key_comes_from_the_environment_and_empty_is_none(monkeypatch, env, expected):
    if env is not None:
        monkeypatch.setenv("MINIMAX_API_KEY", env)
    assert api_key_from_env() == expected


def test_the_client_uses_the_same_resolvers(monkeypatch):
    monkeypatch.setenv("MINIMAX_API_KEY", "env-key")
    monkeypatch.setenv("MINIMAX_BASE_URL", "http://env.example/v1")

    async def main():
        async with MiniMaxClient() as from_env, MiniMaxClient("arg-key", "http://arg.example/v1/") as from_args:
            return from_env.base_url, from_args.base_url, repr(from_env) + repr(from_args), from_env._auth, \
                from_args._auth

    env_url, arg_url, shown, env_auth, arg_auth = asyncio.run(main())
    assert (env_url, arg_url) == ("http://env.example", "http://arg.example")
    assert "env-key" not in shown and "arg-key" not in shown
    assert env_auth == {"Authorization": "Bearer env-key"} and arg_auth == {"Authorization": "Bearer arg-key"}
