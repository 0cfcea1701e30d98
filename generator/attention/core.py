"""Scaled dot-product attention and single-head self-attention.

Shape letters: N query positions, M key/value positions, d_k query/key width,
d_v value width, D model width; ``...`` is any number of leading batch dims,
broadcast like ``matmul``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import (
    as_mask,
    attention_inputs,
    broadcast_batch,
    check_exact,
    check_ndim,
    compute_dtype,
    float_input,
    resolve_scale,
)
from attention_atlas.attention.softmax import LOG2E, softmax_inplace

__all__ = [
    "SelfAttention",
    "attention_weights",
    "scaled_dot_product_attention",
    "self_attention",
]

Array = NDArray[Any]

#: Maps at least this big per batch item are computed one item at a time, so each
#: item's map stays in cache between the matmul, the exp and the normalisation.
_ITEM_BYTES = 256 * 2**10

#: How the scores are named in errors (an overflow of q k^T, for example).
_SCORES = "scores (scaled q k^T)"


def _item(a: Array, index: tuple[int, ...]) -> Array:
    """The (core) matrix of ``a`` at batch ``index``, honouring broadcasting."""
    lead = a.ndim - 2
    tail = index[len(index) - lead :] if lead else ()
    return a[tuple(0 if a.shape[i] == 1 else j for i, j in enumerate(tail))]


def _weights(
    q: Array, k: Array, mask: Array | None, scale: float, out: Array | None, base2: bool
) -> Array:
    """``softmax(scale q k^T, mask)`` for q (..., N, d_k), k (..., M, d_k), into ``out``.

    The scale (times log2(e) for the faster ``exp2`` when ``base2``) is folded into
    ``q`` (an (N, d_k) product instead of an (N, M) one, freed once the scores
    exist) and the softmax runs in place on the ``matmul`` output.
    """
    factor = scale * LOG2E if base2 else scale
    with np.errstate(over="ignore"):  # an overflow is reported by the softmax
        scores = np.matmul(q * q.dtype.type(factor), k.swapaxes(-1, -2), out=out)
    return softmax_inplace(scores, mask, base2=base2, name=_SCORES, from_finite=True)


def attend(
    q: Array,
    k: Array,
    v: Array | None,
    mask: Array | None,
    scale: float,
    weights_out: Array | None = None,
    *,
    base2: bool = True,
) -> tuple[Array, Array]:
    """Unchecked kernel: ``(softmax(scale q k^T, mask) v, weights)``.

    ``q`` (..., N, d_k), ``k`` (..., M, d_k) and ``v`` (..., M, d_v) share one
    float dtype; ``mask`` is boolean and broadcastable to (..., N, M);
    ``weights_out``, when given, is a C-contiguous array of the full (..., N, M)
    shape and that dtype, and receives the weights. With ``v=None`` only the
    weights are computed and ``out`` is an empty (..., N, 0) array. The only
    large allocation is the map itself. Large maps are computed one batch item
    (for example one head) at a time, so each stays in cache from the product to
    the normalisation: a loop over batch items, never over queries or keys.
    ``base2=False`` takes ``exp`` instead of the faster ``exp2``: folding log2(e)
    into float32 scores costs one more rounding, which a model compared with a
    reference implementation to 1e-6 cannot afford.
    """
    n, m = q.shape[-2], k.shape[-2]
    d_v = 0 if v is None else v.shape[-1]
    shapes = [q.shape[:-2], k.shape[:-2]] + ([] if v is None else [v.shape[:-2]])
    if mask is not None and mask.ndim > 2:
        shapes.append(mask.shape[:-2])
    batch = broadcast_batch(shapes)
    if math.prod(batch) <= 1 or n * m * q.dtype.itemsize < _ITEM_BYTES:
        weights = _weights(q, k, mask, scale, weights_out, base2)
        out = np.empty((*weights.shape[:-1], 0), q.dtype) if v is None else weights @ v
        return out, weights
    weights = np.empty((*batch, n, m), dtype=q.dtype) if weights_out is None else weights_out
    out = np.empty((*batch, n, d_v), dtype=q.dtype)
    for index in np.ndindex(*batch):  # batch items (heads), each a whole (N, M) map
        part = None if mask is None else _item(mask, index) if mask.ndim >= 2 else mask
        w = _weights(_item(q, index), _item(k, index), part, scale, weights[index], base2)
        if v is not None:
            np.matmul(w, _item(v, index), out=out[index])
    return out, weights


def scaled_dot_product_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> tuple[Array, Array]:
    """Scaled dot-product attention, returning the output and the weights.

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k) or (d_k,)
        Queries. A 1-D ``q`` is one query; the N axis is then dropped from both
        results.
    k : ndarray, shape (..., M, d_k)
        Keys.
    v : ndarray, shape (..., M, d_v)
        Values.
    mask : ndarray of bool, broadcastable to (..., N, M), optional
        True where query n may attend to key m. A row with nothing to attend gets
        all-zero weights and a zero output row.
    scale : float, optional
        Multiplies the scores; defaults to ``1 / sqrt(d_k)``. Use ``scale=1`` for
        plain dot-product attention.

    Returns
    -------
    out : ndarray, shape (..., N, d_v)
        Each row is the weights-weighted sum of the value rows.
    weights : ndarray, shape (..., N, M)
        ``softmax(scale q k^T)`` with masked entries exactly 0; rows sum to 1.

    Raises
    ------
    ShapeError
        Feature or position counts disagree, batch dims do not broadcast, or the
        mask does not broadcast to (..., N, M).
    AtlasError
        An input holds NaN or infinity.

    Notes
    -----
    ``out = softmax(scale Q K^T + log mask) V``. Two ``matmul`` calls cost
    O(N M (d_k + d_v)); the softmax is O(N M) and runs in place, so peak extra
    memory is about one (..., N, M) array. float16 inputs are computed in float32
    and returned as float16; integers give float64.

    Examples
    --------
    >>> keys = [[3, 12, 45], [59, 2, 5], [1, 43, 5], [4, 3, 45.3]]
    >>> out, weights = scaled_dot_product_attention([5, 1, 20], keys, keys, scale=1)
    >>> weights.round(4).tolist()
    [0.1192, 0.0, 0.0, 0.8808]
    """
    x = attention_inputs(q, k, v, mask, allow_one_query=True)
    out, weights = attend(x.q, x.k, x.v, x.mask, resolve_scale(scale, x.q.shape[-1]))
    if x.one_query:
        out, weights = out[..., 0, :], weights[..., 0, :]
    return out.astype(x.result, copy=False), weights.astype(x.result, copy=False)


def attention_weights(
    q: ArrayLike,
    k: ArrayLike,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> Array:
    """Only the attention map ``softmax(scale q k^T)``, without values or output.

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k) or (d_k,)
    k : ndarray, shape (..., M, d_k)
    mask : ndarray of bool, broadcastable to (..., N, M), optional
        True where query n may attend to key m.
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    weights : ndarray, shape (..., N, M)
        The same array :func:`scaled_dot_product_attention` returns as weights.

    Notes
    -----
    One ``matmul``, O(N M d_k), and an in-place softmax, O(N M); peak extra
    memory is about the weights array. Use it when only the map is drawn.
    """
    x = attention_inputs(q, k, None, mask, allow_one_query=True)
    _, weights = attend(x.q, x.k, None, x.mask, resolve_scale(scale, x.q.shape[-1]))
    if x.one_query:
        weights = weights[..., 0, :]
    return weights.astype(x.result, copy=False)


@dataclass(frozen=True)
class SelfAttention:
    """Every intermediate of one self-attention head, as a visualisation needs.

    Attributes
    ----------
    q : ndarray, shape (..., N, d_k)
        Queries ``x W_q``.
    k : ndarray, shape (..., N, d_k)
        Keys ``x W_k``.
    v : ndarray, shape (..., N, d_v)
        Values ``x W_v``.
    scores : ndarray, shape (..., N, N)
        Scaled scores ``q k^T * scale`` before masking and softmax.
    weights : ndarray, shape (..., N, N)
        ``softmax(scores)`` with masked entries exactly 0 (the matrix to read).
    out : ndarray, shape (..., N, d_v)
        ``weights v``, the layer output (often called Z).
    """

    q: Array
    k: Array
    v: Array
    scores: Array
    weights: Array
    out: Array


def self_attention(
    x: ArrayLike,
    w_q: ArrayLike,
    w_k: ArrayLike,
    w_v: ArrayLike,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> SelfAttention:
    """Single-head self-attention of a sequence with itself, keeping intermediates.

    Parameters
    ----------
    x : ndarray, shape (..., N, D)
        Input sequence, one row per position.
    w_q : ndarray, shape (D, d_k)
    w_k : ndarray, shape (D, d_k)
    w_v : ndarray, shape (D, d_v)
    mask : ndarray of bool, broadcastable to (..., N, N), optional
        True where position n may attend to position m (for example a causal
        mask ``np.tril(np.ones((N, N), bool))``).
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    SelfAttention
        ``q, k, v, scores, weights, out`` (see the class).

    Notes
    -----
    ``Q = X W_q, K = X W_k, V = X W_v, Z = softmax(scale Q K^T) V``. Cost
    O(N D (2 d_k + d_v)) for the projections and O(N^2 (d_k + d_v)) for the
    attention; keeping ``scores`` next to ``weights`` doubles the (N, N) memory.
    Permuting the rows of ``x`` (and the mask) permutes ``out`` the same way.
    """
    xa = float_input(x, "x")
    wq = float_input(w_q, "w_q")
    wk = float_input(w_k, "w_k")
    wv = float_input(w_v, "w_v")
    work, result = compute_dtype(xa, wq, wk, wv)
    check_ndim(xa, "x", 2, "(..., N, D)")
    d_model = xa.shape[-1]
    check_ndim(wq, "w_q", 2, "(D, d_k)")
    check_exact(wq, "w_q", (d_model, wq.shape[-1]), "(D, d_k)")
    check_exact(wk, "w_k", wq.shape, "(D, d_k)")
    check_ndim(wv, "w_v", 2, "(D, d_v)")
    check_exact(wv, "w_v", (d_model, wv.shape[-1]), "(D, d_v)")
    n = xa.shape[-2]
    m = None if mask is None else as_mask(mask, (*xa.shape[:-2], n, n), "(..., N, N)")
    xa, wq, wk, wv = (a.astype(work, copy=False) for a in (xa, wq, wk, wv))
    q, k, v = xa @ wq, xa @ wk, xa @ wv  # (..., N, d_k), (..., N, d_k), (..., N, d_v)
    s = resolve_scale(scale, wq.shape[-1])
    with np.errstate(over="ignore"):  # an overflow is reported by the softmax
        scores = np.matmul(q * q.dtype.type(s), k.swapaxes(-1, -2))  # (..., N, N)
    weights = softmax_inplace(scores.copy(), m, name=_SCORES, from_finite=True)
    out = weights @ v  # (..., N, d_v)

    def cast(a: Array) -> Array:
        return a.astype(result, copy=False)

    return SelfAttention(cast(q), cast(k), cast(v), cast(scores), cast(weights), cast(out))
