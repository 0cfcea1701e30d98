"""Pooled (R, C) views of (N, M) attention maps too big to draw or to hold.

The streaming functions (:func:`pooled_attention`, :func:`pooled_views`,
:func:`row_logsumexp`) compute ``softmax(scale q k^T)`` one block of queries at a
time and never hold the (N, M) map; :func:`block_detail` gives the exact weights
of one block of it from each row's log-normaliser.

Block rule (every function): R row blocks split the N rows at
``floor(i * N / R)`` for i = 0..R, so block i covers rows
``floor(i N / R) .. floor((i + 1) N / R) - 1``. When R divides N every block
has N / R rows; otherwise block sizes differ by at most one (no padding, no
dropped rows). Columns are split the same way into C blocks. ``"mean"`` is the
mean over all cells of a block; ``"max"`` is their maximum.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import (
    as_array,
    attention_inputs,
    check_finite,
    check_ndim,
    compute_dtype,
    positive_int,
    resolve_scale,
)
from attention_atlas.attention.softmax import check_rows, exp_shifted, row_sums
from attention_atlas.errors import AtlasError, ShapeError

__all__ = [
    "PooledViews",
    "block_detail",
    "block_edges",
    "pool_map",
    "pooled_attention",
    "pooled_views",
    "row_logsumexp",
    "strongest_blocks",
]

Array = NDArray[Any]
Reduce = Literal["mean", "max"]

#: Default size of the (..., block, M) score buffer of :func:`pooled_attention`.
_BLOCK_BYTES = 8 * 2**20

#: How the scores are named in errors (an overflow of q k^T, for example).
_SCORES = "scores (scaled q k^T)"


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


@dataclass(frozen=True)
class _Stream:
    """Checked inputs of a streaming pass (see :func:`_prepare`)."""

    qs: Array  # (..., N, d_k), scale folded in, work dtype
    kt: Array  # (..., d_k, M), a view of the keys
    mask: Array | None  # broadcastable to (..., N, M)
    batch: tuple[int, ...]
    n: int
    m: int
    size: int  # queries per streamed block
    result: np.dtype[Any]


def _prepare(
    q: ArrayLike,
    k: ArrayLike,
    block: int | None,
    mask: ArrayLike | None,
    scale: float | None,
) -> _Stream:
    """Check q, k and mask, fold the scale into q and choose the query block size."""
    x = attention_inputs(q, k, None, mask)
    n, m_len = x.q.shape[-2], x.k.shape[-2]
    per_row = max(1, math.prod(x.batch) * m_len * x.q.dtype.itemsize)
    size = positive_int(block, "block") if block is not None else max(1, _BLOCK_BYTES // per_row)
    s = resolve_scale(scale, x.q.shape[-1])
    return _Stream(
        qs=x.q * x.q.dtype.type(s),  # scale folded into q once
        kt=np.swapaxes(x.k, -1, -2),
        mask=x.mask,
        batch=x.batch,
        n=n,
        m=m_len,
        size=max(1, min(size, n)),
        result=x.result,
    )


def _mask_part(msk: Array, rows: slice, cols: slice | None = None) -> Array:
    """The part of a broadcastable mask covering ``rows`` (and ``cols``) of (..., N, M)."""
    if msk.ndim >= 2 and msk.shape[-2] > 1:
        msk = msk[..., rows, :]
    if cols is not None and msk.shape[-1] > 1:
        msk = msk[..., cols]
    return msk


def _exp_blocks(st: _Stream) -> Iterator[tuple[int, int, Array, Array]]:
    """Yield ``(start, stop, e, shift)`` for each block of queries.

    ``e`` (..., b, M) holds ``exp(scale q k^T - shift)`` for queries ``start:stop``
    in one reused buffer (valid until the next step); ``shift`` (..., b, 1) is
    each row's maximum score (see :func:`~attention_atlas.attention.softmax.exp_shifted`).
    """
    buf = np.empty((*st.batch, st.size, st.m), dtype=st.qs.dtype)
    for start in range(0, st.n, st.size):  # loop over query blocks, never single queries
        stop = min(start + st.size, st.n)
        scores = buf
        if stop - start < st.size:  # the last, shorter block (a contiguous part of buf)
            scores = (
                buf[: stop - start] if not st.batch else np.empty_like(buf[..., : stop - start, :])
            )
        with np.errstate(over="ignore"):  # an overflow is reported by exp_shifted
            np.matmul(st.qs[..., start:stop, :], st.kt, out=scores)  # (..., b, M)
        part = None if st.mask is None else _mask_part(st.mask, slice(start, stop))
        shift = exp_shifted(scores, part, name=_SCORES, from_finite=True)
        yield start, stop, scores, shift


def _log_total(total: Array, shift: Array) -> Array:
    """``shift + log(total)`` with shape (..., b): -inf where nothing was attended.

    A NaN score (an overflow inside ``q k^T``) makes its row's total NaN: reported here.
    """
    check_rows(total, _SCORES, from_finite=True)
    with np.errstate(divide="ignore"):
        return (np.log(total) + shift)[..., 0]


@dataclass(frozen=True)
class PooledViews:
    """What one streaming pass over ``softmax(scale q k^T)`` returns.

    Attributes
    ----------
    views : dict of str to ndarray, shape (..., R, C)
        The pooled map for each requested reduction (``"mean"``, ``"max"``).
    row_lse : ndarray, shape (..., N)
        Log-normaliser of each query row, ``log sum_m exp(scale q_n . k_m)`` over
        the keys it may attend; ``-inf`` for a row with nothing to attend. The
        weight of cell (n, m) is ``exp(scale q_n . k_m - row_lse[n])``, which is what
        :func:`block_detail` needs to give any block of the map exactly.
    """

    views: dict[str, Array]
    row_lse: Array


def pooled_views(
    q: ArrayLike,
    k: ArrayLike,
    rows: int,
    cols: int,
    reduces: Sequence[Reduce] = ("mean", "max"),
    block: int | None = None,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> PooledViews:
    """Several pooled views of ``softmax(scale q k^T)`` and its row log-normalisers, in one pass.

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k)
    k : ndarray, shape (..., M, d_k)
    rows : int
        R, number of row (query) blocks, ``1 <= R <= N``.
    cols : int
        C, number of column (key) blocks, ``1 <= C <= M``.
    reduces : sequence of {"mean", "max"}, default ("mean", "max")
        The reductions to return; each is computed from the same streamed scores.
    block : int, optional
        Queries per streamed block; defaults to as many as fit an 8 MiB buffer.
    mask : ndarray of bool, broadcastable to (..., N, M), optional
        True where query n may attend to key m.
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    result : PooledViews
        ``views[reduce]`` (..., R, C) equals ``pooled_attention(q, k, rows, cols,
        reduce, ...)``; ``row_lse`` (..., N) is each row's log-normaliser.

    Notes
    -----
    The scores, the exponentials and the row totals are shared by every
    reduction, so asking for the mean and the maximum costs one pass of full
    attention's scores and softmax, O(N M d_k) time, instead of two. Extra memory
    is O(block M + N d_k + N + R C) (see :func:`pooled_attention`).
    """
    wanted = tuple(dict.fromkeys(reduces))  # unique, in order
    if not wanted:
        msg = "reduces must name at least one of 'mean' and 'max', got an empty sequence"
        raise AtlasError(msg)
    for reduce in wanted:
        _check_reduce(reduce)
    st = _prepare(q, k, block, mask, scale)
    row_edges = block_edges(st.n, rows, "rows")
    col_edges = block_edges(st.m, cols, "cols")
    row_of = np.repeat(np.arange(rows), np.diff(row_edges))  # (N,) row block of each query
    acc = {r: np.zeros((*st.batch, rows, cols), dtype=st.qs.dtype) for r in wanted}
    lse = np.empty((*st.batch, st.n), dtype=st.qs.dtype)
    for start, stop, e, shift in _exp_blocks(st):
        # Pool exp(scores) before normalising: dividing row n by its total Z_n
        # commutes with block sums, so the block sums of the (b, M) buffer are taken
        # as they are and only the (b, C) result is rescaled.
        sums = _pool_axis(e, col_edges, -1, "mean")  # (..., b, C)
        total = np.sum(sums, axis=-1, keepdims=True)  # Z_n from the block sums
        lse[..., start:stop] = _log_total(total, shift)
        total[total == 0] = np.inf  # a row with nothing to attend stays zero
        ids = row_of[start:stop]
        seg = np.concatenate(([0], np.flatnonzero(np.diff(ids)) + 1, [stop - start]))
        target = ids[seg[:-1]]
        if "mean" in acc:
            sums /= total
            red = np.add.reduceat(sums, seg[:-1], axis=-2)  # (..., segments, C)
            acc["mean"][..., target, :] += red
        if "max" in acc:
            # Maxima do not commute with a per-row division across rows, so normalise
            # the buffer in place (it is rewritten at the next step), then take the
            # maximum over each row block's queries first: a reduction over the
            # leading axis runs along whole contiguous rows, several times faster
            # than maxima over short runs of keys.
            np.multiply(e, np.reciprocal(total), out=e)
            for a, b, t in zip(seg[:-1], seg[1:], target, strict=True):  # 1 or 2 row blocks
                top = np.max(e[..., a:b, :], axis=-2, keepdims=True)  # (..., 1, M)
                part = _pool_axis(top, col_edges, -1, "max")[..., 0, :]  # (..., C)
                np.maximum(acc["max"][..., t, :], part, out=acc["max"][..., t, :])
    if "mean" in acc:
        sizes = np.diff(row_edges)[:, None] * np.diff(col_edges)[None, :]
        acc["mean"] /= sizes.astype(st.qs.dtype)
    views: dict[str, Array] = {str(r): a.astype(st.result, copy=False) for r, a in acc.items()}
    return PooledViews(views=views, row_lse=lse.astype(st.result, copy=False))


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
    q, k, rows, cols, block, mask, scale
        As for :func:`pooled_views`: q (..., N, d_k), k (..., M, d_k), R row and
        C column blocks, queries per streamed block (by default as many as fit
        an 8 MiB buffer: 128 queries at M = 16384 in float32), the mask and the scale.
    reduce : {"mean", "max"}, default "mean"

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
    (R, C) result. Time is that of full attention's scores and softmax,
    O(N M d_k); extra memory is O(block M + N d_k + R C) instead of O(N M) (at
    N = M = 16384, d_k = 64, float32 and the default block: about 13 MiB instead
    of 1 GiB). Both reductions at once: :func:`pooled_views`.
    """
    _check_reduce(reduce)
    return pooled_views(q, k, rows, cols, (reduce,), block, mask, scale).views[reduce]


def row_logsumexp(
    q: ArrayLike,
    k: ArrayLike,
    block: int | None = None,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> Array:
    """Each query row's log-normaliser ``log sum_m exp(scale q_n . k_m)``, streamed.

    Parameters
    ----------
    q, k, block, mask, scale
        As for :func:`pooled_views`: q (..., N, d_k), k (..., M, d_k), queries per
        streamed block, the mask (masked keys are left out of the sum) and the scale.

    Returns
    -------
    lse : ndarray, shape (..., N)
        ``-inf`` for a row with nothing to attend. ``softmax(scale q k^T)[n, m] =
        exp(scale q_n . k_m - lse[n])``.

    Notes
    -----
    Computed stably (each row's maximum is subtracted before ``exp`` unless the
    scores provably cannot overflow). Time O(N M d_k), extra memory
    O(block M + N d_k) instead of O(N M).

    Examples
    --------
    >>> row_logsumexp([[0.0], [1.0]], [[0.0], [0.0]], scale=1.0).round(4).tolist()
    [0.6931, 0.6931]
    """
    st = _prepare(q, k, block, mask, scale)
    lse = np.empty((*st.batch, st.n), dtype=st.qs.dtype)
    for start, stop, e, shift in _exp_blocks(st):
        lse[..., start:stop] = _log_total(row_sums(e), shift)
    return lse.astype(st.result, copy=False)


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _block_index(value: int, count: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        msg = f"{name} must be an integer block index, got {value!r}"
        raise AtlasError(msg)
    if not 0 <= int(value) < count:
        msg = f"{name} must be a block index in 0..{count - 1}, got {value}"
        raise ShapeError(msg)
    return int(value)


def block_detail(
    q: ArrayLike,
    k: ArrayLike,
    rows: int,
    cols: int,
    row_block: int,
    col_block: int,
    row_lse: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> Array:
    """The exact weights of one block of ``softmax(scale q k^T)``, without the full map.

    Parameters
    ----------
    q, k, mask, scale
        As for :func:`pooled_views`: q (..., N, d_k), k (..., M, d_k), the mask and
        the scale.
    rows, cols : int
        R and C, the numbers of row and column blocks (block rule in the module
        docstring).
    row_block : int
        i in ``0..R-1``: the block's queries are ``edges[i]:edges[i + 1]`` (h of them).
    col_block : int
        j in ``0..C-1``: the block's keys (w of them).
    row_lse : ndarray, shape (..., N), optional
        Every row's log-normaliser (:attr:`PooledViews.row_lse` or
        :func:`row_logsumexp`). Without it, the h rows' normalisers are computed
        here from their scores against all M keys.

    Returns
    -------
    weights : ndarray, shape (..., h, w)
        Equal (up to rounding) to ``softmax(scale q k^T, mask)`` restricted to the
        block: each row is a slice of a full row that sums to 1 over all M keys,
        so a block's rows sum to at most 1.

    Notes
    -----
    A weight needs its whole row's normaliser, not just the block's keys:
    ``w[n, m] = exp(s[n, m] - lse[n])`` with ``lse[n] = log sum_l exp(s[n, l])``.
    With ``row_lse`` given the cost is the block's own scores, O(h w d_k);
    without it O(h M d_k) time and O(h M) memory, still never O(N M).
    """
    x = attention_inputs(q, k, None, mask)
    qa, ka, msk, work = x.q, x.k, x.mask, x.q.dtype
    n, m_len = qa.shape[-2], ka.shape[-2]
    row_edges = block_edges(n, rows, "rows")
    col_edges = block_edges(m_len, cols, "cols")
    i = _block_index(row_block, rows, "row_block")
    j = _block_index(col_block, cols, "col_block")
    r_sl = slice(int(row_edges[i]), int(row_edges[i + 1]))
    c_sl = slice(int(col_edges[j]), int(col_edges[j + 1]))
    q_rows = qa[..., r_sl, :]
    if row_lse is None:
        row_mask = None if msk is None else _mask_part(msk, r_sl)
        lse = row_logsumexp(q_rows, ka, mask=row_mask, scale=scale).astype(work)
    else:
        full = as_array(row_lse, "row_lse")
        check_finite(full, "row_lse", allow_neg_inf=True)
        if full.ndim < 1 or full.shape[-1] != n or not _broadcasts(full.shape, (*x.batch, n)):
            msg = f"row_lse must broadcast to (..., N) = {(*x.batch, n)}, got {full.shape}"
            raise ShapeError(msg)
        lse = full[..., r_sl].astype(work, copy=False)
    s = resolve_scale(scale, qa.shape[-1])
    qs = q_rows * work.type(s)  # same rounding as the streamed pass
    kt = np.swapaxes(ka[..., c_sl, :], -1, -2)  # (..., d_k, w)
    weights = np.matmul(qs, kt)  # (..., h, w) scores
    empty = np.isneginf(lse)[..., None]  # rows with nothing to attend
    # s - lse <= 0; far below (float32 scores near -3e38) it overflows to -inf, whose
    # exponential is the 0 the weight is.
    with np.errstate(over="ignore"):
        np.subtract(weights, np.where(empty, 0, lse[..., None]), out=weights)
    if msk is not None:
        np.copyto(weights, -np.inf, where=np.logical_not(_mask_part(msk, r_sl, c_sl)))
    np.exp(weights, out=weights)
    np.copyto(weights, 0, where=empty)
    return weights.astype(x.result, copy=False)


def strongest_blocks(
    maxima: ArrayLike, count: int, *, per_column: int = 1, band: int | None = None
) -> list[tuple[int, int]]:
    """The ``count`` blocks with the largest block maxima, strongest first.

    Parameters
    ----------
    maxima : ndarray, shape (R, C)
        Block maxima of a pooled map (``pooled_views(...).views["max"]``).
    count : int
        How many blocks to return at most.
    per_column : int, default 1
        At most this many blocks from one column of blocks, so a key that every
        query reads (a [CLS]-like sink) cannot take every place.
    band : int, optional
        Leave out the blocks near the diagonal, ``|i - j| <= band`` (the local
        attention everyone expects), to find the long-range links.

    Returns
    -------
    blocks : list of (int, int)
        ``(row block, column block)`` pairs; ties go to the smaller row, then the
        smaller column. Fewer than ``count`` when the rules leave fewer.

    Notes
    -----
    One stable sort of the R C maxima, O(R C log(R C)), then a walk down it.

    Examples
    --------
    >>> strongest_blocks([[0.9, 0.2], [0.8, 0.7]], 2)
    [(0, 0), (1, 1)]
    """
    mx = as_array(maxima, "maxima")
    check_finite(mx, "maxima")
    if mx.ndim != 2:
        msg = f"maxima must have shape (R, C), got {mx.shape}"
        raise ShapeError(msg)
    limit = positive_int(per_column, "per_column")
    rows, cols = mx.shape
    i, j = np.divmod(np.arange(rows * cols), cols)
    allowed = np.ones(rows * cols, dtype=bool) if band is None else np.abs(i - j) > band
    order = np.argsort(-np.where(allowed, mx.ravel(), -np.inf), kind="stable")
    taken: list[tuple[int, int]] = []
    per: dict[int, int] = {}
    for flat in order[: int(allowed.sum())]:  # a walk over blocks (R C), not positions
        if len(taken) >= count:
            break
        col = int(j[flat])
        if per.get(col, 0) < limit:
            taken.append((int(i[flat]), col))
            per[col] = per.get(col, 0) + 1
    return taken
