"""Additive sequence attention with Wolfram's shapes: why a 4x2 query over a 3x2 input gives 4x2."""

from __future__ import annotations

from typing import Any

import numpy as np

from attention_atlas.attention import additive_attention, additive_scores, dot_scores, softmax
from attention_atlas.charts import Figure
from attention_atlas.charts.live import additive_live_chart
from attention_atlas.render.diagrams import additive_diagram, diagram_figure
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import fixed, rounding_error, significant


def _vector_label(row: np.ndarray) -> str:
    """A vector as Wolfram Language writes it, to 4 decimals: ``{1.2345, 3}``."""
    return "{" + ", ".join(significant(x, 6) for x in np.round(row, 4)) + "}"


def alignment_queries(keys: np.ndarray, alignment: list[list[int]], sharpness: float) -> np.ndarray:
    """Query vectors that point at the aligned source words.

    keys : (M, d) unit-norm source-word embeddings; alignment : N lists of source
    positions; returns (N, d): each query is ``sharpness`` times the sum of the keys of
    its aligned words, so its dot-product scores peak on exactly those words.
    """
    pick = np.zeros((len(alignment), len(keys)))
    for row, sources in enumerate(alignment):
        pick[row, sources] = 1.0
    return sharpness * (pick @ keys)


def compute(scenario: Scenario) -> Result:
    """Wolfram's example with a seeded scoring net, plus a word-alignment example.

    Arrays: ``inputs`` (3, 2), ``query`` (4, 2), ``scores`` (4, 3), ``weights`` (4, 3),
    ``out`` (4, 2), ``w_q`` (2, h), ``w_k`` (2, h), ``v`` (h,), ``align`` (N_en, N_fr).
    """
    p = scenario.params
    rng = np.random.default_rng(scenario.seed)
    inputs = np.asarray(p["inputs"], dtype=np.float64)
    query = np.asarray(p["query"], dtype=np.float64)
    hidden = int(p["hidden"])
    # A random initialisation, as NetInitialize gives the layer before any training.
    w_q = rng.normal(0.0, 1.0, size=(query.shape[1], hidden))
    w_k = rng.normal(0.0, 1.0, size=(inputs.shape[1], hidden))
    v = rng.normal(0.0, 1.0, size=hidden)
    out, weights = additive_attention(query, inputs, w_q, w_k, v)
    scores = additive_scores(query, inputs, w_q, w_k, v)

    source, target = p["source_words"], p["target_words"]
    emb = rng.normal(size=(len(source), int(p["embedding_width"])))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    queries = alignment_queries(emb, p["alignment"], float(p["sharpness"]))
    align = softmax(dot_scores(queries, emb))
    return Result(
        arrays={
            "inputs": inputs,
            "query": query,
            "scores": scores,
            "weights": weights,
            "out": out,
            "w_q": w_q,
            "w_k": w_k,
            "v": v,
            "align": align,
        },
        labels={
            "inputs": tuple(_vector_label(r) for r in inputs),
            "query": tuple(_vector_label(r) for r in query),
            "source": tuple(source),
            "target": tuple(target),
        },
    )


def context(result: Result) -> dict[str, Any]:
    a, labels = result.arrays, result.labels
    m, d = a["inputs"].shape
    n, dq = a["query"].shape
    weights, out = a["weights"], a["out"]
    target, source = list(labels["target"]), list(labels["source"])
    queries, inputs = list(labels["query"]), list(labels["inputs"])
    first = weights[0]
    two_word = int(np.argmax((a["align"] > 0.25).sum(axis=1)))
    shared = [source[j] for j in np.flatnonzero(a["align"][two_word] > 0.25)]
    return {
        # diagram: the scoring net drawn with this page's shapes
        "flow_diagram": diagram_figure(
            additive_diagram(dq, d, int(a["v"].size), n, m),
            "The scoring net runs once per (query, input) pair; the softmax then "
            "works along each query's row.",
        ),
        "n_inputs": m,
        "width": d,
        "n_queries": n,
        "dq": dq,
        "hidden": a["v"].size,
        "shapes": [
            {
                "name": "input (keys and values)",
                "shape": f"({m}, {d})",
                "meaning": f"{m} vectors to read from: " + ", ".join(labels["inputs"]),
            },
            {
                "name": "query",
                "shape": f"({n}, {dq})",
                "meaning": f"{n} vectors asking questions: " + ", ".join(labels["query"]),
            },
            {
                "name": "scores, weights",
                "shape": f"({n}, {m})",
                "meaning": "one score and one weight per (query, input) pair",
            },
            {
                "name": "output",
                "shape": f"({n}, {d})",
                "meaning": "one weighted sum of the input vectors per query",
            },
        ],
        "out_rows": [
            {
                "query": q,
                "weights": ", ".join(fixed(w, 4) for w in wr),
                "out": _vector_label(o),
            }
            for q, wr, o in zip(labels["query"], weights, out, strict=True)
        ],
        "first_query": labels["query"][0],
        "first_weights": [fixed(w, 4) for w in first],
        "first_out": _vector_label(out[0]),
        "gap": rounding_error(float(np.max(np.abs(out[:, 1] - out[:, 0] - 1.0))), 2),
        "two_word_target": target[two_word],
        "two_word_sources": shared,
        "two_word_weights": [fixed(a["align"][two_word, source.index(w)]) for w in shared],
        "weights_fig": heatmap_figure(
            "weights",
            weights,
            queries,
            inputs,
            f"Row i holds the {m} weights query i gives the inputs; every row sums to 1.",
            title=f"Attention weights ({n} queries × {m} inputs)",
            x_title="Input vector (attended to)",
            y_title="Query vector",
            domain=(0.0, 1.0),
        ),
        "scores_fig": heatmap_figure(
            "scores",
            a["scores"],
            queries,
            inputs,
            "v · tanh(query W_q + input W_k) for every pair; the softmax runs along rows.",
            title="Scores from the scoring net, before the softmax",
            x_title="Input vector",
            y_title="Query vector",
            value_title="score",
            diverging=True,
        ),
        "align_fig": heatmap_figure(
            "align",
            a["align"],
            target,
            source,
            "Each English word's row shows which French words it reads; "
            "weights come from a hand-written alignment, not a trained model.",
            title="A French → English alignment",
            x_title="French word (input)",
            y_title="English word being produced (query)",
            domain=(0.0, 1.0),
        ),
        # Last, as on the page.
        "live_panel": Figure(
            additive_live_chart(a["inputs"], a["query"], a["w_q"], a["w_k"], a["v"], queries),
            caption="Pick a query, drag the inputs or the temperature: the scores, weights "
            "and output row follow in the page, with the same scoring net.",
            name="live",
        ),
    }


SCENARIO = Scenario(
    slug="sequence-attention",
    title="Sequence attention: why the output is 4×2",
    question="I expected the output 3x4 or 4x3. Why does it have such a dimension?",
    summary="You will predict the shape of an attention layer's output and read its weight map.",
    order=30,
    params={
        "inputs": [[1, 2], [3, 4], [5, 6]],
        "query": [[1, 0], [0, 1], [0, 0], [1, 1]],
        "hidden": 8,
        "source_words": ["la", "Syrie", "est", "un", "pays", "."],
        "target_words": ["Syria", "is", "a", "country", "."],
        "alignment": [[0, 1], [2], [3], [4], [5]],
        "embedding_width": 16,
        "sharpness": 6.0,
    },
    seed=11,
    compute=compute,
    context=context,
    main_figure="weights",
    main_map="weights",
    main_map_labels=("query", "inputs"),
)
