"""Heatmaps of attention weights, scores and other matrices, in the compact encoding.

The chart carries the matrix once, as integer codes in a top-level param (see
:mod:`attention_atlas.charts.encoding`); a ``sequence`` generates one row per cell and
``calculate`` transforms recover row, column, value and token labels in the browser.
Axes are ordinal over *positions*, so a token that occurs twice keeps two rows; the
``labelExpr`` of each axis turns a position back into its token (the parts every
chart shares are in :mod:`attention_atlas.charts.toolkit`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, cast

import altair as alt
from numpy.typing import ArrayLike

from attention_atlas.charts.encoding import as_matrix, as_vector, js_number
from attention_atlas.charts.html import Renderer
from attention_atlas.charts.toolkit import (
    MatrixData,
    Titles,
    add_top_level,
    atlas_usermeta,
    cell_dims,
    cell_tooltip,
    chart_title,
    condition_channel,
    formatted_width,
    position_encoding,
    prepare_matrix,
    shown_title,
    unchecked,
    value_axis_title,
)
from attention_atlas.errors import AtlasError
from attention_atlas.text import hidden_marks

__all__ = ["heat_layers", "heatmap_chart", "vector_chart"]

#: Cells at or below this count get their values written inside them by default.
SHOW_VALUES_CELLS = 100

#: Sequential schemes that are dark at the low end (text there must be light).
_DARK_LOW = {
    "viridis",
    "magma",
    "inferno",
    "plasma",
    "cividis",
    "darkblue",
    "darkgold",
    "darkgreen",
    "darkmulti",
    "darkred",
    "turbo",
}


def text_color_test(data: MatrixData, scheme: str, diverging: bool) -> str:
    """Expression that is true where the cell colour is dark (so the text must be light)."""
    lo, hi = data.enc.domain
    t = f"(datum.v - {js_number(lo)}) / {js_number(hi - lo)}"
    if diverging:
        return f"abs({t} - 0.5) > 0.3"
    if scheme in _DARK_LOW:
        return f"{t} < 0.45"
    return f"{t} > 0.6"


def color_scale(data: MatrixData, scheme: str, diverging: bool) -> alt.Scale:
    """The colour scale over the encoded domain (diverging ones are centred at 0)."""
    lo, hi = data.enc.domain
    if diverging:
        return unchecked(
            alt.Scale, scheme=cast(Any, scheme), domain=[lo, hi], domainMid=0, clamp=True
        )
    return unchecked(alt.Scale, scheme=cast(Any, scheme), domain=[lo, hi], clamp=True)


def heat_layers(
    data: MatrixData,
    titles: Titles,
    *,
    name: str,
    fmt: str,
    scheme: str,
    diverging: bool,
    show_values: bool,
    cell: tuple[int, int],
    legend: bool = True,
    extra_encoding: dict[str, Any] | None = None,
    tooltip: list[alt.Tooltip] | None = None,
) -> list[alt.Chart]:
    """The rect layer (and the text layer when values are shown) of one heatmap.

    The layers carry no data: the caller puts the sequence and the calculate transform on
    the enclosing layer, so that both layers share one dataset.
    """
    n, m = data.shape
    if scheme == "viridis" and diverging:
        scheme = "blueorange"
    titles = titles.shown()
    x = position_encoding(
        data.cols_param,
        titles.x,
        count=m,
        step=cell[0],
        max_chars=max((len(s) for s in data.cols), default=1),
        orient="top",
    )
    y = position_encoding(
        data.rows_param,
        titles.y,
        count=n,
        step=cell[1],
        max_chars=max((len(s) for s in data.rows), default=1),
        orient="left",
    )
    color = alt.Color(
        "v:Q",
        scale=color_scale(data, scheme, diverging),
        legend=unchecked(
            alt.Legend,
            title=titles.value,
            gradientLength=max(60, min(200, cell[1] * n)),
            format=fmt,
        )
        if legend
        else None,
    )
    if tooltip is None:
        tooltip = cell_tooltip(titles.y, titles.x, value_axis_title(data, titles.value), fmt)
    encoding: dict[str, Any] = {"x": x, "y": y, "color": color, "tooltip": tooltip}
    if extra_encoding:
        encoding.update(extra_encoding)
    rect = alt.Chart(name=f"{name}_cells").mark_rect().encode(**encoding)
    layers = [rect]
    if show_values:
        font_size = 11 if cell[1] >= 20 else 9
        text = (
            alt.Chart(name=f"{name}_text")
            .mark_text(fontSize=font_size, baseline="middle")
            .encode(
                x=alt.X("c:O"),
                y=alt.Y("r:O"),
                text=alt.Text("v:Q", format=fmt),
                color=condition_channel(
                    alt.ColorValue,
                    text_color_test(data, scheme, diverging),
                    "#ffffff",
                    "#111111",
                ),
                tooltip=tooltip,
            )
        )
        layers.append(text)
    return layers


def heatmap_chart(
    values: ArrayLike,
    row_labels: Any,
    col_labels: Any,
    *,
    title: str,
    x_title: str = "Key (attended to)",
    y_title: str = "Query (attending)",
    value_title: str = "weight",
    show_values: bool | None = None,
    fmt: str = ".4f",
    domain: tuple[float, float] | None = None,
    scheme: str = "viridis",
    diverging: bool = False,
    subtitle: str | list[str] | None = None,
    cell_size: int | tuple[int, int] | None = None,
    renderer_hint: Renderer | None = None,
    quantize: bool | None = None,
    name: str = "hm",
    row_positions: Any = None,
    col_positions: Any = None,
) -> alt.LayerChart:
    """A heatmap of a matrix with token labels on both axes.

    Parameters
    ----------
    values : array_like, shape (N, M)
        The matrix, row ``i`` for query ``i``. Non-finite entries (``-inf`` scores at
        masked positions) are left as empty cells.
    row_labels : sequence of str, length N
        Token at each row position (repeats allowed).
    col_labels : sequence of str, length M
        Token at each column position.
    title : str
        Chart title.
    x_title, y_title : str
        Axis titles; also the tooltip titles of the key and query labels.
    value_title : str
        Legend and tooltip title of the value.
    show_values : bool, optional
        Write the value in each cell; ``None`` does so when N*M <= 100.
    fmt : str
        d3 format of values (tooltip, cell text, legend); its decimals are what travels.
    domain : tuple of float, optional
        Colour domain ``(lo, hi)``; defaults to ``[min(0, min), max]``, or ``[-a, a]``
        when ``diverging``.
    scheme : str
        Vega colour scheme; ``"viridis"`` becomes ``"blueorange"`` when ``diverging``.
    diverging : bool
        Centre the colours at 0 (difference maps, raw scores, X, Q, K).
    subtitle : str or list of str, optional
        Line(s) under the title, e.g. saying the chart hides tokens or renormalises rows.
    cell_size : int or tuple of int, optional
        Cell side (or ``(width, height)``) in pixels.
    renderer_hint : {"svg", "canvas"}, optional
        Preferred renderer, recorded in ``usermeta``.
    quantize : bool, optional
        Send 256 levels of the colour domain instead of exact values; ``None`` quantises
        when N*M >= 4096. The tooltip then says so.
    name : str
        Prefix of the chart's param and view names (unique per page is not needed:
        each chart is embedded on its own).
    row_positions, col_positions : sequence of int, optional
        Where each row's (column's) token sits in the full sequence when the map leaves
        tokens out, so tooltips name the same position in every view ("10: it").

    Returns
    -------
    chart : altair.LayerChart
        The cells layer, plus a text layer when values are shown.
    """
    data = prepare_matrix(
        values,
        row_labels,
        col_labels,
        prefix=name,
        fmt=fmt,
        domain=domain,
        diverging=diverging,
        quantize=quantize,
        row_positions=row_positions,
        col_positions=col_positions,
    )
    n, m = data.shape
    if show_values is None:
        show_values = n * m <= SHOW_VALUES_CELLS
    arr = as_matrix(values)
    cell = cell_dims(
        n,
        m,
        show_values=show_values,
        text_chars=formatted_width(arr, fmt),
        cell_size=cell_size,
    )
    titles = Titles(x_title, y_title, value_title)
    layers = heat_layers(
        data,
        titles,
        name=name,
        fmt=fmt,
        scheme=scheme,
        diverging=diverging,
        show_values=show_values,
        cell=cell,
    )
    heading = chart_title(title, subtitle, data.marks | titles.marks)
    return _one_view(layers, data, cell, heading, renderer_hint)


def vector_chart(
    values: ArrayLike,
    labels: Any,
    *,
    title: str,
    orientation: Literal["column", "row"] = "column",
    fmt: str = ".4f",
    scheme: str = "viridis",
    diverging: bool = False,
    axis_title: str = "Component",
    value_title: str = "value",
    subtitle: str | list[str] | None = None,
    name: str = "vec",
) -> alt.LayerChart:
    """A vector drawn as a strip of annotated cells (e.g. a decoder state [5, 1, 20]).

    Parameters
    ----------
    values : array_like, shape (K,)
        The vector.
    labels : sequence of str, length K
        Label of each component.
    title : str
        Chart title.
    orientation : {"column", "row"}
        ``"column"`` stacks the K cells vertically, ``"row"`` side by side.
    fmt : str
        d3 format of the values.
    scheme : str
        Vega colour scheme.
    diverging : bool
        Centre the colours at 0 (use for vectors with negative entries).
    axis_title : str
        Title of the axis along the vector.
    value_title : str
        Tooltip and legend title of the value.
    subtitle : str or list of str, optional
        Line(s) under the title.
    name : str
        Prefix of the chart's param and view names.

    Returns
    -------
    chart : altair.LayerChart
    """
    vec = as_vector(values)
    if orientation not in ("column", "row"):
        msg = f"orientation must be 'column' or 'row', got {orientation!r}"
        raise AtlasError(msg)
    labels = [str(s) for s in labels]
    if orientation == "column":
        matrix, rows, cols = vec[:, None], labels, [""]
        x_title, y_title = "", axis_title
    else:
        matrix, rows, cols = vec[None, :], [""], labels
        x_title, y_title = axis_title, ""
    data = prepare_matrix(
        matrix,
        rows,
        cols,
        prefix=name,
        fmt=fmt,
        domain=None,
        diverging=diverging,
        quantize=False,
    )
    # The axis across the vector has one position and no label: keep it blank.
    if orientation == "column":
        data = dataclasses.replace(data, cols=[""], marks=hidden_marks(labels))
    else:
        data = dataclasses.replace(data, rows=[""], marks=hidden_marks(labels))
    n, m = data.shape
    cell = cell_dims(
        n, m, show_values=True, text_chars=formatted_width(matrix, fmt), cell_size=None
    )
    titles = Titles(x_title, y_title, value_title)
    layers = heat_layers(
        data,
        titles,
        name=name,
        fmt=fmt,
        scheme=scheme,
        diverging=diverging,
        show_values=True,
        cell=cell,
        legend=False,
        tooltip=[
            alt.Tooltip("q:N" if orientation == "column" else "k:N", title=shown_title(axis_title)),
            alt.Tooltip("v:Q", title=shown_title(value_title), format=fmt),
        ],
    )
    heading = chart_title(title, subtitle, data.marks | titles.marks)
    return _one_view(layers, data, cell, heading, None)


def _one_view(
    layers: list[alt.Chart],
    data: MatrixData,
    cell: tuple[int, int],
    title: alt.TitleParams,
    renderer_hint: Renderer | None,
) -> alt.LayerChart:
    """``layers`` over one sequence of the N*M cells (non-finite ones left empty), with
    the matrix's params, a step of ``cell`` pixels, the title and the usermeta."""
    n, m = data.shape
    transform: list[Any] = [
        unchecked(alt.CalculateTransform, calculate=expr, **{"as": field})
        for field, expr in data.calculate().items()
    ]
    if data.enc.has_missing:
        transform.append(unchecked(alt.FilterTransform, filter="isValid(datum.v)"))
    chart = alt.layer(*layers, data=alt.sequence(0, n * m, as_="i"), transform=transform)
    return cast(
        alt.LayerChart,
        add_top_level(
            chart,
            data.params(),
            title=title,
            width=unchecked(alt.Step, cell[0]),
            height=unchecked(alt.Step, cell[1]),
            usermeta=atlas_usermeta(cells=n * m, renderer_hint=renderer_hint),
        ),
    )
