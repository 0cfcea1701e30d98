"""Altair chart builders. Each returns an Altair chart (usable in Jupyter and anywhere
Altair is); ``figure_html`` turns one into the HTML a page carries inline.
"""

from generator.charts.bars import bar_chart
from generator.charts.blocks import block_explorer_chart, block_overview_chart
from generator.charts.explorer import row_explorer_chart
from generator.charts.grid import head_grid_chart
from generator.charts.heatmap import heatmap_chart, vector_chart
from generator.charts.html import figure_html, spec_json, to_spec
from generator.charts.lines import line_chart
from generator.charts.theme import DARK, LIGHT

__all__ = [
    "DARK",
    "LIGHT",
    "bar_chart",
    "block_explorer_chart",
    "block_overview_chart",
    "figure_html",
    "head_grid_chart",
    "heatmap_chart",
    "line_chart",
    "row_explorer_chart",
    "spec_json",
    "to_spec",
    "vector_chart",
]
