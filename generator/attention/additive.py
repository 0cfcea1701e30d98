"""Additive sequence attention (Bahdanau; Wolfram's ``SequenceAttentionLayer``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import (
    as_mask,
    batch_shape,
    check_ndim,
    compute_dtype,
    float_input,
)
from attention_atlas.attention.scoring import additive_scores
from attention_atlas.attention.softmax import softmax_inplace

__all__ = ["additive_attention"]

Array = NDArray[Any]


def additive_attention(
    query: ArrayLike,
    inputs: ArrayLike,
    w_q: ArrayLike,
    w_k: ArrayLike,
    v: ArrayLike,
    mask: ArrayLike | None = None,
) -> tuple[Array, Array]:
    """Attend from each query over the input vectors with an additive scoring net.

    The output is a weighted sum of the *input* vectors, one row per query: a
    (4, 2) query against a (3, 2) input gives a (4, 2) output and (4, 3) weights.

    Parameters
    ----------
    query : ndarray, shape (..., N, d_q)
        One query vector per row (Wolfram's "Query" port).
    inputs : ndarray, shape (..., M, d)
        The vectors being attended to and averaged (Wolfram's "Input" port);
        they act as both keys and values.
    w_q : ndarray, shape (d_q, h)
    w_k : ndarray, shape (d, h)
    v : ndarray, shape (h,)
        Scoring-net parameters: ``score = v . tanh(query W_q + input W_k)``.
    mask : ndarray of bool, broadcastable to (..., N, M), optional
        True where query n may attend to input m.

    Returns
    -------
    out : ndarray, shape (..., N, d)
        ``out[n] = sum_m weights[n, m] inputs[m]``, a convex combination of the
        input rows.
    weights : ndarray, shape (..., N, M)
        Softmax of the scores over the inputs; each row sums to 1.

    Notes
    -----
    ``W = softmax_m(v . tanh(Q W_q + X W_k))``, ``out = W X``. Scoring costs
    O(N M h) (see :func:`additive_scores`), the weighted sum O(N M d).

    Examples
    --------
    >>> x = np.array([[1.0, 2], [3, 4], [5, 6]])
    >>> q = np.array([[1.0, 0], [0, 1], [0, 0], [1, 1]])
    >>> rng = np.random.default_rng(0)
    >>> out, weights = additive_attention(
    ...     q, x, rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=3)
    ... )
    >>> out.shape, weights.shape
    ((4, 2), (4, 3))
    """
    qa = float_input(query, "query")
    xa = float_input(inputs, "inputs")
    params = [float_input(w, name) for w, name in ((w_q, "w_q"), (w_k, "w_k"), (v, "v"))]
    work, result = compute_dtype(qa, xa, *params)
    check_ndim(qa, "query", 2, "(..., N, d_q)")
    check_ndim(xa, "inputs", 2, "(..., M, d)")
    batch = batch_shape(("query", qa, 2), ("inputs", xa, 2))
    m = None
    if mask is not None:
        m = as_mask(mask, (*batch, qa.shape[-2], xa.shape[-2]), "(..., N, M)")
    xa = xa.astype(work, copy=False)
    wq, wk, vv = (p.astype(work, copy=False) for p in params)
    scores = additive_scores(qa.astype(work, copy=False), xa, wq, wk, vv)  # (..., N, M), fresh
    weights = softmax_inplace(scores, m, name="additive scores")
    out = np.matmul(weights, xa)  # (..., N, d)
    return out.astype(result, copy=False), weights.astype(result, copy=False)
