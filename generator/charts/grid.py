"""Every head at every depth in one chart: a layers x heads grid and the picked head large.

The small maps travel as one PNG thumbnail per head (viridis, the colours of the cells,
pooled to at most ``THUMB_SIDE`` pixels a side), which paints fast at any size; below
``THUMBNAIL_CELLS`` cells they may travel as quantised cells instead. The opened head,
on the right of the grid or below it (``layout``), always shows its cells with exact
(quantised) values on hover:

* inline: every head's codes in one param (small maps; the chart is self-contained);
* on demand: above ``INLINE_CODES_BYTES`` of codes, when the caller gives a
  ``head_data`` URL prefix, each head's codes live in a small script file written
  beside the page (:func:`head_data_files`); ``atlas-charts.js`` loads the opened
  head's file and sets the chart's params (protocol in :func:`head_data_files`).
  Above ``DETAIL_IMAGE_CELLS`` cells a head, it paints the head as one image from
  those codes and finds the hovered cell from the pointer, instead of Vega drawing
  a mark per cell;
* none: too large and no ``head_data``: the enlarged head is its thumbnail, and the
  chart says hovering gives no cell values.
"""

from __future__ import annotations

import base64
import io
import json
from functools import lru_cache
from typing import Any, Literal, cast

import altair as alt
import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention import block_edges, pool_map
from attention_atlas.charts.encoding import encode_matrix, js_number, label_list
from attention_atlas.charts.theme import HIGHLIGHT, VIRIDIS_STOPS
from attention_atlas.charts.toolkit import (
    add_top_level,
    atlas_usermeta,
    calculate_transforms,
    cell_tooltip,
    chart_title,
    check_positions,
    condition_channel,
    position_encoding,
    position_label,
    quantised_title,
    restrict_views,
    unchecked,
    unchecked_param,
    value_channel,
)
from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.text import hidden_marks, size_text

__all__ = [
    "DETAIL_IMAGE_CELLS",
    "HEAD_FILE",
    "INLINE_CODES_BYTES",
    "THUMBNAIL_CELLS",
    "THUMB_SIDE",
    "code_colours",
    "exact_image_meta",
    "head_data_files",
    "head_file",
    "head_grid_chart",
    "viridis_lut",
]

#: Above this many cells in all heads together, the small maps are drawn as PNG
#: thumbnails (``thumbnails=None``). 0: always (measured faster, see the notes below).
THUMBNAIL_CELLS = 0

#: Longest side of a thumbnail in pixels; larger maps are pooled into blocks first.
#: The grid draws a head at most 72 px wide, so more pixels would only add weight
#: (at 128 tokens, 128 px thumbnails doubled the page).
THUMB_SIDE = 64

#: Largest inline payload of exact codes (2 bytes a cell, all heads); above it the
#: opened head's values are loaded on demand (given ``head_data``) or not sent.
INLINE_CODES_BYTES = 400_000

#: Width in pixels the enlarged head aims at (cells of 1 to 22 pixels).
DETAIL_SIDE = 440

#: Above this many cells (64 x 64), a head opened on demand is drawn as one image
#: made in the browser from its codes, and ``atlas-charts.js`` finds the hovered cell
#: from the pointer; below it every cell is a mark. Vega builds about 70,000 marks a
#: second, so marks cost 0.4 s at 128 tokens and 3-4 s at 500; the image 0.1 s.
DETAIL_IMAGE_CELLS = 4_096

#: Name of the JavaScript function a per-head data file calls (atlas-charts.js defines it).
REGISTER = "atlasHeadData"

Reduce = Literal["mean", "max"]
Layout = Literal["side", "below"]

#: The hint under the title, by layout: where the opened head is.
OPEN_HINT = {
    "side": "Click a map, or use the menus, to open one head on the right.",
    "below": "Click a map, or use the menus, to open one head below the grid.",
}


@lru_cache(maxsize=1)
def viridis_lut() -> NDArray[np.uint8]:
    """(256, 3) RGB colours of Vega's viridis, interpolated linearly between its stops."""
    stops = np.frombuffer(bytes.fromhex(VIRIDIS_STOPS), dtype=np.uint8).reshape(-1, 3)
    at = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, at, stops[:, ch].astype(np.float64)) for ch in range(3)], axis=1)
    return np.rint(lut).astype(np.uint8)


def png_data_url(
    weights: NDArray[np.float64], domain: tuple[float, float] = (0.0, 1.0), *, sqrt: bool = False
) -> str:
    """One map, shape (N, M), as a viridis PNG (one pixel per cell) in a data URL.

    ``sqrt=True`` colours by the square root of the position in ``domain``, as a
    Vega-Lite ``sqrt`` colour scale does, so small weights stand apart.

    The image is a palette PNG holding only the viridis colours it uses (one byte a
    pixel before compression), or true colour when that is smaller (tiny maps); both
    decode to the same RGB pixels. Non-finite cells are drawn as the lowest colour.
    """
    from PIL import Image

    lo, hi = domain
    codes = _lut_index((np.asarray(weights, dtype=np.float64) - lo) / (hi - lo), sqrt)
    lut = viridis_lut()
    used, index = np.unique(codes, return_inverse=True)
    palette = Image.fromarray(index.reshape(codes.shape).astype(np.uint8), mode="L").convert("P")
    palette.putpalette(lut[used].tobytes())
    candidates = []
    for image in (palette, Image.fromarray(lut[codes], mode="RGB")):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=9)
        candidates.append(buffer.getvalue())
    best = min(candidates, key=len)
    return "data:image/png;base64," + base64.b64encode(best).decode("ascii")


def _lut_index(scaled: NDArray[np.float64], sqrt: bool) -> NDArray[np.uint8]:
    """Row of :func:`viridis_lut` for positions in [0, 1] (clipped; NaN as 0), any shape."""
    scaled = np.clip(np.nan_to_num(scaled), 0.0, 1.0)
    if sqrt:
        scaled = np.sqrt(scaled)
    return np.rint(scaled * 255).astype(np.uint8)


def code_colours(step: float, *, sqrt: bool = False) -> str:
    """The colour of each quantised code 0..255 (value ``code * step``), as 256 ``rrggbb``.

    The colours :func:`png_data_url` gives those values, so an image drawn from the
    codes in the browser matches the thumbnails and the legend.
    """
    values = np.arange(256, dtype=np.float64) * step
    return viridis_lut()[_lut_index(values, sqrt)].tobytes().hex()


def thumbnail_blocks(n: int, m: int, side: int = THUMB_SIDE) -> tuple[int, int]:
    """Pixels (R, C) of the thumbnail of an (N, M) map: each axis pooled to at most ``side``."""
    return min(n, side), min(m, side)


HEAD_TOOLTIP = [alt.Tooltip("ln:N", title="layer"), alt.Tooltip("hn:N", title="head")]

#: Tooltip title of an opened head's cell values.
QUANTISED_TITLE = quantised_title("weight", 256)


def head_names_calc(name: str) -> dict[str, str]:
    """Calculated layer and head names (``ln``, ``hn``) from their positions."""
    return {"ln": f"{name}_ln[datum.l]", "hn": f"{name}_hn[datum.h]"}


def _store(name: str) -> str:
    return f"data('{name}_pick_store')"


def picked_title(name: str, status: str | None = None) -> dict[str, str]:
    """Title expression naming the picked layer and head (and a status line, if given)."""
    store = _store(name)
    head = (
        f"length({store}) ? 'Layer ' + {name}_ln[{store}[0].values[0]] + ', head ' "
        f"+ {name}_hn[{store}[0].values[1]] : ''"
    )
    if status is None:
        return {"expr": head}
    return {"expr": f"[{head}, {status}]"}


def frame_layer(pick: alt.Parameter, name: str) -> alt.Chart:
    """A rect covering the whole small map, outlined when its head is the picked one."""
    return (
        alt.Chart(name=f"{name}_frame")
        .mark_rect(filled=False, strokeWidth=3)
        .encode(stroke=condition_channel(alt.StrokeValue, pick, HIGHLIGHT, "transparent"))
    )


def _names(given: Any, count: int, prefix: str, what: str) -> list[str]:
    if given is None:
        return [f"{prefix}{i}" for i in range(count)]
    return label_list(given, count, what)


def _picker(
    name: str, layers: list[str], heads: list[str], opened: tuple[int, int]
) -> alt.Parameter:
    """A (layer, head) selection, starting on ``opened``: click a small map, or choose
    from the two menus."""
    return unchecked(
        alt.selection_point,
        name=f"{name}_pick",
        fields=["l", "h"],
        on="click",
        clear=False,
        value=[{"l": opened[0], "h": opened[1]}],
        bind=cast(
            Any,
            {
                "l": alt.binding_select(
                    options=list(range(len(layers))), labels=layers, name="Layer "
                ),
                "h": alt.binding_select(
                    options=list(range(len(heads))), labels=heads, name="Head "
                ),
            },
        ),
    )


def _as_stack(weights: ArrayLike) -> NDArray[np.float64]:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4 or 0 in w.shape:
        msg = f"weights must be shaped (L, H, N, M), got shape {w.shape}"
        raise ShapeError(msg)
    return w


#: File name of one head's data, relative to the chart's ``head_data`` prefix.
HEAD_FILE = "L{l}-H{h}.js"


def head_file(layer: int, head: int) -> str:
    """File name of one head's data (relative to the chart's ``head_data`` prefix)."""
    return HEAD_FILE.format(l=layer, h=head)


def head_data_files(weights: ArrayLike, head_data: str) -> dict[str, str]:
    """One small script per head holding its exact (quantised) cell values.

    Parameters
    ----------
    weights : array_like, shape (L, H, N, M)
        The same weights given to :func:`head_grid_chart` (values in [0, 1]).
    head_data : str
        The same URL prefix given to :func:`head_grid_chart`, relative to the page
        (for example ``"model-view/"``); also the files' folder relative to the page.

    Returns
    -------
    files : dict of str to str
        ``{head_data + "L<l>-H<h>.js": text}`` for every layer and head, sorted.

    Notes
    -----
    Each file is one line, ``atlasHeadData(l,h,"<codes>");``, where the codes are
    :func:`attention_atlas.charts.encoding.encode_matrix` of the head's (N, M) map,
    quantised to 256 levels of the colour domain [0, 1] (two hex digits a cell,
    ``--`` where not finite), exactly as the inline cells. ``atlas-charts.js``
    defines ``atlasHeadData``; it loads a file with a ``<script src>`` tag (which,
    unlike ``fetch``, works from ``file://`` too), and the file's own URL tells it
    which chart asked. ``<``, ``>`` and ``&`` are written as ``\\u`` escapes.
    About 2 N M bytes a file; cost O(L H N M).
    """
    w = _as_stack(weights)
    _check_prefix(head_data)
    n_layers, n_heads = w.shape[:2]
    files = {}
    for layer in range(n_layers):
        for head in range(n_heads):
            enc = encode_matrix(w[layer, head], quantize=True, domain=(0.0, 1.0))
            codes = json.dumps(enc.codes)
            for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
                codes = codes.replace(raw, escaped)
            files[head_data + head_file(layer, head)] = f"{REGISTER}({layer},{head},{codes});\n"
    return files


def _check_prefix(prefix: str) -> None:
    """A relative folder URL: no scheme, no leading slash, no ``..``, ending in ``/``."""
    parts = prefix.split("/")
    if (
        not prefix.endswith("/")
        or prefix.startswith("/")
        or ":" in prefix
        or any(p in ("", ".", "..") for p in parts[:-1])
        or any(c in prefix for c in "\\?#'\"<>& ")
    ):
        msg = f"head_data must be a relative folder like 'model-view/', got {prefix!r}"
        raise AtlasError(msg)


def head_grid_chart(
    weights: ArrayLike,
    row_labels: Any,
    col_labels: Any,
    *,
    title: str,
    layer_names: Any = None,
    head_names: Any = None,
    subtitle: str | list[str] | None = None,
    thumbnails: bool | None = None,
    name: str = "grid",
    head_data: str | None = None,
    inline: bool | None = None,
    pool: Reduce = "mean",
    colour_scale: Literal["linear", "sqrt"] = "linear",
    layout: Layout = "side",
    map_side: int | None = None,
    opened: tuple[int, int] = (0, 0),
    row_positions: Any = None,
    col_positions: Any = None,
) -> alt.TopLevelMixin:
    """Model view: a grid of every head's map (layers down, heads across), the picked head large.

    Parameters
    ----------
    weights : array_like, shape (L, H, N, M)
        Attention weights of every layer and head (values in [0, 1]).
    row_labels : sequence of str, length N
        Query tokens.
    col_labels : sequence of str, length M
        Key tokens.
    title : str
    layer_names, head_names : sequence of str, optional
        Defaults ``L0, L1, ...`` and ``H0, H1, ...`` (0-based).
    subtitle : str or list of str, optional
        Say here when tokens are hidden or rows renormalised.
    thumbnails : bool, optional
        Draw the small maps as PNG images (at most ``THUMB_SIDE`` pixels a side, pooled
        into blocks above it, as the subtitle then says); ``None`` does so above
        ``THUMBNAIL_CELLS`` cells. ``False`` draws every cell (all codes inline).
    name : str
        Prefix of param and view names.
    head_data : str, optional
        URL prefix, relative to the page, of the per-head files made by
        :func:`head_data_files` from the same weights. Used when the codes of every
        head would exceed ``INLINE_CODES_BYTES`` (or ``inline=False``): the opened
        head's exact values are then loaded on demand. Without it the chart is
        self-contained.
    inline : bool, optional
        Force (``True``) or forbid (``False``) the inline codes of every head;
        ``None`` decides by ``INLINE_CODES_BYTES``.
    pool : {"mean", "max"}
        How a thumbnail pixel sums up its block of cells when the map is pooled.
    colour_scale : {"linear", "sqrt"}
        ``"sqrt"`` spreads the small weights of long sequences over more colours
        (images and cells alike); the subtitle then says so.
    layout : {"side", "below"}
        Where the opened head goes: on the right of the grid, or below it (inside a
        narrow page column, where a side-by-side chart would be cut or shrunk). The
        hint under the title says which.
    map_side : int, optional
        Largest side in pixels of a small map; when the map has fewer positions, a
        whole number of pixels a position (no uneven cells). Default: 4 pixels a
        position, between 36 and 72.
    opened : (int, int)
        The (layer, head) opened at first, 0-based.
    row_positions, col_positions : sequence of int, optional
        Where each row's (column's) token sits in the full sequence when the maps leave
        tokens out, so the opened head's labels name the same position in every view.

    Returns
    -------
    chart : altair.HConcatChart or altair.VConcatChart

    Notes
    -----
    Thumbnails cost a few hundred bytes a head for real maps (palette PNGs) and paint
    as 72 images instead of thousands of cells. Inline codes cost 2 bytes a cell. On
    demand, the chart's ``usermeta.atlas.heads`` says where the files are and which
    params ``atlas-charts.js`` sets: ``<name>_hv`` (the head's codes),
    ``<name>_hk`` (index ``l * H + h`` of the head they belong to) and
    ``<name>_hs`` (a status line); it follows the param ``<name>_at`` (the picked
    head's index). Until the values arrive the enlarged head is its thumbnail.
    Above ``DETAIL_IMAGE_CELLS`` cells a head, ``usermeta.atlas.heads.exact``
    (:func:`exact_image_meta`) asks for the opened head as one image, set in
    ``<name>_hi``: opening a 500-token head then takes a fraction of a second
    instead of seconds.
    """
    w = _as_stack(weights)
    n_layers, n_heads, n, m = w.shape
    raw_rows, raw_cols = [str(x) for x in row_labels], [str(x) for x in col_labels]
    rows = label_list(raw_rows, n, "row_labels")
    cols = label_list(raw_cols, m, "col_labels")
    positions = (
        check_positions(row_positions, n, "row_positions"),
        check_positions(col_positions, m, "col_positions"),
    )
    marks = hidden_marks(raw_rows + raw_cols)
    layers = _names(layer_names, n_layers, "L", "layer_names")
    heads = _names(head_names, n_heads, "H", "head_names")
    if colour_scale not in ("linear", "sqrt"):
        msg = f"colour_scale must be 'linear' or 'sqrt', got {colour_scale!r}"
        raise AtlasError(msg)
    sqrt = colour_scale == "sqrt"
    if pool not in ("mean", "max"):
        msg = f"pool must be 'mean' or 'max', got {pool!r}"
        raise AtlasError(msg)
    if head_data is not None:
        _check_prefix(head_data)
    if layout not in OPEN_HINT:
        msg = f"layout must be 'side' or 'below', got {layout!r}"
        raise AtlasError(msg)
    side = _map_side(map_side, max(n, m))
    opened = _opened(opened, n_layers, n_heads)
    cells = w.size
    if thumbnails is None:
        thumbnails = cells > THUMBNAIL_CELLS
    fits = 2 * cells <= INLINE_CODES_BYTES
    if not thumbnails or inline is True or (inline is None and fits):
        mode = "inline"
    elif head_data is not None:
        mode = "load"
    else:
        mode = "none"
    pick = _picker(name, layers, heads, opened)
    lparam, hparam = f"{name}_ln", f"{name}_hn"
    header = {
        "row": alt.Header(labelExpr=f"{lparam}[datum.value]", title=None, labelAngle=0),
        "column": alt.Header(labelExpr=f"{hparam}[datum.value]", title=None),
    }
    hint = OPEN_HINT[layout]
    sub = [subtitle] if isinstance(subtitle, str) else list(subtitle or [])
    if sqrt:
        sub.append("Square-root colour scale, so that small weights show.")
    at = unchecked_param(
        name=f"{name}_at",
        expr=f"length({_store(name)}) ? {_store(name)}[0].values[0] * {n_heads} "
        f"+ {_store(name)}[0].values[1] : 0",
    )
    params: list[Any] = [
        unchecked_param(name=lparam, value=layers),
        unchecked_param(name=hparam, value=heads),
        at,
    ]
    meta_heads: dict[str, Any] | None = None
    thumbs: list[dict[str, Any]] = []
    shared = False
    if thumbnails:
        thumbs, note = _thumbnail_records(w, pool, sqrt)
        sub.extend(note)
        # Only a detail drawn from the thumbnails needs them twice: then they travel
        # once, as a top-level dataset; otherwise inline in the grid (a chart rebuilt
        # from its parts, e.g. stacked, keeps working).
        shared = mode in ("load", "none")
        grid = _thumbnail_grid(thumbs, pick, side, name, shared)
        detail, extra = _detail(w, rows, cols, name, mode, thumbs, sqrt, positions)
        if mode == "none":
            sub.append("Heads drawn as images: hovering gives layer and head, not cell values.")
        if mode == "load":
            assert head_data is not None
            meta_heads = {
                "src": head_data,
                "file": HEAD_FILE,
                "heads": n_heads,
                "pick": pick.name,
                "at": f"{name}_at",
                "values": f"{name}_hv",
                "key": f"{name}_hk",
                "status": f"{name}_hs",
            }
            if n * m > DETAIL_IMAGE_CELLS:
                meta_heads["exact"] = exact_image_meta(name, n, m, sqrt=sqrt)
    else:
        grid = _cell_grid(w, pick, side, name, sqrt)
        detail, extra = _detail(w, rows, cols, name, "cells", None, sqrt, positions)
    params.extend(extra)
    faceted = grid.facet(
        row=alt.Row("l:O", header=header["row"]),
        column=alt.Column("h:O", header=header["column"]),
        spacing=3,
    )
    chart: alt.HConcatChart | alt.VConcatChart
    if layout == "side":
        chart = alt.hconcat(faceted, detail, spacing=24)
    else:
        chart = alt.vconcat(faceted, detail, spacing=20)
    # Set in place: a chained call composes the chart again, copying both views.
    add_top_level(chart, params)
    if shared:
        # One named dataset: the grid and the enlarged head share the images.
        chart.datasets = {f"{name}_thumbs": thumbs}
    restrict_views(chart, pick.name, (f"{name}_cells", f"{name}_thumbs"))
    usermeta = atlas_usermeta(cells=cells, renderer_hint="canvas")
    if meta_heads is not None:
        usermeta["atlas"]["heads"] = meta_heads
    if layout == "side":
        # A narrow column stacks the views (atlas-charts.js): the hint then says "below".
        below = chart_title(title, [*sub, OPEN_HINT["below"]], marks)
        usermeta["atlas"]["stacked_title"] = below.to_dict()
    return add_top_level(chart, title=chart_title(title, [*sub, hint], marks), usermeta=usermeta)


def _map_side(limit: int | None, positions: int) -> int:
    """Side in pixels of a small map of ``positions`` positions (see ``map_side``)."""
    if limit is None:
        return max(36, min(72, 4 * positions))
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        msg = f"map_side must be a whole number of pixels >= 1, got {limit!r}"
        raise AtlasError(msg)
    if positions <= limit:
        return positions * (limit // positions)
    return limit


def _opened(opened: Any, n_layers: int, n_heads: int) -> tuple[int, int]:
    """``opened`` checked against the grid's (L, H)."""
    whole = (int, np.integer)
    if (
        not isinstance(opened, tuple | list)
        or len(opened) != 2
        or any(isinstance(i, bool) or not isinstance(i, whole) for i in opened)
    ):
        msg = f"opened must be a (layer, head) pair of whole numbers, got {opened!r}"
        raise AtlasError(msg)
    layer, head = int(opened[0]), int(opened[1])
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        msg = (
            f"opened is {(layer, head)}, but the grid has {n_layers} layer(s) and "
            f"{n_heads} head(s) (0-based: layer 0-{n_layers - 1}, head 0-{n_heads - 1})"
        )
        raise AtlasError(msg)
    return layer, head


def _cell_calc(name: str, n_heads: int, n: int, m: int) -> dict[str, str]:
    per = n * m
    return {
        "g": f"floor(datum.i / {per})",
        "l": f"floor(datum.g / {n_heads})",
        "h": f"datum.g % {n_heads}",
        "r": f"floor((datum.i % {per}) / {m})",
        "c": f"datum.i % {m}",
    }


#: Legend labels of the square-root scale: evenly spread along it (sqrt 0, 0.22, 0.45,
#: 0.71, 1) where round steps of 0.2 would crowd its upper end.
SQRT_LEGEND_VALUES = [0, 0.05, 0.2, 0.5, 1]


def _colour(sqrt: bool) -> alt.Color:
    """The weight colours; the grid's cells and the enlarged head share one legend."""
    return alt.Color(
        "v:Q",
        scale=alt.Scale(
            type="sqrt" if sqrt else "linear", scheme="viridis", domain=[0, 1], clamp=True
        ),
        legend=alt.Legend(title="weight", orient="bottom", values=SQRT_LEGEND_VALUES, format=".2~f")
        if sqrt
        else alt.Legend(title="weight", orient="bottom"),
    )


def _cell_grid(
    w: NDArray[np.float64], pick: alt.Parameter, side: int, name: str, sqrt: bool
) -> alt.LayerChart:
    """Every cell of every head as a rect (codes in the param ``<name>_v``)."""
    _, n_heads, n, m = w.shape
    enc = encode_matrix(w.reshape(-1, m), quantize=True, domain=(0.0, 1.0))
    calc = {**_cell_calc(name, n_heads, n, m), "v": enc.decode_expr(f"{name}_v")}
    cells = (
        alt.Chart(name=f"{name}_cells")
        .mark_rect()
        .encode(
            x=alt.X("c:O", axis=None),
            y=alt.Y("r:O", axis=None),
            color=_colour(sqrt),
            tooltip=HEAD_TOOLTIP,
        )
        .add_params(pick)
    )
    frame = frame_layer(pick, name).transform_filter("datum.r == 0 && datum.c == 0")
    grid = (
        alt.layer(frame, cells, data=alt.sequence(0, w.size, as_="i"))
        .transform_calculate(**calc, **head_names_calc(name))
        .properties(width=side, height=side)
    )
    return cast(alt.LayerChart, grid)


def _thumbnail_records(
    w: NDArray[np.float64], pool: Reduce, sqrt: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """One ``{l, h, url}`` record a head and the subtitle lines saying how it was pooled."""
    n_layers, n_heads, n, m = w.shape
    rows, cols = thumbnail_blocks(n, m)
    note: list[str] = []  # subtitle lines
    if (rows, cols) != (n, m):
        finite = np.where(np.isfinite(w), w, 0.0)
        w = np.asarray(pool_map(finite, rows, cols, pool), dtype=np.float64)
        r_text = size_text(np.diff(block_edges(n, rows)).tolist())
        c_text = size_text(np.diff(block_edges(m, cols)).tolist())
        what = "mean" if pool == "mean" else "maximum"
        note = [
            f"Small maps pooled to {rows} × {cols} pixels, each the {what} of a block of "
            f"{r_text} query × {c_text} key positions;",
            "the opened head shows every cell.",
        ]
    records = [
        {"l": li, "h": hi, "url": png_data_url(w[li, hi], sqrt=sqrt)}
        for li in range(n_layers)
        for hi in range(n_heads)
    ]
    return records, note


def _png_size(url: str) -> tuple[int, int]:
    """(width, height) of a PNG data URL, read from its header."""
    head = base64.b64decode(url.split(",", 1)[1][:32])
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _image(
    name: str, data: Any = alt.Undefined, *, smooth: bool = False, tooltip: bool = True
) -> alt.Chart:
    """An image filling its view (whatever width the view is given later).

    Drawn with sharp pixels when enlarged (each cell a crisp square); ``smooth`` when
    shrunk, so that a thin line (a previous-token head) is blended, not dropped.
    ``tooltip``: hovering names the layer and head.
    """
    return (
        alt.Chart(data, name=name)
        .mark_image(aspect=False, smooth=smooth, align="left", baseline="top")
        .encode(
            url=alt.Url("url:N"),
            x=value_channel(alt.XValue, 0),
            x2=value_channel(alt.X2Value, "width"),
            y=value_channel(alt.YValue, 0),
            y2=value_channel(alt.Y2Value, "height"),
            tooltip=HEAD_TOOLTIP if tooltip else alt.Undefined,
        )
    )


def _thumbnail_grid(
    records: list[dict[str, Any]], pick: alt.Parameter, side: int, name: str, shared: bool
) -> alt.LayerChart:
    pixels = max(_png_size(records[0]["url"])) if records else 0
    images = _image(f"{name}_thumbs", smooth=pixels > side).add_params(pick)
    data = alt.Data(name=f"{name}_thumbs") if shared else alt.Data(values=records)
    grid = (
        alt.layer(frame_layer(pick, name), images, data=data)
        .transform_calculate(**head_names_calc(name))
        .properties(width=side, height=side)
    )
    return cast(alt.LayerChart, grid)


def _detail(
    w: NDArray[np.float64],
    rows: list[str],
    cols: list[str],
    name: str,
    mode: str,
    thumbs: list[dict[str, Any]] | None,
    sqrt: bool,
    positions: tuple[list[int] | None, list[int] | None] = (None, None),
) -> tuple[alt.Chart | alt.LayerChart, list[alt.Parameter]]:
    """The enlarged head and the params it reads.

    ``mode``: "cells"/"inline" (codes of every head in ``<name>_v``/``<name>_codes``,
    the head's cells generated from a sequence offset by the picked head), "load" (the
    thumbnail under cells decoded from ``<name>_hv`` once it holds the picked head) or
    "none" (the thumbnail alone).
    """
    _, n_heads, n, m = w.shape
    per = n * m
    rparam, cparam = f"{name}_rl", f"{name}_cl"
    step = max(1, min(22, DETAIL_SIDE // max(n, m)))
    at = f"{name}_at"
    if mode == "none":
        assert thumbs is not None
        big = 360
        image = (
            _image(f"{name}_big", alt.Data(name=f"{name}_thumbs"))
            .properties(
                title=alt.TitleParams(text=picked_title(name), anchor="start"),
                width=big,
                height=big,
            )
            .transform_filter(f"datum.l * {n_heads} + datum.h == {at}")
            .transform_calculate(**head_names_calc(name))
        )
        return image, []
    params: list[alt.Parameter] = [
        unchecked_param(name=rparam, value=rows),
        unchecked_param(name=cparam, value=cols),
    ]
    placed = {}
    for suffix, at_positions in zip(("_rp", "_cp"), positions, strict=True):
        if at_positions is not None:
            placed[suffix] = f"{name}{suffix}"
            params.append(unchecked_param(name=f"{name}{suffix}", value=at_positions))
    tooltip = cell_tooltip("Query", "Key", QUANTISED_TITLE, ".3f")
    labels = {
        "q": position_label("datum.r", rparam, placed.get("_rp")),
        "k": position_label("datum.c", cparam, placed.get("_cp")),
    }
    status: str | None = None
    as_image = mode == "load" and per > DETAIL_IMAGE_CELLS
    if mode == "load":
        vparam = f"{name}_hv"
        enc = encode_matrix(w[0, 0], quantize=True, domain=(0.0, 1.0))
        data: Any = alt.Data(values=[{"s": 0}])
        # As an image, the cells layer draws no mark: it keeps the axes and token labels.
        rows_of_head = "[]" if as_image else f"{name}_hk == {at} ? sequence(0, {per}) : []"
        pre = [
            {"calculate": rows_of_head, "as": "s"},
            {"flatten": ["s"], "as": ["i"]},
        ]
        calc = {
            "r": f"floor(datum.i / {m})",
            "c": f"datum.i % {m}",
            "v": enc.decode_expr(vparam),
            **labels,
        }
        params += [
            unchecked_param(name=vparam, value=""),
            unchecked_param(name=f"{name}_hk", value=-1),
            unchecked_param(name=f"{name}_hs", value=""),
        ]
        if as_image:
            params.append(unchecked_param(name=f"{name}_hi", value=""))
        status = (
            f"{name}_hk == {at} ? 'Exact values: hover a cell' : "
            f"({name}_hs || 'Loading exact values…')"
        )
    else:
        vparam = f"{name}_v" if mode == "cells" else f"{name}_codes"
        enc = encode_matrix(w.reshape(-1, m), quantize=True, domain=(0.0, 1.0))
        data = alt.sequence(0, per, as_="i")
        pre = []
        calc = {
            "r": f"floor(datum.i / {m})",
            "c": f"datum.i % {m}",
            "v": enc.decode_expr(vparam, f"({at} * {per} + datum.i)"),
            **labels,
        }
        if mode == "inline":
            params.append(unchecked_param(name=vparam, value=enc.codes))
    cells = alt.Chart(name=f"{name}_head").mark_rect()
    # Transforms in order: rows for the picked head, then its values and labels.
    cells = cells.properties(transform=[*pre, *calculate_transforms(calc)])
    cells = cells.encode(
        x=position_encoding(cparam, "Key", count=m, step=step, max_chars=12, orient="top"),
        y=position_encoding(rparam, "Query", count=n, step=step, max_chars=12, orient="left"),
        color=_colour(sqrt),
        tooltip=tooltip,
    )
    # No width limit: a narrow head (few tokens) must not cut its status line.
    title = alt.TitleParams(text=picked_title(name, status), anchor="start", limit=0)
    size = {"width": alt.Step(step), "height": alt.Step(step)}
    if mode != "load":
        detail = cells.properties(data=data, title=title, **size)
        if mode == "cells":
            params.append(unchecked_param(name=vparam, value=enc.codes))
        return detail, params
    assert thumbs is not None
    under = (
        # Under an exact image, which atlas-charts.js hovers, no tooltip of its own.
        _image(f"{name}_big", alt.Data(name=f"{name}_thumbs"), tooltip=not as_image)
        .transform_filter(f"datum.l * {n_heads} + datum.h == {at}")
        .transform_calculate(**head_names_calc(name))
    )
    layers: list[Any] = [under, cells.properties(data=data)]
    if as_image:
        layers.append(_exact_image(name, at))
    layered = alt.layer(*layers).properties(title=title, **size)
    return cast(alt.LayerChart, layered), params


def _exact_image(name: str, at: str) -> alt.Chart:
    """The opened head as one image (URL in the param ``<name>_hi``), once it is loaded.

    ``atlas-charts.js`` draws the image from the head's codes and answers hovering
    itself, from the pointer's place on the image (see :func:`exact_image_meta`):
    the mark has no tooltip of its own, and Vega makes such a mark non-interactive.
    """
    return (
        _image(f"{name}_exact", alt.Data(values=[{"u": 0}]), tooltip=False)
        .transform_filter(f"{name}_hk == {at} && {name}_hi != ''")
        .transform_calculate(url=f"{name}_hi")
    )


def exact_image_meta(name: str, n: int, m: int, *, sqrt: bool) -> dict[str, Any]:
    """What ``atlas-charts.js`` needs to draw an opened (N, M) head as an image and hover it.

    ``image``: the param to set to the image's URL; ``mark``: the Vega mark drawing it;
    ``rows``/``cols``: the params of the token labels; ``n``, ``m``: the map's shape;
    ``step``: the value of one code step; ``colours``: :func:`code_colours`;
    ``value``: the tooltip title of a cell's value.
    """
    # The step as the cells' decode expression writes it, so both give the same values.
    step = float(js_number(encode_matrix(np.zeros((1, 1)), quantize=True, domain=(0.0, 1.0)).step))
    return {
        "image": f"{name}_hi",
        "mark": f"{name}_exact",  # a prefix: Vega names the mark "<name>_exact_1_marks"
        "rows": f"{name}_rl",
        "cols": f"{name}_cl",
        "n": n,
        "m": m,
        "step": step,
        "colours": code_colours(step, sqrt=sqrt),
        "value": QUANTISED_TITLE,
    }
