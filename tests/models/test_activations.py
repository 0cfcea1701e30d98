"""erf and GELU against the standard library's math.erf."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from attention_atlas.models.activations import erf, gelu


def test_erf_matches_math_erf_everywhere() -> None:
    x = np.concatenate(
        [
            np.linspace(-7.0, 7.0, 200_001),
            np.geomspace(1e-300, 30.0, 2_001),
            [0.46875, 4.0, 26.0, 1e10],
        ]
    )
    x = np.concatenate([x, -x])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=2e-15, atol=1e-15)


@pytest.mark.parametrize(
    ("x", "expected"),
    [(0.0, 0.0), (np.inf, 1.0), (-np.inf, -1.0)],
)
def test_erf_special_values(x: float, expected: float) -> None:
    assert erf(x) == expected


def test_erf_keeps_shape_sign_of_zero_and_nan() -> None:
    assert erf(0.5).shape == ()
    assert erf(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    assert math.copysign(1.0, float(erf(-0.0))) == -1.0
    assert np.isnan(erf(np.nan))


def test_erf_spans_blocks() -> None:
    x = np.linspace(-5, 5, 100_002).reshape(6, -1)  # several internal blocks, ragged end
    np.testing.assert_allclose(erf(x).ravel(), [math.erf(v) for v in x.ravel()], atol=1e-15)


def exact_gelu(x: np.ndarray) -> np.ndarray:
    """x * (1 + erf(x / sqrt 2)) / 2 in float64, via erfc so negative x keep their precision."""
    return np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in np.ravel(x)]).reshape(x.shape)


def test_erf_float32_is_computed_in_float32() -> None:
    x = np.linspace(-8, 8, 40_001, dtype=np.float32)
    out = erf(x)
    assert out.dtype == np.float32
    expected = [math.erf(v) for v in x.astype(np.float64)]
    np.testing.assert_allclose(out, expected, rtol=0, atol=3e-7)
    assert erf(np.arange(3)).dtype == np.float64


def test_gelu_float64_is_exact() -> None:
    x = np.concatenate([np.linspace(-40, 40, 80_001), [0.0, 1e-30, -1e-30]])
    expected = exact_gelu(x)
    out = gelu(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-300)


def test_gelu_float32_is_close_to_exact() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(50_000) * 4, np.linspace(-12, 12, 2_000)])
    x = x.astype(np.float32).reshape(-1, 8)
    out = gelu(x)
    assert out.dtype == np.float32
    assert out.shape == x.shape
    expected = exact_gelu(x.astype(np.float64))
    # A&S 7.1.26 erfc: within 3.5e-7 everywhere (PyTorch's float32 GELU: 1.2e-6) ...
    np.testing.assert_allclose(out, expected, rtol=0, atol=3.5e-7)
    # ... and no cancellation for negative x: the relative error is A&S's, small
    # where the values matter and growing only as they vanish.
    for low, high, rtol in ((-2, 0, 1e-5), (-4, -2, 6e-4), (-6, -4, 4e-3)):
        part = (x >= low) & (x < high) & (x != 0)
        np.testing.assert_allclose(out[part], expected[part], rtol=rtol, err_msg=f"[{low}, {high})")


def test_gelu_float32_limits_without_warnings() -> None:
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 1e30, -1e30, 3e38], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gelu(x)
    np.testing.assert_array_equal(out, np.array([np.inf, 0, np.nan, 0, 1e30, 0, 3e38], np.float32))


@pytest.mark.parametrize("size", [1, 32_767, 32_768, 100_003])
def test_gelu_float32_in_place_across_blocks(size: int) -> None:
    x = np.linspace(-9, 9, size, dtype=np.float32)
    x[size // 2] = -np.inf  # an infinity in one block only
    expected = gelu(x.copy())
    same = x
    assert gelu(x, out=x) is same
    np.testing.assert_array_equal(x, expected)
    assert x[size // 2] == 0.0


def test_gelu_without_the_finite_check_gives_the_same_numbers_for_finite_input() -> None:
    x = np.linspace(-12, 12, 70_001, dtype=np.float32)
    np.testing.assert_array_equal(gelu(x, check_finite=False), gelu(x))
    # Unchecked, an infinity is not taken to its limit: that is what the check is for.
    inf = np.array([np.inf, -np.inf, 1.0], dtype=np.float32)
    assert np.isnan(gelu(inf, check_finite=False)[:2]).all() and gelu(inf)[1] == 0.0
