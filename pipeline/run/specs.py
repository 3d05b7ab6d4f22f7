"""The takes a manifest declares, each with its canonical request and fingerprint."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Iterable

from pipeline.errors import InputError
from pipeline.run import request
from pipeline.run.plan import TakeSpec

if TYPE_CHECKING:
    from pipeline.manifest.models import Manifest


def take_specs(manifest: Manifest, endpoint: str, only: Iterable[str] | None = None) -> list[TakeSpec]:
    """Every take the manifest declares (or the --only ones), with its request and fingerprint."""
    wanted = _check_only(manifest, only)
    specs = []
    for shot in manifest.shots:
        if wanted is not None and shot.id not in wanted:
            continue
        canonical = request.canonical_request(shot, manifest.dir)
        fp = request.fingerprint(canonical, endpoint)
        specs.extend(TakeSpec(shot, take, fp, canonical) for take in range(1, shot.takes + 1))
    return specs


def _check_only(manifest: Manifest, only: Iterable[str] | None) -> set[str] | None:
    if not only:
        return None
    ids = [s.id for s in manifest.shots]
    wanted = set(only)
    for name in sorted(wanted - set(ids)):
        close = difflib.get_close_matches(name, ids, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise InputError(f"--only: no shot '{name}' in {manifest.path}{hint}")
    return wanted
