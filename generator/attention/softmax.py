"""The softmax of the attention core: shifted by the row maximum, masked, in place.

Every mechanism normalises its scores with :func:`softmax_inplace`; the streamed
views use its first half, :func:`exp_shifted`, and keep the shift to recover
each row's log-normaliser.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import as_array, as_mask, compute_dtype
from attention_atlas.errors import AtlasError, ShapeError

__all__ = ["softmax"]

Array = NDArray[Any]


def softmax(scores: ArrayLike, mask: ArrayLike | None = None, axis: int = -1) -> Array:
    """Stable softmax along ``axis`` with an optional boolean mask.

    Parameters
    ----------
    scores : ndarray, shape (..., N, M)
        Real scores (logits). ``-inf`` is allowed and means "masked"; NaN and
        ``+inf`` raise :class:`~attention_atlas.errors.AtlasError`.
    mask : ndarray of bool, shape broadcastable to scores.shape, optional
        True where attending is allowed. Masked entries get weight exactly 0.
    axis : int, default -1
        Axis to normalise over (the key axis M).

    Returns
    -------
    weights : ndarray, same shape as scores
        Non-negative, each slice along ``axis`` sums to 1, or is all zeros when
        nothing may be attended (every entry masked or ``-inf``, or M = 0).
        float32 and float64 are kept; integers give float64; float16 is
        computed in float32 and returned as float16.

    Raises
    ------
    AtlasError
        ``scores`` holds NaN or ``+inf``, or ``mask`` is not boolean.
    ShapeError
        ``mask`` does not broadcast to ``scores.shape`` or ``axis`` is out of range.

    Notes
    -----
    ``softmax(s)_j = exp(s_j - max s) / sum_l exp(s_l - max s)``: subtracting the
    row maximum means the largest exponent is 0, so logits such as 927 next to
    148 never overflow in float32. The input is copied once and everything else
    happens in place (subtract, exp, scale), so peak extra memory is about one
    array of the size of ``scores``. Cost O(size of scores).

    Examples
    --------
    >>> softmax([927.0, 397.0, 148.0, 929.0]).round(4).tolist()
    [0.1192, 0.0, 0.0, 0.8808]
    """
    s = as_array(scores, "scores")
    work, result = compute_dtype(s)
    if s.ndim == 0:
        msg = f"scores must have at least one axis, got a scalar (scores {s.shape})"
        raise ShapeError(msg)
    if not -s.ndim <= axis < s.ndim:
        msg = f"axis {axis} is out of range for scores with {s.ndim} axes (scores {s.shape})"
        raise ShapeError(msg)
    m = None if mask is None else as_mask(mask, s.shape, "scores.shape")
    buf = np.array(s, dtype=work, copy=True)
    if m is not None and buf.size:
        # Check before masking so a NaN hidden under the mask is still reported.
        check_rows(np.max(buf, axis=axis, keepdims=True), "scores", from_finite=False)
    softmax_inplace(buf, m, axis=axis)
    return buf.astype(result, copy=False)


def softmax_inplace(
    buf: Array,
    mask: Array | None = None,
    axis: int = -1,
    *,
    base2: bool = False,
    name: str = "scores",
    from_finite: bool = False,
) -> Array:
    """Overwrite ``buf`` (a float array) with its softmax along ``axis`` and return it.

    ``exp(buf - row max)`` by :func:`exp_shifted`, then each row divided by its
    sum; a row with nothing to attend stays all zeros. ``mask`` must already be
    a boolean array broadcastable to ``buf.shape``. No array of the size of
    ``buf`` is allocated. ``base2=True`` says ``buf`` holds the scores times
    :data:`LOG2E`: the same weights come out, through ``exp2``.
    """
    exp_shifted(buf, mask, axis, base2=base2, name=name, from_finite=from_finite)
    total = row_sums(buf, axis)
    check_rows(total, name, from_finite)  # a NaN score makes its row's sum NaN
    if total.size and np.min(total) == 0:  # rows with nothing to attend
        total[total == 0] = np.inf  # stay zero (1 / inf = 0)
    np.reciprocal(total, out=total)
    np.multiply(buf, total, out=buf)
    return buf


#: log2(e): scores multiplied by it give the same softmax through ``exp2``, which
#: NumPy computes about 1.8x faster than ``exp`` in float32 (to 1 ulp).
LOG2E = 1.4426950408889634


def exp_shifted(
    buf: Array,
    mask: Array | None = None,
    axis: int = -1,
    *,
    base2: bool = False,
    name: str = "scores",
    from_finite: bool = False,
) -> Array:
    """``buf <- exp(buf - shift)`` in place, masked entries 0; returns the shift (keepdims).

    The shift is each row's maximum, so the largest exponent is 0 and nothing
    overflows; a row with nothing to attend (every entry masked or ``-inf``, or
    no entry at all) gets the shift 0 and becomes all zeros, never NaN. The
    caller recovers each row's log-normaliser as ``shift + log(row sum)``.
    With ``base2=True`` the exponential is ``exp2`` (see :func:`softmax_inplace`).

    Raises AtlasError (naming ``name``) for a ``+inf`` score or a row of NaN; a
    NaN among numbers makes that row's sum NaN, which the caller passes to
    :func:`check_rows`. With ``from_finite=True`` the scores were computed from
    finite inputs, so such a value, or a row whose allowed scores are all
    ``-inf``, is an overflow of the float range, reported as one.
    """
    if mask is not None:
        np.copyto(buf, -np.inf, where=np.logical_not(mask))
    if buf.shape[axis] == 0:  # no keys: nothing to attend, shift 0
        shape = list(buf.shape)
        shape[axis] = 1
        return np.zeros(shape, dtype=buf.dtype)
    top = np.fmax.reduce(buf, axis=axis, keepdims=True)  # skips NaN, faster than max
    check_rows(top, name, from_finite)
    if top.size and np.min(top) == -np.inf:  # some row has nothing to attend
        empty = np.isneginf(top)
        if from_finite:
            _check_underflow(empty, mask, axis, name, buf.dtype)
        top[empty] = 0  # exp(-inf - 0) = 0, not exp(-inf + inf) = NaN
    with np.errstate(over="ignore"):  # a difference beyond the float range is -inf: weight 0
        np.subtract(buf, top, out=buf)
    with np.errstate(invalid="ignore"):  # NaN stays NaN and is reported by the row sums
        (np.exp2 if base2 else np.exp)(buf, out=buf)
    return top


def row_sums(buf: Array, axis: int = -1) -> Array:
    """Sums along ``axis`` with keepdims; a matrix-vector product for the last axis.

    ``matmul`` with a vector of ones sums rows about twice as fast as ``np.sum``
    here, with comparable rounding (BLAS keeps several partial sums).
    """
    if axis in (-1, buf.ndim - 1) and buf.flags.c_contiguous:
        return np.matmul(buf, np.ones(buf.shape[-1], dtype=buf.dtype))[..., None]
    return np.sum(buf, axis=axis, keepdims=True)


def check_rows(top: Array, name: str, from_finite: bool) -> None:
    """Raise for a NaN or ``+inf`` in ``top``, a per-row reduction (maximum or sum) of ``name``.

    A row's maximum is ``+inf`` iff it holds ``+inf``; its sum after the shifted
    exponential is NaN iff it holds NaN.
    """
    if not top.size or np.max(top) < np.inf:  # one reduction; NaN fails the comparison
        return
    bad = np.isnan(top) | np.isposinf(top)
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    kind = "NaN" if np.isnan(top[where]) else "+inf"
    if from_finite:
        msg = (
            f"{name} overflow the {top.dtype.name} range: found {kind} in the row at "
            f"{where} of the reduced shape {top.shape}; rescale q and k or compute in float64"
        )
    else:
        msg = (
            f"{name} must not hold NaN or +inf (-inf means masked), found {kind} "
            f"in the row at {where} of the reduced shape {top.shape}"
        )
    raise AtlasError(msg)


def _check_underflow(
    empty: Array, mask: Array | None, axis: int, name: str, dtype: np.dtype[Any]
) -> None:
    """Raise when a row with allowed positions has only ``-inf`` scores (an overflow)."""
    allowed = empty if mask is None else empty & np.any(mask, axis=axis, keepdims=True)
    if allowed.any():
        msg = (
            f"{name} overflow the {np.dtype(dtype).name} range: every score of "
            f"{int(allowed.sum())} row(s) is -inf although nothing is masked there; "
            "rescale q and k or compute in float64"
        )
        raise AtlasError(msg)
