"""A checked document to the typed `Manifest`: the defaults that apply merged into each shot
(merging.py), the catalogue's model, duration and resolution filled in (an image shot has neither:
a still), another shot's output as a `FrameRef`, each reference video's length as the check probed it
(for its price), prices as entries, every value's line kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from pipeline.manifest import imagefiles, mediafiles, merging
from pipeline.manifest.models import REFERENCE_FIELDS, Manifest, ManifestPrices, Settings, Shot
from pipeline.manifest.prices import price_entries
from pipeline.manifest.problems import Problems
from pipeline.minimax import catalogue

SETTING_FIELDS = ("rpm", "concurrency", "poll_interval", "max_cost")


def build(top: dict, path: Path, problems: Problems) -> Manifest | None:
    """The Manifest of a document with no error (`problems` has its warnings and positions);
    None, with a problem added, if the models refuse what the schema let through (a bug)."""
    pos = problems.pos
    defaults = dict(top.get("defaults") or {})
    shots: list[Shot] = []
    for i, raw in enumerate(top["shots"]):
        try:
            shots.append(Shot.model_validate(_shot_fields(raw, defaults, pos.value(("shots", i))[0], path.parent)))
        except ValidationError as exc:  # the schema and the models disagree: a bug, said plainly
            line, col = pos.value(("shots", i))
            problems.add(line, col, f"internal check failed (please report): {exc.errors()[0]['msg']}")
            return None
    settings = Settings(**{k: top.get(k) for k in SETTING_FIELDS})
    entries = []
    for model_name, price in (top.get("prices") or {}).items():
        for entry, where in price_entries(model_name, price):
            entries.append(entry.model_copy(update={"line": pos.value(where)[0]}))
    return Manifest(
        path=path, dir=path.parent, version=top["version"], name=top["name"], shots=shots,
        settings=settings, warnings=[p for p in problems.found if p.severity == "warning"],
        defaults=defaults, prices=ManifestPrices(entries=tuple(entries)),
        setting_positions={k: pos.key((k,)) if isinstance(v, (dict, list)) else pos.value((k,))
                           for k, v in top.items()},
        switches=frozenset(k for k in catalogue.SWITCHES if top.get(k) is True),
    )


def _shot_fields(raw: dict, defaults: dict, line: int, folder: Path) -> dict:
    """One shot's fields for `Shot`: its own over the defaults that apply, the catalogue's where it
    has them. A FrameRef's mapping stays a mapping: `Shot` reads it as a FrameRef."""
    merged = merging.merged(raw, defaults)
    mode = merged["mode"]
    merged.setdefault("model", catalogue.DEFAULT_MODEL[mode])
    known = catalogue.MODELS.get(merged["model"])
    if known is not None:
        if known.default_duration is not None:
            merged.setdefault("duration", known.default_duration)
        if known.default_resolution is not None:
            merged.setdefault("resolution", known.default_resolution)
    for f in ("tags", *REFERENCE_FIELDS):
        if f in merged:
            merged[f] = tuple(merged[f])
    if merged.get("reference_videos"):
        merged["reference_video_seconds"] = tuple(_seconds(v, folder) for v in merged["reference_videos"])
    merged["line"] = line
    return merged


def _seconds(value: str, folder: Path) -> float | None:
    """A reference video's length as the check read it (cached); None for a URL (not known)."""
    if imagefiles.kind(value) != "path":
        return None
    try:
        return mediafiles.facts(imagefiles.real_path(value, folder)).seconds
    except (OSError, ValueError):  # changed since the check: its price is then unknown, never wrong
        return None
