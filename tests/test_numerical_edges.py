"""Numerical edges of the core: huge and infinite logits, every float width, empty and
length-1 sequences. Each gives a defined result or a clear ``AtlasError``.

Complements ``tests/attention/test_softmax.py`` and ``test_core.py`` (which cover float32
logits of 1e30, NaN and +inf, and float32 overflow of q k^T): here float64 and float16,
the extremes of each float type, zero-size axes and overflow towards -inf.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from attention_atlas.attention import scaled_dot_product_attention, softmax
from attention_atlas.errors import AtlasError

FLOATS = [np.float16, np.float32, np.float64]


def assert_weights(weights: np.ndarray, expected: list[list[float]]) -> None:
    """Equal up to the dtype's rounding; zeros must be exactly zero."""
    rtol = float(np.finfo(weights.dtype).eps) * 4
    np.testing.assert_allclose(weights.astype(np.float64), expected, rtol=rtol, atol=0)


@pytest.fixture(autouse=True)
def strict_floats() -> Iterator[None]:
    """NumPy's RuntimeWarnings (overflow, invalid value) are errors; underflow to 0 is fine.

    A defined result must come without a warning: callers running NumPy with
    ``seterr(all="raise")`` or ``-W error`` would otherwise crash.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(under="ignore"):
            yield


@contextlib.contextmanager
def overflow_allowed() -> Iterator[None]:
    """Let q k^T overflow quietly: these tests are about what the core does next."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(over="ignore"):
            yield


# --------------------------------------------------------------------------- softmax


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 3), (2, 0, 4), (0, 0)])
def test_softmax_of_empty_axes_is_empty_of_the_same_shape_and_dtype(
    dtype: type, shape: tuple[int, ...]
) -> None:
    weights = softmax(np.zeros(shape, dtype=dtype))
    assert weights.shape == shape and weights.dtype == dtype
    masked = softmax(np.zeros(shape, dtype=dtype), mask=np.ones(shape, dtype=bool))
    assert masked.shape == shape


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("score", "weight"), [(0.0, 1.0), (-7.5, 1.0), (-np.inf, 0.0)])
def test_softmax_of_one_score_is_one_or_zero_when_masked(
    dtype: type, score: float, weight: float
) -> None:
    assert softmax(np.array([score], dtype=dtype)).tolist() == [weight]
    assert softmax(np.array([[score]], dtype=dtype), mask=np.array([[False]])).tolist() == [[0.0]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_of_plus_minus_1e30_give_exact_zeros_and_ones(dtype: type) -> None:
    scores = np.array(
        [
            [1e30, -1e30, 0.0, -np.inf],
            [1e30, 1e30, -1e30, 0.0],  # a tie at the top splits the weight
            [-1e30, -1e30, -np.inf, -1e30],  # all hugely negative: still a distribution
            [-np.inf, -np.inf, -np.inf, -np.inf],  # nothing to attend
        ],
        dtype=dtype,
    )
    weights = softmax(scores)
    assert weights.dtype == dtype
    assert_weights(
        weights, [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 0, 1 / 3], [0, 0, 0, 0]]
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_the_largest_finite_logits_of_each_float_type(dtype: type) -> None:
    """finfo.max next to -finfo.max: the shifted scores overflow to -inf, whose exp is 0."""
    big = np.finfo(dtype).max
    weights = softmax(np.array([[big, -big, 0.0], [-big, -big, -big]], dtype=dtype))
    assert_weights(weights, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])


def test_float16_logits_are_computed_in_float32() -> None:
    # 11.1 - (-11.1) = 22.2 and exp(-22.2) = 2.3e-10: below float16's smallest
    # subnormal, but the row still sums to 1 and keeps its order.
    scores = np.array([11.1, -11.1, 0.0, 1.0], dtype=np.float16)
    weights = softmax(scores)
    assert weights.dtype == np.float16
    np.testing.assert_allclose(weights.astype(np.float64).sum(), 1.0, atol=1e-3)
    assert list(np.argsort(weights.astype(np.float64))) == [1, 2, 3, 0]


@pytest.mark.parametrize("dtype", FLOATS)
def test_plus_inf_and_nan_raise_in_every_float_type(dtype: type) -> None:
    for bad in (np.inf, np.nan):
        with pytest.raises(AtlasError, match="scores"):
            softmax(np.array([0.0, bad], dtype=dtype))


def test_minus_inf_along_another_axis_masks_that_entry() -> None:
    weights = softmax(np.array([[-np.inf, 0.0], [-np.inf, np.log(3.0)]]), axis=0)
    np.testing.assert_allclose(weights, [[0.0, 0.25], [0.0, 0.75]])


def test_huge_integer_logits_compute_in_float64() -> None:
    weights = softmax(np.array([10**18, 0, -(10**18)], dtype=np.int64))
    assert weights.dtype == np.float64
    np.testing.assert_array_equal(weights, [1.0, 0.0, 0.0])


# --------------------------------------------------------------------------- attention


@pytest.mark.parametrize("dtype", FLOATS)
def test_no_queries_give_empty_outputs(dtype: type) -> None:
    q, k, v = np.zeros((0, 4), dtype), np.ones((3, 4), dtype), np.ones((3, 2), dtype)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.shape == (0, 2) and weights.shape == (0, 3)
    assert out.dtype == dtype and weights.dtype == dtype
    out, weights = scaled_dot_product_attention(np.zeros((2, 0, 4), dtype), k, v)
    assert out.shape == (2, 0, 2) and weights.shape == (2, 0, 3)


@pytest.mark.parametrize("dtype", FLOATS)
def test_no_keys_means_nothing_to_attend_zero_weights_and_zero_output(dtype: type) -> None:
    q, k, v = np.ones((2, 4), dtype), np.zeros((0, 4), dtype), np.zeros((0, 3), dtype)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert weights.shape == (2, 0) and weights.dtype == dtype
    np.testing.assert_array_equal(out, np.zeros((2, 3)))
    out, weights = scaled_dot_product_attention(np.ones(4, dtype), k, v)  # one query vector
    assert weights.shape == (0,)
    np.testing.assert_array_equal(out, np.zeros(3))


@pytest.mark.parametrize("dtype", FLOATS)
def test_one_key_gets_all_the_weight_whatever_its_score(dtype: type) -> None:
    v = np.array([[3.0, -2.0]], dtype)
    for scale in (1.0, 1e30):
        out, weights = scaled_dot_product_attention(
            np.full((2, 4), 8.0, dtype), np.full((1, 4), -8.0, dtype), v, scale=scale
        )
        np.testing.assert_array_equal(weights, [[1.0], [1.0]])
        np.testing.assert_array_equal(out, np.repeat(v, 2, axis=0))
        assert out.dtype == dtype


@pytest.mark.parametrize("dtype", FLOATS)
def test_zero_width_features_give_uniform_weights(dtype: type) -> None:
    v = np.arange(6.0).reshape(3, 2).astype(dtype)
    out, weights = scaled_dot_product_attention(np.ones((2, 0), dtype), np.ones((3, 0), dtype), v)
    np.testing.assert_allclose(weights.astype(np.float64), 1 / 3, rtol=1e-3)
    np.testing.assert_allclose(out.astype(np.float64), [[2.0, 3.0]] * 2, rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_scale_of_1e30_makes_the_top_key_win_outright(dtype: type) -> None:
    keys = np.array([[1.0, 0.0], [0.5, 0.0], [-1.0, 0.0]], dtype)
    out, weights = scaled_dot_product_attention(
        np.array([[1.0, 0.0]], dtype), keys, keys, scale=1e30
    )
    np.testing.assert_array_equal(weights, [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(out, [[1.0, 0.0]])


def test_float16_inputs_whose_scores_exceed_float16_are_fine() -> None:
    # q . k = 4 * 300^2 = 360000 > 65504 (float16's largest): computed in float32.
    q = np.full((1, 4), 300.0, np.float16)
    k = np.array([[300.0] * 4, [299.0] * 4], np.float16)
    _, weights = scaled_dot_product_attention(q, k, np.eye(2, dtype=np.float16), scale=1.0)
    assert weights.dtype == np.float16 and np.isfinite(weights).all()
    np.testing.assert_array_equal(weights, [[1.0, 0.0]])


@pytest.mark.parametrize("name", ["q", "k", "v"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_minus_inf_in_an_input_is_an_error_naming_it(name: str, dtype: type) -> None:
    args = {"q": np.ones((2, 3), dtype), "k": np.ones((4, 3), dtype), "v": np.ones((4, 2), dtype)}
    args[name][1, 0] = -np.inf
    with pytest.raises(AtlasError, match=rf"^{name} must be finite but holds -inf"):
        scaled_dot_product_attention(**args)


@pytest.mark.parametrize(
    ("dtype", "size"), [(np.float32, 1e20), (np.float64, 1e200)], ids=["float32", "float64"]
)
def test_scores_overflowing_to_plus_inf_are_an_error(dtype: type, size: float) -> None:
    q = np.array([[size]], dtype)
    k = np.array([[size], [-size]], dtype)
    with overflow_allowed(), pytest.raises(AtlasError, match="scores"):
        scaled_dot_product_attention(q, k, np.ones((2, 1), dtype), scale=1.0)


@pytest.mark.parametrize(
    ("dtype", "size"), [(np.float32, 1e20), (np.float64, 1e200)], ids=["float32", "float64"]
)
def test_scores_overflowing_to_minus_inf_are_not_taken_for_a_mask(dtype: type, size: float) -> None:
    """Both scores overflow to -inf, yet the query may attend to both keys.

    The inputs are finite and nothing is masked, so a row of zero weights (the answer
    for "nothing to attend") would be silently wrong. The true weights are [1, 0]
    (key 0's score is the larger); an ``AtlasError`` saying the scores overflow is
    also acceptable.
    """
    q = np.array([[size]], dtype)
    k = np.array([[-size], [-2 * size]], dtype)
    v = np.array([[1.0], [2.0]], dtype)
    try:
        with overflow_allowed():
            out, weights = scaled_dot_product_attention(q, k, v, scale=1.0)
    except AtlasError as exc:
        assert "scores" in str(exc)
        return
    np.testing.assert_array_equal(weights, [[1.0, 0.0]])
    np.testing.assert_array_equal(out, [[1.0]])
