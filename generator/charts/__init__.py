"""Altair chart builders. Each returns an Altair chart (usable in Jupyter and anywhere
Altair is); a :class:`Figure` carries one with its caption and name to a page, an
export or a notebook, and ``figure_html`` turns one into the HTML a page carries inline.
"""

from attention_atlas.charts.bars import bar_chart
from attention_atlas.charts.blocks import block_explorer_chart, block_overview_chart
from attention_atlas.charts.explorer import row_explorer_chart
from attention_atlas.charts.figure import Figure
from attention_atlas.charts.grid import head_grid_chart
from attention_atlas.charts.heatmap import heatmap_chart, vector_chart
from attention_atlas.charts.html import figure_html, spec_json, to_spec
from attention_atlas.charts.lines import line_chart
from attention_atlas.charts.live import (
    additive_live_chart,
    dot_score_live_chart,
    self_attention_live_chart,
    softmax_live_chart,
)
from attention_atlas.charts.theme import DARK, LIGHT

__all__ = [
    "DARK",
    "LIGHT",
    "Figure",
    "additive_live_chart",
    "bar_chart",
    "block_explorer_chart",
    "block_overview_chart",
    "dot_score_live_chart",
    "figure_html",
    "head_grid_chart",
    "heatmap_chart",
    "line_chart",
    "row_explorer_chart",
    "self_attention_live_chart",
    "softmax_live_chart",
    "spec_json",
    "to_spec",
    "vector_chart",
]
