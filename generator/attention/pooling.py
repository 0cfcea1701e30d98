"""Pooled (R, C) views of (N, M) attention maps too big to draw or to hold.

Block rule (both functions): R row blocks split the N rows at
``floor(i * N / R)`` for i = 0..R, so block i covers rows
``floor(i N / R) .. floor((i + 1) N / R) - 1``. When R divides N every block
has N / R rows; otherwise block sizes differ by at most one (no padding, no
dropped rows). Columns are split the same way into C blocks. ``"mean"`` is the
mean over all cells of a block; ``"max"`` is their maximum.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from generator.attention._checks import (
    as_array,
    as_mask,
    batch_shape,
    check_finite,
    check_last,
    check_ndim,
    compute_dtype,
    float_input,
    positive_int,
    resolve_scale,
)
from generator.attention.softmax import exp_fits, exp_inplace, row_sums
from generator.errors import AtlasError, ShapeError

__all__ = ["block_edges", "pool_map", "pooled_attention"]

Array = NDArray[Any]
Reduce = Literal["mean", "max"]

#: Default size of the (..., block, M) score buffer of :func:`pooled_attention`.
_BLOCK_BYTES = 8 * 2**20


def block_edges(length: int, blocks: int, name: str = "blocks") -> Array:
    """Start of each of ``blocks`` near-equal blocks of ``length`` items, plus the end.

    Parameters
    ----------
    length : int
        Number of items (N or M).
    blocks : int
        Number of blocks (R or C), ``1 <= blocks <= length``.
    name : str
        Argument name used in errors.

    Returns
    -------
    edges : ndarray of int64, shape (blocks + 1,)
        ``edges[i] = floor(i * length / blocks)``; block i is
        ``edges[i]:edges[i + 1]``.

    Notes
    -----
    Block sizes are ``floor(length / blocks)`` or one more, so no item is
    dropped or padded. Cost O(blocks).

    Examples
    --------
    >>> block_edges(10, 4).tolist()
    [0, 2, 5, 7, 10]
    """
    count = positive_int(blocks, name)
    if count > length:
        msg = f"{name} must be between 1 and {length} (the axis it pools), got {count}"
        raise ShapeError(msg)
    return (np.arange(count + 1, dtype=np.int64) * length) // count


def _check_reduce(reduce: str) -> None:
    if reduce not in ("mean", "max"):
        msg = f"reduce must be 'mean' or 'max', got {reduce!r}"
        raise AtlasError(msg)


def _pool_axis(a: Array, edges: Array, axis: int, reduce: str) -> Array:
    """Sum (for mean) or max over blocks of ``axis``; the mean's division comes later."""
    length = a.shape[axis]
    count = edges.size - 1
    ax = axis % a.ndim
    if length % count:
        op = np.add if reduce == "mean" else np.maximum
        return np.asarray(op.reduceat(a, edges[:-1], axis=ax))
    width = length // count
    shape = (*a.shape[:ax], count, width, *a.shape[ax + 1 :])
    if reduce == "max":
        return np.asarray(np.max(a.reshape(shape), axis=ax + 1))
    if ax == a.ndim - 1 and a.flags.c_contiguous:
        # Block sums along the contiguous last axis as one matrix-vector product.
        return np.matmul(a.reshape(shape), np.ones(width, dtype=a.dtype))
    return np.asarray(np.sum(a.reshape(shape), axis=ax + 1))


def pool_map(weights: ArrayLike, rows: int, cols: int, reduce: Reduce = "mean") -> Array:
    """Pool an attention map into (R, C) blocks.

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
        A materialised map (any real values; NaN and inf raise).
    rows : int
        R, number of row blocks, ``1 <= R <= N``.
    cols : int
        C, number of column blocks, ``1 <= C <= M``.
    reduce : {"mean", "max"}, default "mean"

    Returns
    -------
    pooled : ndarray, shape (..., R, C)
        Block means or maxima (block rule in the module docstring). This is a
        view for reading, not a renormalised map: block means of a map whose
        rows sum to 1 no longer sum to 1 along a row.

    Notes
    -----
    Reshape-based when R divides N and C divides M, ``ufunc.reduceat``
    otherwise. Cost O(N M).
    """
    _check_reduce(reduce)
    w = as_array(weights, "weights")
    check_finite(w, "weights")
    check_ndim(w, "weights", 2, "(..., N, M)")
    work, result = compute_dtype(w)
    w = w.astype(work, copy=False)
    n, m = w.shape[-2:]
    row_edges = block_edges(n, rows, "rows")
    col_edges = block_edges(m, cols, "cols")
    pooled = _pool_axis(_pool_axis(w, col_edges, -1, reduce), row_edges, -2, reduce)
    if reduce == "mean":
        sizes = np.diff(row_edges)[:, None] * np.diff(col_edges)[None, :]
        pooled = pooled / sizes.astype(work)
    return pooled.astype(result, copy=False)


def pooled_attention(
    q: ArrayLike,
    k: ArrayLike,
    rows: int,
    cols: int,
    reduce: Reduce = "mean",
    block: int | None = None,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> Array:
    """Pooled view of ``softmax(scale q k^T)`` without ever holding the (N, M) map.

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k)
    k : ndarray, shape (..., M, d_k)
    rows : int
        R, number of row (query) blocks, ``1 <= R <= N``.
    cols : int
        C, number of column (key) blocks, ``1 <= C <= M``.
    reduce : {"mean", "max"}, default "mean"
    block : int, optional
        Queries per streamed block. Defaults to as many as fit an 8 MiB score
        buffer (128 queries at M = 16384 in float32 without batch dims).
    mask : ndarray of bool, broadcastable to (..., N, M), optional
        True where query n may attend to key m.
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    pooled : ndarray, shape (..., R, C)
        Equal (up to rounding) to ``pool_map(weights, rows, cols, reduce)`` of the
        materialised ``weights``.

    Notes
    -----
    Loops over blocks of queries: for each, the (block, M) scores are computed
    into one reused buffer and exponentiated in place; their key blocks are
    pooled first and only the (block, C) result is divided by each row's total
    (which commutes with block sums and maxima), then accumulated into the
    (R, C) result. Time is that of full attention's
    scores and softmax, O(N M d_k); extra memory is
    O(block M + N d_k + R C) instead of O(N M) (at N = M = 16384, d_k = 64,
    float32 and the default block: about 13 MiB instead of 1 GiB).
    """
    _check_reduce(reduce)
    qa = float_input(q, "q")
    ka = float_input(k, "k")
    work, result = compute_dtype(qa, ka)
    check_ndim(qa, "q", 2, "(..., N, d_k)")
    check_ndim(ka, "k", 2, "(..., M, d_k)")
    check_last(qa, "q", ka, "k", "features (d_k)")
    batch = batch_shape(("q", qa, 2), ("k", ka, 2))
    n, m_len = qa.shape[-2], ka.shape[-2]
    row_edges = block_edges(n, rows, "rows")
    col_edges = block_edges(m_len, cols, "cols")
    msk = None if mask is None else as_mask(mask, (*batch, n, m_len), "(..., N, M)")
    per_row = max(1, int(np.prod(batch, dtype=np.int64)) * m_len * work.itemsize)
    size = positive_int(block, "block") if block is not None else max(1, _BLOCK_BYTES // per_row)
    size = min(size, n)
    s = resolve_scale(scale, qa.shape[-1])
    qs = qa.astype(work, copy=False) * work.type(s)  # scale folded into q once
    kw = ka.astype(work, copy=False)
    kt = np.swapaxes(kw, -1, -2)  # (..., d_k, M), a view
    shift_free = msk is None and exp_fits(qs, kw)  # decided once for all blocks
    row_of = np.repeat(np.arange(rows), np.diff(row_edges))  # (N,) row block of each query
    acc = np.zeros((*batch, rows, cols), dtype=work)
    buf = np.empty((*batch, size, m_len), dtype=work)
    for start in range(0, n, size):  # loop over query blocks, never single queries
        stop = min(start + size, n)
        scores = buf if stop - start == size else np.empty((*batch, stop - start, m_len), work)
        np.matmul(qs[..., start:stop, :], kt, out=scores)  # (..., b, M)
        part_mask = None
        if msk is not None:
            part_mask = msk[..., start:stop, :] if msk.ndim >= 2 and msk.shape[-2] > 1 else msk
        # Pool exp(scores) before normalising: dividing row n by its total Z_n
        # commutes with block sums and block maxima, so the (b, M) block is never
        # rescaled; only its (b, C) pooled rows are.
        exp_inplace(scores, part_mask, name="scores (scaled q k^T)", shift_free=shift_free)
        pooled_cols = _pool_axis(scores, col_edges, -1, reduce)  # (..., b, C)
        if reduce == "mean":
            total = np.sum(pooled_cols, axis=-1, keepdims=True)  # Z_n from the block sums
        else:
            total = row_sums(scores)
        total[total == 0] = np.inf  # a row with nothing to attend stays zero
        pooled_cols /= total
        ids = row_of[start:stop]
        seg = np.concatenate(([0], np.flatnonzero(np.diff(ids)) + 1))
        op = np.add if reduce == "mean" else np.maximum
        part = op.reduceat(pooled_cols, seg, axis=-2)  # (..., segments, C)
        target = ids[seg]
        acc[..., target, :] = op(acc[..., target, :], part)
    if reduce == "mean":
        sizes = np.diff(row_edges)[:, None] * np.diff(col_edges)[None, :]
        acc /= sizes.astype(work)
    return acc.astype(result, copy=False)
