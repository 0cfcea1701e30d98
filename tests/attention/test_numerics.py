"""No silent zeros: large and tiny magnitudes, empty key sets, and no RuntimeWarning.

Kernelized and linear attention are compared with their own formula computed in
the log domain in float64 (no overflow, no underflow for any magnitude here): they
either agree with it or raise an AtlasError (a ValueError) naming q and k.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from attention_atlas.attention import (
    additive_attention,
    attention_weights,
    block_detail,
    clustered_attention,
    dot_scores,
    general_scores,
    linear_attention,
    linformer_attention,
    multi_head_attention,
    performer_attention,
    pooled_attention,
    pooled_views,
    random_features,
    row_logsumexp,
    scaled_dot_product_attention,
    self_attention,
    softmax,
)
from attention_atlas.errors import AtlasError, ShapeError

SETTINGS = settings(max_examples=60, deadline=None)
EXPONENTS = st.floats(-30, 30)  # magnitudes 1e-30 .. 1e30


@pytest.fixture(autouse=True)
def no_runtime_warnings() -> Iterator[None]:
    """Any NumPy RuntimeWarning (overflow, invalid value, divide by zero) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def _from_log_features(lq: np.ndarray, lk: np.ndarray, v: np.ndarray) -> tuple[Any, Any, float]:
    """``phi(q) . phi(k)`` as logsumexp over features, rows normalised: (out, weights, size).

    ``size`` is the largest feature logarithm: rounding it (by float64's eps, in
    the formula and in the code alike) moves a weight by that much relative.
    """
    size = float(max(np.abs(lq).max(), np.abs(lk).max()))
    # Shifts by a query's own maximum and by one key maximum cancel in each row.
    lq = lq - lq.max(axis=-1, keepdims=True)
    lk = lk - lk.max()
    logits = _logsumexp(lq[:, None, :] + lk[None, :, :], axis=-1)  # (N, M)
    weights = np.exp(logits - _logsumexp(logits, axis=-1)[:, None])
    return weights @ v, weights, size


def performer_formula(q, k, v, r, seed, scale):
    w = random_features(r, q.shape[-1], seed)

    def log_phi(x):
        xs = x.astype(np.float64) * np.sqrt(scale)
        return xs @ w.T - 0.5 * np.sum(xs * xs, axis=-1, keepdims=True)

    return _from_log_features(log_phi(q), log_phi(k), v.astype(np.float64))


def linear_formula(q, k, v):
    def log_phi(x):
        x = x.astype(np.float64)
        return np.where(x > 0, np.log1p(np.maximum(x, 0)), x)

    return _from_log_features(log_phi(q), log_phi(k), v.astype(np.float64))


def _problem(seed: int, e_q: float, e_k: float, dtype: type) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(4, 3)) * 10.0**e_q
    k = rng.normal(size=(5, 3)) * 10.0**e_k
    v = rng.normal(size=(5, 2))
    return tuple(a.astype(dtype) for a in (q, k, v))


def _agrees_or_refuses(run: Callable[[], tuple[Any, Any]], formula: tuple[Any, ...]) -> bool:
    """Finite and equal to the formula, or a clear error naming q and k; True if it agreed."""
    try:
        out, weights = run()
    except AtlasError as exc:
        assert "q and k are too large" in str(exc) or str(exc).startswith(("q is", "k is"))
        return False
    assert np.isfinite(out).all() and np.isfinite(weights).all()
    rounding = 64 * np.finfo(np.float64).eps * formula[2]  # of the feature logarithms
    tol = (1e-5 if out.dtype == np.float32 else 1e-9) + rounding
    np.testing.assert_allclose(weights, formula[1], rtol=tol, atol=tol)
    np.testing.assert_allclose(out, formula[0], rtol=tol, atol=tol * np.abs(formula[0]).max())
    return True


@SETTINGS
@given(st.integers(0, 2**16), EXPONENTS, EXPONENTS, st.sampled_from([np.float32, np.float64]))
def test_performer_is_its_formula_or_a_clear_error(seed, e_q, e_k, dtype) -> None:
    q, k, v = _problem(seed, e_q, e_k, dtype)
    formula = performer_formula(q, k, v, 16, seed, 1 / np.sqrt(3))
    agreed = _agrees_or_refuses(
        lambda: performer_attention(q, k, v, 16, seed=seed, return_weights=True), formula
    )
    if max(e_q, e_k) <= 0:  # moderate inputs are always computed
        assert agreed


@SETTINGS
@given(st.integers(0, 2**16), EXPONENTS, EXPONENTS, st.sampled_from([np.float32, np.float64]))
def test_linear_attention_is_its_formula_or_a_clear_error(seed, e_q, e_k, dtype) -> None:
    q, k, v = _problem(seed, e_q, e_k, dtype)
    formula = linear_formula(q, k, v)
    agreed = _agrees_or_refuses(lambda: linear_attention(q, k, v, return_weights=True), formula)
    if e_k <= 0:  # keys of moderate size keep every product representable
        assert agreed


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_linear_attention_of_queries_at_1e30_is_not_silently_zero(sign: float) -> None:
    rng = np.random.default_rng(1)
    q = np.full((3, 4), sign * 1e30) + rng.normal(size=(3, 4))
    k, v = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    out, weights = linear_attention(q, k, v, return_weights=True)
    ref_out, ref_weights, _ = linear_formula(q, k, v)
    assert np.abs(out).max() > 0.01
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-9)
    np.testing.assert_allclose(out, ref_out, rtol=1e-9, atol=1e-12)


def test_performer_with_inputs_times_1e3_refuses_instead_of_returning_zeros() -> None:
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(5, 4)), rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    exact, _ = scaled_dot_product_attention(q * 1e3, k * 1e3, v)
    assert np.abs(exact).max() > 0.1  # exact attention is well defined there
    with pytest.raises(AtlasError, match=r"q and k are too large in magnitude for performer"):
        performer_attention(q * 1e3, k * 1e3, v)
    assert isinstance(AtlasError("x"), ValueError)


def test_performer_survives_inputs_that_overflowed_float32_features() -> None:
    """Scaled by 8, float32 features used to underflow for some rows; float64 logs hold them."""
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(6, 4)).astype(np.float32) for _ in range(3))
    q, k = q * 8, k * 8
    out, weights = performer_attention(q, k, v, 32, seed=3, return_weights=True)
    ref_out, ref_weights, _ = performer_formula(q, k, v, 32, 3, 0.5)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-5)


def test_performer_refuses_a_negative_scale() -> None:
    x = np.ones((2, 3))
    with pytest.raises(AtlasError, match="scale must be >= 0"):
        performer_attention(x, x, x, scale=-1.0)


def test_row_logsumexp_of_no_keys_is_minus_inf() -> None:
    lse = row_logsumexp(np.ones((3, 4)), np.zeros((0, 4)))
    assert lse.shape == (3,) and np.isneginf(lse).all()


# --- M = 0: every mechanism attends to nothing, as a fully masked row does ----------------

Q = np.random.default_rng(3).normal(size=(3, 4))
K0, V0 = np.zeros((0, 4)), np.zeros((0, 2))
EYE = np.eye(4)

EMPTY_KEYS: dict[str, Callable[[], Any]] = {
    "scaled_dot_product_attention": lambda: scaled_dot_product_attention(Q, K0, V0),
    "attention_weights": lambda: (np.zeros((3, 2)), attention_weights(Q, K0)),
    "performer_attention": lambda: performer_attention(Q, K0, V0, 8, return_weights=True),
    "linear_attention": lambda: linear_attention(Q, K0, V0, return_weights=True),
    "clustered_attention": lambda: (
        (c := clustered_attention(Q, K0, V0, 2, return_weights=True)).out,
        c.weights,
    ),
    "additive_attention": lambda: additive_attention(
        Q, np.zeros((0, 2)), np.ones((4, 3)), np.ones((2, 3)), np.ones(3)
    ),
    "multi_head_attention": lambda: multi_head_attention(Q, K0, EYE, EYE, EYE[:, :2], EYE[:2], 2),
}


@pytest.mark.parametrize("name", sorted(EMPTY_KEYS))
def test_no_keys_give_zero_outputs_and_empty_weights(name: str) -> None:
    out, weights = EMPTY_KEYS[name]()
    assert out.shape[0] == 3 and not out.any()
    assert weights.shape[-2:] == (3, 0)


def test_no_keys_in_a_fully_masked_softmax_and_linformer() -> None:
    assert softmax(np.zeros((3, 0))).shape == (3, 0)
    out, weights = linformer_attention(Q, K0, V0, np.zeros((2, 0)), np.zeros((2, 0)))
    assert not out.any() and weights.shape == (3, 2)  # P projected keys, all zero vectors
    assert not self_attention(np.zeros((0, 4)), EYE, EYE, EYE).out.any()


@pytest.mark.parametrize(
    "run",
    [
        lambda: pooled_attention(Q, K0, 1, 1),
        lambda: pooled_views(Q, K0, 1, 1),
        lambda: block_detail(Q, K0, 1, 1, 0, 0),
    ],
)
def test_no_keys_have_no_blocks_to_pool_and_say_so(run: Callable[[], Any]) -> None:
    with pytest.raises(ShapeError, match="cols must be between 1 and 0"):
        run()


# --- hostile magnitudes through every mechanism: a result or an AtlasError, no warning ----


@SETTINGS
@given(EXPONENTS, st.sampled_from([np.float32, np.float64]))
@example(19.125, np.float32)  # a block's far-off scores minus its normaliser overflowed
def test_every_mechanism_answers_huge_and_tiny_inputs_without_a_warning(e, dtype) -> None:
    rng = np.random.default_rng(4)
    q, k, v = (rng.normal(size=(4, 4)).astype(dtype) * dtype(10.0**e) for _ in range(3))
    runs = [
        lambda: dot_scores(q, k),
        lambda: general_scores(q, k, EYE),
        lambda: additive_attention(q, k, EYE, EYE, np.ones(4)),
        lambda: scaled_dot_product_attention(q, k, v),
        lambda: performer_attention(q, k, v, 8),
        lambda: linear_attention(q, k, v),
        lambda: clustered_attention(q, k, v, 2),
        lambda: linformer_attention(q, k, v, np.eye(4)[:2], np.eye(4)[:2]),
        lambda: multi_head_attention(q, k, EYE, EYE, EYE, EYE, 2),
        lambda: pooled_views(q, k, 2, 2),
        lambda: row_logsumexp(q, k),
        lambda: block_detail(q, k, 2, 2, 0, 1),
        lambda: self_attention(q, EYE, EYE, EYE),
    ]
    for run in runs:
        try:
            result = run()
        except AtlasError:
            continue  # a clear error (overflow of the float range), not a warning
        arrays = result if isinstance(result, tuple) else (result,)
        for a in arrays:
            a = getattr(a, "out", a)
            if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                assert not np.isnan(a).any()


def test_score_overflow_is_an_error_not_an_infinity() -> None:
    big = np.full((2, 3), 1e30, dtype=np.float32)
    with pytest.raises(AtlasError, match="scores overflow the float32 range"):
        dot_scores(big, big)
