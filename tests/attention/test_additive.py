import numpy as np
import pytest

from attention_atlas.attention import additive_attention, additive_scores, softmax
from attention_atlas.errors import ShapeError

from ._reference import loop_additive_scores

rng = np.random.default_rng(21)


def test_matches_the_loop_reference_and_masks():
    q, x = rng.normal(size=(3, 2)), rng.normal(size=(5, 4))
    w_q, w_k, v = rng.normal(size=(2, 3)), rng.normal(size=(4, 3)), rng.normal(size=3)
    mask = np.array([True, False, True, True, False])
    out, weights = additive_attention(q, x, w_q, w_k, v, mask=mask)
    expected = softmax(loop_additive_scores(q, x, w_q, w_k, v), mask=mask)
    np.testing.assert_allclose(weights, expected, atol=1e-12)
    np.testing.assert_allclose(out, expected @ x, atol=1e-12)
    assert (weights[:, ~mask] == 0).all()


def test_batched_and_float32():
    q, x = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 6, 3))
    w = rng.normal(size=(3, 5))
    v = rng.normal(size=5)
    out, weights = additive_attention(
        q.astype(np.float32),
        x.astype(np.float32),
        w.astype(np.float32),
        w.astype(np.float32),
        v.astype(np.float32),
    )
    assert out.shape == (2, 4, 3) and weights.shape == (2, 4, 6)
    assert out.dtype == np.float32
    np.testing.assert_allclose(weights[1], softmax(additive_scores(q[1], x[1], w, w, v)), rtol=1e-4)


def test_errors():
    with pytest.raises(ShapeError, match=r"w_q must have shape \(d_q, h\) = \(2, 3\)"):
        additive_attention(
            np.ones((4, 2)), np.ones((3, 2)), np.ones((3, 3)), np.ones((2, 3)), np.ones(3)
        )
    with pytest.raises(ShapeError, match=r"inputs must have shape \(\.\.\., M, d\)"):
        additive_attention(
            np.ones((4, 2)), np.ones(3), np.ones((2, 3)), np.ones((2, 3)), np.ones(3)
        )
