"""A guide to reading attention maps: common patterns, received attention, row entropy,
and what a map cannot tell you."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from attention_atlas.attention import multi_head_attention, softmax
from attention_atlas.readouts import row_entropy_bits
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import bar_figure, heatmap_figure
from attention_atlas.text import fixed, quoted, rounding_error, vector_text, word_list

PATTERNS = ("diagonal", "previous", "sink", "uniform")


def pattern_maps(n: int, strength: float) -> dict[str, np.ndarray]:
    """The four textbook patterns, each ``softmax`` of a constructed (N, N) score matrix.

    - diagonal: ``strength`` on the diagonal, 0 elsewhere;
    - previous: ``strength`` at (i, i-1), 0 elsewhere, causal mask (keys j <= i);
    - sink: ``strength`` in the first column, 0 elsewhere;
    - uniform: all scores 0.
    """
    eye = np.eye(n)
    causal = np.tril(np.ones((n, n), dtype=bool))
    sink = np.zeros((n, n))
    sink[:, 0] = strength
    return {
        "diagonal": softmax(strength * eye),
        "previous": softmax(strength * np.eye(n, k=-1), mask=causal),
        "sink": softmax(sink),
        "uniform": softmax(np.zeros((n, n))),
    }


def rotated_heads(
    x: np.ndarray, w_q: np.ndarray, w_k: np.ndarray, w_v: np.ndarray, w_o: np.ndarray, r: np.ndarray
) -> dict[str, np.ndarray]:
    """Two heads whose query/key projections differ by an orthogonal ``r`` (d_k, d_k).

    Head 2 uses ``w_q r`` and ``w_k r``, so its scores ``x w_q r r^T w_k^T x^T`` equal head
    1's: different parameters, the same map. Both heads share ``w_v``, so removing head 2
    and adding its slice of ``w_o`` to head 1's gives the same layer output. Returns the
    two-head output ``out2`` (N, D), its ``maps`` (2, N, N) and the one-head ``out1`` (N, D).
    """
    d_v = w_v.shape[1]
    out2, maps = multi_head_attention(
        x, x, np.hstack([w_q, w_q @ r]), np.hstack([w_k, w_k @ r]), np.hstack([w_v, w_v]), w_o, 2
    )
    out1, _ = multi_head_attention(x, x, w_q, w_k, w_v, w_o[:d_v] + w_o[d_v:], 1)
    return {"out2": out2, "maps": maps, "out1": out1}


def compute(scenario: Scenario) -> Result:
    """Pattern maps, a mixed map with its received attention and entropies, and the three
    demonstrations of what weights do not show.

    Arrays: ``diagonal``, ``previous``, ``sink``, ``uniform``, ``mixed`` (N, N);
    ``received`` (N,) column sums of ``mixed``; ``causal_uniform`` (N, N) even attention
    under a causal mask; ``entropy`` (5, N) row entropies in bits;
    ``values`` (N, d_v) and ``contrib`` (N,) norms of weight × value for the focus query;
    ``same_v`` (N, d_v) identical rows, ``z_diagonal``, ``z_uniform`` (N, d_v);
    ``w_q``, ``w_qr`` (D, d_k), ``maps`` (2, N, N), ``out2``, ``out1`` (N, D).
    """
    p = scenario.params
    rng = np.random.default_rng(scenario.seed)
    tokens = list(p["tokens"])
    n = len(tokens)
    maps = pattern_maps(n, float(p["strength"]))

    mix = p["mixed"]
    scores = np.zeros((n, n))
    scores[:, 0] += float(mix["sink"])
    scores += float(mix["previous"]) * np.eye(n, k=-1)
    scores += rng.normal(0.0, float(mix["noise"]), size=(n, n))
    mixed = softmax(scores)

    d_v = int(p["value_dim"])
    values = rng.normal(0.0, 1.0, size=(n, d_v))
    values[0] *= float(p["sink_value_scale"])  # the over-attended token carries little
    focus = tokens.index(p["focus"]) if p["focus"] in tokens else n - 1
    contrib = mixed[focus] * np.linalg.norm(values, axis=1)  # ||A_ij v_j||

    same_v = np.tile(rng.normal(0.0, 1.0, size=(1, d_v)), (n, 1))

    red = p["redundant"]
    d_model, d_k = int(red["d_model"]), int(red["d_k"])
    x = rng.normal(0.0, 1.0, size=(n, d_model))
    w_q, w_k, w_v = (rng.normal(0.0, 1.0 / np.sqrt(d_model), size=(d_model, d_k)) for _ in range(3))
    w_o = rng.normal(0.0, 1.0 / np.sqrt(2 * d_k), size=(2 * d_k, d_model))
    r, _ = np.linalg.qr(rng.normal(size=(d_k, d_k)))  # a random orthogonal (d_k, d_k)
    heads = rotated_heads(x, w_q, w_k, w_v, w_o, r)

    causal_uniform = softmax(np.zeros((n, n)), mask=np.tril(np.ones((n, n), dtype=bool)))
    all_maps = {**maps, "mixed": mixed}
    return Result(
        arrays={
            **maps,
            "mixed": mixed,
            "mixed_scores": scores,
            "received": mixed.sum(axis=0),
            "causal_uniform": causal_uniform,
            "entropy": np.stack([row_entropy_bits(all_maps[k]) for k in (*PATTERNS, "mixed")]),
            "values": values,
            "contrib": contrib,
            "same_v": same_v,
            "z_diagonal": maps["diagonal"] @ same_v,
            "z_uniform": maps["uniform"] @ same_v,
            "w_q": w_q,
            "w_qr": w_q @ r,
            "maps": heads["maps"],
            "out2": heads["out2"],
            "out1": heads["out1"],
        },
        labels={
            "tokens": tuple(tokens),
            "dims": tuple(f"dim {i + 1}" for i in range(d_v)),
            "patterns": (*PATTERNS, "mixed"),
        },
        facts={
            "focus": focus,
            "strength": float(p["strength"]),
            "mixed": {k: float(v) for k, v in mix.items()},
            "sink_value_scale": float(p["sink_value_scale"]),
        },
    )


#: A map of weights over the tokens, its values written in.
_pattern = partial(
    heatmap_figure,
    x_title="Key (input, attended to)",
    y_title="Query (output, attending)",
    value_title="weight",
    show_values=True,
    domain=(0.0, 1.0),
    fmt=".3f",
)

#: One query's weights, or shares, over the keys.
_key_bars = partial(bar_figure, x_title="Key token (position)", fmt=".2f")


def context(result: Result) -> dict[str, Any]:
    a, labels, facts = result.arrays, result.labels, result.facts
    tokens = list(labels["tokens"])
    n = len(tokens)
    pos = [f"{t} ({i})" for i, t in enumerate(tokens)]
    s = facts["strength"]
    mix = facts["mixed"]
    diag, prev, sink, uni, mixed = (a[k] for k in (*PATTERNS, "mixed"))
    received = a["received"]
    top = int(np.argmax(received))
    ignored = [j for j in range(n) if received[j] < 0.5]
    entropy = a["entropy"]
    focus = int(facts["focus"])
    contrib = a["contrib"]
    share = contrib / contrib.sum()
    top_w = int(np.argmax(mixed[focus]))
    top_c = int(np.argmax(share))
    norms = np.linalg.norm(a["values"], axis=1)
    causal_received = a["causal_uniform"].sum(axis=0)

    pattern_text = {
        "diagonal": f"score {fixed(s, 0)} on the diagonal, 0 elsewhere",
        "previous": f"score {fixed(s, 0)} at (i, i−1), 0 elsewhere, causal mask",
        "sink": f"score {fixed(s, 0)} in the first column, 0 elsewhere",
        "uniform": "every score 0",
    }
    mixed_text = (
        f"{fixed(mix['sink'], 1)} in column 0 + {fixed(mix['previous'], 1)} at (i, i−1) "
        f"+ noise (sd {fixed(mix['noise'], 1)})"
    )
    pattern_names = {
        "diagonal": "Diagonal",
        "previous": "Previous token",
        "sink": "Attention sink",
        "uniform": "Uniform",
        "mixed": "Mixed head",
    }
    return {
        "n": n,
        "tokens": [quoted(t) for t in tokens],
        "strength": fixed(s, 0),
        "others": n - 1,
        "diag_weight": fixed(diag[0, 0], 3),
        "diag_off": fixed(diag[0, 1], 3),
        "prev_first": fixed(prev[0, 0]),
        "prev_second": fixed(prev[1, 0], 3),
        "prev_last": fixed(prev[-1, -2], 3),
        "sink_weight": fixed(sink[0, 0], 3),
        "uniform_weight": fixed(uni[0, 0], 3),
        "first": quoted(tokens[0]),
        "mix_sink": fixed(mix["sink"], 1),
        "mix_prev": fixed(mix["previous"], 1),
        "mix_noise": fixed(mix["noise"], 1),
        "received_top": quoted(pos[top]),
        "received_top_value": fixed(received[top]),
        "ignored": word_list([quoted(pos[j]) for j in ignored]),
        "ignored_values": word_list([fixed(received[j]) for j in ignored]),
        "ignored_count": len(ignored),
        "sink_received": fixed(sink.sum(axis=0)[0]),
        "sink_received_other": fixed(sink.sum(axis=0)[1]),
        "causal_first": fixed(causal_received[0], 3),
        "causal_last": fixed(causal_received[-1], 3),
        "last": quoted(pos[-1]),
        "first_pos": quoted(pos[0]),
        "max_bits": fixed(np.log2(n)),
        "entropy_rows": [
            {
                "name": pattern_names[k],
                "made": pattern_text.get(k, mixed_text),
                "mean": fixed(entropy[i].mean()),
            }
            for i, k in enumerate(labels["patterns"])
        ],
        "diag_bits": fixed(entropy[0, 0]),
        "prev_first_bits": fixed(entropy[1, 0]),
        "prev_last_bits": fixed(entropy[1, -1]),
        "uniform_bits": fixed(entropy[3, 0]),
        "focus": quoted(pos[focus]),
        "focus_top_w": quoted(pos[top_w]),
        "focus_top_weight": fixed(mixed[focus, top_w]),
        "focus_top_norm": fixed(norms[top_w]),
        "focus_top_share": fixed(100 * share[top_w], 0),
        "focus_top_c": quoted(pos[top_c]),
        "focus_top_c_weight": fixed(mixed[focus, top_c]),
        "focus_top_c_share": fixed(100 * share[top_c], 0),
        "median_norm": fixed(float(np.median(norms))),
        "sink_value_scale": fixed(facts["sink_value_scale"]),
        "param_gap": fixed(float(np.max(np.abs(a["w_q"] - a["w_qr"])))),
        "map_gap": rounding_error(float(np.max(np.abs(a["maps"][0] - a["maps"][1])))),
        "out_gap": rounding_error(float(np.max(np.abs(a["out2"] - a["out1"])))),
        "z_gap": rounding_error(float(np.max(np.abs(a["z_diagonal"] - a["z_uniform"])))),
        "map_diff": fixed(float(np.max(np.abs(diag - uni)))),
        "z_row": vector_text(a["z_diagonal"][0]),
        **{
            f"{key}_fig": _pattern(
                key,
                a[key],
                tokens,
                tokens,
                caption,
                title=title,
                subtitle=pattern_text[key],
                name=short,
            )
            for key, title, short, caption in (
                (
                    "diagonal",
                    "Diagonal: each token attends to itself",
                    "diag",
                    "A bright diagonal: every token keeps mostly its own information.",
                ),
                (
                    "previous",
                    "Previous token",
                    "prev",
                    "A band just below the diagonal: each token reads the one before it.",
                ),
                (
                    "sink",
                    "Attention sink: the first token",
                    "sink",
                    "A bright first column: attention with nowhere better to go is parked "
                    "on one token.",
                ),
                (
                    "uniform",
                    "Uniform",
                    "uni",
                    f"Every cell 1/{n}: the head makes no distinction and averages the values.",
                ),
            )
        },
        "mixed_fig": _pattern(
            "mixed",
            mixed,
            tokens,
            tokens,
            "Read a column top to bottom to see who attends to that key.",
            title="A mixed head",
            subtitle=f"scores: {mixed_text}",
            name="mixed",
            fmt=".2f",
        ),
        "received_fig": _key_bars(
            "received",
            received,
            pos,
            f"The bars total {n}; a key at 1 gets a fair share, far above is "
            "over-attended, near 0 ignored.",
            title="Attention received by each key (column sums of the mixed head)",
            y_title="received attention (sum of its column)",
            highlight=top,
        ),
        "entropy_fig": heatmap_figure(
            "entropy",
            entropy,
            [pattern_names[k] for k in labels["patterns"]],
            tokens,
            f"0 bits: the row is on one key. {fixed(np.log2(n))} bits: spread "
            f"evenly over all {n} keys.",
            title="Row entropy of each map (bits)",
            x_title="Query token (row of the map)",
            y_title="Map",
            value_title="entropy (bits)",
            show_values=True,
            fmt=".2f",
            domain=(0.0, float(np.log2(n))),
            scheme="blues",
            name="ent",
        ),
        "focus_weights_fig": _key_bars(
            "focus_weights",
            mixed[focus],
            pos,
            "What the map shows: where this query puts its attention.",
            title=f"Weights of the query {quoted(pos[focus])}",
            y_title="attention weight",
            highlight=top_w,
        ),
        "focus_contrib_fig": _key_bars(
            "focus_contrib",
            100 * share,
            pos,
            "What the output gets: weight times the size of the value vector.",
            title=f"Share of the output of {quoted(pos[focus])} from each key",
            y_title="share of ‖weight × value‖ (%)",
            fmt=".0f",
            highlight=top_c,
        ),
        "z_fig": heatmap_figure(
            "z",
            a["z_diagonal"],
            tokens,
            list(labels["dims"]),
            "The diagonal and the uniform map give exactly this Z, because every "
            "value row is the same.",
            title=f"Z for both maps ({n} × {a['same_v'].shape[1]})",
            x_title="Value dimension",
            y_title="Query token",
            value_title="z",
            show_values=True,
            fmt=".2f",
            diverging=True,
            name="z",
        ),
    }


SCENARIO = Scenario(
    slug="reading-attention",
    title="Reading an attention map: patterns, sums and limits",
    question=(
        "How do I read an attention heatmap? Which parts of the input are consistently "
        "ignored, and which receive too much attention?"
    ),
    summary=(
        "You will name four common patterns on sight, measure what each token receives "
        "and how spread each row is, and know what a map cannot tell you."
    ),
    order=80,
    params={
        "tokens": ["the", "cat", "sat", "on", "the", "mat", "and", "purred"],
        "strength": 4.0,
        "mixed": {"sink": 2.0, "previous": 2.5, "noise": 0.5},
        "value_dim": 4,
        "sink_value_scale": 0.05,
        "focus": "purred",
        "redundant": {"d_model": 8, "d_k": 4},
    },
    seed=5,
    compute=compute,
    context=context,
    main_figure="mixed",
    main_map="mixed",
)
