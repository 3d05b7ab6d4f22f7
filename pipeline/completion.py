"""Shell completion scripts for bash, zsh and fish, generated from the `shots` argument parser.

The parser is read once into a small model (commands, their options and positionals, and what
each value completes to); one writer per shell turns that model into a script. A command or flag
added to the parser is therefore in every script without anyone touching this module.

What a value completes to is read from the parser, in this order:
    choices                      the choices (`--backend auto|sim|api`, `shots help COMMAND`)
    metavar MANIFEST             directories and *.yaml / *.yml files
    metavar ending in DIR, OUT   directories (`--out`, `--state-dir DIR`)
    metavar FILE or PATH         any file
    anything else                nothing (a number, an id, a key: the shell offers no files)

Why not a library: shtab writes bash and zsh (not fish) from argparse, so fish would need this
walk of the parser anyway and the scripts would come from two readings of it; argcomplete runs
Python on every Tab and needs a hook in the program. The parser is one level of commands, which
keeps this small. Standard library only, imported only by `shots completion`.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

__all__ = ["SHELLS", "Arg", "Command", "read_parser", "script"]

SHELLS = ("bash", "zsh", "fish")

# Value kinds: what the shell offers for an option's value or a positional.
CHOICES, MANIFEST, DIRECTORY, FILE, TEXT, NONE = "choices", "manifest", "directory", "file", "text", "none"
MANIFEST_SUFFIXES = ("yaml", "yml")

_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.,:+@%/=-]+$")  # needs no quoting in any of the three shells


@dataclass(frozen=True)
class Arg:
    """One option (flags non-empty) or positional (flags empty) of a command."""

    flags: tuple[str, ...]
    help: str
    kind: str  # NONE for a flag that takes no value
    choices: tuple[str, ...] = ()
    metavar: str = ""
    repeatable: bool = False  # an option that may be given again (action="append")
    nargs: str = "1"  # positionals: "1", "?", "+" or "*"

    @property
    def takes_value(self) -> bool:
        return self.kind != NONE


@dataclass(frozen=True)
class Command:
    """A command (or the program itself, name ""), with its options and positionals in order."""

    name: str
    help: str
    options: tuple[Arg, ...]
    positionals: tuple[Arg, ...]


def read_parser(parser: argparse.ArgumentParser) -> tuple[Command, tuple[Command, ...]]:
    """(the program's own options, its commands in the order they are listed)."""
    top_options, top_positionals, subparsers = _read_actions(parser)
    if top_positionals:
        raise ValueError("completion: positionals before the command are not supported")
    if any(o.takes_value for o in top_options):
        raise ValueError("completion: options before the command that take a value are not supported")
    if subparsers is None:
        raise ValueError("completion: the parser has no commands")
    helps = {a.dest: a.help or "" for a in subparsers._get_subactions()}
    commands = []
    for name, sub in subparsers.choices.items():
        options, positionals, nested = _read_actions(sub)
        if nested is not None:
            raise ValueError(f"completion: '{name}' has commands of its own, which is not supported")
        commands.append(Command(name, _short(helps.get(name, "")), options, positionals))
    return Command("", _short(parser.description or ""), top_options, ()), tuple(commands)


def script(parser: argparse.ArgumentParser, shell: str, prog: str | None = None) -> str:
    """The completion script for `shell` ("bash", "zsh" or "fish")."""
    writers = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    if shell not in writers:
        raise ValueError(f"no completion for {shell!r}; shells: {', '.join(SHELLS)}")
    top, commands = read_parser(parser)
    name = prog or parser.prog
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"completion: the program name {name!r} is not a plain word")
    return writers[shell](name, top, commands)


# -- reading the parser ------------------------------------------------------------------------


def _read_actions(parser: argparse.ArgumentParser) -> tuple[tuple[Arg, ...], tuple[Arg, ...],
                                                             argparse._SubParsersAction | None]:
    options: list[Arg] = []
    positionals: list[Arg] = []
    subparsers = None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subparsers = action
            continue
        if action.help == argparse.SUPPRESS:
            continue
        choices = tuple(str(c) for c in action.choices) if action.choices else ()
        for word in choices:
            if not _SAFE_WORD.match(word):
                raise ValueError(f"completion: choice {word!r} of {action.dest} needs quoting")
        metavar = action.metavar if isinstance(action.metavar, str) else ""
        shown = metavar or (action.dest.upper() if action.option_strings else action.dest)
        kind = NONE if action.nargs == 0 else _kind(shown, choices)
        text = _short(_expand(action))
        if action.option_strings:
            options.append(Arg(tuple(action.option_strings), text, kind, choices, shown,
                               repeatable=isinstance(action, (argparse._AppendAction, argparse._CountAction))))
        else:
            nargs = action.nargs if action.nargs in ("?", "+", "*") else "1"
            positionals.append(Arg((), text, kind, choices, shown, nargs=nargs))
    return tuple(options), tuple(positionals), subparsers


def _kind(metavar: str, choices: tuple[str, ...]) -> str:
    if choices:
        return CHOICES
    word = metavar.upper()
    if word == "MANIFEST":
        return MANIFEST
    if word.endswith("DIR") or word == "OUT":
        return DIRECTORY
    if word in ("FILE", "PATH"):
        return FILE
    return TEXT


def _expand(action: argparse.Action) -> str:
    """The help text with argparse's %(default)s and friends filled in."""
    text = action.help or ""
    if "%" not in text:
        return text
    params = dict(vars(action))
    params["choices"] = ", ".join(str(c) for c in action.choices) if action.choices else ""
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return text


def _short(text: str, width: int = 80) -> str:
    """One line for a completion menu: the first clause, at most `width` characters, never an
    unclosed parenthesis ("creates per minute (manifest or user config: rpm; default: 5)" ->
    "creates per minute")."""
    text = " ".join(text.split()).split("; ")[0]
    if len(text) > width:
        text = text[:width - 3].rsplit(" ", 1)[0].rstrip(",:") + "..."
    depth, cut = 0, None
    for i, char in enumerate(text):
        if char == "(":
            depth, cut = depth + 1, i if depth == 0 else cut
        elif char == ")" and depth:
            depth -= 1
    if depth and cut is not None:
        text = text[:cut].rstrip(" ,:")
    if text.count("`") % 2:  # an example cut in half
        text = text[:text.rindex("`")].rstrip(" ,:")
    return text


def _ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


# -- bash --------------------------------------------------------------------------------------


def _bash(prog: str, top: Command, commands: tuple[Command, ...]) -> str:
    f = _ident(prog)
    out = [
        f"# bash completion for {prog}: generated from its argument parser by `{prog} completion bash`.",
        f"# Install: {prog} completion bash > ~/.local/share/bash-completion/completions/{prog}",
        "# (or source it from ~/.bashrc). Needs bash 4 or later.",
        "",
        f"_{f}_words() {{  # WORDS CUR: the words that start with CUR",
        "    local w",
        "    COMPREPLY=()",
        '    while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen -W "$1" -- "$2")',
        "}",
        "",
        f"_{f}_dirs() {{  # CUR: directories",
        "    local w",
        "    COMPREPLY=()",
        "    compopt -o filenames 2>/dev/null",
        '    while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen -d -- "$1")',
        "}",
        "",
        f"_{f}_files() {{  # CUR: files and directories",
        "    local w",
        "    COMPREPLY=()",
        "    compopt -o filenames 2>/dev/null",
        '    while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen -f -- "$1")',
        "}",
        "",
        f"_{f}_manifests() {{  # CUR: directories and {' / '.join('*.' + s for s in MANIFEST_SUFFIXES)} files",
        "    local w",
        f'    _{f}_dirs "$1"',
        "    while IFS= read -r w; do",
        f"        case $w in {'|'.join(p for s in MANIFEST_SUFFIXES for p in ('*.' + s, '*.' + s.upper()))})"
        ' [[ -d $w ]] || COMPREPLY+=("$w") ;; esac',
        '    done < <(compgen -f -- "$1")',
        "}",
        "",
        f"_{f}_position() {{  # FIRST VALUED: how many positionals are typed from word FIRST up to the cursor",
        "    local i w n=0 skip=0",
        "    for ((i = $1; i < COMP_CWORD; i++)); do",
        "        w=${COMP_WORDS[i]}",
        "        if ((skip)); then",
        "            skip=0",
        "            [[ $w == = ]] && skip=1  # --opt=value is split at '=' into three words",
        "            continue",
        "        fi",
        "        case $w in",
        "            --) ;;",
        '            -*) [[ $2 == *" $w "* ]] && skip=1 ;;',
        "            *) ((n++)) ;;",
        "        esac",
        "    done",
        "    echo $n",
        "}",
        "",
    ]
    for command in commands:
        out += _bash_command(f, command)
    top_words = " ".join(flag for o in top.options for flag in o.flags)
    names = " ".join(c.name for c in commands)
    out += [
        f"_{f}() {{",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev= i",
        "    COMPREPLY=()",
        "    # --opt=value: bash splits the word at '=' (COMP_WORDBREAKS); complete the value of --opt",
        "    if [[ $cur == = ]]; then",
        "        cur= prev=${COMP_WORDS[COMP_CWORD-1]}",
        "    elif ((COMP_CWORD > 1)) && [[ ${COMP_WORDS[COMP_CWORD-1]} == = ]]; then",
        "        prev=${COMP_WORDS[COMP_CWORD-2]}",
        "    elif ((COMP_CWORD > 0)); then",
        "        prev=${COMP_WORDS[COMP_CWORD-1]}",
        "    fi",
        "    for ((i = 1; i < COMP_CWORD; i++)); do  # the command: the first word that is not an option",
        "        case ${COMP_WORDS[i]} in",
        "            -*) ;;",
        "            *)",
        f"                if declare -F \"_{f}_cmd_${{COMP_WORDS[i]//-/_}}\" >/dev/null; then",
        f"                    \"_{f}_cmd_${{COMP_WORDS[i]//-/_}}\" \"$cur\" \"$prev\" $((i + 1))",
        "                fi",
        "                return 0 ;;",
        "        esac",
        "    done",
        "    case $cur in",
        f"        -*) _{f}_words '{top_words}' \"$cur\" ;;",
        f"        *) _{f}_words '{names}' \"$cur\" ;;",
        "    esac",
        "}",
        "",
        f"complete -F _{f} {prog}",
        "",
    ]
    return "\n".join(out)


def _bash_value(f: str, arg: Arg) -> str:
    """The command that fills COMPREPLY for `arg`'s value (the current word is in $cur)."""
    if arg.kind == CHOICES:
        return f"_{f}_words '{' '.join(arg.choices)}' \"$cur\""
    return {MANIFEST: f'_{f}_manifests "$cur"', DIRECTORY: f'_{f}_dirs "$cur"',
            FILE: f'_{f}_files "$cur"'}.get(arg.kind, ":")  # ":": a number, an id...: nothing to offer


def _bash_command(f: str, command: Command) -> list[str]:
    words = " ".join(flag for o in command.options for flag in o.flags)
    valued = " ".join(flag for o in command.options if o.takes_value for flag in o.flags)
    out = [
        f"_{f}_cmd_{_ident(command.name)}() {{  # CUR PREV FIRST: `{command.name}`, its arguments from word FIRST",
        f"    local cur=$1 opts='{words}'",
    ]
    if valued:  # the word before is an option that takes a value: complete that value
        by_value: dict[str, list[str]] = {}
        for option in command.options:
            if option.takes_value:
                by_value.setdefault(_bash_value(f, option), []).extend(option.flags)
        out.append("    case $2 in")
        for value, flags in by_value.items():
            out.append(f"        {'|'.join(flags)}) {'' if value == ':' else value + '; '}return 0 ;;")
        out.append("    esac")
    out += [
        "    if [[ $cur == -* ]]; then",
        f"        _{f}_words \"$opts\" \"$cur\"",
        "        return 0",
        "    fi",
    ]
    if command.positionals:
        out.append(f"    case $(_{f}_position \"$3\" ' {valued} ') in")
        repeats = command.positionals[-1].nargs in ("+", "*")  # the last one takes every word left
        for n, positional in enumerate(command.positionals):
            pattern = "*" if repeats and n == len(command.positionals) - 1 else str(n)
            out.append(f"        {pattern}) {_bash_value(f, positional)} ;;")
        if not repeats:  # every positional is typed: only options are left
            out.append(f"        *) _{f}_words \"$opts\" \"$cur\" ;;")
        out.append("    esac")
    else:
        out.append(f"    _{f}_words \"$opts\" \"$cur\"")
    out += ["}", ""]
    return out


# -- zsh ---------------------------------------------------------------------------------------


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_describe(text: str) -> str:
    """Text inside an _arguments spec: brackets and colons escaped."""
    return re.sub(r"([\[\]:\\])", r"\\\1", text)


def _zsh_message(text: str) -> str:
    """A message field of an _arguments spec: colons escaped."""
    return re.sub(r"([:\\])", r"\\\1", text)


def _zsh_action(f: str, arg: Arg) -> str:
    if arg.kind == CHOICES:
        return "(" + " ".join(arg.choices) + ")"
    return {MANIFEST: f"_{f}_manifests", DIRECTORY: "_files -/", FILE: "_files"}.get(arg.kind, " ")


def _zsh(prog: str, top: Command, commands: tuple[Command, ...]) -> str:
    f = _ident(prog)
    globs = "|".join(MANIFEST_SUFFIXES + tuple(s.upper() for s in MANIFEST_SUFFIXES))
    out = [
        f"#compdef {prog}",
        f"# zsh completion for {prog}: generated from its argument parser by `{prog} completion zsh`.",
        f"# Install: {prog} completion zsh > ~/.zfunc/_{prog}, with `fpath+=~/.zfunc` before",
        "# `autoload -Uz compinit && compinit` in ~/.zshrc (or source it after compinit).",
        "",
        f"_{f}_manifests() {{",
        f"    _files -g '*.({globs})(-.)'",
        "}",
        "",
    ]
    for command in commands:
        specs = [_zsh_option_spec(f, o) for o in command.options]
        for positional in command.positionals:
            lead = {"?": "::", "+": "*:", "*": "*::"}.get(positional.nargs, ":")
            message = _zsh_message(positional.metavar or positional.help or "argument")
            specs.append(_zsh_quote(f"{lead}{message}:{_zsh_action(f, positional)}"))
        out.append(f"_{f}_cmd_{_ident(command.name)}() {{")
        out.append("    _arguments -s -S \\")
        out += [f"        {spec} \\" for spec in specs]
        out[-1] = out[-1][:-2]
        out += ["}", ""]
    described = [_zsh_quote(f"{c.name.replace(':', chr(92) + ':')}:{c.help}") for c in commands]
    out += [f"_{f}() {{",
            "    local curcontext=$curcontext state state_descr line ret=1",
            "    typeset -A opt_args",
            "    _arguments -C \\"]
    out += [f"        {_zsh_option_spec(f, o, exclusive=True)} \\" for o in top.options]
    out += [
        "        '1: :->command' \\",
        "        '*:: :->argument' && ret=0",
        "    case $state in",
        "        command)",
        "            local -a commands",
        "            commands=(",
    ]
    out += [f"                {d}" for d in described]
    out += [
        "            )",
        f"            _describe -t commands '{prog} command' commands && ret=0 ;;",
        "        argument)",
        f"            curcontext=${{curcontext%:*:*}}:{prog}-$words[1]:",
        f"            if (( $+functions[_{f}_cmd_${{words[1]//-/_}}] )); then",
        f"                _{f}_cmd_${{words[1]//-/_}} && ret=0",
        "            fi ;;",
        "    esac",
        "    return ret",
        "}",
        "",
        # Loaded by compinit from fpath, the file is the function's body; sourced, it registers itself.
        'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then',
        f'    _{f} "$@"',
        "else",
        f"    compdef _{f} {prog}",
        "fi",
        "",
    ]
    return "\n".join(out)


def _zsh_option_spec(f: str, option: Arg, exclusive: bool = False) -> str:
    flags = option.flags
    if exclusive:  # --help, --version: nothing else goes with them
        guard = "(- *)"
    elif option.repeatable:
        guard = "*"
    elif len(flags) > 1:
        guard = "(" + " ".join(flags) + ")"
    else:
        guard = ""
    help = f"[{_zsh_describe(option.help)}]" if option.help else ""
    value = ""
    if option.takes_value:
        value = f":{_zsh_message(option.metavar)}:{_zsh_action(f, option)}"
    if len(flags) == 1:
        suffix = "=" if option.takes_value and flags[0].startswith("--") else ""
        return _zsh_quote(f"{guard}{flags[0]}{suffix}{help}{value}")
    # -v --verbose: one spec per flag, the same guard, written with brace expansion
    suffixes = ["=" if option.takes_value and flag.startswith("--") else "" for flag in flags]
    return (_zsh_quote(guard) + "{" + ",".join(fl + s for fl, s in zip(flags, suffixes)) + "}"
            + _zsh_quote(f"{help}{value}"))


# -- fish --------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_flags(option: Arg) -> str:
    parts = []
    for flag in option.flags:
        if flag.startswith("--"):
            parts.append(f"-l {flag[2:]}")
        elif len(flag) == 2:
            parts.append(f"-s {flag[1]}")
        else:  # -old-style: fish's -o
            parts.append(f"-o {flag[1:]}")
    return " ".join(parts)


def _fish_value(f: str, arg: Arg) -> str:
    """The value part of a `complete` line: -x for a value (no files unless we list them)."""
    if arg.kind == CHOICES:
        return "-x -a " + _fish_quote(" ".join(arg.choices))
    if arg.kind == MANIFEST:
        return f"-x -a '(__{f}_manifests)'"
    if arg.kind == DIRECTORY:
        return f"-x -a '(__{f}_dirs)'"
    if arg.kind == FILE:
        return "-r -F"
    return "-x"


def _fish(prog: str, top: Command, commands: tuple[Command, ...]) -> str:
    f = _ident(prog)
    pattern = "|".join(MANIFEST_SUFFIXES + tuple(s.upper() for s in MANIFEST_SUFFIXES))
    out = [
        f"# fish completion for {prog}: generated from its argument parser by `{prog} completion fish`.",
        f"# Install: {prog} completion fish > ~/.config/fish/completions/{prog}.fish",
        "",
        f"function __{f}_command --description 'the {prog} command on the line, if one is typed yet'",
        "    for word in (commandline -opc)[2..-1]",
        "        switch $word",
        "            case '-*'",
        "                continue",
        "        end",
        "        echo $word",
        "        return 0",
        "    end",
        "    return 1",
        "end",
        "",
        f"function __{f}_using --description 'is the {prog} command on the line this one?'",
        f"    set -l command (__{f}_command)",
        '    and test "$command" = "$argv[1]"',
        "end",
        "",
        f"function __{f}_at --description 'CMD OP N VALUED...: is the cursor at positional OP N of CMD?'",
        "    # OP is -eq or -ge (the last positional takes every word left); VALUED: CMD's options that take a value",
        f"    __{f}_using $argv[1]; or return 1",
        "    set -l n 0",
        "    set -l skip 0",
        "    set -l seen 0",
        "    for word in (commandline -opc)[2..-1]",
        "        if test $skip = 1",
        "            set skip 0",
        "        else if test $seen = 0",
        "            string match -q -- '-*' $word; or set seen 1",
        "        else if string match -q -- '-*' $word",
        "            contains -- $word $argv[4..-1]; and set skip 1",
        "        else",
        "            set n (math $n + 1)",
        "        end",
        "    end",
        "    test $n $argv[2] $argv[3]",
        "end",
        "",
        f"function __{f}_token --description 'the word at the cursor, less an --option= before it'",
        "    string replace -r -- '^--[^=]*=' '' (commandline -ct)",
        "end",
        "",
        f"function __{f}_dirs --description 'directories'",
        f"    __fish_complete_directories (__{f}_token) ''",
        "end",
        "",
        f"function __{f}_manifests --description 'directories and YAML files'",
        "    # file completion as for a command that has none, kept to directories and *.yaml / *.yml",
        f'    complete -C"__{f}_no_such_command "(__{f}_token) | string match -r -- '
        f"'^[^\t]*(?:/|\\.(?:{pattern}))(?:\t.*)?$'",
        "end",
        "",
        f"complete -c {prog} -f  # no file names unless an argument asks for them",
    ]
    need = f"'not __{f}_command >/dev/null'"
    for option in top.options:
        out.append(f"complete -c {prog} -n {need} {_fish_flags(option)} -d {_fish_quote(option.help)}")
    for command in commands:
        out.append(f"complete -c {prog} -n {need} -a {command.name} -d {_fish_quote(command.help)}")
    for command in commands:
        using = f"'__{f}_using {command.name}'"
        valued = " ".join(flag for o in command.options if o.takes_value for flag in o.flags)
        out += ["", f"# {prog} {command.name}"]
        for option in command.options:
            value = f" {_fish_value(f, option)}" if option.takes_value else ""
            out.append(f"complete -c {prog} -n {using} {_fish_flags(option)}{value} -d {_fish_quote(option.help)}")
        for n, positional in enumerate(command.positionals):
            repeats = n == len(command.positionals) - 1 and positional.nargs in ("+", "*")
            at = _fish_quote(f"__{f}_at {command.name} {'-ge' if repeats else '-eq'} {n} {valued}".rstrip())
            if positional.kind == FILE:
                out.append(f"complete -c {prog} -n {at} -F")
            elif positional.kind != TEXT:
                out.append(f"complete -c {prog} -n {at} {_fish_value(f, positional)}"
                           f" -d {_fish_quote(positional.help or positional.metavar)}")
    out.append("")
    return "\n".join(out)
