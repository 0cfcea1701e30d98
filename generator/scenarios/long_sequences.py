"""Long sequences: a 16384 x 16384 map read through streamed pooled views and exact blocks.

One head, d = 64, N = M = 16384, float32. The (N, N) map would take 1 GiB, so it is never
made: one streaming pass (:func:`attention_atlas.attention.pooled_views`) gives the block means,
the block maxima and every row's log-normaliser; the exact weights of a few chosen blocks
then come from :func:`attention_atlas.attention.block_detail`. Memory is measured with
``tracemalloc`` (deterministic: the pass allocates the same arrays every time); no time is
stated, because times vary from run to run and the page must not.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from attention_atlas.attention import (
    attention_weights,
    block_detail,
    block_edges,
    pool_map,
    pooled_views,
)
from attention_atlas.attention import strongest_blocks as core_strongest_blocks
from attention_atlas.charts import Figure
from attention_atlas.charts.blocks import (
    block_explorer_chart,
    block_overview_chart,
    block_range_labels,
)
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.text import (
    fixed,
    number_word,
    ordinal,
    percent,
    plain_significant,
    rounding_error,
    span_text,
    thousands,
    word_list,
)

MIB = 2**20


def smooth_context(n: int, step: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors that drift along the sequence: (n, dims), float64.

    Random unit anchors sit every ``step`` positions; position i interpolates linearly
    between its two anchors and is renormalised. Two positions less than ``step`` apart
    have nearly equal vectors; positions several ``step`` apart are unrelated (dot
    products about ``±1/sqrt(dims)``).
    """
    anchors = rng.standard_normal((n // step + 2, dims))
    anchors /= np.linalg.norm(anchors, axis=1, keepdims=True)
    pos = np.arange(n)
    t = ((pos % step) / step)[:, None]  # (n, 1)
    c = (1 - t) * anchors[pos // step] + t * anchors[pos // step + 1]
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    return c


def long_problem(params: dict[str, Any] | Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded queries and keys with three structures to find: (N, d) each, float32.

    Dimensions (d = 64): ``coarse_dims`` of a slowly drifting context (anchors every
    ``coarse_step`` positions), ``fine_dims`` of a fast one (every ``fine_step``), and
    the rest for a "global" direction g.

    - local window: query n is ``local`` times its coarse context, so it attends to the
      keys whose context is like its own, its neighbours;
    - global positions: their keys are g alone and every query carries ``global_score``
      times g, so every query gives each of them the same score;
    - copied passage: the queries of positions ``target .. target + length - 1`` carry
      the coarse and fine context of ``source ..`` instead (strengths ``copy_coarse``
      and ``copy_fine``), so each looks back at the one position it copies;
    - long-range references: each query of ``references["queries"]`` carries the
      contexts of ``references["key"]`` the same way, a single sharp link each.

    Scores are ``q . k / sqrt(d)`` (the default scale); q is multiplied by ``sqrt(d)``
    so that the strengths above are scores.
    """
    p = params
    n, d = int(p["n"]), int(p["d"])
    cd, fd = int(p["coarse_dims"]), int(p["fine_dims"])
    rng = np.random.default_rng(seed)
    coarse = smooth_context(n, int(p["coarse_step"]), cd, rng)  # (N, cd)
    fine = smooth_context(n, int(p["fine_step"]), fd, rng)  # (N, fd)
    glob = [int(g) for g in p["globals"]]
    src, dst, length = (int(p["copy"][key]) for key in ("source", "target", "length"))
    k = np.zeros((n, d))
    k[:, :cd] = coarse
    k[:, cd : cd + fd] = fine
    k[glob] = 0.0
    k[glob, cd + fd] = 1.0  # a global key is the direction g alone
    q = np.zeros((n, d))
    q[:, :cd] = float(p["local"]) * coarse
    q[dst : dst + length, :cd] = float(p["copy_coarse"]) * coarse[src : src + length]
    q[dst : dst + length, cd : cd + fd] = float(p["copy_fine"]) * fine[src : src + length]
    ref_q, ref_k = [int(x) for x in p["references"]["queries"]], int(p["references"]["key"])
    q[ref_q, :cd] = float(p["copy_coarse"]) * coarse[ref_k]
    q[ref_q, cd : cd + fd] = float(p["copy_fine"]) * fine[ref_k]
    q[:, cd + fd] = float(p["global_score"])
    q *= np.sqrt(d)  # cancel the default 1/sqrt(d) so the strengths are scores
    return q.astype(np.float32), k.astype(np.float32)


def peak_mib(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Peak MiB newly allocated (as tracemalloc sees NumPy arrays) while ``fn`` runs."""
    gc.collect()
    outer = tracemalloc.is_tracing()
    if not outer:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not outer:
            tracemalloc.stop()
    return peak / MIB, result


def strongest_blocks(
    maxima: np.ndarray, means: np.ndarray, *, off_diagonal: int, per_column: int, band: int
) -> list[tuple[int, int]]:
    """The blocks whose exact weights the page precomputes, strongest first.

    maxima, means : (R, C) block maxima and means. Returns ``off_diagonal`` blocks
    ``(i, j)`` with ``|i - j| > band`` and the largest maxima, at most ``per_column``
    from one column of blocks (ties: smaller row, then column, first; see
    :func:`attention_atlas.attention.strongest_blocks`), followed by the diagonal
    block ``(i, i)`` with the largest mean.
    """
    taken = core_strongest_blocks(maxima, off_diagonal, per_column=per_column, band=band)
    diag = int(np.argmax(np.diag(means)))
    return [*taken, (diag, diag)]


def _overlaps(lo: int, hi: int, start: int, stop: int) -> bool:
    """Whether positions ``lo..hi-1`` and ``start..stop-1`` share one."""
    return lo < stop and start < hi


def block_kind(r: int, c: int, edges: np.ndarray, params: Any) -> str:
    """What a block holds, from the planted structure.

    One of "copy" (copied queries × their source), "reference" (a referring query ×
    the key it refers to), "global" (a global key, off the diagonal), "local" (a
    diagonal block), "local+global" (a diagonal block holding a global key) or "none".
    """
    r0, r1, c0, c1 = int(edges[r]), int(edges[r + 1]), int(edges[c]), int(edges[c + 1])
    copy = params["copy"]
    src, dst, length = int(copy["source"]), int(copy["target"]), int(copy["length"])
    if _overlaps(r0, r1, dst, dst + length) and _overlaps(c0, c1, src, src + length):
        return "copy"
    refs = params["references"]
    if c0 <= int(refs["key"]) < c1 and any(r0 <= int(x) < r1 for x in refs["queries"]):
        return "reference"
    has_global = any(c0 <= int(g) < c1 for g in params["globals"])
    if r == c:
        return "local+global" if has_global else "local"
    return "global" if has_global else "none"


def compute(scenario: Scenario) -> Result:
    """Pooled views, row log-normalisers and chosen blocks of a 16384 x 16384 map.

    Arrays: ``mean``, ``max`` (R, R) block means and maxima; ``row_lse`` (N,); ``edges``
    (R + 1,) block edges; ``chosen`` (K, 2) row and column block of each detail;
    ``details`` (K, N/R, N/R) their exact weights; ``small_stream``, ``small_dense``
    (r, r, 2) mean and max views of the first ``small_n`` positions computed both ways.
    Labels: ``kinds`` (K,) what each detailed block holds; ``blocks`` (R,) the positions
    each block covers (``"0–127"``).
    """
    p = scenario.params
    n, blocks = int(p["n"]), int(p["blocks"])
    q, k = long_problem(p, scenario.seed)
    # One pass gives both views and the row normalisers; measured as the build runs it.
    stream_mib, views = peak_mib(lambda: pooled_views(q, k, blocks, blocks, ("mean", "max")))
    mean, mx, lse = views.views["mean"], views.views["max"], views.row_lse
    edges = block_edges(n, blocks)
    chosen = strongest_blocks(
        mx,
        mean,
        off_diagonal=int(p["off_diagonal"]),
        per_column=int(p["per_column"]),
        band=int(p["band"]),
    )
    detail_mib, details = peak_mib(
        lambda: np.stack([block_detail(q, k, blocks, blocks, r, c, row_lse=lse) for r, c in chosen])
    )

    # Both routes where the build can afford the dense one: the first small_n positions.
    sn = int(p["small_n"])
    sb = sn // (n // blocks)  # same block size
    qs, ks = q[:sn], k[:sn]

    def dense() -> np.ndarray:
        w = attention_weights(qs, ks)  # (sn, sn), materialised
        return np.stack([pool_map(w, sb, sb, "mean"), pool_map(w, sb, sb, "max")], axis=-1)

    def streamed() -> np.ndarray:
        v = pooled_views(qs, ks, sb, sb, ("mean", "max"))
        return np.stack([v.views["mean"], v.views["max"]], axis=-1)

    small_dense_mib, small_dense = peak_mib(dense)
    small_stream_mib, small_stream = peak_mib(streamed)
    return Result(
        arrays={
            "mean": mean,
            "max": mx,
            "row_lse": lse,
            "edges": edges,
            "chosen": np.asarray(chosen, dtype=np.int64),
            "details": details,
            "small_dense": small_dense,
            "small_stream": small_stream,
        },
        labels={
            "kinds": tuple(block_kind(r, c, edges, p) for r, c in chosen),
            "blocks": tuple(block_range_labels(edges)),
        },
        facts={
            "d": int(q.shape[1]),
            "stream_mib": round(stream_mib, 1),
            "detail_mib": round(detail_mib, 1),
            "small_dense_mib": round(small_dense_mib, 1),
            "small_stream_mib": round(small_stream_mib, 1),
            "query_block": _default_block(n, q.dtype.itemsize),
            "globals": tuple(int(g) for g in p["globals"]),
            "copy": tuple(int(p["copy"][key]) for key in ("source", "target", "length")),
            "ref_queries": tuple(int(x) for x in p["references"]["queries"]),
            "ref_key": int(p["references"]["key"]),
            "per_column": int(p["per_column"]),
            "band": int(p["band"]),
        },
    )


def _default_block(m: int, itemsize: int) -> int:
    """Queries per streamed block with the default 8 MiB buffer (see pooled_attention)."""
    return max(1, (8 * MIB) // (m * itemsize))


# --------------------------------------------------------------------------- page


def _mib(x: float) -> str:
    """Every size on the page in MiB with one decimal, so that they compare at a glance."""
    return f"{fixed(x, 1)} MiB"


KIND_NAMES = {
    "copy": "the copied passage and its source",
    "reference": "a long-range reference",
    "global": "a global position",
    "local": "the local window (diagonal)",
    "local+global": "the local window and a global position",
    "none": "background",
}

MENU_NAMES = {
    "copy": "copy",
    "reference": "reference",
    "global": "global",
    "local": "diagonal",
    "local+global": "diagonal",
    "none": "other",
}


def _span(edges: np.ndarray, b: int) -> str:
    return span_text(int(edges[b]), int(edges[b + 1]))


def _detail_rows(result: Result) -> list[dict[str, Any]]:
    a, kinds = result.arrays, result.labels["kinds"]
    edges = a["edges"]
    out = []
    for idx, ((r, c), kind) in enumerate(zip(a["chosen"].tolist(), kinds, strict=True)):
        det = a["details"][idx]
        out.append(
            {
                "n": idx + 1,
                "r": r,
                "c": c,
                "queries": _span(edges, r),
                "key_span": _span(edges, c),
                "max": fixed(a["max"][r, c], 3),
                "mean": plain_significant(a["mean"][r, c], 3),
                "kind": KIND_NAMES[kind],
                "kind_key": kind,
                "detail_max": fixed(det.max(), 3),
                "heading": f"{idx + 1}. {MENU_NAMES[kind]}: queries {_span(edges, r)}, "
                f"keys {_span(edges, c)}",
                "menu": f"{idx + 1}. {MENU_NAMES[kind]}: {_span(edges, r)} × {_span(edges, c)}",
            }
        )
    return out


def _findings(result: Result) -> dict[str, Any]:
    """Numbers the page reads off the exact blocks."""
    a, p_kinds = result.arrays, result.labels["kinds"]
    edges, chosen, details = a["edges"], a["chosen"], a["details"]
    out: dict[str, Any] = {}
    copy_idx = p_kinds.index("copy")
    r, c = (int(x) for x in chosen[copy_idx])
    det = details[copy_idx]
    row = int(np.argmax(det.max(axis=1)))  # the copy query with the sharpest link
    col = int(np.argmax(det[row]))
    out["copy_query"] = int(edges[r]) + row
    out["copy_key"] = int(edges[c]) + col
    out["copy_weight"] = fixed(det[row, col], 3)
    out["copy_rows"] = int(np.sum(det.max(axis=1) > 0.5))
    ref_idx = p_kinds.index("reference")
    r, c = (int(x) for x in chosen[ref_idx])
    det = details[ref_idx]
    row, col = (int(x) for x in np.unravel_index(int(np.argmax(det)), det.shape))
    out["ref_query"] = int(edges[r]) + row
    out["ref_weight"] = fixed(det[row, col], 3)
    rest = det.copy()
    rest[row, col] = 0
    out["ref_rest"] = fixed(float(rest.max()) + 0.0005, 3)  # rounded up: "below"
    out["mean_ref"] = plain_significant(a["mean"][r, c], 2)
    out["max_ref"] = fixed(a["max"][r, c], 3)
    glob_idx = p_kinds.index("global")
    r, c = (int(x) for x in chosen[glob_idx])
    det = details[glob_idx]
    gcol = int(np.argmax(det.sum(axis=0)))
    out["global_key"] = int(edges[c]) + gcol
    out["global_min"] = fixed(det[:, gcol].min(), 3)
    out["global_max"] = fixed(det[:, gcol].max(), 3)
    out["global_queries"] = _span(edges, r)
    r, c = (int(x) for x in chosen[-1])  # the diagonal block comes last
    det = details[-1]
    out["local_block"] = f"({r}, {c})"
    out["local_row_share"] = fixed(float(np.mean(det.sum(axis=1))), 2)
    out["local_width"] = int(np.median(np.sum(det > 0.01, axis=1)))
    out["local_peak"] = fixed(det.max(), 3)
    return out


def context(result: Result) -> dict[str, Any]:
    a, facts, kinds = result.arrays, result.facts, result.labels["kinds"]
    mean, mx, edges = a["mean"], a["max"], a["edges"]
    blocks = mean.shape[0]
    n = int(edges[-1])
    size = n // blocks
    d = int(facts["d"])
    chosen = [(int(r), int(c)) for r, c in a["chosen"]]
    rows = _detail_rows(result)
    names = [row["heading"] for row in rows]
    menu = [row["menu"] for row in rows]
    diag = np.diag(mean)
    copy_rc = chosen[list(kinds).index("copy")]
    glob_rc = chosen[list(kinds).index("global")]
    local_rc = chosen[-1]
    block_title = f"{blocks} × {blocks} blocks of {size} × {size} positions"
    small = facts
    small_diff = float(np.max(np.abs(a["small_stream"] - a["small_dense"])))
    small_n = int(result.arrays["small_dense"].shape[0]) * size
    map_bytes = n * n * 4
    rank_copy = int(np.sum(mean > mean[copy_rc]))
    glob = list(facts["globals"])
    src, dst, length = facts["copy"]
    return {
        "n": n,
        "n_text": thousands(n),
        "d": d,
        "blocks": blocks,
        "size": size,
        "cells": thousands(n * n),
        "map_gib": f"{fixed(map_bytes / 2**30, 0)} GiB",
        "map_mib": thousands(map_bytes // MIB),
        "pooled_cells": thousands(blocks * blocks),
        "query_block": facts["query_block"],
        "buffer_mib": _mib(facts["query_block"] * n * 4 / MIB),
        "passes": n // facts["query_block"],
        "gflop": fixed(2 * n * n * d / 1e9, 1),
        "exps": thousands(n * n),
        "stream_mib": _mib(facts["stream_mib"]),
        "stream_share": percent(facts["stream_mib"] * MIB / map_bytes, 1),
        "lse_kib": thousands(n * 4 // 1024),
        "detail_mib": _mib(facts["detail_mib"]),
        "small_n": thousands(small_n),
        "small_map_mib": _mib(small_n * small_n * 4 / MIB),
        "small_dense_mib": _mib(small["small_dense_mib"]),
        "small_stream_mib": _mib(small["small_stream_mib"]),
        "small_diff": rounding_error(small_diff),
        "mean_diag_min": plain_significant(diag.min(), 3),
        "mean_diag_max": plain_significant(diag.max(), 3),
        "mean_copy": plain_significant(mean[copy_rc], 3),
        "max_copy": fixed(mx[copy_rc], 3),
        "copy_block": f"({copy_rc[0]}, {copy_rc[1]})",
        "copy_rank_mean": ordinal(rank_copy + 1),
        "mean_global": plain_significant(mean[glob_rc], 3),
        "max_global": fixed(mx[glob_rc], 3),
        "max_local": fixed(mx[local_rc], 3),
        "mean_local": plain_significant(mean[local_rc], 3),
        "uniform_mean": plain_significant(1 / n, 3),
        "copy_cells": thousands(size * size),
        "copy_length": length,
        "copy_source": span_text(src, src + length),
        "copy_target": span_text(dst, dst + length),
        "global_count": number_word(len(glob)),
        "globals_text": word_list(str(x) for x in glob),
        "ref_queries": word_list(str(x) for x in list(facts["ref_queries"])),
        "ref_key": facts["ref_key"],
        "detail_rows": rows,
        "detail_count": len(rows),
        "per_column": number_word(int(facts["per_column"])),
        "band": int(facts["band"]),
        **_findings(result),
        "mean_fig": Figure(
            block_overview_chart(
                mean,
                edges,
                edges,
                title=["Block means", f"({block_title})"],
                subtitle=["Square-root colour scale", "Rings: the blocks detailed below"],
                marked=chosen,
                marked_names=names,
                value_title="block mean",
                fmt=".5f",
                scale_type="sqrt",
                name="bm",
            ),
            caption=f"Cell (i, j) is the average of the {thousands(size * size)} weights that "
            f"the {size} queries of block i give the {size} keys of block j.",
            name="mean",
        ),
        "max_fig": Figure(
            block_explorer_chart(
                mx,
                edges,
                edges,
                list(a["details"]),
                chosen,
                names,
                title=["Block maxima", f"({block_title})"],
                menu_labels=menu,
                subtitle=[
                    "Square-root colour scale",
                    "Click a ringed block (or use the menu)",
                    "for its exact weights below",
                ],
                value_title="block maximum",
                detail_title="weight in the block",
                fmt=".3f",
                detail_fmt=".4f",
                scale_type="sqrt",
                name="bx",
            ),
            caption=f"Top: cell (i, j) is the largest of the {thousands(size * size)} weights of "
            f"block (i, j). Bottom: the exact {size} × {size} weights of the picked block, "
            "coloured from 0 to that block's own largest weight.",
            name="max",
        ),
    }


SCENARIO = Scenario(
    slug="long-sequences",
    title="Looking at a 16k-token attention map",
    question="My sequence has 16k tokens: how can I even look at its attention map?",
    summary="You will read a 16384 × 16384 map through block means and block maxima "
    "computed without ever holding it, and open the exact weights of its strongest blocks.",
    order=65,
    params={
        "n": 16384,
        "d": 64,
        "blocks": 128,
        "coarse_step": 32,
        "coarse_dims": 40,
        "fine_step": 4,
        "fine_dims": 16,
        "local": 12.0,
        "global_score": 13.0,
        "globals": [0, 6000, 11500],
        "copy": {"source": 2100, "target": 13000, "length": 24},
        "references": {"key": 700, "queries": [5200, 9100, 15000]},
        "copy_coarse": 200.0,
        "copy_fine": 40.0,
        "off_diagonal": 7,
        "per_column": 3,
        "band": 1,
        "small_n": 4096,
    },
    seed=65,
    compute=compute,
    context=context,
    main_figure="max",
    main_map="mean",
    main_map_labels=("blocks", "blocks"),
)
