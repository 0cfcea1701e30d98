"""The browser assets: Vega's bundle (generated from vl-convert), our renderer, CSS, themes.

Third-party JavaScript is produced here at build time from the ``vl-convert-python``
package, never kept in the repository. Usage: ``python -m attention_atlas.render.assets DIR``.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

from attention_atlas import fileio
from attention_atlas.charts.theme import DARK, LIGHT

#: File names in load order: the Vega bundle, the themes, then our renderer.
JAVASCRIPT = ("vega-embed.js", "atlas-themes.js", "atlas-charts.js")
STYLESHEETS = ("atlas.css",)


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one classic script exposing only ``vegaEmbed``.

    The bundle declares its helpers at top level; wrapping it in a function keeps them
    out of ``window``. The bundle itself assigns ``window.vegaEmbed`` (and sets
    ``window.vega``/``window.vegaLite`` to null, which are removed again). The result is
    cached: producing it takes about a second.
    """
    from importlib.metadata import version

    import vl_convert

    bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    return (
        f"/* vega-embed bundle from vl-convert-python {version('vl-convert-python')} */\n"
        "(function () {\n"
        f"{bundle}\n"
        "})();\n"
        "// The bundle sets these to null; only vegaEmbed is usable.\n"
        "if (window.vega === null) delete window.vega;\n"
        "if (window.vegaLite === null) delete window.vegaLite;\n"
    )


def themes_script() -> str:
    themes = json.dumps({"light": LIGHT, "dark": DARK}, sort_keys=True, separators=(",", ":"))
    return f"window.ATLAS_THEMES = {themes};\n"


def _static(name: str) -> str:
    return (resources.files("attention_atlas.render") / "static" / name).read_text(encoding="utf-8")


def asset_texts() -> dict[str, str]:
    """Every asset's text, keyed by file name."""
    return {
        "vega-embed.js": vega_bundle(),
        "atlas-themes.js": themes_script(),
        "atlas-charts.js": _static("atlas-charts.js"),
        "atlas.css": _static("atlas.css"),
    }


def _only_assets(folder: Path) -> bool:
    """An assets folder written before markers existed: our files and nothing else."""
    names = {p.name for p in folder.iterdir()}
    return names <= {*JAVASCRIPT, *STYLESHEETS}


def write_assets(dest: Path) -> list[str]:
    """Write the assets into ``dest``; return their names, scripts first in load order.

    ``dest`` must be new, empty, or a folder of assets written before (it carries the
    marker of :mod:`attention_atlas.fileio`); any other folder is refused with an
    ``AtlasError``. Unchanged files are not rewritten.
    """
    fileio.check_folder(dest, str(dest), kind="assets", looks_ours=_only_assets)
    texts = asset_texts()
    for name, text in texts.items():
        fileio.write_if_changed(dest / name, text)
    fileio.write_marker(dest, "assets")
    return [*JAVASCRIPT, *STYLESHEETS]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m attention_atlas.render.assets DIR")
    for written in write_assets(Path(sys.argv[1])):
        print(written)
