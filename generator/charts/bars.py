"""Bar charts of one attention row: the weights one query gives to each key position."""

from __future__ import annotations

from typing import Any, cast

import altair as alt
import numpy as np
from numpy.typing import ArrayLike

from attention_atlas.charts.encoding import as_vector, decimals_for, encode_matrix, label_list
from attention_atlas.charts.theme import ACCENT, BAR_COLOR
from attention_atlas.charts.toolkit import (
    Titles,
    add_top_level,
    atlas_usermeta,
    calculate_transforms,
    chart_title,
    condition_channel,
    position_encoding,
    unchecked,
    unchecked_param,
    value_channel,
    value_params,
)
from attention_atlas.errors import AtlasError
from attention_atlas.text import hidden_marks

__all__ = ["bar_chart"]

#: Bars at or below this count get their value written above them.
SHOW_VALUES_BARS = 16


def _highlight_test(highlight: int | list[int] | None, count: int) -> str | None:
    if highlight is None:
        return None
    picked = [highlight] if isinstance(highlight, int | np.integer) else list(highlight)
    for i in picked:
        if not 0 <= int(i) < count:
            msg = f"highlight position {i} is outside 0..{count - 1}"
            raise AtlasError(msg)
    if not picked:
        return None
    return " || ".join(f"datum.c == {int(i)}" for i in sorted(set(picked)))


def bar_chart(
    values: ArrayLike,
    labels: Any,
    *,
    title: str,
    x_title: str = "Key (attended to)",
    y_title: str = "weight",
    fmt: str = ".4f",
    highlight: int | list[int] | None = None,
    show_values: bool | None = None,
    subtitle: str | list[str] | None = None,
    bar_width: int | None = None,
    name: str = "bar",
) -> alt.LayerChart:
    """One attention row (or any vector) as bars, one per key position.

    Parameters
    ----------
    values : array_like, shape (K,)
        Bar heights.
    labels : sequence of str, length K
        Token at each position; repeated tokens keep separate bars.
    title : str
        Chart title.
    x_title : str
        Title of the position axis.
    y_title : str
        Title of the value axis (and of the value in the tooltip).
    fmt : str
        d3 format of values; its decimals are what travels.
    highlight : int or list of int, optional
        Position(s) drawn in the accent colour (e.g. the largest weight).
    show_values : bool, optional
        Write values above the bars; ``None`` does so for K <= 16.
    subtitle : str or list of str, optional
        Line(s) under the title.
    bar_width : int, optional
        Width of one band in pixels.
    name : str
        Prefix of the chart's param and view names.

    Returns
    -------
    chart : altair.LayerChart
    """
    vec = as_vector(values)
    if not np.isfinite(vec).all():
        msg = "values must be finite numbers (bars cannot show inf or nan)"
        raise AtlasError(msg)
    k = vec.size
    raw = [str(x) for x in labels]
    labs = label_list(raw, k, "labels")
    titles = Titles(x_title, "", y_title)
    shown = titles.shown()
    enc = encode_matrix(vec[None, :], decimals=decimals_for(fmt, vec), quantize=False)
    if show_values is None:
        show_values = k <= SHOW_VALUES_BARS
    step = bar_width or (44 if show_values else max(4, min(28, 560 // k)))
    vals_p, labs_p = f"{name}_v", f"{name}_l"
    test = _highlight_test(highlight, k)
    color = value_channel(alt.ColorValue, BAR_COLOR)
    if test:
        color = condition_channel(alt.ColorValue, test, ACCENT, BAR_COLOR)
    x = position_encoding(
        labs_p, shown.x, count=k, step=step, max_chars=max(len(s) for s in labs), orient="bottom"
    )
    y = alt.Y("v:Q", title=shown.value, axis=alt.Axis(format=fmt, tickCount=5))
    tooltip = [
        alt.Tooltip("k:N", title=shown.x),
        alt.Tooltip("v:Q", title=shown.value, format=fmt),
    ]
    bars = alt.Chart(name=f"{name}_bars").mark_bar().encode(x=x, y=y, color=color, tooltip=tooltip)
    layers = [bars]
    if show_values:
        layers.append(
            alt.Chart(name=f"{name}_text")
            .mark_text(dy=-6, fontSize=10, baseline="bottom")
            .encode(
                x=alt.X("c:O"),
                y=alt.Y("v:Q"),
                text=alt.Text("v:Q", format=fmt),
                tooltip=tooltip,
            )
        )
    calc = {
        "c": "datum.i",
        "v": enc.decode_expr(vals_p),
        "k": f"datum.i + ': ' + {labs_p}[datum.i]",
    }
    # Set in place: each chained call on a layer copies every layer.
    return cast(
        alt.LayerChart,
        add_top_level(
            alt.layer(*layers, data=alt.sequence(0, k, as_="i")),
            [*value_params(enc, vals_p), unchecked_param(name=labs_p, value=labs)],
            transform=calculate_transforms(calc),
            title=chart_title(title, subtitle, hidden_marks(raw) | titles.marks),
            width=unchecked(alt.Step, step),
            height=200,
            usermeta=atlas_usermeta(cells=k, renderer_hint=None),
        ),
    )
