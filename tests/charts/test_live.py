"""The live panels' specs: valid, lean, starting at their page's numbers, carrying the
page's constants at full precision, every control clamped before a formula reads it.

What the formulas compute is checked in a real browser (``tests/browser/test_live.py``).
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import Any

import numpy as np
import pytest

from attention_atlas.charts import Figure, to_spec
from attention_atlas.charts.live import (
    EXP_LIMIT,
    LOG_T_RANGE,
    additive_live_chart,
    dot_score_live_chart,
    self_attention_live_chart,
    softmax_live_chart,
    value_range,
)
from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.scenarios import all_scenarios
from attention_atlas.scenarios.base import Result

from ._util import auto_names

SLUGS = ("single-annotation", "annotation-matrix", "sequence-attention", "self-attention")

#: The page budget of one live panel: a small fraction of a page's chart data.
PANEL_BYTES = 20_000


@cache
def _page(slug: str) -> tuple[Result, dict[str, Any]]:
    scenario = next(s for s in all_scenarios() if s.slug == slug)
    result = scenario.compute(scenario)
    return result, scenario.context(result)


def _spec(slug: str) -> dict[str, Any]:
    figure = _page(slug)[1]["live_panel"]
    assert isinstance(figure, Figure) and figure.name == "live"
    return figure.to_dict()


def _params(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in spec["params"]}


def _controls(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    live = spec["usermeta"]["atlas"]["live"]
    params = _params(spec)
    return {name: params[name] for name in live["controls"]}


def _formulas(spec: dict[str, Any]) -> str:
    """Every expression of the spec (params and calculate transforms), one a line."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("expr", "calculate"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return "\n".join(found)


@pytest.mark.parametrize("slug", SLUGS)
def test_each_page_carries_a_valid_lean_live_panel(slug: str) -> None:
    figure = _page(slug)[1]["live_panel"]
    spec = to_spec(figure.chart)  # validated against the Vega-Lite schema
    assert auto_names(spec) == []
    assert figure.spec_bytes < PANEL_BYTES, figure.spec_bytes
    assert spec["usermeta"]["atlas"]["renderer"] == "svg"
    title = spec["title"]
    assert title["text"].startswith("Live"), title
    assert any("browser" in line for line in title["subtitle"])
    controls = _controls(spec)
    assert controls
    for name, param in controls.items():
        bind = param["bind"]
        if bind["input"] == "range":
            assert bind["min"] <= param["value"] <= bind["max"], name
        elif bind["input"] == "select":
            assert param["value"] in bind["options"], name
        else:
            assert bind["input"] == "checkbox", name


def _slider_values(spec: dict[str, Any], prefix: str) -> list[float]:
    controls = _controls(spec)
    names = sorted(
        (n for n in controls if re.fullmatch(rf"{prefix}\d+", n)),
        key=lambda n: int(n[len(prefix) :]),
    )
    return [controls[n]["value"] for n in names]


def test_the_single_annotation_panel_starts_at_the_pages_vectors() -> None:
    result, _ = _page("single-annotation")
    spec = _spec("single-annotation")
    assert _slider_values(spec, "live_d") == result.arrays["decoder"].tolist()
    assert _slider_values(spec, "live_a") == result.arrays["annotation"].tolist()


def test_the_annotation_matrix_panel_starts_at_the_pages_numbers_and_t_1() -> None:
    result, _ = _page("annotation-matrix")
    spec = _spec("annotation-matrix")
    assert _slider_values(spec, "live_d") == result.arrays["decoder"].tolist()
    assert _slider_values(spec, "live_a") == result.arrays["annotations"].ravel().tolist()
    logt = _controls(spec)["live_logt"]
    assert logt["value"] == 0  # T = 10^0 = 1, the page's softmax
    assert (logt["bind"]["min"], logt["bind"]["max"]) == LOG_T_RANGE
    # 45.3 must be reachable: the sliders step by tenths.
    assert {c["bind"]["step"] for n, c in _controls(spec).items() if n != "live_logt"} == {0.1}


def test_the_sequence_panel_starts_at_the_first_query_and_the_pages_inputs() -> None:
    result, _ = _page("sequence-attention")
    spec = _spec("sequence-attention")
    controls = _controls(spec)
    assert controls["live_q"]["value"] == 0
    assert controls["live_q"]["bind"]["labels"] == list(result.labels["query"])
    assert _slider_values(spec, "live_x") == result.arrays["inputs"].ravel().tolist()


def test_the_self_attention_panel_starts_at_the_focus_word_scaled() -> None:
    result, _ = _page("self-attention")
    spec = _spec("self-attention")
    controls = _controls(spec)
    tokens = list(result.labels["tokens"])
    assert controls["live_q"]["value"] == result.facts["focus"] == tokens.index("cats")
    assert controls["live_q"]["bind"]["labels"] == tokens
    assert controls["live_scale"]["value"] is True


@pytest.mark.parametrize(
    ("slug", "arrays"),
    [
        ("sequence-attention", ("w_q", "w_k", "v", "query")),
        ("self-attention", ("q", "k", "v")),
    ],
)
def test_constants_travel_at_full_precision(slug: str, arrays: tuple[str, ...]) -> None:
    """The spec rounds plain numbers to 6 digits; the formulas keep every bit."""
    result, _ = _page(slug)
    formulas = _formulas(_spec(slug))
    for key in arrays:
        for x in result.arrays[key].ravel():
            assert repr(float(x)) in formulas, (key, float(x))


@pytest.mark.parametrize("slug", SLUGS)
def test_every_formula_reads_a_slider_only_through_its_clamp(slug: str) -> None:
    spec = _spec(slug)
    formulas = _formulas(spec)
    for name, param in _controls(spec).items():
        bind = param["bind"]
        uses = re.findall(rf"(?<![\w.]){name}(?!\w)", formulas)
        assert uses, f"{name} drives nothing"
        if bind["input"] != "range":
            continue
        lo, hi = repr(float(bind["min"])), repr(float(bind["max"]))
        default = repr(float(param["value"]))
        guard = f"clamp(isFinite({name}) ? {name} : {default}, {lo}, {hi})"
        assert formulas.count(guard) * 2 == len(uses), (name, guard)


def test_value_range_covers_the_numbers_on_a_step_that_reaches_them() -> None:
    assert value_range([5, 1, 20, 3, 12, 45]) == (-70.0, 70.0, 1.0)
    assert value_range([5, 1, 20, 45.3, 59]) == (-90.0, 90.0, 0.1)
    assert value_range([0.0]) == (-10.0, 10.0, 1.0)
    assert value_range([0.25])[2] == 0.01
    assert value_range([0.125, -3])[2] == 0.001
    low, high, _ = value_range([-1234.5])
    assert low <= -1234.5 <= high


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf]])
def test_value_range_refuses_what_a_slider_cannot_hold(bad: list[float]) -> None:
    with pytest.raises(AtlasError, match="finite"):
        value_range(bad)


def test_tanh_formula_matches_numpy_and_saturates_without_nan() -> None:
    """The panel's tanh, ``1 - 2 / (e^2x + 1)``, evaluated in float64 as JavaScript does."""
    x = np.array([-1e6, -400.0, -20.0, -1.5, -1e-9, 0.0, 1e-9, 0.3, 5.0, 400.0, 1e6])
    with np.errstate(over="ignore"):
        ours = 1 - 2 / (np.exp(2 * x) + 1)
    assert not np.isnan(ours).any()
    np.testing.assert_allclose(ours, np.tanh(x), rtol=0, atol=1e-15)


def test_the_overflow_limit_is_float64s() -> None:
    assert math.isfinite(math.exp(EXP_LIMIT - 1e-9))
    with pytest.raises(OverflowError):
        math.exp(EXP_LIMIT + 1e-9)
    assert f"{EXP_LIMIT:.2f}" in json.dumps(_spec("annotation-matrix"))


def test_shapes_that_do_not_fit_are_refused_with_both_shapes() -> None:
    with pytest.raises(ShapeError, match=r"decoder \(3,\), annotation \(2,\)"):
        dot_score_live_chart([1, 2, 3], [1, 2], ["a", "b", "c"])
    with pytest.raises(ShapeError, match=r"decoder \(2,\), annotations \(4, 3\)"):
        softmax_live_chart([1, 2], np.ones((4, 3)), list("abcd"), list("xyz"))
    with pytest.raises(ShapeError, match=r"w_q \(2, 3\)"):
        additive_live_chart(
            np.ones((3, 2)),
            np.ones((4, 2)),
            np.ones((2, 3)),
            np.ones((2, 8)),
            np.ones(8),
            list("abcd"),
        )
    with pytest.raises(ShapeError, match=r"k \(5, 4\)"):
        self_attention_live_chart(np.ones((6, 4)), np.ones((5, 4)), np.ones((6, 4)), list("abcdef"))
    with pytest.raises(ShapeError, match="labels"):
        softmax_live_chart([1, 2, 3], np.ones((4, 3)), list("abc"), list("xyz"))


def test_bad_names_focus_and_numbers_are_refused() -> None:
    with pytest.raises(AtlasError, match="name"):
        dot_score_live_chart([1], [2], ["u"], name="live-panel")
    with pytest.raises(AtlasError, match="focus"):
        self_attention_live_chart(
            np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), ["a", "b"], focus=2
        )
    with pytest.raises(AtlasError, match="finite"):
        self_attention_live_chart(
            np.array([[np.nan, 1.0], [0.0, 1.0]]), np.ones((2, 2)), np.ones((2, 2)), ["a", "b"]
        )


def test_hostile_labels_reach_the_spec_as_text() -> None:
    chart = self_attention_live_chart(
        np.eye(2), np.eye(2), np.eye(2), ["<script>alert(1)</script>", "it's"]
    )
    figure = Figure(chart, caption="c", name="live")
    html = str(figure.html())
    assert "<script>" not in html and "it's" not in html
    spec = figure.to_dict()
    assert _controls(spec)["live_q"]["bind"]["labels"] == ["<script>alert(1)</script>", "it's"]
