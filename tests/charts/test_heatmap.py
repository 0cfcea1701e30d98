"""heatmap_chart and vector_chart: compact encoding, labels by position, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from attention_atlas.charts import heatmap_chart, to_spec, vector_chart
from attention_atlas.charts.encoding import decimals_for, encode_matrix
from attention_atlas.errors import ShapeError

from ._util import auto_names, exact_codes, params, spec_bytes


def _weights(n: int, m: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.random((n, m))
    return w / w.sum(axis=1, keepdims=True)


def _tokens(k: int) -> list[str]:
    return [f"t{i}" for i in range(k)]


def test_heatmap_validates_and_has_no_auto_names() -> None:
    w = _weights(4, 5)
    spec = to_spec(heatmap_chart(w, _tokens(4), _tokens(5), title="W"))
    assert spec["layer"][0]["mark"]["type"] == "rect"
    assert auto_names(spec) == []


def test_same_input_gives_identical_spec_twice_in_one_process() -> None:
    w = _weights(6, 6)
    first = heatmap_chart(w, _tokens(6), _tokens(6), title="W").to_dict()
    second = heatmap_chart(w, _tokens(6), _tokens(6), title="W").to_dict()
    assert first == second


def test_values_round_trip_through_the_param() -> None:
    w = _weights(5, 7, seed=3)
    spec = to_spec(heatmap_chart(w, _tokens(5), _tokens(7), title="W", fmt=".4f"))
    codes = np.array(params(spec)["hm_v"].split(","), dtype=float).reshape(5, 7)
    calc = {t["as"]: t["calculate"] for t in spec["transform"] if "calculate" in t}
    assert calc["v"] == "toNumber(hm_v_x[datum.i]) / 10000"
    assert calc["r"] == "floor(datum.i / 7)"
    assert calc["c"] == "datum.i % 7"
    np.testing.assert_allclose(codes / 10000, np.round(w, 4), atol=1e-12)


def test_decimals_follow_the_format() -> None:
    w = np.array([[0.123456, 0.5]])
    spec = to_spec(heatmap_chart(w, ["a"], ["b", "c"], title="W", fmt=".2f"))
    assert exact_codes(spec, "hm_v") == [12, 50]
    assert decimals_for(".6~g", np.array([927.0, 929.0])) == 3
    assert decimals_for(".1%") == 3


def test_repeated_tokens_stay_separate_positions() -> None:
    labels = ["the", "cat", "saw", "the", "dog"]
    w = _weights(5, 5)
    spec = to_spec(heatmap_chart(w, labels, labels, title="W"))
    enc = spec["layer"][0]["encoding"]
    assert enc["x"]["type"] == "ordinal" and enc["x"]["field"] == "c"
    assert enc["y"]["field"] == "r"
    assert enc["x"]["scale"]["domain"] == {"expr": "sequence(0, 5)"}
    assert enc["x"]["axis"]["labelExpr"] == "hm_cl[datum.value]"
    assert params(spec)["hm_cl"] == labels
    assert len(exact_codes(spec, "hm_v")) == 25


def test_tooltip_names_query_key_and_value() -> None:
    spec = to_spec(
        heatmap_chart(_weights(3, 3), _tokens(3), _tokens(3), title="W", x_title="K", y_title="Q")
    )
    tips = spec["layer"][0]["encoding"]["tooltip"]
    assert [t["title"] for t in tips] == ["Q", "K", "weight"]
    assert tips[2]["format"] == ".4f"


def test_values_shown_in_small_maps_only() -> None:
    small = to_spec(heatmap_chart(_weights(10, 10), _tokens(10), _tokens(10), title="W"))
    large = to_spec(heatmap_chart(_weights(11, 10), _tokens(11), _tokens(10), title="W"))
    assert [lay["mark"]["type"] for lay in small["layer"]] == ["rect", "text"]
    assert [lay["mark"]["type"] for lay in large["layer"]] == ["rect"]
    text_color = small["layer"][1]["encoding"]["color"]
    assert {text_color["value"], text_color["condition"]["value"]} == {"#111111", "#ffffff"}


def test_exact_payload_at_64_is_at_most_10_bytes_per_cell() -> None:
    w = _weights(64, 64)
    chart = heatmap_chart(w, _tokens(64), _tokens(64), title="W", quantize=False)
    per_cell = spec_bytes(chart) / w.size
    assert per_cell <= 10, per_cell


def test_quantised_payload_at_64_is_at_most_4_bytes_per_cell() -> None:
    w = _weights(64, 64)
    chart = heatmap_chart(w, _tokens(64), _tokens(64), title="W", quantize=True)
    per_cell = spec_bytes(chart) / w.size
    assert per_cell <= 4, per_cell


def test_large_maps_are_quantised_by_default_and_say_so() -> None:
    spec = to_spec(heatmap_chart(_weights(64, 64), _tokens(64), _tokens(64), title="W"))
    codes = params(spec)["hm_v"]
    assert isinstance(codes, str) and len(codes) == 2 * 64 * 64
    assert set(codes) <= set("0123456789abcdef")
    tips = spec["layer"][0]["encoding"]["tooltip"]
    assert "quantised" in tips[2]["title"]


def test_quantised_decoding_is_within_half_a_step() -> None:
    w = _weights(20, 30)
    enc = encode_matrix(w, quantize=True, domain=(0.0, 1.0))
    assert np.abs(enc.decode() - w).max() <= enc.step / 2 + 1e-12


def test_diverging_domain_is_centred_at_zero() -> None:
    x = np.array([[-2.0, 0.5], [1.0, 0.25]])
    spec = to_spec(heatmap_chart(x, ["a", "b"], ["c", "d"], title="X", diverging=True))
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domain"] == [-2.0, 2.0]
    assert scale["domainMid"] == 0
    assert scale["scheme"] == "blueorange"


def test_masked_scores_become_missing_cells() -> None:
    s = np.array([[1.0, -np.inf], [0.5, 2.0]])
    spec = to_spec(heatmap_chart(s, ["a", "b"], ["a", "b"], title="S", diverging=True))
    assert exact_codes(spec, "hm_v")[1] is None
    assert {"filter": "isValid(datum.v)"} in spec["transform"]
    quantised = encode_matrix(s, quantize=True, domain=(-2.0, 2.0))
    assert quantised.codes[2:4] == "--"
    assert np.isnan(quantised.decode()[0, 1])


def test_a_missing_vector_component_is_an_empty_cell_as_in_a_heatmap() -> None:
    spec = to_spec(vector_chart([1.0, np.nan, 2.0], ["a", "b", "c"], title="v"))
    assert {"filter": "isValid(datum.v)"} in spec["transform"]


def test_subtitle_is_on_the_chart() -> None:
    spec = to_spec(
        heatmap_chart(_weights(3, 3), _tokens(3), _tokens(3), title="W", subtitle="[CLS] hidden")
    )
    assert spec["title"] == {"subtitle": "[CLS] hidden", "text": "W"}


def test_wrong_label_count_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="row_labels has 2 labels"):
        heatmap_chart(_weights(3, 3), ["a", "b"], _tokens(3), title="W")
    with pytest.raises(ShapeError, match=r"\(N, M\)"):
        heatmap_chart(np.zeros(3), ["a"], ["b"], title="W")


def test_vector_chart_column_and_row() -> None:
    col = to_spec(vector_chart([5, 1, 20], ["h1", "h2", "h3"], title="s", fmt=".0f"))
    row = to_spec(vector_chart([5, 1, 20], ["h1", "h2", "h3"], title="s", orientation="row"))
    assert exact_codes(col, "vec_v") == [5, 1, 20]
    assert params(col)["vec_rl"] == ["h1", "h2", "h3"]
    assert params(row)["vec_cl"] == ["h1", "h2", "h3"]
    assert col["height"] == {"step": 24}
    assert auto_names(col) == [] and auto_names(row) == []
