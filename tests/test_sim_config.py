"""SimConfig checks, the `shots sim` options, and `python -m pipeline.sim`."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pipeline.errors import InputError
from pipeline.sim import SimConfig, add_sim_arguments, config_from_args, serve
from pipeline.sim.faults import parse_faults


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    return parser.parse_args(argv)


def test_options_build_the_config():
    args = parse("--port", "8765", "--rpm", "20", "--time-scale", "0.01", "--concurrency", "3",
                 "--faults", "reset=0.05,http_500=0.02", "--seed", "9", "--key", "k1", "--key", "k2",
                 "--url-ttl", "60", "--sensitive-word", "bomb", "--rate-limiter", "bucket",
                 "--rate-limit-queries", "--other-region-key", "cn", "--no-balance-key", "poor")
    cfg = config_from_args(args)
    assert (args.host, args.port) == ("127.0.0.1", 8765)
    assert cfg == SimConfig(keys=("k1", "k2"), other_region_keys=("cn",), no_balance_keys=("poor",),
                            time_scale=0.01, concurrency=3, rpm=20, rate_limiter="bucket", rate_limit_queries=True,
                            url_ttl=60, seed=9, faults={"reset": 0.05, "http_500": 0.02}, sensitive_words=("bomb",))


def test_defaults_match_simconfig():
    assert config_from_args(parse()) == SimConfig()


def test_every_option_has_help_that_shows_its_default():
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 10
    for action in options:
        assert action.help and "default" in action.help, action.option_strings


@pytest.mark.parametrize("argv, message", [
    (("--faults", "rest=0.1"), "Did you mean 'reset'"),
    (("--faults", "reset"), "needs a probability"),
    (("--faults", "reset=lots"), "not a number"),
    (("--faults", "reset=2"), "from 0 to 1"),
    (("--time-scale", "0"), "time_scale"),
    (("--rpm", "0"), "rpm"),
])
def test_bad_options_are_input_errors(argv, message):
    with pytest.raises(InputError, match=message):
        config_from_args(parse(*argv))


def test_parse_faults():
    assert parse_faults("") == {}
    assert parse_faults(" slow=1 , fail_1027=0.5,") == {"slow": 1.0, "fail_1027": 0.5}


@pytest.mark.parametrize("bad", [
    {"preparing": (5, 1)}, {"concurrency": 0}, {"rate_limiter": "leaky"}, {"url_ttl": 0}, {"keys": "sim-key"},
    {"faults": {"nope": 0.1}}, {"render_fps": 0},
])
def test_simconfig_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        SimConfig(**bad)


def test_serve_refuses_a_non_loopback_host():
    with pytest.raises(ValueError, match="loopback"):
        serve(SimConfig(), host="0.0.0.0", port=0)


def test_module_entry_point_refuses_a_public_host():
    run = subprocess.run([sys.executable, "-m", "pipeline.sim", "--host", "192.168.1.5", "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "loopback" in run.stderr
