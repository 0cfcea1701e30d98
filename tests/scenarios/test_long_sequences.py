"""The long-sequences page: its numbers against the arrays and independent computations."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import numpy as np
import pytest

from attention_atlas import export
from attention_atlas.attention import block_edges
from attention_atlas.build import inline_chart_bytes
from attention_atlas.charts.blocks import block_explorer_chart, block_range_labels
from attention_atlas.charts.figure import figures_in
from attention_atlas.charts.html import to_spec
from attention_atlas.render import templating
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.long_sequences import (
    SCENARIO,
    block_kind,
    compute,
    long_problem,
    strongest_blocks,
)

SPEC = re.compile(r"data-spec='([^']*)'")

#: The module computes the page (seconds) before its first test.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result() -> Result:
    """``compute(SCENARIO)``, made once a process (the figure and export tests share it)."""
    return export._computed(SCENARIO.slug)[0]


@pytest.fixture(scope="module")
def ctx() -> dict[str, Any]:
    """``context(result)``, made once a process with :func:`result`; read, never changed."""
    return export._computed(SCENARIO.slug)[1]


@pytest.fixture(scope="module")
def rendered(ctx: dict[str, Any]) -> str:
    """The page from the module's context (the registry tests render it from scratch)."""
    return templating.render(SCENARIO.template, {"scenario": SCENARIO, "next_page": None, **ctx})


@pytest.fixture(scope="module")
def specs(rendered: str) -> list[dict[str, Any]]:
    return [json.loads(html.unescape(raw)) for raw in SPEC.findall(rendered)]


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, np.ndarray]:
    return long_problem(SCENARIO.params, SCENARIO.seed)


def _weights_rows(q: np.ndarray, k: np.ndarray, rows: slice) -> np.ndarray:
    """Exact softmax rows (float64) of the real problem: only a few rows, never N x N."""
    s = q[rows].astype(np.float64) @ k.T.astype(np.float64) / np.sqrt(q.shape[1])
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_problem_is_one_float32_head_of_16384_by_64(problem) -> None:
    q, k = problem
    assert q.shape == k.shape == (16384, 64)
    assert q.dtype == k.dtype == np.float32


def test_pooled_views_have_the_stated_shape_and_block_rule(result: Result) -> None:
    a = result.arrays
    assert a["mean"].shape == a["max"].shape == (128, 128)
    np.testing.assert_array_equal(a["edges"], np.arange(129) * 128)
    # Each row sums to 1, so the block means of a row block sum to 1 / (block width).
    np.testing.assert_allclose(a["mean"].sum(axis=1), 1 / 128, rtol=1e-4)
    assert np.all(a["max"] >= a["mean"]) and np.all(a["max"] <= 1)


def test_views_match_exact_rows_of_the_real_problem(result: Result, problem) -> None:
    """Row block 101 (the copy's queries) and row block 40 (a reference), computed densely."""
    q, k = problem
    a = result.arrays
    for block in (101, 40, 0):
        w = _weights_rows(q, k, slice(block * 128, (block + 1) * 128))  # (128, N)
        cells = w.reshape(128, 128, 128)  # (query, key block, key)
        np.testing.assert_allclose(a["max"][block], cells.max(axis=(0, 2)), rtol=2e-3, atol=1e-7)
        np.testing.assert_allclose(a["mean"][block], cells.mean(axis=(0, 2)), rtol=2e-3, atol=1e-9)
        rows = slice(block * 128, (block + 1) * 128)
        scores = q[rows].astype(np.float64) @ k.T.astype(np.float64) / np.sqrt(q.shape[1])
        top = scores.max(axis=1)
        lse = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
        np.testing.assert_allclose(a["row_lse"][rows], lse, rtol=1e-5)


def test_details_are_the_exact_blocks(result: Result, problem) -> None:
    """Each detail is its block of the exact map, and its maximum is the pooled maximum.

    A detail's weight is ``exp(s - lse)`` from float32 scores ``s`` and row
    log-normalisers ``lse``, so its relative error is the absolute error of
    ``s - lse``: a few float32 ulps of the scores' size. Here scores reach 240 (an
    ulp is 1.5e-5), and the same dot product rounds differently in the streamed
    pass and in the block's own product (4.6e-5 apart measured), so the two routes
    to a block's maximum agree to ``4 eps32 max|lse|`` (1.1e-4 here), not to 1e-5.
    """
    q, k = problem
    a = result.arrays
    eps32 = float(np.finfo(np.float32).eps)
    for (r, c), det in zip(a["chosen"], a["details"], strict=True):
        rows = slice(r * 128, (r + 1) * 128)
        w = _weights_rows(q, k, rows)
        np.testing.assert_allclose(det, w[:, c * 128 : (c + 1) * 128], rtol=2e-3, atol=1e-8)
        rounding = 4 * eps32 * float(np.abs(a["row_lse"][rows]).max())
        assert det.max() == pytest.approx(a["max"][r, c], rel=rounding)
        assert det.mean() == pytest.approx(a["mean"][r, c], rel=1e-3)


def test_the_strongest_blocks_follow_the_stated_rule(result: Result) -> None:
    a = result.arrays
    mx, mean = a["max"], a["mean"]
    chosen = [tuple(int(x) for x in rc) for rc in a["chosen"]]
    p = SCENARIO.params
    off = chosen[:-1]
    assert len(off) == p["off_diagonal"] and len(set(chosen)) == len(chosen)
    assert all(abs(r - c) > p["band"] for r, c in off)
    # Sorted by maximum, and nothing eligible left out is stronger than the weakest taken.
    values = [mx[rc] for rc in off]
    assert values == sorted(values, reverse=True)
    cols = [c for _, c in off]
    assert max(cols.count(c) for c in cols) <= p["per_column"]
    full = {c for c in cols if cols.count(c) == p["per_column"]}
    for r in range(128):
        for c in range(128):
            if abs(r - c) > p["band"] and (r, c) not in off and c not in full:
                assert mx[r, c] <= values[-1]
    assert chosen[-1] == (int(np.argmax(np.diag(mean))),) * 2


def test_strongest_blocks_on_a_small_example() -> None:
    mx = np.array(
        [
            [0.9, 0.1, 0.5, 0.8],
            [0.1, 0.9, 0.1, 0.7],
            [0.6, 0.1, 0.9, 0.1],
            [0.4, 0.3, 0.1, 0.9],
        ]
    )
    mean = np.diag([0.1, 0.4, 0.2, 0.3])
    # Off the band (|i - j| > 1): (0,2) .5, (0,3) .8, (1,3) .7, (2,0) .6, (3,0) .4, (3,1) .3.
    got = strongest_blocks(mx, mean, off_diagonal=3, per_column=1, band=1)
    assert got == [(0, 3), (2, 0), (0, 2), (1, 1)]
    got = strongest_blocks(mx, mean, off_diagonal=3, per_column=2, band=1)
    assert got == [(0, 3), (1, 3), (2, 0), (1, 1)]


def test_the_planted_structures_are_what_the_blocks_show(result: Result) -> None:
    a, kinds = result.arrays, result.labels["kinds"]
    assert kinds[0] == "copy" and "reference" in kinds and "global" in kinds
    assert kinds[-1].startswith("local")
    edges = a["edges"]
    for (r, c), kind in zip(a["chosen"], kinds, strict=True):
        assert block_kind(int(r), int(c), edges, SCENARIO.params) == kind
    # Sharp links: the copy's block is the largest maximum but an ordinary mean.
    r, c = a["chosen"][0]
    assert a["max"][r, c] == a["max"].max() > 0.9
    assert np.sum(a["mean"] > a["mean"][r, c]) > 100


def test_the_pass_stays_far_below_the_map(result: Result) -> None:
    facts = result.facts
    map_mib = 16384 * 16384 * 4 / 2**20
    assert 0 < facts["stream_mib"] <= 64 and facts["stream_mib"] < map_mib / 50
    # At small_n both ways ran: the dense one holds its map, the streamed one does not.
    small = SCENARIO.params["small_n"]
    assert facts["small_dense_mib"] >= small * small * 4 / 2**20
    assert facts["small_stream_mib"] < facts["small_dense_mib"] / 4
    np.testing.assert_allclose(
        result.arrays["small_stream"], result.arrays["small_dense"], rtol=1e-4, atol=1e-8
    )


def test_memory_facts_are_deterministic(result: Result) -> None:
    again = compute(SCENARIO)
    assert again.facts == result.facts
    for name in ("mean", "max", "details"):
        np.testing.assert_array_equal(again.arrays[name], result.arrays[name])


def test_page_states_the_computed_facts(ctx: dict[str, Any], rendered: str, result) -> None:
    text = " ".join(html.unescape(rendered).split())
    a = result.arrays
    r, c = a["chosen"][0]
    assert f"largest weight of **{a['max'][r, c]:.3f}**" in text
    assert f"peaked at **{result.facts['stream_mib']:.1f} MiB**" in text
    assert "python benchmarks/core.py" in text
    assert f"query {ctx['copy_query']} gives key {ctx['copy_key']}" in text
    assert ctx["copy_key"] - SCENARIO.params["copy"]["source"] == (
        ctx["copy_query"] - SCENARIO.params["copy"]["target"]
    )
    for row in ctx["detail_rows"]:
        assert f"| {row['queries']} | {row['key_span']} | {row['max']} |" in text
    assert "<built-in" not in text and "0x7f" not in text
    # No wall-clock time on the page (it must be byte-identical between builds).
    prose = re.sub(r"<figure.*?</figure>", "", text)
    assert not re.search(r"\b\d+(\.\d+)? ?(ms|s|seconds)\b", prose)


def test_chart_titles_state_block_size_and_pooling(specs: list[dict[str, Any]]) -> None:
    titles = [" ".join(s["title"]["text"]) for s in specs]
    assert titles == [
        "Block means (128 × 128 blocks of 128 × 128 positions)",
        "Block maxima (128 × 128 blocks of 128 × 128 positions)",
    ]
    for spec in specs:
        assert "square-root" in json.dumps(spec["title"]["subtitle"]).lower()


def test_page_charts_stay_within_budget(ctx: dict[str, Any]) -> None:
    assert inline_chart_bytes(figures_in(ctx)) < 600_000


def test_explorer_carries_the_exact_details_and_rings_them(
    specs: list[dict[str, Any]], result: Result
) -> None:
    spec = specs[1]
    params = {p["name"]: p.get("value") for p in spec["params"]}
    a = result.arrays
    ids = [int(r) * 128 + int(c) for r, c in a["chosen"]]
    assert params["bx_dt_id"] == ids
    codes, steps = params["bx_dt_codes"], params["bx_dt_step"]
    for b, det in enumerate(a["details"]):
        chunk = codes[b * 2 * det.size : (b + 1) * 2 * det.size]
        levels = np.frombuffer(bytes.fromhex(chunk), dtype=np.uint8).reshape(det.shape)
        np.testing.assert_allclose(levels * steps[b], det, atol=steps[b] / 2 + 1e-6)
    pick = next(p for p in spec["params"] if p["name"] == "bx_pick")
    assert pick["value"] == [{"blk": ids[0]}]
    assert pick["bind"]["input"] == "select" and pick["bind"]["options"] == ids
    rings = json.dumps(spec)
    assert rings.count('"Precomputed detail"') == 1


def test_explorer_refuses_details_of_the_wrong_shape() -> None:
    from attention_atlas.errors import ShapeError

    edges = block_edges(8, 2)
    with pytest.raises(ShapeError, match=r"the detail of block \(1, 0\) must have shape"):
        block_explorer_chart(
            np.ones((2, 2)), edges, edges, [np.ones((3, 4))], [(1, 0)], ["x"], title="t"
        )
    spec = to_spec(
        block_explorer_chart(
            np.ones((2, 2)), edges, edges, [np.ones((4, 4))], [(1, 0)], ["x"], title="t"
        )
    )
    assert spec["vconcat"]


def test_block_range_labels() -> None:
    assert block_range_labels([0, 128, 256]) == ["0–127", "128–255"]
    assert block_range_labels(block_edges(5, 4)) == ["0", "1", "2", "3–4"]
