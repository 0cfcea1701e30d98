"""The Linformer page: its numbers against independent computations, and the rendered page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from attention_atlas import export
from attention_atlas.build import render_scenario
from attention_atlas.charts import Figure
from attention_atlas.scenarios import linformer
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.linformer import SCENARIO, block_labels, block_sums


@pytest.fixture(scope="module")
def result() -> Result:
    return export._computed(SCENARIO.slug)[0]  # compute(SCENARIO) once a process (read-only)


@pytest.fixture(scope="module")
def ctx() -> dict[str, Any]:
    return export._computed(SCENARIO.slug)[1]  # context(result) once a process (read-only)


@pytest.fixture(scope="module")
def rendered(scenario_page: Callable[[str], str]) -> str:
    """``render_scenario(SCENARIO)``, rendered once a session (the determinism test below
    renders it again)."""
    return scenario_page(SCENARIO.slug)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_block_labels_name_first_and_last_token() -> None:
    assert block_labels(["a", "b", "c", "d"], 2) == ("a–b", "c–d")
    assert block_labels(["a", "b", "c", "d"], 4) == ("a", "b", "c", "d")
    assert block_labels(["x", "y", "z", "w", "v", "u"], 2) == ("x–z", "w–u")


def test_block_sums_add_each_block_of_columns() -> None:
    w = np.arange(24, dtype=float).reshape(2, 12)
    expected = np.array([[w[r, c * 3 : c * 3 + 3].sum() for c in range(4)] for r in range(2)])
    np.testing.assert_allclose(block_sums(w, 4), expected)


def test_small_example_is_four_by_two_and_rows_sum_to_one(result: Result) -> None:
    a = result.arrays
    assert a["small_weights"].shape == (4, 2)
    np.testing.assert_allclose(a["small_weights"].sum(axis=1), 1.0, atol=1e-12)
    assert result.labels["small_blocks"] == ("a–b", "c–d")


def test_small_example_matches_a_hand_computation(result: Result) -> None:
    a = result.arrays
    q, k, v = a["small_q"], a["small_k"], a["small_v"]
    avg_k = np.stack([k[0:2].mean(axis=0), k[2:4].mean(axis=0)])  # (2, 3)
    avg_v = np.stack([v[0:2].mean(axis=0), v[2:4].mean(axis=0)])
    weights = _softmax(q @ avg_k.T / np.sqrt(q.shape[1]))
    np.testing.assert_allclose(a["small_e"], [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    np.testing.assert_allclose(a["small_kp"], avg_k, atol=1e-12)
    np.testing.assert_allclose(a["small_weights"], weights, atol=1e-12)
    np.testing.assert_allclose(a["small_out"], weights @ avg_v, atol=1e-12)


def test_full_attention_pooled_to_blocks_sums_each_block(result: Result) -> None:
    a = result.arrays
    full, pooled = a["full_weights"], a["full_blocks"]
    n, p = pooled.shape
    width = n // p
    for j in range(p):
        np.testing.assert_allclose(pooled[:, j], full[:, j * width : (j + 1) * width].sum(axis=1))
    np.testing.assert_allclose(pooled.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(a["lin_weights"].sum(axis=1), 1.0, atol=1e-12)


def test_block_totals_are_log_sum_exp_and_linformer_is_the_mean(result: Result) -> None:
    """The identity the page explains: softmax of log-sum-exp vs softmax of the mean score."""
    a = result.arrays
    n, p = a["lin_weights"].shape
    s = a["full_scores"].reshape(n, p, n // p)  # (N, P, block)
    lse = np.log(np.exp(s).sum(axis=-1))
    np.testing.assert_allclose(a["full_blocks"], _softmax(lse), atol=1e-12)
    np.testing.assert_allclose(a["lin_weights"], _softmax(s.mean(axis=-1)), atol=1e-12)


def test_linformer_flattens_the_favourite_block(result: Result) -> None:
    a = result.arrays
    pooled, lin = a["full_blocks"], a["lin_weights"]
    rows = np.arange(len(pooled))
    peak = np.argmax(pooled, axis=1)
    assert np.all(lin[rows, peak] <= pooled[rows, peak])


def test_effective_maps(result: Result) -> None:
    a = result.arrays
    pooled_eff = a["pool_effective"]
    assert pooled_eff.min() >= 0
    np.testing.assert_allclose(pooled_eff.sum(axis=1), 1.0, atol=1e-12)
    # Spread evenly: within a block every token gets the block's weight / width.
    width = pooled_eff.shape[1] // a["lin_weights"].shape[1]
    spread = np.repeat(a["lin_weights"] / width, width, axis=1)
    np.testing.assert_allclose(pooled_eff, spread, atol=1e-15)
    rand_eff = a["rand_effective"]
    np.testing.assert_allclose(rand_eff, a["rand_weights"] @ a["rand_f"])
    assert (rand_eff < 0).any()
    assert not np.allclose(rand_eff.sum(axis=1), 1.0)


def test_uneven_blocks_are_refused_with_a_message(result: Result) -> None:
    message = result.facts["uneven_message"]
    assert "m=10" in message and "p=4" in message


def test_link_queries_point_at_their_targets(result: Result) -> None:
    a = result.arrays
    full, tokens = a["full_weights"], result.labels["tokens"]
    for position, targets in SCENARIO.params["links"]:
        assert int(np.argmax(full[position])) in targets, tokens[position]


def test_context_has_every_figure(ctx: dict[str, Any]) -> None:
    figures = [key for key in ctx if key.endswith("_fig")]
    assert len(figures) == 9
    for key in figures:
        assert isinstance(ctx[key], Figure), key
        assert ctx[key].name == key.removesuffix("_fig")
        assert ctx[key].to_dict(), key


def test_page_shows_the_computed_numbers(ctx: dict[str, Any], rendered: str) -> None:
    for text in (
        *ctx["small_first_weights"],
        ctx["max_diff"],
        ctx["mean_diff"],
        ctx["focus_mean"],
        ctx["focus_lse"],
        ctx["focus_full_block"],
        ctx["focus_lin_block"],
        ctx["lin_out_error"],
        ctx["eff_neg_share"],
        "a–b",
        "The–cross",
        "pooling&#95;projection needs m to be a multiple of p",
    ):
        assert text in rendered, text
    assert "&&#" not in rendered  # nothing escaped twice


def test_page_is_deterministic(rendered: str) -> None:
    assert render_scenario(SCENARIO) == rendered


def test_scenario_is_registered() -> None:
    from attention_atlas.scenarios import get

    assert get("linformer") is linformer.SCENARIO
