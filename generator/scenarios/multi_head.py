"""Multi-head attention: what one head's plot means, and every head at every depth."""

from __future__ import annotations

from typing import Any

import numpy as np

from attention_atlas.attention import multi_head_attention, scaled_dot_product_attention
from attention_atlas.charts import Figure, head_grid_chart
from attention_atlas.models.normalization import layer_norm
from attention_atlas.readouts import row_entropy_bits
from attention_atlas.render.diagrams import diagram_figure, multi_head_diagram
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import fixed, quoted, rounding_error, significant, word_list


def positional_encoding(n: int, d_model: int) -> np.ndarray:
    """Sinusoidal positions of the original Transformer, shape (N, D); D must be even."""
    pos = np.arange(n)[:, None]  # (N, 1)
    freq = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)  # (D/2,)
    pe = np.zeros((n, d_model))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq)
    return pe


def split_heads(y: np.ndarray, heads: int) -> np.ndarray:
    """(N, H*d) -> (H, N, d): head h takes columns h*d:(h+1)*d."""
    n, width = y.shape
    return y.reshape(n, heads, width // heads).transpose(1, 0, 2)


def compute(scenario: Scenario) -> Result:
    """A seeded, untrained stack of multi-head self-attention layers, and the seed's map.

    Arrays: ``x0`` (N, D) the layer-1 input, ``weights`` (L, H, N, N), ``entropy`` (L, H)
    mean row entropy in bits, ``heads`` (H, N, d_v) and ``concat`` (N, H*d_v) of layer 0,
    ``out`` (N, D) layer 0's attention output, ``routing`` (3, 3) and
    ``routing_entropy`` (3,).
    """
    p = scenario.params
    rng = np.random.default_rng(scenario.seed)
    tokens = list(p["tokens"])
    n, d_model = len(tokens), int(p["d_model"])
    n_heads, n_layers = int(p["heads"]), int(p["layers"])
    vocab = sorted({t.lower() for t in tokens})
    table = rng.normal(0.0, 1.0, size=(len(vocab), d_model))  # one row per word type
    x = table[[vocab.index(t.lower()) for t in tokens]] + positional_encoding(n, d_model)
    x = layer_norm(x, eps=0.0)  # mean 0, variance 1 per row, no gain or bias
    x0 = x
    std = float(p["weight_scale"]) / np.sqrt(d_model)
    maps, outs = [], []
    params: list[tuple[np.ndarray, ...]] = []
    for _ in range(n_layers):
        w_q, w_k, w_v, w_o = (rng.normal(0.0, std, size=(d_model, d_model)) for _ in range(4))
        out, weights = multi_head_attention(x, x, w_q, w_k, w_v, w_o, n_heads)
        maps.append(weights)  # (H, N, N)
        outs.append(out)
        params.append((w_q, w_k, w_v, w_o))
        x = layer_norm(x + out, eps=0.0)  # residual, then normalise
    weights_all = np.stack(maps)  # (L, H, N, N)

    # Layer 0 again, one head at a time, to show the concat-then-project equation.
    w_q, w_k, w_v, w_o = params[0]
    heads, _ = scaled_dot_product_attention(
        split_heads(x0 @ w_q, n_heads),
        split_heads(x0 @ w_k, n_heads),
        split_heads(x0 @ w_v, n_heads),
    )  # (H, N, d_v)
    concat = heads.transpose(1, 0, 2).reshape(n, -1)  # (N, H*d_v)

    routing = np.asarray(p["routing"]["matrix"], dtype=np.float64)
    return Result(
        arrays={
            "x0": x0,
            "weights": weights_all,
            "entropy": row_entropy_bits(weights_all).mean(axis=-1),
            "heads": heads,
            "concat": concat,
            "out": outs[0],
            "concat_out": concat @ w_o,
            "w_o": w_o,
            "routing": routing,
            "routing_entropy": row_entropy_bits(routing),
        },
        labels={
            "tokens": tuple(tokens),
            "routing_tokens": tuple(p["routing"]["tokens"]),
            "layers": tuple(f"layer {i}" for i in range(n_layers)),
            "heads": tuple(f"head {h}" for h in range(n_heads)),
        },
        facts={"weight_std": std, "weight_scale": float(p["weight_scale"])},
    )


def routing_sentences(matrix: np.ndarray, tokens: list[str]) -> list[str]:
    """Read a routing matrix aloud, one sentence per row.

    A row with a single 1 "routes all of its information through" that token; other rows
    list their non-zero shares, and the tokens with no share get "none".
    """
    sentences = []
    for tok, row in zip(tokens, matrix, strict=True):
        nonzero = [j for j, w in enumerate(row) if w > 0]
        zero = [quoted(tokens[j]) for j, w in enumerate(row) if w == 0]
        if not nonzero:
            sentences.append(f"{quoted(tok)} attends to nothing (a fully masked row).")
            continue
        first = quoted(tokens[nonzero[0]])
        if len(nonzero) == 1 and np.isclose(row[nonzero[0]], 1.0):
            text = f"{quoted(tok)} routes all of its information through {first}"
        else:
            parts = [f"{significant(row[j], 6)} through {quoted(tokens[j])}" for j in nonzero]
            parts[0] = f"{significant(row[nonzero[0]], 6)} of its information through {first}"
            text = f"{quoted(tok)} routes {word_list(parts)}"
        if zero:
            text += f", and none through {word_list(zero)}"
        sentences.append(text + ".")
    return sentences


def context(result: Result) -> dict[str, Any]:
    a, labels, facts = result.arrays, result.labels, result.facts
    tokens = list(labels["tokens"])
    layers, head_names = list(labels["layers"]), list(labels["heads"])
    weights, entropy = a["weights"], a["entropy"]
    n_layers, n_heads, n, _ = weights.shape
    d_model = a["x0"].shape[1]
    d_head = a["heads"].shape[-1]
    max_bits = float(np.log2(n))

    lo = np.unravel_index(int(np.argmin(entropy)), entropy.shape)
    hi = np.unravel_index(int(np.argmax(entropy)), entropy.shape)
    focused = weights[lo]  # (N, N)
    focused_rows = []
    for i, tok in enumerate(tokens):
        j = int(np.argmax(focused[i]))
        focused_rows.append(
            {
                "query": f"{i}: {tok}",
                "key": f"{j}: {tokens[j]}",
                "weight": fixed(focused[i, j]),
            }
        )

    rtok = list(labels["routing_tokens"])
    routing, rent = a["routing"], a["routing_entropy"]

    def head_name(idx: tuple[Any, ...]) -> str:
        return f"{layers[int(idx[0])]}, {head_names[int(idx[1])]}"

    shapes = [
        ("X (layer input)", f"({n}, {d_model})", "one vector per token: N tokens, width D"),
        (
            "W_Q, W_K, W_V",
            f"({d_model}, {n_heads * d_head})",
            f"D × H·d_k: all {n_heads} heads’ projections side by side",
        ),
        ("Q_h, K_h, V_h", f"({n}, {d_head})", f"head h’s {d_head} columns of Q, K, V"),
        (
            "weights of one layer",
            f"({n_heads}, {n}, {n})",
            "one N × N map per head: these are the plots",
        ),
        ("head_h", f"({n}, {d_head})", "softmax(Q_h K_hᵀ/√d_k) V_h"),
        (
            "concat(head_1 … head_H)",
            f"({n}, {n_heads * d_head})",
            f"the heads side by side: H·d_v = {n_heads}·{d_head} = {n_heads * d_head}",
        ),
        ("W_O", f"({n_heads * d_head}, {d_model})", "mixes the heads back to width D"),
        ("layer output", f"({n}, {d_model})", "same shape as X, so layers stack"),
        (
            "all maps on this page",
            f"({n_layers}, {n_heads}, {n}, {n})",
            "layers × heads × queries × keys",
        ),
    ]
    return {
        # diagram: the multi-head flow drawn with this page's shapes
        "flow_diagram": diagram_figure(
            multi_head_diagram(n, d_model, n_heads, d_head),
            f"One layer: {n_heads} heads side by side, each with its own {n} × {n} map.",
        ),
        "n": n,
        "tokens": [quoted(t) for t in tokens],
        "d_model": d_model,
        "n_heads": n_heads,
        "n_layers": n_layers,
        "n_maps": n_layers * n_heads,
        "d_head": d_head,
        "hd": n_heads * d_head,
        "weight_std": fixed(facts["weight_std"], 2),
        "weight_scale": significant(facts["weight_scale"], 6),
        "shape_rows": [{"name": s, "shape": sh, "meaning": m} for s, sh, m in shapes],
        "routing_tokens": [quoted(t) for t in rtok],
        "routing_rows": ["[" + ", ".join(significant(w, 6) for w in row) + "]" for row in routing],
        "routing_sentences": routing_sentences(routing, rtok),
        "routing_entropy": [
            {"token": quoted(t), "bits": fixed(b)} for t, b in zip(rtok, rent, strict=True)
        ],
        "routing_max_bits": fixed(np.log2(len(rtok))),
        "max_bits": fixed(max_bits),
        "uniform_weight": fixed(1.0 / n, 3),
        "focused_name": head_name(lo),
        "focused_bits": fixed(entropy[lo]),
        "focused_rows": focused_rows,
        "focused_top_mean": fixed(focused.max(axis=1).mean()),
        "diffuse_name": head_name(hi),
        "diffuse_bits": fixed(entropy[hi]),
        "diffuse_top_mean": fixed(weights[hi].max(axis=1).mean()),
        "layer_means": word_list(
            [f"{name} has {fixed(entropy[i].mean())} bits" for i, name in enumerate(layers)]
        ),
        "concat_gap": rounding_error(float(np.max(np.abs(a["concat_out"] - a["out"])))),
        "row_sum_error": rounding_error(float(np.max(np.abs(weights.sum(axis=-1) - 1.0)))),
        "routing_fig": heatmap_figure(
            "routing",
            routing,
            rtok,
            rtok,
            "Read a row: how one token splits its information over the tokens in the columns.",
            title="One head’s map for “The dog ran”",
            x_title="Key: routed through (input)",
            y_title="Query: token being encoded (output)",
            value_title="weight",
            show_values=True,
            fmt=".1f",
            domain=(0.0, 1.0),
            name="route",
        ),
        "grid_fig": Figure(
            head_grid_chart(
                weights,
                tokens,
                tokens,
                title=f"Every head at every depth ({n_layers} layers × {n_heads} heads)",
                subtitle=f"Rows: layers 0–{n_layers - 1}. Columns: heads 0–{n_heads - 1}.",
                layer_names=[str(i) for i in range(n_layers)],
                head_names=[str(h) for h in range(n_heads)],
            ),
            caption="One map per (layer, head); rows are queries, columns keys, each row "
            "sums to 1. Untrained, seeded weights.",
            name="grid",
        ),
        "entropy_fig": heatmap_figure(
            "entropy",
            entropy,
            layers,
            head_names,
            f"0 bits: every row on one key. {fixed(max_bits)} bits: spread evenly "
            f"over all {n} keys.",
            title="Mean row entropy of each head (bits)",
            x_title="Head",
            y_title="Layer",
            value_title="entropy (bits)",
            show_values=True,
            fmt=".2f",
            domain=(0.0, max_bits),
            scheme="blues",
            cell_size=(60, 28),
            name="ent",
        ),
    }


SCENARIO = Scenario(
    slug="multi-head",
    title="Multi-head attention: what each head’s plot means",
    question=(
        "I am plotting all of the attention heads, for every head and every depth. "
        "Can you explain the visualization results? What is the meaning of each head plot?"
    ),
    summary=(
        "You will read one head’s map row by row, find any head of a two-layer stack in "
        "one grid, and tell a focused head from a diffuse one by its entropy."
    ),
    order=50,
    params={
        "tokens": ["The", "dog", "ran", "to", "the", "park"],
        "d_model": 16,
        "heads": 4,
        "layers": 2,
        "weight_scale": 2.0,
        "routing": {
            "tokens": ["The", "dog", "ran"],
            "matrix": [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]],
        },
    },
    seed=7,
    compute=compute,
    context=context,
    main_figure="grid",
    main_map="weights",
)
