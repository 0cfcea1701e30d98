"""The figures pages build again and again: one chart, its name on the page and its caption.

A page fixes the options its maps share once, with :func:`functools.partial`, e.g.
``weights_map = partial(heatmap_figure, y_title="Query token", domain=(0.0, 1.0))``;
``chart`` options are those of the chart builder (``name`` among them is the chart's
param prefix, not the figure's name).
"""

from __future__ import annotations

from typing import Any

from attention_atlas.charts import Figure, bar_chart, heatmap_chart


def heatmap_figure(
    figure: str, values: Any, rows: Any, cols: Any, caption: str, /, **chart: Any
) -> Figure:
    """``heatmap_chart(values, rows, cols, **chart)`` as the figure named ``figure``."""
    return Figure(heatmap_chart(values, rows, cols, **chart), caption=caption, name=figure)


def bar_figure(figure: str, values: Any, labels: Any, caption: str, /, **chart: Any) -> Figure:
    """``bar_chart(values, labels, **chart)`` as the figure named ``figure``."""
    return Figure(bar_chart(values, labels, **chart), caption=caption, name=figure)
