"""Numerically stable, masked, in-place softmax."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import as_array, as_mask, compute_dtype
from attention_atlas.errors import AtlasError, ShapeError

__all__ = ["softmax"]


def softmax(scores: ArrayLike, mask: ArrayLike | None = None, axis: int = -1) -> NDArray[Any]:
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
        nothing may be attended (every entry masked or ``-inf``). float32 and
        float64 are kept; integers give float64; float16 is computed in float32
        and returned as float16.

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
    m = None
    if mask is not None:
        m = as_mask(mask, s.shape, "scores.shape")
    buf = np.array(s, dtype=work, copy=True)
    if m is not None and buf.size:
        # Check before masking so a NaN hidden under the mask is still reported.
        _check_row_max(np.max(buf, axis=axis, keepdims=True), "scores")
    softmax_inplace(buf, m, axis=axis, name="scores")
    return buf.astype(result, copy=False)


def softmax_inplace(
    buf: NDArray[Any],
    mask: NDArray[Any] | None = None,
    axis: int = -1,
    name: str = "scores",
    shift_free: bool = False,
    from_finite: bool = False,
) -> NDArray[Any]:
    """Overwrite ``buf`` (a float array) with its softmax along ``axis`` and return it.

    ``mask`` must already be a boolean array broadcastable to ``buf.shape``. No
    array of the size of ``buf`` is allocated. ``shift_free=True`` is a promise by
    the caller (see :func:`exp_fits`) that every score is finite and every row
    maximum lies in a range where ``exp`` neither overflows nor underflows; the
    max pass and the subtraction are then skipped (the result is the same up to
    rounding, because softmax is invariant to a per-row shift). ``from_finite=True``
    says the scores were computed from finite inputs, so a row whose every allowed
    score is ``-inf`` overflowed and raises instead of reading as "nothing to attend".
    """
    if buf.size == 0 or buf.shape[axis] == 0:
        return buf
    exp_inplace(buf, mask, axis, name, shift_free, from_finite)
    total = row_sums(buf, axis)
    total[total == 0] = np.inf  # all-zero rows stay zero (1 / inf = 0)
    np.reciprocal(total, out=total)
    np.multiply(buf, total, out=buf)
    return buf


def exp_inplace(
    buf: NDArray[Any],
    mask: NDArray[Any] | None = None,
    axis: int = -1,
    name: str = "scores",
    shift_free: bool = False,
    from_finite: bool = False,
) -> NDArray[Any]:
    """The unnormalised half of :func:`softmax_inplace`: ``exp(buf - row max)``, masked.

    Masked entries and ``-inf`` scores become exactly 0; a row with nothing to
    attend becomes all zeros. Raises AtlasError (naming ``name``) for NaN or
    ``+inf`` unless ``shift_free`` promises finite scores, and (with ``from_finite``)
    for a row whose allowed scores all overflowed to ``-inf``.
    """
    if buf.size == 0 or buf.shape[axis] == 0:
        return buf
    if mask is not None:
        np.copyto(buf, -np.inf, where=np.logical_not(mask))
    if not shift_free:
        top = np.max(buf, axis=axis, keepdims=True)
        _check_row_max(top, name)
        empty = np.isneginf(top)
        if from_finite and empty.any():
            _check_underflow(empty, mask, axis, name, buf.dtype)
        # A row with nothing to attend has max -inf: shift by 0 so exp gives 0, not NaN.
        top[empty] = 0
        # Scores near the float limits can overflow to -inf here; exp then gives 0.
        with np.errstate(over="ignore"):
            np.subtract(buf, top, out=buf)
    return np.exp(buf, out=buf)


def _check_underflow(
    empty: NDArray[Any], mask: NDArray[Any] | None, axis: int, name: str, dtype: Any
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


def row_sums(buf: NDArray[Any], axis: int = -1) -> NDArray[Any]:
    """Sums along ``axis`` with keepdims; a matrix-vector product for the last axis.

    ``matmul`` with a vector of ones sums rows about twice as fast as ``np.sum``
    here, with comparable rounding (BLAS keeps several partial sums).
    """
    if axis in (-1, buf.ndim - 1) and buf.flags.c_contiguous:
        return np.matmul(buf, np.ones(buf.shape[-1], dtype=buf.dtype))[..., None]
    return np.sum(buf, axis=axis, keepdims=True)


#: log2(e): scores multiplied by it give the same softmax through ``exp2``, which
#: NumPy computes about 1.7x faster than ``exp`` (and to 1 ulp in float32).
LOG2E = 1.4426950408889634


def softmax2_unshifted(buf: NDArray[Any]) -> bool:
    """Try the softmax of base-2 logits without the row-max shift; in place, last axis.

    ``buf`` (..., N, M), C-contiguous float, holds scores times :data:`LOG2E`.
    On success it holds ``exp2(buf) / row sums`` (the softmax of the original
    scores, equal to the shifted one up to rounding) and ``True`` is returned.
    ``False`` means some row could not be trusted: a total that is not finite
    (a NaN or ``+inf`` score, or an ``exp2`` overflow) or so small that the row
    maximum may have lost precision (below ``sqrt(tiny)``, as :func:`exp_fits`
    demands); ``buf`` is then garbage and the caller recomputes the scores for
    :func:`softmax_inplace`. The check reuses the row sums the normalisation
    needs, so the fast path costs three passes (exp2, a matrix-vector product,
    a multiply) and no bounds; floating-point warnings are silenced because a
    failure is answered by the careful path, which warns or raises as it should.
    """
    if buf.size == 0:
        return False
    info = np.finfo(buf.dtype)
    with np.errstate(all="ignore"):
        np.exp2(buf, out=buf)
        total = row_sums(buf)  # (..., N, 1)
        # max <= total <= M max, so total / M >= sqrt(tiny) bounds the row maximum.
        low = float(np.sqrt(info.tiny)) * buf.shape[-1]
        if not (float(total.min()) >= low and float(total.max()) <= float(info.max)):
            return False  # NaN fails both comparisons
        np.reciprocal(total, out=total)
        np.multiply(buf, total, out=buf)
    return True


def exp_fits(q: NDArray[Any], k: NDArray[Any], scale: float = 1.0) -> bool:
    """Whether ``exp(scale q @ k^T)`` is safe without subtracting each row's maximum.

    Uses bounds that cost O((N + M) d) instead of a pass over the (N, M) scores:
    Cauchy-Schwarz gives ``|score| <= scale |q_n| max_m |k_m|``, which must leave
    room for summing M terms without overflow; each row's maximum is at least
    its mean ``scale q_n . mean(k)``, which must be above ``log(tiny) / 2`` so the
    largest weights keep full precision. ``q`` is (..., N, d), ``k`` (..., M, d).
    """
    dtype = np.result_type(q, k)
    if dtype.kind != "f" or q.size == 0 or k.size == 0:
        return False
    info = np.finfo(dtype)
    high = float(np.log(info.max)) - float(np.log(k.shape[-2])) - 2.0
    low = float(np.log(info.tiny)) / 2.0
    with np.errstate(all="ignore"):  # huge inputs give inf or NaN bounds: then "no"
        q_norm = np.sqrt(np.einsum("...d,...d->...", q, q))  # (..., N)
        k_norm = np.sqrt(np.max(np.einsum("...d,...d->...", k, k), axis=-1))  # (...,)
        if not abs(scale) * float(np.max(q_norm * k_norm[..., None])) <= high:
            return False
        row_mean = np.matmul(q, np.mean(k, axis=-2)[..., :, None])  # (..., N, 1)
        lowest = scale * float(np.min(row_mean) if scale >= 0 else np.max(row_mean))
    return bool(lowest >= low)


def _check_row_max(top: NDArray[Any], name: str) -> None:
    """A row maximum is NaN iff the row holds NaN, +inf iff it holds +inf."""
    bad = np.isnan(top) | np.isposinf(top)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(top[where]) else "+inf"
        msg = (
            f"{name} must not hold NaN or +inf (-inf means masked), found {kind} "
            f"in the row at {where} of the reduced shape {top.shape}"
        )
        raise AtlasError(msg)
