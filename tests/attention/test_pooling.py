import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.attention import pool_map, pooled_attention, scaled_dot_product_attention
from generator.errors import AtlasError, ShapeError

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
