"""Spec to HTML: one pure function returning the snippet a Markdown page carries.

The spec travels in a single-quoted ``data-spec`` attribute, never in a ``<script>``:
Material's instant navigation re-creates scripts (turning JSON into executable code),
and JSON inside a script tag is an injection path. Inside the attribute ``<``, ``>``,
``&`` and ``'`` are written as JSON escapes, so user text in token labels reaches Vega
intact and never reaches the HTML parser as markup.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, cast

import altair as alt
from markupsafe import Markup

__all__ = [
    "CANVAS_CELLS",
    "Renderer",
    "figure_html",
    "snippet",
    "spec_json",
    "spec_title",
    "to_spec",
]

#: Charts with more cells than this are drawn on a canvas (SVG paints slowly there).
CANVAS_CELLS = 2500

Renderer = Literal["svg", "canvas"]

_ESCAPES = (
    ("&", "\\u0026"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("'", "\\u0027"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
_OPEN_BRACE = re.compile(r'\{(?!["}])')


def _normalise(obj: Any) -> Any:
    """Sort dict keys and round floats to 6 significant digits, recursively."""
    if isinstance(obj, dict):
        return {str(k): _normalise(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, list | tuple):
        return [_normalise(x) for x in obj]
    if isinstance(obj, float):
        if not math.isfinite(obj):
            msg = f"a chart spec cannot hold the number {obj!r} (JSON has no inf or nan)"
            raise ValueError(msg)
        rounded = float(f"{obj:.6g}")
        return 0.0 if rounded == 0 else rounded
    return obj


_VALIDATE: ContextVar[bool] = ContextVar("atlas_validate_specs", default=True)


@contextmanager
def schema_validation(enabled: bool) -> Iterator[None]:
    """Turn Altair's schema validation in :func:`to_spec` on or off within a block.

    Validation costs about 40% of rendering a page of charts. The test suite renders
    every scenario with it on; the site build, which renders the same charts from the
    same code, turns it off.
    """
    token = _VALIDATE.set(enabled)
    try:
        yield
    finally:
        _VALIDATE.reset(token)


def to_spec(chart: alt.TopLevelMixin | dict[str, Any]) -> dict[str, Any]:
    """The compact Vega-Lite dict a page carries: validated, floats rounded, keys sorted.

    Parameters
    ----------
    chart : altair chart or dict
        A chart (validated by ``to_dict`` unless :func:`schema_validation` turned it
        off) or a spec dict (normalised as is).

    Returns
    -------
    spec : dict
        Keys sorted at every level, floats rounded to 6 significant digits, so the same
        input gives the same JSON bytes.
    """
    spec = chart if isinstance(chart, dict) else chart.to_dict(validate=_VALIDATE.get())
    return cast(dict[str, Any], described(_normalise(spec)))


#: The field each described mark computes its spoken description into.
DESCRIPTION_FIELD = "atlas_description"


def _spoken(tip: dict[str, Any]) -> str | None:
    """Expression of one tooltip entry as read aloud: its title, then its value."""
    field = tip.get("field")
    if not isinstance(field, str):
        return None
    value = f"datum[{json.dumps(field)}]"
    if tip.get("type") == "quantitative" and isinstance(tip.get("format"), str):
        value = f"format({value}, {json.dumps(tip['format'])})"
    title = tip.get("title", field)
    title = " ".join(title) if isinstance(title, list) else str(title)
    return f"{json.dumps(title + ' ')} + {value}" if title else value


def described(spec: Any) -> Any:
    """``spec`` with a screen reader's description on every mark that has a tooltip.

    Vega describes each drawn item (``aria-label`` in SVG) from its encoding's field
    names ("c: 1; r: 1; v: 0.2863"). Each unit view whose tooltip is a list of fields
    gets a ``description`` saying the tooltip in words instead ("Query (attending) 1:
    it; Key (attended to) 2: animal; weight 0.2863"); text layered over such a mark
    (the values written in cells) is left out of the spoken page, as it repeats it,
    and other text is read as it is written ("927", not "c: 0; r: 0; t: 927").
    Changes ``spec`` in place and returns it.
    """
    if isinstance(spec, list):
        for child in spec:
            described(child)
        return spec
    if not isinstance(spec, dict):
        return spec
    encoding = spec.get("encoding")
    tooltip = encoding.get("tooltip") if isinstance(encoding, dict) else None
    if isinstance(tooltip, dict):
        tooltip = [tooltip]
    speaks = "mark" in spec and _mark_type(spec) != "text"
    text = encoding.get("text") if isinstance(encoding, dict) else None
    if not speaks and tooltip is None and isinstance(text, dict) and "field" in text:
        tooltip = [{**text, "title": ""}]  # text on its own: read what it says, no more
    elif not speaks:
        tooltip = None  # text that repeats a tooltip'd mark: see the layers below
    if (
        "mark" in spec
        and isinstance(encoding, dict)
        and isinstance(tooltip, list)
        and "description" not in encoding
    ):
        parts = [p for p in (_spoken(t) for t in tooltip if isinstance(t, dict)) if p]
        if parts:
            expr = " + '; ' + ".join(parts)
            spec["transform"] = [
                *spec.get("transform", []),
                {"calculate": expr, "as": DESCRIPTION_FIELD},
            ]
            encoding["description"] = {"field": DESCRIPTION_FIELD, "type": "nominal"}
    layers = spec.get("layer")
    if isinstance(layers, list) and any(_speaks(layer) for layer in layers):
        for layer in layers:
            if isinstance(layer, dict) and _mark_type(layer) == "text":
                mark = layer["mark"]
                layer["mark"] = {
                    **(mark if isinstance(mark, dict) else {"type": mark}),
                    "aria": False,
                }
    for key, value in spec.items():
        if key not in ("data", "datasets", "params", "transform", "encoding", "usermeta"):
            described(value)
    return spec


def _mark_type(spec: dict[str, Any]) -> str | None:
    mark = spec.get("mark")
    return mark.get("type") if isinstance(mark, dict) else mark


def _speaks(spec: Any) -> bool:
    """Whether a unit view has a tooltip (so :func:`described` gives it a description)."""
    return (
        isinstance(spec, dict)
        and _mark_type(spec) != "text"
        and isinstance(spec.get("encoding"), dict)
        and "tooltip" in spec["encoding"]
    )


def spec_json(spec: dict[str, Any]) -> str:
    """Compact, key-sorted JSON that is safe inside a single-quoted HTML attribute.

    ``<``, ``>``, ``&`` and ``'`` are written as JSON ``\\u`` escapes, so the attribute
    holds no markup, no character reference and no quote that could end it; ``{`` not
    followed by ``"`` or ``}`` (only possible inside strings) is escaped too, so a label
    like ``{{ x }}`` cannot start a template tag if the page passes through a template
    engine. ``JSON.parse`` restores every character.

    Parameters
    ----------
    spec : dict
        A Vega-Lite spec.

    Returns
    -------
    text : str
        One line of JSON.
    """
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # U+2028/U+2029 are legal in JSON but end lines in some Markdown tools.
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return _OPEN_BRACE.sub(r"\\u007b", text)


def spec_title(spec: dict[str, Any]) -> str:
    """The title text of a Vega-Lite spec, lines joined by spaces ("" without one)."""
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
        What the chart shows, for readers without scripts (with the caption);
        defaults to the chart's title.

    Returns
    -------
    html : Markup
        One line of HTML (no blank lines, so Markdown keeps it as a raw block):
        ``<figure class="atlas-figure" id="chart-…"><div class="atlas-chart"
        data-renderer="…" data-spec='…'><noscript>…</noscript></div>
        <figcaption>…</figcaption></figure>``. The id is a hash of the content, so
        identical input gives identical bytes.
    """
    spec = to_spec(chart)
    return snippet(spec, spec_json(spec), caption=caption, renderer=renderer, alt_text=alt_text)


def snippet(
    spec: dict[str, Any],
    payload: str,
    *,
    caption: str,
    renderer: Renderer | None = None,
    alt_text: str | None = None,
) -> Markup:
    """:func:`figure_html` of a spec already made by :func:`to_spec`, and its
    :func:`spec_json` ``payload`` (a :class:`~attention_atlas.charts.figure.Figure`
    computes both once)."""
    mode = _choose_renderer(spec, renderer)
    caption_text = _one_line(caption)
    described = _one_line(alt_text if alt_text is not None else spec_title(spec))
    key = "\n".join((payload, mode, caption_text, described))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    fallback = f"Interactive chart: {described}." if described else "Interactive chart."
    if caption_text:
        fallback += f" {caption_text}"
    return Markup(
        f'{FIGURE_OPENING} id="chart-{digest}">'
        f'<div class="atlas-chart" data-renderer="{mode}" data-spec=\'{payload}\'>'
        f"<noscript>{html.escape(fallback)} (Needs JavaScript.)</noscript></div>"
        f"<figcaption>{html.escape(caption_text)}</figcaption></figure>"
    )


#: How every figure of :func:`figure_html` starts (it is one line, ending ``</figure>``).
FIGURE_OPENING = '<figure class="atlas-figure"'


def _one_line(text: str) -> str:
    """Collapse whitespace (newlines included) to single spaces."""
    return " ".join(str(text).split())
