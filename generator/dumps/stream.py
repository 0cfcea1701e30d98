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

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from attention_atlas.attention import block_detail, block_edges, pooled_views, strongest_blocks
from attention_atlas.dumps.budget import HEAD_BYTES, over_budget, resolve_budget
from attention_atlas.dumps.read import ProjectionDump, check_head

__all__ = [
    "BLOCKS",
    "DETAILS",
    "HeadBlocks",
    "stream_dump",
    "stream_head",
    "strongest_blocks",
    "working_bytes",
]

#: Row and column blocks of a streamed head's pooled views (fewer when N or M is smaller).
BLOCKS = 128

#: Blocks per head whose exact weights are precomputed.
DETAILS = 4


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
    """

    layer: int
    head: int
    mean: NDArray[np.float64]
    maximum: NDArray[np.float64]
    row_edges: NDArray[np.int64]
    col_edges: NDArray[np.int64]
    blocks: tuple[tuple[int, int], ...]
    details: tuple[NDArray[np.float64], ...]


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

    One head at a time: its scaled queries (N d float32), the score buffer of a block
    of queries (8 MiB, or one whole row of M when that is longer), a few arrays of N
    and of M, and its detail blocks (h x w each, h = ceil(N / R), w = ceil(M / C)) in
    float32, float64 and while drawn. Kept for every head until the pages are
    written: the pooled views (R x C, float64, twice, and once more for the grid),
    the details in float64 and as page text, and :data:`HEAD_BYTES` of charts.
    Measured on ``attention-atlas report``: q and k dumps of up to 65536 positions
    and of 16 million keys stay under this.
    """
    rows, cols = min(blocks, n), min(blocks, m)
    cells = min(details, rows * cols) * math.ceil(n / rows) * math.ceil(m / cols)
    buffer = max(8 * 2**20, 4 * m)  # pooled_views' default block of queries
    one_head = 4 * n * d + 32 * n + 8 * m + buffer + 48 * cells
    kept = 24 * rows * cols + 16 * cells + HEAD_BYTES
    return one_head + layers * heads * kept


def _check_budget(
    dump: ProjectionDump, heads: int, blocks: int, details: int, max_memory: int | str | None
) -> None:
    """Refuse, before any work, when q, k and ``heads`` heads' working memory exceed the budget."""
    budget = resolve_budget(max_memory)
    d = int(dump.q.shape[-1])
    work = working_bytes(1, heads, dump.n, dump.m, d, blocks=blocks, details=details)
    need = dump.q.nbytes + dump.k.nbytes + work
    if need > budget:
        what = f"{dump.source}: streaming {heads} head(s) of q {dump.stored_shape} and k"
        raise over_budget(f"{what} {tuple(dump.k.shape)} float32 needs", need, budget)


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

    Cost: one pass of the head's scores, O(N M d), plus O(h M d) per detail block
    (its rows' scores against the block's keys only, with the normalisers from the
    pass). Extra memory: the streaming buffer (about 8 MiB), O(N + R C), and the
    details (:func:`working_bytes`); ``AtlasError`` before any work when that and
    q and k exceed ``max_memory`` (bytes or ``"4G"``, default
    :data:`~attention_atlas.dumps.budget.DEFAULT_MAX_MEMORY`).
    """
    check_head(dump, layer, head)
    _check_budget(dump, 1, blocks, details, max_memory)
    q, k = dump.q[layer, head], dump.k[layer, head]  # (N, d), (M, d)
    rows, cols = min(blocks, dump.n), min(blocks, dump.m)
    pooled = pooled_views(q, k, rows, cols, ("mean", "max"), scale=dump.scale)
    maximum = pooled.views["max"].astype(np.float64)
    chosen = strongest_blocks(maximum, details)
    exact = tuple(
        block_detail(q, k, rows, cols, i, j, row_lse=pooled.row_lse, scale=dump.scale).astype(
            np.float64
        )
        for i, j in chosen
    )
    return HeadBlocks(
        layer=layer,
        head=head,
        mean=pooled.views["mean"].astype(np.float64),
        maximum=maximum,
        row_edges=block_edges(dump.n, rows),
        col_edges=block_edges(dump.m, cols),
        blocks=tuple(chosen),
        details=exact,
    )


def stream_dump(
    dump: ProjectionDump,
    *,
    blocks: int = BLOCKS,
    details: int = DETAILS,
    progress: Callable[[int, int], None] | None = None,
    max_memory: int | str | None = None,
) -> list[HeadBlocks]:
    """:func:`stream_head` for every head, layer by layer; ``progress(done, total)`` after each.

    ``AtlasError`` before any work when q, k and the working memory of every head's
    results (:func:`working_bytes`) exceed ``max_memory``.
    """
    total = dump.layers * dump.heads
    _check_budget(dump, total, blocks, details, max_memory)
    out = []
    for layer in range(dump.layers):
        for head in range(dump.heads):
            out.append(
                stream_head(
                    dump, layer, head, blocks=blocks, details=details, max_memory=max_memory
                )
            )
            if progress is not None:
                progress(len(out), total)
    return out
