"""Golden values of the seed examples, as the pages state them."""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
import pytest

from attention_atlas.scenarios import get


def test_single_annotation_scores_927(scenario_page: Callable[[str], str]) -> None:
    scenario = get("single-annotation")
    result = scenario.compute(scenario)
    assert float(result.arrays["score"]) == 927.0
    np.testing.assert_array_equal(result.arrays["products"], [15, 12, 900])
    text = html.unescape(scenario_page(scenario.slug))
    assert "15 + 12 + 900 = **927**" in text


def test_annotation_matrix_matches_the_tutorial(scenario_page: Callable[[str], str]) -> None:
    scenario = get("annotation-matrix")
    a = scenario.compute(scenario).arrays
    np.testing.assert_allclose(a["scores"], [927, 397, 148, 929])
    np.testing.assert_allclose(a["weights"], [0.1192, 0, 0, 0.8808], atol=5e-5)
    np.testing.assert_allclose(a["context"], [3.8808, 4.0728, 45.2642], atol=5e-5)
    assert np.isnan(a["naive"][0]) and np.isnan(a["naive"][3])
    text = html.unescape(scenario_page(scenario.slug))
    for shown in ("927, 397, 148, 929", "0.1192", "0.8808", "3.8808, 4.0728, 45.2642", "NaN"):
        assert shown in text


def test_sequence_attention_shapes_and_convex_rows() -> None:
    scenario = get("sequence-attention")
    a = scenario.compute(scenario).arrays
    assert a["out"].shape == (4, 2)
    assert a["weights"].shape == (4, 3)
    np.testing.assert_allclose(a["weights"].sum(axis=1), 1.0)
    np.testing.assert_allclose(a["out"], a["weights"] @ a["inputs"])
    np.testing.assert_allclose(a["out"][:, 1] - a["out"][:, 0], 1.0)


def test_sequence_attention_alignment_reads_two_words_for_syria() -> None:
    scenario = get("sequence-attention")
    result = scenario.compute(scenario)
    align = result.arrays["align"]
    source = list(result.labels["source"])
    syria = list(result.labels["target"]).index("Syria")
    top_two = sorted(np.argsort(align[syria])[-2:])
    assert [source[j] for j in top_two] == ["la", "Syrie"]
    assert align[syria, top_two].sum() > 0.9
    np.testing.assert_allclose(align.sum(axis=1), 1.0)


@pytest.mark.parametrize("slug", ["single-annotation", "annotation-matrix", "sequence-attention"])
def test_pages_render_without_raw_template_syntax(
    slug: str, scenario_page: Callable[[str], str]
) -> None:
    text = scenario_page(slug)  # render_scenario(get(slug)), once a session
    assert "{{" not in text and "{%" not in text
