"""The browser half of every chart, as text: the Vega bundle, the themes, the renderer.

A page (through :mod:`attention_atlas.render.assets`, which writes these as files) and a
notebook (through :mod:`attention_atlas.charts.notebook`, which inlines them) load the
same scripts. Third-party JavaScript is produced here at run time from the
``vl-convert-python`` package, never kept in the repository; the renderer and its
stylesheet are package data (``render/static/``).
"""

from __future__ import annotations

import contextlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from attention_atlas import fileio
from attention_atlas.charts.theme import DARK, LIGHT

__all__ = [
    "JAVASCRIPT",
    "SEARCH_FROM_DISK",
    "STYLESHEETS",
    "asset_texts",
    "themes_script",
    "vega_bundle",
]

#: File names in load order: the Vega bundle, the themes, then our renderer.
JAVASCRIPT = ("vega-embed.js", "atlas-themes.js", "atlas-charts.js")
STYLESHEETS = ("atlas.css",)
#: Loaded before the theme's own script (Material's ``extra.polyfills``): the site's
#: search finds shapes in any spelling, also from disk.
SEARCH_FROM_DISK = "atlas-search.js"


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one classic script exposing only ``vegaEmbed``.

    The bundle declares its helpers at top level; wrapping it in a function keeps them
    out of ``window``. The bundle itself assigns ``window.vegaEmbed`` (and sets
    ``window.vega``/``window.vegaLite`` to null, which are removed again). Producing it
    takes about a second, so it is kept: in this process, and in the user's cache
    folder for the next command (see :func:`_cached_bundle`).
    """
    source = _bundle_source()
    kept = _cached_bundle(source)
    if kept is not None:
        return kept
    import vl_convert

    bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    text = (
        f"/* vega-embed bundle from {source} */\n"
        "(function () {\n"
        f"{bundle}\n"
        "})();\n"
        "// The bundle sets these to null; only vegaEmbed is usable.\n"
        "if (window.vega === null) delete window.vega;\n"
        "if (window.vegaLite === null) delete window.vegaLite;\n"
    )
    _keep_bundle(source, text)
    return text


def _bundle_source() -> str:
    """What the Vega bundle is made from: the installed vl-convert-python release."""
    from importlib.metadata import version

    return f"vl-convert-python {version('vl-convert-python')}"


def _bundle_files(source: str) -> tuple[Path, Path]:
    """The cached bundle of ``source`` and its record (size and SHA-256)."""
    folder = fileio.cache_root() / "vega" / source.replace(" ", "-")
    return folder / "vega-embed.js", folder / "vega-embed.json"


def _cached_bundle(source: str) -> str | None:
    """The bundle kept in the user's cache, when its record vouches for it; else None.

    The file is sized before it is read and its hash checked after; anything else
    (missing, another size or hash, a link, an unreadable record) means making it again.
    """
    path, record = _bundle_files(source)
    try:
        if record.is_symlink() or record.stat().st_size > 4096:
            return None
        made = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return fileio.read_vouched(path, made)


def _keep_bundle(source: str, text: str) -> None:
    """Write the bundle and its record into the user's cache; a cache that cannot be
    written only means the next command makes the bundle again."""
    path, record = _bundle_files(source)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fileio.write_atomic(path, text)
        fileio.write_atomic(record, json.dumps(fileio.vouch(text)))


def themes_script() -> str:
    """``window.ATLAS_THEMES``: the light and dark Vega configs of :mod:`.theme`."""
    themes = json.dumps({"light": LIGHT, "dark": DARK}, sort_keys=True, separators=(",", ":"))
    return f"window.ATLAS_THEMES = {themes};\n"


def _static(name: str) -> str:
    # Package data beside the render room's writer; read as a file, not imported.
    folder = resources.files("attention_atlas") / "render" / "static"
    return (folder / name).read_text(encoding="utf-8")


def asset_texts() -> dict[str, str]:
    """Every asset's text, keyed by file name (scripts in load order, then CSS)."""
    return {
        "vega-embed.js": vega_bundle(),
        "atlas-themes.js": themes_script(),
        "atlas-charts.js": _static("atlas-charts.js"),
        "atlas.css": _static("atlas.css"),
        SEARCH_FROM_DISK: _static(SEARCH_FROM_DISK),
    }
