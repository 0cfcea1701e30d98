"""Attention rollout (Abnar and Zuidema, 2020): attention multiplied through the layers.

A layer's output at position i is its input at i (the residual connection) plus what
its heads gather. Rollout models that as the matrix ``A' = (1 - r) mean_heads(A) + r I``
with rows renormalised, and multiplies these matrices from the first layer up, so
row i of the result says how the last layer's position i is made of the input
tokens *if* attention weights and the residual were the only way information moved.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.errors import AtlasError, ShapeError

__all__ = ["attention_rollout", "residual_attention"]


def _attentions(attentions: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(attentions, dtype=np.float64)
    if a.ndim != 4 or a.shape[-1] != a.shape[-2] or 0 in a.shape:
        msg = (
            "attentions must have shape (L, H, N, N) with L, H, N >= 1 "
            f"(layers, heads, tokens, tokens), got shape {a.shape}"
        )
        raise ShapeError(msg)
    if not np.isfinite(a).all() or (a < 0).any():
        msg = "attentions must be finite and non-negative (post-softmax weights)"
        raise AtlasError(msg)
    return a


def residual_attention(attentions: ArrayLike, residual: float = 0.5) -> NDArray[np.float64]:
    """Each layer's heads averaged and mixed with the identity: rollout's per-layer matrix.

    Parameters
    ----------
    attentions : ndarray, shape (L, H, N, N)
        Post-softmax weights of every layer and head (rows are queries).
    residual : float in [0, 1]
        Weight of the identity (the residual connection); 0.5 as in the paper.

    Returns
    -------
    ndarray of float64, shape (L, N, N)
        ``A'_l = (1 - residual) mean_h A[l, h] + residual I``, each row divided by its
        sum. A row that is all zero in every head becomes the identity row.
    """
    a = _attentions(attentions)
    if not 0.0 <= residual <= 1.0:
        msg = f"residual must be in [0, 1], got {residual}"
        raise AtlasError(msg)
    n = a.shape[-1]
    mixed = (1.0 - residual) * a.mean(axis=1) + residual * np.eye(n)  # (L, N, N)
    total = mixed.sum(axis=-1, keepdims=True)  # (L, N, 1)
    # An all-zero row with residual 0 stays zero: it sends nothing on.
    return np.divide(mixed, total, out=np.zeros_like(mixed), where=total > 0)


def attention_rollout(attentions: ArrayLike, residual: float = 0.5) -> NDArray[Any]:
    """Attention rolled out through the layers, after each layer.

    Parameters
    ----------
    attentions : ndarray, shape (L, H, N, N)
    residual : float in [0, 1]
        See :func:`residual_attention`.

    Returns
    -------
    ndarray of float64, shape (L, N, N)
        ``R_0 = A'_0`` and ``R_l = A'_l R_{l-1}``: row i of ``R_l`` is how much of
        position i after layer l traces back to each input token. Rows sum to 1.

    Notes
    -----
    L matrix products of (N, N) matrices: O(L N^3) time, O(L N^2) memory. The matrix
    of a later layer multiplies on the left because it acts on the earlier layer's
    output.
    """
    layers = residual_attention(attentions, residual)  # (L, N, N)
    out = np.empty_like(layers)
    out[0] = layers[0]
    for layer in range(1, len(layers)):  # a chain of products: one step per layer
        np.matmul(layers[layer], out[layer - 1], out=out[layer])
    return out
