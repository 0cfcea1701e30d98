"""The home page's picture: one real map from the tutorial, computed like its page.

The map is self-attention's weights on “I love pets, especially cats”, the matrix
the self-attention page tells the reader to read; the home page shows it small, with
the values written in, and links to the page that explains it.
"""

from __future__ import annotations

from typing import Any

from attention_atlas.scenarios import get
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import fixed, quoted

#: The scenario whose map the home page shows.
HOME_MAP = "self-attention"


def home_context() -> dict[str, Any]:
    """``home_fig`` (the weights of the self-attention page) and the words about it."""
    scenario = get(HOME_MAP)
    result = scenario.compute(scenario)
    weights = result.arrays["weights"]  # (N, N)
    tokens = list(result.labels["tokens"])
    focus = int(result.facts["focus"])
    top = int(weights[focus].argmax())
    return {
        "home_fig": heatmap_figure(
            "home",
            weights,
            tokens,
            tokens,
            f"“{' '.join(tokens)}”: row {quoted(tokens[focus])} gives "
            f"{fixed(weights[focus, top])} of its attention to {quoted(tokens[top])}. "
            "Every row sums to 1.",
            title=f"Self-attention weights ({len(tokens)} × {len(tokens)})",
            x_title="Key word (attended to)",
            y_title="Query word (attending)",
            show_values=True,
            fmt=".2f",
            domain=(0.0, 1.0),
            quantize=False,
        ),
        "home_link": scenario.page_path,
        "home_title": scenario.title,
        "home_focus": quoted(tokens[focus]),
        "home_top": quoted(tokens[top]),
        "home_weight": fixed(weights[focus, top]),
    }
