"""Self-attention step by step on "I love pets, especially cats": which matrix to read, Z or
softmax(QK^T / sqrt d)."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from attention_atlas.attention import self_attention
from attention_atlas.charts import Figure, row_explorer_chart
from attention_atlas.charts.live import self_attention_live_chart
from attention_atlas.render.diagrams import diagram_figure, self_attention_diagram
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import (
    fixed,
    quoted,
    rounding_error,
    shape_text,
    vector_text,
    word_list,
)


def feature_embeddings(
    tokens: list[str], features: list[str], token_features: dict[str, list[str]]
) -> np.ndarray:
    """Hand-built embeddings: row i has 1 in the columns of the features token i has.

    Returns an array of shape (N, D) with N = len(tokens) and D = len(features).
    """
    x = np.zeros((len(tokens), len(features)))
    for row, token in enumerate(tokens):
        x[row, [features.index(f) for f in token_features[token]]] = 1.0
    return x


def relation_projections(
    features: list[str], channels: list[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """Query and key projections with one "relation channel" per column.

    Channel c has one query feature and key features with strengths: a word with the
    query feature scores ``strength`` against a word with that key feature (before the
    1/sqrt(d) scale). Returns ``w_q``, ``w_k`` of shape (D, d), d = len(channels).
    """
    d_model, d = len(features), len(channels)
    w_q, w_k = np.zeros((d_model, d)), np.zeros((d_model, d))
    for c, channel in enumerate(channels):
        keys: dict[str, float] = channel["keys"]
        gain = float(np.sqrt(max(keys.values())))
        w_q[features.index(channel["query"]), c] = gain
        for feature, strength in keys.items():
            w_k[features.index(feature), c] = strength / gain
    return w_q, w_k


def compute(scenario: Scenario) -> Result:
    """One self-attention head over the sentence, keeping every intermediate.

    Arrays: ``x`` (N, D), ``w_q``, ``w_k``, ``w_v`` (D, d), ``q``, ``k``, ``v`` (N, d),
    ``scores`` (N, N) (already divided by sqrt d), ``weights`` (N, N), ``z`` (N, d).
    """
    p = scenario.params
    rng = np.random.default_rng(scenario.seed)
    tokens, features = list(p["tokens"]), list(p["features"])
    noise = float(p["noise"])
    x = feature_embeddings(tokens, features, p["token_features"])
    x += rng.normal(0.0, noise, size=x.shape)
    w_q, w_k = relation_projections(features, p["channels"])
    w_q += rng.normal(0.0, noise, size=w_q.shape)
    w_k += rng.normal(0.0, noise, size=w_k.shape)
    d = w_q.shape[1]
    w_v = rng.normal(0.0, float(p["value_std"]), size=(len(features), d))
    sa = self_attention(x, w_q, w_k, w_v)
    focus = tokens.index(p["focus"])
    return Result(
        arrays={
            "x": x,
            "w_q": w_q,
            "w_k": w_k,
            "w_v": w_v,
            "q": sa.q,
            "k": sa.k,
            "v": sa.v,
            "scores": sa.scores,
            "weights": sa.weights,
            "z": sa.out,
        },
        labels={
            "tokens": tuple(tokens),
            "features": tuple(features),
            "dims": tuple(f"dim {i + 1}" for i in range(d)),
        },
        facts={
            "focus": focus,
            "focus_top": int(np.argmax(sa.weights[focus])),
            "noise": noise,
            "value_std": float(p["value_std"]),
            "token_features": {t: list(fs) for t, fs in p["token_features"].items()},
            "channels": [
                {"query": c["query"], "keys": dict(c["keys"]), "meaning": c["meaning"]}
                for c in p["channels"]
            ],
        },
    )


#: A matrix of one row per token, its values written in and coloured from 0.
_matrix = partial(heatmap_figure, y_title="Token", show_values=True, fmt=".2f", diverging=True)


def context(result: Result) -> dict[str, Any]:
    a, labels, facts = result.arrays, result.labels, result.facts
    tokens, features, dims = list(labels["tokens"]), list(labels["features"]), list(labels["dims"])
    x, q, k, v = a["x"], a["q"], a["k"], a["v"]
    scores, weights, z = a["scores"], a["weights"], a["z"]
    n, d_model = x.shape
    d = q.shape[1]
    focus, top = int(facts["focus"]), int(facts["focus_top"])
    focus_tok, top_tok = tokens[focus], tokens[top]
    row = weights[focus]
    order = np.argsort(-row, kind="stable")
    raw_dot = float(q[focus] @ k[top])
    mix_terms = [f"{fixed(row[j])}·v({tokens[j]})" for j in order[:3]]
    rest = float(row[order[3:]].sum())

    shapes = [
        ("X", x, f"one embedding of D = {d_model} hand-built features per token"),
        ("W_Q, W_K, W_V", a["w_q"], f"projections from D = {d_model} to d = {d}"),
        ("Q = X W_Q", q, "one query vector per token: what it looks for"),
        ("K = X W_K", k, "one key vector per token: what it offers to be found by"),
        ("V = X W_V", v, "one value vector per token: what it passes on"),
        ("scores = Q Kᵀ / √d", scores, "one score per (query word, key word) pair"),
        ("weights = softmax(scores)", weights, "row i: how word i splits its attention; sums to 1"),
        ("Z = weights V", z, f"row i: word i’s new vector; columns are the d = {d} value dims"),
    ]
    top_rows = []
    for i, tok in enumerate(tokens):
        j = int(np.argmax(weights[i]))
        top_rows.append(
            {
                "token": tok,
                "top": tokens[j],
                "weight": fixed(weights[i, j]),
                "second": tokens[int(np.argsort(-weights[i], kind="stable")[1])],
            }
        )
    channels = []
    for c, ch in enumerate(facts["channels"]):
        keys = [f"{f} ({fixed(s, 0)})" for f, s in ch["keys"].items()]
        channels.append(
            {
                "dim": dims[c],
                "query": ch["query"],
                "key_features": word_list(keys),
                "meaning": ch["meaning"],
            }
        )
    explorer = row_explorer_chart(
        weights,
        tokens,
        tokens,
        title=f"Attention weights softmax(QKᵀ/√{d}) ({n} × {n})",
        subtitle=f"Click a query word to plot its row as bars; {quoted(focus_tok)} first.",
        x_title="Key word (attended to)",
        y_title="Query word (attending)",
        fmt=".2f",
        initial_row=focus,
        name="w",
    )
    flat_limit = 2.0 / n
    flat = [quoted(t) for t, r in zip(tokens, weights, strict=True) if r.max() < flat_limit]
    return {
        # diagram: the Q/K/V flow drawn with this page's shapes
        "flow_diagram": diagram_figure(
            self_attention_diagram(n, d_model, d),
            f"One head on {n} tokens: every box is an array of this page, with its shape.",
        ),
        "n": n,
        "flat_words": word_list(flat),
        "flat_count": len(flat),
        "flat_limit": fixed(flat_limit),
        "score_gap": fixed(scores[focus, top] - scores[focus, focus]),
        "weight_ratio": fixed(row[top] / row[focus], 1),
        "d_model": d_model,
        "d": d,
        "sqrt_d": fixed(np.sqrt(d), 0),
        "tokens": [quoted(t) for t in tokens],
        "features": features,
        "token_rows": [
            {"token": t, "features": ", ".join(facts["token_features"][t])} for t in tokens
        ],
        "noise": fixed(facts["noise"], 2),
        "value_std": fixed(facts["value_std"], 2),
        "channels": channels,
        "shape_rows": [
            {"name": name, "shape": shape_text(arr.shape), "meaning": meaning}
            for name, arr, meaning in shapes
        ],
        "focus": quoted(focus_tok),
        "top": quoted(top_tok),
        "focus_top_weight": fixed(row[top]),
        "focus_self_weight": fixed(row[focus]),
        "focus_row": [{"token": quoted(tokens[j]), "weight": fixed(row[j])} for j in order],
        "raw_dot": fixed(raw_dot),
        "focus_top_score": fixed(scores[focus, top]),
        "focus_self_score": fixed(scores[focus, focus]),
        "mix": " + ".join(mix_terms) + f" + {fixed(rest)} of the rest",
        "z_focus": vector_text(z[focus]),
        "v_top": vector_text(v[top]),
        "z_focus_dim": dims[int(np.argmax(np.abs(z[focus])))],
        "z_focus_dim_value": fixed(z[focus, int(np.argmax(np.abs(z[focus])))]),
        "row_sum_error": rounding_error(float(np.max(np.abs(weights.sum(axis=1) - 1.0)))),
        "top_rows": top_rows,
        "x_fig": _matrix(
            "x",
            x,
            tokens,
            features,
            "One row per word; 1 means the word has that feature (plus small noise).",
            title=f"X: token embeddings ({n} × {d_model})",
            x_title="Feature",
            value_title="value",
            name="x",
        ),
        **{
            f"{key}_fig": _matrix(
                key,
                a[key],
                tokens,
                dims,
                caption,
                title=f"{key.upper()} = X W_{key.upper()}: {what} ({n} × {d})",
                x_title=f"{axis} dimension",
                value_title=key,
                name=key,
            )
            for key, what, axis, caption in (
                (
                    "q",
                    "queries",
                    "Query",
                    "Row i is what word i looks for; a large q in a dimension asks for a "
                    "large k there.",
                ),
                (
                    "k",
                    "keys",
                    "Key",
                    "Row j is what word j offers; a query finds it where both are large.",
                ),
                (
                    "v",
                    "values",
                    "Value",
                    "Row j is what word j passes on to whoever attends to it.",
                ),
            )
        },
        "scores_fig": _matrix(
            "scores",
            scores,
            tokens,
            tokens,
            "Rows are query words, columns key words; the softmax runs along each row.",
            title=f"Scores QKᵀ/√{d} ({n} × {n})",
            x_title="Key word",
            y_title="Query word",
            value_title="score",
            name="s",
        ),
        "weights_fig": Figure(
            explorer,
            caption="Row i: how word i splits its attention over all words (x: input, "
            "y: output); every row sums to 1, and the bars show the clicked row.",
            name="weights",
        ),
        "z_fig": _matrix(
            "z",
            z,
            tokens,
            dims,
            "Row i is word i’s new vector, a blend of value rows; columns are "
            "features, so no cell pairs two words.",
            title=f"Z = weights · V: the layer output ({n} × {d})",
            x_title="Value dimension (not a word)",
            value_title="z",
            name="z",
        ),
        # Last, as on the page.
        "live_panel": Figure(
            self_attention_live_chart(q, k, v, tokens, focus=focus),
            caption="Pick a query word, switch the division by √d, drag the temperature: "
            "its scores, weights and row of Z follow in the page.",
            name="live",
        ),
    }


SCENARIO = Scenario(
    slug="self-attention",
    title="Self-attention: read the weights, not Z",
    question=(
        "Z is N x d, so what am I supposed to do with it to see how strongly the words "
        "in “I love pets, especially cats” associate? Wouldn’t it make much more sense "
        "to use only the softmax output, since it already is N x N?"
    ),
    summary=(
        "You will compute self-attention for one sentence step by step and know which "
        "matrix tells how much each word attends to each other word, and why."
    ),
    order=40,
    params={
        "tokens": ["I", "love", "pets", ",", "especially", "cats"],
        "features": [
            "person",
            "feeling",
            "animal",
            "group",
            "specific",
            "plural",
            "punctuation",
            "emphasis",
        ],
        "token_features": {
            "I": ["person"],
            "love": ["feeling"],
            "pets": ["animal", "group", "plural"],
            ",": ["punctuation"],
            "especially": ["emphasis"],
            "cats": ["animal", "specific", "plural"],
        },
        "channels": [
            {
                "query": "specific",
                "keys": {"group": 5.0},
                "meaning": "a specific thing looks for the group it belongs to",
            },
            {
                "query": "animal",
                "keys": {"animal": 5.0},
                "meaning": "animals look for animals",
            },
            {
                "query": "feeling",
                "keys": {"person": 6.0, "animal": 4.0},
                "meaning": "a feeling looks for who feels it and what it is about",
            },
            {
                "query": "emphasis",
                "keys": {"specific": 7.0, "group": 4.0},
                "meaning": "an emphasis looks for what it singles out",
            },
        ],
        "noise": 0.1,
        "value_std": 0.5,
        "focus": "cats",
    },
    seed=3,
    compute=compute,
    context=context,
    main_figure="weights",
    main_map="weights",
)
