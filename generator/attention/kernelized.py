"""Kernelized (linear-cost) attention: Performer FAVOR+ and elu+1 linear attention.

Both replace ``exp(q . k)`` by a dot product of positive feature maps
``phi(q) . phi(k)``, so ``phi(Q) (phi(K)^T V)`` can be computed without ever
forming the (N, M) map. On request they also build that implied map, so it can
be drawn next to the exact softmax map.

Both work from the logarithms of their features, in float64 whatever the input
dtype: each query's features are shifted by their own maximum and all keys'
features by one common maximum (the stabilisation of the Performer authors), so
no feature overflows and the shifts cancel in the normalisation. When inputs are
so large that a query's every product with the keys underflows even so, the
result cannot be represented at linear cost and an error says so, instead of a
silent zero row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import attention_inputs, positive_int, resolve_scale
from attention_atlas.errors import AtlasError

__all__ = ["linear_attention", "performer_attention", "random_features"]

Array = NDArray[Any]
F64 = np.float64


def _exp_stabilised(log_phi: Array, axes: int | tuple[int, ...], name: str, what: str) -> Array:
    """``exp(log_phi - max over axes)`` in place: features in (0, 1], the largest exactly 1.

    ``log_phi`` holds float64 feature logarithms; a non-finite one means the
    argument ``name`` is too large for ``what`` and raises AtlasError.
    """
    if not np.isfinite(log_phi).all():
        msg = (
            f"{name} is too large in magnitude for {what}: the logarithms of its features "
            f"overflow float64; scale {name} down"
        )
        raise AtlasError(msg)
    if log_phi.size:
        log_phi -= np.max(log_phi, axis=axes, keepdims=True)
    return np.exp(log_phi, out=log_phi)


def _feature_attention(
    log_q: Array, log_k: Array, v: Array, return_weights: bool, what: str
) -> tuple[Array, Array | None]:
    """Attention through positive features given by their logarithms, in float64.

    ``log_q`` (..., N, r) and ``log_k`` (..., M, r) are the feature logarithms,
    ``v`` (..., M, d_v). Returns ``phi_q (phi_k^T v) / (phi_q . sum_m phi_k)``
    (..., N, d_v) and, when asked, the implied map (..., N, M) with rows
    normalised to 1. With no keys (M = 0) every row attends to nothing: zeros.
    """
    phi_q = _exp_stabilised(log_q, -1, "q", what)  # per query: cancels in its row
    phi_k = _exp_stabilised(log_k, (-2, -1), "k", what)  # one shift per batch item
    v64 = v.astype(F64, copy=False)
    kv = np.matmul(np.swapaxes(phi_k, -1, -2), v64)  # (..., r, d_v)
    k_sum = phi_k.sum(axis=-2)[..., :, None]  # (..., r, 1)
    den = np.matmul(phi_q, k_sum)  # (..., N, 1)
    if phi_k.shape[-2] == 0:  # no keys: nothing to attend, zeros like a fully masked row
        den[...] = np.inf
    else:
        _check_den(den, phi_q.shape[-1] * phi_k.shape[-2], what)
    out = np.matmul(phi_q, kv) / den  # (..., N, d_v)
    weights = None
    if return_weights:
        weights = np.matmul(phi_q, np.swapaxes(phi_k, -1, -2))  # (..., N, M)
        weights /= den
    return out, weights


def _check_den(den: Array, terms: int, what: str) -> None:
    """Raise when a query's normaliser is too small to hold its products exactly.

    The normaliser sums ``terms`` products of features in (0, 1]; products below
    float64's smallest normal number lose precision or vanish, so a normaliser
    under ``terms * tiny / eps`` would leave a row wrong by more than rounding
    (or all zero).
    """
    info = np.finfo(F64)
    low = terms * float(info.tiny) / float(info.eps)
    small = den < low
    if small.any():
        msg = (
            f"q and k are too large in magnitude for {what}: for {int(small.sum())} query "
            f"row(s) every product of its features with the keys' underflows float64, so "
            f"their weights cannot be computed at linear cost; scale q and k down (or use "
            f"exact attention, which handles any finite scores)"
        )
        raise AtlasError(msg)


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
    x = attention_inputs(q, k, v)
    s = resolve_scale(scale, x.q.shape[-1])
    if s < 0:
        msg = f"scale must be >= 0 for random features (they use sqrt(scale)), got {s}"
        raise AtlasError(msg)
    w = random_features(num_features, x.q.shape[-1], seed, orthogonal)  # (r, d_k), float64
    root = np.sqrt(s)

    def log_features(a: Array) -> Array:
        """``W a' - |a'|^2 / 2`` with ``a' = sqrt(scale) a``: (..., L, d_k) -> (..., L, r)."""
        with np.errstate(over="ignore", invalid="ignore"):  # too large: reported as such
            xs = a.astype(F64) * root
            log_phi = np.matmul(xs, w.T)
            log_phi -= 0.5 * np.einsum("...d,...d->...", xs, xs)[..., None]
        return log_phi

    log_q, log_k = log_features(x.q), log_features(x.k)
    out, weights = _feature_attention(log_q, log_k, x.v, return_weights, "performer_attention")
    return _cast(out, weights, x.result)


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
    x = attention_inputs(q, k, v)

    def log_phi(a: Array) -> Array:
        """``log(elu(a) + 1)``: ``log1p(a)`` where a > 0, ``a`` itself elsewhere."""
        a64 = a.astype(F64)
        return np.where(a64 > 0, np.log1p(np.maximum(a64, 0.0)), a64)

    log_q, log_k = log_phi(x.q), log_phi(x.k)
    out, weights = _feature_attention(log_q, log_k, x.v, return_weights, "linear_attention")
    return _cast(out, weights, x.result)


def _cast(out: Array, weights: Array | None, result: np.dtype[Any]) -> tuple[Array, Array | None]:
    return out.astype(result), None if weights is None else weights.astype(result)
