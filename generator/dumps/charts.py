"""Charts of a user's attention dump, shared by the report, the export and the Markdown fence.

Every function takes an :class:`~attention_atlas.dumps.read.AttentionDump` (from
:func:`~attention_atlas.dumps.read.load_dump`) and returns Altair charts built by
:mod:`attention_atlas.charts`, so the same chart looks the same in a report page, in
someone else's MkDocs site and in an exported PNG. Layers and heads are 0-based,
as in the arrays a model returns.

Maps larger than :data:`POOL_ABOVE` positions on either axis are drawn pooled:
consecutive positions are grouped into blocks (sizes differ by at most one, see
:func:`attention_atlas.attention.pool_map`) and the chart's subtitle states the block
size and the reduction (mean or max).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

import altair as alt
import numpy as np
from numpy.typing import NDArray

from attention_atlas.attention import block_edges, pool_map
from attention_atlas.dumps.read import AttentionDump, check_head
from attention_atlas.errors import AtlasError
from attention_atlas.readouts import (
    SPECIAL_TOKENS,
    head_entropy,
    hide_special,
    next_token_score,
    previous_token_score,
    special_token_share,
)
from attention_atlas.text import fixed, plural, size_text, span_text

__all__ = [
    "ASK_CELLS",
    "POOL_ABOVE",
    "SPECIAL_TOKENS",
    "HeadSummary",
    "PooledMap",
    "caption_for",
    "chart_names",
    "dump_chart",
    "head_chart",
    "head_summaries",
    "link_chart",
    "model_view_chart",
    "pooled",
    "pooled_chart",
    "row_chart",
    "summary_chart",
    "value_format",
]

#: Maps with more positions than this on an axis are pooled before drawing.
POOL_ABOVE = 128

#: Heads in the model view are pooled to at most this many blocks per axis.
GRID_BLOCKS = 64

Reduce = Literal["mean", "max"]
Renderer = Literal["svg", "canvas"]


@dataclass(frozen=True)
class PooledMap:
    """An (R, C) pooled view of (N, M) maps and what each block covers.

    Attributes
    ----------
    values : ndarray, shape (..., R, C)
    row_labels : list of str, length R
        ``"12–15: token"``: the positions a block covers and its first token.
    col_labels : list of str, length C
    row_block, col_block : tuple of int
        Smallest and largest block size along each axis.
    reduce : {"mean", "max"}
    """

    values: NDArray[np.float64]
    row_labels: list[str]
    col_labels: list[str]
    row_block: tuple[int, int]
    col_block: tuple[int, int]
    reduce: Reduce

    @property
    def note(self) -> str:
        """One line for a chart subtitle: block sizes and the reduction."""
        rows = size_text(self.row_block)
        cols = size_text(self.col_block)
        what = "mean" if self.reduce == "mean" else "maximum"
        return (
            f"Pooled: each cell is the {what} of a block of {rows} query × {cols} key "
            f"positions; rows of block means no longer sum to 1."
            if self.reduce == "mean"
            else f"Pooled: each cell is the {what} of a block of {rows} query × {cols} key "
            f"positions."
        )


def _blocks(length: int, target: int) -> int:
    """Number of blocks so that each holds ``ceil(length / target)`` positions (or one fewer)."""
    if length <= target:
        return length
    size = math.ceil(length / target)
    return math.ceil(length / size)


def _block_labels(tokens: Sequence[str], edges: NDArray[np.int64]) -> list[str]:
    return [
        tokens[start] if stop - start == 1 else f"{span_text(start, stop)}: {tokens[start]} …"
        for start, stop in pairwise(edges.tolist())
    ]


def pooled(
    weights: NDArray[np.float64],
    tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    reduce: Reduce = "mean",
    target: int = POOL_ABOVE,
) -> PooledMap:
    """Pool maps so that neither axis has more than ``target`` blocks.

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
    tokens : sequence of str, length N
    key_tokens : sequence of str, length M
    reduce : {"mean", "max"}
    target : int
        Largest number of blocks per axis.

    Returns
    -------
    PooledMap
    """
    n, m = weights.shape[-2:]
    rows, cols = _blocks(n, target), _blocks(m, target)
    row_edges, col_edges = block_edges(n, rows), block_edges(m, cols)
    values = pool_map(weights, rows, cols, reduce)
    row_sizes, col_sizes = np.diff(row_edges), np.diff(col_edges)
    return PooledMap(
        values=np.asarray(values, dtype=np.float64),
        row_labels=_block_labels(tokens, row_edges),
        col_labels=_block_labels(key_tokens, col_edges),
        row_block=(int(row_sizes.min()), int(row_sizes.max())),
        col_block=(int(col_sizes.min()), int(col_sizes.max())),
        reduce=reduce,
    )


def needs_pooling(dump: AttentionDump) -> bool:
    """True when N or M exceeds :data:`POOL_ABOVE`."""
    return dump.n > POOL_ABOVE or dump.m > POOL_ABOVE


@dataclass(frozen=True)
class _HeadMap:
    """One head's map as a chart draws it, and subtitle lines saying what was changed."""

    weights: NDArray[np.float64]
    rows: list[str]
    cols: list[str]
    notes: list[str]
    size: tuple[int, int]  # (N, M) of the map drawn, before any pooling
    exact: bool  # False once pooled into blocks


def _head_map(
    dump: AttentionDump, layer: int, head: int, hide: bool, reduce: Literal["mean", "max"]
) -> _HeadMap:
    """One head's map and its labels, pooled by ``reduce`` past :data:`POOL_ABOVE`."""
    check_head(dump, layer, head)
    weights = dump.attention[layer, head]
    rows, cols = list(dump.tokens), list(dump.key_tokens)
    notes: list[str] = []
    if hide:
        if not dump.self_attention:
            msg = (
                f"{dump.source}: hide_special needs self-attention (the same N tokens on "
                f"both axes); this map is {dump.n} × {dump.m}"
            )
            raise AtlasError(msg)
        kept = hide_special(weights, rows, SPECIAL_TOKENS)
        dropped = dump.n - len(kept.tokens)
        if dropped == dump.n:
            msg = f"{dump.source}: hide_special would hide all {dump.n} tokens"
            raise AtlasError(msg)
        weights = np.asarray(kept.weights, dtype=np.float64)
        rows = cols = list(kept.tokens)
        if dropped:
            hidden = sorted({t for t in dump.tokens if t in SPECIAL_TOKENS})
            notes.append(
                f"{dropped} special token(s) hidden ({', '.join(hidden)}); "
                "each row renormalised to sum to 1."
            )
    n, m = weights.shape
    if n <= POOL_ABOVE and m <= POOL_ABOVE:
        return _HeadMap(weights, rows, cols, notes, (n, m), exact=True)
    view = pooled(weights, rows, cols, reduce=reduce)
    notes.append(view.note)
    return _HeadMap(view.values, view.row_labels, view.col_labels, notes, (n, m), exact=False)


def head_chart(
    dump: AttentionDump,
    layer: int = 0,
    head: int = 0,
    *,
    hide_special: bool = False,
    reduce: Reduce = "mean",
    renderer: Renderer | None = None,
    title: str | None = None,
    x_title: str = "Key (attended to)",
    y_title: str = "Query (attending)",
) -> alt.TopLevelMixin:
    """Heatmap of one head, pooled (and saying so) when it is larger than ``POOL_ABOVE``.

    A map of :data:`~attention_atlas.charts.encoding.QUANTIZE_CELLS` cells or more
    travels as 256 levels; its values are then printed with the digits a level has
    (:func:`value_format`) and the tooltip says "≈ … quantised, step …".

    Parameters
    ----------
    dump : AttentionDump
    layer, head : int
        0-based.
    hide_special : bool
        Drop special tokens' rows and columns and renormalise rows (self-attention only).
    reduce : {"mean", "max"}
        Block reduction when the map is pooled.
    renderer : {"svg", "canvas"}, optional
        Renderer hint recorded in the chart.
    title : str, optional
        Defaults to ``"Layer L, head H"`` and the map's size.
    x_title, y_title : str
        What the columns and rows are (cross attention: encoder and decoder tokens).

    Returns
    -------
    chart : altair chart
    """
    from attention_atlas.charts import heatmap_chart

    view = _head_map(dump, layer, head, hide_special, reduce)
    n, m = view.size
    heading = title or f"Layer {layer}, head {head}: attention weights ({n} × {m})"
    # Weights span [0, 1]; block means are far smaller, so pooled maps use their own range.
    top = max(1.0 if view.exact else 1e-9, float(view.weights.max()))
    return heatmap_chart(
        view.weights,
        view.rows,
        view.cols,
        title=heading,
        subtitle=view.notes or None,
        x_title=x_title,
        y_title=y_title,
        fmt=value_format(view.weights, (0.0, top)),
        domain=(0.0, top),
        renderer_hint=renderer or ("canvas" if view.weights.size > 4096 else None),
        name="head",
    )


def row_chart(
    dump: AttentionDump,
    layer: int = 0,
    head: int = 0,
    *,
    hide_special: bool = False,
    title: str | None = None,
    x_title: str = "Key (attended to)",
    y_title: str = "Query (attending)",
) -> alt.TopLevelMixin:
    """Clickable map of one head whose selected query row is drawn as bars.

    Up to ``POOL_ABOVE`` positions a side the map travels exactly (4 decimals), so a
    clicked query's bars and every tooltip show its exact row. Larger maps are pooled
    (block means, quantised to 256 levels) and the subtitle says so; their values are
    printed with the digits a level has and marked "≈ … quantised, step …".
    """
    from attention_atlas.charts import row_explorer_chart

    view = _head_map(dump, layer, head, hide_special, "mean")
    heading = title or f"Layer {layer}, head {head}: click a query to see its row"
    return row_explorer_chart(
        view.weights,
        view.rows,
        view.cols,
        title=heading,
        subtitle=view.notes or None,
        x_title=x_title,
        y_title=y_title,
        fmt=".4f" if view.exact else value_format(view.weights, None, quantized=True),
        quantize=False if view.exact else None,
    )


def value_format(
    weights: NDArray[np.float64],
    domain: tuple[float, float] | None,
    *,
    quantized: bool | None = None,
) -> str:
    """The d3 format that prints a chart's values with the digits they really have.

    Exact values (fewer than :data:`~attention_atlas.charts.encoding.QUANTIZE_CELLS`
    cells, unless ``quantized``) keep 4 decimals. Quantised ones are a level of
    ``(hi - lo) / 255`` wide: printed to the decimal of that step's first significant
    digit (3 decimals for weights in [0, 1]), and never more than 4.

    Parameters
    ----------
    weights : ndarray, shape (N, M)
    domain : tuple of float, optional
        The colour domain the levels span; default as the chart's own
        (:func:`~attention_atlas.charts.encoding.default_domain`).
    quantized : bool, optional
        Whether the chart quantises; ``None`` decides by the number of cells as the
        chart builders do.
    """
    from attention_atlas.charts.encoding import QUANTIZE_CELLS, default_domain, encode_matrix

    if quantized is None:
        quantized = weights.size >= QUANTIZE_CELLS
    if not quantized:
        return ".4f"
    lo, hi = domain if domain is not None else default_domain(weights, diverging=False)
    step = encode_matrix(np.zeros((1, 1)), quantize=True, domain=(lo, hi)).step
    return f".{min(4, max(0, math.ceil(-math.log10(step))))}f"


def model_view_chart(
    dump: AttentionDump,
    *,
    reduce: Reduce = "mean",
    title: str | None = None,
    head_data: str | None = None,
    layout: Literal["side", "below"] = "side",
    map_side: int | None = None,
    opened: tuple[int, int] = (0, 0),
) -> alt.TopLevelMixin:
    """Every head in one grid (layers down, heads across), the picked head large.

    Without ``head_data`` the chart is self-contained: heads are pooled to at most
    :data:`GRID_BLOCKS` blocks per axis when N or M exceeds it (the subtitle states
    the block size). With ``head_data`` (a folder URL relative to the page, see
    :func:`attention_atlas.charts.grid.head_data_files`) the
    small maps are thumbnails pooled by ``reduce`` and the opened head shows all
    N x M cells, loaded on demand when too many to travel inline. Maps longer than
    :data:`GRID_BLOCKS` positions use a square-root colour scale: their weights are
    spread thin, and a linear scale would draw them all in its darkest colour.
    ``layout`` puts the opened head beside the grid or below it, ``map_side`` bounds
    a small map's side in pixels and ``opened`` is the (layer, head) opened first:
    see :func:`attention_atlas.charts.grid.head_grid_chart`.
    """
    from attention_atlas.charts import head_grid_chart

    weights, rows, cols = dump.attention, list(dump.tokens), list(dump.key_tokens)
    notes: list[str] = []
    if head_data is None and (dump.n > GRID_BLOCKS or dump.m > GRID_BLOCKS):
        view = pooled(weights, rows, cols, reduce=reduce, target=GRID_BLOCKS)
        notes.append(view.note)
        weights, rows, cols = view.values, view.row_labels, view.col_labels
    heading = title or (
        f"All {dump.layers * dump.heads} heads "
        f"({plural(dump.layers, 'layer')} × {plural(dump.heads, 'head')})"
    )
    return head_grid_chart(
        weights,
        rows,
        cols,
        title=heading,
        subtitle=notes or None,
        head_data=head_data,
        pool=reduce,
        colour_scale="sqrt" if max(dump.n, dump.m) > GRID_BLOCKS else "linear",
        layout=layout,
        map_side=map_side,
        opened=opened,
    )


def pooled_chart(
    dump: AttentionDump, layer: int = 0, head: int = 0, *, reduce: Reduce = "mean"
) -> alt.TopLevelMixin:
    """One head pooled to at most ``POOL_ABOVE`` blocks per axis, block size in the subtitle."""
    from attention_atlas.charts import heatmap_chart

    check_head(dump, layer, head)
    view = pooled(dump.attention[layer, head], dump.tokens, dump.key_tokens, reduce=reduce)
    what = "block means" if reduce == "mean" else "block maxima"
    r, c = view.values.shape
    return heatmap_chart(
        view.values,
        view.row_labels,
        view.col_labels,
        title=f"Layer {layer}, head {head}: {what} ({r} × {c} blocks of a {dump.n} × {dump.m} map)",
        subtitle=[view.note],
        value_title=f"weight ({reduce})",
        fmt=value_format(view.values, (0.0, max(1e-9, float(view.values.max())))),
        domain=(0.0, max(1e-9, float(view.values.max()))),
        renderer_hint="canvas",
        name="pool",
    )


@dataclass(frozen=True)
class HeadSummary:
    """Per-head numbers, each an (L, H) array (``None`` when it does not apply)."""

    entropy: NDArray[np.float64]
    """Mean row entropy in bits."""
    special_share: NDArray[np.float64] | None
    """Mean share of weight on special keys; ``None`` when no key is special."""
    previous: NDArray[np.float64] | None
    """Mean weight on the previous position; ``None`` unless self-attention."""
    following: NDArray[np.float64] | None
    """Mean weight on the next position; ``None`` unless self-attention."""
    max_weight: NDArray[np.float64]
    """Largest single weight of each head."""
    special: tuple[str, ...]
    """The special tokens present among the keys."""

    def rows(self) -> list[dict[str, Any]]:
        """One dict a head (``layer``, ``head`` and each number), layer-major."""
        out = []
        layers, heads = self.entropy.shape
        for layer in range(layers):
            for head in range(heads):
                out.append(
                    {
                        "layer": layer,
                        "head": head,
                        "entropy": float(self.entropy[layer, head]),
                        "special_share": _maybe(self.special_share, layer, head),
                        "previous": _maybe(self.previous, layer, head),
                        "next": _maybe(self.following, layer, head),
                        "max_weight": float(self.max_weight[layer, head]),
                    }
                )
        return out


def _maybe(values: NDArray[np.float64] | None, layer: int, head: int) -> float | None:
    return None if values is None else float(values[layer, head])


def head_summaries(dump: AttentionDump, special: Collection[str] = SPECIAL_TOKENS) -> HeadSummary:
    """Entropy, special-token share, previous/next-token scores and peak weight per head."""
    present = tuple(sorted({t for t in dump.key_tokens if t in special}))
    share = special_token_share(dump.attention, dump.key_tokens, special) if present else None
    square = dump.self_attention and dump.n > 1
    return HeadSummary(
        entropy=np.asarray(head_entropy(dump.attention), dtype=np.float64),
        special_share=None if share is None else np.asarray(share, dtype=np.float64),
        previous=np.asarray(previous_token_score(dump.attention)) if square else None,
        following=np.asarray(next_token_score(dump.attention)) if square else None,
        max_weight=dump.attention.max(axis=(-2, -1)),
        special=present,
    )


#: Summary charts by name: (HeadSummary attribute, title, value title, colour domain kind).
SUMMARIES: dict[str, tuple[str, str, str]] = {
    "entropy": ("entropy", "Mean row entropy (bits)", "entropy (bits)"),
    "special-share": ("special_share", "Share of weight on special tokens", "share"),
    "previous-token": ("previous", "Weight on the previous token", "weight"),
    "next-token": ("following", "Weight on the next token", "weight"),
}


def summary_chart(
    dump: AttentionDump, name: str, summary: HeadSummary | None = None
) -> alt.TopLevelMixin:
    """A layer × head heatmap of one per-head number (``name`` in :data:`SUMMARIES`)."""
    from attention_atlas.charts import heatmap_chart

    if name not in SUMMARIES:
        msg = f"unknown summary {name!r}: expected one of {', '.join(SUMMARIES)}"
        raise AtlasError(msg)
    summary = summary or head_summaries(dump)
    attr, title, value_title = SUMMARIES[name]
    values = getattr(summary, attr)
    if values is None:
        msg = f"{dump.source}: the {name} summary does not apply to this dump"
        raise AtlasError(msg)
    if name == "entropy":
        domain = (0.0, max(1e-9, math.log2(dump.m)))
        subtitle = (
            f"0 bits: every query on one key; {fixed(math.log2(dump.m))} bits: "
            f"spread evenly over all {dump.m} keys."
        )
    elif name == "special-share":
        domain = (0.0, 1.0)
        subtitle = f"Special tokens counted: {', '.join(summary.special)}."
    else:
        domain = (0.0, 1.0)
        subtitle = "1 means every query puts all its weight there."
    return heatmap_chart(
        values,
        [f"layer {i}" for i in range(dump.layers)],
        [f"head {h}" for h in range(dump.heads)],
        title=title,
        subtitle=subtitle,
        x_title="Head",
        y_title="Layer",
        value_title=value_title,
        fmt=".2f",
        domain=domain,
        scheme="blues",
        show_values=dump.layers * dump.heads <= 144,
        name="sum",
    )


#: How to read each named chart, one line (the default caption of the fence).
CAPTIONS = {
    "map": "Rows are queries, columns keys; each row sums to 1. Hover a cell for the exact weight.",
    "rows": "Click a query (a row of the map) to draw its weights over the keys as bars.",
    "grid": "One map per (layer, head): rows are queries, columns keys.",
    "entropy": "Low entropy: each query looks at a few keys; high: it spreads its weight evenly.",
    "special-share": "How much of each query's weight lands on special tokens, averaged over "
    "queries.",
    "previous-token": "Mean weight on the position just before each query; near 1 is a "
    "previous-token head.",
    "next-token": "Mean weight on the position just after each query; near 1 is a next-token head.",
    "pooled-mean": "Each cell is the mean weight of a block of positions (block size above).",
    "pooled-max": "Each cell is the largest weight in a block of positions (block size above).",
}


def caption_for(name: str) -> str:
    """The default one-line caption of the chart called ``name``."""
    return CAPTIONS.get(name, "Hover a cell for the exact value.")


def chart_names(dump: AttentionDump) -> list[str]:
    """Names :func:`dump_chart` accepts for this dump, the default first."""
    names = ["map", "rows", "grid"]
    summary = head_summaries(dump)
    names += [n for n, (attr, _, _) in SUMMARIES.items() if getattr(summary, attr) is not None]
    if needs_pooling(dump):
        names += ["pooled-mean", "pooled-max"]
    return names


def dump_chart(
    dump: AttentionDump,
    name: str = "map",
    *,
    layer: int = 0,
    head: int = 0,
    hide_special: bool = False,
    renderer: Renderer | None = None,
) -> alt.TopLevelMixin:
    """The chart called ``name`` (see :func:`chart_names`) for a dump.

    ``map`` is one head's heatmap, ``rows`` the clickable row explorer, ``grid`` every
    head, ``entropy`` / ``special-share`` / ``previous-token`` / ``next-token`` the
    per-head summaries, ``pooled-mean`` / ``pooled-max`` the pooled views.
    """
    names = chart_names(dump)
    if name not in names:
        msg = f"{dump.source}: no chart named {name!r}; expected one of {', '.join(names)}"
        raise AtlasError(msg)
    if name == "map":
        return head_chart(dump, layer, head, hide_special=hide_special, renderer=renderer)
    if name == "rows":
        return row_chart(dump, layer, head, hide_special=hide_special)
    if name == "grid":
        return model_view_chart(dump)
    if name.startswith("pooled-"):
        return pooled_chart(dump, layer, head, reduce="mean" if name == "pooled-mean" else "max")
    return summary_chart(dump, name)


#: Largest number of weights (L * H * N * M) the report's "ask" chart carries, exactly,
#: in its page (about 5 bytes a weight): beyond it the page lists chosen pairs only.
ASK_CELLS = 200_000


def link_chart(
    dump: AttentionDump,
    kinds: Sequence[str],
    *,
    query: int = 0,
    key: int = 0,
    x_title: str = "Key",
    y_title: str = "Query",
) -> alt.TopLevelMixin:
    """Every head ranked by its weight from a query onto a key the reader picks.

    Two menus pick the query and the key (by position and token); the bars list every
    (layer, head), largest weight first, with each head's kind. The weights travel
    exactly (4 decimals), so the chart needs ``L * H * N * M <= ASK_CELLS``.

    Parameters
    ----------
    dump : AttentionDump
    kinds : sequence of str, length L * H
        Each head's kind, layer-major (:func:`attention_atlas.readouts.head_kinds`).
    query, key : int
        The pair picked first.
    x_title, y_title : str
        What keys and queries are (the menus' names).
    """
    from attention_atlas.charts.encoding import encode_matrix, label_list
    from attention_atlas.charts.theme import ACCENT
    from attention_atlas.charts.toolkit import chart_title, value_params

    layers, heads, n, m = dump.sizes
    total = layers * heads * n * m
    if total > ASK_CELLS:
        msg = f"{dump.source}: {total} weights are too many for the ask chart (at most {ASK_CELLS})"
        raise AtlasError(msg)
    if len(kinds) != layers * heads:
        msg = f"{len(kinds)} kinds given for {layers * heads} heads"
        raise AtlasError(msg)
    enc = encode_matrix(dump.attention.reshape(layers * heads, n * m), decimals=4)
    q_labels = [f"{i}: {t}" for i, t in enumerate(label_list(dump.tokens, n, "tokens"))]
    k_labels = [f"{i}: {t}" for i, t in enumerate(label_list(dump.key_tokens, m, "key_tokens"))]
    pick_q = alt.param(
        name="ask_q",
        value=int(query),
        bind=alt.binding_select(options=list(range(n)), labels=q_labels, name=f"{y_title} "),
    )
    pick_k = alt.param(
        name="ask_k",
        value=int(key),
        bind=alt.binding_select(options=list(range(m)), labels=k_labels, name=f"{x_title} "),
    )
    value = enc.decode_expr("ask_v", f"(datum.i * {n * m} + ask_q * {m} + ask_k)")
    height = max(120, 14 * layers * heads)
    bars = (
        alt.Chart(alt.sequence(0, layers * heads, as_="i"), name="ask_bars")
        .transform_calculate(
            layer=f"floor(datum.i / {heads})",
            head=f"datum.i % {heads}",
            v=value,
            kind="ask_kinds[datum.i]",
        )
        .transform_calculate(name="'L' + datum.layer + ' H' + datum.head")
        .transform_window(
            rank="row_number()", sort=[alt.SortField("v", order="descending"), {"field": "i"}]
        )
        .mark_bar(color=ACCENT)
        .encode(
            y=alt.Y("name:N", sort=alt.EncodingSortField("rank"), title="Head (layer, head)"),
            x=alt.X(
                "v:Q", title="weight from the query onto the key", scale=alt.Scale(domain=[0, 1])
            ),
            tooltip=[
                alt.Tooltip("rank:Q", title="rank"),
                alt.Tooltip("name:N", title="head"),
                alt.Tooltip("v:Q", title="weight (exact, 4 decimals)", format=".4f"),
                alt.Tooltip("kind:N", title="kind"),
            ],
        )
        .properties(width=360, height=height)
    )
    return bars.add_params(
        *value_params(enc, "ask_v"),
        alt.param(name="ask_kinds", value=[str(k) for k in kinds]),
        pick_q,
        pick_k,
    ).properties(
        title=chart_title(
            "Which heads link this query to this key?",
            "Pick a query and a key below; every head, largest weight first.",
        ),
        usermeta={"atlas": {"cells": int(layers * heads)}},
    )
