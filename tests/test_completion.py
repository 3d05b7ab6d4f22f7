"""`shots completion bash|zsh|fish`: scripts made from the parser, checked by the shells themselves.

bash is always here: its script is sourced in `bash --norc` and its function called with
COMP_WORDS / COMP_CWORD set, as bash does on Tab. zsh and fish are not assumed (CI may lack
them): where they are installed, `zsh -n` / `fish -n` check the syntax, zsh completes a line
typed into an interactive shell on a pseudo-terminal (zsh/zpty), and fish answers `complete -C`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import completion
from pipeline.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, Path]:
    """Each shell's script, written once to a file."""
    folder = tmp_path_factory.mktemp("completion")
    paths = {}
    for shell in completion.SHELLS:
        paths[shell] = folder / f"shots.{shell}"
        paths[shell].write_text(completion.script(build_parser(), shell), encoding="utf-8")
    (folder / "zfunc").mkdir()
    shutil.copy(paths["zsh"], folder / "zfunc" / "_shots")
    return paths


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A working folder with a manifest, a file that is not one, and a directory."""
    (tmp_path / "storyboard.yaml").write_text("version: 1\n")
    (tmp_path / "short.yml").write_text("version: 1\n")
    (tmp_path / "notes.txt").write_text("not a manifest\n")
    (tmp_path / "renders").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- the model read from the parser -------------------------------------------------------------


def test_every_command_and_option_is_read_from_the_parser():
    parser = build_parser()
    top, commands = completion.read_parser(parser)
    by_name = {c.name: c for c in commands}
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(by_name) == list(subparsers.choices)
    for name, sub in subparsers.choices.items():
        flags = {f for a in sub._actions for f in a.option_strings}
        assert {f for o in by_name[name].options for f in o.flags} == flags, name
    assert {f for o in top.options for f in o.flags} == {"-h", "--help", "--version"}


def test_what_each_value_completes_to():
    _, commands = completion.read_parser(build_parser())
    c = {cmd.name: cmd for cmd in commands}

    def option(command: str, flag: str) -> completion.Arg:
        return next(o for o in c[command].options if flag in o.flags)

    assert [p.kind for p in c["run"].positionals] == [completion.MANIFEST]
    assert c["validate"].positionals[0].nargs == "+"
    assert c["config"].positionals[0].nargs == "?"
    assert option("run", "--out").kind == completion.DIRECTORY
    assert option("sim", "--state-dir").kind == completion.DIRECTORY
    assert option("sim", "--render-cache-dir").kind == completion.DIRECTORY
    assert option("run", "--backend").choices == ("auto", "sim", "api")
    assert option("sim", "--rate-limiter").choices == ("window", "bucket")
    assert option("run", "--rpm").kind == completion.TEXT
    assert option("run", "--only").repeatable
    assert not option("run", "--retry-failed").takes_value
    assert c["help"].positionals[0].choices[:3] == ("validate", "plan", "run")
    assert c["completion"].positionals[0].choices == completion.SHELLS


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_a_new_command_or_flag_is_in_every_script(shell):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    new = sub.add_parser("render-all", help="a command added later")
    new.add_argument("--frobnicate-level", choices=("low", "high"))
    new.add_argument("--scratch-dir")
    text = completion.script(parser, shell)
    for word in ("render-all", "frobnicate-level", "low high", "scratch-dir"):
        assert word in text, word


@pytest.mark.parametrize("text, short", [
    ("creates per minute (manifest or user config: rpm; default: 5, the free tier)", "creates per minute"),
    ("no progress bar", "no progress bar"),
    ("scale every wait by F, to match a simulator started with `shots sim --time-scale F` and more words",
     "scale every wait by F, to match a simulator started with"),
])
def test_descriptions_are_one_short_clause(text, short):
    assert completion._short(text) == short


def test_a_parser_it_cannot_read_is_refused_by_name():
    parser = argparse.ArgumentParser(prog="shots")
    sub = parser.add_subparsers(dest="command")
    nested = sub.add_parser("cloud").add_subparsers(dest="what")
    nested.add_parser("login")
    with pytest.raises(ValueError, match="'cloud' has commands of its own"):
        completion.script(parser, "bash")


# -- the command ----------------------------------------------------------------------------------


def test_shots_completion_prints_the_script_on_stdout(capsys):
    assert main(["completion", "bash"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# bash completion for shots") and "complete -F _shots shots" in out
    assert err == ""


def test_an_unknown_shell_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["completion", "tcsh"])
    assert exc.value.code == 2
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err


def test_the_help_says_how_to_install_each_script(capsys):
    with pytest.raises(SystemExit):
        main(["completion", "--help"])
    out = capsys.readouterr().out
    assert "shots completion bash > ~/.local/share/bash-completion/completions/shots" in out
    assert "shots completion zsh > ~/.zfunc/_shots" in out
    assert "shots completion fish > ~/.config/fish/completions/shots.fish" in out


def test_the_cli_does_not_load_the_generator_at_start_up():
    probe = ("import sys; from pipeline.cli import build_parser; build_parser(); "
             "print('pipeline.completion' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


# -- bash -----------------------------------------------------------------------------------------


def bash_complete(script: Path, *words: str) -> list[str]:
    """What the script offers when Tab is pressed with the cursor at the end of `words`
    (the last word is the one being typed: "" after a space)."""
    driver = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; '
              'COMP_POINT=${#COMP_LINE}; _shots; printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", driver, "bash", str(script), *words],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return sorted(line for line in done.stdout.splitlines() if line)


def test_the_bash_script_is_valid_bash(scripts):
    done = subprocess.run(["bash", "-n", str(scripts["bash"])], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("words, offered", [
    (("shots", "ru"), ["run"]),
    (("shots", "re"), ["redo", "reel", "repair", "report", "review"]),
    (("shots", "--v"), ["--version"]),
    (("shots", "run", "--re"), ["--resubmit-uncertain", "--retry-failed"]),
    (("shots", "run", "--backend", ""), ["api", "auto", "sim"]),
    (("shots", "run", "--backend", "=", "s"), ["sim"]),  # --backend=s: bash splits at '='
    (("shots", "sim", "--rate-limiter", ""), ["bucket", "window"]),
    (("shots", "help", "st"), ["status"]),
    (("shots", "completion", ""), ["bash", "fish", "zsh"]),
    (("shots", "run", "--rpm", ""), []),  # a number: no files
    (("shots", "run", "--only", "s01", "-"), None),  # options again after a value
])
def test_bash_completes_commands_flags_and_choices(scripts, project, words, offered):
    got = bash_complete(scripts["bash"], *words)
    if offered is None:
        assert "--retry-failed" in got and "-v" in got
    else:
        assert got == offered


def test_bash_offers_manifests_and_directories_for_a_manifest(scripts, project):
    assert bash_complete(scripts["bash"], "shots", "run", "") == ["renders", "short.yml", "storyboard.yaml"]
    assert bash_complete(scripts["bash"], "shots", "run", "st") == ["storyboard.yaml"]
    assert bash_complete(scripts["bash"], "shots", "validate", "storyboard.yaml", "") == \
        ["renders", "short.yml", "storyboard.yaml"]  # validate takes many


def test_bash_offers_directories_for_out(scripts, project):
    assert bash_complete(scripts["bash"], "shots", "run", "--out", "") == ["renders"]
    assert bash_complete(scripts["bash"], "shots", "report", "--out", "=", "") == ["renders"]
    assert bash_complete(scripts["bash"], "shots", "sim", "--state-dir", "r") == ["renders"]


def test_bash_counts_positionals_past_option_values(scripts, project):
    # `--out renders` is an option and its value, so the manifest is still to come
    assert bash_complete(scripts["bash"], "shots", "run", "--out", "renders", "") == \
        ["renders", "short.yml", "storyboard.yaml"]
    # the manifest given, only options are left
    after = bash_complete(scripts["bash"], "shots", "run", "storyboard.yaml", "")
    assert "--retry-failed" in after and "storyboard.yaml" not in after
    assert "validate" not in bash_complete(scripts["bash"], "shots", "help", "run", "")


# -- zsh ------------------------------------------------------------------------------------------

ZSH = shutil.which("zsh")
needs_zsh = pytest.mark.skipif(ZSH is None, reason="zsh is not installed (Debian package zsh)")

# Types LINE<Tab> into an interactive zsh on a pseudo-terminal and writes what completion added to
# OUT, one a line: compadd is wrapped to record its matches. Marker files say when zsh is ready
# and when the completion is over, so nothing waits on a guessed time.
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
await() { local i; for i in {1..400}; do [[ -e $1 ]] && return 0; sleep 0.05; done; return 1 }
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd() { if (( ${@[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi;
  local -a hits; builtin compadd -A hits "$@"; local ret=$?; (( $#hits )) && print -rl -- $hits >> '$2';
  builtin compadd "$@"; return ret }'
zpty -w z "bindkey '^I' complete-word; print -n > $2.ready"
await $2.ready || exit 4
zpty -w -n z "$3"$'\t'
zpty -w z $'\C-u'"print -n > $2.done"
await $2.done || exit 5
zpty -d z
"""


def zsh_complete(scripts: dict[str, Path], line: str, tmp_path: Path) -> list[str]:
    driver = tmp_path / "drive.zsh"
    driver.write_text(ZSH_DRIVER)
    out = tmp_path / "offered"
    done = subprocess.run([ZSH, "-f", str(driver), str(scripts["zsh"].parent / "zfunc"), str(out), line],
                          capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode == 3:
        pytest.skip("zsh has no zsh/zpty module")
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    return sorted(set(out.read_text().split())) if out.exists() else []


@needs_zsh
def test_the_zsh_script_is_valid_zsh(scripts):
    done = subprocess.run([ZSH, "-n", str(scripts["zsh"])], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr


@needs_zsh
@pytest.mark.parametrize("line, offered", [
    ("shots ru", ["run"]),
    ("shots run --re", ["--resubmit-uncertain", "--retry-failed"]),
    ("shots run --backend ", ["api", "auto", "sim"]),
    ("shots completion ", ["bash", "fish", "zsh"]),
    ("shots run ", ["renders", "short.yml", "storyboard.yaml"]),
    ("shots run --out ", ["renders"]),
])
def test_zsh_completes(scripts, project, tmp_path_factory, line, offered):
    assert zsh_complete(scripts, line, tmp_path_factory.mktemp("zsh")) == offered


# -- fish -----------------------------------------------------------------------------------------

FISH = shutil.which("fish")
needs_fish = pytest.mark.skipif(FISH is None, reason="fish is not installed (Debian package fish)")


def fish_complete(script: Path, line: str, home: Path) -> list[str]:
    done = subprocess.run([FISH, "--no-config", "-c", f"source {script}; complete -C {line!r}"],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CONFIG_HOME": str(home)})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return sorted(line.split("\t")[0] for line in done.stdout.splitlines())


@needs_fish
def test_the_fish_script_is_valid_fish(scripts):
    done = subprocess.run([FISH, "-n", str(scripts["fish"])], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr


@needs_fish
@pytest.mark.parametrize("line, offered", [
    ("shots ru", ["run"]),
    ("shots run --re", ["--resubmit-uncertain", "--retry-failed"]),
    ("shots run --backend ", ["api", "auto", "sim"]),
    ("shots completion ", ["bash", "fish", "zsh"]),
    ("shots run ", ["renders/", "short.yml", "storyboard.yaml"]),
    ("shots run --out ", ["renders/"]),
    ("shots run --out=r", ["--out=renders/"]),
    ("shots run storyboard.yaml ", []),
    ("shots help run ", []),
])
def test_fish_completes(scripts, project, tmp_path_factory, line, offered):
    assert fish_complete(scripts["fish"], line, tmp_path_factory.mktemp("fish-home")) == offered
