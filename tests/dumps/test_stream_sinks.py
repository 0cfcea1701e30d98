"""Streamed heads know their sink: the key with the most mean weight, as from the map."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_atlas.attention import block_edges
from attention_atlas.dumps.stream import _block_sums, head_views
from attention_atlas.readouts import causal_visible, head_sinks


def _dense(q: np.ndarray, k: np.ndarray, scale: float, offset: int | None) -> np.ndarray:
    """softmax(scale q k^T), the future masked when ``offset`` is given: a plain loop."""
    n, m = len(q), len(k)
    w = np.zeros((n, m))
    for i in range(n):
        seen = m if offset is None else min(m, i + offset + 1)
        s = scale * (q[i].astype(np.float64) @ k[:seen].T.astype(np.float64))
        e = np.exp(s - s.max())
        w[i, :seen] = e / e.sum()
    return w


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    extra=st.integers(0, 20),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_key_means_and_sink_match_the_dense_map(
    n: int, extra: int, causal: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    m = n + extra
    q = rng.normal(size=(n, 8)).astype(np.float32)
    k = rng.normal(size=(m, 8)).astype(np.float32)
    k[0] *= 0  # ... and a key every query can reach
    offset = m - n if causal else None
    *_, key_mean = head_views(q, k, 0.5, min(4, n), min(4, m), offset)
    w = _dense(q, k, 0.5, offset)
    visible = causal_visible(n, m) if causal else None
    sink, weight = head_sinks(w, visible)
    seen = np.ones((n, m), bool) if visible is None else np.asarray(visible)
    expected = np.where(seen, w, 0).sum(0) / np.maximum(seen.sum(0), 1)
    np.testing.assert_allclose(key_mean, expected, atol=2e-6)
    assert key_mean[int(sink)] == pytest.approx(float(weight), abs=2e-6)


def test_a_first_token_sink_is_found() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=16).astype(np.float32)
    q = (base + 0.3 * rng.normal(size=(64, 16))).astype(np.float32)  # every query near base
    k = rng.normal(size=(64, 16)).astype(np.float32)
    k[0] = 2 * base  # ... and key 0 along it: the sink, as in a decoder's first token
    *_, key_mean = head_views(q, k, 1.0, 8, 8, 0)
    assert int(np.argmax(key_mean)) == 0 and key_mean[0] > 0.5


@pytest.mark.parametrize(("m", "blocks"), [(9, 4), (2049, 128), (10, 3), (16, 4)])
def test_block_sums_cover_a_last_block_wider_than_the_others(m: int, blocks: int) -> None:
    """block_edges(9, 4) is [0, 2, 4, 6, 9]: the last block is 3 wide, the others 2."""
    scores = np.random.default_rng(m).random((3, m)).astype(np.float32)
    starts = block_edges(m, blocks)[:-1]
    expected = np.add.reduceat(scores.astype(np.float64), starts, axis=1)
    np.testing.assert_allclose(_block_sums(scores, starts), expected, rtol=1e-5)


def test_the_streamed_overview_names_each_heads_sink_and_the_first_token() -> None:
    from attention_atlas.dumps.read import validate_projections
    from attention_atlas.dumps.report import render_streamed_report

    rng = np.random.default_rng(1)
    base = rng.normal(size=8).astype(np.float32)
    q = (base + 0.3 * rng.normal(size=(1, 4, 24, 8))).astype(np.float32)
    k = rng.normal(size=(1, 2, 30, 8)).astype(np.float32)  # 2 key heads for 4 query heads
    k[0, 0, 0] = 3 * base  # key head 0 (query heads 0 and 1): position 0 is the sink
    tokens = np.array([f"w{i}" for i in range(30)])
    dump = validate_projections(q, k, tokens[6:], tokens, causal=True)
    overview = render_streamed_report(dump, title="T")["index.md"]
    assert "| `k` read as (L, H_kv, M, d) | (1, 2, 30, 8): grouped-query heads" in overview
    assert "yes: query i sees keys 0 to i + 6 (the queries are the last 24 of 30" in overview
    assert "“w0”) dominates 2 of 4 heads" in overview and "(L0 H0, L0 H1)" in overview
    assert "| 0 | [1](heads/layer-0.md#head-1) | 0: w0 |" in overview
