"""The reading guide: exact pattern maps, received attention, entropy and the three limits."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import numpy as np
import pytest

from attention_atlas import export
from attention_atlas.charts import Figure
from attention_atlas.readouts import row_entropy_bits
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.reading_attention import SCENARIO, pattern_maps

SPEC = re.compile(r"data-spec='([^']*)'")


@pytest.fixture(scope="module")
def result() -> Result:
    return export._computed(SCENARIO.slug)[0]  # computed once a process, shared (read-only)


@pytest.fixture(scope="module")
def raw(scenario_page: Callable[[str], str]) -> str:
    """The page as ``render_scenario`` writes it (rendered once a session)."""
    return scenario_page(SCENARIO.slug)


@pytest.fixture(scope="module")
def page(raw: str) -> str:
    return html.unescape(raw)


def test_pattern_maps_are_exact() -> None:
    maps = pattern_maps(8, 4.0)
    big = np.exp(4.0) / (np.exp(4.0) + 7)
    np.testing.assert_allclose(np.diag(maps["diagonal"]), big)
    np.testing.assert_allclose(maps["sink"][:, 0], big)
    np.testing.assert_allclose(maps["uniform"], 1 / 8)
    prev = maps["previous"]
    np.testing.assert_array_equal(prev[0], [1, 0, 0, 0, 0, 0, 0, 0])
    assert np.all(prev[np.triu_indices(8, k=1)] == 0.0)  # masked: exactly 0
    rows = np.arange(1, 8)
    np.testing.assert_allclose(prev[rows, rows - 1], np.exp(4.0) / (np.exp(4.0) + rows))
    for m in maps.values():
        np.testing.assert_allclose(m.sum(axis=1), 1.0)


def test_row_entropy_in_bits() -> None:
    np.testing.assert_allclose(row_entropy_bits(np.full((2, 8), 1 / 8)), [3.0, 3.0])
    np.testing.assert_allclose(row_entropy_bits([[1.0, 0.0], [0.0, 0.0]]), [0.0, 0.0])
    np.testing.assert_allclose(row_entropy_bits([0.5, 0.5]), 1.0)


def test_received_attention_finds_the_sink_and_the_ignored_key(result: Result) -> None:
    a = result.arrays
    received = a["received"]
    np.testing.assert_allclose(received, a["mixed"].sum(axis=0))
    assert received.sum() == pytest.approx(8.0)
    assert int(np.argmax(received)) == 0
    assert received[0] == pytest.approx(3.82, abs=5e-3)
    assert [j for j in range(8) if received[j] < 0.5] == [7]
    causal = a["causal_uniform"].sum(axis=0)
    np.testing.assert_allclose(causal, [sum(1 / (i + 1) for i in range(j, 8)) for j in range(8)])


def test_entropy_rows(result: Result) -> None:
    e = result.arrays["entropy"]
    assert e.shape == (5, 8)
    np.testing.assert_allclose(e[3], 3.0)  # uniform
    assert e[1, 0] == 0.0  # previous token, first row: one key
    np.testing.assert_allclose(e[0], e[2])  # diagonal and sink rows have the same spread


def test_the_largest_weight_is_not_the_largest_contribution(result: Result) -> None:
    a = result.arrays
    focus = result.facts["focus"]
    share = a["contrib"] / a["contrib"].sum()
    assert int(np.argmax(a["mixed"][focus])) == 0
    assert share[0] < 0.1
    assert int(np.argmax(share)) != 0


def test_rotated_heads_share_a_map_and_one_can_go(result: Result) -> None:
    a = result.arrays
    assert np.max(np.abs(a["w_q"] - a["w_qr"])) > 0.5
    np.testing.assert_allclose(a["maps"][0], a["maps"][1], atol=1e-12)
    np.testing.assert_allclose(a["out2"], a["out1"], atol=1e-12)


def test_different_maps_give_the_same_z(result: Result) -> None:
    a = result.arrays
    assert np.max(np.abs(a["diagonal"] - a["uniform"])) > 0.7
    np.testing.assert_allclose(a["z_diagonal"], a["z_uniform"], atol=1e-12)


def test_context_gives_every_figure_a_chart() -> None:
    ctx = export._computed(SCENARIO.slug)[1]  # SCENARIO.context(result), made once a process
    figs = {k: v for k, v in ctx.items() if k.endswith("_fig")}
    assert len(figs) == 10
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
        assert fig.name == name.removesuffix("_fig")
        assert fig.to_dict()["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_page_states_the_computed_numbers(page: str) -> None:
    for shown in (
        "= 0.886",
        "1/8 = 0.125",
        "“the (0)” receives **3.82**",
        "“purred (7)” receives only\n**0.25**",
        "log₂ 8 = 3.00 bits",
        "its largest weight, **0.44**",
    ):
        assert shown in page, shown
    assert "{{" not in page and "{%" not in page


def test_every_chart_reaches_the_page_as_html(raw: str) -> None:
    assert raw.count('<figure class="atlas-figure"') == 10
    assert "&lt;figure" not in raw
