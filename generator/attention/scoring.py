"""Score functions: how strongly each query matches each key, before softmax.

All functions accept any leading batch dims (broadcast like ``matmul``). A 1-D
``query`` is one query vector and a 1-D ``keys`` is one key vector; the
corresponding axis is dropped from the result, exactly as ``numpy.matmul`` does,
so ``dot_scores([5, 1, 20], [3, 12, 45])`` is the scalar 927.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import (
    batch_shape,
    check_exact,
    check_last,
    check_ndim,
    compute_dtype,
    float_input,
    resolve_scale,
)
from attention_atlas.errors import AtlasError

__all__ = ["additive_scores", "dot_scores", "general_scores", "scaled_dot_scores"]

Array = NDArray[Any]

#: Largest (..., N, M, chunk) intermediate ``additive_scores`` builds, in bytes.
_ADDITIVE_CHUNK_BYTES = 32 * 2**20


def _qk(
    query: ArrayLike, keys: ArrayLike, *more: tuple[ArrayLike, str]
) -> tuple[np.dtype[Any], list[Array]]:
    """Convert query, keys (and named weights) to one working dtype; check basics.

    Returns the result dtype and the converted arrays.
    """
    q = float_input(query, "query")
    k = float_input(keys, "keys")
    extra = [float_input(w, name) for w, name in more]
    work, result = compute_dtype(q, k, *extra)
    check_ndim(q, "query", 1, "(..., N, d) or (d,)")
    check_ndim(k, "keys", 1, "(..., M, d) or (d,)")
    batch_shape(("query", q, min(q.ndim, 2)), ("keys", k, min(k.ndim, 2)))
    return result, [a.astype(work, copy=False) for a in (q, k, *extra)]


def _matmul_t(q: Array, k: Array) -> Array:
    """``q @ k^T`` over the last axis, with matmul's 1-D rules; an overflow raises.

    Inputs are finite, so a non-finite score is an overflow of the float range:
    reported as an AtlasError instead of a RuntimeWarning and an infinity.
    """
    kt = k if k.ndim == 1 else np.swapaxes(k, -1, -2)
    with np.errstate(over="ignore", invalid="ignore"):
        scores = np.asarray(np.matmul(q, kt))
    if not np.isfinite(scores).all():
        msg = (
            f"scores overflow the {scores.dtype.name} range (query {q.shape}, keys {k.shape}); "
            "rescale query and keys or compute in float64"
        )
        raise AtlasError(msg)
    return scores


def dot_scores(query: ArrayLike, keys: ArrayLike) -> Array:
    """Dot-product scores ``query . key`` for every query/key pair.

    Parameters
    ----------
    query : ndarray, shape (..., N, d) or (d,)
        Query vectors (for example a decoder hidden state).
    keys : ndarray, shape (..., M, d) or (d,)
        Key vectors, one per row (for example encoder annotations).

    Returns
    -------
    scores : ndarray, shape (..., N, M)
        ``scores[..., n, m] = query[..., n, :] . keys[..., m, :]``. A 1-D query
        drops the N axis and a 1-D key drops the M axis.

    Notes
    -----
    ``S = Q K^T``, one ``matmul``: cost O(N M d).

    Examples
    --------
    >>> float(dot_scores([5, 1, 20], [3, 12, 45]))
    927.0
    """
    result, (q, k) = _qk(query, keys)
    check_last(q, "query", k, "keys", "features (d)")
    return _matmul_t(q, k).astype(result, copy=False)


def scaled_dot_scores(query: ArrayLike, keys: ArrayLike, scale: float | None = None) -> Array:
    """Scaled dot-product scores ``(query . key) * scale``.

    Parameters
    ----------
    query : ndarray, shape (..., N, d) or (d,)
    keys : ndarray, shape (..., M, d) or (d,)
    scale : float, optional
        Defaults to ``1 / sqrt(d)``.

    Returns
    -------
    scores : ndarray, shape (..., N, M)

    Notes
    -----
    ``S = (scale Q) K^T``: the scale is folded into the (N, d) query, which is
    cheaper than scaling the (N, M) result. Cost O(N M d).
    """
    result, (q, k) = _qk(query, keys)
    check_last(q, "query", k, "keys", "features (d)")
    s = resolve_scale(scale, q.shape[-1])
    with np.errstate(over="ignore"):  # an overflow is reported by _matmul_t
        qs = q * q.dtype.type(s)
    return _matmul_t(qs, k).astype(result, copy=False)


def general_scores(query: ArrayLike, keys: ArrayLike, w: ArrayLike) -> Array:
    """Bilinear ("general", Luong) scores ``query W key^T``.

    Parameters
    ----------
    query : ndarray, shape (..., N, d_q) or (d_q,)
    keys : ndarray, shape (..., M, d_k) or (d_k,)
    w : ndarray, shape (d_q, d_k)

    Returns
    -------
    scores : ndarray, shape (..., N, M)

    Notes
    -----
    ``S = (Q W) K^T``; multiplying the query side first costs O(N d_q d_k + N M d_k).
    """
    result, (q, k, wm) = _qk(query, keys, (w, "w"))
    check_exact(wm, "w", (q.shape[-1], k.shape[-1]), "(d_q, d_k)")
    with np.errstate(over="ignore", invalid="ignore"):  # reported by _matmul_t
        qw = q @ wm
    return _matmul_t(qw, k).astype(result, copy=False)


def additive_scores(
    query: ArrayLike, keys: ArrayLike, w_q: ArrayLike, w_k: ArrayLike, v: ArrayLike
) -> Array:
    """Additive (Bahdanau) scores ``v . tanh(query W_q + key W_k)``.

    This is the default scoring net of Wolfram's ``SequenceAttentionLayer``.

    Parameters
    ----------
    query : ndarray, shape (..., N, d_q) or (d_q,)
    keys : ndarray, shape (..., M, d_k) or (d_k,)
    w_q : ndarray, shape (d_q, h)
        Projects queries into the hidden scoring space of width h.
    w_k : ndarray, shape (d_k, h)
        Projects keys into the same space.
    v : ndarray, shape (h,)
        Reads one number out of each hidden vector.

    Returns
    -------
    scores : ndarray, shape (..., N, M)

    Notes
    -----
    ``S[n, m] = sum_j v_j tanh((Q W_q)[n, j] + (K W_k)[m, j])``. The projections
    cost O((N d_q + M d_k) h); the tanh needs every (n, m, j) triple, O(N M h)
    time. The hidden axis is processed in chunks so the (N, M, chunk)
    intermediate stays under 32 MiB.
    """
    result, (q, k, wq, wk, vv) = _qk(query, keys, (w_q, "w_q"), (w_k, "w_k"), (v, "v"))
    check_ndim(vv, "v", 1, "(h,)")
    if vv.ndim != 1:
        check_exact(vv, "v", (vv.shape[-1],), "(h,)")
    h = vv.shape[0]
    check_exact(wq, "w_q", (q.shape[-1], h), "(d_q, h)")
    check_exact(wk, "w_k", (k.shape[-1], h), "(d_k, h)")
    qh = q @ wq  # (..., N, h) or (h,)
    kh = k @ wk  # (..., M, h) or (h,)
    qh = qh[..., :, None, :] if q.ndim > 1 else qh.reshape(1, 1, h)  # (..., N, 1, h)
    kh = kh[..., None, :, :] if k.ndim > 1 else kh.reshape(1, 1, h)  # (..., 1, M, h)
    out_shape = np.broadcast_shapes(qh.shape[:-1], kh.shape[:-1])
    per_hidden = max(1, int(np.prod(out_shape)) * qh.dtype.itemsize)
    chunk = max(1, min(h, _ADDITIVE_CHUNK_BYTES // per_hidden))
    scores = np.zeros(out_shape, dtype=qh.dtype)
    for start in range(0, h, chunk):  # loop over hidden-unit chunks, not positions
        part = qh[..., start : start + chunk] + kh[..., start : start + chunk]
        np.tanh(part, out=part)
        scores += part @ vv[start : start + chunk]
    if q.ndim == 1:
        scores = scores[..., 0, :]
    if k.ndim == 1:
        scores = scores[..., 0]
    return scores.astype(result, copy=False)
