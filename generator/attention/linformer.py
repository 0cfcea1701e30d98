"""Linformer: attention over a sequence compressed from M to P positions."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from attention_atlas.attention._checks import (
    batch_shape,
    check_exact,
    check_last,
    check_ndim,
    compute_dtype,
    float_input,
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
    qa = float_input(q, "q")
    ka = float_input(k, "k")
    va = float_input(v, "v")
    ea = float_input(e, "e")
    fa = float_input(f, "f")
    work, result = compute_dtype(qa, ka, va, ea, fa)
    check_ndim(qa, "q", 2, "(..., N, d_k)")
    check_ndim(ka, "k", 2, "(..., M, d_k)")
    check_ndim(va, "v", 2, "(..., M, d_v)")
    check_last(qa, "q", ka, "k", "features (d_k)")
    check_last(ka, "k", va, "v", "positions (M)", axis=-2)
    batch_shape(("q", qa, 2), ("k", ka, 2), ("v", va, 2))
    m_len = ka.shape[-2]
    if ea.ndim != 2:
        msg = f"e must have shape (P, M), got {ea.shape}"
        raise ShapeError(msg)
    check_exact(ea, "e", (ea.shape[0], m_len), "(P, M) with M from k")
    check_exact(fa, "f", ea.shape, "(P, M) like e")
    s = resolve_scale(scale, qa.shape[-1])
    qa, ka, va, ea, fa = (a.astype(work, copy=False) for a in (qa, ka, va, ea, fa))
    k_proj = np.matmul(ea, ka)  # (..., P, d_k)
    v_proj = np.matmul(fa, va)  # (..., P, d_v)
    out, weights = attend(qa, k_proj, v_proj, None, s)  # (..., N, d_v), (..., N, P)
    return out.astype(result, copy=False), weights.astype(result, copy=False)


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
