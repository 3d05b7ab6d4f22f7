"""V2Config: the open points of minimax-api-v2.md as switches, their defaults, and the options."""

from __future__ import annotations

import argparse

import pytest

from pipeline.errors import InputError
from pipeline.sim import V2Config
from pipeline.sim.v2config import add_v2_arguments, v2_config_from_args


def test_defaults_are_the_notes_or_documented_choices():
    d = V2Config()
    assert (d.conn_cap, d.over_cap, d.queued, d.running) == (15, "queue", (0.0, 60.0), (60.0, 300.0))
    assert (d.max_references, d.last_frame_alone, d.media_checks) == (False, True, "create")
    assert (d.regeneration_whitelist, d.text_running) == (False, (5.0, 30.0))
    assert (d.url_ttl, d.window, d.list_order, d.token_plan_keys, d.faults) == (3600.0, 7 * 86400.0, "newest", (), {})


@pytest.mark.parametrize("bad", [
    {"conn_cap": 0}, {"conn_cap": True}, {"over_cap": "drop"}, {"media_checks": "never"}, {"list_order": "random"},
    {"queued": (5, 1)}, {"running": (-1, 5)}, {"text_running": (2, 1)}, {"url_ttl": 0}, {"window": -1}, {"max_page_size": 0},
    {"token_plan_keys": "sk-cp-x"}, {"faults": {"nope": 0.1}},
])
def test_bad_switches_are_refused(bad):
    with pytest.raises(ValueError):
        V2Config(**bad)


def parse(*argv: str) -> V2Config:
    parser = argparse.ArgumentParser()
    add_v2_arguments(parser)
    return v2_config_from_args(parser.parse_args(list(argv)))


def test_options_default_to_v2config():
    assert parse() == V2Config()


def test_options():
    cfg = parse("--v2-conn-cap", "2", "--v2-over-cap", "reject", "--v2-url-ttl", "60", "--v2-window-days", "1",
                "--token-plan-key", "sk-cp-a", "--token-plan-key", "sk-cp-b", "--h3-max-references",
                "--v2-regeneration-whitelist",
                "--no-last-frame-alone", "--v2-media-checks", "task", "--v2-bad-media-marker", "broken",
                "--v2-list-order", "oldest", "--v2-faults", "drop_create=0.5,http_529=0.1", "--v2-full-size")
    assert cfg == V2Config(conn_cap=2, over_cap="reject", url_ttl=60, window=86400, token_plan_keys=("sk-cp-a", "sk-cp-b"),
                           max_references=True, regeneration_whitelist=True, last_frame_alone=False, media_checks="task", bad_media_marker="broken",
                           list_order="oldest", faults={"drop_create": 0.5, "http_529": 0.1}, full_size=True)
    assert parse("--v2-conn-cap", "0", "--v2-window-days", "0").conn_cap is None
    assert parse("--v2-window-days", "0").window is None


@pytest.mark.parametrize("argv, message", [
    (["--v2-faults", "dropcreate=1"], "Did you mean 'drop_create'"),
    (["--v2-conn-cap", "-1"], "conn_cap"),
    (["--v2-url-ttl", "0"], "url_ttl"),
])
def test_bad_options_say_which(argv, message):
    with pytest.raises(InputError, match=message):
        parse(*argv)
