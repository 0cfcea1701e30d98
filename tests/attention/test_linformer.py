import numpy as np
import pytest

from attention_atlas.attention import (
    linformer_attention,
    pooling_projection,
    scaled_dot_product_attention,
)
from attention_atlas.errors import AtlasError, ShapeError

rng = np.random.default_rng(5)


def test_identity_projection_equals_full_attention():
    q, k, v = rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 9, 4)), rng.normal(size=(2, 9, 3))
    eye = np.eye(9)
    out, weights = linformer_attention(q, k, v, eye, eye)
    ref_out, ref_weights = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)
    np.testing.assert_allclose(weights, ref_weights, atol=1e-12)


def test_projected_shapes_and_rows():
    q, k, v = rng.normal(size=(5, 4)), rng.normal(size=(12, 4)), rng.normal(size=(12, 2))
    e, f = rng.normal(size=(3, 12)), rng.normal(size=(3, 12))
    out, weights = linformer_attention(q, k, v, e, f)
    assert out.shape == (5, 2) and weights.shape == (5, 3)
    np.testing.assert_allclose(weights.sum(-1), 1.0)
    ref_out, _ref_weights = scaled_dot_product_attention(q, e @ k, f @ v)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)


def test_pooling_projection_averages_blocks():
    e = pooling_projection(6, 3)
    np.testing.assert_array_equal(
        e, [[0.5, 0.5, 0, 0, 0, 0], [0, 0, 0.5, 0.5, 0, 0], [0, 0, 0, 0, 0.5, 0.5]]
    )
    k = rng.normal(size=(12, 4))
    np.testing.assert_allclose(pooling_projection(12, 4) @ k, k.reshape(4, 3, 4).mean(axis=1))
    np.testing.assert_array_equal(pooling_projection(5, 5), np.eye(5))
    assert pooling_projection(4, 2, dtype=np.float32).dtype == np.float32


def test_pooling_projection_rule_is_enforced():
    with pytest.raises(ShapeError, match=r"m to be a multiple of p.*m=10, p=3 \(10 % 3 = 1\)"):
        pooling_projection(10, 3)
    with pytest.raises(AtlasError, match="p must be a positive integer"):
        pooling_projection(10, 0)


def test_shape_errors():
    q, k, v = np.ones((2, 4)), np.ones((6, 4)), np.ones((6, 2))
    with pytest.raises(
        ShapeError, match=r"e must have shape \(P, M\) with M from k = \(3, 6\), got \(3, 5\)"
    ):
        linformer_attention(q, k, v, np.ones((3, 5)), np.ones((3, 5)))
    with pytest.raises(ShapeError, match=r"f must have shape \(P, M\) like e"):
        linformer_attention(q, k, v, np.ones((3, 6)), np.ones((2, 6)))
    with pytest.raises(ShapeError, match="e must have shape"):
        linformer_attention(q, k, v, np.ones(6), np.ones(6))


def test_float32_preserved():
    q = rng.normal(size=(4, 8)).astype(np.float32)
    e = pooling_projection(4, 2, dtype=np.float32)
    out, weights = linformer_attention(q, q, q, e, e)
    assert out.dtype == np.float32 and weights.dtype == np.float32
