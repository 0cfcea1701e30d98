"""Kernelized (linear-cost) attention: Performer FAVOR+ and elu+1 linear attention.

Both replace ``exp(q . k)`` by a dot product of feature maps ``phi(q) . phi(k)``,
so ``phi(Q) (phi(K)^T V)`` can be computed without ever forming the (N, M) map.
On request they also build that implied map, so it can be drawn next to the
exact softmax map.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import (
    batch_shape,
    check_last,
    check_ndim,
    compute_dtype,
    float_input,
    positive_int,
    resolve_scale,
)

__all__ = ["linear_attention", "performer_attention", "random_features"]

Array = NDArray[Any]


def _prepare(q: ArrayLike, k: ArrayLike, v: ArrayLike) -> tuple[Array, Array, Array, np.dtype[Any]]:
    qa = float_input(q, "q")
    ka = float_input(k, "k")
    va = float_input(v, "v")
    work, result = compute_dtype(qa, ka, va)
    check_ndim(qa, "q", 2, "(..., N, d_k)")
    check_ndim(ka, "k", 2, "(..., M, d_k)")
    check_ndim(va, "v", 2, "(..., M, d_v)")
    check_last(qa, "q", ka, "k", "features (d_k)")
    check_last(ka, "k", va, "v", "positions (M)", axis=-2)
    batch_shape(("q", qa, 2), ("k", ka, 2), ("v", va, 2))
    return (
        qa.astype(work, copy=False),
        ka.astype(work, copy=False),
        va.astype(work, copy=False),
        result,
    )


def _feature_attention(
    phi_q: Array, phi_k: Array, v: Array, return_weights: bool
) -> tuple[Array, Array | None]:
    """``phi_q (phi_k^T v)`` normalised by ``phi_q . sum_m phi_k`` (features >= 0)."""
    kv = np.matmul(np.swapaxes(phi_k, -1, -2), v)  # (..., r, d_v)
    k_sum = phi_k.sum(axis=-2)[..., :, None]  # (..., r, 1)
    num = np.matmul(phi_q, kv)  # (..., N, d_v)
    den = np.matmul(phi_q, k_sum)  # (..., N, 1)
    den[den == 0] = np.inf  # a query whose features all underflowed attends to nothing
    out = num / den
    weights = None
    if return_weights:
        weights = np.matmul(phi_q, np.swapaxes(phi_k, -1, -2))  # (..., N, M)
        total = weights.sum(axis=-1, keepdims=True)
        total[total == 0] = np.inf
        weights /= total
    return out, weights


def random_features(
    num_features: int,
    d: int,
    seed: int | np.random.Generator = 0,
    orthogonal: bool = True,
) -> Array:
    """Gaussian projection directions for FAVOR+ positive random features.

    Parameters
    ----------
    num_features : int
        r, the number of random features.
    d : int
        Width of the vectors being mapped (d_k).
    seed : int or numpy.random.Generator, default 0
        Seed or generator; the same seed gives the same directions.
    orthogonal : bool, default True
        Draw the rows in orthogonal blocks of d (rescaled to Gaussian norms),
        which lowers the variance of the estimate.

    Returns
    -------
    w : ndarray of float64, shape (r, d)
        Rows distributed as N(0, I_d) (marginally).

    Notes
    -----
    Orthogonal blocks come from the QR decomposition of Gaussian (d, d)
    matrices, each row rescaled by the norm of an independent Gaussian vector
    (Choromanski et al., 2021). Cost O(ceil(r / d) d^3).
    """
    r = positive_int(num_features, "num_features")
    width = positive_int(d, "d")
    rng = np.random.default_rng(seed)
    if not orthogonal:
        return rng.standard_normal((r, width))
    blocks = -(-r // width)
    gauss = rng.standard_normal((blocks, width, width))
    basis, _ = np.linalg.qr(gauss)  # (blocks, d, d), orthonormal columns
    w = np.swapaxes(basis, -1, -2).reshape(blocks * width, width)[:r]
    norms = np.linalg.norm(rng.standard_normal((r, width)), axis=1)
    return np.asarray(w * norms[:, None])


def performer_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    num_features: int = 256,
    *,
    seed: int | np.random.Generator = 0,
    scale: float | None = None,
    orthogonal: bool = True,
    return_weights: bool = False,
) -> tuple[Array, Array | None]:
    """Performer (FAVOR+) attention with positive random features.

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k)
    k : ndarray, shape (..., M, d_k)
    v : ndarray, shape (..., M, d_v)
    num_features : int, default 256
        r, the number of random features; the estimate of softmax attention
        improves as r grows.
    seed : int or numpy.random.Generator, default 0
        Seeds the random features (see :func:`random_features`).
    scale : float, optional
        Score scale; defaults to ``1 / sqrt(d_k)``, as in softmax attention.
    orthogonal : bool, default True
        Use orthogonal random features.
    return_weights : bool, default False
        Also build the (..., N, M) map the features imply.

    Returns
    -------
    out : ndarray, shape (..., N, d_v)
    weights : ndarray, shape (..., N, M), or None
        The implied attention map ``phi(q) phi(k)^T`` with rows normalised to 1
        (non-negative); None unless ``return_weights``.

    Notes
    -----
    With ``x' = sqrt(scale) x`` and ``phi(x) = exp(W x' - |x'|^2 / 2) / sqrt(r)``,
    ``E[phi(q) . phi(k)] = exp(scale q . k)``, so
    ``out = phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1)`` estimates softmax attention
    (Choromanski et al., 2021). Cost O((N + M) r (d_k + d_v)) time and
    O((N + M) r) memory, against O(N M (d_k + d_v)) and O(N M) for the exact map;
    ``return_weights`` adds the O(N M r) map. Exponents are shifted by a
    per-query maximum and a global key maximum, which cancel in the normalisation.
    """
    qa, ka, va, result = _prepare(q, k, v)
    s = resolve_scale(scale, qa.shape[-1])
    w = random_features(num_features, qa.shape[-1], seed, orthogonal).astype(qa.dtype)
    root = qa.dtype.type(np.sqrt(s))

    def log_features(x: Array) -> Array:
        xs = x * root
        proj = np.matmul(xs, w.T)  # (..., L, r)
        proj -= 0.5 * np.sum(xs * xs, axis=-1, keepdims=True)
        return proj

    log_q = log_features(qa)
    log_q -= log_q.max(axis=-1, keepdims=True)  # per query: cancels in its row
    log_k = log_features(ka)
    log_k -= log_k.max(axis=(-2, -1), keepdims=True)  # one constant per batch item
    phi_q = np.exp(log_q, out=log_q)
    phi_k = np.exp(log_k, out=log_k)
    out, weights = _feature_attention(phi_q, phi_k, va, return_weights)
    return out.astype(result, copy=False), (
        None if weights is None else weights.astype(result, copy=False)
    )


def linear_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    return_weights: bool = False,
) -> tuple[Array, Array | None]:
    """Linear attention with the ``elu(x) + 1`` feature map (Katharopoulos et al., 2020).

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k)
    k : ndarray, shape (..., M, d_k)
    v : ndarray, shape (..., M, d_v)
    return_weights : bool, default False
        Also build the (..., N, M) map the features imply.

    Returns
    -------
    out : ndarray, shape (..., N, d_v)
    weights : ndarray, shape (..., N, M), or None
        ``phi(q) phi(k)^T`` with rows normalised to 1; None unless
        ``return_weights``.

    Notes
    -----
    ``phi(x) = elu(x) + 1`` (x + 1 for x > 0, exp(x) otherwise) is positive, and
    ``out = phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1)``. This is a different
    kernel from softmax, not an estimate of it. Cost O((N + M) d_k d_v) time
    against O(N M (d_k + d_v)) for softmax attention; ``return_weights`` adds
    O(N M d_k).
    """
    qa, ka, va, result = _prepare(q, k, v)

    def phi(x: Array) -> Array:
        return np.where(x > 0, x + 1, np.exp(np.minimum(x, 0)))

    out, weights = _feature_attention(phi(qa), phi(ka), va, return_weights)
    return out.astype(result, copy=False), (
        None if weights is None else weights.astype(result, copy=False)
    )
