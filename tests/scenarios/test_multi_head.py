"""The multi-head page: the seed's routing matrix read aloud, and a real stack of heads."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import numpy as np
import pytest

from attention_atlas import export
from attention_atlas.attention import multi_head_attention
from attention_atlas.charts import Figure
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.multi_head import SCENARIO, layer_norm, routing_sentences

SPEC = re.compile(r"data-spec='([^']*)'")

ROUTING_SENTENCES = [
    "“The” routes 0.5 of its information through “The” and 0.5 through “dog”, "
    "and none through “ran”.",
    "“dog” routes all of its information through “dog”, and none through “The” and “ran”.",
    "“ran” routes 0.3 of its information through “The”, 0.3 through “dog” and 0.4 through “ran”.",
]


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


def test_seed_routing_matrix_is_read_row_by_row(result: Result) -> None:
    routing = result.arrays["routing"]
    np.testing.assert_array_equal(routing, [[0.5, 0.5, 0], [0, 1, 0], [0.3, 0.3, 0.4]])
    assert routing_sentences(routing, ["The", "dog", "ran"]) == ROUTING_SENTENCES
    np.testing.assert_allclose(
        result.arrays["routing_entropy"], [1.0, 0.0, -2 * 0.3 * np.log2(0.3) - 0.4 * np.log2(0.4)]
    )


def test_every_head_at_every_depth(result: Result) -> None:
    w = result.arrays["weights"]
    assert w.shape == (2, 4, 6, 6)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0)
    entropy = result.arrays["entropy"]
    assert entropy.shape == (2, 4)
    assert np.all(entropy >= 0) and np.all(entropy <= np.log2(6))
    # Heads differ: the most focused and the most diffuse are far apart.
    assert entropy.max() - entropy.min() > 0.5


def test_concat_then_project_is_the_layer_output(result: Result) -> None:
    a = result.arrays
    assert a["heads"].shape == (4, 6, 4)
    assert a["concat"].shape == (6, 16)
    np.testing.assert_allclose(a["concat_out"], a["out"], atol=1e-12)


def test_layers_are_stacked_with_a_residual(result: Result) -> None:
    # Layer 1's maps come from layer 0's output, not from the input again.
    p = SCENARIO.params
    rng = np.random.default_rng(SCENARIO.seed)
    rng.normal(size=(len({t.lower() for t in p["tokens"]}), p["d_model"]))  # embeddings
    std = p["weight_scale"] / np.sqrt(p["d_model"])
    x = result.arrays["x0"]
    for layer in range(p["layers"]):
        w = [rng.normal(0.0, std, size=(p["d_model"], p["d_model"])) for _ in range(4)]
        out, weights = multi_head_attention(x, x, *w, p["heads"])
        np.testing.assert_allclose(weights, result.arrays["weights"][layer])
        x = layer_norm(x + out)
    np.testing.assert_allclose(x.mean(axis=-1), 0.0, atol=1e-12)


def test_context_gives_every_figure_a_chart() -> None:
    ctx = export._computed(SCENARIO.slug)[1]  # SCENARIO.context(result), made once a process
    figs = {k: v for k, v in ctx.items() if k.endswith("_fig")}
    assert set(figs) == {"routing_fig", "grid_fig", "entropy_fig"}
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
        assert fig.name == name.removesuffix("_fig")
        assert fig.to_dict()["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_page_reads_the_matrix_aloud_and_states_entropies(page: str, result: Result) -> None:
    for sentence in ROUTING_SENTENCES:
        assert sentence in page
    entropy = result.arrays["entropy"]
    lo = np.unravel_index(int(np.argmin(entropy)), entropy.shape)
    name = f"layer {lo[0]}, head {lo[1]}"
    assert f"**{name}** at {entropy[lo]:.2f} bits" in page
    assert "1.00 bits (“The”), 0.00 bits (“dog”), 1.57 bits (“ran”)" in page
    assert "H·d_v = 4·4 = 16" in page
    assert "2.58 bits for N = 6" in page
    assert "{{" not in page and "{%" not in page


def test_every_chart_reaches_the_page_as_html(raw: str) -> None:
    assert raw.count('<figure class="atlas-figure"') == 3
    assert "&lt;figure" not in raw
