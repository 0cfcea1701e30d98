"""Heatmaps of attention weights, scores and other matrices, in the compact encoding.

The chart carries the matrix once, as integer codes in a top-level param (see
:mod:`attention_atlas.charts.encoding`); a ``sequence`` generates one row per cell and
``calculate`` transforms recover row, column, value and token labels in the browser.
Axes are ordinal over *positions*, so a token that occurs twice keeps two rows; the
``labelExpr`` of each axis turns a position back into its token.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, cast

import altair as alt
import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.charts.encoding import (
    QUANTIZE_CELLS,
    MatrixEncoding,
    as_matrix,
    as_vector,
    decimals_for,
    encode_matrix,
    js_number,
    label_list,
)
from attention_atlas.errors import AtlasError
from attention_atlas.text import hidden_marks, visible, visible_note

__all__ = ["heatmap_chart", "vector_chart"]

Renderer = Literal["svg", "canvas"]

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

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class MatrixData:
    """A matrix prepared for the browser: codes, labels and the param names holding them.

    Attributes
    ----------
    enc : MatrixEncoding
        The integer codes and how to decode them.
    rows : list of str, length N
        Row (query) labels.
    cols : list of str, length M
        Column (key) labels.
    prefix : str
        Prefix of every param name, unique within one chart.
    marks : frozenset of str
        Invisible characters the labels held, shown as escapes (see
        :func:`attention_atlas.text.hidden_marks`); the chart's subtitle explains them.
    """

    enc: MatrixEncoding
    rows: list[str]
    cols: list[str]
    prefix: str
    marks: frozenset[str] = frozenset()

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, M)``."""
        return self.enc.shape

    @property
    def values_param(self) -> str:
        return f"{self.prefix}_v"

    @property
    def rows_param(self) -> str:
        return f"{self.prefix}_rl"

    @property
    def cols_param(self) -> str:
        return f"{self.prefix}_cl"

    def params(self) -> list[alt.Parameter]:
        """The top-level params: codes (and their split), row labels, column labels."""
        return [
            *value_params(self.enc, self.values_param),
            alt.param(name=self.rows_param, value=self.rows),
            alt.param(name=self.cols_param, value=self.cols),
        ]

    def calculate(self, index: str = "datum.i") -> dict[str, str]:
        """``transform_calculate`` fields: r, c, v (value), q and k (labels)."""
        _, m = self.shape
        return {
            "r": f"floor({index} / {m})",
            "c": f"{index} % {m}",
            "v": self.enc.decode_expr(self.values_param, index),
            "q": f"datum.r + ': ' + {self.rows_param}[datum.r]",
            "k": f"datum.c + ': ' + {self.cols_param}[datum.c]",
        }


def value_params(enc: MatrixEncoding, name: str) -> list[alt.Parameter]:
    """The param holding ``enc``'s codes, plus the derived split param in exact mode."""
    params = [alt.param(name=name, value=enc.codes)]
    split = enc.split_expr(name)
    if split is not None:
        params.append(alt.param(name=f"{name}_x", expr=split))
    return params


def prepare_matrix(
    values: ArrayLike,
    row_labels: Any,
    col_labels: Any,
    *,
    prefix: str,
    fmt: str,
    domain: tuple[float, float] | None,
    diverging: bool,
    quantize: bool | None,
) -> MatrixData:
    """Check shapes and labels and encode the matrix (see :func:`heatmap_chart`).

    Parameters
    ----------
    values : array_like, shape (N, M)
    row_labels : sequence of str, length N
    col_labels : sequence of str, length M
    prefix : str
        Param-name prefix, a plain identifier.
    fmt : str
        d3 format of the values; decides how many decimals travel.
    domain : tuple of float, optional
    diverging : bool
    quantize : bool, optional
        ``None`` quantises when N*M >= 4096.

    Returns
    -------
    data : MatrixData
    """
    if not _NAME.match(prefix):
        msg = f"prefix must be a plain identifier, got {prefix!r}"
        raise AtlasError(msg)
    arr = as_matrix(values)
    n, m = arr.shape
    raw_rows, raw_cols = [str(x) for x in row_labels], [str(x) for x in col_labels]
    rows = label_list(raw_rows, n, "row_labels")
    cols = label_list(raw_cols, m, "col_labels")
    if quantize is None:
        quantize = n * m >= QUANTIZE_CELLS
    enc = encode_matrix(
        arr,
        decimals=decimals_for(fmt, arr),
        quantize=quantize,
        domain=domain,
        diverging=diverging,
    )
    marks = hidden_marks(raw_rows + raw_cols)
    return MatrixData(enc=enc, rows=rows, cols=cols, prefix=prefix, marks=marks)


def text_color_test(data: MatrixData, scheme: str, diverging: bool) -> str:
    """Expression that is true where the cell colour is dark (so the text must be light)."""
    lo, hi = data.enc.domain
    t = f"(datum.v - {js_number(lo)}) / {js_number(hi - lo)}"
    if diverging:
        return f"abs({t} - 0.5) > 0.3"
    if scheme in _DARK_LOW:
        return f"{t} < 0.45"
    return f"{t} > 0.6"


def value_axis_title(data: MatrixData, value_title: str) -> str:
    """Tooltip title of the value, saying so when values are quantised."""
    if data.enc.quantized:
        return f"{value_title} (quantised to {data.enc.levels} levels)"
    return value_title


def _formatted_width(values: NDArray[np.float64], fmt: str) -> int:
    """Longest formatted value in characters (Python's format mini-language ~ d3's)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 4
    try:
        return max(len(format(float(x), fmt.lstrip("~"))) for x in (finite.min(), finite.max()))
    except ValueError:
        return 7


def cell_dims(
    n: int,
    m: int,
    *,
    show_values: bool,
    text_chars: int,
    cell_size: int | tuple[int, int] | None,
) -> tuple[int, int]:
    """Cell width and height in pixels."""
    if cell_size is not None:
        if isinstance(cell_size, tuple):
            return int(cell_size[0]), int(cell_size[1])
        return int(cell_size), int(cell_size)
    if show_values:
        return max(30, int(text_chars * 6.4) + 10), 24
    side = max(3, min(28, 520 // max(n, m)))
    return side, side


def position_axis(
    labels_param: str,
    title: str,
    *,
    count: int,
    step: int,
    max_chars: int,
    orient: Literal["top", "bottom", "left", "right"],
) -> alt.Axis:
    """An axis over positions whose labels are the tokens at those positions."""
    horizontal = orient in ("top", "bottom")
    angle = 0
    if horizontal and max_chars * 6.5 > step:
        angle = -45
    kwargs: dict[str, Any] = {
        "title": title,
        "orient": orient,
        "labelExpr": f"{labels_param}[datum.value]",
        "labelLimit": 120,
        "ticks": False,
        "domain": False,
        "labelPadding": 4,
    }
    if horizontal:
        kwargs["labelAngle"] = angle
        if angle:
            kwargs["labelAlign"] = "left" if orient == "top" else "right"
            kwargs["labelBaseline"] = "middle"
    if step < 11 or count > 60:
        kwargs["labelOverlap"] = "parity"
        kwargs["labelFontSize"] = 9 if step >= 8 else 8
    return alt.Axis(**kwargs)


def color_scale(data: MatrixData, scheme: str, diverging: bool) -> alt.Scale:
    """The colour scale over the encoded domain (diverging ones are centred at 0)."""
    lo, hi = data.enc.domain
    if diverging:
        return alt.Scale(scheme=cast(Any, scheme), domain=[lo, hi], domainMid=0, clamp=True)
    return alt.Scale(scheme=cast(Any, scheme), domain=[lo, hi], clamp=True)


def heat_layers(
    data: MatrixData,
    *,
    name: str,
    x_title: str,
    y_title: str,
    value_title: str,
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
    x_title, y_title, value_title = (shown_title(t) for t in (x_title, y_title, value_title))
    vtitle = value_axis_title(data, value_title)
    max_col = max((len(s) for s in data.cols), default=1)
    max_row = max((len(s) for s in data.rows), default=1)
    x = alt.X(
        "c:O",
        scale=alt.Scale(domain={"expr": f"sequence(0, {m})"}),
        axis=position_axis(
            data.cols_param, x_title, count=m, step=cell[0], max_chars=max_col, orient="top"
        ),
    )
    y = alt.Y(
        "r:O",
        scale=alt.Scale(domain={"expr": f"sequence(0, {n})"}),
        axis=position_axis(
            data.rows_param, y_title, count=n, step=cell[1], max_chars=max_row, orient="left"
        ),
    )
    color = alt.Color(
        "v:Q",
        scale=color_scale(data, scheme, diverging),
        legend=alt.Legend(
            title=value_title,
            gradientLength=max(60, min(200, cell[1] * n)),
            format=fmt,
        )
        if legend
        else None,
    )
    if tooltip is None:
        tooltip = [
            alt.Tooltip("q:N", title=y_title),
            alt.Tooltip("k:N", title=x_title),
            alt.Tooltip("v:Q", title=vtitle, format=fmt),
        ]
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
                color=alt.condition(
                    text_color_test(data, scheme, diverging),
                    alt.value("#ffffff"),
                    alt.value("#111111"),
                ),
                tooltip=tooltip,
            )
        )
        layers.append(text)
    return layers


def atlas_usermeta(*, cells: int, renderer_hint: Renderer | None) -> dict[str, Any]:
    """Metadata read by :func:`attention_atlas.charts.html.figure_html` (renderer choice)."""
    meta: dict[str, Any] = {"cells": int(cells)}
    if renderer_hint is not None:
        if renderer_hint not in ("svg", "canvas"):
            msg = f"renderer_hint must be 'svg' or 'canvas', got {renderer_hint!r}"
            raise AtlasError(msg)
        meta["renderer"] = renderer_hint
    return {"atlas": meta}


def chart_title(
    title: str | list[str],
    subtitle: str | list[str] | None,
    marks: Collection[str] = frozenset(),
) -> alt.TitleParams:
    """Title with an optional subtitle line (or lines), shown through :func:`visible`.

    When the title, the subtitle or the chart's labels (their ``marks``, from
    :func:`attention_atlas.text.hidden_marks`) held invisible characters, a last
    subtitle line says how they are shown.
    """
    lines = [title] if isinstance(title, str) else list(title)
    sub = [subtitle] if isinstance(subtitle, str) else list(subtitle or [])
    note = visible_note(set(marks) | hidden_marks(t for t in [*lines, *sub] if t))
    shown = [shown_title(t) for t in lines]
    text: str | list[str] = shown[0] if isinstance(title, str) else shown
    if note:
        sub = [*sub, note]
    if not sub:
        return alt.TitleParams(text=text)
    if isinstance(subtitle, str) and len(sub) == 1:
        return alt.TitleParams(text=text, subtitle=shown_title(sub[0]))
    return alt.TitleParams(text=text, subtitle=[shown_title(t) for t in sub])


def _title_marks(*titles: str) -> frozenset[str]:
    """:func:`hidden_marks` of axis and value titles (an empty title is no mark)."""
    return hidden_marks(t for t in titles if t)


def shown_title(title: str) -> str:
    """A title or axis title as displayed: :func:`visible`, but an empty one stays empty."""
    return visible(title) if title else title


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
    )
    n, m = data.shape
    if show_values is None:
        show_values = n * m <= SHOW_VALUES_CELLS
    arr = as_matrix(values)
    cell = cell_dims(
        n,
        m,
        show_values=show_values,
        text_chars=_formatted_width(arr, fmt),
        cell_size=cell_size,
    )
    layers = heat_layers(
        data,
        name=name,
        x_title=x_title,
        y_title=y_title,
        value_title=value_title,
        fmt=fmt,
        scheme=scheme,
        diverging=diverging,
        show_values=show_values,
        cell=cell,
    )
    chart = alt.layer(*layers, data=alt.sequence(0, n * m, as_="i")).transform_calculate(
        **data.calculate()
    )
    if data.enc.has_missing:
        chart = chart.transform_filter("isValid(datum.v)")
    return cast(alt.LayerChart, chart.add_params(*data.params())).properties(
        title=chart_title(
            title, subtitle, data.marks | _title_marks(x_title, y_title, value_title)
        ),
        width=alt.Step(cell[0]),
        height=alt.Step(cell[1]),
        usermeta=atlas_usermeta(cells=n * m, renderer_hint=renderer_hint),
    )


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
        n, m, show_values=True, text_chars=_formatted_width(matrix, fmt), cell_size=None
    )
    layers = heat_layers(
        data,
        name=name,
        x_title=x_title,
        y_title=y_title,
        value_title=value_title,
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
    calc = data.calculate()
    chart = alt.layer(*layers, data=alt.sequence(0, n * m, as_="i")).transform_calculate(**calc)
    return cast(alt.LayerChart, chart.add_params(*data.params())).properties(
        title=chart_title(title, subtitle, data.marks),
        width=alt.Step(cell[0]),
        height=alt.Step(cell[1]),
        usermeta=atlas_usermeta(cells=n * m, renderer_hint=None),
    )


def restrict_views(chart: Any, param: Any, prefixes: tuple[str, ...]) -> None:
    """Keep a selection defined only on the views whose names start with ``prefixes``.

    Altair defines a selection on whichever layers of a view it picks (sometimes every
    layer, sometimes the first); Vega-Lite then fails with "Duplicate signal name" or
    listens on the wrong layer. Layers share their view's group, so clicks on the other
    layers still reach the selection.
    """
    names = [n for n in _view_names(chart) if n.startswith(prefixes)]
    if not names:
        msg = f"no view named {prefixes!r} in the chart"
        raise AtlasError(msg)
    for p in chart.params:
        if getattr(p, "name", None) == param:
            p.views = names


def _view_names(chart: Any) -> list[str]:
    """Names of every unit view inside a (layered, faceted, concatenated) chart."""
    found: list[str] = []
    for attr in ("hconcat", "vconcat", "concat", "layer"):
        for sub in getattr(chart, attr, None) or []:
            found.extend(_view_names(sub))
    spec = getattr(chart, "spec", None)
    if spec is not None and not isinstance(spec, str | dict):
        found.extend(_view_names(spec))
    name = getattr(chart, "name", None)
    if isinstance(name, str) and getattr(chart, "mark", None) not in (None, alt.Undefined):
        found.append(name)
    return found
