"""Light and dark Vega-Lite configs matching Material for MkDocs' default and slate schemes.

The site loads no web fonts, so charts use the same system font stack as the page text.
Backgrounds are transparent: the page colour shows through in both schemes.

``LIGHT`` and ``DARK`` are plain dicts (Vega-Lite ``config`` objects). The browser gets them
through the assets writer, so this module is the single source of truth for chart colours.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

__all__ = [
    "ACCENT",
    "BAR_COLOR",
    "DARK",
    "FONT",
    "HIGHLIGHT",
    "LIGHT",
    "VIRIDIS_STOPS",
    "theme_config",
]

#: Accent colour marking the selected row or head (visible on viridis and both themes).
HIGHLIGHT = "#ff4081"

#: Colour of bars, and of marks in general (the config's ``mark.color``).
BAR_COLOR = "#4c78a8"

#: Bars that stand out: a highlighted position, the clicked row's weights.
ACCENT = "#f58518"

#: Material's text font stack when ``theme.font`` is ``false``.
FONT = '-apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif'

#: Vega's own ``viridis`` scheme (vega-scale), 31 stops interpolated linearly in RGB.
#: Kept here so that PNG thumbnails use exactly the colours the browser draws.
VIRIDIS_STOPS = (
    "440154470e61481a6c482575472f7d443a834144873d4e8a39568c35608d31688e2d708e2a788e27818e"
    "23888e21918d1f988b1fa08822a8842ab07f35b77943bf7154c56866cc5d7ad1518fd744a5db36bcdf27"
    "d2e21be9e51afde725"
)


def _config(*, text: str, label: str, grid: str, domain: str) -> dict[str, Any]:
    labels = {
        "labelColor": label,
        "titleColor": text,
        "labelFont": FONT,
        "titleFont": FONT,
        "labelFontSize": 11,
        "titleFontSize": 12,
    }
    return {
        "background": "transparent",
        "font": FONT,
        "view": {"stroke": None},
        "title": {
            "color": text,
            "subtitleColor": label,
            "font": FONT,
            "subtitleFont": FONT,
            "fontSize": 14,
            "fontWeight": 600,
            "subtitleFontSize": 12,
            "anchor": "start",
            "offset": 10,
        },
        "axis": {
            "labelColor": label,
            "titleColor": text,
            "gridColor": grid,
            "domainColor": domain,
            "tickColor": domain,
            "labelFont": FONT,
            "titleFont": FONT,
            "labelFontSize": 11,
            "titleFontSize": 12,
            "titleFontWeight": 600,
        },
        # Legends and facet headers read alike.
        "legend": dict(labels),
        "header": dict(labels),
        "text": {"font": FONT, "color": text},
        "mark": {"color": BAR_COLOR},
        "range": {"category": {"scheme": "tableau10"}},
    }


#: Material "default" scheme: near-black text on white.
LIGHT: dict[str, Any] = _config(
    text="#1f1f1f",
    label="#505050",
    grid="#e4e4e4",
    domain="#8a8a8a",
)

#: Material "slate" scheme: light grey text on hsl(225, 15%, 14%).
DARK: dict[str, Any] = _config(
    text="#e2e4e9",
    label="#b9bdc8",
    grid="#363b48",
    domain="#7d8292",
)


def theme_config(scheme: Literal["light", "dark"] = "light") -> dict[str, Any]:
    """Return a deep copy of the light or dark config (safe to mutate).

    Parameters
    ----------
    scheme : {"light", "dark"}
        Which Material colour scheme to match.

    Returns
    -------
    config : dict
        A Vega-Lite ``config`` object, e.g. for ``chart.configure(**config)``.
    """
    if scheme not in ("light", "dark"):
        msg = f"scheme must be 'light' or 'dark', got {scheme!r}"
        raise ValueError(msg)
    return copy.deepcopy(LIGHT if scheme == "light" else DARK)
