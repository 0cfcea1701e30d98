"""The self-attention page: golden values for "I love pets, especially cats"."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import numpy as np
import pytest

from attention_atlas import export
from attention_atlas.attention import softmax
from attention_atlas.charts import Figure
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.self_attention import SCENARIO

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


def test_shapes_of_every_array(result: Result) -> None:
    a = result.arrays
    assert a["x"].shape == (6, 8)
    for name in ("w_q", "w_k", "w_v"):
        assert a[name].shape == (8, 4)
    for name in ("q", "k", "v", "z"):
        assert a[name].shape == (6, 4)
    assert a["scores"].shape == a["weights"].shape == (6, 6)
    assert result.labels["tokens"] == ("I", "love", "pets", ",", "especially", "cats")


def test_the_pipeline_is_the_textbook_one(result: Result) -> None:
    a = result.arrays
    np.testing.assert_allclose(a["q"], a["x"] @ a["w_q"])
    np.testing.assert_allclose(a["k"], a["x"] @ a["w_k"])
    np.testing.assert_allclose(a["v"], a["x"] @ a["w_v"])
    np.testing.assert_allclose(a["scores"], a["q"] @ a["k"].T / 2.0)
    np.testing.assert_allclose(a["weights"], softmax(a["scores"]))
    np.testing.assert_allclose(a["weights"].sum(axis=1), 1.0)
    np.testing.assert_allclose(a["z"], a["weights"] @ a["v"])


def test_cats_attends_most_to_pets(result: Result) -> None:
    tokens = list(result.labels["tokens"])
    cats, pets = tokens.index("cats"), tokens.index("pets")
    row = result.arrays["weights"][cats]
    assert int(np.argmax(row)) == pets == result.facts["focus_top"]
    assert row[pets] == pytest.approx(0.876, abs=5e-4)
    # Z's row for cats is close to the value row of pets, because that weight dominates.
    z, v = result.arrays["z"], result.arrays["v"]
    assert np.linalg.norm(z[cats] - v[pets]) < 0.2 * np.linalg.norm(v[pets])


def test_embeddings_are_the_hand_built_features_plus_small_noise(result: Result) -> None:
    x = result.arrays["x"]
    features = list(result.labels["features"])
    cats = list(result.labels["tokens"]).index("cats")
    assert abs(x[cats, features.index("animal")] - 1.0) < 0.4
    assert abs(x[cats, features.index("punctuation")]) < 0.4


def test_context_gives_every_figure_a_chart() -> None:
    ctx = export._computed(SCENARIO.slug)[1]  # SCENARIO.context(result), made once a process
    figs = {k: v for k, v in ctx.items() if k.endswith("_fig")}
    assert {k: f.name for k, f in figs.items()} == {
        "x_fig": "x",
        "q_fig": "q",
        "k_fig": "k",
        "v_fig": "v",
        "scores_fig": "scores",
        "weights_fig": "weights",  # the name the embedding guide uses
        "z_fig": "z",
    }
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
        assert fig.caption, name
        assert "title" in fig.to_dict(), name


def test_page_states_the_computed_numbers(page: str, result: Result) -> None:
    a = result.arrays
    assert "“cats” gives 0.88 of its\n    attention to “pets”" in page
    assert "the score is **4.76**" in page
    assert "“pets” 0.88, “cats” 0.08" in page
    assert f"{float(a['scores'][5, 2]):.2f}" == "4.76"
    z = "[" + ", ".join(f"{t:.2f}" for t in a["z"][5]) + "]"
    assert f"**{z}**" in page
    for shape in ("(6, 8)", "(8, 4)", "(6, 4)", "(6, 6)"):
        assert shape in page
    assert "{{" not in page and "{%" not in page


def test_every_chart_reaches_the_page_as_html(raw: str) -> None:
    assert raw.count('<figure class="atlas-figure"') == 8  # 7 steps and the live panel
    assert "&lt;figure" not in raw
