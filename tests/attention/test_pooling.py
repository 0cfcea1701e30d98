import gc
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_atlas.attention import (
    block_detail,
    block_edges,
    pool_map,
    pooled_attention,
    pooled_views,
    row_logsumexp,
    scaled_dot_product_attention,
)
from attention_atlas.errors import AtlasError, ShapeError

from ._reference import loop_pool

rng = np.random.default_rng(17)


@pytest.mark.parametrize("reduce", ["mean", "max"])
@pytest.mark.parametrize(("n", "m", "rows", "cols"), [(12, 8, 4, 2), (13, 10, 4, 3), (5, 7, 5, 7)])
def test_pool_map_matches_the_block_rule(reduce, n, m, rows, cols):
    w = rng.random((n, m))
    np.testing.assert_allclose(pool_map(w, rows, cols, reduce), loop_pool(w, rows, cols, reduce))


def test_pool_map_batches_and_keeps_float32():
    w = rng.random((2, 3, 8, 6)).astype(np.float32)
    pooled = pool_map(w, 4, 3)
    assert pooled.shape == (2, 3, 4, 3) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled[1, 2], loop_pool(w[1, 2], 4, 3, "mean"), rtol=1e-6)


@settings(max_examples=25, deadline=None, database=None)
@given(
    st.integers(1, 20),
    st.integers(1, 20),
    st.data(),
    st.sampled_from(["mean", "max"]),
    st.integers(0, 2**32 - 1),
)
def test_streaming_equals_pool_map_of_the_materialised_map(n, m, data, reduce, seed):
    rows = data.draw(st.integers(1, n))
    cols = data.draw(st.integers(1, m))
    block = data.draw(st.integers(1, n + 2))
    g = np.random.default_rng(seed)
    q, k = g.normal(size=(n, 4)), g.normal(size=(m, 4))
    mask = g.random((n, m)) > 0.2
    _, weights = scaled_dot_product_attention(q, k, k, mask=mask)
    streamed = pooled_attention(q, k, rows, cols, reduce, block=block, mask=mask)
    np.testing.assert_allclose(streamed, pool_map(weights, rows, cols, reduce), atol=1e-12)


def test_streaming_with_batch_dims_and_float32():
    q, k = rng.normal(size=(2, 3, 40, 8)).astype(np.float32), rng.normal(size=(3, 30, 8))
    k = k.astype(np.float32)
    _, weights = scaled_dot_product_attention(q, k, k)
    pooled = pooled_attention(q, k, 8, 5, block=7)
    assert pooled.shape == (2, 3, 8, 5) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, pool_map(weights, 8, 5), rtol=1e-5, atol=1e-7)


def test_errors():
    with pytest.raises(ShapeError, match="rows must be between 1 and 4"):
        pool_map(np.ones((4, 4)), 5, 2)
    with pytest.raises(AtlasError, match="reduce must be 'mean' or 'max'"):
        pool_map(np.ones((4, 4)), 2, 2, reduce="sum")  # type: ignore[arg-type]
    with pytest.raises(AtlasError, match="weights must be finite"):
        pool_map(np.full((4, 4), np.nan), 2, 2)
    with pytest.raises(ShapeError, match="cols must be between 1 and 3"):
        pooled_attention(np.ones((4, 2)), np.ones((3, 2)), 2, 4)
    with pytest.raises(AtlasError, match="block must be a positive integer"):
        pooled_attention(np.ones((4, 2)), np.ones((3, 2)), 2, 3, block=0)


# --------------------------------------------------------------------------- streaming extras


def _dense(q, k, mask=None, scale=None):
    """The materialised map and its row log-normalisers, in float64, the plain way."""
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)
    s = (1 / np.sqrt(q.shape[-1]) if scale is None else scale) * (q @ np.swapaxes(k, -1, -2))
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    top = np.max(s, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(s - top)
    total = e.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(total > 0, e / total, 0.0)
        lse = (np.log(total) + top)[..., 0]
    return weights, lse


@pytest.mark.parametrize("scale", [None, 0.3, 2.5])
@pytest.mark.parametrize(
    ("n", "m", "rows", "cols", "block"), [(24, 32, 4, 8, 5), (13, 10, 4, 3, 4)]
)
def test_pooled_views_give_mean_max_and_row_lse_of_the_dense_map(n, m, rows, cols, block, scale):
    g = np.random.default_rng(n * m)
    q, k = g.normal(size=(n, 6)) * 2, g.normal(size=(m, 6))
    weights, lse = _dense(q, k, scale=scale)
    views = pooled_views(q, k, rows, cols, block=block, scale=scale)
    assert set(views.views) == {"mean", "max"}
    np.testing.assert_allclose(
        views.views["mean"], loop_pool(weights, rows, cols, "mean"), atol=1e-14
    )
    np.testing.assert_allclose(
        views.views["max"], loop_pool(weights, rows, cols, "max"), atol=1e-14
    )
    np.testing.assert_allclose(views.row_lse, lse, rtol=1e-12)
    np.testing.assert_allclose(row_logsumexp(q, k, block=block, scale=scale), lse, rtol=1e-12)
    for reduce in ("mean", "max"):
        alone = pooled_attention(q, k, rows, cols, reduce, block=block, scale=scale)
        np.testing.assert_allclose(alone, views.views[reduce], rtol=1e-14)


def test_pooled_views_take_the_shift_path_for_huge_scores_and_keep_empty_rows_zero():
    g = np.random.default_rng(3)
    q, k = g.normal(size=(9, 4)) * 300, g.normal(size=(11, 4))  # exp would overflow unshifted
    mask = g.random((9, 11)) > 0.3
    mask[4] = False  # query 4 may attend nothing
    weights, lse = _dense(q, k, mask=mask)
    views = pooled_views(q, k, 3, 4, block=2, mask=mask)
    np.testing.assert_allclose(views.views["max"], loop_pool(weights, 3, 4, "max"), atol=1e-12)
    np.testing.assert_allclose(views.views["mean"], loop_pool(weights, 3, 4, "mean"), atol=1e-12)
    assert np.isneginf(views.row_lse[4]) and np.isfinite(np.delete(views.row_lse, 4)).all()
    np.testing.assert_allclose(np.delete(views.row_lse, 4), np.delete(lse, 4), rtol=1e-12)


@pytest.mark.parametrize("scale", [None, 0.7])
@pytest.mark.parametrize("given_lse", [False, True])
def test_block_detail_is_the_dense_block_for_every_block(scale, given_lse):
    g = np.random.default_rng(11)
    n, m, rows, cols = 23, 17, 5, 4  # uneven blocks
    q, k = g.normal(size=(n, 8)) * 1.5, g.normal(size=(m, 8))
    mask = g.random((n, m)) > 0.25
    mask[7] = False
    weights, _ = _dense(q, k, mask=mask, scale=scale)
    r_edges, c_edges = block_edges(n, rows), block_edges(m, cols)
    row_lse = row_logsumexp(q, k, block=3, mask=mask, scale=scale) if given_lse else None
    for i in range(rows):
        for j in range(cols):
            detail = block_detail(q, k, rows, cols, i, j, row_lse=row_lse, mask=mask, scale=scale)
            expected = weights[r_edges[i] : r_edges[i + 1], c_edges[j] : c_edges[j + 1]]
            assert detail.shape == expected.shape
            np.testing.assert_allclose(detail, expected, rtol=1e-12, atol=1e-15)


def test_block_detail_keeps_float32_and_batches():
    g = np.random.default_rng(5)
    q = g.normal(size=(2, 3, 64, 8)).astype(np.float32)
    k = g.normal(size=(3, 48, 8)).astype(np.float32)
    _, weights = scaled_dot_product_attention(q, k, k)
    detail = block_detail(q, k, 4, 3, 2, 1)
    assert detail.shape == (2, 3, 16, 16) and detail.dtype == np.float32
    np.testing.assert_allclose(detail, weights[..., 32:48, 16:32], rtol=2e-5, atol=1e-8)
    lse = pooled_views(q, k, 4, 3, block=5).row_lse
    assert lse.shape == (2, 3, 64) and lse.dtype == np.float32
    np.testing.assert_allclose(block_detail(q, k, 4, 3, 2, 1, row_lse=lse), detail, rtol=2e-5)


def test_detail_rows_are_slices_of_rows_that_sum_to_one():
    g = np.random.default_rng(8)
    q, k = g.normal(size=(40, 4)), g.normal(size=(30, 4))
    rows = np.concatenate([block_detail(q, k, 4, 5, 1, j) for j in range(5)], axis=1)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-12)


def _peak(fn):
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_streaming_memory_stays_far_below_the_dense_map():
    n, d = 4096, 64
    g = np.random.default_rng(1)
    q = g.standard_normal((n, d), dtype=np.float32)
    k = g.standard_normal((n, d), dtype=np.float32)
    dense = n * n * 4  # 64 MiB
    streamed = _peak(lambda: pooled_views(q, k, 32, 32, block=128))
    assert streamed < dense / 8, (streamed, dense)
    lse = row_logsumexp(q, k, block=128)
    assert _peak(lambda: row_logsumexp(q, k, block=128)) < dense / 8
    assert _peak(lambda: block_detail(q, k, 32, 32, 5, 9)) < dense / 8
    assert _peak(lambda: block_detail(q, k, 32, 32, 5, 9, row_lse=lse)) < dense / 64
    # The measurement can see a materialised map: the dense route peaks above the map.
    assert _peak(lambda: pool_map(scaled_dot_product_attention(q, k, k)[1], 32, 32)) > dense


def test_streaming_extras_errors():
    q, k = np.ones((4, 2)), np.ones((3, 2))
    with pytest.raises(AtlasError, match="reduces must name at least one"):
        pooled_views(q, k, 2, 3, reduces=())
    with pytest.raises(AtlasError, match="reduce must be 'mean' or 'max'"):
        pooled_views(q, k, 2, 3, reduces=("mean", "sum"))  # type: ignore[list-item]
    with pytest.raises(ShapeError, match=r"row_block must be a block index in 0\.\.1, got 2"):
        block_detail(q, k, 2, 3, 2, 0)
    with pytest.raises(ShapeError, match=r"col_block must be a block index in 0\.\.2, got -1"):
        block_detail(q, k, 2, 3, 0, -1)
    with pytest.raises(
        ShapeError, match=r"row_lse must broadcast to \(..., N\) = \(4,\), got \(3,\)"
    ):
        block_detail(q, k, 2, 3, 0, 0, row_lse=np.zeros(3))
    with pytest.raises(AtlasError, match="overflow"):
        row_logsumexp(np.full((2, 2), 1e200), np.full((2, 2), 1e200))


def test_strongest_blocks_take_one_per_column_by_default():
    from attention_atlas.attention import strongest_blocks

    maxima = np.array([[0.9, 0.1, 0.5], [0.8, 0.7, 0.2]])
    assert strongest_blocks(maxima, 2) == [(0, 0), (1, 1)]  # (1, 0) shares column 0
    assert strongest_blocks(maxima, 5) == [(0, 0), (1, 1), (0, 2)]  # only 3 columns
    assert strongest_blocks(maxima, 5, per_column=2) == [(0, 0), (1, 0), (1, 1), (0, 2), (1, 2)]


def test_strongest_blocks_leave_out_the_band_and_break_ties_by_position():
    from attention_atlas.attention import strongest_blocks

    maxima = np.array([[0.9, 0.5, 0.5], [0.5, 0.9, 0.4], [0.5, 0.4, 0.9]])
    # The diagonal (band 0) is left out; the four 0.5 ties go smaller row, then column.
    assert strongest_blocks(maxima, 3, band=0) == [(0, 1), (0, 2), (1, 0)]
    assert strongest_blocks(maxima, 9, band=1) == [(0, 2), (2, 0)]
    with pytest.raises(ShapeError, match=r"maxima must have shape \(R, C\), got \(3,\)"):
        strongest_blocks(np.ones(3), 1)
