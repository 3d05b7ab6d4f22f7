"""The command line's manners: a mistyped command, `shots help CMD`, an unknown option, `shots config`,
and `shots sim` refusing a taken port or a network address in one line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from pipeline.cli import main

EXAMPLE = str(Path(__file__).resolve().parent.parent / "manifests" / "example.yaml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors and --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("typed, hint", [
    ("rnu", "did you mean 'run'?"),
    ("stauts", "did you mean 'status'?"),
    ("validat", "did you mean 'validate'?"),
    ("xyzzy", "commands: validate, plan, run, status, cancel, report, reel, export, review, finalize, pick, approve, redo, "
              "repair, sim, config, completion, help"),
])
def test_a_mistyped_command_gets_one_line_with_the_nearest_one(capsys, typed, hint):
    code, out, err = run(capsys, typed, EXAMPLE)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == f"shots: error: unknown command '{typed}'; {hint}"


def test_a_mistyped_command_under_json_is_one_document(capsys):
    code, out, _ = run(capsys, "rnu", EXAMPLE, "--json")
    assert code == 2
    assert json.loads(out) == {"error": "shots: unknown command 'rnu'; did you mean 'run'?", "exit_code": 2}


@pytest.mark.parametrize("command", ["run", "plan", "config", "sim"])
def test_help_cmd_is_cmd_dash_dash_help(capsys, command):
    code, via_help, _ = run(capsys, "help", command)
    assert code == 0
    code, via_flag, _ = run(capsys, command, "--help")
    assert code == 0 and via_help == via_flag and via_help.startswith(f"usage: shots {command}")


def test_help_alone_lists_the_commands(capsys):
    code, out, _ = run(capsys, "help")
    assert code == 0 and out.startswith("usage: shots") and "config" in out


def test_an_unknown_option_is_reported_by_the_command_that_got_it(capsys):
    code, out, err = run(capsys, "run", EXAMPLE, "--bogus")
    assert code == 2 and out == ""
    assert err.startswith("usage: shots run ")
    assert err.splitlines()[-1] == "shots run: error: unrecognized arguments: --bogus"


def test_an_unknown_option_under_json_is_one_document(capsys):
    code, out, _ = run(capsys, "plan", EXAMPLE, "--bogus", "--json")
    assert code == 2
    assert json.loads(out) == {"error": "shots plan: unrecognized arguments: --bogus", "exit_code": 2}


# -- shots config ------------------------------------------------------------------------------


@pytest.fixture
def user_config(tmp_path, monkeypatch):
    """write(text) -> the path of a config.toml that SHOTS_CONFIG points at."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("SHOTS_CONFIG", str(path))

    def write(text: str) -> Path:
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_config_with_no_file_and_no_manifest_shows_the_defaults(capsys):
    code, out, _ = run(capsys, "config")
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert lines[0][-2:] == ["(not", "found)"]
    assert lines[1:] == [["rpm", "5", "default"], ["concurrency", "none", "default"],
                         ["poll_interval", "10", "default"], ["max_cost", "none", "default"],
                         ["base_url", "https://api.minimax.io", "default"],
                         ["key", "not", "set", "environment", "MINIMAX_API_KEY"]]


def test_config_says_where_each_value_came_from(capsys, user_config, monkeypatch):
    path = user_config('rpm = 20\nconcurrency = 4\npoll_interval = 3\nbase_url = "http://config.example"\n')
    monkeypatch.setenv("MINIMAX_API_KEY", "sk-secret")
    code, out, _ = run(capsys, "config", EXAMPLE, "--concurrency", "2", "--json")
    assert code == 0 and "sk-secret" not in out
    settings = json.loads(out)["settings"]
    assert settings["rpm"] == {"value": 5, "source": f"manifest {EXAMPLE}:7:6"}
    assert settings["concurrency"] == {"value": 2, "source": "flag --concurrency"}
    assert settings["poll_interval"] == {"value": 3.0, "source": f"config {path}"}
    assert settings["max_cost"] == {"value": 5, "source": f"manifest {EXAMPLE}:9:11"}
    assert settings["base_url"] == {"value": "http://config.example", "source": f"config {path}"}
    assert settings["key"] == {"value": "set", "source": "environment MINIMAX_API_KEY"}
    monkeypatch.setenv("MINIMAX_BASE_URL", "http://env.example")
    code, out, _ = run(capsys, "config", "--json")
    assert json.loads(out)["settings"]["base_url"] == {"value": "http://env.example",
                                                       "source": "environment MINIMAX_BASE_URL"}


def test_a_broken_config_stops_every_command_with_one_line(capsys, user_config):
    path = user_config('rpm = 20\napi_key = "sk-secret"\n')
    for argv in (["config"], ["plan", EXAMPLE]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and "sk-secret" not in out + err
        assert err.splitlines() == [f"Error: {path}:2: 'api_key' is not allowed here: the API key is read only "
                                    "from MINIMAX_API_KEY, never from a file; remove this line"]


def test_plan_takes_the_budget_from_the_config_below_the_manifest(capsys, user_config, tmp_path):
    path = user_config("max_cost = 0.01\nrpm = 20\n")
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nname: cfg\nshots:\n  - id: a\n    mode: text_to_video\n"
                        "    model: MiniMax-Hailuo-02\n    prompt: a lighthouse\n", encoding="utf-8")
    code, out, err = run(capsys, "plan", str(manifest), "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert f"max_cost 0.01 ({path})" in out + err


# -- shots sim ---------------------------------------------------------------------------------


def test_sim_on_a_taken_port_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(capsys, "sim", "--port", str(port))
    assert code == 2 and out == ""
    assert err.splitlines() == [f"Error: shots sim: cannot listen on 127.0.0.1:{port}: Address already in use; "
                                "choose another --port (0 picks a free one)"]


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "example.com"])
def test_sim_refuses_a_network_host_in_one_line(capsys, host):
    code, out, err = run(capsys, "sim", "--host", host, "--port", "0")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("Error: shots sim: --host: ")
    assert "only on loopback" in err
