"""Attention Atlas: compute attention with NumPy and explain it with interactive charts.

The chart builders return Altair charts, so they work in Jupyter and anywhere Altair
does; they are imported on first use, so ``import generator`` stays light::

    from generator import heatmap_chart, figure_html
    chart = heatmap_chart(weights, query_tokens, key_tokens, title="Layer 3, head 1")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "bar_chart": "generator.charts",
    "figure_html": "generator.charts",
    "head_grid_chart": "generator.charts",
    "heatmap_chart": "generator.charts",
    "line_chart": "generator.charts",
    "row_explorer_chart": "generator.charts",
    "to_spec": "generator.charts",
    "vector_chart": "generator.charts",
    "model_view_chart": "generator.api",
    "head_chart": "generator.api",
    "AttentionDump": "generator.userdata",
    "load_dump": "generator.userdata",
    "build_report": "generator.report",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'generator' has no attribute {name!r}"
    raise AttributeError(msg)
