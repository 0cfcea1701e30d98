import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_atlas.attention import softmax
from attention_atlas.errors import AtlasError, ShapeError

SETTINGS = settings(max_examples=40, deadline=None, database=None)

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)
score_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
    elements=finite,
)


@SETTINGS
@given(score_arrays, st.data())
def test_rows_sum_to_one_and_masked_weights_are_zero(scores, data):
    mask = data.draw(hnp.arrays(np.bool_, scores.shape))
    weights = softmax(scores, mask=mask)
    assert weights.dtype == scores.dtype
    assert (weights >= 0).all() and np.isfinite(weights).all()
    assert (weights[~mask] == 0).all()
    sums = weights.sum(axis=-1)
    any_allowed = mask.any(axis=-1)
    np.testing.assert_allclose(sums[any_allowed], 1.0, rtol=1e-5)
    assert (sums[~any_allowed] == 0).all()


@SETTINGS
@given(score_arrays, st.floats(-1e3, 1e3))
def test_invariant_to_a_constant_shift(scores, shift):
    scores = scores.astype(np.float64)
    np.testing.assert_allclose(softmax(scores + shift), softmax(scores), atol=1e-9)


def test_huge_logits_do_not_overflow_in_float32():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        weights = softmax(np.array([[927.0, 148.0], [1e30, -1e30]], dtype=np.float32))
    np.testing.assert_array_equal(weights, [[1.0, 0.0], [1.0, 0.0]])


def test_row_with_nothing_to_attend_is_zeros():
    scores = np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        weights = softmax(scores)
    np.testing.assert_array_equal(weights, [[0, 0, 0], [0.5, 0, 0.5]])
    masked = softmax(np.ones((2, 3)), mask=np.array([[False] * 3, [True] * 3]))
    np.testing.assert_array_equal(masked[0], 0.0)
    np.testing.assert_allclose(masked[1], 1 / 3)


def test_mask_broadcasts_over_rows():
    weights = softmax(np.zeros((4, 3)), mask=np.array([True, False, True]))
    np.testing.assert_array_equal(weights, np.tile([0.5, 0.0, 0.5], (4, 1)))


def test_other_axis():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(softmax(x, axis=0), softmax(x.T).T)


def test_input_is_not_modified():
    x = np.array([1.0, 2.0, 3.0])
    softmax(x, mask=np.array([True, False, True]))
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_dtypes():
    assert softmax(np.zeros(3, np.float16)).dtype == np.float16
    assert softmax([1, 2, 3]).dtype == np.float64
    np.testing.assert_allclose(softmax(np.array([0, 10], np.float16)), [4.54e-5, 1.0], rtol=1e-2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_plus_inf_raise(bad):
    with pytest.raises(AtlasError, match="scores"):
        softmax(np.array([[1.0, bad], [0.0, 0.0]]))


def test_nan_under_the_mask_still_raises():
    with pytest.raises(AtlasError, match=r"scores.*NaN"):
        softmax(np.array([1.0, np.nan]), mask=np.array([True, False]))


def test_bad_masks():
    with pytest.raises(AtlasError, match="mask must be boolean"):
        softmax(np.zeros((2, 3)), mask=np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"mask must broadcast to .*\(2, 3\), got \(3, 3\)"):
        softmax(np.zeros((2, 3)), mask=np.ones((3, 3), bool))
    with pytest.raises(ShapeError, match="axis 2 is out of range"):
        softmax(np.zeros((2, 3)), axis=2)


def test_non_numeric_scores():
    with pytest.raises(AtlasError, match="scores must hold real numbers"):
        softmax(np.array(["a", "b"]))
