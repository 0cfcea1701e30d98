"""Attention Atlas: compute attention with NumPy and explain it with interactive charts.

The chart builders return Altair charts, so they work in Jupyter and anywhere Altair
does; they are imported on first use, so ``import attention_atlas`` stays light::

    from attention_atlas import Figure, heatmap_chart
    chart = heatmap_chart(weights, query_tokens, key_tokens, title="Layer 3, head 1")
    fig = Figure(chart, caption="Rows are queries; each row sums to 1.", name="l3h1")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The rooms of the package, top to bottom. A module may import rooms in lower
#: layers only, never a sibling in its own layer nor anything above it
#: (``tests/test_layers.py`` holds the code to this). Importing the package itself,
#: for ``__version__``, is allowed everywhere.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli",),
    ("mkdocs",),
    ("build", "export"),
    ("dumps", "project", "scenarios"),
    ("models", "publish", "render"),
    ("charts",),
    ("readouts",),
    ("attention",),
    ("fileio", "text"),
    ("errors",),
)

_LAZY = {
    "Figure": "attention_atlas.charts",
    "bar_chart": "attention_atlas.charts",
    "figure_html": "attention_atlas.charts",
    "head_grid_chart": "attention_atlas.charts",
    "heatmap_chart": "attention_atlas.charts",
    "line_chart": "attention_atlas.charts",
    "row_explorer_chart": "attention_atlas.charts",
    "to_spec": "attention_atlas.charts",
    "vector_chart": "attention_atlas.charts",
    "model_view_chart": "attention_atlas.dumps.charts",
    "head_chart": "attention_atlas.dumps.charts",
    "AttentionDump": "attention_atlas.dumps.read",
    "load_dump": "attention_atlas.dumps.read",
    "notebook": "attention_atlas.charts.notebook",
    "build_report": "attention_atlas.dumps.report",
    "save_dump": "attention_atlas.dumps.save",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'attention_atlas' has no attribute {name!r}"
    raise AttributeError(msg)
