"""Line charts of measurements (time, memory, error) against a size, optionally log-log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from attention_atlas.charts.heatmap import atlas_usermeta, chart_title
from attention_atlas.errors import AtlasError

__all__ = ["line_chart"]


def line_chart(
    records: Sequence[Mapping[str, Any]],
    *,
    x: str,
    y: str,
    color: str | None = None,
    title: str,
    x_title: str,
    y_title: str,
    log_x: bool = False,
    log_y: bool = False,
    fmt: str = ".3g",
    subtitle: str | list[str] | None = None,
    name: str = "line",
) -> alt.Chart:
    """One line per ``color`` group through the points ``(record[x], record[y])``.

    Parameters
    ----------
    records : sequence of mapping
        Tidy rows, e.g. ``{"n": 512, "seconds": 0.01, "method": "full"}``.
    x, y : str
        Field names of the horizontal and vertical values (numbers).
    color : str, optional
        Field naming the series.
    title, x_title, y_title : str
    log_x, log_y : bool
        Logarithmic axes (for growth exponents: a straight line of slope k is O(n^k)).
    fmt : str
        d3 format of values in the tooltip.
    subtitle : str or list of str, optional
    name : str
        Name of the view.

    Returns
    -------
    chart : altair.Chart
    """
    rows = [dict(r) for r in records]
    if not rows:
        msg = "records must hold at least one point"
        raise AtlasError(msg)
    for field in [x, y] + ([color] if color else []):
        if any(field not in r for r in rows):
            msg = f"every record needs the field {field!r}"
            raise AtlasError(msg)
    xs = alt.X(f"{x}:Q", title=x_title, scale=_scale(log_x))
    ys = alt.Y(f"{y}:Q", title=y_title, scale=_scale(log_y))
    tooltip = [
        alt.Tooltip(f"{x}:Q", title=x_title),
        alt.Tooltip(f"{y}:Q", title=y_title, format=fmt),
    ]
    encoding: dict[str, Any] = {"x": xs, "y": ys, "tooltip": tooltip}
    if color:
        encoding["color"] = alt.Color(f"{color}:N", title=color)
        tooltip.insert(0, alt.Tooltip(f"{color}:N", title=color))
    return (
        alt.Chart(alt.Data(values=rows), name=name)
        .mark_line(point=True)
        .encode(**encoding)
        .properties(
            title=chart_title(title, subtitle),
            width=420,
            height=260,
            usermeta=atlas_usermeta(cells=len(rows), renderer_hint="svg"),
        )
    )


def _scale(log: bool) -> alt.Scale:
    """Log scales hug the data (a "nice" log domain can add a decade of empty space)."""
    if log:
        return alt.Scale(type="log", nice=False, padding=12)
    return alt.Scale(type="linear", zero=False, padding=12)
