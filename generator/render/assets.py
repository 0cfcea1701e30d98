"""The browser assets as files: Vega's bundle (generated from vl-convert), our renderer,
CSS, themes (their texts come from :mod:`attention_atlas.charts.browser`).

Third-party JavaScript is produced at build time from the ``vl-convert-python``
package, never kept in the repository. Usage: ``python -m attention_atlas.render.assets DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from attention_atlas import fileio
from attention_atlas.charts.browser import (
    JAVASCRIPT,
    SEARCH_FROM_DISK,
    STYLESHEETS,
    asset_texts,
    themes_script,
    vega_bundle,
)

__all__ = [
    "JAVASCRIPT",
    "STYLESHEETS",
    "asset_texts",
    "themes_script",
    "vega_bundle",
    "write_assets",
]


def _only_assets(folder: Path) -> bool:
    """An assets folder written before markers existed: our files and nothing else."""
    names = {p.name for p in folder.iterdir()}
    return names <= {*JAVASCRIPT, *STYLESHEETS, SEARCH_FROM_DISK}


def write_assets(dest: Path) -> list[str]:
    """Write the assets into ``dest``; return their names, scripts first in load order.

    ``dest`` must be new, empty, or a folder of assets written before (it carries the
    marker of :mod:`attention_atlas.fileio`); any other folder is refused with an
    ``AtlasError``. Unchanged files are not rewritten (the Vega bundle itself is kept
    by :func:`attention_atlas.charts.browser.vega_bundle`).
    """
    fileio.check_folder(dest, str(dest), kind="assets", looks_ours=_only_assets)
    dest.mkdir(parents=True, exist_ok=True)  # one that cannot be made fails before the bundle
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
