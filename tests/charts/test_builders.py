"""bar_chart, row_explorer_chart, head_grid_chart, line_chart: valid, named, deterministic;
every builder shows its titles visibly."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import altair as alt
import numpy as np
import pytest

from attention_atlas.charts import (
    bar_chart,
    block_explorer_chart,
    block_overview_chart,
    head_grid_chart,
    heatmap_chart,
    line_chart,
    row_explorer_chart,
    to_spec,
    vector_chart,
)
from attention_atlas.charts.grid import png_data_url, viridis_lut
from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.text import hidden_marks

from ._util import auto_names, params, spec_bytes

TOKENS = ["the", "cat", "sat", "on", "the", "mat"]


def _weights(*shape: int, seed: int = 0) -> np.ndarray:
    w = np.random.default_rng(seed).random(shape)
    return w / w.sum(axis=-1, keepdims=True)


BUILDERS: dict[str, Callable[[], alt.TopLevelMixin]] = {
    "heatmap": lambda: heatmap_chart(_weights(6, 6), TOKENS, TOKENS, title="W"),
    "vector": lambda: vector_chart([5, 1, 20], ["a", "b", "c"], title="s", fmt=".0f"),
    "bar": lambda: bar_chart(_weights(6), TOKENS, title="row", highlight=2),
    "explorer": lambda: row_explorer_chart(_weights(6, 6), TOKENS, TOKENS, title="E"),
    "grid-cells": lambda: head_grid_chart(
        _weights(2, 3, 6, 6), TOKENS, TOKENS, title="G", thumbnails=False
    ),
    "grid-images": lambda: head_grid_chart(_weights(2, 2, 6, 6), TOKENS, TOKENS, title="G"),
    "grid-on-demand": lambda: head_grid_chart(
        _weights(2, 2, 6, 6), TOKENS, TOKENS, title="G", inline=False, head_data="mv/"
    ),
    "line": lambda: line_chart(
        [{"n": n, "t": n * n * 1e-6, "m": "full"} for n in (64, 128, 256)]
        + [{"n": n, "t": n * 1e-5, "m": "linear"} for n in (64, 128, 256)],
        x="n",
        y="t",
        color="m",
        title="Cost",
        x_title="N",
        y_title="seconds",
        log_x=True,
        log_y=True,
    ),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_every_builder_validates_and_is_deterministic(kind: str) -> None:
    first = to_spec(BUILDERS[kind]())
    second = to_spec(BUILDERS[kind]())
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert auto_names(first) == [], kind


def test_bar_chart_labels_by_position_and_highlights() -> None:
    w = _weights(6)
    spec = to_spec(bar_chart(w, TOKENS, title="row", highlight=[1, 4], fmt=".3f"))
    assert params(spec)["bar_l"] == TOKENS
    assert params(spec)["bar_v"] == ",".join(str(round(x * 1000)) for x in w)
    color = spec["layer"][0]["encoding"]["color"]
    assert color["condition"]["test"] == "datum.c == 1 || datum.c == 4"
    with pytest.raises(AtlasError, match="outside"):
        bar_chart(w, TOKENS, title="row", highlight=9)
    with pytest.raises(ShapeError, match="labels"):
        bar_chart(w, TOKENS[:3], title="row")


def test_row_explorer_has_a_named_row_selection_starting_at_row_0() -> None:
    spec = to_spec(row_explorer_chart(_weights(6, 6), TOKENS, TOKENS, title="E"))
    text = json.dumps(spec)
    assert '"name": "rx_pick"' in text
    picks = [p for p in spec["params"] if p["name"] == "rx_pick"]
    assert picks and picks[0]["value"] == [{"r": 0}]
    assert picks[0]["select"]["fields"] == ["r"]
    bars = spec["hconcat"][1]
    assert {"filter": {"param": "rx_pick"}} in bars["transform"]


def test_head_grid_cells_mode_carries_every_head() -> None:
    w = _weights(2, 3, 6, 6)
    spec = to_spec(
        head_grid_chart(w, TOKENS, TOKENS, title="G", head_names=["a", "b", "c"], thumbnails=False)
    )
    codes = params(spec)["grid_v"]
    assert isinstance(codes, str) and len(codes) == 2 * w.size
    assert params(spec)["grid_hn"] == ["a", "b", "c"]
    assert params(spec)["grid_ln"] == ["L0", "L1"]
    assert spec["usermeta"]["atlas"]["renderer"] == "canvas"


def test_head_grid_thumbnails_are_pngs_in_viridis() -> None:
    w = _weights(2, 2, 6, 6)
    spec = to_spec(head_grid_chart(w, TOKENS, TOKENS, title="G", thumbnails=True))
    text = json.dumps(spec)
    assert text.count("data:image/png;base64,") == 4  # once each: a shared named dataset
    assert "not cell values" not in text  # small maps: the opened head has its cells inline
    assert "quantised to 256 levels" in text
    lut = viridis_lut()
    assert lut.shape == (256, 3)
    assert tuple(lut[0]) == (0x44, 0x01, 0x54) and tuple(lut[-1]) == (0xFD, 0xE7, 0x25)


def test_png_thumbnail_decodes_to_the_lut_colours() -> None:
    import base64
    import io

    from PIL import Image

    url = png_data_url(np.array([[0.0, 1.0], [0.5, 0.25]]))
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape == (2, 2, 3)
    lut = viridis_lut()
    assert (pixels[0, 0] == lut[0]).all() and (pixels[0, 1] == lut[255]).all()
    assert (pixels[1, 0] == lut[128]).all()


def test_head_grid_rejects_wrong_shapes() -> None:
    with pytest.raises(ShapeError, match=r"\(L, H, N, M\)"):
        head_grid_chart(_weights(3, 6, 6), TOKENS, TOKENS, title="G")


def test_large_head_grid_is_thumbnails_only_without_head_data_and_stays_small() -> None:
    w = _weights(2, 4, 160, 160)
    labels = [f"t{i}" for i in range(160)]
    chart = head_grid_chart(w, labels, labels, title="G")
    per_cell = spec_bytes(chart) / w.size
    text = json.dumps(to_spec(chart))
    assert "data:image/png" in text and "not cell values" in text
    assert per_cell < 2.5, per_cell


def test_line_chart_uses_log_scales_and_checks_fields() -> None:
    spec: dict[str, Any] = to_spec(BUILDERS["line"]())
    assert spec["encoding"]["x"]["scale"]["type"] == "log"
    assert spec["encoding"]["y"]["scale"]["type"] == "log"
    with pytest.raises(AtlasError, match="'y'"):
        line_chart([{"x": 1}], x="x", y="y", color=None, title="t", x_title="x", y_title="y")


def _strings(value: Any) -> list[str]:
    """Every string in a spec, keys and values."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


HIDDEN_TITLES = {"x_title": "\u202ekeys", "y_title": "rows\n"}

TITLED: dict[str, Callable[[], alt.TopLevelMixin]] = {
    "heatmap": lambda: heatmap_chart(
        _weights(6, 6), TOKENS, TOKENS, title="W", value_title="w\x01", **HIDDEN_TITLES
    ),
    "explorer": lambda: row_explorer_chart(
        _weights(6, 6), TOKENS, TOKENS, title="E", value_title="w\x01", **HIDDEN_TITLES
    ),
    "bar": lambda: bar_chart(_weights(6), TOKENS, title="B", x_title="\u202ekeys", y_title="w\x01"),
    "vector": lambda: vector_chart(
        [5, 1, 20], ["a", "b", "c"], title="V", axis_title="\u202ekeys", value_title="w\x01"
    ),
    "block-overview": lambda: block_overview_chart(
        _weights(4, 4),
        [0, 2, 4, 6, 8],
        [0, 2, 4, 6, 8],
        title="O",
        value_title="w\x01",
        **HIDDEN_TITLES,
    ),
    "block-explorer": lambda: block_explorer_chart(
        _weights(4, 4),
        [0, 2, 4, 6, 8],
        [0, 2, 4, 6, 8],
        [_weights(2, 2)],
        [(1, 2)],
        ["one block"],
        title="X",
        value_title="w\x01",
        detail_title="d\x02",
        **HIDDEN_TITLES,
    ),
}


@pytest.mark.parametrize("kind", sorted(TITLED))
def test_axis_value_and_tooltip_titles_are_shown_visibly_and_explained(kind: str) -> None:
    spec = to_spec(TITLED[kind]())
    hidden = [ascii(s) for s in _strings(spec) if s and hidden_marks([s])]
    assert not hidden, hidden
    subtitle = spec["title"]["subtitle"]
    note = subtitle if isinstance(subtitle, str) else subtitle[-1]
    assert note.startswith("Invisible characters shown as escapes"), note
    assert r"\x01" in json.dumps(spec)
