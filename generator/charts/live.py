"""Live panels: a page's computation redone in the reader's browser as they move controls.

Each builder returns one Altair chart whose inputs are bound params (sliders, a select, a
checkbox) and whose outputs are Vega expressions of those inputs, so the page needs no
server and no script of its own. The expressions are the NumPy core's formulas:

- scores: the dot product (:func:`~attention_atlas.attention.dot_scores`), Bahdanau's
  ``v · tanh(q W_q + x W_k)`` (:func:`~attention_atlas.attention.additive_scores`), or
  ``q · k / sqrt(d)`` (:func:`~attention_atlas.attention.scaled_dot_product_attention`);
- the naive softmax ``e^x / sum_j e^x_j``: its exponentials overflow float64 past
  ``x = log(max float64) = 709.78``, which the panel writes as "overflow" (and a row
  whose exponentials all underflow to 0 as "underflow"), never NaN or Infinity;
- the stable softmax ``e^(x - max x) / sum_j e^(x_j - max x)`` of the scores divided by
  a temperature ``T`` (a slider over ``log10 T``), and the weighted sum of the value
  vectors (the context vector or the output row).

Constants (projections, keys, values) travel at full precision inside the expressions, so
a panel computes what the core computes. Each control is clamped to its range in the
expressions as well as by its input element, so no control value reaches NaN.

Every builder names its params and views ``<name>_...``; ``usermeta.atlas.live`` lists
the panel's controls, and its text marks are ``<name>_lines``, ``<name>_table`` (with
``<name>_table_over`` for the cells that overflowed) and ``<name>_<chart>_text``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import altair as alt
import numpy as np
from numpy.typing import ArrayLike

from attention_atlas.charts.encoding import as_matrix, as_vector, label_list
from attention_atlas.charts.theme import ACCENT, BAR_COLOR, HIGHLIGHT
from attention_atlas.charts.toolkit import (
    add_top_level,
    atlas_usermeta,
    calculate_transforms,
    chart_title,
    condition_channel,
    unchecked,
    unchecked_param,
    value_channel,
)
from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.text import fixed

__all__ = [
    "EXP_LIMIT",
    "LOG_T_RANGE",
    "additive_live_chart",
    "dot_score_live_chart",
    "self_attention_live_chart",
    "softmax_live_chart",
    "value_range",
]

#: Largest x whose e^x is a finite float64 (``log(max float64)``, 709.78).
EXP_LIMIT = math.log(np.finfo(np.float64).max)

#: Range of the temperature slider, in log10 T: T runs from 0.001 to 1000.
LOG_T_RANGE = (-3.0, 3.0)

#: The words the panel writes where NumPy gives inf or NaN.
OVERFLOW, UNDERFLOW = "overflow", "underflow"

#: Width of one table column and the height of one table row or text line, in pixels.
_COLUMN, _ROW = 66, 20

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


# --------------------------------------------------------------------------- expressions


def _number(x: float) -> str:
    """``x`` as an expression literal at full precision (``repr`` round-trips a float)."""
    x = float(x)
    if not math.isfinite(x):
        msg = f"a live panel needs finite numbers, got {x!r}"
        raise AtlasError(msg)
    return repr(x)


def _array(items: Iterable[str]) -> str:
    """An array literal of expressions: ``[a, b, c]``."""
    return "[" + ", ".join(items) + "]"


def _literal(values: ArrayLike) -> str:
    """A vector or matrix as a nested array literal at full precision."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        return _array(_number(x) for x in arr)
    return _array(_literal(row) for row in arr)


def _sum(terms: Iterable[str]) -> str:
    return "(" + " + ".join(terms) + ")"


def _fmt(value: str, spec: str) -> str:
    """The text of a number: d3 ``format`` (never NaN or Infinity: see callers)."""
    return f"format({value}, '{spec}')"


def _listed(array: str, count: int) -> str:
    """An expression writing ``array[0..count-1]`` to 4 decimals, comma-separated."""
    return " + ', ' + ".join(_fmt(f"{array}[{u}]", ".4f") for u in range(count))


def _tanh(x: str) -> str:
    """``tanh`` (Vega expressions have none) as ``1 - 2 / (e^2x + 1)``: exact limits
    -1 and 1 where e^2x underflows or overflows, never NaN."""
    return f"(1 - 2 / (exp(2 * ({x})) + 1))"


def value_range(values: ArrayLike) -> tuple[float, float, float]:
    """Slider bounds and step for a page's numbers: ``(low, high, step)``.

    The range is symmetric, at least 10 and 1.5 times the largest magnitude, rounded up
    to a multiple of 10; the step is the coarsest of 1, 0.1, 0.01, 0.001 that lands on
    every value, so each slider can show the page's numbers exactly.

    Parameters
    ----------
    values : array_like
        The numbers the sliders start at.

    Returns
    -------
    low, high, step : float
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0 or not np.isfinite(arr).all():
        msg = "slider values must be finite numbers"
        raise AtlasError(msg)
    top = max(10.0, 10.0 * math.ceil(1.5 * float(np.abs(arr).max()) / 10.0))
    step = 0.001
    for candidate in (1.0, 0.1, 0.01):
        if np.allclose(np.round(arr / candidate) * candidate, arr, rtol=0, atol=1e-9):
            step = candidate
            break
    return -top, top, step


# --------------------------------------------------------------------------- controls


@dataclass(frozen=True)
class _Slider:
    """A number the reader drags: a param bound to a range input."""

    name: str
    label: str
    value: float
    low: float
    high: float
    step: float

    def param(self) -> alt.Parameter:
        bind = alt.binding_range(min=self.low, max=self.high, step=self.step, name=self.label)
        return unchecked_param(name=self.name, value=self.value, bind=bind)

    @property
    def safe(self) -> str:
        """The value as the formulas read it: clamped to the range, the default if not a
        finite number."""
        n = self.name
        default, low, high = _number(self.value), _number(self.low), _number(self.high)
        return f"clamp(isFinite({n}) ? {n} : {default}, {low}, {high})"


def _sliders(
    name: str, values: np.ndarray, labels: Sequence[str], bounds: tuple[float, float, float]
) -> list[_Slider]:
    low, high, step = bounds
    return [
        _Slider(f"{name}{i}", label, float(x), low, high, step)
        for i, (x, label) in enumerate(zip(values.ravel(), labels, strict=True))
    ]


def _rows_param(name: str, sliders: Sequence[_Slider], width: int) -> alt.Parameter:
    """The sliders' values as rows of ``width`` (an array of arrays), clamped."""
    rows = len(sliders) // width
    values = (_array(s.safe for s in sliders[j * width : (j + 1) * width]) for j in range(rows))
    return unchecked_param(name=name, expr=_array(values))


def _weighted_rows_param(name: str, weights: Sequence[str], rows: str, width: int) -> alt.Parameter:
    """``sum_j weights[j] * rows[j][u]`` for each column u: the context vector or output."""
    sums = (_sum(f"{w} * {rows}[{j}][{u}]" for j, w in enumerate(weights)) for u in range(width))
    return unchecked_param(name=name, expr=_array(sums))


def _temperature(name: str) -> tuple[_Slider, alt.Parameter]:
    """The log10-temperature slider (0 = the page's T = 1) and ``<name>_temp`` = T."""
    low, high = LOG_T_RANGE
    slider = _Slider(f"{name}_logt", "log₁₀ T (temperature) ", 0.0, low, high, 0.1)
    return slider, unchecked_param(name=f"{name}_temp", expr=f"pow(10, {slider.safe})")


def _choice(name: str, labels: Sequence[str], value: int, label: str) -> tuple[alt.Parameter, str]:
    """A select over positions (shown by their labels) and its safe index expression."""
    count = len(labels)
    bind = alt.binding_select(options=list(range(count)), labels=list(labels), name=label)
    param = unchecked_param(name=name, value=int(value), bind=bind)
    safe = f"clamp(isFinite({name}) ? floor({name}) : {int(value)}, 0, {count - 1})"
    return param, safe


def _check(name: str, value: bool, label: str) -> tuple[alt.Parameter, str]:
    """A checkbox and its safe truth expression."""
    param = unchecked_param(name=name, value=bool(value), bind=alt.binding_checkbox(name=label))
    return param, f"({name} === true)"


# --------------------------------------------------------------------------- the softmax


def _softmax_params(name: str, scores: list[str], temperature: str) -> list[alt.Parameter]:
    """Scores, their naive and stable softmax, as params ``<name>_...`` (arrays of K).

    ``_s`` scores, ``_x`` scores / T, ``_max`` its maximum, ``_e`` e^(x - max) (each in
    [0, 1], one of them 1), ``_w`` the stable weights, ``_n`` the naive e^x (Infinity past
    :data:`EXP_LIMIT`, 0 below about -745), ``_nsum`` their sum and ``_nw`` the naive
    weights (NaN where the naive softmax breaks: the table writes why instead).
    """
    idx = range(len(scores))
    x = [f"{name}_x[{j}]" for j in idx]
    e = [f"{name}_e[{j}]" for j in idx]
    naive = [f"{name}_n[{j}]" for j in idx]
    return [
        unchecked_param(name=f"{name}_s", expr=_array(scores)),
        unchecked_param(
            name=f"{name}_x", expr=_array(f"{name}_s[{j}] / {temperature}" for j in idx)
        ),
        unchecked_param(name=f"{name}_max", expr=f"max({', '.join(x)})"),
        unchecked_param(name=f"{name}_e", expr=_array(f"exp({xj} - {name}_max)" for xj in x)),
        unchecked_param(name=f"{name}_w", expr=_array(f"{ej} / {_sum(e)}" for ej in e)),
        unchecked_param(name=f"{name}_n", expr=_array(f"exp({xj})" for xj in x)),
        unchecked_param(name=f"{name}_nsum", expr=_sum(naive)),
        unchecked_param(name=f"{name}_nw", expr=_array(f"{nj} / {name}_nsum" for nj in naive)),
    ]


def _exp_text(value: str) -> str:
    """e^x as the panel writes it: "overflow" past float64's largest number."""
    return f"(isFinite({value}) ? {_fmt(value, '.4e')} : '{OVERFLOW}')"


def _softmax_columns(name: str) -> list[_Column]:
    """The table columns every softmax panel shows, one row per key."""
    r = "[datum.r]"
    return [
        _Column("score", _fmt(f"{name}_s{r}", ".6~g")),
        _Column("e^(score/T)", _exp_text(f"{name}_n{r}"), f"!isFinite({name}_n{r})"),
        _Column(
            "naive w",
            f"(isFinite({name}_nw{r}) ? {_fmt(f'{name}_nw{r}', '.4f')} : "
            f"isFinite({name}_n{r}) ? '{UNDERFLOW}' : '{OVERFLOW}')",
            f"!isFinite({name}_nw{r})",
        ),
        _Column("weight", _fmt(f"{name}_w{r}", ".4f")),
    ]


def _naive_line(name: str) -> str:
    """One line saying whether the naive softmax broke, and why."""
    return (
        f"(!isFinite(exp({name}_max)) ? "
        f"'naive: e^x overflows past x = {fixed(EXP_LIMIT)}' : "
        f"!isFinite({name}_nsum) ? 'naive: the sum of e^x overflows' : "
        f"{name}_nsum == 0 ? 'naive: every e^x underflows, 0/0' : "
        f"'naive: no overflow, the same weights')"
    )


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class _Column:
    """One table column: its header, the text of row ``datum.r``, and when that text is
    an overflow (drawn in the highlight colour)."""

    header: str
    text: str
    bad: str = "false"


def _table(
    name: str, rows: Sequence[str], columns: Sequence[_Column], *, title: str, row_title: str
) -> alt.LayerChart:
    """Rows x columns of text computed in the page (``<name>_table`` marks)."""
    n, c = len(rows), len(columns)
    rows_param, cols_param = f"{name}_rows", f"{name}_cols"
    x = alt.X(
        "c:O",
        scale=alt.Scale(domain={"expr": f"sequence(0, {c})"}),
        axis=alt.Axis(
            title=None,
            orient="top",
            labelExpr=f"{cols_param}[datum.value]",
            ticks=False,
            domain=False,
            labelAngle=0,
            labelFontWeight="bold",
        ),
    )
    y = alt.Y(
        "r:O",
        scale=alt.Scale(domain={"expr": f"sequence(0, {n})"}),
        axis=alt.Axis(
            title=row_title,
            labelExpr=f"{rows_param}[datum.value]",
            ticks=False,
            domain=False,
            labelLimit=110,
        ),
    )
    plain = (
        alt.Chart(name=f"{name}_table")
        .mark_text(fontSize=12)
        .encode(x=x, y=y, text=alt.Text("t:N"))
        .transform_filter("!datum.bad")
    )
    over = (
        alt.Chart(name=f"{name}_table_over")
        .mark_text(fontSize=12, fontWeight="bold", color=HIGHLIGHT)
        .encode(x=x, y=y, text=alt.Text("t:N"))
        .transform_filter("datum.bad")
    )
    calc = {
        "r": f"floor(datum.i / {c})",
        "c": f"datum.i % {c}",
        "t": _array(col.text for col in columns) + "[datum.c]",
        "bad": _array(col.bad for col in columns) + "[datum.c]",
    }
    # Set in place: each chained call on a layer copies every layer.
    return cast(
        alt.LayerChart,
        add_top_level(
            alt.layer(plain, over, data=alt.sequence(0, n * c, as_="i")),
            [
                unchecked_param(name=rows_param, value=list(rows)),
                unchecked_param(name=cols_param, value=[col.header for col in columns]),
            ],
            transform=calculate_transforms(calc),
            title=title,
            width=unchecked(alt.Step, _COLUMN),
            height=unchecked(alt.Step, _ROW),
        ),
    )


def _lines(name: str, lines: Sequence[str]) -> alt.Chart:
    """Lines of text computed in the page, one ``<name>_lines`` item each.

    The view is narrow: the panel is as wide as its longest line, not wider.
    """
    return (
        alt.Chart(alt.sequence(0, len(lines), as_="i"), name=f"{name}_lines")
        .transform_calculate(t=_array(lines) + "[datum.i]")
        .mark_text(align="left", baseline="middle", fontSize=12, x=0)
        .encode(
            y=alt.Y("i:O", axis=None),
            text="t:N",
        )
        .properties(width=60, height=alt.Step(_ROW))
    )


def _bars(
    name: str,
    key: str,
    labels: Sequence[str],
    value: str,
    *,
    title: str,
    x_title: str,
    y_title: str,
    fmt: str,
    domain: tuple[float, float] | None = None,
    mark_max: bool = False,
) -> alt.LayerChart:
    """Bars of an array computed in the page (``value`` reads position ``datum.j``), each
    with its value written on it (``<name>_<key>_text`` marks).

    With ``mark_max`` the largest bar is drawn in the accent colour (a join-aggregate
    finds it as the values change).
    """
    count = len(labels)
    labels_param = f"{name}_{key}_names"
    step = max(30, min(60, 260 // count))
    x = alt.X(
        "j:O",
        scale=alt.Scale(domain={"expr": f"sequence(0, {count})"}),
        axis=alt.Axis(
            title=x_title,
            labelExpr=f"{labels_param}[datum.value]",
            labelAngle=0,
            ticks=False,
            labelLimit=step + 20,
        ),
    )
    scale = alt.Scale(domain=list(domain)) if domain else alt.Scale(zero=True, nice=True)
    y = alt.Y("y:Q", title=y_title, scale=scale, axis=alt.Axis(tickCount=4))
    tooltip = [alt.Tooltip("name:N", title=x_title), alt.Tooltip("y:Q", title=y_title)]
    color = value_channel(alt.ColorValue, BAR_COLOR)
    if mark_max:
        color = condition_channel(alt.ColorValue, "datum.y == datum.top", ACCENT, BAR_COLOR)
    bars = alt.Chart(name=f"{name}_{key}_bars").mark_bar().encode(x=x, y=y, color=color)
    text = (
        alt.Chart(name=f"{name}_{key}_text")
        .mark_text(fontSize=11, dy=-7)
        .encode(x=x, y=alt.Y("top_of_bar:Q", scale=scale), text=alt.Text("t:N"), tooltip=tooltip)
    )
    chart = alt.layer(bars.encode(tooltip=tooltip), text, data=alt.sequence(0, count, as_="j"))
    chart = chart.transform_calculate(
        y=value,
        name=f"{labels_param}[datum.j]",
        t=_fmt("datum.y", fmt),
        # Values sit above a positive bar and above the zero line of a negative one.
        top_of_bar="max(datum.y, 0)",
    )
    if mark_max:
        chart = chart.transform_joinaggregate(top="max(y)")
    return cast(
        alt.LayerChart,
        add_top_level(
            chart,
            [unchecked_param(name=labels_param, value=list(labels))],
            title=title,
            width=unchecked(alt.Step, step),
            height=130,
        ),
    )


def _panel(
    name: str,
    views: list[Any],
    params: list[alt.Parameter],
    controls: list[str],
    *,
    title: str,
    subtitle: list[str],
    cells: int,
) -> alt.VConcatChart:
    """The views stacked, the params on top, the live note in the title."""
    meta = atlas_usermeta(cells=cells, renderer_hint="svg")
    meta["atlas"]["live"] = {"name": name, "controls": controls}
    chart = alt.vconcat(*views, spacing=22)
    # Set in place: each chained call would compose the panel again, copying every view.
    # The text views are not plots: no frame, even in export.
    chart.config = unchecked(alt.Config, view=unchecked(alt.ViewConfig, stroke=None))
    return cast(
        alt.VConcatChart,
        add_top_level(
            chart,
            params,
            title=chart_title(title, subtitle),
            usermeta=meta,
            # Lay out again on every change: a longer number must not be cut off.
            autosize=unchecked(alt.AutoSizeParams, type="pad", resize=True),
        ),
    )


@dataclass(frozen=True)
class _Weighted:
    """The positions a softmax panel weighs: a table row and a weight bar each."""

    rows: Sequence[str]  # the table's row labels
    table_title: str
    labels: Sequence[str]  # the weight bars' labels
    axis: str  # the weight bars' axis title
    weights_title: str


@dataclass(frozen=True)
class _Sum:
    """The weighted sum a softmax panel ends in: param ``<name>_<key>``, drawn as bars."""

    key: str
    labels: Sequence[str]
    axis: str
    value_title: str
    title: str


def _weighted_sum_panel(
    name: str,
    lines: list[str],
    params: list[alt.Parameter],
    controls: list[str],
    *,
    keys: _Weighted,
    result: _Sum,
    title: str,
) -> alt.VConcatChart:
    """A softmax panel that ends in a weighted sum: its text ``lines``, a table of the
    softmax per key (:func:`_softmax_columns`), the weights ``<name>_w`` as bars (the
    largest in the accent colour), then the sum.
    """
    table = _table(name, keys.rows, _softmax_columns(name), title=keys.table_title, row_title="")
    weights = _bars(
        name,
        "w",
        keys.labels,
        f"{name}_w[datum.j]",
        title=keys.weights_title,
        x_title=keys.axis,
        y_title="weight",
        fmt=".4f",
        domain=(0.0, 1.0),
        mark_max=True,
    )
    total = _bars(
        name,
        result.key,
        result.labels,
        f"{name}_{result.key}[datum.j]",
        title=result.title,
        x_title=result.axis,
        y_title=result.value_title,
        fmt=".4f",
    )
    n, d = len(keys.labels), len(result.labels)
    return _panel(
        name,
        [_lines(name, lines), table, weights, total],
        params,
        controls,
        title=title,
        subtitle=_LIVE_NOTE,
        cells=4 * n + len(lines) + n + d,
    )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        msg = f"name must be letters and digits starting with a letter, got {name!r}"
        raise AtlasError(msg)


_LIVE_NOTE = [
    "Recomputed in your browser as you move its controls;",
    "it starts at this page's numbers.",
]


# --------------------------------------------------------------------------- the builders


def dot_score_live_chart(
    decoder: ArrayLike,
    annotation: ArrayLike,
    units: Sequence[str],
    *,
    title: str = "Live: the score of one annotation",
    name: str = "live",
) -> alt.VConcatChart:
    """Sliders for a decoder state and one annotation; their products, the dot-product
    score and e^score recomputed as they move.

    Parameters
    ----------
    decoder, annotation : array_like, shape (D,)
        The page's vectors: where the sliders start (their range: :func:`value_range`).
    units : sequence of str, length D
        Name of each hidden unit.
    title : str
    name : str
        Prefix of param and view names (letters and digits).

    Returns
    -------
    chart : altair.VConcatChart
        Text lines (the score as a sum of products, e^score or "overflow" past
        e^709.78), a table of decoder, annotation and product per unit, and the
        products as bars.

    Notes
    -----
    score = sum_u decoder_u * annotation_u, as
    :func:`~attention_atlas.attention.dot_scores`; O(D) per change.
    """
    _check_name(name)
    dec, ann = as_vector(decoder, "decoder"), as_vector(annotation, "annotation")
    if dec.shape != ann.shape:
        msg = (
            f"decoder and annotation differ in length (decoder {dec.shape}, annotation {ann.shape})"
        )
        raise ShapeError(msg)
    d = dec.size
    names = label_list(units, d, "units")
    bounds = value_range(np.concatenate([dec, ann]))
    dec_s = _sliders(f"{name}_d", dec, [f"decoder {u} " for u in names], bounds)
    ann_s = _sliders(f"{name}_a", ann, [f"annotation {u} " for u in names], bounds)
    dv, av, pv = f"{name}_dec", f"{name}_ann", f"{name}_prod"
    params = [
        *(s.param() for s in (*dec_s, *ann_s)),
        unchecked_param(name=dv, expr=_array(s.safe for s in dec_s)),
        unchecked_param(name=av, expr=_array(s.safe for s in ann_s)),
        unchecked_param(name=pv, expr=_array(f"{dv}[{u}] * {av}[{u}]" for u in range(d))),
        unchecked_param(name=f"{name}_score", expr=_sum(f"{pv}[{u}]" for u in range(d))),
    ]
    # The sum as the page writes it ("15 + 12 + 900 = 927"); the table has the factors.
    products = " + ' + ' + ".join(_fmt(f"{pv}[{u}]", ".6~g") for u in range(d))
    score = f"{name}_score"
    lines = [
        f"'score = ' + {products} + ' = ' + {_fmt(score, '.6~g')}",
        f"'e^score = ' + {_exp_text(f'exp({score})')}",
        f"(isFinite(exp({score})) ? 'below e^{fixed(EXP_LIMIT)}, float64 holds it' : "
        f"'past e^{fixed(EXP_LIMIT)}: float64 has no such number')",
    ]
    r = "[datum.r]"
    table = _table(
        name,
        names,
        [
            _Column("decoder", _fmt(f"{dv}{r}", ".6~g")),
            _Column("annotation", _fmt(f"{av}{r}", ".6~g")),
            _Column("product", _fmt(f"{pv}{r}", ".6~g")),
        ],
        title="Unit by unit",
        row_title="",
    )
    bars = _bars(
        name,
        "prod",
        names,
        f"{pv}[datum.j]",
        title="Products: the score is their sum",
        x_title="Hidden unit",
        y_title="decoder × annotation",
        fmt=".6~g",
    )
    return _panel(
        name,
        [_lines(name, lines), table, bars],
        params,
        [s.name for s in (*dec_s, *ann_s)],
        title=title,
        subtitle=_LIVE_NOTE,
        cells=3 * d + len(lines) + d,
    )


def softmax_live_chart(
    decoder: ArrayLike,
    annotations: ArrayLike,
    annotation_names: Sequence[str],
    units: Sequence[str],
    *,
    title: str = "Live: scores, softmax and context vector",
    name: str = "live",
) -> alt.VConcatChart:
    """Sliders for the decoder state, every annotation and the softmax temperature; the
    scores, the naive and stable softmax and the context vector recomputed as they move.

    Parameters
    ----------
    decoder : array_like, shape (D,)
    annotations : array_like, shape (K, D)
        The page's numbers: where the sliders start.
    annotation_names : sequence of str, length K
    units : sequence of str, length D
    title : str
    name : str
        Prefix of param and view names (letters and digits).

    Returns
    -------
    chart : altair.VConcatChart
        Text lines (T, whether the naive softmax broke, the context vector), a table of
        score, e^(score/T), naive and stable weight per annotation, the weights and the
        context vector as bars.

    Notes
    -----
    s = A h (:func:`~attention_atlas.attention.dot_scores`), w = softmax(s / T)
    (:func:`~attention_atlas.attention.softmax`), c = w^T A; O(K D) per change.
    """
    _check_name(name)
    dec = as_vector(decoder, "decoder")
    ann = as_matrix(annotations, "annotations")
    k, d = ann.shape
    if dec.size != d:
        msg = (
            f"the decoder state has {dec.size} units but the annotations have {d} "
            f"(decoder {dec.shape}, annotations {ann.shape})"
        )
        raise ShapeError(msg)
    rows, cols = label_list(annotation_names, k, "annotation_names"), label_list(units, d, "units")
    bounds = value_range(np.concatenate([dec, ann.ravel()]))
    dec_s = _sliders(f"{name}_d", dec, [f"decoder {u} " for u in cols], bounds)
    ann_s = _sliders(f"{name}_a", ann, [f"{row}, {u} " for row in rows for u in cols], bounds)
    t_slider, t_param = _temperature(name)
    dv, av = f"{name}_dec", f"{name}_ann"
    scores = [_sum(f"{dv}[{u}] * {av}[{j}][{u}]" for u in range(d)) for j in range(k)]
    w = [f"{name}_w[{j}]" for j in range(k)]
    params = [
        *(s.param() for s in (t_slider, *dec_s, *ann_s)),
        t_param,
        unchecked_param(name=dv, expr=_array(s.safe for s in dec_s)),
        _rows_param(av, ann_s, d),
        *_softmax_params(name, scores, f"{name}_temp"),
        _weighted_rows_param(f"{name}_ctx", w, av, d),
    ]
    context = _listed(f"{name}_ctx", d)
    lines = [
        f"'T = ' + {_fmt(f'{name}_temp', '.3~r')} + ': weights = softmax(score / T)'",
        _naive_line(name),
        f"'context = [' + {context} + ']'",
    ]
    return _weighted_sum_panel(
        name,
        lines,
        params,
        [s.name for s in (t_slider, *dec_s, *ann_s)],
        keys=_Weighted(
            rows=rows,
            table_title="Per annotation",
            labels=[f"a{j + 1}" for j in range(k)],
            axis="Annotation",
            weights_title="Weights (stable softmax)",
        ),
        result=_Sum(
            key="ctx",
            labels=cols,
            axis="Hidden unit",
            value_title="context",
            title="Context vector: Σ weight × annotation",
        ),
        title=title,
    )


def additive_live_chart(
    inputs: ArrayLike,
    queries: ArrayLike,
    w_q: ArrayLike,
    w_k: ArrayLike,
    v: ArrayLike,
    query_labels: Sequence[str],
    *,
    title: str = "Live: one query's weights and output row",
    name: str = "live",
) -> alt.VConcatChart:
    """A select for the query, sliders for the input vectors and the temperature; the
    additive scores, the naive and stable softmax and the output row recomputed.

    Parameters
    ----------
    inputs : array_like, shape (M, d)
        The input vectors (keys and values): where the sliders start.
    queries : array_like, shape (N, d_q)
        The queries the reader picks from.
    w_q : array_like, shape (d_q, h)
    w_k : array_like, shape (d, h)
    v : array_like, shape (h,)
        The scoring net, carried at full precision.
    query_labels : sequence of str, length N
    title : str
    name : str
        Prefix of param and view names (letters and digits).

    Returns
    -------
    chart : altair.VConcatChart
        Text lines (query, T, naive softmax, the output row), a table per input, the
        weights as bars, and the output row as bars.

    Notes
    -----
    s_j = v · tanh(q W_q + x_j W_k) (:func:`~attention_atlas.attention.additive_scores`),
    w = softmax(s / T), o = sum_j w_j x_j; O(M h (d + d_q)) per change.
    """
    _check_name(name)
    x = as_matrix(inputs, "inputs")
    q = as_matrix(queries, "queries")
    wq, wk = as_matrix(w_q, "w_q"), as_matrix(w_k, "w_k")
    vv = as_vector(v, "v")
    m, d = x.shape
    n, dq = q.shape
    h = vv.size
    if wq.shape != (dq, h) or wk.shape != (d, h):
        msg = (
            f"the scoring net does not fit: expected w_q ({dq}, {h}) and w_k ({d}, {h}), "
            f"got w_q {wq.shape} and w_k {wk.shape}"
        )
        raise ShapeError(msg)
    qlabels = label_list(query_labels, n, "query_labels")
    x_s = _sliders(
        f"{name}_x",
        x,
        [f"input {j + 1}, dim {b + 1} " for j in range(m) for b in range(d)],
        value_range(x),
    )
    t_slider, t_param = _temperature(name)
    pick, qi = _choice(f"{name}_q", qlabels, 0, "query ")
    xv, qv = f"{name}_in", f"{name}_qv"

    def score(j: int) -> str:
        terms = []
        for c in range(h):
            pre = _sum(
                [f"{qv}[{a}] * {_number(wq[a, c])}" for a in range(dq)]
                + [f"{xv}[{j}][{b}] * {_number(wk[b, c])}" for b in range(d)]
            )
            terms.append(f"{_number(vv[c])} * {_tanh(pre)}")
        return _sum(terms)

    w = [f"{name}_w[{j}]" for j in range(m)]
    params = [
        pick,
        *(s.param() for s in (t_slider, *x_s)),
        t_param,
        unchecked_param(name=f"{name}_queries", expr=_literal(q)),
        unchecked_param(name=qv, expr=f"{name}_queries[{qi}]"),
        _rows_param(xv, x_s, d),
        *_softmax_params(name, [score(j) for j in range(m)], f"{name}_temp"),
        _weighted_rows_param(f"{name}_out", w, xv, d),
    ]
    out = _listed(f"{name}_out", d)
    query = f"{name}_qlabels[{qi}]"
    lines = [
        f"'query ' + {query} + ', T = ' + {_fmt(f'{name}_temp', '.3~r')}",
        _naive_line(name),
        f"'output row = {{' + {out} + '}}'",
    ]
    params.append(unchecked_param(name=f"{name}_qlabels", value=qlabels))
    return _weighted_sum_panel(
        name,
        lines,
        params,
        [pick.name, *(s.name for s in (t_slider, *x_s))],
        keys=_Weighted(
            rows=[f"input {j + 1}" for j in range(m)],
            table_title="Per input vector",
            labels=[f"x{j + 1}" for j in range(m)],
            axis="Input vector",
            weights_title="Weights on the inputs (stable softmax)",
        ),
        result=_Sum(
            key="out",
            labels=[f"dim {b + 1}" for b in range(d)],
            axis="Dimension of the input vectors",
            value_title="output",
            title="Output row: Σ weight × input",
        ),
        title=title,
    )


def self_attention_live_chart(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    tokens: Sequence[str],
    *,
    focus: int = 0,
    title: str = "Live: one word's attention row",
    name: str = "live",
) -> alt.VConcatChart:
    """A select for the query word, a checkbox for the 1/sqrt(d) scaling and a
    temperature slider; the word's scores, naive and stable weights and output row.

    Parameters
    ----------
    q, k : array_like, shape (N, d)
        Queries and keys, carried at full precision.
    v : array_like, shape (N, d_v)
        Values.
    tokens : sequence of str, length N
    focus : int
        The word the select starts at (the page's focus word).
    title : str
    name : str
        Prefix of param and view names (letters and digits).

    Returns
    -------
    chart : altair.VConcatChart
        Text lines (query, scaling and T, naive softmax, the row of Z), a table per key
        word, its weights as bars and its output row as bars.

    Notes
    -----
    s_j = q_i · k_j / sqrt(d) (or without the division), w = softmax(s / T),
    z_i = sum_j w_j v_j, as :func:`~attention_atlas.attention.scaled_dot_product_attention`
    with ``scale = 1 / (sqrt(d) T)``; O(N (d + d_v)) per change.
    """
    _check_name(name)
    qm, km, vm = as_matrix(q, "q"), as_matrix(k, "k"), as_matrix(v, "v")
    n, d = qm.shape
    if km.shape != (n, d) or vm.shape[0] != n:
        msg = f"q, k and v must hold one row per token: q {qm.shape}, k {km.shape}, v {vm.shape}"
        raise ShapeError(msg)
    dv = vm.shape[1]
    words = label_list(tokens, n, "tokens")
    if not 0 <= focus < n:
        msg = f"focus must be a token position in 0..{n - 1}, got {focus}"
        raise AtlasError(msg)
    t_slider, t_param = _temperature(name)
    pick, qi = _choice(f"{name}_q", words, focus, "query word ")
    scale_check, scaled = _check(f"{name}_scale", True, f"divide by √d = √{d} ")
    row = f"{name}_qrow"
    scale = f"({scaled} ? {_number(1 / math.sqrt(d))} : 1)"
    scores = [
        f"{_sum(f'{row}[{u}] * {_number(km[j, u])}' for u in range(d))} * {scale}" for j in range(n)
    ]
    w = [f"{name}_w[{j}]" for j in range(n)]
    params = [
        pick,
        scale_check,
        t_slider.param(),
        t_param,
        unchecked_param(name=f"{name}_queries", expr=_literal(qm)),
        unchecked_param(name=row, expr=f"{name}_queries[{qi}]"),
        *_softmax_params(name, scores, f"{name}_temp"),
        unchecked_param(
            name=f"{name}_z",
            expr=_array(_sum(f"{w[j]} * {_number(vm[j, u])}" for j in range(n)) for u in range(dv)),
        ),
        unchecked_param(name=f"{name}_words", value=words),
    ]
    z = _listed(f"{name}_z", dv)
    word = f"{name}_words[{qi}]"
    lines = [
        f"'query “' + {word} + '”, T = ' + {_fmt(f'{name}_temp', '.3~r')}",
        f"'scores = q·k' + ({scaled} ? ' / √{d}' : ', not divided by √{d}')",
        _naive_line(name),
        f"'row of Z = [' + {z} + ']'",
    ]
    return _weighted_sum_panel(
        name,
        lines,
        params,
        [pick.name, scale_check.name, t_slider.name],
        keys=_Weighted(
            rows=words,
            table_title="Per key word",
            labels=words,
            axis="Key word",
            weights_title="Its weights (stable softmax)",
        ),
        result=_Sum(
            key="z",
            labels=[f"dim {u + 1}" for u in range(dv)],
            axis="Value dimension",
            value_title="z",
            title="Its row of Z: Σ weight × value",
        ),
        title=title,
    )
