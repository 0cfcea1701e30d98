"""Pooled views of a dump of queries and keys, streamed head by head: no map is ever held.

A :class:`~attention_atlas.dumps.read.ProjectionDump` stores ``q`` and ``k`` instead of the
weights, because its maps are too big to store (16384 positions make 1 GiB per head).
:func:`stream_head` computes one head's block means and block maxima in one streaming
pass (:func:`attention_atlas.attention.pooled_views`) and then the exact weights of its
strongest blocks (:func:`attention_atlas.attention.block_detail`), so extra memory stays
about the score buffer of one block of queries, whatever N is.

Example::

    dump = load_any("long.npz")           # q (1, 1, 16384, 64), k (1, 1, 16384, 64)
    view = stream_head(dump, 0, 0)
    view.mean.shape, view.maximum.shape   # (128, 128), (128, 128)
    [d.shape for d in view.details]       # [(128, 128), ...]
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from attention_atlas.attention import block_edges, strongest_blocks
from attention_atlas.dumps.budget import HEAD_BYTES, over_budget, resolve_budget
from attention_atlas.dumps.read import ProjectionDump, check_head
from attention_atlas.errors import AtlasError

__all__ = [
    "BLOCKS",
    "CHUNK_BYTES",
    "DETAILS",
    "WORKERS",
    "HeadBlocks",
    "block_weights",
    "head_views",
    "stream_dump",
    "stream_head",
    "strongest_blocks",
    "working_bytes",
]

#: Row and column blocks of a streamed head's pooled views (fewer when N or M is smaller).
BLOCKS = 128

#: Blocks per head whose exact weights are precomputed.
DETAILS = 4

#: Bytes of the score buffer of a run of queries: large enough that each matrix
#: product is efficient, small enough to stay near the cache.
CHUNK_BYTES = 2 * 2**20

#: Heads streamed at once, in threads: one a core, at most 2.
WORKERS = max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class HeadBlocks:
    """One head's pooled views and the exact weights of its strongest blocks.

    Attributes
    ----------
    layer, head : int
    mean, maximum : ndarray of float64, shape (R, C)
        Block means and block maxima of the head's (N, M) map.
    row_edges : ndarray of int64, shape (R + 1,)
    col_edges : ndarray of int64, shape (C + 1,)
        Block i covers rows ``row_edges[i]:row_edges[i + 1]``; columns alike.
    blocks : tuple of (int, int)
        The precomputed blocks (row block, column block), strongest first.
    details : tuple of ndarray of float64, shapes (h_k, w_k)
        Their exact weights: slices of full softmax rows (each full row sums to 1).
    key_mean : ndarray of float64, shape (M,)
        The mean weight each key takes from the queries that see it.
    """

    layer: int
    head: int
    mean: NDArray[np.float64]
    maximum: NDArray[np.float64]
    row_edges: NDArray[np.int64]
    col_edges: NDArray[np.int64]
    blocks: tuple[tuple[int, int], ...]
    details: tuple[NDArray[np.float64], ...]
    key_mean: NDArray[np.float64]

    @property
    def sink(self) -> tuple[int, float]:
        """The key with the most mean weight (the earlier on ties), and that weight."""
        key = int(np.argmax(self.key_mean))
        return key, float(self.key_mean[key])


def working_bytes(
    layers: int,
    heads: int,
    n: int,
    m: int,
    d: int,
    *,
    blocks: int = BLOCKS,
    details: int = DETAILS,
) -> int:
    """Peak memory of streaming every head and drawing the report, beside q and k.

    :data:`WORKERS` heads at a time: each one's queries and keys and their scaled or
    transposed copies (float32), the score buffer of a run of queries
    (:data:`CHUNK_BYTES`, or one row block's scores when that is longer), a few arrays
    of N and of M, and its detail blocks (h x w each, h = ceil(N / R), w = ceil(M / C)) in
    float32, float64 and while drawn. Kept for every head until the pages are
    written: the pooled views (R x C, float64, twice, and once more for the grid),
    the details in float64 and as page text, and :data:`HEAD_BYTES` of charts.
    Measured on ``attention-atlas report``: q and k dumps of up to 65536 positions
    and of 16 million keys stay under this.
    """
    rows, cols = min(blocks, n), min(blocks, m)
    cells = min(details, rows * cols) * math.ceil(n / rows) * math.ceil(m / cols)
    buffer = CHUNK_BYTES + 4 * m * math.ceil(n / rows)  # head_views' score buffer
    # A head's q (read from a file, and scaled) and k (read from a file), per worker.
    one_head = WORKERS * (8 * n * d + 4 * m * d + 32 * n + 8 * m + buffer + 48 * cells)
    kept = 24 * rows * cols + 16 * cells + HEAD_BYTES
    return one_head + layers * heads * kept


def _check_budget(
    dump: ProjectionDump, heads: int, blocks: int, details: int, max_memory: int | str | None
) -> None:
    """Refuse, before any work, when q, k and ``heads`` heads' working memory exceed the budget."""
    budget = resolve_budget(max_memory)
    work = working_bytes(1, heads, dump.n, dump.m, dump.width, blocks=blocks, details=details)
    need = dump.resident_bytes + work
    if need > budget:
        what = f"{dump.source}: streaming {heads} head(s) of q {dump.stored_shape} and k"
        raise over_budget(f"{what} {tuple(dump.k.shape)} float32 needs", need, budget)


def _chunks(row_edges: NDArray[np.int64], m: int) -> list[tuple[int, int]]:
    """Runs of whole row blocks ``(first, stop)`` whose scores fit :data:`CHUNK_BYTES`."""
    widest = int(np.diff(row_edges).max())
    per = max(1, CHUNK_BYTES // (4 * m * widest))
    count = row_edges.size - 1
    return [(b, min(b + per, count)) for b in range(0, count, per)]


def head_views(
    q: NDArray[np.float32],
    k: NDArray[np.float32],
    scale: float,
    rows: int,
    cols: int,
    offset: int | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.float64]]:
    """Block means, block maxima, row log-normalisers and key means of ``softmax(scale q k^T)``.

    Parameters
    ----------
    q : ndarray of float32, shape (N, d)
    k : ndarray of float32, shape (M, d)
    scale : float
    rows, cols : int
        R and C (block rule of :mod:`attention_atlas.attention.pooling`).
    offset : int, optional
        Causal: query i sees keys ``j <= i + offset`` only (``offset = M - N`` puts
        the queries at the end of the keys). ``None``: every key.

    Returns
    -------
    mean, maximum : ndarray of float32, shape (R, C)
    lse : ndarray of float32, shape (N,)
        ``log sum_j exp(scale q_i . k_j)`` over the keys row i sees.
    key_mean : ndarray of float64, shape (M,)
        The mean weight each key takes from the queries that see it (0 for a key no
        query sees): its argmax is the head's sink.

    Notes
    -----
    Runs of whole row blocks at a time: their scores against the keys they may see
    (a causal run stops at its last row's diagonal, so about half the work of the
    full map is skipped), the future set to ``-inf`` so its weights are exactly 0,
    each row shifted by its maximum, exponentiated in place, then pooled. Time
    O(N M d) (half that when causal), extra memory :data:`CHUNK_BYTES` and O(N + R C).
    """
    n, m = q.shape[0], k.shape[0]
    qs = q * np.float32(scale)  # (N, d), the scale folded in once
    keys = np.ascontiguousarray(k)  # (M, d): k[:limit].T is a transposed BLAS operand
    row_edges = block_edges(n, rows, "rows")
    col_edges = block_edges(m, cols, "cols")
    mean = np.zeros((rows, cols), dtype=np.float32)
    maximum = np.zeros((rows, cols), dtype=np.float32)
    lse = np.empty(n, dtype=np.float32)
    key_total = np.zeros(m, dtype=np.float64)
    buf = np.empty(CHUNK_BYTES // 4 + m * int(np.diff(row_edges).max()), dtype=np.float32)
    for first, stop in _chunks(row_edges, m):
        start, end = int(row_edges[first]), int(row_edges[stop])
        limit = m if offset is None else min(m, end + offset)  # keys any of these rows sees
        scores = buf[: (end - start) * limit].reshape(end - start, limit)
        # (b, limit); a column slice of k^T would not be BLAS-ready (measured 8x slower)
        np.matmul(qs[start:end], keys[:limit].T, out=scores)
        if offset is not None and start + offset + 1 < limit:
            # Row i sees columns <= i + offset: above that diagonal, -inf (weight 0).
            edge = start + offset  # the first row's last visible column
            seen = np.tri(end - start, limit - edge, dtype=bool)  # (b, limit - edge)
            np.copyto(scores[:, edge:], -np.inf, where=~seen)
        shift = scores.max(axis=1, keepdims=True)  # (b, 1), finite: every row sees a key
        if not np.isfinite(shift).all():
            msg = "scores (scaled q k^T) overflow float32; scale q or k down"
            raise AtlasError(msg)
        np.subtract(scores, shift, out=scores)
        np.exp(scores, out=scores)
        visible = int(np.searchsorted(col_edges[:-1], limit, side="left"))  # blocks seen
        starts = col_edges[:visible]
        sums = _block_sums(scores, starts)  # (b, visible)
        total = sums.sum(axis=1, keepdims=True)  # (b, 1), >= 1: the row's maximum gives 1
        lse[start:end] = np.log(total[:, 0]) + shift[:, 0]
        inverse = np.reciprocal(total)
        sums *= inverse
        segments = row_edges[first:stop] - start
        mean[first:stop, :visible] = np.add.reduceat(sums, segments, axis=0)
        scores *= inverse
        key_total[:limit] += scores.sum(axis=0, dtype=np.float64)
        # Maxima over each row block's rows first (whole contiguous rows, fast), then
        # over each column block of that (blocks, limit) result.
        bounds = itertools.pairwise([*segments.tolist(), end - start])
        top = np.stack([scores[a:b].max(axis=0) for a, b in bounds])  # (blocks, limit)
        maximum[first:stop, :visible] = np.maximum.reduceat(top, starts, axis=1)
    mean /= (np.diff(row_edges)[:, None] * np.diff(col_edges)[None, :]).astype(np.float32)
    # Queries that see key j: all N, or (causal) those with i + offset >= j.
    hidden_from = np.zeros(m) if offset is None else np.clip(np.arange(m) - offset, 0, n)
    seen_by = n - hidden_from  # (M,): queries i >= j - offset see key j
    key_mean = np.divide(key_total, seen_by, out=np.zeros(m), where=seen_by > 0)
    return mean, maximum, lse, key_mean


def _block_sums(scores: NDArray[np.float32], starts: NDArray[np.int64]) -> NDArray[np.float32]:
    """Sums of ``scores`` (b, limit) over the column blocks starting at ``starts``, (b, C').

    The leading blocks of one width (the usual case) are summed as one matrix-vector
    product over a view, several times faster than ``numpy.add.reduceat``; the blocks
    after them (wider or cut short by ``limit``) apart.
    """
    b, limit = scores.shape
    widths = np.diff(np.append(starts, limit))  # (C',): the last one ends at limit
    other = np.flatnonzero(widths != widths[0])
    full = int(other[0]) if other.size else widths.size  # blocks of the first width
    if full < 2:
        return np.add.reduceat(scores, starts, axis=1)
    width = int(widths[0])
    out = np.empty((b, starts.size), dtype=scores.dtype)
    view = scores[:, : full * width].reshape(b, full, width)
    np.matmul(view, np.ones(width, dtype=scores.dtype), out=out[:, :full])
    if full < starts.size:
        rest = scores[:, full * width :]
        out[:, full:] = np.add.reduceat(rest, starts[full:] - full * width, axis=1)
    return out


def block_weights(
    q: NDArray[np.float32],
    k: NDArray[np.float32],
    scale: float,
    lse: NDArray[np.float32],
    rows: slice,
    cols: slice,
    offset: int | None = None,
) -> NDArray[np.float32]:
    """Exact weights of ``rows`` x ``cols`` from each row's log-normaliser, shape (h, w).

    Future keys (``j > i + offset`` when causal) get exactly 0.
    """
    qs = q[rows] * np.float32(scale)  # same rounding as head_views
    w = np.matmul(qs, k[cols].T)
    np.subtract(w, lse[rows, None], out=w)
    if offset is not None:
        i = np.arange(rows.start, rows.stop)[:, None]
        j = np.arange(cols.start, cols.stop)[None, :]
        np.copyto(w, -np.inf, where=j > i + offset)
    return np.exp(w, out=w)


def stream_head(
    dump: ProjectionDump,
    layer: int,
    head: int,
    *,
    blocks: int = BLOCKS,
    details: int = DETAILS,
    max_memory: int | str | None = None,
) -> HeadBlocks:
    """Block means and maxima of one head, and the exact weights of its strongest blocks.

    Causal dumps mask the future exactly (weight 0) and skip its scores; a grouped-query
    head reads its key head (:meth:`ProjectionDump.k_head`). Cost: one pass of the
    head's scores, O(N M d) (half when causal), plus O(h w d) per detail block.
    Extra memory: the streaming buffer (:data:`CHUNK_BYTES`), O(N + R C), and the
    details (:func:`working_bytes`); ``AtlasError`` before any work when that and
    q and k exceed ``max_memory`` (bytes or ``"4G"``, default
    :data:`~attention_atlas.dumps.budget.DEFAULT_MAX_MEMORY`).
    """
    check_head(dump, layer, head)
    _check_budget(dump, 1, blocks, details, max_memory)
    return _stream_one(dump, layer, head, blocks, details)


def _stream_one(
    dump: ProjectionDump, layer: int, head: int, blocks: int, details: int
) -> HeadBlocks:
    q, k = dump.q_head(layer, head), dump.k_head(layer, head)  # (N, d), (M, d) float32
    rows, cols = min(blocks, dump.n), min(blocks, dump.m)
    offset = dump.query_offset if dump.causal else None
    mean, maximum, lse, key_mean = head_views(q, k, dump.scale, rows, cols, offset)
    row_edges, col_edges = block_edges(dump.n, rows), block_edges(dump.m, cols)
    chosen = strongest_blocks(maximum, details)
    exact = tuple(
        block_weights(
            q,
            k,
            dump.scale,
            lse,
            slice(int(row_edges[i]), int(row_edges[i + 1])),
            slice(int(col_edges[j]), int(col_edges[j + 1])),
            offset,
        ).astype(np.float64)
        for i, j in chosen
    )
    return HeadBlocks(
        layer=layer,
        head=head,
        mean=mean.astype(np.float64),
        maximum=maximum.astype(np.float64),
        row_edges=row_edges,
        col_edges=col_edges,
        blocks=tuple(chosen),
        details=exact,
        key_mean=key_mean,
    )


def stream_dump(
    dump: ProjectionDump,
    *,
    blocks: int = BLOCKS,
    details: int = DETAILS,
    progress: Callable[[int, int], None] | None = None,
    max_memory: int | str | None = None,
    workers: int = WORKERS,
) -> list[HeadBlocks]:
    """:func:`stream_head` for every head, layer by layer; ``progress(done, total)`` after each.

    ``workers`` heads are streamed at once in threads (NumPy releases the GIL in its
    products and exponentials); the result is in (layer, head) order whatever the
    number. ``AtlasError`` before any work when q, k and the working memory of every
    head's results (:func:`working_bytes`) exceed ``max_memory``.
    """
    total = dump.layers * dump.heads
    _check_budget(dump, total, blocks, details, max_memory)
    pairs = [(layer, head) for layer in range(dump.layers) for head in range(dump.heads)]
    out: list[HeadBlocks] = []
    threads = max(1, workers)
    # One BLAS thread per worker: two workers each asking for two threads on two
    # cores would only fight over them.
    with (
        threadpool_limits(1 if threads > 1 else None, user_api="blas"),
        ThreadPoolExecutor(max_workers=threads) as pool,
    ):
        for view in pool.map(lambda p: _stream_one(dump, p[0], p[1], blocks, details), pairs):
            out.append(view)
            if progress is not None:
                progress(len(out), total)
    return out
