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

from attention_atlas.dumps import charts as dump_charts
from attention_atlas.dumps.read import AttentionDump, ProjectionDump, load_any
from attention_atlas.dumps.workers import per_layer
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


def _overview(
    dump: AttentionDump, title: str, summary: dump_charts.HeadSummary, files: dict[str, str]
) -> dict[str, Any]:
    single = dump.layers * dump.heads == 1
    if single:
        main = _figure(
            dump_charts.head_chart(dump, 0, 0),
            "Rows are queries, columns keys; hover a cell for the exact weight.",
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
        **_token_table(dump),
    }


def _layer(dump: AttentionDump, title: str, layer: int) -> dict[str, Any]:
    heads = []
    for head in range(dump.heads):
        heads.append(
            {
                "head": head,
                "fig": _figure(
                    dump_charts.row_chart(dump, layer, head),
                    "Click a query (a row of the map) to draw how it splits its attention "
                    "over the keys; hover for exact weights.",
                    f"L{layer}H{head}",
                ),
            }
        )
    return {**_common(dump, title), "layer": layer, "head_figs": heads}


def _layer_text(shared: tuple[AttentionDump, str], layer: int) -> str:
    """The page of one layer (drawn by :func:`per_layer`)."""
    dump, title = shared
    return templating.render("report/layer.md.j2", _layer(dump, title, layer))


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


def render_report(dump: AttentionDump, *, title: str | None = None) -> dict[str, str]:
    """Every file of the report, keyed by its path in the docs folder (pure: writes nothing).

    The ``.md`` entries are pages; the others (the model view's per-head data, in
    :data:`MODEL_VIEW_DATA`) are copied by MkDocs as they are.
    """
    heading = title or f"Attention report: {Path(dump.source).name}"
    summary = dump_charts.head_summaries(dump)
    files: dict[str, str] = {}
    overview = _overview(dump, heading, summary, files)
    pages = {
        "index.md": templating.render("report/overview.md.j2", overview),
        "summaries.md": templating.render(
            "report/summaries.md.j2", _summaries(dump, heading, summary)
        ),
    }
    layer_pages = per_layer(
        _layer_text, (dump, heading), dump.layers, heads=dump.layers * dump.heads
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
        "k_shape": f"({dump.layers}, {dump.heads}, {dump.m}, {dump.k.shape[-1]})",
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


def _streamed_layer_text(
    shared: tuple[ProjectionDump, dict[str, Any], list[Any]], layer: int
) -> str:
    """The page of one layer of a streamed report (drawn by :func:`per_layer`)."""
    dump, common, heads = shared
    figs = [_streamed_head(dump, v) for v in heads if v.layer == layer]
    return templating.render(
        "report/streamed-layer.md.j2", {**common, "layer": layer, "head_figs": figs}
    )


def report_config(title: str, pages: dict[str, str], assets: list[str]) -> dict[str, Any]:
    """The generated ``mkdocs.yml`` (as a dict): the Atlas theme, offline, file://-friendly."""
    layers = sorted(
        (p for p in pages if p.startswith("heads/")),
        key=lambda p: int(p.removeprefix("heads/layer-").removesuffix(".md")),
    )
    nav: list[Any] = [{"Overview": "index.md"}]
    nav.append(
        {
            "Heads": [
                {p.removeprefix("heads/").removesuffix(".md").replace("-", " ").capitalize(): p}
                for p in layers
            ]
        }
    )
    if "summaries.md" in pages:
        nav.append({"Head summaries": "summaries.md"})
    if "pooled.md" in pages:
        nav.append({"Pooled views": "pooled.md"})
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
        ],
        "nav": nav,
        "extra_javascript": [f"assets/atlas/{a}" for a in assets if a.endswith(".js")],
        "extra_css": [f"assets/atlas/{a}" for a in assets if a.endswith(".css")],
    }


def _check_out(out: Path) -> None:
    """Refuse a file, or a folder the package did not make, before any work."""
    from attention_atlas import publish

    publish.check_out(out, kind="report", looks_ours=None)


def build_report(
    path: str | Path,
    *,
    out: Path | None = None,
    title: str | None = None,
    max_memory: int | str | None = None,
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

    Returns
    -------
    ReportResult
    """
    from attention_atlas import publish
    from attention_atlas.charts.html import schema_validation
    from attention_atlas.dumps.stream import stream_dump
    from attention_atlas.render.assets import write_assets

    dump = load_any(path, max_memory=max_memory)
    target = (out if out is not None else Path.cwd() / f"{Path(path).stem}-report").resolve()
    _check_out(target)
    heading = title or f"Attention report: {Path(path).name}"
    # The tests validate every chart of a report against the schema; a run skips it.
    with schema_validation(False):
        if isinstance(dump, ProjectionDump):
            views = stream_dump(dump, max_memory=max_memory)
            pages = render_streamed_report(dump, title=heading, views=views)
        else:
            pages = render_report(dump, title=heading)
    with (
        publish.publishing(
            target, kind="report", looks_ours=None, source=Path(path).name
        ) as staging,
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
        warnings=list(dump.warnings),
    )
