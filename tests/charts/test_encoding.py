"""The compact matrix encoding: both modes decode to what was encoded, within their bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attention_atlas.charts.encoding import encode_matrix
from attention_atlas.errors import AtlasError

FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
MATRICES = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=FINITE)


def test_exact_mode_decodes_the_quoted_matrix() -> None:
    enc = encode_matrix(np.array([[0.1234, 0.5], [0.25, 0.75]]))
    assert not enc.quantized
    np.testing.assert_array_equal(enc.decode(), [[0.1234, 0.5], [0.25, 0.75]])


@given(MATRICES, st.integers(0, 6))
def test_exact_mode_round_trips_to_the_kept_decimals(values: np.ndarray, decimals: int) -> None:
    decoded = encode_matrix(values, decimals=decimals).decode()
    assert decoded.shape == values.shape
    # Fixed point: each value is rounded to ``decimals`` places, no further.
    np.testing.assert_allclose(decoded, np.round(values, decimals), rtol=0, atol=1e-9)
    assert np.abs(decoded - values).max() <= 0.5 * 10.0**-decimals + 1e-9


@given(MATRICES, st.integers(2, 256))
def test_quantised_mode_is_within_half_a_step(values: np.ndarray, levels: int) -> None:
    enc = encode_matrix(values, quantize=True, levels=levels)
    lo, hi = enc.domain
    decoded = enc.decode()
    assert decoded.shape == values.shape
    # Values inside the domain are off by at most half a level (plus rounding).
    assert np.abs(decoded - np.clip(values, lo, hi)).max() <= enc.step / 2 + 1e-9 * (hi - lo)


@pytest.mark.parametrize("tiny", [5e-324, -5e-324, 2.5e-323, 1e-310])
def test_subnormal_values_get_a_domain_whose_levels_are_distinct(tiny: float) -> None:
    enc = encode_matrix(np.array([[0.0, tiny]]), quantize=True)
    assert enc.step > 0 and enc.domain[1] - enc.domain[0] >= 1e-300
    np.testing.assert_allclose(enc.decode(), [[0.0, tiny]], atol=enc.step / 2)


def test_a_subnormal_domain_is_refused_by_name() -> None:
    with pytest.raises(AtlasError, match="domain must be"):
        encode_matrix(np.array([[0.0]]), quantize=True, domain=(0.0, 1e-320))


@pytest.mark.parametrize("quantize", [False, True])
def test_missing_cells_decode_as_nan_in_both_modes(quantize: bool) -> None:
    values = np.array([[0.5, -np.inf], [np.nan, 0.25]])
    decoded = encode_matrix(values, quantize=quantize, domain=(0.0, 1.0)).decode()
    assert np.isnan(decoded[0, 1]) and np.isnan(decoded[1, 0])
    finite = decoded[[0, 1], [0, 1]]
    np.testing.assert_allclose(finite, [0.5, 0.25], atol=1 / 255 / 2 + 1e-12)


def test_exact_and_quantised_codes_differ_in_kind() -> None:
    values = np.array([[0.0, 1.0]])
    assert encode_matrix(values).codes == "0,10000"
    assert encode_matrix(values, quantize=True, domain=(0.0, 1.0)).codes == "00ff"
