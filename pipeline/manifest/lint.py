"""Small text rules shared by the manifest checker: safe names, hidden characters, camera commands.

Pure functions that return messages (or None); the checker attaches positions to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.minimax import camera, catalogue

NAME_MAX = 64
NAME_PATTERN = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*$")  # the schema's safeName pattern
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Windows refuses these as file names, with any extension: con.mp4 cannot be created.
WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(1, 10)] + [f"lpt{i}" for i in range(1, 10)]
)


def show(text: str) -> str:
    """Text safe to print in a message: control and bidi characters escaped, so none can hide."""
    if text.isprintable() and not (BIDI & set(text)):
        return text
    return "".join(
        c if c.isprintable() and c not in BIDI else f"\\u{ord(c):04x}" if ord(c) > 0xFF else f"\\x{ord(c):02x}"
        for c in text
    )


_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_HIDDEN_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hidden_char(text: str, allow_newlines: bool = False) -> str | None:
    """Why `text` holds a control or bidi-override character (which can hide or reorder text), or None."""
    found = (_HIDDEN_BUT_LINES if allow_newlines else _HIDDEN).search(text)
    if found is None:
        return None
    i, c = found.start(), found.group()
    if c in BIDI:
        return (f"contains the bidirectional override U+{ord(c):04X} at character {i + 1}; "
                "it can make text display differently from what is sent, so remove it")
    return f"contains the control character U+{ord(c):04X} at character {i + 1}; remove it"


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a file or folder name on every system, or None when it can."""
    if len(name) <= NAME_MAX and NAME_PATTERN.search(name) and name[-1] != "\n":
        if name.split(".", 1)[0].lower() in WINDOWS_DEVICES:
            return f"'{name}' is a reserved device name on Windows; its files cannot be created there"
        return None
    if name == "":
        return "must not be empty"
    hidden = hidden_char(name)
    if hidden:
        return hidden
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long; at most {NAME_MAX}"
    if ".." in name:
        return f"'{show(name)}' contains '..'; it must be a plain file name"
    if name[0] == ".":
        return f"'{show(name)}' starts with '.', which makes a hidden file; start with a letter or digit"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
    if bad:
        listed = " ".join(repr(c) for c in bad)
        return f"'{show(name)}' contains {listed}; use only letters, digits, '.', '_' and '-'"
    return f"'{show(name)}' must start with a letter or digit"


@dataclass(frozen=True)
class Finding:
    """One prompt lint warning and the bracket text it is about (to find its column)."""

    message: str
    snippet: str


STILL_MODES = catalogue.api_modes("image")  # the modes that make a still (the image API's)


def camera_findings(prompt: str, model: str | None, mode: str | None) -> list[Finding]:
    """Warnings about camera commands: unknown items, crowded brackets, a model that ignores them
    (a still has no camera to move)."""
    out: list[Finding] = []
    used: list[str] = []
    first = None  # the first bracket with a command
    for b in camera.brackets(prompt):
        snippet = prompt[b.start:b.end]
        for item in b.unknown:
            guesses = camera.suggest(item)
            msg = f"[{show(item)}] is not one of the 15 camera commands, so the model reads it as text"
            if guesses:
                named = [f"[{g}]" for g in guesses]
                msg += "; did you mean " + (", ".join(named[:-1]) + " or " if len(named) > 1 else "") + named[-1] + "?"
            out.append(Finding(msg, snippet))
        if len(b.commands) > camera.MAX_PER_BRACKET:
            out.append(Finding(
                f"{snippet} has {len(b.commands)} camera commands in one bracket; "
                f"at most {camera.MAX_PER_BRACKET} are recommended", snippet))
        if b.commands and first is None:
            first = b
        used.extend(b.commands)
    if used and mode in STILL_MODES:
        out.append(Finding(f"a still has no camera to move: the image API does not read [{', '.join(used)}] as "
                           "camera commands, only as words; move the camera in the shots made from it",
                           prompt[first.start:first.end]))
    elif used and model in catalogue.MODELS and mode in catalogue.MODES:
        m = catalogue.MODELS[model]
        if mode in m.options and mode not in m.honours_camera:
            followers = [n for n, x in catalogue.MODELS.items() if mode in x.honours_camera]
            hint = f"; for {mode} these do: {', '.join(followers)}" if followers else ""
            said = (f"{model} does not follow camera commands in {mode}; [{', '.join(used)}] will be read as plain text"
                    if m.camera_documented else
                    f"{model}'s documentation does not say whether it follows camera commands; "
                    f"[{', '.join(used)}] may be read as plain text")
            out.append(Finding(said + hint, prompt[first.start:first.end]))
    return out
