"""The manifest's `prices:`: its shape in our own words, its entries, and the prices that never apply.

The schema's `anyOf` can only say a price is "not valid under any of the given schemas", so
`price_shape_problems` gives the same verdict (a test holds them to it) in words that say the fix.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from pipeline.manifest import lint
from pipeline.manifest.models import DURATION_KEY_PATTERN, DURATION_MAX, USD_MAX, PriceEntry, Resolution
from pipeline.manifest.problems import Problems
from pipeline.manifest.words import describe_value, did_you_mean, or_list
from pipeline.manifest.yamlpos import clip
from pipeline.minimax import catalogue

RESOLUTIONS: tuple[str, ...] = get_args(Resolution)
_DURATION_KEY = re.compile(DURATION_KEY_PATTERN)  # searched, as jsonschema applies "pattern"
_PRICE = "a price in USD (a number)"
_MODEL_PRICE = "a price: a number (USD per video), {per_second: N} or prices by resolution (720P: 0.43)"
_RESOLUTION_PRICE = "a price: a number (USD per video), {per_second: N} or prices by duration (6: 0.43)"

# One way `prices:` breaks the schema: (JSON path, placed at the key?, message).
ShapeProblem = tuple[tuple, bool, str]


def price_shape_problems(prices: Any) -> list[ShapeProblem]:
    """Every way `prices:` breaks the schema, as (JSON path, at the key?, message): the same
    verdict as the schema (a test holds them to it), in words that say the fix."""
    out: list[ShapeProblem] = []
    here = ("prices",)
    if not isinstance(prices, dict):
        out.append((here, False, f"expected a mapping of model: price lines, got {describe_value(prices)}"))
        return out
    if not prices:
        out.append((here, False, "empty; give a price per model (S2V-01: 0.43) or remove prices:"))
    for model_name, price in prices.items():
        if not model_name:
            out.append(((*here, model_name), True, "a model name must not be empty"))
        elif not isinstance(price, dict):
            _usd((*here, model_name), price, out, _MODEL_PRICE)
        elif "per_second" in price:
            _per_second((*here, model_name), price, out, "by resolution")
        elif not price:
            out.append(((*here, model_name), False, f"an empty mapping; give {_MODEL_PRICE}"))
        else:
            for res, value in price.items():
                _model_price_entry((*here, model_name, res), res, value, out)
    return out


def _model_price_entry(path: tuple, res: str, value: Any, out: list[ShapeProblem]) -> None:
    """One `resolution: price` line under a model."""
    if res in RESOLUTIONS:
        _resolution_price(path, value, out)
        return
    msg = f"'{lint.show(clip(str(res)))}' is not a resolution; use {or_list(RESOLUTIONS)}, or per_second"
    guess = (did_you_mean(res.replace("-", "_").replace(" ", "_"), [*RESOLUTIONS, "per_second"])
             or (did_you_mean(res + "P", RESOLUTIONS, cutoff=1.0)))
    if guess:
        msg += f"; did you mean '{guess}'?"
    elif _DURATION_KEY.search(res):
        msg += f" (a duration goes under a resolution: 720P: {{{res}: ...}})"
    out.append((path, True, msg))


def _usd(path: tuple, value: Any, out: list[ShapeProblem], what: str = _PRICE) -> None:
    if type(value) is bool or not isinstance(value, (int, float)):
        msg = f"expected {what}, got {describe_value(value)}"
        if isinstance(value, str) and re.fullmatch(r"\s*(US)?\$?\s*[0-9]+(\.[0-9]*)?\s*(USD|\$)?\s*", value):
            msg += "; write the number alone, without quotes, $ or USD"
        out.append((path, False, msg))
    elif value < 0:
        out.append((path, False, f"must be at least 0, got {value}"))
    elif value > USD_MAX:
        out.append((path, False, f"must be at most {USD_MAX:,} (USD), got {value}"))


def _per_second(path: tuple, price: dict, out: list[ShapeProblem], other: str) -> None:
    for key in price:
        if key != "per_second":
            out.append(((*path, key), True, f"a price is either per_second or {other}, not both; "
                                            f"remove '{lint.show(str(key))}' or per_second"))
    _usd((*path, "per_second"), price["per_second"], out)


def _resolution_price(path: tuple, value: Any, out: list[ShapeProblem]) -> None:
    if not isinstance(value, dict):
        _usd(path, value, out, _RESOLUTION_PRICE)
    elif "per_second" in value:
        _per_second(path, value, out, "by duration")
    elif not value:
        out.append((path, False, f"an empty mapping; give {_RESOLUTION_PRICE}"))
    else:
        for dur, usd in value.items():
            if _DURATION_KEY.search(dur):
                _usd((*path, dur), usd, out)
            elif dur.isascii() and dur.isdigit() and dur[0] != "0":
                out.append(((*path, dur), True, f"{clip(dur)} seconds is too long a duration; at most {DURATION_MAX}"))
            else:
                out.append(((*path, dur), True, f"'{lint.show(clip(str(dur)))}' is not a duration; write whole "
                                                "seconds as the key, as in 6: 0.43"))


def price_entries(model_name: str, price: Any) -> list[tuple[PriceEntry, tuple]]:
    """The entries of one valid model price, each with the path of its number (line 0 for now)."""
    here = ("prices", model_name)

    def leaf(value, path, resolution=None, duration=None) -> tuple[PriceEntry, tuple]:
        if isinstance(value, dict):  # {per_second: N}
            return (PriceEntry(model=model_name, resolution=resolution, duration=duration,
                               usd=value["per_second"], per_second=True), (*path, "per_second"))
        return PriceEntry(model=model_name, resolution=resolution, duration=duration, usd=value), path

    if not isinstance(price, dict) or "per_second" in price:
        return [leaf(price, here)]
    out = []
    for res, value in price.items():
        if isinstance(value, dict) and "per_second" not in value:
            out += [leaf(usd, (*here, res, dur), res, int(dur)) for dur, usd in value.items()]
        else:
            out.append(leaf(value, (*here, res), res))
    return out


def check_prices(problems: Problems, prices: dict, shot_models: list[str], bad_prices: set[str]) -> None:
    """Warnings for prices that can never apply: a model no shot uses, a price the catalogue
    already has (the catalogue's is official and wins), a resolution or duration the model
    does not offer. `bad_prices`: models whose price the schema check already refused."""
    used = list(dict.fromkeys(shot_models))
    for model_name, price in prices.items():
        if model_name in bad_prices:
            continue
        path = ("prices", model_name)
        if model_name not in used:
            guess = None if model_name in catalogue.MODELS else did_you_mean(model_name, used, cutoff=0.75)
            shown = ", ".join(lint.show(m) for m in used)
            hint = f"; did you mean '{lint.show(guess)}'?" if guess else f"; the shots use {shown}" if used else ""
            problems.at_key(path, f"no shot uses {lint.show(clip(model_name))}, so this price is never used{hint}",
                            "warning")
            continue
        model = catalogue.MODELS.get(model_name)
        if model is None:
            continue
        for entry, where in price_entries(model_name, price):
            reason = _ignored_price(model, entry)
            if reason:
                problems.at_key(where, reason, "warning")


def _ignored_price(model: catalogue.Model, entry: PriceEntry) -> str | None:
    """Why a declared price for a catalogue model never applies, or None if it can."""
    if model.still_price is not None:
        return (f"the catalogue prices {model.name} at {catalogue.usd(model.still_price)} per image; "
                "this entry is ignored")
    if model.rates is not None:
        rates = ", ".join(f"{catalogue.usd(r)}/s at {res}" for res, r in model.rates.per_second.items())
        return f"the catalogue prices {model.name} by the second ({rates}, plus its inputs); this entry is ignored"
    by_height = lambda rd: (catalogue.RESOLUTION_SIZES.get(rd[0], (0, 0))[1], rd[0], rd[1])  # noqa: E731
    offered = sorted({(res, dur) for options in model.options.values() for res, durs in options.items()
                      for dur in durs}, key=by_height)
    covered = [(r, d) for r, d in offered
               if (entry.resolution is None or r == entry.resolution) and (entry.duration is None or d == entry.duration)]
    if not covered:
        what = " ".join(x for x in (entry.resolution, f"{entry.duration} s" if entry.duration else None) if x)
        options: dict[str, tuple[int, ...]] = {}
        for r, d in offered:
            options[r] = (*options.get(r, ()), d)
        return (f"{model.name} does not offer {what}, so this price is never used; it offers "
                f"{catalogue.describe_options(options)}")
    known = [(r, d, model.price(r, d)) for r, d in covered]
    if any(p is None for _, _, p in known):
        return None  # it prices what the catalogue does not
    if len({p for _, _, p in known}) == 1:
        return f"the catalogue price {catalogue.usd(known[0][2])} applies; this entry is ignored"
    listed = ", ".join(f"{r} {d} s: {catalogue.usd(p)}" for r, d, p in known)
    return f"the catalogue prices apply ({listed}); this entry is ignored"
