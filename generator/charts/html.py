"""Spec to HTML: one pure function returning the snippet a Markdown page carries.

The spec travels in a single-quoted ``data-spec`` attribute, never in a ``<script>``:
Material's instant navigation re-creates scripts (turning JSON into executable code),
and JSON inside a script tag is an injection path. Inside the attribute ``<``, ``>``
and ``&`` are written as JSON escapes and ``'`` as an HTML entity, so user text in
token labels reaches Vega intact and never reaches the HTML parser as markup.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any, Literal, cast

import altair as alt
from markupsafe import Markup

__all__ = ["CANVAS_CELLS", "figure_html", "spec_json", "to_spec"]

#: Charts with more cells than this are drawn on a canvas (SVG paints slowly there).
CANVAS_CELLS = 2500

Renderer = Literal["svg", "canvas"]


def to_spec(chart: alt.TopLevelMixin | dict[str, Any]) -> dict[str, Any]:
    """The validated Vega-Lite dict of ``chart`` (a dict passes through unchanged)."""
    if isinstance(chart, dict):
        return chart
    return chart.to_dict(validate=True)


def spec_json(spec: dict[str, Any]) -> str:
    """Compact, key-sorted JSON with ``<``, ``>`` and ``&`` escaped (safe inside HTML)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _title_text(spec: dict[str, Any]) -> str:
    title = spec.get("title", "")
    if isinstance(title, dict):
        title = title.get("text", "")
    if isinstance(title, list):
        title = " ".join(str(t) for t in title)
    return str(title)


def _choose_renderer(spec: dict[str, Any], renderer: Renderer | None) -> Renderer:
    if renderer is not None:
        if renderer not in ("svg", "canvas"):
            msg = f"renderer must be 'svg' or 'canvas', got {renderer!r}"
            raise ValueError(msg)
        return renderer
    meta = spec.get("usermeta", {}).get("atlas", {})
    hint = meta.get("renderer")
    if hint in ("svg", "canvas"):
        return cast(Renderer, hint)
    return "canvas" if int(meta.get("cells", 0)) > CANVAS_CELLS else "svg"


def figure_html(
    chart: alt.TopLevelMixin | dict[str, Any],
    *,
    caption: str,
    renderer: Renderer | None = None,
    alt_text: str | None = None,
) -> Markup:
    """The HTML figure that embeds ``chart`` in a page.

    Parameters
    ----------
    chart : altair chart or dict
        The chart, or its Vega-Lite spec.
    caption : str
        One line saying how to read the chart (plain text; escaped here).
    renderer : {"svg", "canvas"}, optional
        Default: the chart's own hint, else canvas above ``CANVAS_CELLS`` cells.
    alt_text : str, optional
        Text shown when scripts cannot run; defaults to the chart's title.

    Returns
    -------
    html : Markup
        One line of HTML (no blank lines, so Markdown keeps it as a raw block). Its id
        is derived from the spec, so identical input gives identical bytes.
    """
    spec = to_spec(chart)
    payload = spec_json(spec)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]
    mode = _choose_renderer(spec, renderer)
    title = alt_text if alt_text is not None else _title_text(spec)
    attr = payload.replace("'", "&#39;")
    return Markup(
        f'<figure class="atlas-figure" id="chart-{digest}">'
        f'<div class="atlas-chart" data-renderer="{mode}" data-spec=\'{attr}\'>'
        f"<noscript>Chart: {html.escape(title)} (needs JavaScript).</noscript></div>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )
