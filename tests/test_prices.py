"""Declared prices: `prices:` in the manifest, and catalogue.price_of, which answers what a video
costs (the catalogue's official price first, then the manifest's, else unknown, never $0)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.minimax import catalogue
from pipeline.manifest import cache as manifestcache
from pipeline.minimax.catalogue import Price, price_of
from pipeline.manifest.checker import check, load
from pipeline.manifest.models import ManifestPrices, PriceEntry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "manifests" / "example.yaml"
VALID = ROOT / "tests" / "manifests" / "valid"

PRICES = """\
version: 1
name: p
max_cost: 3
prices:
  S2V-01: 0.43
  T2V-01-Director:
    720P: 0.5
  I2V-01:
    720P: {6: 0.45}
  Some-Future-Model:
    per_second: 0.08
  Another:
    768P: {per_second: 0.13}
  MiniMax-Hailuo-02: 0.3
shots:
  - {id: a, mode: text_to_video, model: T2V-01-Director, prompt: x}
  - {id: b, mode: text_to_video, model: Some-Future-Model, prompt: x}
  - {id: c, mode: text_to_video, model: Another, prompt: x}
  - {id: d, mode: text_to_video, model: MiniMax-Hailuo-02, prompt: x}
  - {id: e, mode: image_to_video, model: I2V-01, first_frame_image: https://example.com/a.jpg}
  - {id: f, mode: subject_reference, model: S2V-01, subject_image: https://example.com/f.jpg}
"""


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> ManifestPrices:
    path = tmp_path_factory.mktemp("prices") / "m.yaml"
    path.write_text(PRICES, encoding="utf-8")
    return load(path).prices


def video(model: str, resolution: str | None, duration: int | None):
    return SimpleNamespace(model=model, resolution=resolution, duration=duration)


# -- the typed prices ----------------------------------------------------------------------------


def test_each_written_price_is_one_entry_with_its_line(declared):
    assert declared.entries == (
        PriceEntry(model="S2V-01", usd=0.43, line=5),
        PriceEntry(model="T2V-01-Director", resolution="720P", usd=0.5, line=7),
        PriceEntry(model="I2V-01", resolution="720P", duration=6, usd=0.45, line=9),
        PriceEntry(model="Some-Future-Model", usd=0.08, per_second=True, line=11),
        PriceEntry(model="Another", resolution="768P", usd=0.13, per_second=True, line=13),
        PriceEntry(model="MiniMax-Hailuo-02", usd=0.3, line=14),
    )
    assert declared.models() == ["S2V-01", "T2V-01-Director", "I2V-01", "Some-Future-Model", "Another",
                                 "MiniMax-Hailuo-02"]
    assert bool(declared) and not ManifestPrices()


def test_a_manifest_without_prices_has_empty_prices():
    m = load(ROOT / "manifests" / "minimal.yaml")
    assert m.prices == ManifestPrices() and not m.prices


# -- price_of: every form, catalogue first ---------------------------------------------------------

TABLE = [
    # the catalogue's official price, whatever the manifest says
    (("MiniMax-Hailuo-02", "768P", 6), Price(0.28, "catalogue", "$0.28 per video (catalogue)")),
    (("MiniMax-Hailuo-02", "1080P", 6), Price(0.49, "catalogue", "$0.49 per video (catalogue)")),
    (("MiniMax-Hailuo-2.3-Fast", "768P", 10), Price(0.32, "catalogue", "$0.32 per video (catalogue)")),
    # a number for the model: any resolution and duration, even none (the 01-series send none)
    (("S2V-01", "720P", 6), Price(0.43, "manifest", "$0.43 per video (manifest line 5)")),
    (("S2V-01", None, None), Price(0.43, "manifest", "$0.43 per video (manifest line 5)")),
    # a number at a resolution
    (("T2V-01-Director", "720P", 6), Price(0.5, "manifest", "$0.50 per video (manifest line 7)")),
    (("T2V-01-Director", "768P", 6), Price(None, None, "no known price: prices: has T2V-01-Director "
                                                        "(manifest line 7), not at 768P 6 s; add it under "
                                                        "prices: in the manifest")),
    (("T2V-01-Director", None, None), Price(None, None, "no known price: prices: has T2V-01-Director "
                                                         "(manifest line 7), the shot has no resolution to "
                                                         "look up; add it under prices: in the manifest")),
    # a number at a resolution and duration
    (("I2V-01", "720P", 6), Price(0.45, "manifest", "$0.45 per video (manifest line 9)")),
    (("I2V-01", "720P", 10), Price(None, None, "no known price: prices: has I2V-01 (manifest line 9), not at "
                                               "720P 10 s; add it under prices: in the manifest")),
    # per second for the model
    (("Some-Future-Model", None, 6), Price(0.48, "manifest", "$0.08/s x 6 s = $0.48 (manifest line 11)")),
    (("Some-Future-Model", "1080P", 10), Price(0.8, "manifest", "$0.08/s x 10 s = $0.80 (manifest line 11)")),
    (("Some-Future-Model", "768P", None), Price(None, None, "no known price: Some-Future-Model is priced per "
                                                            "second (manifest line 11) but the shot has no "
                                                            "duration; set duration: on the shot")),
    # per second at a resolution
    (("Another", "768P", 6), Price(0.78, "manifest", "$0.13/s x 6 s = $0.78 (manifest line 13)")),
    (("Another", "1080P", 6), Price(None, None, "no known price: prices: has Another (manifest line 13), not "
                                                "at 1080P 6 s; add it under prices: in the manifest")),
    # the catalogue wins where it has a price; the manifest's model-level price fills the rest
    (("MiniMax-Hailuo-02", "512P", 10), Price(0.15, "catalogue", "$0.15 per video (catalogue)")),
    (("MiniMax-Hailuo-02", "720P", 6), Price(0.3, "manifest", "$0.30 per video (manifest line 14)")),
    # nothing known at all
    (("T2V-01", "720P", 6), Price(None, None, "no known price: add it under prices: in the manifest")),
    (("Brand-New", None, None), Price(None, None, "no known price: add it under prices: in the manifest")),
]


@pytest.mark.parametrize("spec, expected", TABLE, ids=[f"{m}-{r}-{d}" for (m, r, d), _ in TABLE])
def test_price_of(declared, spec, expected):
    assert price_of(video(*spec), declared) == expected


@pytest.mark.parametrize("prices", [None, ManifestPrices()])
def test_without_declared_prices_only_the_catalogue_prices(prices):
    assert price_of(video("MiniMax-Hailuo-02", "768P", 10), prices) == Price(0.56, "catalogue",
                                                                             "$0.56 per video (catalogue)")
    assert price_of(video("S2V-01", "720P", 6), prices) == Price(
        None, None, "no known price: add it under prices: in the manifest")
    assert price_of(video("S2V-01", "720P", 6)).usd is None


def test_the_most_specific_entry_wins():
    entries = ManifestPrices(entries=(
        PriceEntry(model="X", usd=1.0, line=3),
        PriceEntry(model="X", resolution="768P", usd=0.1, per_second=True, line=4),
        PriceEntry(model="X", resolution="768P", duration=6, usd=0.5, line=5),
    ))
    assert price_of(video("X", "768P", 6), entries) == Price(0.5, "manifest", "$0.50 per video (manifest line 5)")
    assert price_of(video("X", "768P", 10), entries).how == "$0.10/s x 10 s = $1.00 (manifest line 4)"
    assert price_of(video("X", "1080P", 6), entries).how == "$1.00 per video (manifest line 3)"
    assert price_of(video("X", None, None), entries).usd == 1.0
    no_line = ManifestPrices(entries=(PriceEntry(model="X", usd=0.125),))
    assert price_of(video("X", None, None), no_line) == Price(0.125, "manifest", "$0.125 per video (manifest)")


def test_a_zero_price_is_a_known_price():
    free = ManifestPrices(entries=(PriceEntry(model="X", usd=0.0, line=2),))
    assert price_of(video("X", None, None), free) == Price(0.0, "manifest", "$0.00 per video (manifest line 2)")


def test_usd_shows_cents_and_more_digits_only_when_there_are_more():
    assert [catalogue.usd(v) for v in (0, 0.28, 0.5, 3, 0.125, 0.08 * 6)] == [
        "$0.00", "$0.28", "$0.50", "$3.00", "$0.125", "$0.48"]


# -- MiniMax-H3: per second, images past the free ones, reference video by the second ------------------


def h3(model: str, resolution: str | None, duration: int | None, **inputs):
    return SimpleNamespace(model=model, resolution=resolution, duration=duration, **inputs)


H3_TABLE = [
    # output seconds at the resolution's rate (A8): 768P $0.08/s, 2K $0.13/s; H3-Max 480P $0.05/s, 768P $0.08/s
    (h3("MiniMax-H3", "768P", 6), Price(0.48, "catalogue", "$0.08/s x 6 s = $0.48 (catalogue)")),
    (h3("MiniMax-H3", "2K", 10), Price(1.3, "catalogue", "$0.13/s x 10 s = $1.30 (catalogue)")),
    (h3("MiniMax-H3-Max", "480P", 5), Price(0.25, "catalogue", "$0.05/s x 5 s = $0.25 (catalogue)")),
    (h3("MiniMax-H3-Max", "768P", 15), Price(1.2, "catalogue", "$0.08/s x 15 s = $1.20 (catalogue)")),
    # images: frames and references alike; H3's first 5 are free, then $0.04 each (the notes' example:
    # 9 reference images add $0.16); H3-Max's first 2, then $0.074
    (h3("MiniMax-H3", "768P", 6, first_frame_image="a.png", last_frame_image="b.png"),
     Price(0.48, "catalogue", "$0.08/s x 6 s = $0.48 (catalogue)")),
    (h3("MiniMax-H3", "768P", 6, reference_images=("a",) * 9),
     Price(0.64, "catalogue", "$0.08/s x 6 s + 4 images past 5 free x $0.04 = $0.64 (catalogue)")),
    (h3("MiniMax-H3", "768P", 6, first_frame_image="a", reference_images=("a",) * 5),
     Price(0.52, "catalogue", "$0.08/s x 6 s + 1 image past 5 free x $0.04 = $0.52 (catalogue)")),
    (h3("MiniMax-H3-Max", "768P", 6, first_frame_image="a.png", last_frame_image="b.png"),
     Price(0.48, "catalogue", "$0.08/s x 6 s = $0.48 (catalogue)")),
    (h3("MiniMax-H3-Max", "480P", 10, reference_images=("a",) * 4),
     Price(0.648, "catalogue", "$0.05/s x 10 s + 2 images past 2 free x $0.074 = $0.648 (catalogue)")),
    # reference video: its seconds (rounded up, all together) at the output rate; H3-Max's own rate
    (h3("MiniMax-H3", "768P", 6, reference_videos=("w.mp4",), reference_video_seconds=(3.0,)),
     Price(0.72, "catalogue", "$0.08/s x 6 s + 3 s reference video x $0.08/s = $0.72 (catalogue)")),
    (h3("MiniMax-H3", "2K", 8, reference_videos=("w.mp4", "v.mp4"), reference_video_seconds=(2.4, 2.5)),
     Price(1.69, "catalogue", "$0.13/s x 8 s + 5 s reference video x $0.13/s = $1.69 (catalogue)")),
    (h3("MiniMax-H3-Max", "768P", 5, reference_videos=("w.mp4",), reference_video_seconds=(4.0,)),
     Price(0.972, "catalogue", "$0.08/s x 5 s + 4 s reference video x $0.143/s = $0.972 (catalogue)")),
    (h3("MiniMax-H3-Max", "480P", 5, reference_videos=("w.mp4",), reference_video_seconds=(4.0,)),
     Price(0.4712, "catalogue", "$0.05/s x 5 s + 4 s reference video x $0.0553/s = $0.4712 (catalogue)")),
    # a video of unknown length (a URL): priced at the most the API takes in all (15 s), said so
    (h3("MiniMax-H3", "768P", 6, reference_videos=("https://x/w.mp4",), reference_video_seconds=(None,)),
     Price(1.68, "catalogue", "$0.08/s x 6 s + at most 15 s reference video (length unknown) x $0.08/s "
                              "= at most $1.68 (catalogue)")),
    (h3("MiniMax-H3", "768P", 6, reference_videos=("w.mp4", "https://x/w.mp4"), reference_video_seconds=(3.0, None)),
     Price(1.68, "catalogue", "$0.08/s x 6 s + at most 15 s reference video (1 of unknown length) x $0.08/s "
                              "= at most $1.68 (catalogue)")),
    (h3("MiniMax-H3", "768P", 6, reference_videos=("w.mp4",)),  # a shot built without the check's probe
     Price(1.68, "catalogue", "$0.08/s x 6 s + at most 15 s reference video (length unknown) x $0.08/s "
                              "= at most $1.68 (catalogue)")),
    # reference audio is free
    (h3("MiniMax-H3", "768P", 6, reference_images=("a",), reference_audio=("h.wav",) * 3),
     Price(0.48, "catalogue", "$0.08/s x 6 s = $0.48 (catalogue)")),
    # a resolution the model has no rate for, no duration: unknown, saying why
    (h3("MiniMax-H3", "1080P", 6), Price(None, None, "no known price: MiniMax-H3 is priced per second, but it "
                                                     "has no price at 1080P")),
    (h3("MiniMax-H3", "768P", None), Price(None, None, "no known price: MiniMax-H3 is priced per second, but the "
                                                       "shot has no duration")),
]


@pytest.mark.parametrize("shot, expected", H3_TABLE, ids=[f"h3-{i}" for i in range(len(H3_TABLE))])
def test_price_of_h3(declared, shot, expected):
    assert price_of(shot, declared) == expected


def test_h3_prices_are_data_in_the_catalogue():
    """One place: the per-second rates, the free images and their surcharge, the reference-video rate."""
    rates = catalogue.MODELS["MiniMax-H3"].rates
    assert (dict(rates.per_second), rates.free_images, rates.per_image) == ({"768P": 0.08, "2K": 0.13}, 5, 0.04)
    assert rates.reference_video_per_second == rates.per_second
    fast = catalogue.MODELS["MiniMax-H3-Max"].rates
    assert (dict(fast.per_second), fast.free_images, fast.per_image) == ({"480P": 0.05, "768P": 0.08}, 2, 0.074)
    assert dict(fast.reference_video_per_second) == {"480P": 0.0553, "768P": 0.143}
    for name in ("MiniMax-H3", "MiniMax-H3-Max"):
        model = catalogue.MODELS[name]
        assert set(model.rates.per_second) == {r for opts in model.options.values() for r in opts}
        assert model.price("768P", 6) == 0.48 and not model.prices


def test_a_declared_price_for_h3_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nname: p\nprices:\n  MiniMax-H3: {per_second: 0.1}\nshots:\n"
                    "  - {id: a, mode: text_to_video, model: MiniMax-H3, ratio: '1:1', prompt: x}\n", encoding="utf-8")
    assert [str(p) for p in check(path)] == [
        f"{path}:4:16: warning: field 'prices.MiniMax-H3.per_second': the catalogue prices MiniMax-H3 by the second "
        "($0.08/s at 768P, $0.13/s at 2K, plus its inputs); this entry is ignored"]
    assert price_of(load(path).shots[0], load(path).prices).how == "$0.08/s x 6 s = $0.48 (catalogue)"


# -- the example is fully priced -----------------------------------------------------------------


def test_the_example_is_fully_priced_and_within_its_max_cost():
    m = load(EXAMPLE)
    prices = {s.id: price_of(s, m.prices) for s in m.shots}
    assert all(p.usd is not None for p in prices.values()), prices
    assert prices["s06-visitor"].source == "manifest"
    line = next(i for i, text in enumerate(EXAMPLE.read_text().splitlines(), 1) if text.startswith("  S2V-01:"))
    assert prices["s06-visitor"].how == f"$0.43 per video (manifest line {line})"
    assert {p.source for k, p in prices.items() if k != "s06-visitor"} == {"catalogue"}
    total = sum(prices[s.id].usd * s.takes for s in m.shots)
    assert total <= m.settings.max_cost


# -- where the settings are ------------------------------------------------------------------------


def test_where_names_the_file_line_and_column_of_a_setting(tmp_path, monkeypatch):
    m = load(EXAMPLE)
    line = next(i for i, text in enumerate(EXAMPLE.read_text().splitlines(), 1) if text.startswith("max_cost:"))
    assert m.where("max_cost") == f"{EXAMPLE}:{line}:11"
    assert m.setting_lines["max_cost"] == line
    assert m.where("poll_interval") is None
    monkeypatch.chdir(ROOT)
    assert load("manifests/example.yaml").where("max_cost") == f"manifests/example.yaml:{line}:11"
    path = tmp_path / "m.yaml"
    path.write_text(PRICES, encoding="utf-8")
    m = load(path)
    assert m.setting_positions == {"version": (1, 10), "name": (2, 7), "max_cost": (3, 11), "prices": (4, 1),
                                   "shots": (15, 1)}
    assert m.where("prices") == f"{path}:4:1"


# -- the cache gives the same prices and positions ------------------------------------------------


def test_a_cached_manifest_has_identical_prices_and_setting_positions(tmp_path, monkeypatch):
    monkeypatch.setattr(manifestcache, "MIN_SHOTS", 1)
    path = tmp_path / "m.yaml"
    path.write_text(PRICES, encoding="utf-8")
    fresh = manifestcache.load(path)  # a miss: checked, then stored
    assert fresh.prices

    def no_check(_path):
        raise AssertionError("the entry was not used")

    monkeypatch.setattr(manifestcache, "_check", no_check)
    cached = manifestcache.load(path)
    assert cached.prices == fresh.prices
    assert type(cached.prices.entries) is tuple
    assert cached.setting_positions == fresh.setting_positions
    assert cached.where("max_cost") == fresh.where("max_cost") == f"{path}:3:11"
    assert cached == fresh
    assert [price_of(s, cached.prices) for s in cached.shots] == [price_of(s, fresh.prices) for s in fresh.shots]


# -- what the checker says about prices that never apply ----------------------------------------------


def test_prices_that_never_apply_are_warnings_that_say_why():
    path = VALID / "prices-that-never-apply.yaml"
    assert [str(p).removeprefix(f"{path}:") for p in check(path)] == [
        "7:20: warning: field 'prices.T2V-01.720P.10': T2V-01 does not offer 720P 10 s, so this price is never "
        "used; it offers 720P: 6 s",
        "8:3: warning: field 'prices.T2V-01-Directr': no shot uses T2V-01-Directr, so this price is never used; "
        "did you mean 'T2V-01-Director'?",
        "10:12: warning: field 'prices.MiniMax-Hailuo-02.768P.6': the catalogue price $0.28 applies; this entry "
        "is ignored",
        "11:3: warning: field 'prices.MiniMax-Hailuo-2.3': the catalogue prices apply (768P 6 s: $0.28, "
        "768P 10 s: $0.56, 1080P 6 s: $0.49); this entry is ignored",
        "12:3: warning: field 'prices.S2V-01': no shot uses S2V-01, so this price is never used; the shots use "
        "T2V-01, T2V-01-Director, MiniMax-Hailuo-02, MiniMax-Hailuo-2.3",
    ]
    m = load(path)
    a = m.shot("a")
    assert price_of(a, m.prices).usd == 0.4  # the 6 s entry still applies


def test_a_price_entry_with_an_error_gets_no_warning_as_well(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nname: p\nprices:\n  Unused: -1\n  Also-Unused: 1\n"
                    "shots: [{id: a, mode: text_to_video, prompt: x}]\n", encoding="utf-8")
    assert [str(p).removeprefix(f"{path}:") for p in check(path)] == [
        "4:11: field 'prices.Unused': must be at least 0, got -1",
        "5:3: warning: field 'prices.Also-Unused': no shot uses Also-Unused, so this price is never used; "
        "the shots use MiniMax-Hailuo-02",
    ]


def test_the_default_model_counts_as_used(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nname: p\nprices:\n  S2V-01: 0.43\n"
                    "shots: [{id: a, mode: subject_reference, subject_image: 'https://example.com/a.jpg'}]\n",
                    encoding="utf-8")
    assert check(path) == []
    m = load(path)
    assert price_of(m.shots[0], m.prices) == Price(0.43, "manifest", "$0.43 per video (manifest line 4)")
