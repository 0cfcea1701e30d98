"""Linformer: attention over a sequence compressed from M to P positions."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from attention_atlas.attention._checks import (
    attention_inputs,
    check_exact,
    check_ndim,
    positive_int,
    resolve_scale,
)
from attention_atlas.attention.core import attend
from attention_atlas.errors import ShapeError

__all__ = ["linformer_attention", "pooling_projection"]

Array = NDArray[Any]


def linformer_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    e: ArrayLike,
    f: ArrayLike,
    scale: float | None = None,
) -> tuple[Array, Array]:
    """Linformer attention: project keys and values along the sequence, then attend.

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k)
    k : ndarray, shape (..., M, d_k)
    v : ndarray, shape (..., M, d_v)
    e : ndarray, shape (P, M)
        Projects the M keys down to P (``E K``).
    f : ndarray, shape (P, M)
        Projects the M values down to P (``F V``).
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    out : ndarray, shape (..., N, d_v)
    weights : ndarray, shape (..., N, P)
        Attention over the P projected positions; rows sum to 1.

    Notes
    -----
    ``out = softmax(scale Q (E K)^T) (F V)``. Projecting costs
    O(P M (d_k + d_v)) and attending O(N P (d_k + d_v)), instead of
    O(N M (d_k + d_v)) for full attention; the map is (N, P) instead of (N, M).
    With P = M and ``e = f = identity`` it equals full attention. Use
    :func:`pooling_projection` for the parameter-free convolutional (mean-pooling)
    variant.
    """
    x = attention_inputs(q, k, v, extra={"e": e, "f": f})
    ea, fa = x.extra["e"], x.extra["f"]
    check_ndim(ea, "e", 2, "(P, M)")
    check_exact(ea, "e", (ea.shape[0], x.k.shape[-2]), "(P, M) with M from k")
    check_exact(fa, "f", ea.shape, "(P, M) like e")
    k_proj = np.matmul(ea, x.k)  # (..., P, d_k)
    v_proj = np.matmul(fa, x.v)  # (..., P, d_v)
    s = resolve_scale(scale, x.q.shape[-1])
    out, weights = attend(x.q, k_proj, v_proj, None, s)  # (..., N, d_v), (..., N, P)
    return out.astype(x.result, copy=False), weights.astype(x.result, copy=False)


def pooling_projection(m: int, p: int, dtype: DTypeLike = np.float64) -> Array:
    """The (P, M) mean-pooling matrix of Linformer's convolutional projection.

    Parameters
    ----------
    m : int
        Sequence length M.
    p : int
        Projected length P; must divide ``m``.
    dtype : dtype, default float64

    Returns
    -------
    e : ndarray, shape (P, M)
        Row i holds ``P / M`` on columns ``i*M/P : (i+1)*M/P`` and 0 elsewhere:
        it averages the i-th block of M/P consecutive positions (kernel = stride
        = M/P, equal weights). Each row sums to 1.

    Raises
    ------
    ShapeError
        ``m`` is not a multiple of ``p`` (blocks would be uneven; pad the
        sequence or pick a P that divides M).
    AtlasError
        ``m`` or ``p`` is not a positive integer.

    Notes
    -----
    Cost O(P M) to build; ``e @ k`` then costs O(P M d) (a reshape-mean would be
    O(M d), but the matrix form is what Linformer's equations use).
    """
    m_len = positive_int(m, "m")
    p_len = positive_int(p, "p")
    if m_len % p_len:
        msg = (
            f"pooling_projection needs m to be a multiple of p so every block has "
            f"m/p positions: got m={m_len}, p={p_len} ({m_len} % {p_len} = {m_len % p_len})"
        )
        raise ShapeError(msg)
    width = m_len // p_len
    block = np.arange(m_len) // width  # block index of each position
    return (block[None, :] == np.arange(p_len)[:, None]).astype(dtype) / width
