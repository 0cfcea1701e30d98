import numpy as np
import pytest

from attention_atlas.attention import (
    linear_attention,
    performer_attention,
    random_features,
    scaled_dot_product_attention,
)
from attention_atlas.errors import AtlasError, ShapeError

rng = np.random.default_rng(9)
Q, K, V = 0.5 * rng.normal(size=(12, 8)), 0.5 * rng.normal(size=(16, 8)), rng.normal(size=(16, 3))


@pytest.mark.parametrize("orthogonal", [True, False])
def test_performer_error_shrinks_as_features_grow(orthogonal):
    _exact_out, exact_weights = scaled_dot_product_attention(Q, K, V)

    def mean_error(r):
        errs = []
        for seed in range(8):
            _out, weights = performer_attention(
                Q, K, V, r, seed=seed, orthogonal=orthogonal, return_weights=True
            )
            errs.append(np.abs(weights - exact_weights).mean())
        return float(np.mean(errs))

    errors = [mean_error(r) for r in (8, 64, 512)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.5 * errors[0]


def test_performer_weights_are_a_normalised_map_consistent_with_out():
    out, weights = performer_attention(Q, K, V, 64, seed=1, return_weights=True)
    assert weights is not None and weights.shape == (12, 16)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0)
    np.testing.assert_allclose(out, weights @ V, atol=1e-12)
    again, none = performer_attention(Q, K, V, 64, seed=1)
    np.testing.assert_array_equal(again, out)  # seeded: same features, same output
    assert none is None
    other, _ = performer_attention(Q, K, V, 64, seed=2)
    assert not np.array_equal(other, out)


def test_performer_accepts_a_generator_and_batches():
    q = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    out, weights = performer_attention(
        q, q, q, 16, seed=np.random.default_rng(0), return_weights=True
    )
    assert out.shape == (2, 3, 5, 4) and out.dtype == np.float32
    assert weights is not None and weights.shape == (2, 3, 5, 5)


def test_random_features_are_orthogonal_in_blocks():
    w = random_features(8, 4, seed=3)
    block = w[:4] / np.linalg.norm(w[:4], axis=1, keepdims=True)
    np.testing.assert_allclose(block @ block.T, np.eye(4), atol=1e-12)
    assert w.shape == (8, 4)
    np.testing.assert_array_equal(random_features(8, 4, seed=3), w)


def test_linear_attention_matches_its_formula():
    def phi(x):
        return np.where(x > 0, x + 1, np.exp(x))

    a = phi(Q) @ phi(K).T
    expected_weights = a / a.sum(-1, keepdims=True)
    out, weights = linear_attention(Q, K, V, return_weights=True)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-12)
    np.testing.assert_allclose(out, expected_weights @ V, atol=1e-12)
    assert linear_attention(Q, K, V)[1] is None


def test_errors():
    with pytest.raises(ShapeError, match=r"q has 8 features \(d_k\) but k has 3"):
        performer_attention(Q, K[:, :3], V)
    with pytest.raises(AtlasError, match="num_features must be a positive integer"):
        performer_attention(Q, K, V, 0)
    bad = K.copy()
    bad[0, 0] = np.nan
    with pytest.raises(AtlasError, match="k must be finite"):
        linear_attention(Q, bad, V)
