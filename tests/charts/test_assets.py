"""write_assets: the offline bundle, our renderer and CSS, themes from Python, no rewrites."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from attention_atlas.charts.theme import DARK, LIGHT
from attention_atlas.render import assets
from attention_atlas.render.assets import write_assets

STATIC = Path(assets.__file__).parent / "static"


def test_write_assets_returns_scripts_first_and_writes_them(tmp_path: Path) -> None:
    names = write_assets(tmp_path / "atlas")
    assert names == ["vega-embed.js", "atlas-themes.js", "atlas-charts.js", "atlas.css"]
    for name in names:
        assert (tmp_path / "atlas" / name).stat().st_size > 0
    ours = (tmp_path / "atlas" / "atlas-charts.js").read_bytes()
    assert ours == (STATIC / "atlas-charts.js").read_bytes()


def test_bundle_is_wrapped_so_only_vega_embed_is_exposed(tmp_path: Path) -> None:
    write_assets(tmp_path)
    text = (tmp_path / "vega-embed.js").read_text(encoding="utf-8")
    assert text.splitlines()[1] == "(function () {"
    assert "window.vegaEmbed=" in text.replace(" ", "")
    assert "delete window.vega;" in text
    assert len(text) > 500_000


def test_themes_script_carries_the_python_themes(tmp_path: Path) -> None:
    write_assets(tmp_path)
    text = (tmp_path / "atlas-themes.js").read_text(encoding="utf-8")
    prefix = "window.ATLAS_THEMES = "
    assert text.startswith(prefix)
    themes = json.loads(text[len(prefix) :].rstrip().rstrip(";"))
    assert themes == {"light": LIGHT, "dark": DARK}
    assert LIGHT["background"] == DARK["background"] == "transparent"
    assert LIGHT["axis"]["labelColor"] != DARK["axis"]["labelColor"]


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    write_assets(tmp_path)
    target = tmp_path / "atlas-charts.js"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    stale = tmp_path / "atlas.css"
    stale.write_text("/* old */", encoding="utf-8")
    write_assets(tmp_path)
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert stale.read_bytes() == (STATIC / "atlas.css").read_bytes()


def test_renderer_script_stays_offline_and_eval_free() -> None:
    js = (STATIC / "atlas-charts.js").read_text(encoding="utf-8")
    for banned in ("eval(", "new Function", "http://", "https://", "innerHTML", "fetch("):
        assert banned not in js, banned
    for needed in ("DOMContentLoaded", "document$", "MutationObserver", "data-md-color-scheme"):
        assert needed in js, needed
    css = (STATIC / "atlas.css").read_text(encoding="utf-8")
    assert "overflow-x: auto" in css
    assert "url(" not in css


def test_a_cache_record_that_vouches_for_nothing_or_a_cache_that_cannot_be_written(
    counted_bundles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle is made again, never read on a bad record, and a cache folder that
    cannot be written costs only the time of making it (kept and checked: test_cache)."""
    from attention_atlas.charts import browser

    def fresh() -> str:
        """vega_bundle() as a new process sees it (nothing kept in memory)."""
        browser.vega_bundle.cache_clear()
        return browser.vega_bundle()

    assert "var bundle0;" in fresh()
    assert "var bundle0;" in fresh() and len(counted_bundles) == 1
    (record,) = (tmp_path / "cache" / "vega").glob("*/vega-embed.json")
    record.write_bytes(b"\x89 garbled")
    assert "var bundle1;" in fresh()
    record.write_text("[" * 5000, encoding="utf-8")  # too long to be a record
    assert "var bundle2;" in fresh()
    monkeypatch.setenv("ATTENTION_ATLAS_CACHE", str(record))  # a file: cannot be written
    assert "var bundle3;" in fresh() and "var bundle4;" in fresh()
