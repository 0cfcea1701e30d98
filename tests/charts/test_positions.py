"""A token keeps its place in the sentence in every view: "10: it" whether or not the
special tokens before it are shown."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from attention_atlas.charts.explorer import row_explorer_chart
from attention_atlas.charts.grid import head_grid_chart
from attention_atlas.charts.html import to_spec
from attention_atlas.charts.toolkit import prepare_matrix
from attention_atlas.errors import AtlasError


def _params(spec: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p.get("value") for p in spec.get("params", [])}


def _calculations(spec: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(spec, dict):
        for step in spec.get("transform", []):
            if "calculate" in step:
                found[step["as"]] = step["calculate"]
        for value in spec.values():
            found |= _calculations(value)
    elif isinstance(spec, list):
        for child in spec:
            found |= _calculations(child)
    return found


def test_without_positions_a_label_is_the_row_index() -> None:
    data = prepare_matrix(
        np.eye(2),
        ["a", "b"],
        ["a", "b"],
        prefix="m",
        fmt=".2f",
        domain=None,
        diverging=False,
        quantize=False,
    )
    assert data.calculate()["q"] == "datum.r + ': ' + m_rl[datum.r]"
    assert "m_rp" not in {p.name for p in data.params()}


def test_explorer_labels_name_the_positions_in_the_full_sentence() -> None:
    w = np.full((2, 2), 0.5)
    spec = to_spec(
        row_explorer_chart(
            w,
            ["dog", "ran"],
            ["dog", "ran"],
            title="t",
            row_positions=[2, 3],
            col_positions=[2, 3],
            name="rx",
        )
    )
    assert _params(spec)["rx_rp"] == [2, 3] and _params(spec)["rx_cp"] == [2, 3]
    calc = _calculations(spec)
    assert calc["q"] == "rx_rp[datum.r] + ': ' + rx_rl[datum.r]"
    assert calc["k"] == "rx_cp[datum.c] + ': ' + rx_cl[datum.c]"


def test_the_grid_opened_head_names_the_positions_in_the_full_sentence() -> None:
    w = np.full((1, 2, 2, 2), 0.5)
    spec = to_spec(
        head_grid_chart(
            w,
            ["dog", "ran"],
            ["dog", "ran"],
            title="t",
            row_positions=[1, 2],
            col_positions=[1, 2],
            name="g",
        )
    )
    assert _params(spec)["g_rp"] == [1, 2]
    calc = _calculations(spec)
    assert calc["q"] == "g_rp[datum.r] + ': ' + g_rl[datum.r]"


@pytest.mark.parametrize("bad", [[1], [1, 1], [-1, 2], [0, 1, 2]])
def test_positions_that_cannot_be_the_tokens_places_are_refused(bad: list[int]) -> None:
    with pytest.raises(AtlasError, match="row_positions"):
        prepare_matrix(
            np.eye(2),
            ["a", "b"],
            ["a", "b"],
            prefix="m",
            fmt=".2f",
            domain=None,
            diverging=False,
            quantize=False,
            row_positions=bad,
        )


def test_a_side_by_side_grid_carries_the_title_to_show_when_stacked() -> None:
    """On a narrow column the page stacks the grid's views: the hint must say "below"."""
    w = np.full((1, 2, 2, 2), 0.5)
    spec = to_spec(head_grid_chart(w, ["a", "b"], ["a", "b"], title="t", layout="side"))
    assert "on the right" in " ".join(spec["title"]["subtitle"])
    stacked = spec["usermeta"]["atlas"]["stacked_title"]
    assert "below the grid" in " ".join(stacked["subtitle"]) and stacked["text"] == "t"
    below = to_spec(head_grid_chart(w, ["a", "b"], ["a", "b"], title="t", layout="below"))
    assert "stacked_title" not in below["usermeta"]["atlas"]


def test_a_heatmap_of_kept_tokens_names_their_positions() -> None:
    from attention_atlas.charts.heatmap import heatmap_chart

    spec = to_spec(
        heatmap_chart(
            np.eye(2),
            ["dog", "ran"],
            ["dog", "ran"],
            title="t",
            row_positions=[2, 3],
            col_positions=[2, 3],
            name="hm",
        )
    )
    assert _params(spec)["hm_rp"] == [2, 3]
    assert _calculations(spec)["q"] == "hm_rp[datum.r] + ': ' + hm_rl[datum.r]"
