"""A standalone MkDocs-Material site for a user's own attention dump.

``build_report("run.npz", out=Path("run-report"))`` checks the file
(:func:`attention_atlas.dumps.read.load_dump`), renders the report's pages from
``templates/report/``, writes them with the chart assets and a generated
``mkdocs.yml`` into a temporary folder, runs ``mkdocs build --strict`` and swaps
the result into ``out``. A failure at any step leaves an existing ``out``
byte-for-byte as it was.

Pages: an overview (the file, every head in one grid, a table of per-head
numbers), one page a layer with every head's clickable map, the per-head
summaries as charts, and pooled views when N or M exceeds
:data:`attention_atlas.dumps.charts.POOL_ABOVE`.

The overview's model view carries one thumbnail a head; when the exact values of
every head are too many to travel in the page, each head's values go into a small
script in :data:`MODEL_VIEW_DATA` beside it (``render_report`` returns those files
with the pages), loaded when the reader opens that head.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from markupsafe import Markup, escape

from attention_atlas import readouts
from attention_atlas.dumps import charts as dump_charts
from attention_atlas.dumps.destination import check_report_folder, report_folder
from attention_atlas.dumps.read import AttentionDump, ProjectionDump, load_any
from attention_atlas.dumps.seq2seq import FIELDS, PARTS, TITLES, Seq2SeqDump, is_seq2seq
from attention_atlas.dumps.workers import per_layer
from attention_atlas.errors import AtlasError
from attention_atlas.fileio import MARKER, write_atomic, write_if_changed
from attention_atlas.render import templating
from attention_atlas.text import (
    bytes_text,
    fixed,
    hidden_marks,
    plural,
    shape_text,
    significant,
    size_text,
    thousands,
    visible,
    visible_note,
)

__all__ = ["MARKER", "ReportResult", "build_report", "render_report", "report_config"]

#: Tokens listed in the overview's token table before it says "and K more".
TOKEN_ROWS = 512

#: Folder (relative to the docs folder and to the overview page) of the model view's
#: per-head data files.
MODEL_VIEW_DATA = "model-view/"


@dataclass
class ReportResult:
    """What :func:`build_report` did."""

    out: Path
    pages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _layer_page(layer: int) -> str:
    return f"heads/layer-{layer}.md"


def _figure(
    chart: Any, caption: str, name: str, renderer: dump_charts.Renderer | None = None
) -> Any:
    from attention_atlas.charts import Figure

    return Figure(chart, caption=caption, name=name, renderer=renderer)


def _common(dump: AttentionDump, title: str) -> dict[str, Any]:
    return {
        **_named(title, Path(dump.source).name),
        "layers_text": plural(dump.layers, "layer"),
        "heads_text": plural(dump.heads, "head"),
        "layers": dump.layers,
        "heads": dump.heads,
        "n_queries": dump.n,
        "m_keys": dump.m,
        "pooled": dump_charts.needs_pooling(dump),
        "pool_above": dump_charts.POOL_ABOVE,
        "warnings": [visible(w) for w in dump.warnings],
        "layer_pages": [
            {"layer": layer, "link": _layer_page(layer)} for layer in range(dump.layers)
        ],
    }


def _named(title: str, source_name: str) -> dict[str, Any]:
    """The title and file name as shown (:func:`visible`), and a note when that changed them."""
    return {
        "title": visible(title),
        "source_name": visible(source_name),
        "title_note": visible_note(
            hidden_marks([title, source_name]), where=" in the title or file name"
        ),
    }


def _token_table(dump: AttentionDump) -> dict[str, Any]:
    """The overview's token table: one row a position, every token shown visibly."""
    count = min(max(dump.n, dump.m), TOKEN_ROWS)
    if dump.self_attention:
        columns = ["Position", "Token"]
        shown = list(dump.tokens[:count])
        rows = [[str(i), visible(token)] for i, token in enumerate(shown)]
    else:
        columns = ["Position", "Query token", "Key token"]
        shown = [*dump.tokens[:count], *dump.key_tokens[:count]]
        rows = [
            [
                str(i),
                visible(dump.tokens[i]) if i < dump.n else "",
                visible(dump.key_tokens[i]) if i < dump.m else "",
            ]
            for i in range(count)
        ]
    return {
        "token_columns": columns,
        "token_rows": rows,
        "tokens_note": visible_note(hidden_marks(shown), where=" in tokens"),
        "tokens_left": max(0, max(dump.n, dump.m) - TOKEN_ROWS),
    }


def _model_view(dump: AttentionDump) -> tuple[Any, dict[str, str]]:
    """The overview's model view and the per-head data files it loads (maybe none).

    The opened head goes below the grid, and the grid is as wide as the page column:
    side by side, the opened head (with its values) would lie beyond the column and
    the reader would scroll sideways to find it.
    """
    from attention_atlas.charts.grid import head_data_files

    chart = dump_charts.model_view_chart(
        dump,
        head_data=MODEL_VIEW_DATA,
        layout="below",
        map_side=max(24, min(72, GRID_WIDTH // dump.heads - 4)),
    )
    usermeta = getattr(chart, "usermeta", None)
    usermeta = usermeta if isinstance(usermeta, dict) else {}
    heads = usermeta.get("atlas", {}).get("heads")
    files = head_data_files(dump.attention, MODEL_VIEW_DATA) if heads else {}
    return chart, files


#: Width in pixels the model view's grid aims at (the page column is ~690 px).
GRID_WIDTH = 640


def _kinds(dump: AttentionDump) -> readouts.HeadKinds:
    """Each head's kind and sink; a causal map's sinks count only the queries that see them."""
    seen = readouts.seen_keys(dump.attention, bool(getattr(dump, "causal", False)))
    return readouts.head_kinds(dump.attention, aligned=dump.self_attention, visible=seen)


def _head_name(layer: int, head: int) -> str:
    return f"L{layer} H{head}"


def _kinds_context(dump: AttentionDump, kinds: readouts.HeadKinds) -> dict[str, Any]:
    """The kinds' counts, the rule in words, and the first-token sentence."""
    counts = {k: int((kinds.kind == k).sum()) for k in readouts.KINDS}
    kinds_text = ", ".join(f"{plural(counts[k], 'head')} {k}" for k in readouts.KINDS if counts[k])
    dominated = [
        _head_name(int(layer), int(head))
        for layer, head in zip(*np.nonzero(kinds.first_dominates), strict=True)
    ]
    first_text = _first_token_text(dump.key_tokens[0], dominated, dump.layers * dump.heads)
    return {
        "kinds_text": kinds_text,
        "first_text": first_text,
        "neighbour_min": fixed(readouts.NEIGHBOUR_MIN, 1),
        "sink_min": fixed(readouts.SINK_MIN, 1),
        "causal_sinks": readouts.seen_keys(dump.attention, bool(getattr(dump, "causal", False)))
        is not None,
    }


def _overview(
    dump: AttentionDump,
    title: str,
    summary: dump_charts.HeadSummary,
    files: dict[str, str],
    kinds: readouts.HeadKinds,
    axes: tuple[str, str] = ("Key (attended to)", "Query (attending)"),
) -> dict[str, Any]:
    single = dump.layers * dump.heads == 1
    if single:
        main = _figure(
            dump_charts.head_chart(dump, 0, 0, x_title=axes[0], y_title=axes[1]),
            "Rows are queries, columns keys; hover a cell for its weight.",
            "map",
        )
    else:
        chart, data = _model_view(dump)
        files.update(data)
        main = _figure(
            chart,
            "One map per (layer, head); rows are queries, columns keys. Click a map "
            "to open it below the grid with every cell's value.",
            "grid",
            renderer="canvas",
        )
    rows = [
        {
            "layer": r["layer"],
            "head": r["head"],
            "link": Markup(_layer_page(r["layer"]) + f"#head-{int(r['head'])}"),
            "entropy": fixed(r["entropy"], 2),
            "special_share": fixed(r["special_share"], 3),
            "previous": fixed(r["previous"], 3),
            "next": fixed(r["next"], 3),
            "max_weight": fixed(r["max_weight"], 3),
            "kind": str(kinds.kind[r["layer"], r["head"]]),
            "sink": _sink_text(dump, kinds, r["layer"], r["head"]),
        }
        for r in summary.rows()
    ]
    return {
        **_common(dump, title),
        "stored_shape": shape_text(dump.stored_shape),
        "shape": f"({dump.layers}, {dump.heads}, {dump.n}, {dump.m})",
        "self_attention": dump.self_attention,
        "zero_rows": dump.zero_rows,
        "single": single,
        "main_fig": main,
        "summary_rows": rows,
        "special": ", ".join(visible(t) for t in summary.special),
        "has_special": summary.special_share is not None,
        "has_neighbours": summary.previous is not None,
        **_kinds_context(dump, kinds),
        **_token_table(dump),
    }


def _sink_text(dump: AttentionDump, kinds: readouts.HeadKinds, layer: int, head: int) -> str:
    """``0: [CLS] (0.62)``: the sink's position, token and mean weight."""
    pos = int(kinds.sink[layer, head])
    token = visible(dump.key_tokens[pos])
    return f"{pos}: {token} ({fixed(float(kinds.sink_weight[layer, head]), 3)})"


def _layer(
    dump: AttentionDump,
    title: str,
    layer: int,
    axes: tuple[str, str] = ("Key (attended to)", "Query (attending)"),
) -> dict[str, Any]:
    heads = []
    for head in range(dump.heads):
        heads.append(
            {
                "head": head,
                "fig": _figure(
                    dump_charts.row_chart(dump, layer, head, x_title=axes[0], y_title=axes[1]),
                    "Click a query (a row of the map) to draw how it splits its attention "
                    "over the keys; hover for exact weights.",
                    f"L{layer}H{head}",
                ),
            }
        )
    return {**_common(dump, title), "layer": layer, "head_figs": heads}


def _layer_text(shared: tuple[AttentionDump, str, tuple[str, str]], layer: int) -> str:
    """The page of one layer (drawn by :func:`per_layer`)."""
    dump, title, axes = shared
    return templating.render("report/layer.md.j2", _layer(dump, title, layer, axes))


def _summaries(dump: AttentionDump, title: str, summary: dump_charts.HeadSummary) -> dict[str, Any]:
    captions = {
        "entropy": "Low entropy: each query looks at a few keys. High: it spreads its "
        "weight evenly.",
        "special-share": "How much of each query's weight lands on special tokens, "
        "averaged over queries.",
        "previous-token": "Mean weight on the position just before each query: near 1 is a "
        "previous-token head.",
        "next-token": "Mean weight on the position just after each query: near 1 is a "
        "next-token head.",
    }
    figs = []
    for name in dump_charts.SUMMARIES:
        attr = dump_charts.SUMMARIES[name][0]
        if getattr(summary, attr) is None:
            continue
        figs.append(
            {
                "name": name,
                "fig": _figure(
                    dump_charts.summary_chart(dump, name, summary), captions[name], name
                ),
            }
        )
    return {
        **_common(dump, title),
        "figs": figs,
        "special": ", ".join(visible(t) for t in summary.special),
        "has_special": summary.special_share is not None,
        "has_neighbours": summary.previous is not None,
    }


def _pooled(dump: AttentionDump, title: str) -> dict[str, Any]:
    mean = dump_charts.pooled(dump.attention, dump.tokens, dump.key_tokens, reduce="mean")
    grids = []
    reductions: tuple[dump_charts.Reduce, ...] = ("mean", "max")
    for reduce in reductions:
        grids.append(
            {
                "reduce": reduce,
                "fig": _figure(
                    dump_charts.model_view_chart(dump, reduce=reduce),
                    "Block means show where weight goes on average; block maxima show "
                    "single sharp links that means wash out."
                    if reduce == "max"
                    else "Each cell is the mean weight of its block of positions.",
                    f"grid-{reduce}",
                    renderer="canvas",
                ),
            }
        )
    return {
        **_common(dump, title),
        "rows": len(mean.row_labels),
        "cols": len(mean.col_labels),
        "row_block": size_text(mean.row_block),
        "col_block": size_text(mean.col_block),
        "grid_blocks": dump_charts.GRID_BLOCKS,
        "grids": grids,
    }


#: A pair to ask about: (query, key), each a position or a token's text.
Ask = tuple[str | int, str | int]

_AXES = ("Key (attended to)", "Query (attending)")


def _default_pair(dump: AttentionDump) -> tuple[int, int]:
    """The strongest link of any head between two different, non-special tokens (or 0, 0)."""
    strongest = dump.attention.max(axis=(0, 1)).copy()  # (N, M)
    strongest[readouts.special_mask(dump.tokens), :] = -1
    strongest[:, readouts.special_mask(dump.key_tokens)] = -1
    if dump.self_attention:
        np.fill_diagonal(strongest, -1)
    if strongest.max() < 0:
        return 0, 0
    q, k = np.unravel_index(int(strongest.argmax()), strongest.shape)
    return int(q), int(k)


def resolve_asks(dump: AttentionDump, asks: list[Ask]) -> list[tuple[int, int]]:
    """Each (query, key) as positions; ``AtlasError`` naming the file when one does not resolve."""
    pairs = []
    for query, key in asks:
        try:
            pairs.append(
                (
                    readouts.token_position(dump.tokens, query, "query"),
                    readouts.token_position(dump.key_tokens, key, "key"),
                )
            )
        except AtlasError as exc:
            raise AtlasError(f"{dump.source}: {exc}") from None
    return pairs


def _ask(
    dump: AttentionDump,
    title: str,
    kinds: readouts.HeadKinds,
    pairs: list[tuple[int, int]],
    axes: tuple[str, str],
) -> dict[str, Any]:
    """The "ask" page: a picker over every pair when the weights fit, and a table a pair."""
    tables = []
    for q, k in pairs:
        ranked = readouts.rank_link(dump.attention, q, k, kinds.kind)
        tables.append(
            {
                "query": f"{q} “{visible(dump.tokens[q])}”",
                "key": f"{k} “{visible(dump.key_tokens[k])}”",
                "rows": [
                    {
                        "rank": rank,
                        "layer": s.layer,
                        "head": s.head,
                        "link": Markup(_layer_page(s.layer) + f"#head-{s.head}"),
                        "weight": significant(s.weight, 4),
                        "kind": s.kind,
                    }
                    for rank, s in enumerate(ranked, start=1)
                ],
            }
        )
    total = dump.layers * dump.heads * dump.n * dump.m
    fig = None
    if total <= dump_charts.ASK_CELLS:
        q, k = pairs[0] if pairs else _default_pair(dump)
        chart = dump_charts.link_chart(
            dump,
            [str(x) for x in kinds.kind.reshape(-1)],
            query=q,
            key=k,
            x_title=axes[0].split(" (")[0],
            y_title=axes[1].split(" (")[0],
        )
        fig = _figure(
            chart,
            "Pick a query and a key: each bar is one head's weight from that query onto "
            "that key, exact to 4 decimals; hover for the head's rank and kind.",
            "ask",
        )
    return {
        **_common(dump, title),
        "chart_fig": fig,
        "asks": tables,
        "weights_count": thousands(total),
        "ask_cells": thousands(dump_charts.ASK_CELLS),
    }


def render_report(
    dump: AttentionDump,
    *,
    title: str | None = None,
    asks: list[Ask] | None = None,
    axes: tuple[str, str] = _AXES,
    field: str = "attention",
    keys_text: str = "",
) -> dict[str, str]:
    """Every file of the report, keyed by its path in the docs folder (pure: writes nothing).

    The ``.md`` entries are pages; the others (the model view's per-head data, in
    :data:`MODEL_VIEW_DATA`) are copied by MkDocs as they are. ``asks`` are the
    (query, key) pairs the "ask" page ranks every head for (positions or unique
    token texts); ``axes`` name the maps' columns and rows (key, query); ``field`` is
    the map's field in the file and ``keys_text`` says what the keys are.
    """
    heading = title or f"Attention report: {Path(dump.source).name}"
    pairs = resolve_asks(dump, list(asks or []))
    summary = dump_charts.head_summaries(dump)
    kinds = _kinds(dump)
    files: dict[str, str] = {}
    overview = _overview(dump, heading, summary, files, kinds, axes)
    overview.update(field=escape(field), keys_text=keys_text)  # in a code span: HTML only
    pages = {
        "index.md": templating.render("report/overview.md.j2", overview),
        "summaries.md": templating.render(
            "report/summaries.md.j2", _summaries(dump, heading, summary)
        ),
        "ask.md": templating.render("report/ask.md.j2", _ask(dump, heading, kinds, pairs, axes)),
    }
    layer_pages = per_layer(
        _layer_text, (dump, heading, axes), dump.layers, heads=dump.layers * dump.heads
    )
    for layer, text in enumerate(layer_pages):
        pages[_layer_page(layer)] = text
    if dump_charts.needs_pooling(dump):
        pages["pooled.md"] = templating.render("report/pooled.md.j2", _pooled(dump, heading))
    pages.update(files)
    return pages


def _span(edges: Any, index: int) -> str:
    """Positions of block ``index``: ``"256–383"``."""
    return f"{int(edges[index])}–{int(edges[index + 1]) - 1}"


def _streamed_head(dump: ProjectionDump, view: Any) -> dict[str, Any]:
    """One head's figures: block maxima with the strongest blocks' exact weights, block means."""
    from attention_atlas.charts import Figure, block_explorer_chart, block_overview_chart

    rows, cols = view.maximum.shape
    block = size_text(_sizes(view.row_edges)) + " × " + size_text(_sizes(view.col_edges))
    blocks_text = f"{rows} × {cols} blocks of {block} positions"
    names = [
        f"Queries {_span(view.row_edges, i)} × keys {_span(view.col_edges, j)}"
        for i, j in view.blocks
    ]
    prefix = f"L{view.layer}H{view.head}"
    explorer = block_explorer_chart(
        view.maximum,
        view.row_edges,
        view.col_edges,
        list(view.details),
        list(view.blocks),
        names,
        title=[f"Layer {view.layer}, head {view.head}: block maxima", f"({blocks_text})"],
        subtitle=["Square-root colour scale", "Click a ringed block (or use the menu)"],
        value_title="block maximum",
        detail_title="weight in the block",
        fmt=".3f",
        scale_type="sqrt",
        name=f"bx{prefix}",
    )
    means = block_overview_chart(
        view.mean,
        view.row_edges,
        view.col_edges,
        title=[f"Layer {view.layer}, head {view.head}: block means", f"({blocks_text})"],
        subtitle="Square-root colour scale",
        marked=list(view.blocks),
        marked_names=names,
        value_title="block mean",
        fmt=".2e",
        scale_type="sqrt",
        name=f"bo{prefix}",
    )
    return {
        "head": view.head,
        "blocks_text": blocks_text,
        "strongest": [
            {"name": name, "max": fixed(float(view.maximum[i, j]), 4)}
            for name, (i, j) in zip(names, view.blocks, strict=True)
        ],
        "explorer_fig": Figure(
            explorer,
            caption="Top: each cell is the largest weight of its block. Bottom: the exact "
            "weights of the picked block, coloured from 0 to that block's largest weight.",
            name=f"{prefix}-maxima",
        ),
        "means_fig": Figure(
            means,
            caption="Each cell is the mean weight of its block: where weight goes on average. "
            "The ringed blocks are the ones with exact weights above.",
            name=f"{prefix}-means",
        ),
    }


def _sizes(edges: Any) -> tuple[int, int]:
    widths = [int(b) - int(a) for a, b in pairwise(edges)]
    return min(widths), max(widths)


def render_streamed_report(
    dump: ProjectionDump, *, title: str | None = None, views: list[Any] | None = None
) -> dict[str, str]:
    """The report of a dump of queries and keys: pooled views streamed head by head.

    Pages: an overview (the file, every head's block maxima in one grid) and one
    page a layer with each head's block maxima, the exact weights of its strongest
    blocks (:data:`attention_atlas.dumps.stream.DETAILS` a head) and its block means. No
    attention map is ever held: see :mod:`attention_atlas.dumps.stream`. ``views`` (from
    :func:`attention_atlas.dumps.stream.stream_dump`) skips the computation. Pure: writes nothing.
    """
    from attention_atlas.charts import Figure, head_grid_chart
    from attention_atlas.dumps.stream import DETAILS, stream_dump

    heading = title or f"Attention report: {Path(dump.source).name}"
    heads = views if views is not None else stream_dump(dump)
    first = heads[0]
    rows, cols = first.maximum.shape
    block = size_text(_sizes(first.row_edges)) + " × " + size_text(_sizes(first.col_edges))
    maxima = np.stack([v.maximum for v in heads]).reshape(dump.layers, dump.heads, rows, cols)
    grid = head_grid_chart(
        maxima,
        [_span(first.row_edges, i) for i in range(rows)],
        [_span(first.col_edges, j) for j in range(cols)],
        title=f"All {dump.layers * dump.heads} heads: block maxima",
        subtitle=f"{rows} × {cols} blocks of {block} positions; each cell is its block's "
        "largest weight",
        thumbnails=True,
        inline=False,
        colour_scale="sqrt",
        layout="below",
        map_side=max(24, min(72, GRID_WIDTH // dump.heads - 4)),
    )
    common = {
        **_named(heading, Path(dump.source).name),
        "layers_text": plural(dump.layers, "layer"),
        "heads_text": plural(dump.heads, "head"),
        "n_queries": dump.n,
        "m_keys": dump.m,
        "blocks_text": f"{rows} × {cols} blocks of {block} positions",
        "layer_pages": [
            {"layer": layer, "link": _layer_page(layer)} for layer in range(dump.layers)
        ],
    }
    overview = {
        **common,
        "stored_shape": shape_text(dump.stored_shape),
        "shape": f"({dump.layers}, {dump.heads}, {dump.n}, {dump.q.shape[-1]})",
        "k_shape": f"({dump.layers}, {dump.kv_heads}, {dump.m}, {dump.k.shape[-1]})",
        "grouped": dump.kv_heads != dump.heads,
        "group": dump.group,
        "causal": dump.causal,
        "query_offset": dump.query_offset,
        **_streamed_sinks(dump, heads),
        "scale": significant(dump.scale, 6),
        "map_size": bytes_text(dump.map_bytes),
        "head_map_size": bytes_text(dump.map_bytes // (dump.layers * dump.heads)),
        "details": DETAILS,
        "self_attention": dump.self_attention,
        "grid_fig": Figure(
            grid,
            caption="One small map per (layer, head), drawn from its block maxima; click "
            "one to open it below the grid. Each head's page has its exact strongest blocks.",
            name="grid",
            renderer="canvas",
        ),
    }
    pages = {"index.md": templating.render("report/streamed-overview.md.j2", overview)}
    layer_pages = per_layer(
        _streamed_layer_text, (dump, common, heads), dump.layers, heads=len(heads)
    )
    for layer, text in enumerate(layer_pages):
        pages[_layer_page(layer)] = text
    return pages


def _streamed_sinks(dump: ProjectionDump, heads: list[Any]) -> dict[str, Any]:
    """Each head's sink (the key with the most mean weight from the queries that see it)
    and whether the first token dominates, from the streamed key means."""
    rows = []
    dominated = []
    for view in heads:
        key, weight = view.sink
        rows.append(
            {
                "layer": view.layer,
                "head": view.head,
                "link": Markup(_layer_page(view.layer) + f"#head-{view.head}"),
                "sink": f"{key}: {visible(dump.key_tokens[key])}",
                "weight": fixed(weight, 3),
            }
        )
        if key == 0 and weight >= readouts.FIRST_DOMINATES:
            dominated.append(_head_name(view.layer, view.head))
    first_text = _first_token_text(dump.key_tokens[0], dominated, len(heads))
    return {"sink_rows": rows, "first_text": first_text}


def _first_token_text(token: str, dominated: list[str], total: int) -> str:
    """Whether the first token dominates: the heads (``"L0 H3"``) where it is the sink
    with at least :data:`~attention_atlas.readouts.FIRST_DOMINATES` of the mean weight."""
    first = visible(token)
    share = fixed(readouts.FIRST_DOMINATES, 1)
    if not dominated:
        return (
            f"The first token (position 0, “{first}”) dominates none of the {total} heads "
            f"(no head gives it {share} or more of its mean weight as its sink)."
        )
    more = len(dominated) - 24
    listed = ", ".join(dominated[:24]) + (f" and {more} more" if more > 0 else "")
    return (
        f"The first token (position 0, “{first}”) dominates {len(dominated)} of {total} "
        f"heads: it is their sink and takes at least {share} of the mean weight of the "
        f"queries that see it ({listed})."
    )


def _streamed_layer_text(
    shared: tuple[ProjectionDump, dict[str, Any], list[Any]], layer: int
) -> str:
    """The page of one layer of a streamed report (drawn by :func:`per_layer`)."""
    dump, common, heads = shared
    figs = [_streamed_head(dump, v) for v in heads if v.layer == layer]
    return templating.render(
        "report/streamed-layer.md.j2", {**common, "layer": layer, "head_figs": figs}
    )


def _nav(pages: dict[str, str], prefix: str = "") -> list[Any]:
    """The navigation of one report's pages, all under ``prefix`` ("" or ``"cross/"``)."""
    layers = sorted(
        (p for p in pages if p.startswith(prefix + "heads/")),
        key=lambda p: int(p.removeprefix(prefix + "heads/layer-").removesuffix(".md")),
    )
    nav: list[Any] = [{"Overview": prefix + "index.md"}]
    nav.append(
        {
            "Heads": [
                {
                    p.removeprefix(prefix + "heads/")
                    .removesuffix(".md")
                    .replace("-", " ")
                    .capitalize(): p
                }
                for p in layers
            ]
        }
    )
    for page, name in (
        ("summaries.md", "Head summaries"),
        ("ask.md", "Ask the report"),
        ("pooled.md", "Pooled views"),
    ):
        if prefix + page in pages:
            nav.append({name: prefix + page})
    return nav


def report_config(title: str, pages: dict[str, str], assets: list[str]) -> dict[str, Any]:
    """The generated ``mkdocs.yml`` (as a dict): the Atlas theme, offline, file://-friendly.

    An encoder-decoder report (pages under ``encoder/``, ``decoder/``, ``cross/``) gets
    one section a map.
    """
    if any(p.startswith(f"{part}/") for p in pages for part in PARTS):
        nav: list[Any] = [{"Overview": "index.md"}]
        nav += [{TITLES[part]: _nav(pages, f"{part}/")} for part in PARTS]
    else:
        nav = _nav(pages)
    return {
        # MkDocs themes print site_name unescaped in places (<title>, aria-label).
        "site_name": str(escape(visible(title))),
        "docs_dir": "docs",
        "use_directory_urls": False,
        "theme": {
            "name": "material",
            "font": False,
            "features": ["navigation.footer", "content.code.copy", "toc.follow"],
            "palette": [
                {
                    "media": "(prefers-color-scheme: light)",
                    "scheme": "default",
                    "primary": "indigo",
                    "accent": "deep orange",
                    "toggle": {"icon": "material/weather-night", "name": "Switch to dark mode"},
                },
                {
                    "media": "(prefers-color-scheme: dark)",
                    "scheme": "slate",
                    "primary": "indigo",
                    "accent": "deep orange",
                    "toggle": {"icon": "material/weather-sunny", "name": "Switch to light mode"},
                },
            ],
        },
        "plugins": [],
        "markdown_extensions": [
            "admonition",
            "attr_list",
            "md_in_html",
            "tables",
            {"toc": {"permalink": True}},
            "pymdownx.details",
            "pymdownx.superfences",
            "attention_atlas.render.markdown_figures",
        ],
        "nav": nav,
        "extra_javascript": [f"assets/atlas/{a}" for a in assets if a.endswith(".js")],
        "extra_css": [f"assets/atlas/{a}" for a in assets if a.endswith(".css")],
    }


def build_report(
    path: str | Path,
    *,
    out: Path | None = None,
    title: str | None = None,
    max_memory: int | str | None = None,
    asks: list[Ask] | None = None,
    ask_map: str = "cross",
) -> ReportResult:
    """Check ``path``, render the report and build it into ``out`` (atomically).

    Parameters
    ----------
    path : str or Path
        The ``.npz`` dump.
    out : Path, optional
        Where the site goes; defaults to ``<file stem>-report`` in the current folder.
        An existing folder is replaced only if it holds a previous report.
    title : str, optional
        Site and overview title; defaults to ``"Attention report: <file name>"``.
    max_memory : int or str, optional
        Memory the report may use, in bytes or as ``"4G"`` (default
        :data:`attention_atlas.dumps.budget.DEFAULT_MAX_MEMORY`); a dump that needs
        more is refused from its arrays' headers, before any data is read.
    asks : list of (query, key), optional
        Pairs the "ask" page ranks every head for (positions or unique token texts).
    ask_map : {"encoder", "decoder", "cross"}
        Which map of an encoder-decoder dump the ``asks`` concern.

    Returns
    -------
    ReportResult
    """
    from attention_atlas.charts.html import schema_validation

    heading = title or f"Attention report: {Path(path).name}"
    target = report_folder(path, out)
    check_report_folder(target)  # before the dump is read
    if is_seq2seq(path):
        from attention_atlas.dumps.seq2seq import load_seq2seq

        both = load_seq2seq(path, max_memory=max_memory)
        with schema_validation(False):
            pages = render_seq2seq_report(both, title=heading, asks=asks, ask_map=ask_map)
        return publish_report(pages, target, heading, Path(path).name, list(both.warnings))
    dump = load_any(path, max_memory=max_memory)
    return report_of_dump(dump, path, out=target, title=heading, max_memory=max_memory, asks=asks)


def report_of_dump(
    dump: AttentionDump | ProjectionDump,
    path: str | Path,
    *,
    out: Path | None = None,
    title: str | None = None,
    max_memory: int | str | None = None,
    asks: list[Ask] | None = None,
) -> ReportResult:
    """:func:`build_report` of a dump already read from ``path`` by
    :func:`~attention_atlas.dumps.read.load_any` (the command reads it before this module
    loads, so that a refusal is quick); the parameters as there."""
    from attention_atlas.charts.html import schema_validation
    from attention_atlas.dumps.stream import stream_dump

    heading = title or f"Attention report: {Path(path).name}"
    target = report_folder(path, out)
    check_report_folder(target)
    # The tests validate every chart of a report against the schema; a run skips it.
    with schema_validation(False):
        if isinstance(dump, ProjectionDump):
            views = stream_dump(dump, max_memory=max_memory)
            pages = render_streamed_report(dump, title=heading, views=views)
        else:
            pages = render_report(dump, title=heading, asks=asks)
    return publish_report(pages, target, heading, Path(path).name, list(dump.warnings))


def publish_report(
    pages: dict[str, str], target: Path, heading: str, source_name: str, warnings: list[str]
) -> ReportResult:
    """Build rendered ``pages`` with MkDocs and swap the site into ``target`` (atomically)."""
    from attention_atlas import publish
    from attention_atlas.render.assets import write_assets

    with (  # publishing checks the folder again, holding its lock
        publish.publishing(target, kind="report", looks_ours=None, source=source_name) as staging,
        tempfile.TemporaryDirectory(prefix="attention-atlas-report-") as work,
    ):
        root = Path(work)
        docs = root / "docs"
        for rel, text in sorted(pages.items()):
            write_if_changed(docs / rel, text)
        assets = [str(a) for a in write_assets(docs / "assets" / "atlas")]
        config = yaml.safe_dump(
            report_config(heading, pages, assets), sort_keys=False, allow_unicode=True
        )
        write_atomic(root / "mkdocs.yml", config)
        publish.run_mkdocs(root / "mkdocs.yml", staging)
    return ReportResult(
        out=target,
        pages=sorted(p for p in pages if p.endswith(".md")),
        warnings=warnings,
    )


#: Axis titles (key, query) of each part of an encoder-decoder dump.
_PART_AXES: dict[str, tuple[str, str]] = {
    "encoder": ("Key: encoder token", "Query: encoder token"),
    "decoder": ("Key: decoder token", "Query: decoder token"),
    "cross": ("Key: encoder token", "Query: decoder token"),
}


#: What the keys of each part are, on its overview.
_PART_KEYS: dict[str, str] = {
    "encoder": "the encoder tokens, as the queries (self-attention)",
    "decoder": "the decoder tokens, as the queries (causal self-attention)",
    "cross": "the encoder tokens; the queries are the decoder tokens",
}


def render_seq2seq_report(
    dump: Seq2SeqDump,
    *,
    title: str | None = None,
    asks: list[Ask] | None = None,
    ask_map: str = "cross",
) -> dict[str, str]:
    """The report of an encoder-decoder dump: an overview, then each map as its own report.

    ``encoder/``, ``decoder/`` and ``cross/`` each hold the pages :func:`render_report`
    makes for that map (overview, layer pages, summaries, ask), with axes naming
    encoder or decoder tokens; cross maps have decoder tokens in rows and encoder tokens
    in columns. ``asks`` go to the map ``ask_map``. Pure: writes nothing.
    """
    heading = title or f"Attention report: {Path(dump.source).name}"
    if ask_map not in PARTS:
        msg = f"--map {ask_map!r}: expected one of {', '.join(PARTS)}"
        raise AtlasError(msg)
    pages: dict[str, str] = {}
    parts = []
    for part in PARTS:
        one = dump.part(part)
        sub = render_report(
            one,
            title=f"{TITLES[part]}: {Path(dump.source).name}",
            asks=asks if part == ask_map else None,
            axes=_PART_AXES[part],
            field=FIELDS[part][0],
            keys_text=_PART_KEYS[part],
        )
        pages.update({f"{part}/{rel}": text for rel, text in sub.items()})
        parts.append(
            {
                "title": TITLES[part],
                "link": f"{part}/index.md",
                "field": FIELDS[part][0],
                "shape": f"({one.layers}, {one.heads}, {one.n}, {one.m})",
                "stored": shape_text(one.stored_shape),
                "rows": "decoder" if part != "encoder" else "encoder",
                "cols": "decoder" if part == "decoder" else "encoder",
            }
        )
    context = {
        **_named(heading, Path(dump.source).name),
        "parts": parts,
        "n_encoder": dump.encoder.n,
        "n_decoder": dump.decoder.n,
        "warnings": [visible(w) for w in dump.warnings],
    }
    pages["index.md"] = templating.render("report/seq2seq-overview.md.j2", context)
    return pages
