"""A heatmap beside the bars of one query's row: click a row to see where that query looks."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
from numpy.typing import ArrayLike

from attention_atlas.charts.heatmap import heat_layers
from attention_atlas.charts.theme import ACCENT, HIGHLIGHT
from attention_atlas.charts.toolkit import (
    Titles,
    add_selection,
    add_top_level,
    atlas_usermeta,
    calculate_transforms,
    cell_dims,
    cell_tooltip,
    chart_title,
    condition_channel,
    formatted_width,
    position_encoding,
    prepare_matrix,
    unchecked,
    value_axis_title,
    value_channel,
)
from attention_atlas.errors import AtlasError

__all__ = ["row_explorer_chart"]


def row_explorer_chart(
    weights: ArrayLike,
    row_labels: Any,
    col_labels: Any,
    *,
    title: str,
    x_title: str = "Key (attended to)",
    y_title: str = "Query (attending)",
    value_title: str = "weight",
    fmt: str = ".4f",
    initial_row: int = 0,
    subtitle: str | list[str] | None = None,
    name: str = "rx",
    quantize: bool | None = None,
    row_positions: Any = None,
    col_positions: Any = None,
) -> alt.HConcatChart:
    """The weight map, and beside it the weights of the query row the reader clicks.

    Parameters
    ----------
    weights : array_like, shape (N, M)
        Attention weights, row ``i`` for query ``i``.
    row_labels : sequence of str, length N
    col_labels : sequence of str, length M
    title : str
    x_title, y_title, value_title : str
    fmt : str
        d3 format of values.
    initial_row : int
        Row shown before any click.
    subtitle : str or list of str, optional
        Say here when tokens are hidden or rows renormalised.
    name : str
        Prefix of param and view names.
    quantize : bool, optional
        As :func:`attention_atlas.charts.heatmap_chart`: ``None`` quantises from 4096
        cells; False sends exact values (the clicked row's bars then are exact too).
    row_positions, col_positions : sequence of int, optional
        Where each row's (column's) token sits in the full sequence when the map leaves
        tokens out, so labels and tooltips name the same position in every view.

    Returns
    -------
    chart : altair.HConcatChart
    """
    w = np.asarray(weights, dtype=np.float64)
    titles = Titles(x_title, y_title, value_title)
    shown = titles.shown()
    data = prepare_matrix(
        w,
        row_labels,
        col_labels,
        prefix=name,
        fmt=fmt,
        domain=None,
        diverging=False,
        quantize=quantize,
        row_positions=row_positions,
        col_positions=col_positions,
    )
    n, m = data.shape
    if not 0 <= initial_row < n:
        msg = f"initial_row must be a row in 0..{n - 1}, got {initial_row}"
        raise AtlasError(msg)
    show_values = n * m <= 64
    cell = cell_dims(
        n, m, show_values=show_values, text_chars=formatted_width(w, fmt), cell_size=None
    )
    pick = unchecked(
        alt.selection_point,
        name=f"{name}_pick",
        fields=["r"],
        on="click",
        clear=False,
        value=[{"r": initial_row}],
    )
    layers = heat_layers(
        data,
        titles,
        name=name,
        fmt=fmt,
        scheme="viridis",
        diverging=False,
        show_values=show_values,
        cell=cell,
        legend=False,
        extra_encoding={
            "stroke": condition_channel(alt.StrokeValue, pick, HIGHLIGHT, "transparent"),
            "strokeWidth": value_channel(alt.StrokeWidthValue, 2),
        },
    )
    calc = data.calculate()
    # Set in place: a chained call on a layer copies every layer (a report draws a
    # chart like this for each of its heads).
    heat = add_top_level(
        alt.layer(*layers, data=alt.sequence(0, n * m, as_="i")),
        transform=calculate_transforms(calc),
        width=alt.Step(cell[0]),
        height=alt.Step(cell[1]),
    )
    step = max(14, min(40, 480 // m))
    top = float(np.nanmax(w[np.isfinite(w)])) if np.isfinite(w).any() else 1.0
    bars = (
        alt.Chart(name=f"{name}_bars")
        .mark_bar(color=ACCENT)
        .encode(
            x=position_encoding(
                data.cols_param,
                shown.x,
                count=m,
                step=step,
                max_chars=max(len(s) for s in data.cols),
                orient="bottom",
            ),
            y=alt.Y("v:Q", title=shown.value, scale=alt.Scale(domain=[0, max(top, 1e-9)])),
            tooltip=cell_tooltip(shown.y, shown.x, value_axis_title(data, shown.value), fmt),
        )
    )
    label = (
        alt.Chart(name=f"{name}_query")
        .mark_text(align="left", baseline="bottom", x=0, y=-6, fontWeight="bold")
        .encode(text=alt.Text("q:N"))
        .transform_filter("datum.c == 0")
    )
    row = add_top_level(
        alt.layer(bars, label, data=alt.sequence(0, n * m, as_="i")),
        transform=[*calculate_transforms(calc), {"filter": {"param": pick.name}}],
        width=alt.Step(step),
        height=220,
    )
    chart = alt.hconcat(heat, row, spacing=30)
    add_selection(chart, pick, (f"{name}_cells",))
    return add_top_level(
        chart,
        data.params(),
        title=chart_title(
            title,
            subtitle or "Click a query row to see its weights as bars.",
            data.marks | titles.marks,
        ),
        usermeta=atlas_usermeta(cells=2 * n * m, renderer_hint=None),
    )
