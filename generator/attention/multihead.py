"""Multi-head attention: project, split into heads, attend, merge, project back.

Shape letters: H heads, N query positions, M key/value positions, D model width,
d_k/d_v per-head widths; ``...`` is any number of leading batch dims.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import (
    as_mask,
    batch_shape,
    check_exact,
    check_ndim,
    compute_dtype,
    float_input,
    positive_int,
)
from attention_atlas.attention.core import attend
from attention_atlas.errors import ShapeError

__all__ = ["multi_head_attention"]

Array = NDArray[Any]


def _split_heads(y: Array, heads: int) -> Array:
    """(..., L, H*d) -> (..., H, L, d): head h takes columns ``h*d:(h+1)*d``."""
    *lead, length, width = y.shape
    return y.reshape(*lead, length, heads, width // heads).swapaxes(-2, -3)


def _merge_heads(y: Array) -> Array:
    """(..., H, L, d) -> (..., L, H*d), the inverse of :func:`_split_heads`."""
    y = y.swapaxes(-2, -3)  # (..., L, H, d)
    return y.reshape(*y.shape[:-2], y.shape[-2] * y.shape[-1])


def multi_head_attention(
    x_q: ArrayLike,
    x_kv: ArrayLike,
    w_q: ArrayLike,
    w_k: ArrayLike,
    w_v: ArrayLike,
    w_o: ArrayLike,
    num_heads: int,
    mask: ArrayLike | None = None,
    b_q: ArrayLike | None = None,
    b_k: ArrayLike | None = None,
    b_v: ArrayLike | None = None,
    b_o: ArrayLike | None = None,
) -> tuple[Array, Array]:
    """Multi-head scaled dot-product attention (self- or cross-attention).

    Parameters
    ----------
    x_q : ndarray, shape (..., N, D)
        Sequence the queries come from.
    x_kv : ndarray, shape (..., M, D_kv)
        Sequence the keys and values come from (``x_q`` again for
        self-attention). ``D_kv`` may differ from ``D``.
    w_q : ndarray, shape (D, H*d_k)
    w_k : ndarray, shape (D_kv, H*d_k)
    w_v : ndarray, shape (D_kv, H*d_v)
    w_o : ndarray, shape (H*d_v, D_out)
        Output projection (``D_out`` is usually ``D``).
    num_heads : int
        H; must divide ``H*d_k`` and ``H*d_v``. Head h uses columns
        ``h*d_k:(h+1)*d_k`` of ``w_q`` and ``w_k`` (the layout of BERT and
        PyTorch).
    mask : ndarray of bool, broadcastable to (..., N, M), optional
        True where query n may attend to key m; the same mask applies to every
        head. A key padding mask of shape (B, M) is passed as ``mask[:, None, :]``.
    b_q : ndarray, shape (H*d_k,), optional
    b_k : ndarray, shape (H*d_k,), optional
    b_v : ndarray, shape (H*d_v,), optional
    b_o : ndarray, shape (D_out,), optional
        Biases added after the matching projection.

    Returns
    -------
    out : ndarray, shape (..., N, D_out)
        ``concat_h(head_h) @ w_o + b_o``.
    weights : ndarray, shape (..., H, N, M)
        Each head's attention weights; rows sum to 1 (or are all 0 when masked
        out entirely).

    Raises
    ------
    ShapeError
        A weight or bias has the wrong shape, ``num_heads`` does not divide the
        projection width, or the mask does not broadcast to (..., N, M).
    AtlasError
        An input holds NaN or infinity, or ``num_heads`` is not a positive integer.

    Notes
    -----
    ``head_h = softmax(Q_h K_h^T / sqrt(d_k)) V_h`` with ``Q = x_q W_q + b_q``,
    ``K = x_kv W_k + b_k``, ``V = x_kv W_v + b_v`` split column-wise into H heads.
    Cost: projections O((N D + M D_kv) H d) and O(N H d_v D_out); attention
    O(H N M (d_k + d_v)). The scale is folded into the queries and the softmax
    runs in place, so peak extra memory is about the returned weights. float16
    inputs are computed in float32 and returned as float16.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((5, 8))
    >>> w = rng.standard_normal((8, 8))
    >>> out, weights = multi_head_attention(x, x, w, w, w, w, num_heads=2)
    >>> out.shape, weights.shape
    ((5, 8), (2, 5, 5))
    """
    heads = positive_int(num_heads, "num_heads")
    xq = float_input(x_q, "x_q")
    xkv = xq if x_kv is x_q else float_input(x_kv, "x_kv")  # self-attention: checked once
    wq, wk, wv, wo = (
        float_input(w, n) for w, n in ((w_q, "w_q"), (w_k, "w_k"), (w_v, "w_v"), (w_o, "w_o"))
    )
    biases = {
        name: None if b is None else float_input(b, name)
        for name, b in (("b_q", b_q), ("b_k", b_k), ("b_v", b_v), ("b_o", b_o))
    }
    present = [b for b in biases.values() if b is not None]
    work, result = compute_dtype(xq, xkv, wq, wk, wv, wo, *present)

    check_ndim(xq, "x_q", 2, "(..., N, D)")
    check_ndim(xkv, "x_kv", 2, "(..., M, D_kv)")
    for name, w, what in (
        ("w_q", wq, "(D, H*d_k)"),
        ("w_k", wk, "(D_kv, H*d_k)"),
        ("w_v", wv, "(D_kv, H*d_v)"),
        ("w_o", wo, "(H*d_v, D_out)"),
    ):
        if w.ndim != 2:
            msg = f"{name} must have shape {what}, got {w.shape} ({w.ndim}-D)"
            raise ShapeError(msg)
    hdk, hdv = wq.shape[1], wv.shape[1]
    check_exact(wq, "w_q", (xq.shape[-1], hdk), "(D, H*d_k) with D from x_q")
    check_exact(wk, "w_k", (xkv.shape[-1], hdk), "(D_kv, H*d_k) with D_kv from x_kv")
    check_exact(wv, "w_v", (xkv.shape[-1], hdv), "(D_kv, H*d_v) with D_kv from x_kv")
    check_exact(wo, "w_o", (hdv, wo.shape[1]), "(H*d_v, D_out) with H*d_v from w_v")
    for width, name in ((hdk, "H*d_k (w_q.shape[1])"), (hdv, "H*d_v (w_v.shape[1])")):
        if width % heads:
            msg = (
                f"num_heads={heads} must divide {name} = {width}, "
                f"but {width} % {heads} = {width % heads}"
            )
            raise ShapeError(msg)
    for name, size, what in (
        ("b_q", hdk, "(H*d_k,)"),
        ("b_k", hdk, "(H*d_k,)"),
        ("b_v", hdv, "(H*d_v,)"),
        ("b_o", wo.shape[1], "(D_out,)"),
    ):
        b = biases[name]
        if b is not None:
            check_exact(b, name, (size,), what)
    batch = batch_shape(("x_q", xq, 2), ("x_kv", xkv, 2))
    m = None
    if mask is not None:
        m = as_mask(mask, (*batch, xq.shape[-2], xkv.shape[-2]), "(..., N, M)")
        if m.ndim >= 2:
            m = m[..., None, :, :]  # same mask for every head: (..., 1, N, M)

    xq, xkv, wq, wk, wv, wo = (a.astype(work, copy=False) for a in (xq, xkv, wq, wk, wv, wo))
    bq, bk, bv, bo = (None if b is None else b.astype(work, copy=False) for b in biases.values())

    def project(x: Array, w: Array, b: Array | None) -> Array:
        return x @ w if b is None else x @ w + b

    q = _split_heads(project(xq, wq, bq), heads)  # (..., H, N, d_k)
    k = _split_heads(project(xkv, wk, bk), heads)  # (..., H, M, d_k)
    v = _split_heads(project(xkv, wv, bv), heads)  # (..., H, M, d_v)
    heads_out, weights = attend(q, k, v, m, 1.0 / float(np.sqrt(hdk // heads)))  # (..., H, N, d_v)
    out = project(_merge_heads(heads_out), wo, bo)  # (..., N, D_out)
    return out.astype(result, copy=False), weights.astype(result, copy=False)
