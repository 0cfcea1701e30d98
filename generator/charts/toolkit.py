"""What every chart builder shares: labelled position axes, titles, tooltips, sizes, metadata.

- A matrix as the browser gets it (:class:`MatrixData`, :func:`prepare_matrix`): its
  codes and its row and column labels in top-level params, and the ``calculate``
  fields that turn a cell index back into row, column, value and labels.
- Axes over *positions* (:func:`position_encoding`): ordinal, so a token that occurs
  twice keeps two rows, labelled with the token at each position.
- Titles (:func:`chart_title`, :class:`Titles`) shown through
  :func:`attention_atlas.text.visible`, tooltips (:func:`cell_tooltip`), cell sizes
  (:func:`cell_dims`), the ``usermeta`` the page reads (:func:`atlas_usermeta`) and
  selections kept on the views that define them (:func:`restrict_views`).
- Building cheaply: Altair's own checks of each object (:func:`unchecked`), its
  resolution of dicts given to ``encode`` (:func:`value_channel`,
  :func:`condition_channel`) and its copies at each chained call or lifted selection
  (:func:`add_top_level`, :func:`add_selection`) cost most of a chart's build, in the
  site build too; these give the same spec without them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar, cast

import altair as alt
import numpy as np
from altair.utils.schemapi import debug_mode
from numpy.typing import ArrayLike, NDArray

from attention_atlas.charts.encoding import (
    QUANTIZE_CELLS,
    MatrixEncoding,
    as_matrix,
    decimals_for,
    encode_matrix,
    label_list,
)
from attention_atlas.charts.html import Renderer
from attention_atlas.errors import AtlasError
from attention_atlas.text import hidden_marks, plain_significant, visible, visible_note

Orient = Literal["top", "bottom", "left", "right"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Channel = TypeVar("Channel", bound=alt.SchemaBase)
Made = TypeVar("Made")
Args = ParamSpec("Args")


def unchecked(make: Callable[Args, Made], *args: Args.args, **kwargs: Args.kwargs) -> Made:
    """``make(*args, **kwargs)`` without Altair checking each object it creates.

    Altair validates a schema object (an axis, a scale, a param) against the schema when
    it is created: about 1 ms each, on every build, whether the finished spec is
    validated or not. The finished spec is validated as a whole where validation is on
    (:func:`~attention_atlas.charts.html.schema_validation`, as in the tests), which
    finds the same mistakes. (Altair's switch is process-wide: build charts from one
    thread at a time.)
    """
    with debug_mode(False):
        return make(*args, **kwargs)


def unchecked_param(**kwargs: Any) -> alt.Parameter:
    """``alt.param(**kwargs)`` built :func:`unchecked` (the param every chart has most of)."""
    return cast(alt.Parameter, unchecked(alt.param, **kwargs))


# --------------------------------------------------------------------------- matrix data


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
    row_positions, col_positions : list of int, optional
        Where each row's (column's) token sits in the full sequence, when the map leaves
        some tokens out: labels and tooltips then name that position ("10: it" in
        every view of the sentence), not the row's index in the map.
    """

    enc: MatrixEncoding
    rows: list[str]
    cols: list[str]
    prefix: str
    marks: frozenset[str] = frozenset()
    row_positions: list[int] | None = None
    col_positions: list[int] | None = None

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
        """The top-level params: codes (and their split), row labels, column labels, and
        the positions of rows and columns when they are not 0, 1, 2, ..."""
        params = [
            *value_params(self.enc, self.values_param),
            unchecked_param(name=self.rows_param, value=self.rows),
            unchecked_param(name=self.cols_param, value=self.cols),
        ]
        for suffix, positions in (("_rp", self.row_positions), ("_cp", self.col_positions)):
            if positions is not None:
                params.append(unchecked_param(name=self.prefix + suffix, value=positions))
        return params

    def calculate(self, index: str = "datum.i") -> dict[str, str]:
        """``transform_calculate`` fields: r, c, v (value), q and k (labels)."""
        _, m = self.shape
        rows_at = None if self.row_positions is None else f"{self.prefix}_rp"
        cols_at = None if self.col_positions is None else f"{self.prefix}_cp"
        return {
            "r": f"floor({index} / {m})",
            "c": f"{index} % {m}",
            "v": self.enc.decode_expr(self.values_param, index),
            "q": position_label("datum.r", self.rows_param, rows_at),
            "k": position_label("datum.c", self.cols_param, cols_at),
        }


def position_label(index: str, labels_param: str, positions_param: str | None = None) -> str:
    """Expression of a row's or column's label, "position: token".

    The position is ``index`` itself, or ``positions_param[index]`` when the map leaves
    tokens out (so a token keeps its place in the sentence in every view).
    """
    at = index if positions_param is None else f"{positions_param}[{index}]"
    return f"{at} + ': ' + {labels_param}[{index}]"


def check_positions(positions: Any, count: int, what: str) -> list[int] | None:
    """``positions`` as a list of ``count`` distinct non-negative ints (None stays None)."""
    if positions is None:
        return None
    found = [int(p) for p in np.asarray(positions).reshape(-1)]
    if len(found) != count or min(found, default=0) < 0 or len(set(found)) != len(found):
        msg = f"{what}: expected {count} distinct positions >= 0, got {found}"
        raise AtlasError(msg)
    return found


def value_params(enc: MatrixEncoding, name: str) -> list[alt.Parameter]:
    """The param holding ``enc``'s codes, plus the derived split param in exact mode."""
    params = [unchecked_param(name=name, value=enc.codes)]
    split = enc.split_expr(name)
    if split is not None:
        params.append(unchecked_param(name=f"{name}_x", expr=split))
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
    row_positions: Any = None,
    col_positions: Any = None,
) -> MatrixData:
    """Check shapes and labels and encode the matrix.

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
    row_positions : sequence of int, length N, optional
    col_positions : sequence of int, length M, optional
        Where the rows' (columns') tokens sit in the full sequence, when the map leaves
        tokens out; default 0, 1, 2, ...

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
    return MatrixData(
        enc=enc,
        rows=rows,
        cols=cols,
        prefix=prefix,
        marks=marks,
        row_positions=check_positions(row_positions, n, "row_positions"),
        col_positions=check_positions(col_positions, m, "col_positions"),
    )


# --------------------------------------------------------------------------- titles


def shown_title(title: str) -> str:
    """A title or axis title as displayed: :func:`visible`, but an empty one stays empty."""
    return visible(title) if title else title


def title_marks(*titles: str) -> frozenset[str]:
    """:func:`hidden_marks` of axis and value titles (an empty title is no mark)."""
    return hidden_marks(t for t in titles if t)


@dataclass(frozen=True)
class Titles:
    """What a map's columns (x), rows (y) and values are called: axes, legend, tooltips."""

    x: str
    y: str
    value: str

    def shown(self) -> Titles:
        """The titles as displayed (:func:`shown_title`)."""
        return Titles(shown_title(self.x), shown_title(self.y), shown_title(self.value))

    @property
    def marks(self) -> frozenset[str]:
        """Invisible characters the titles hold (:func:`title_marks`)."""
        return title_marks(self.x, self.y, self.value)


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
        return unchecked(alt.TitleParams, text=text)
    if isinstance(subtitle, str) and len(sub) == 1:
        return unchecked(alt.TitleParams, text=text, subtitle=shown_title(sub[0]))
    return unchecked(alt.TitleParams, text=text, subtitle=[shown_title(t) for t in sub])


def quantised_title(title: str, levels: int, of: str = "") -> str:
    """A value's tooltip title saying the value travelled as ``levels`` levels ``of`` a range:
    ``"weight (quantised to 256 levels)"``."""
    return f"{title} (quantised to {levels} levels{' of ' + of if of else ''})"


def value_axis_title(data: MatrixData, value_title: str) -> str:
    """Tooltip title of the value, saying so (and the step) when values are quantised."""
    if data.enc.quantized:
        step = plain_significant(data.enc.step)
        return f"≈ {quantised_title(value_title, data.enc.levels)[:-1]}, step {step})"
    return value_title


def cell_tooltip(query: str, key: str, value: str, fmt: str) -> list[alt.Tooltip]:
    """Hover of one cell: its query and key (position and token), then its value."""
    return [
        alt.Tooltip("q:N", title=query),
        alt.Tooltip("k:N", title=key),
        alt.Tooltip("v:Q", title=value, format=fmt),
    ]


# --------------------------------------------------------------------------- channels
#
# ``encode`` turns a plain dict (what ``alt.value`` and ``alt.condition`` return) or a
# shorthand string into a channel object by validating it against each schema the channel
# accepts, after hashing every schema class: about 10 ms a channel, on every build of every
# chart (schema validation of the finished spec being off or not). A channel object given
# to ``encode`` skips all of it and writes the same spec.


def value_channel(channel: type[Channel], value: Any) -> Channel:
    """``alt.value(value)`` as the channel's value class (``alt.StrokeWidthValue``, ...)."""
    return channel(value=value)


def condition_channel(channel: type[Channel], test: Any, then: Any, otherwise: Any) -> Channel:
    """``alt.condition(test, alt.value(then), alt.value(otherwise))`` as the channel's value
    class (``alt.ColorValue``, ``alt.StrokeValue``, ...); ``test`` is an expression string
    or a selection."""
    condition = alt.condition(test, alt.value(then), alt.value(otherwise))
    return channel(**cast(dict[str, Any], condition))


# --------------------------------------------------------------------------- positions and sizes


def formatted_width(values: NDArray[np.float64], fmt: str) -> int:
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


def position_scale(count: int) -> alt.Scale:
    """A scale over every position ``0 .. count - 1``, also those no datum reaches."""
    return unchecked(alt.Scale, domain={"expr": f"sequence(0, {count})"})


def position_encoding(
    labels_param: str,
    title: str,
    *,
    count: int,
    step: int,
    max_chars: int,
    orient: Orient,
) -> alt.X | alt.Y:
    """The column (``c``, on a top or bottom axis) or row (``r``) channel over positions.

    The axis labels each position with the token at that place in the param
    ``labels_param``; column labels turn 45 degrees when ``max_chars`` characters do
    not fit a ``step`` of pixels, and crowded axes label every other position.
    """
    horizontal = orient in ("top", "bottom")
    axis: dict[str, Any] = {
        "title": title,
        "orient": orient,
        "labelExpr": f"{labels_param}[datum.value]",
        "labelLimit": 120,
        "ticks": False,
        "domain": False,
        "labelPadding": 4,
    }
    if horizontal:
        turned = max_chars * 6.5 > step
        axis["labelAngle"] = -45 if turned else 0
        if turned:
            axis["labelAlign"] = "left" if orient == "top" else "right"
            axis["labelBaseline"] = "middle"
    if step < 11 or count > 60:
        axis["labelOverlap"] = "parity"
        axis["labelFontSize"] = 9 if step >= 8 else 8
    if horizontal:
        return alt.X("c:O", scale=position_scale(count), axis=unchecked(alt.Axis, **axis))
    return alt.Y("r:O", scale=position_scale(count), axis=unchecked(alt.Axis, **axis))


# --------------------------------------------------------------------------- chart metadata


def atlas_usermeta(*, cells: int, renderer_hint: Renderer | None) -> dict[str, Any]:
    """Metadata read by :func:`attention_atlas.charts.html.figure_html` (renderer choice)."""
    meta: dict[str, Any] = {"cells": int(cells)}
    if renderer_hint is not None:
        if renderer_hint not in ("svg", "canvas"):
            msg = f"renderer_hint must be 'svg' or 'canvas', got {renderer_hint!r}"
            raise AtlasError(msg)
        meta["renderer"] = renderer_hint
    return {"atlas": meta}


def restrict_views(chart: Any, param: Any, prefixes: tuple[str, ...]) -> None:
    """Keep a selection defined only on the views whose names start with ``prefixes``.

    Altair defines a selection on whichever layers of a view it picks (sometimes every
    layer, sometimes the first); Vega-Lite then fails with "Duplicate signal name" or
    listens on the wrong layer. Layers share their view's group, so clicks on the other
    layers still reach the selection.
    """
    names = _views_named(chart, prefixes)
    for p in chart.params:
        if getattr(p, "name", None) == param:
            p.views = names


def add_selection(chart: Any, selection: alt.Parameter, prefixes: tuple[str, ...]) -> None:
    """Define ``selection`` at the top level of a compound chart, in place, on the views
    whose names start with ``prefixes`` (as :func:`restrict_views` leaves it).

    The spec is the one ``add_params`` on a layer writes once Altair has lifted the
    selection through every layer and concat above it; that lifting copies every
    subchart and validates every param at each level, the dearest part of building an
    interactive chart. Add the selection after the chart is composed.
    """
    if not isinstance(selection.param, alt.SelectionParameter):
        msg = f"add_selection takes a selection, got {selection.param.__class__.__name__}"
        raise AtlasError(msg)
    lifted = unchecked(
        alt.TopLevelSelectionParameter,
        **selection.param.to_dict(validate=False),
        views=_views_named(chart, prefixes),
    )
    chart.params = [*([] if chart.params is alt.Undefined else chart.params), lifted]


def _views_named(chart: Any, prefixes: tuple[str, ...]) -> list[str]:
    """Names of the unit views inside ``chart`` that start with ``prefixes`` (at least one)."""
    names = [n for n in _view_names(chart) if n.startswith(prefixes)]
    if not names:
        msg = f"no view named {prefixes!r} in the chart"
        raise AtlasError(msg)
    return names


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


def calculate_transforms(calc: Mapping[str, str]) -> list[dict[str, str]]:
    """``transform_calculate(**calc)`` as the transform list it writes, for
    :func:`add_top_level` (which sets it without copying the chart)."""
    return [{"calculate": expr, "as": field} for field, expr in calc.items()]


def add_top_level(chart: Any, params: Collection[alt.Parameter] = (), **properties: Any) -> Any:
    """Add variable ``params`` and ``properties`` to a compound chart in place; return it.

    Altair's chained calls copy the whole chart, and ``add_params`` on a concat pushes
    each param into every subchart and lifts it back: on a report of a thousand heads
    that was most of the time spent drawing. Variable params (the data a chart
    carries) sit at the top level either way; a selection still goes through
    ``add_params`` on the layer it is made on.
    """
    for param in params:
        if not isinstance(param.param, alt.VariableParameter):
            msg = f"add_top_level takes variable params only, got {param.param.__class__.__name__}"
            raise AtlasError(msg)
    if params:
        had = [] if chart.params is alt.Undefined else list(chart.params)
        chart.params = [*had, *(p.param for p in params)]
    for key, value in properties.items():
        setattr(chart, key, value)
    return chart
