"""ImageConfig: the image API's open points as switches, their defaults, and the `shots sim` options."""

from __future__ import annotations

import argparse

import pytest

from pipeline.errors import InputError
from pipeline.sim import SimConfig, add_sim_arguments, config_from_args
from pipeline.sim.imageconfig import ImageConfig, add_image_arguments, image_config_from_args


def test_defaults_are_the_notes():
    d = ImageConfig()
    assert (d.rpm, d.precedence, d.counts, d.url_ttl, d.faults) == (10, "aspect_ratio", "string", 86400.0, {})
    assert SimConfig().image == d


@pytest.mark.parametrize("bad", [
    {"rpm": 0}, {"rpm": True}, {"rpm": 2.5}, {"precedence": "width"}, {"counts": "float"}, {"url_ttl": 0},
    {"faults": {"withold": 0.1}}, {"faults": {"withhold": 2}},
])
def test_bad_switches_are_refused(bad):
    with pytest.raises(ValueError):
        ImageConfig(**bad)


def parse(*argv: str) -> ImageConfig:
    parser = argparse.ArgumentParser()
    add_image_arguments(parser)
    return image_config_from_args(parser.parse_args(list(argv)))


def test_options_default_to_imageconfig():
    assert parse() == ImageConfig()


def test_options():
    cfg = parse("--image-rpm", "3", "--image-precedence", "width_height", "--image-counts", "integer",
                "--image-url-ttl", "60", "--image-faults", "withhold=0.5,drop_create=0.1,http_502=0.2")
    assert cfg == ImageConfig(rpm=3, precedence="width_height", counts="integer", url_ttl=60,
                              faults={"withhold": 0.5, "drop_create": 0.1, "http_502": 0.2})
    assert parse("--image-rpm", "0").rpm is None


@pytest.mark.parametrize("argv, message", [
    (["--image-faults", "withold=1"], "Did you mean 'withhold'"),
    (["--image-rpm", "-1"], "rpm"),
    (["--image-url-ttl", "0"], "url_ttl"),
])
def test_bad_options_say_which(argv, message):
    with pytest.raises(InputError, match=message):
        parse(*argv)


def test_shots_sim_takes_the_image_options_and_documents_them():
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    cfg = config_from_args(parser.parse_args(["--image-counts", "integer", "--image-rpm", "20"]))
    assert cfg.image == ImageConfig(counts="integer", rpm=20)
    helps = {a.option_strings[0]: a.help for a in parser._actions if a.option_strings}
    for option in ("--image-rpm", "--image-precedence", "--image-counts", "--image-url-ttl", "--image-faults"):
        assert "default" in helps[option], option
