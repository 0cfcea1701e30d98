"""Flow diagrams as SVG strings: boxes and arrows labelled with a page's own shapes.

Pure functions of integers and labels, no script: a page places the string inline, so
the drawing follows the site's colours through CSS variables (Material's ``--md-*``,
with plain fallbacks elsewhere) and ``currentColor``, light and dark alike. Every label
is XML-escaped; the layout is a grid whose column width fits the longest label.

The builders draw the computations of the tutorial pages:
:func:`self_attention_diagram`, :func:`multi_head_diagram`, :func:`linformer_diagram`
and :func:`additive_diagram`.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup

__all__ = [
    "Edge",
    "Node",
    "additive_diagram",
    "diagram_figure",
    "flow_svg",
    "linformer_diagram",
    "multi_head_diagram",
    "self_attention_diagram",
]

Kind = Literal["input", "weight", "step", "output"]

#: Characters XML forbids (they would make the SVG unreadable to any parser).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

LABEL_CHAR = 8.2  # px a character of a 14 px semi-bold label (a generous estimate)
SHAPE_CHAR = 7.0  # px a character of a 12.5 px shape line
#: Narrowest the drawing gets on a phone before its figure scrolls sideways instead.
MIN_WIDTH = 600
BOX_HEIGHT = 50
ROW_PITCH = 84
GAP = 22
MARGIN = 12

#: Inline styles (not a <style> element: its text would reach the page's search index).
_STYLE = {
    "svg": "display:block;margin:0 auto;color:var(--md-default-fg-color,#222);"
    "max-width:100%;height:auto;"
    f"min-width:{MIN_WIDTH}px;"
    "font-family:var(--md-text-font-family,sans-serif)",
    "input": "fill:var(--md-code-bg-color,#f3f3f3);stroke:currentColor;stroke-width:1.2",
    "weight": "fill:none;stroke:currentColor;stroke-width:1;stroke-dasharray:4 3",
    "step": "fill:var(--md-default-bg-color,#fff);stroke:currentColor;stroke-width:1.2",
    "output": "fill:var(--md-default-bg-color,#fff);"
    "stroke:var(--md-accent-fg-color,#e65100);stroke-width:2.4",
    "label": "fill:currentColor;font-size:14px;font-weight:600",
    "shape": "fill:currentColor;opacity:0.8;font-size:12.5px",
    "edge": "stroke:currentColor;stroke-width:1.3;fill:none;opacity:0.85",
    "head": "fill:currentColor",
}


@dataclass(frozen=True)
class Node:
    """One box: ``label`` on top, ``shape`` (e.g. ``"(3×2)"``) below it.

    ``col`` may be fractional (0.5 sits between columns 0 and 1); ``row`` counts down.
    ``kind``: ``input`` (shaded), ``weight`` (dashed), ``step``, or ``output`` (accent).
    """

    key: str
    label: str
    shape: str
    col: float
    row: int
    kind: Kind = "step"


@dataclass(frozen=True)
class Edge:
    """An arrow from the box ``src`` to the box ``dst`` (their keys)."""

    src: str
    dst: str


def _text(value: str) -> str:
    return html.escape(_NOT_XML.sub("\N{REPLACEMENT CHARACTER}", str(value)), quote=True)


def _box_width(nodes: Sequence[Node]) -> float:
    widest = max(max(len(n.label) * LABEL_CHAR, len(n.shape) * SHAPE_CHAR) for n in nodes)
    return max(120.0, widest + 20)


def flow_svg(nodes: Sequence[Node], edges: Sequence[Edge], *, title: str, description: str) -> str:
    """An SVG drawing of ``nodes`` on a grid joined by arrows ``edges``.

    Parameters
    ----------
    nodes : sequence of Node
        Keys must be unique.
    edges : sequence of Edge
        Each end must name a node; an arrow runs from the bottom of ``src`` to the top
        of ``dst`` (or side to side when both sit on one row).
    title, description : str
        The drawing's accessible name and its description (``<title>``, ``<desc>``).

    Returns
    -------
    str
        One ``<svg>`` element, no blank line inside (Markdown keeps it as one block).
    """
    if not nodes:
        msg = "a diagram needs at least one node"
        raise ValueError(msg)
    at = {n.key: n for n in nodes}
    if len(at) != len(nodes):
        msg = f"node keys must be unique, got {[n.key for n in nodes]}"
        raise ValueError(msg)
    for e in edges:
        for end in (e.src, e.dst):
            if end not in at:
                msg = f"edge {e.src!r} -> {e.dst!r} names {end!r}, which is not a node"
                raise ValueError(msg)
    box = _box_width(nodes)
    pitch = box + GAP
    cols = max(n.col for n in nodes) + 1
    rows = max(n.row for n in nodes) + 1
    width = round(cols * pitch - GAP + 2 * MARGIN)
    height = round((rows - 1) * ROW_PITCH + BOX_HEIGHT + 2 * MARGIN)

    def centre(n: Node) -> tuple[float, float]:
        return MARGIN + n.col * pitch + box / 2, MARGIN + n.row * ROW_PITCH + BOX_HEIGHT / 2

    digest = hashlib.sha256(
        repr((title, [(n.key, n.label, n.shape) for n in nodes])).encode()
    ).hexdigest()[:10]
    uid = f"atlas-dia-{digest}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="atlas-diagram" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{uid}-t {uid}-d" style="{_STYLE["svg"]}">',
        f'<title id="{uid}-t">{_text(title)}</title>',
        f'<desc id="{uid}-d">{_text(description)}</desc>',
        f'<defs><marker id="{uid}-a" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" style="{_STYLE["head"]}"/></marker></defs>',
    ]
    for e in edges:
        (x1, y1), (x2, y2) = centre(at[e.src]), centre(at[e.dst])
        if at[e.src].row == at[e.dst].row:
            sign = 1 if x2 > x1 else -1
            x1, x2 = x1 + sign * box / 2, x2 - sign * (box / 2 + 2)
        else:
            sign = 1 if y2 > y1 else -1
            y1, y2 = y1 + sign * BOX_HEIGHT / 2, y2 - sign * (BOX_HEIGHT / 2 + 2)
        parts.append(
            f'<path d="M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}" style="{_STYLE["edge"]}" '
            f'marker-end="url(#{uid}-a)"/>'
        )
    for n in nodes:
        cx, cy = centre(n)
        parts.append(
            f'<g class="atlas-node atlas-{n.kind}"><rect x="{cx - box / 2:.1f}" '
            f'y="{cy - BOX_HEIGHT / 2:.1f}" width="{box:.1f}" height="{BOX_HEIGHT}" rx="6" '
            f'style="{_STYLE[n.kind]}"/>'
            f'<text x="{cx:.1f}" y="{cy - 4:.1f}" text-anchor="middle" '
            f'style="{_STYLE["label"]}">{_text(n.label)}</text>'
            f'<text x="{cx:.1f}" y="{cy + 15:.1f}" text-anchor="middle" '
            f'style="{_STYLE["shape"]}">{_text(n.shape)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _dims(*values: int) -> None:
    for v in values:
        if int(v) < 1:
            msg = f"diagram sizes must be positive integers, got {values}"
            raise ValueError(msg)


def _s(*dims: int | str) -> str:
    """A shape as the pages write it: ``(3×2)``."""
    return "(" + "×".join(str(d) for d in dims) + ")"


def self_attention_diagram(n: int, d_model: int, d_k: int, d_v: int | None = None) -> str:
    """Q/K/V flow of one self-attention head: X (N×D) to Z (N×d_v).

    Parameters
    ----------
    n : int
        N, the tokens.
    d_model : int
        D, the embedding width.
    d_k, d_v : int
        Query/key width and value width (``d_v`` defaults to ``d_k``).
    """
    d_v = d_k if d_v is None else d_v
    _dims(n, d_model, d_k, d_v)
    nodes = [
        Node("x", "X: the embeddings", _s(n, d_model), 1, 0, "input"),
        Node("q", "Q = X · W_Q", f"{_s(n, d_model)} · {_s(d_model, d_k)} → {_s(n, d_k)}", 0, 1),
        Node("k", "K = X · W_K", f"{_s(n, d_model)} · {_s(d_model, d_k)} → {_s(n, d_k)}", 1, 1),
        Node("v", "V = X · W_V", f"{_s(n, d_model)} · {_s(d_model, d_v)} → {_s(n, d_v)}", 2, 1),
        Node("s", f"scores = Q · Kᵀ / √{d_k}", f"{_s(n, d_k)} · {_s(d_k, n)} → {_s(n, n)}", 0.5, 2),
        Node("a", "A = softmax(scores)", f"{_s(n, n)}, each row sums to 1", 0.5, 3, "output"),
        Node("z", "Z = A · V", f"{_s(n, n)} · {_s(n, d_v)} → {_s(n, d_v)}", 1.5, 4),
    ]
    edges = [Edge("x", "q"), Edge("x", "k"), Edge("x", "v"), Edge("q", "s"), Edge("k", "s")]
    edges += [Edge("s", "a"), Edge("a", "z"), Edge("v", "z")]
    return flow_svg(
        nodes,
        edges,
        title=f"Self-attention on {n} tokens: from X {_s(n, d_model)} to Z {_s(n, d_v)}",
        description=(
            f"X {_s(n, d_model)} is multiplied by W_Q, W_K and W_V to give Q and K "
            f"{_s(n, d_k)} and V {_s(n, d_v)}. Q times K transposed over the square root "
            f"of {d_k} gives the scores {_s(n, n)}; softmax of each row gives the weights "
            f"A {_s(n, n)}, the matrix to read; A times V gives Z {_s(n, d_v)}."
        ),
    )


def multi_head_diagram(n: int, d_model: int, heads: int, d_k: int, d_v: int | None = None) -> str:
    """Q/K/V flow of multi-head attention: X (N×D), H heads, concat, W_O, out (N×D).

    Up to three heads are drawn one box each; more show the first, an ellipsis box
    for the heads between, and the last, so the drawing keeps three columns.
    """
    d_v = d_k if d_v is None else d_v
    _dims(n, d_model, heads, d_k, d_v)
    hk, hv = heads * d_k, heads * d_v
    shown = list(range(heads)) if heads <= 3 else [0, -1, heads - 1]
    mid = 1.0
    nodes = [
        Node("x", "X: the embeddings", _s(n, d_model), mid, 0, "input"),
        Node("q", "Q = X · W_Q", f"{_s(n, d_model)} · {_s(d_model, hk)} → {_s(n, hk)}", mid - 1, 1),
        Node("k", "K = X · W_K", f"{_s(n, d_model)} · {_s(d_model, hk)} → {_s(n, hk)}", mid, 1),
        Node("v", "V = X · W_V", f"{_s(n, d_model)} · {_s(d_model, hv)} → {_s(n, hv)}", mid + 1, 1),
        Node(
            "split",
            f"split into {heads} heads",
            f"Q_h, K_h {_s(n, d_k)}, V_h {_s(n, d_v)} each",
            mid,
            2,
        ),
    ]
    edges = [Edge("x", "q"), Edge("x", "k"), Edge("x", "v")]
    edges += [Edge("q", "split"), Edge("k", "split"), Edge("v", "split")]
    offset = (3 - len(shown)) / 2
    for c, h in enumerate(shown):
        key = f"h{c}"
        if h < 0:
            nodes.append(
                Node(key, "…", f"heads 1–{heads - 2}, the same way", offset + c, 3, "weight")
            )
        else:
            nodes.append(
                Node(
                    key,
                    f"head {h}: A_{h} {_s(n, n)}",
                    f"A_{h} · V_{h} → {_s(n, d_v)}",
                    offset + c,
                    3,
                    "output",
                )
            )
            edges += [Edge("split", key), Edge(key, "concat")]
    nodes += [
        Node("concat", "concat the heads", f"{heads} × {_s(n, d_v)} → {_s(n, hv)}", mid, 4),
        Node(
            "out",
            "out = concat · W_O",
            f"{_s(n, hv)} · {_s(hv, d_model)} → {_s(n, d_model)}",
            mid,
            5,
        ),
    ]
    edges.append(Edge("concat", "out"))
    return flow_svg(
        nodes,
        edges,
        title=f"Multi-head attention: {heads} heads of width {d_k} over {n} tokens",
        description=(
            f"X {_s(n, d_model)} is projected to Q, K {_s(n, hk)} and V {_s(n, hv)}, whose "
            f"columns are split into {heads} heads. Each head h computes its own weights "
            f"A_h = softmax(Q_h K_h transposed / square root of {d_k}) {_s(n, n)} and "
            f"A_h V_h {_s(n, d_v)}. The heads are concatenated to {_s(n, hv)} and "
            f"multiplied by W_O {_s(hv, d_model)}: out {_s(n, d_model)}."
        ),
    )


def linformer_diagram(n: int, p: int, d: int) -> str:
    """Linformer: E and F (P×N) shorten keys and values to P rows; weights are N×P."""
    _dims(n, p, d)
    nodes = [
        Node("q", "Q", _s(n, d), 0, 0, "input"),
        Node("k", "K", _s(n, d), 1, 0, "input"),
        Node("v", "V", _s(n, d), 2, 0, "input"),
        Node("ek", "K̄ = E · K", f"E {_s(p, n)} · {_s(n, d)} → {_s(p, d)}", 1, 1),
        Node("fv", "V̄ = F · V", f"F {_s(p, n)} · {_s(n, d)} → {_s(p, d)}", 2, 1),
        Node(
            "a",
            f"A = softmax(Q · K̄ᵀ / √{d})",
            f"{_s(n, d)} · {_s(d, p)} → {_s(n, p)}",
            0.5,
            2,
            "output",
        ),
        Node("out", "out = A · V̄", f"{_s(n, p)} · {_s(p, d)} → {_s(n, d)}", 1.5, 3),
    ]
    edges = [Edge("k", "ek"), Edge("v", "fv"), Edge("q", "a"), Edge("ek", "a")]
    edges += [Edge("a", "out"), Edge("fv", "out")]
    return flow_svg(
        nodes,
        edges,
        title=f"Linformer: {n} keys projected to {p} columns",
        description=(
            f"E and F, each {_s(p, n)}, mix the {n} keys and values into {p} rows: "
            f"K̄ = E K and V̄ = F V, {_s(p, d)}. The weights A = softmax(Q K̄ transposed "
            f"/ square root of {d}) are {_s(n, p)}: each of the {p} columns is a mix of "
            f"tokens, not one token. out = A V̄ is {_s(n, d)}."
        ),
    )


def additive_diagram(d_q: int, d_k: int, hidden: int, n: int, m: int) -> str:
    """The additive (Bahdanau) scoring net for one (query, key) pair, then the softmax.

    Parameters
    ----------
    d_q, d_k : int
        Widths of a query and of a key (input) vector.
    hidden : int
        Width of the scoring net's hidden layer (length of v).
    n, m : int
        Queries and keys: the scores and weights are (N×M).
    """
    _dims(d_q, d_k, hidden, n, m)
    nodes = [
        Node("q", "query q_i", _s(d_q), 0, 0, "input"),
        Node("k", "input x_j", _s(d_k), 1, 0, "input"),
        Node("wq", "q_i · W_q", f"{_s(d_q)} · {_s(d_q, hidden)} → {_s(hidden)}", 0, 1),
        Node("wk", "x_j · W_k", f"{_s(d_k)} · {_s(d_k, hidden)} → {_s(hidden)}", 1, 1),
        Node("t", "tanh(q_i W_q + x_j W_k)", f"{_s(hidden)}, each entry in (−1, 1)", 0.5, 2),
        Node("s", "score s_ij = v · tanh(…)", f"{_s(hidden)} · {_s(hidden)} → one number", 0.5, 3),
        Node(
            "w",
            "weights = softmax over j",
            f"all pairs: {_s(n, m)}, rows sum to 1",
            0.5,
            4,
            "output",
        ),
    ]
    edges = [Edge("q", "wq"), Edge("k", "wk"), Edge("wq", "t"), Edge("wk", "t")]
    edges += [Edge("t", "s"), Edge("s", "w")]
    return flow_svg(
        nodes,
        edges,
        title="The additive scoring net: score = v · tanh(q W_q + x W_k)",
        description=(
            f"A query {_s(d_q)} and an input {_s(d_k)} are each multiplied by their matrix "
            f"into {hidden} numbers, added, and passed through tanh; the dot product with v "
            f"{_s(hidden)} gives one score. Every pair of {n} queries and {m} inputs gets "
            f"a score, and a softmax over the inputs turns each query's row into weights "
            f"{_s(n, m)}."
        ),
    )


def diagram_figure(svg: str, caption: str) -> Markup:
    """A drawing and its one-line caption as a page's ``<figure>`` (caption escaped).

    The figure scrolls sideways when the column is narrower than the drawing's
    smallest legible width, instead of overflowing the page.
    """
    return Markup(
        '<figure class="atlas-diagram-figure" style="overflow-x:auto;margin:1.2em 0">'
        f"{svg}<figcaption>{_text(caption)}</figcaption></figure>"
    )
