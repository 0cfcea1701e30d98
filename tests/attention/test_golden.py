"""Golden values from the seed questions the tutorial answers."""

import numpy as np
import pytest

from attention_atlas.attention import (
    additive_attention,
    dot_scores,
    scaled_dot_product_attention,
    softmax,
)

DEC_HIDDEN = [5, 1, 20]
ANNOTATIONS = [[3, 12, 45], [59, 2, 5], [1, 43, 5], [4, 3, 45.3]]  # one per row

WOLFRAM_INPUT = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
WOLFRAM_QUERY = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])


def test_single_annotation_scores_927():
    assert float(dot_scores(DEC_HIDDEN, ANNOTATIONS[0])) == 927.0


def test_all_annotations_scores():
    np.testing.assert_allclose(dot_scores(DEC_HIDDEN, ANNOTATIONS), [927, 397, 148, 929])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_seed_scores_never_overflows(dtype):
    scores = np.array([927, 397, 148, 929], dtype=dtype)
    with np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):  # an overflow or invalid value would raise here
        weights = softmax(scores)
    assert weights.dtype == dtype
    np.testing.assert_allclose(weights, [0.1192, 0.0, 0.0, 0.8808], atol=5e-5)
    assert weights[1] < 1e-30 and weights[2] == 0.0


def test_context_vector():
    out, weights = scaled_dot_product_attention(DEC_HIDDEN, ANNOTATIONS, ANNOTATIONS, scale=1)
    np.testing.assert_allclose(weights, [0.1192, 0.0, 0.0, 0.8808], atol=5e-5)
    np.testing.assert_allclose(out, [3.8808, 4.0728, 45.2642], atol=5e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wolfram_sequence_attention_shapes_and_sums(seed):
    rng = np.random.default_rng(seed)
    hidden = 5
    w_q = rng.normal(size=(2, hidden))
    w_k = rng.normal(size=(2, hidden))
    v = rng.normal(size=hidden)
    out, weights = additive_attention(WOLFRAM_QUERY, WOLFRAM_INPUT, w_q, w_k, v)
    assert out.shape == (4, 2)  # one row per query, width of the inputs
    assert weights.shape == (4, 3)  # query x input
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    assert (weights >= 0).all()
    # A weighted sum of the input rows, so the pattern of Wolfram's outputs holds:
    # every input row has second entry = first + 1, hence so does every output row.
    np.testing.assert_allclose(out, weights @ WOLFRAM_INPUT, atol=1e-12)
    np.testing.assert_allclose(out[:, 1] - out[:, 0], 1.0, atol=1e-12)
    assert ((out[:, 0] >= 1.0) & (out[:, 0] <= 5.0)).all()


def test_wolfram_published_weights_give_published_output():
    # Wolfram's answer: weights {0.0685481, 0.220724, 0.710728} -> {4.28436, 5.28436}.
    published = np.array([0.0685481, 0.220724, 0.710728])
    scores = np.log(published)[None, :]
    # Any scoring whose scores are these logs reproduces the output row; use a mask-free
    # identity: softmax(log w) = w for weights that sum to 1.
    np.testing.assert_allclose(softmax(scores)[0], published, rtol=1e-5)
    np.testing.assert_allclose(softmax(scores) @ WOLFRAM_INPUT, [[4.28436, 5.28436]], atol=1e-4)
