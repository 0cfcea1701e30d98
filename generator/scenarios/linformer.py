"""Linformer: what its N x P attention map means, with pooling and with a learned projection."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from attention_atlas.attention import (
    linformer_attention,
    pooling_projection,
    scaled_dot_product_attention,
)
from attention_atlas.errors import ShapeError
from attention_atlas.render.diagrams import diagram_figure, linformer_diagram
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import fixed, percent, rounding_error, vector_text


def block_labels(tokens: list[str] | tuple[str, ...], p: int) -> tuple[str, ...]:
    """Label of each of the ``p`` pooling blocks: its first and last token, "a–b".

    tokens : N tokens, N a multiple of ``p``; returns ``p`` labels (a block of one token
    is labelled by that token alone).
    """
    n = len(tokens)
    width = n // p
    out = []
    for i in range(p):
        first, last = tokens[i * width], tokens[(i + 1) * width - 1]
        out.append(first if width == 1 else f"{first}–{last}")
    return tuple(out)


def block_sums(weights: np.ndarray, p: int) -> np.ndarray:
    """Total weight of each block of ``M / p`` consecutive keys: (..., N, M) -> (..., N, p)."""
    *lead, n, m = weights.shape
    return weights.reshape(*lead, n, p, m // p).sum(axis=-1)


def link_queries(keys: np.ndarray, links: list[list[Any]], sharpness: float) -> np.ndarray:
    """Queries that look for chosen tokens: (M, d) keys -> (M, d) queries.

    Query i is ``sharpness`` times the sum of the keys it is linked to; a position without a
    link looks for itself. ``links`` holds ``[position, [target positions]]`` pairs.
    """
    pick = np.eye(len(keys))
    for position, targets in links:
        pick[position] = 0.0
        pick[position, targets] = 1.0
    return sharpness * (pick @ keys)


def _uneven_message(n: int, p: int) -> str:
    try:
        pooling_projection(n, p)
    except ShapeError as exc:
        return str(exc)
    msg = f"pooling_projection({n}, {p}) was expected to refuse uneven blocks"
    raise AssertionError(msg)


def compute(scenario: Scenario) -> Result:
    """The seed's 4-token example, a 16-token sentence with pooling, and a random projection.

    Arrays (N = 16, P = 4, d = width): ``small_q``, ``small_k``, ``small_v`` (4, w);
    ``small_e`` (2, 4); ``small_kp``, ``small_vp`` (2, w); ``small_scores``,
    ``small_weights`` (4, 2); ``small_out`` (4, w); ``q``, ``k``, ``v`` (N, d);
    ``e`` (P, N); ``full_weights`` (N, N); ``full_out`` (N, d); ``full_blocks`` (N, P)
    (full attention's total weight per block); ``lin_weights`` (N, P); ``lin_out`` (N, d);
    ``block_mean_scores`` (N, P); ``rand_e``, ``rand_f`` (P, N); ``rand_weights`` (N, P);
    ``rand_out`` (N, d); ``rand_effective`` (N, N) (= rand_weights @ rand_f);
    ``pool_effective`` (N, N) (= lin_weights @ e).
    """
    p = scenario.params
    rng = np.random.default_rng(scenario.seed)

    small_tokens = list(p["small_tokens"])
    small_p, w = int(p["small_p"]), int(p["small_width"])
    sq, sk, sv = (np.round(rng.normal(0.0, 1.0, (len(small_tokens), w)), 1) for _ in range(3))
    small_e = pooling_projection(len(small_tokens), small_p)
    small_out, small_weights = linformer_attention(sq, sk, sv, small_e, small_e)
    small_kp, small_vp = small_e @ sk, small_e @ sv  # (P, w)
    small_scores = sq @ small_kp.T / np.sqrt(w)  # (N, P)

    tokens = list(p["tokens"])
    n, big_p, d = len(tokens), int(p["p"]), int(p["width"])
    k = rng.normal(0.0, 1.0, (n, d))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    q = link_queries(k, p["links"], float(p["sharpness"]))
    v = rng.normal(0.0, 1.0, (n, d))
    full_out, full_weights = scaled_dot_product_attention(q, k, v)
    e = pooling_projection(n, big_p)
    lin_out, lin_weights = linformer_attention(q, k, v, e, e)
    full_scores = q @ k.T / np.sqrt(d)

    # A freshly initialised linear layer (Xavier normal), as a learned E and F start out.
    std = np.sqrt(2.0 / (n + big_p))
    rand_e = rng.normal(0.0, std, (big_p, n))
    rand_f = rng.normal(0.0, std, (big_p, n))
    rand_out, rand_weights = linformer_attention(q, k, v, rand_e, rand_f)

    uneven_n, uneven_p = (int(x) for x in p["uneven"])
    return Result(
        arrays={
            "small_q": sq,
            "small_k": sk,
            "small_v": sv,
            "small_e": small_e,
            "small_kp": small_kp,
            "small_vp": small_vp,
            "small_scores": small_scores,
            "small_weights": small_weights,
            "small_out": small_out,
            "q": q,
            "k": k,
            "v": v,
            "e": e,
            "full_scores": full_scores,
            "full_weights": full_weights,
            "full_out": full_out,
            "full_blocks": block_sums(full_weights, big_p),
            "lin_weights": lin_weights,
            "lin_out": lin_out,
            "block_mean_scores": block_sums(full_scores, big_p) / (n // big_p),
            "rand_e": rand_e,
            "rand_f": rand_f,
            "rand_weights": rand_weights,
            "rand_out": rand_out,
            "rand_effective": rand_weights @ rand_f,
            "pool_effective": lin_weights @ e,
        },
        labels={
            "small_tokens": tuple(small_tokens),
            "small_blocks": block_labels(small_tokens, small_p),
            "tokens": tuple(tokens),
            "blocks": block_labels(tokens, big_p),
            "projections": tuple(f"projection {i + 1}" for i in range(big_p)),
            "links": tuple(
                f"{tokens[i]} ({i}) → " + " and ".join(f"{tokens[j]} ({j})" for j in targets)
                for i, targets in p["links"]
            ),
        },
        facts={
            "focus": int(p["focus"]),
            "uneven_n": uneven_n,
            "uneven_p": uneven_p,
            "uneven_message": _uneven_message(uneven_n, uneven_p),
            "xavier_std": float(std),
        },
    )


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error of ``a`` against the reference ``b`` (Frobenius norms)."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


#: A map of weights: a query token's row over tokens, blocks or projected positions.
_weights_map = partial(heatmap_figure, y_title="Query token", domain=(0.0, 1.0))

#: Signed numbers of each query token (differences, coefficients), centred at 0.
_signed_map = partial(heatmap_figure, y_title="Query token", diverging=True, fmt=".3f")

#: A projection's coefficients over the tokens of the sequence.
_coefficients = partial(
    heatmap_figure, x_title="Token (sequence position)", value_title="coefficient"
)


def _small_context(result: Result) -> dict[str, Any]:
    a, labels = result.arrays, result.labels
    tokens, blocks = list(labels["small_tokens"]), list(labels["small_blocks"])
    n, w = a["small_q"].shape
    sp = len(blocks)
    weights = a["small_weights"]
    return {
        "small_n": n,
        "small_p": sp,
        "small_w": w,
        "small_width": n // sp,
        "small_blocks": blocks,
        "small_rows": [
            {"token": t, "q": vector_text(qr, 1), "k": vector_text(kr, 1), "v": vector_text(vr, 1)}
            for t, qr, kr, vr in zip(tokens, a["small_q"], a["small_k"], a["small_v"], strict=True)
        ],
        "small_proj_rows": [
            {"block": b, "kp": vector_text(kr), "vp": vector_text(vr)}
            for b, kr, vr in zip(blocks, a["small_kp"], a["small_vp"], strict=True)
        ],
        "small_weight_rows": [
            {
                "token": t,
                "scores": ", ".join(fixed(x, 3) for x in sr),
                "weights": ", ".join(fixed(x, 4) for x in wr),
                "total": fixed(wr.sum(), 4),
            }
            for t, sr, wr in zip(tokens, a["small_scores"], weights, strict=True)
        ],
        "small_first": tokens[0],
        "small_first_weights": [fixed(x, 4) for x in weights[0]],
        "small_e_fig": _coefficients(
            "small_e",
            a["small_e"],
            blocks,
            tokens,
            f"Row i averages block i: {n // sp} consecutive tokens with weight "
            f"{fixed(1 / (n // sp), 2)} each (kernel = stride = {n // sp}).",
            title=f"E = F: mean pooling of {n} tokens into {sp} blocks",
            y_title="Block",
            fmt=".2f",
            scheme="greys",
            domain=(0.0, 1.0),
            name="se",
        ),
        "small_weights_fig": _weights_map(
            "small_weights",
            weights,
            tokens,
            blocks,
            "Each row is one token’s choice between the blocks; every row sums to 1.",
            title=f"Linformer weights: {n} queries × {sp} blocks",
            x_title="Block of keys (attended to)",
            name="sw",
        ),
    }


def _large_context(result: Result) -> dict[str, Any]:
    a, labels, facts = result.arrays, result.labels, result.facts
    tokens, blocks = list(labels["tokens"]), list(labels["blocks"])
    n, d = a["q"].shape
    bp = len(blocks)
    width = n // bp
    full, lin, pooled = a["full_weights"], a["lin_weights"], a["full_blocks"]
    diff = lin - pooled
    worst = np.unravel_index(int(np.argmax(np.abs(diff))), diff.shape)
    focus = int(facts["focus"])
    fb = int(np.argmax(full[focus])) // width  # block holding focus's favourite token
    block_scores = a["full_scores"][focus, fb * width : (fb + 1) * width]
    lse = float(np.log(np.exp(block_scores).sum()))
    top = int(np.argmax(full[focus]))
    # Linformer puts less weight than full attention on the block a query wants most.
    peak_blocks = np.argmax(pooled, axis=1)
    lin_on_peak = lin[np.arange(n), peak_blocks]
    full_on_peak = pooled[np.arange(n), peak_blocks]
    lower = int(np.sum(lin_on_peak < full_on_peak))
    return {
        # diagram: the projection drawn with this page's shapes
        "flow_diagram": diagram_figure(
            linformer_diagram(n, bp, d),
            f"E and F shorten the {n} keys and values to {bp} rows before the softmax, "
            f"so the map is {n} × {bp}.",
        ),
        "n": n,
        "p": bp,
        "d": d,
        "width": width,
        "neighbours": width - 1,
        "blocks": blocks,
        "sentence": " ".join(tokens),
        "links": list(labels["links"]),
        "sharpness": fixed(float(np.linalg.norm(a["q"][0])), 0),
        "block_rows": [
            {"block": b, "tokens": " ".join(tokens[i * width : (i + 1) * width])}
            for i, b in enumerate(blocks)
        ],
        "full_cells": n * n,
        "lin_cells": n * bp,
        "pooled_row_sum_max_dev": rounding_error(float(np.max(np.abs(pooled.sum(axis=1) - 1)))),
        "max_diff": fixed(np.abs(diff).max(), 4),
        "mean_diff": fixed(np.abs(diff).mean(), 4),
        "worst_token": f"{tokens[worst[0]]} (position {worst[0]})",
        "worst_block": blocks[worst[1]],
        "worst_lin": fixed(lin[worst], 4),
        "worst_full": fixed(pooled[worst], 4),
        "lower_rows": f"all {n} rows" if lower == n else f"{lower} of the {n} rows",
        "lin_out_error": percent(_rel(a["lin_out"], a["full_out"])),
        "focus_token": tokens[focus],
        "focus_pos": focus,
        "focus_top": tokens[top],
        "focus_top_weight": fixed(full[focus, top], 4),
        "focus_block": blocks[fb],
        "focus_block_scores": [fixed(x, 2) for x in block_scores],
        "focus_block_tokens": tokens[fb * width : (fb + 1) * width],
        "focus_mean": fixed(a["block_mean_scores"][focus, fb], 2),
        "focus_lse": fixed(lse, 2),
        "focus_full_block": fixed(pooled[focus, fb], 4),
        "focus_lin_block": fixed(lin[focus, fb], 4),
        "full_fig": _weights_map(
            "full",
            full,
            tokens,
            tokens,
            "Full softmax(QKᵀ/√d): every query row sums to 1 over all the tokens.",
            title=f"Full attention: {n} × {n} weights",
            x_title="Key token (attended to)",
            name="full",
        ),
        "pooled_fig": _weights_map(
            "pooled",
            pooled,
            tokens,
            blocks,
            "Cell (i, j) is the total weight query i gives to the tokens of block j; "
            "rows still sum to 1.",
            title=f"Full attention summed over blocks of {width} keys",
            subtitle="Pooled view: each cell adds up the full map’s weights in one block",
            x_title="Block of keys",
            name="pool",
        ),
        "lin_fig": _weights_map(
            "lin",
            lin,
            tokens,
            blocks,
            "softmax(Q(EK)ᵀ/√d) with E the pooling matrix; rows sum to 1.",
            title=f"Linformer with mean pooling: {n} × {bp} weights",
            x_title="Block of keys (one projected position)",
            name="lin",
        ),
        "diff_fig": _signed_map(
            "diff",
            diff,
            tokens,
            blocks,
            "Blue: Linformer gives the block less weight than full attention; "
            "orange: more. Each row’s differences add up to 0.",
            title="Linformer − full attention summed over blocks",
            x_title="Block of keys",
            value_title="difference",
            name="diff",
        ),
    }


def _random_context(result: Result) -> dict[str, Any]:
    a, labels, facts = result.arrays, result.labels, result.facts
    tokens, projections = list(labels["tokens"]), list(labels["projections"])
    n = len(tokens)
    rand_e, eff = a["rand_e"], a["rand_effective"]
    shares = np.abs(rand_e) / np.abs(rand_e).sum(axis=1, keepdims=True)
    row_sums = eff.sum(axis=1)
    pool_sums = a["pool_effective"].sum(axis=1)
    return {
        "xavier_std": fixed(facts["xavier_std"], 3),
        "rand_top_share": percent(float(shares.max())),
        "rand_neg_coeffs": int(np.sum(rand_e < 0)),
        "rand_coeffs": rand_e.size,
        "eff_neg_share": percent(float(np.mean(eff < 0))),
        "eff_row_min": fixed(row_sums.min(), 2),
        "eff_row_max": fixed(row_sums.max(), 2),
        "pool_eff_dev": rounding_error(float(np.max(np.abs(pool_sums - 1)))),
        "rand_e_fig": _coefficients(
            "rand_e",
            rand_e,
            projections,
            tokens,
            f"No row is a block: each projected key is a signed blend of all {n} keys.",
            title="A learned-style E: every projected position mixes every token",
            subtitle=f"Random initialisation, entries ~ N(0, {fixed(facts['xavier_std'], 3)}²)",
            y_title="Projected position",
            diverging=True,
            fmt=".2f",
            name="re",
        ),
        "rand_weights_fig": _weights_map(
            "rand_weights",
            a["rand_weights"],
            tokens,
            projections,
            "Rows still sum to 1, but a column is a blend of all tokens, "
            "so a bright cell names no token.",
            title=f"Linformer with a learned-style E, F: {n} × {len(projections)} weights",
            x_title="Projected position (no token behind it)",
            name="rw",
        ),
        "rand_eff_fig": _signed_map(
            "rand_eff",
            eff,
            tokens,
            tokens,
            "out = (weights · F) V: row i gives each token’s value its coefficient "
            "in query i’s output.",
            title="Weights × F: each token’s coefficient in the output",
            subtitle="Not attention weights: negative values, rows do not sum to 1",
            x_title="Value token",
            value_title="coefficient",
            name="eff",
        ),
    }


def context(result: Result) -> dict[str, Any]:
    facts = result.facts
    return {
        **_small_context(result),
        **_large_context(result),
        **_random_context(result),
        "uneven_n": facts["uneven_n"],
        "uneven_p": facts["uneven_p"],
        "uneven_message": facts["uneven_message"],
        "uneven_pad": -(-facts["uneven_n"] // facts["uneven_p"]) * facts["uneven_p"],
    }


SCENARIO = Scenario(
    slug="linformer",
    title="Reading a Linformer attention map",
    question="How to interpret the visualization results? My Linformer’s attention maps "
    "are n × k, not n × n: what do the k columns mean?",
    summary="You will read a Linformer map as attention over blocks of tokens, "
    "see where it departs from full attention, and why a learned projection "
    "leaves nothing to read.",
    order=60,
    params={
        "small_tokens": ["a", "b", "c", "d"],
        "small_p": 2,
        "small_width": 3,
        "tokens": [
            "The",
            "animal",
            "didn’t",
            "cross",
            "the",
            "street",
            "because",
            "it",
            "was",
            "too",
            "tired",
            ",",
            "so",
            "it",
            "slept",
            ".",
        ],
        "p": 4,
        "width": 16,
        "sharpness": 12.0,
        # [query position, [key positions it looks for]]; other tokens look for themselves.
        "links": [
            [2, [3]],
            [3, [5]],
            [5, [3]],
            [7, [1]],
            [8, [10]],
            [9, [10]],
            [10, [1]],
            [13, [1]],
            [14, [1]],
        ],
        "focus": 7,
        "uneven": [10, 4],
    },
    seed=60,
    compute=compute,
    context=context,
    main_figure="lin",
    main_map="lin_weights",
    main_map_labels=("tokens", "blocks"),
)
