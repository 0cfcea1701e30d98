"""The package's one LayerNorm, against its formula, along either axis, in place."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attention_atlas.models import layer_norm

rng = np.random.default_rng(5)


def reference(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    x = x.astype(np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + b


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float64, st.tuples(st.integers(1, 4), st.integers(2, 12)), elements=st.floats(-1e3, 1e3)
    ),
    st.sampled_from([1e-12, 1e-5, 1.0]),
)
def test_float64_rows_match_the_formula(x: np.ndarray, eps: float) -> None:
    d = x.shape[-1]
    g, b = rng.normal(size=d), rng.normal(size=d)
    np.testing.assert_allclose(layer_norm(x, g, b, eps), reference(x, g, b, eps), atol=1e-6)


def test_float32_stays_float32_within_its_rounding() -> None:
    x = rng.normal(size=(16, 384)).astype(np.float32) * 3 + 1
    g, b = rng.normal(size=384).astype(np.float32), rng.normal(size=384).astype(np.float32)
    got = layer_norm(x, g, b, 1e-12)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference(x, g, b, 1e-12), atol=2e-5)


def test_features_first_is_the_transpose_and_can_run_in_place() -> None:
    x = rng.normal(size=(7, 10)).astype(np.float32)  # (N, D)
    g, b = rng.normal(size=10).astype(np.float32), rng.normal(size=10).astype(np.float32)
    rows = layer_norm(x, g, b, 1e-5)
    x_t = np.ascontiguousarray(x.T)  # (D, N), the model's residual stream
    result = layer_norm(x_t, g, b, 1e-5, axis=0, out=x_t)
    assert result is x_t
    np.testing.assert_allclose(x_t.T, rows, rtol=1e-6, atol=1e-6)


def test_without_gain_and_eps_it_standardises_each_row() -> None:
    x = rng.normal(size=(5, 6)) * 4 - 2
    y = layer_norm(x, eps=0.0)
    np.testing.assert_allclose(y, (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True))
    np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1.0)


def test_integers_compute_in_float64() -> None:
    assert layer_norm(np.array([[1, 2, 3]]), eps=0.0).dtype == np.float64


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gain_and_shift_run_along_the_feature_axis(axis: int) -> None:
    x = rng.normal(size=(4, 4))
    g = np.arange(1.0, 5.0)
    plain = layer_norm(x, eps=1e-5, axis=axis)
    shape = [1, 1]
    shape[axis] = 4
    np.testing.assert_allclose(
        layer_norm(x, g, g, 1e-5, axis=axis), plain * g.reshape(shape) + g.reshape(shape)
    )
