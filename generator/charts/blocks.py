"""Pooled overviews of maps too big to draw cell by cell, and the exact detail of chosen blocks.

A pooled map (R, C) is drawn like a heatmap whose rows and columns are *blocks* of
positions (block rule: :func:`attention_atlas.attention.block_edges`); the axes show the
first position of every few blocks, and the hover names each block's positions.
:func:`block_overview_chart` draws one such map and rings the blocks whose detail
was precomputed. :func:`block_explorer_chart` adds, under the overview, the exact
map of the block the reader clicks (or picks from a menu, for touch screens).

Detail maps travel in one top-level param, each quantised to 256 levels of its own
range ``[0, block maximum]`` (2 bytes a cell); the tooltip says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal, cast

import altair as alt
import numpy as np
from numpy.typing import ArrayLike

from attention_atlas.charts.encoding import as_matrix, encode_matrix, js_number
from attention_atlas.charts.theme import HIGHLIGHT
from attention_atlas.charts.toolkit import (
    MatrixData,
    Titles,
    add_top_level,
    atlas_usermeta,
    cell_tooltip,
    chart_title,
    position_scale,
    prepare_matrix,
    quantised_title,
    restrict_views,
    shown_title,
    title_marks,
    unchecked,
    unchecked_param,
    value_axis_title,
)
from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.text import span_text

__all__ = ["block_explorer_chart", "block_overview_chart", "block_range_labels"]

ScaleType = Literal["linear", "sqrt"]

#: Largest side of the overview and detail maps in pixels (fits a 390 px phone with its
#: axis). Cells get a whole number of pixels: fractional cells leave seams on a canvas.
MAP_PX = 256


def _map_size(n: int, m: int) -> tuple[int, int]:
    """Width and height in pixels of an (n, m) map: whole-pixel cells, at most MAP_PX."""
    cell = max(1, MAP_PX // max(n, m))
    return cell * m, cell * n


def block_range_labels(edges: ArrayLike) -> list[str]:
    """``"first–last"`` position of each block, from the (B + 1,) block edges.

    >>> block_range_labels([0, 128, 256])
    ['0–127', '128–255']
    """
    e = np.asarray(edges, dtype=np.int64)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) < 1):
        msg = f"edges must be increasing block starts plus the end, shaped (B + 1,), got {e}"
        raise ShapeError(msg)
    return [span_text(a, b) for a, b in pairwise(e.tolist())]


def _tick_values(count: int, every: int) -> list[int]:
    return list(range(0, count, max(1, every)))


def _block_axis(labels_param: str, title: str, count: int, orient: Any) -> alt.Axis:
    """Axis over block indices labelled with the first position of every few blocks."""
    every = max(1, count // 8)
    return alt.Axis(
        title=title,
        orient=orient,
        values=_tick_values(count, every),
        labelExpr=f"split({labels_param}[datum.value], '–')[0]",
        labelOverlap=True,
        labelFontSize=10,
        labelAngle=0,
        ticks=True,
        tickSize=3,
        domain=False,
    )


def _color(
    value_title: str, fmt: str, scale_type: ScaleType, domain: tuple[float, float] | None
) -> alt.Color:
    scale: dict[str, Any] = {"scheme": "viridis", "type": scale_type, "clamp": True}
    if domain is None:
        scale["zero"] = True  # the selected block's own range, from 0
    else:
        scale["domain"] = list(domain)
    return alt.Color(
        "v:Q",
        scale=alt.Scale(**scale),
        legend=alt.Legend(
            title=value_title,
            orient="bottom",
            direction="horizontal",
            gradientLength=MAP_PX - 80,
            format=fmt,
            tickCount=3,
            labelOverlap="greedy",
            labelExpr="isFinite(datum.value) ? datum.label : ''",  # an empty detail
        ),
    )


def _overview_data(
    pooled: ArrayLike,
    row_edges: ArrayLike,
    col_edges: ArrayLike,
    *,
    name: str,
    fmt: str,
) -> MatrixData:
    values = as_matrix(pooled, "pooled")
    rows, cols = block_range_labels(row_edges), block_range_labels(col_edges)
    return prepare_matrix(
        values, rows, cols, prefix=name, fmt=fmt, domain=None, diverging=False, quantize=True
    )


def _marked_rows(
    data: MatrixData, marked: Sequence[tuple[int, int]], names: Sequence[str] | None
) -> list[dict[str, Any]]:
    n, m = data.shape
    shown = data.enc.decode() if marked else None  # what the cells under the rings show
    rows = []
    for i, (r, c) in enumerate(marked):
        if not (0 <= r < n and 0 <= c < m):
            msg = f"marked block ({r}, {c}) is outside the {n} x {m} pooled map"
            raise ShapeError(msg)
        label = names[i] if names is not None else f"block {r}, {c}"
        value = float(shown[r, c]) if shown is not None else 0.0
        rows.append({"r": int(r), "c": int(c), "blk": int(r * m + c), "name": label, "v": value})
    return rows


def _overview_layers(
    data: MatrixData,
    titles: Titles,
    *,
    name: str,
    fmt: str,
    scale_type: ScaleType,
    marked_rows: list[dict[str, Any]],
) -> list[alt.Chart]:
    """Cells (with their own sequence data) and the rings on the marked blocks."""
    n, m = data.shape
    shown = titles.shown()
    value = value_axis_title(data, shown.value)
    cells = (
        alt.Chart(alt.sequence(0, n * m, as_="i"), name=f"{name}_cells")
        .mark_rect()
        .encode(
            x=alt.X(
                "c:O", scale=position_scale(m), axis=_block_axis(data.cols_param, shown.x, m, "top")
            ),
            y=alt.Y(
                "r:O",
                scale=position_scale(n),
                axis=_block_axis(data.rows_param, shown.y, n, "left"),
            ),
            color=_color(shown.value, fmt, scale_type, data.enc.domain),
            tooltip=cell_tooltip("Query block (positions)", "Key block (positions)", value, fmt),
        )
        .transform_calculate(**data.calculate(), blk="datum.i")
    )
    layers = [cells]
    if marked_rows:
        rings = (
            alt.Chart(alt.Data(values=marked_rows), name=f"{name}_rings")
            .mark_point(shape="square", size=90, filled=False, strokeWidth=1.5, color=HIGHLIGHT)
            .encode(
                x=alt.X("c:O", scale=position_scale(m)),
                y=alt.Y("r:O", scale=position_scale(n)),
                tooltip=[
                    alt.Tooltip("name:N", title="Precomputed detail"),
                    alt.Tooltip("v:Q", title=value, format=fmt),
                ],
            )
        )
        layers.append(rings)
    return layers


def block_overview_chart(
    pooled: ArrayLike,
    row_edges: ArrayLike,
    col_edges: ArrayLike,
    *,
    title: str | list[str],
    subtitle: str | list[str] | None = None,
    marked: Sequence[tuple[int, int]] = (),
    marked_names: Sequence[str] | None = None,
    x_title: str = "Key position",
    y_title: str = "Query position",
    value_title: str = "weight",
    fmt: str = ".4f",
    scale_type: ScaleType = "linear",
    name: str = "bo",
) -> alt.LayerChart:
    """A pooled (R, C) map drawn by blocks of positions, with chosen blocks ringed.

    Parameters
    ----------
    pooled : array_like, shape (R, C)
        Block means or maxima (quantised to 256 levels of ``[0, max]`` for the page).
    row_edges : array_like of int, shape (R + 1,)
        First query position of each row block, plus N.
    col_edges : array_like of int, shape (C + 1,)
        First key position of each column block, plus M.
    title : str
        Say the block size and the pooling here.
    subtitle : str or list of str, optional
    marked : sequence of (int, int)
        ``(row block, column block)`` of blocks to ring (those with a precomputed detail).
    marked_names : sequence of str, optional
        Hover text of each ring.
    x_title, y_title, value_title : str
    fmt : str
        d3 format of values (hover and legend).
    scale_type : {"linear", "sqrt"}
        Colour scale; say a square-root scale in the subtitle.
    name : str
        Prefix of param and view names.

    Returns
    -------
    chart : altair.LayerChart
    """
    data = _overview_data(pooled, row_edges, col_edges, name=name, fmt=fmt)
    titles = Titles(x_title, y_title, value_title)
    n, m = data.shape
    layers = _overview_layers(
        data,
        titles,
        name=name,
        fmt=fmt,
        scale_type=scale_type,
        marked_rows=_marked_rows(data, marked, marked_names),
    )
    width, height = _map_size(n, m)
    return cast(
        alt.LayerChart,
        add_top_level(
            alt.layer(*layers, width=width, height=height),
            data.params(),
            title=chart_title(title, subtitle, titles.marks),
            usermeta=atlas_usermeta(cells=n * m, renderer_hint="canvas"),
        ),
    )


def _detail_params(
    details: Sequence[ArrayLike], name: str
) -> tuple[list[alt.Parameter], tuple[int, int]]:
    """Every detail map padded to one shape, each quantised to its own [0, max]."""
    mats = [as_matrix(d, f"details[{i}]") for i, d in enumerate(details)]
    h = max(a.shape[0] for a in mats)
    w = max(a.shape[1] for a in mats)
    codes, steps = [], []
    for a in mats:
        padded = np.full((h, w), np.nan)
        padded[: a.shape[0], : a.shape[1]] = a
        top = float(np.nanmax(a)) if np.isfinite(a).any() and np.nanmax(a) > 0 else 1.0
        enc = encode_matrix(padded, quantize=True, domain=(0.0, top))
        codes.append(enc.codes)
        steps.append(float(js_number(enc.step)))
    params = [
        unchecked_param(name=f"{name}_codes", value="".join(codes)),
        unchecked_param(name=f"{name}_step", value=steps),
    ]
    return params, (h, w)


def block_explorer_chart(
    pooled: ArrayLike,
    row_edges: ArrayLike,
    col_edges: ArrayLike,
    details: Sequence[ArrayLike],
    detail_blocks: Sequence[tuple[int, int]],
    detail_names: Sequence[str],
    *,
    title: str | list[str],
    menu_labels: Sequence[str] | None = None,
    subtitle: str | list[str] | None = None,
    x_title: str = "Key position",
    y_title: str = "Query position",
    value_title: str = "weight",
    detail_title: str = "weight",
    fmt: str = ".4f",
    detail_fmt: str = ".4f",
    scale_type: ScaleType = "linear",
    initial: int = 0,
    name: str = "bx",
) -> alt.VConcatChart:
    """The pooled overview, and under it the exact map of the block the reader picks.

    Parameters
    ----------
    pooled : array_like, shape (R, C)
        The pooled map drawn on top (see :func:`block_overview_chart`).
    row_edges : array_like of int, shape (R + 1,)
    col_edges : array_like of int, shape (C + 1,)
    details : sequence of K arrays, shapes (h_k, w_k)
        Exact weights of the precomputed blocks, ``h_k`` and ``w_k`` the block's
        numbers of queries and keys.
    detail_blocks : sequence of K (int, int)
        ``(row block, column block)`` of each detail; they are ringed on the overview.
    detail_names : sequence of K str
        One line naming each detail: the heading of the detail map.
    title : str or list of str
        Say the block size and the pooling here (a list breaks it into lines).
    menu_labels : sequence of K str, optional
        Shorter names for the menu (defaults to ``detail_names``).
    subtitle : str or list of str, optional
    x_title, y_title : str
    value_title, detail_title : str
        Names of the overview values and of the detail values (legends, hover).
    fmt, detail_fmt : str
        d3 formats of the overview values and of the detail weights.
    scale_type : {"linear", "sqrt"}
        Colour scale of both maps.
    initial : int
        Index of the detail shown before any click.
    name : str
        Prefix of param and view names.

    Returns
    -------
    chart : altair.VConcatChart
        Clicking a block of the overview (or choosing one in the menu under the chart)
        shows its detail; a block without a precomputed detail says so.
    """
    labels = menu_labels if menu_labels is not None else detail_names
    if not (len(details) == len(detail_blocks) == len(detail_names) == len(labels)) or not details:
        msg = (
            "details, detail_blocks, detail_names and menu_labels must have the same "
            f"non-zero length, got {len(details)}, {len(detail_blocks)}, "
            f"{len(detail_names)} and {len(labels)}"
        )
        raise ShapeError(msg)
    if not 0 <= initial < len(details):
        msg = f"initial must be a detail index in 0..{len(details) - 1}, got {initial}"
        raise AtlasError(msg)
    r_edges = np.asarray(row_edges, dtype=np.int64)
    c_edges = np.asarray(col_edges, dtype=np.int64)
    data = _overview_data(pooled, r_edges, c_edges, name=name, fmt=fmt)
    n, m = data.shape
    marked_rows = _marked_rows(data, detail_blocks, detail_names)
    for (r, c), d in zip(detail_blocks, details, strict=True):
        want = (int(r_edges[r + 1] - r_edges[r]), int(c_edges[c + 1] - c_edges[c]))
        if as_matrix(d).shape != want:
            msg = f"the detail of block ({r}, {c}) must have shape {want}, got {as_matrix(d).shape}"
            raise ShapeError(msg)
    ids = [row["blk"] for row in marked_rows]
    dt = f"{name}_dt"
    pick = unchecked(
        alt.selection_point,
        name=f"{name}_pick",
        fields=["blk"],
        # A touch picks on touchend (a tap brings Vega no click on the block), unless
        # atlas-charts.js marked the touch as travelled: a scroll starting here.
        on="click, touchend[!event.atlasTravelled]",
        clear=False,
        value=[{"blk": ids[initial]}],
        bind=alt.binding_select(
            options=ids,
            labels=list(menu_labels if menu_labels is not None else detail_names),
            name="Detail of a ringed block: ",
        ),
    )
    titles = Titles(x_title, y_title, value_title)
    over = _overview_layers(
        data,
        titles,
        name=name,
        fmt=fmt,
        scale_type=scale_type,
        marked_rows=marked_rows,
    )
    over[0] = over[0].add_params(pick)

    # Crosshair through the picked block: visible whatever colour the block has.
    def cross(axis: str) -> alt.Chart:
        return (
            alt.Chart(alt.sequence(0, n * m, as_="i"), name=f"{name}_cross{axis}")
            .transform_calculate(r=f"floor(datum.i / {m})", c=f"datum.i % {m}", blk="datum.i")
            .transform_filter(pick)
            .mark_rule(color=HIGHLIGHT, strokeWidth=1, opacity=0.8, strokeDash=[3, 3])
        )

    over += [
        cross("x").encode(x=alt.X("c:O", scale=position_scale(m))),
        cross("y").encode(y=alt.Y("r:O", scale=position_scale(n))),
    ]
    width, height = _map_size(n, m)
    overview = alt.layer(*over, width=width, height=height)

    params, (h, w) = _detail_params(details, dt)
    size = h * w
    rows0 = [int(r_edges[r]) for r, _ in detail_blocks]
    cols0 = [int(c_edges[c]) for _, c in detail_blocks]
    params += [
        unchecked_param(name=f"{dt}_id", value=ids),
        unchecked_param(name=f"{dt}_r0", value=rows0),
        unchecked_param(name=f"{dt}_c0", value=cols0),
        unchecked_param(name=f"{dt}_name", value=list(detail_names)),
    ]
    code = f"parseInt(substring({dt}_codes, 2 * datum.i, 2 * datum.i + 2), 16)"
    shown, detail_shown = titles.shown(), shown_title(detail_title)
    detail_tip = quantised_title(detail_shown, 256, "this block’s range")
    cells = (
        alt.Chart(alt.sequence(0, len(details) * size, as_="i"), name=f"{dt}_map")
        .transform_calculate(b=f"floor(datum.i / {size})", j=f"datum.i % {size}")
        .transform_calculate(blk=f"{dt}_id[datum.b]")
        .transform_filter(pick)
        .transform_calculate(
            v=f"{code} * {dt}_step[datum.b]",
            qpos=f"{dt}_r0[datum.b] + floor(datum.j / {w})",
            kpos=f"{dt}_c0[datum.b] + datum.j % {w}",
        )
        .transform_filter("isValid(datum.v) && isFinite(datum.v)")
        .transform_calculate(qend="datum.qpos + 1", kend="datum.kpos + 1")
        .mark_rect()
        .encode(
            x=alt.X(
                "kpos:Q",
                scale=alt.Scale(zero=False, nice=False),
                axis=alt.Axis(title=shown.x, format="d", orient="top", labelFlush=True),
            ),
            x2="kend:Q",
            y=alt.Y(
                "qpos:Q",
                scale=alt.Scale(zero=False, nice=False, reverse=True),
                axis=alt.Axis(title=shown.y, format="d", labelFlush=True),
            ),
            y2="qend:Q",
            color=_color(detail_shown, detail_fmt, scale_type, None),
            tooltip=[
                alt.Tooltip("qpos:Q", title="Query position", format="d"),
                alt.Tooltip("kpos:Q", title="Key position", format="d"),
                alt.Tooltip("v:Q", title=detail_tip, format=detail_fmt),
            ],
        )
    )
    missing = (
        "['Block ' + datum.r + ', ' + datum.c + ' has no precomputed detail:', "
        "'pick a ringed block, or one from the menu.']"
    )
    heading = (
        alt.Chart(alt.sequence(0, n * m, as_="i"), name=f"{dt}_heading")
        .transform_calculate(r=f"floor(datum.i / {m})", c=f"datum.i % {m}", blk="datum.i")
        .transform_filter(pick)
        .transform_calculate(
            at=f"indexof({dt}_id, datum.blk)",
        )
        .transform_calculate(text=f"datum.at >= 0 ? [{dt}_name[datum.at]] : {missing}")
        .mark_text(align="left", baseline="bottom", x=0, y=-34, fontWeight="bold", fontSize=12)
        .encode(text=alt.Text("text:N"))
    )
    width, height = _map_size(h, w)
    detail = alt.layer(cells, heading, width=width, height=height)
    chart = alt.vconcat(overview, detail, spacing=64)
    restrict_views(chart, pick.name, (f"{name}_cells",))
    return add_top_level(
        chart,
        [*data.params(), *params],
        resolve=alt.Resolve(
            scale=alt.ScaleResolveMap(color="independent"),
            legend=alt.LegendResolveMap(color="independent"),
        ),
        title=chart_title(title, subtitle, titles.marks | title_marks(detail_title)),
        usermeta=atlas_usermeta(cells=n * m + size, renderer_hint="canvas"),
    )
