"""Clustered attention: group similar queries, let each group's centroid attend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.attention._checks import (
    attention_inputs,
    check_ndim,
    compute_dtype,
    float_input,
    positive_int,
    resolve_scale,
)
from attention_atlas.attention.core import attend
from attention_atlas.errors import AtlasError, ShapeError

__all__ = ["ClusteredAttention", "clustered_attention", "kmeans"]

Array = NDArray[Any]


def kmeans(
    x: ArrayLike,
    num_clusters: int,
    *,
    iterations: int = 10,
    seed: int | np.random.Generator = 0,
) -> tuple[Array, Array]:
    """Lloyd's k-means on the rows of ``x``, vectorized over leading batch dims.

    Parameters
    ----------
    x : ndarray, shape (..., N, d)
        Points to cluster (for attention: the queries).
    num_clusters : int
        C, with ``1 <= C <= N``.
    iterations : int, default 10
        At most this many update steps (stops early once assignments settle).
    seed : int or numpy.random.Generator, default 0
        Seeds the k-means++ choice of starting points.

    Returns
    -------
    labels : ndarray of int64, shape (..., N)
        Index of the nearest centroid of each point.
    centroids : ndarray, shape (..., C, d)
        Mean of the points of each cluster (an empty cluster keeps its previous
        centroid).

    Notes
    -----
    Starting points are chosen by k-means++ (each new one sampled with
    probability proportional to its squared distance from the chosen ones),
    O(N C d). Each Lloyd step costs O(N C d) (one ``matmul`` for the distances
    and one for the sums); total O((iterations + 1) N C d). With C = N every
    point is its own cluster.
    """
    xa = float_input(x, "x")
    check_ndim(xa, "x", 2, "(..., N, d)")
    work, _ = compute_dtype(xa)
    xa = xa.astype(work, copy=False)
    c = positive_int(num_clusters, "num_clusters")
    steps = int(iterations)
    if steps < 0:
        msg = f"iterations must be >= 0, got {iterations}"
        raise AtlasError(msg)
    *lead, n, d = xa.shape
    if c > n:
        msg = f"num_clusters must be at most the number of points N = {n}, got {c} (x {xa.shape})"
        raise ShapeError(msg)
    pts = xa.reshape(-1, n, d)  # (B, N, d)
    # k-means does not change when every point is scaled alike: dividing each batch
    # item by a power of two near its largest entry (exact in floating point) keeps
    # squared distances from overflowing for huge points or vanishing for tiny ones.
    top = np.max(np.abs(pts), axis=(1, 2), keepdims=True) if pts.size else np.ones((1, 1, 1))
    unit = np.ldexp(np.ones_like(top), np.frexp(np.where(top > 0, top, 1))[1])  # (B, 1, 1)
    pts = pts / unit
    centroids = _kmeans_plus_plus(pts, c, np.random.default_rng(seed))  # (B, C, d)
    ids = np.arange(c)
    labels = _assign(pts, centroids)
    for _ in range(steps):
        onehot = (labels[..., None] == ids).astype(work)  # (B, N, C)
        counts = onehot.sum(axis=1)[..., None]  # (B, C, 1)
        sums = np.matmul(np.swapaxes(onehot, -1, -2), pts)  # (B, C, d)
        centroids = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        new = _assign(pts, centroids)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels.reshape(*lead, n), (centroids * unit).reshape(*lead, c, d)


def _kmeans_plus_plus(pts: Array, c: int, rng: np.random.Generator) -> Array:
    """k-means++ starting centroids, vectorized over the batch: (B, N, d) -> (B, C, d).

    One step per centroid, each O(N d) over all points of all batch items. With
    C = N every point is a centroid and no sampling is needed.
    """
    b, n, _ = pts.shape
    if c == n:
        return pts.copy()
    rows = np.arange(b)
    chosen = np.empty((b, c), dtype=np.int64)
    chosen[:, 0] = rng.integers(n, size=b)
    gap = np.sum((pts - pts[rows, chosen[:, 0]][:, None, :]) ** 2, axis=-1)  # (B, N)
    for j in range(1, c):  # one step per centroid
        cum = np.cumsum(gap, axis=-1)  # sample with probability proportional to gap
        threshold = rng.random(b) * cum[:, -1]
        pick = np.minimum(np.sum(cum <= threshold[:, None], axis=-1), n - 1)
        chosen[:, j] = pick
        np.minimum(gap, np.sum((pts - pts[rows, pick][:, None, :]) ** 2, axis=-1), out=gap)
    return np.take_along_axis(pts, chosen[..., None], axis=1)


def _assign(pts: Array, centroids: Array) -> Array:
    """Nearest centroid by ``|c|^2 - 2 x . c`` (``|x|^2`` is the same for every c)."""
    dist = np.matmul(pts, np.swapaxes(centroids, -1, -2))  # (B, N, C)
    dist *= -2
    dist += np.sum(centroids * centroids, axis=-1)[:, None, :]
    return np.argmin(dist, axis=-1)


@dataclass(frozen=True)
class ClusteredAttention:
    """Result of :func:`clustered_attention`.

    Attributes
    ----------
    out : ndarray, shape (..., N, d_v)
        Each query's output: the output of its cluster's centroid.
    labels : ndarray of int, shape (..., N)
        Cluster of each query.
    centroids : ndarray, shape (..., C, d_k)
        Mean query of each cluster.
    centroid_weights : ndarray, shape (..., C, M)
        Attention weights of each centroid; rows sum to 1.
    weights : ndarray, shape (..., N, M), or None
        The implied full map (row n is ``centroid_weights[labels[n]]``); None
        unless requested.
    """

    out: Array
    labels: Array
    centroids: Array
    centroid_weights: Array
    weights: Array | None


def clustered_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    num_clusters: int,
    *,
    iterations: int = 10,
    seed: int | np.random.Generator = 0,
    scale: float | None = None,
    return_weights: bool = False,
) -> ClusteredAttention:
    """Clustered attention (Vyas et al., 2020): queries share their centroid's attention.

    Parameters
    ----------
    q : ndarray, shape (..., N, d_k)
    k : ndarray, shape (..., M, d_k)
    v : ndarray, shape (..., M, d_v)
    num_clusters : int
        C, the number of query clusters (``1 <= C <= N``).
    iterations : int, default 10
        k-means steps (see :func:`kmeans`).
    seed : int or numpy.random.Generator, default 0
        Seeds the k-means start.
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.
    return_weights : bool, default False
        Also build the implied (..., N, M) map.

    Returns
    -------
    ClusteredAttention
        ``out``, ``labels``, ``centroids``, ``centroid_weights`` and ``weights``.

    Notes
    -----
    Queries are grouped by k-means into C clusters with centroids ``Q_c``; then
    ``out_c = softmax(scale Q_c K^T) V`` and each query takes its cluster's
    row. Cost O(iterations N C d_k) for clustering plus O(C M (d_k + d_v)) for
    attention, against O(N M (d_k + d_v)) for full attention. With C = N each
    query is its own centroid and the result equals full attention.
    """
    x = attention_inputs(q, k, v)
    labels, centroids = kmeans(x.q, num_clusters, iterations=iterations, seed=seed)
    s = resolve_scale(scale, x.q.shape[-1])
    c_out, c_weights = attend(centroids, x.k, x.v, None, s)  # (..., C, d_v), (..., C, M)
    # k or v may carry batch dims that q lacks: give every output its labels.
    labels = np.broadcast_to(labels, c_out.shape[:-2] + labels.shape[-1:])
    pick = labels[..., None]  # (..., N, 1)
    out = np.take_along_axis(c_out, pick, axis=-2)  # (..., N, d_v)
    weights = np.take_along_axis(c_weights, pick, axis=-2) if return_weights else None

    def cast(a: Array) -> Array:
        return a.astype(x.result, copy=False)

    return ClusteredAttention(
        out=cast(out),
        labels=labels,
        centroids=cast(centroids),
        centroid_weights=cast(c_weights),
        weights=None if weights is None else cast(weights),
    )
