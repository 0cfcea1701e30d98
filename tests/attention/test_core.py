import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_atlas.attention import (
    SelfAttention,
    scaled_dot_product_attention,
    self_attention,
    softmax,
)
from attention_atlas.errors import AtlasError, ShapeError

from ._reference import loop_attention

SETTINGS = settings(max_examples=30, deadline=None, database=None)
rng = np.random.default_rng(3)


@pytest.mark.parametrize("use_mask", [False, True])
def test_matches_the_triple_loop_reference(use_mask):
    q, k, v = rng.normal(size=(5, 4)), rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    mask = rng.random((5, 7)) > 0.4 if use_mask else None
    if use_mask:
        mask[2] = False  # a row with nothing to attend
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    ref_out, ref_weights = loop_attention(q, k, v, 0.5, mask)
    np.testing.assert_allclose(weights, ref_weights, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)


def test_batched_equals_one_at_a_time():
    q, k, v = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(3, 6, 4)), rng.normal(size=(3, 6, 2))
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 5, 2) and weights.shape == (2, 3, 5, 6)
    for b in range(2):
        for h in range(3):
            o, w = scaled_dot_product_attention(q[b, h], k[h], v[h])
            np.testing.assert_allclose(out[b, h], o, atol=1e-12)
            np.testing.assert_allclose(weights[b, h], w, atol=1e-12)


shapes = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4))


@SETTINGS
@given(shapes, st.integers(0, 2**32 - 1), st.sampled_from([np.float32, np.float64]))
def test_weight_properties(sizes, seed, dtype):
    n, m, d = sizes
    g = np.random.default_rng(seed)
    q, k, v = (g.normal(size=s).astype(dtype) for s in ((n, d), (m, d), (m, 2)))
    mask = g.random((n, m)) > 0.3
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert out.dtype == dtype and weights.dtype == dtype
    assert (weights >= 0).all()
    assert (weights[~mask] == 0).all()
    sums = weights.sum(-1)
    np.testing.assert_allclose(sums[mask.any(-1)], 1.0, rtol=1e-5)
    assert (sums[~mask.any(-1)] == 0).all()
    assert (out[~mask.any(-1)] == 0).all()


@SETTINGS
@given(st.integers(1, 7), st.integers(0, 2**32 - 1), st.booleans())
def test_self_attention_is_permutation_equivariant(n, seed, causal_like):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 4))
    w_q, w_k, w_v = (g.normal(size=(4, 3)) for _ in range(3))
    mask = g.random((n, n)) > 0.5 if causal_like else None
    perm = g.permutation(n)
    base = self_attention(x, w_q, w_k, w_v, mask=mask)
    pmask = None if mask is None else mask[np.ix_(perm, perm)]
    moved = self_attention(x[perm], w_q, w_k, w_v, mask=pmask)
    np.testing.assert_allclose(moved.out, base.out[perm], atol=1e-10)
    np.testing.assert_allclose(moved.weights, base.weights[np.ix_(perm, perm)], atol=1e-10)


def test_self_attention_intermediates_are_consistent():
    x = rng.normal(size=(2, 5, 6))
    w_q, w_k, w_v = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    causal = np.tril(np.ones((5, 5), bool))
    rec = self_attention(x, w_q, w_k, w_v, mask=causal)
    assert isinstance(rec, SelfAttention)
    np.testing.assert_allclose(rec.q, x @ w_q)
    np.testing.assert_allclose(rec.scores, rec.q @ np.swapaxes(rec.k, -1, -2) / 2.0)
    np.testing.assert_allclose(rec.weights, softmax(rec.scores, mask=causal))
    np.testing.assert_allclose(rec.out, rec.weights @ rec.v)
    assert (rec.weights[..., ~causal] == 0).all()
    out, _ = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, mask=causal)
    np.testing.assert_allclose(rec.out, out)
    with pytest.raises(AttributeError):
        rec.out = None  # type: ignore[misc]


def test_float16_is_computed_in_float32_and_returned_as_float16():
    q = rng.normal(size=(3, 4))
    out16, w16 = scaled_dot_product_attention(*(q.astype(np.float16),) * 3)
    assert out16.dtype == np.float16 and w16.dtype == np.float16
    _out64, w64 = scaled_dot_product_attention(q, q, q)
    np.testing.assert_allclose(w16, w64, atol=2e-3)


def test_integers_compute_in_float64():
    out, weights = scaled_dot_product_attention([[1, 0]], [[1, 0], [0, 1]], [[1, 2], [3, 4]])
    assert out.dtype == np.float64 and weights.dtype == np.float64


def test_score_overflow_is_reported_not_nan():
    big = np.full((2, 4), 1e20, dtype=np.float32)
    with np.errstate(over="ignore"), pytest.raises(AtlasError, match="scores"):
        scaled_dot_product_attention(big, big, big)


def test_shape_errors_say_what_was_expected():
    with pytest.raises(
        ShapeError, match=r"k has 3 positions \(M\) but v has 4 \(k \(3, 2\), v \(4, 2\)\)"
    ):
        scaled_dot_product_attention(np.ones((1, 2)), np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ShapeError, match=r"q has 5 features \(d_k\) but k has 2"):
        scaled_dot_product_attention(np.ones((1, 5)), np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ShapeError, match=r"v must have shape \(\.\.\., M, d_v\)"):
        scaled_dot_product_attention(np.ones((1, 2)), np.ones((3, 2)), np.ones(3))
    with pytest.raises(ShapeError, match=r"mask must broadcast to \(\.\.\., N, M\) = \(1, 3\)"):
        scaled_dot_product_attention(
            np.ones((1, 2)), np.ones((3, 2)), np.ones((3, 2)), mask=np.ones((2, 2), bool)
        )
    with pytest.raises(ShapeError, match="w_v must have shape"):
        self_attention(np.ones((3, 4)), np.ones((4, 2)), np.ones((4, 2)), np.ones((5, 2)))


@pytest.mark.parametrize("name", ["q", "k", "v"])
def test_nan_is_reported_with_the_argument_name(name):
    args = {"q": np.ones((2, 3)), "k": np.ones((4, 3)), "v": np.ones((4, 2))}
    args[name] = args[name].copy()
    args[name][1, 1] = np.nan
    with pytest.raises(
        AtlasError, match=rf"^{name} must be finite but holds nan at index \(1, 1\)"
    ):
        scaled_dot_product_attention(**args)


def test_one_query_vector():
    k, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    out, weights = scaled_dot_product_attention(
        k[0], k, v, mask=np.array([True, True, False, True])
    )
    assert out.shape == (2,) and weights.shape == (4,)
    assert weights[2] == 0
    np.testing.assert_allclose(out, weights @ v)


@SETTINGS
@given(hnp.arrays(np.float64, (3, 4), elements=st.floats(-5, 5)))
def test_scale_is_folded_correctly(q):
    k = np.arange(8.0).reshape(2, 4) / 8
    for scale in (None, 1.0, 0.1):
        _, weights = scaled_dot_product_attention(q, k, k, scale=scale)
        s = 0.5 if scale is None else scale
        np.testing.assert_allclose(weights, softmax(s * q @ k.T), atol=1e-12)


@pytest.mark.parametrize("factor", [1.0, 40.0, 1e4])
def test_fast_and_careful_paths_agree_with_the_reference(factor):
    q = factor * rng.normal(size=(4, 3))
    k = rng.normal(size=(6, 3))
    v = rng.normal(size=(6, 2))
    for dtype, atol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        out, weights = scaled_dot_product_attention(
            q.astype(dtype), k.astype(dtype), v.astype(dtype)
        )
        ref_out, ref_weights = loop_attention(
            q.astype(dtype), k.astype(dtype), v.astype(dtype), 1 / np.sqrt(3)
        )
        np.testing.assert_allclose(weights, ref_weights, atol=atol)
        np.testing.assert_allclose(out, ref_out, atol=atol * 10)


def test_attention_weights_is_the_weights_of_full_attention():
    from attention_atlas.attention import attention_weights

    q, k = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 7, 4))
    mask = rng.random((5, 7)) > 0.3
    _, weights = scaled_dot_product_attention(q, k, k, mask=mask)
    np.testing.assert_array_equal(attention_weights(q, k, mask=mask), weights)
    assert attention_weights(q[0, 0], k[0]).shape == (7,)


@pytest.mark.parametrize(
    "mask_shape", [None, (5, 7), (7,), (3, 1, 7), (2, 1, 5, 7), (1, 3, 5, 7), (3, 5, 1)]
)
def test_item_by_item_path_equals_the_vectorized_one(monkeypatch, mask_shape):
    from attention_atlas.attention import core

    q = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    k = rng.normal(size=(3, 7, 4)).astype(np.float32)
    v = rng.normal(size=(1, 3, 7, 2)).astype(np.float32)
    mask = None if mask_shape is None else rng.random(mask_shape) > 0.3
    whole_out, whole_weights = scaled_dot_product_attention(q, k, v, mask=mask)
    monkeypatch.setattr(core, "_ITEM_BYTES", 0)  # every map counts as large
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(weights, whole_weights, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out, whole_out, rtol=1e-5, atol=1e-6)
    assert weights.shape == (2, 3, 5, 7) and out.shape == (2, 3, 5, 2)


def test_huge_but_finite_inputs_are_accepted():
    big = np.full((2, 3), 1e38, dtype=np.float32)  # their sum overflows, each is finite
    out, weights = scaled_dot_product_attention(np.zeros_like(big), big, big, scale=1.0)
    np.testing.assert_allclose(weights, 0.5)
    np.testing.assert_allclose(out, 1e38, rtol=1e-6)
    with pytest.raises(
        AtlasError, match=r"k must be finite but holds inf at index \(0, 0\) \(6 bad"
    ):
        scaled_dot_product_attention(np.ones((1, 3)), np.array([[np.inf] * 3, [-np.inf] * 3]), big)
