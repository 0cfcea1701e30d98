"""Efficient attention: kernelized and clustered approximations beside exact softmax, and costs.

The accuracy half runs every mechanism on one seeded (N, d) problem. The cost half counts
floating-point operations and memory from the shapes (exact and deterministic) and, while
the site builds, measures time and peak memory of each mechanism on the build machine
(about 1 s: interleaved repeats, medians and their spread). Measurements vary from run
to run, so the page is machine-dependent: the build caches it per machine and two builds
there give the same bytes. The environment variable ``ATLAS_MEASURE=0`` (read at import
time) leaves the measurements out, for a page that is the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from attention_atlas.attention import (
    clustered_attention,
    linear_attention,
    performer_attention,
    scaled_dot_product_attention,
)
from attention_atlas.charts import Figure, line_chart
from attention_atlas.scenarios._costs import (
    AGREEMENT,
    BIG_O,
    FORMULAS,
    METHOD_NAMES,
    METHODS,
    MIN_POINTS,
    SAMPLE_SECONDS,
    STABLE_SECONDS,
    STABLE_SPREAD,
    CostConfig,
    Measurement,
    fit_growth,
    flops,
    loglog_slope,
    measure,
    measure_requested,
    memory,
    one_blas_thread,
    stable,
)
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import (
    bytes_text,
    fixed,
    metric,
    percent,
    plain_significant,
    rounding_error,
    significant,
    word_list,
)

# --------------------------------------------------------------------------- problem


def topic_problem(
    sizes: Sequence[int],
    width: int,
    *,
    topic_scale: float,
    noise: float,
    value_noise: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A sequence made of topic segments: tokens attend mostly within their segment.

    Parameters
    ----------
    sizes : sequence of int, length G
        Length of each segment; N = sum(sizes).
    width : int
        d, the query/key/value width.
    topic_scale, noise, value_noise : float
        Query and key i are ``topic_scale * t_g + noise * z`` with ``t_g`` the unit topic
        vector of its segment g; value i is ``u_g + value_noise * z``.
    seed : int

    Returns
    -------
    q, k, v : ndarray, shape (N, d)
    topic : ndarray of int, shape (N,)
        Segment of each position.
    """
    rng = np.random.default_rng(seed)
    groups = len(sizes)
    topic = np.repeat(np.arange(groups), sizes)
    n = int(topic.size)
    t = rng.normal(0.0, 1.0, (groups, width))
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    q = topic_scale * t[topic] + noise * rng.normal(0.0, 1.0, (n, width))
    k = topic_scale * t[topic] + noise * rng.normal(0.0, 1.0, (n, width))
    u = rng.normal(0.0, 1.0, (groups, width))
    v = u[topic] + value_noise * rng.normal(0.0, 1.0, (n, width))
    return q, k, v, topic


@dataclass(frozen=True)
class Errors:
    """How far an approximation is from exact attention."""

    max_abs: float  # largest |weight error| over the (N, M) map
    mean_abs: float  # mean |weight error|
    out_rel: float  # |out - out_exact|_F / |out_exact|_F


def errors(weights: np.ndarray, out: np.ndarray, ref_w: np.ndarray, ref_out: np.ndarray) -> Errors:
    """Errors of an implied map (N, M) and output (N, d_v) against the exact ones."""
    diff = np.abs(weights - ref_w)
    return Errors(
        max_abs=float(diff.max()),
        mean_abs=float(diff.mean()),
        out_rel=float(np.linalg.norm(out - ref_out) / np.linalg.norm(ref_out)),
    )


def _cost_problem(
    n: int, width: int, p: Any, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The page's kind of problem at length ``n`` and width ``width``, for the measurements.

    As many equal topic segments as the page has, with the topic scale raised so an
    in-topic score ``topic_scale^2 / sqrt(d)`` matches the page's at its own width.
    """
    groups = len(p["segments"])
    sizes = [n // groups + (1 if g < n % groups else 0) for g in range(groups)]
    scale = float(p["topic_scale"]) * (width / int(p["width"])) ** 0.25
    q, k, v, _ = topic_problem(
        sizes,
        width,
        topic_scale=scale,
        noise=float(p["noise"]),
        value_noise=float(p["value_noise"]),
        seed=seed + n,
    )
    return q, k, v


# --------------------------------------------------------------------------- compute


def _clustered_pair(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, c: int, seed: int
) -> tuple[np.ndarray | None, np.ndarray]:
    res = clustered_attention(q, k, v, c, seed=seed, return_weights=True)
    return res.weights, res.out


def _sweep(
    values: np.ndarray,
    seeds: list[int],
    run: Callable[[int, int], tuple[np.ndarray | None, np.ndarray]],
    ref_w: np.ndarray,
    ref_out: np.ndarray,
) -> np.ndarray:
    """Errors of ``run(value, seed) -> (weights, out)``: (values, seeds, 2) mean_abs, out_rel."""
    err = np.zeros((len(values), len(seeds), 2))
    for i, value in enumerate(values):
        for j, seed in enumerate(seeds):
            w, out = run(int(value), seed)
            if w is None:
                msg = "the attention core returned no weights although they were requested"
                raise RuntimeError(msg)
            e = errors(w, out, ref_w, ref_out)
            err[i, j] = e.mean_abs, e.out_rel
    return err


def compute(scenario: Scenario) -> Result:
    """Exact, kernelized and clustered attention on one problem, error sweeps and costs.

    Arrays (N positions, d width, R feature counts, K cluster counts, L lengths):
    ``q``, ``k``, ``v`` (N, d); ``topic`` (N,); ``exact_w``, ``performer_w``, ``linear_w``,
    ``clustered_w`` (N, N); ``exact_out``, ``performer_out``, ``linear_out``,
    ``clustered_out`` (N, d); ``cluster_labels`` (N,); ``features`` (R,);
    ``feature_mean_abs``, ``feature_out_rel`` (R,) (seed-averaged); ``clusters`` (K,);
    ``cluster_mean_abs``, ``cluster_out_rel`` (K,); ``lengths`` (L,); ``flops``,
    ``memory`` (4, L) in ``METHODS`` order; with ``measure``: ``seconds``, ``peak_bytes``
    (4, L).
    """
    p = scenario.params
    q, k, v, topic = topic_problem(
        p["segments"],
        int(p["width"]),
        topic_scale=float(p["topic_scale"]),
        noise=float(p["noise"]),
        value_noise=float(p["value_noise"]),
        seed=scenario.seed,
    )
    n = len(topic)
    exact_out, exact_w = scaled_dot_product_attention(q, k, v)
    perf_out, perf_w = performer_attention(
        q, k, v, int(p["features"]), seed=scenario.seed, return_weights=True
    )
    lin_out, lin_w = linear_attention(q, k, v, return_weights=True)
    clus = clustered_attention(q, k, v, int(p["clusters"]), seed=scenario.seed, return_weights=True)
    exact_clus = clustered_attention(q, k, v, n, seed=scenario.seed, return_weights=True)
    if perf_w is None or lin_w is None or clus.weights is None or exact_clus.weights is None:
        msg = "the attention core returned no weights although they were requested"
        raise RuntimeError(msg)

    seeds = [scenario.seed * 1000 + s for s in range(int(p["sweep_seeds"]))]
    features = np.asarray(p["feature_sweep"], dtype=np.int64)
    clusters = np.asarray(p["cluster_sweep"], dtype=np.int64)
    # Hundreds of tiny products: waking a second BLAS thread costs more than it saves.
    with one_blas_thread():
        feat_err = _sweep(
            features,
            seeds,
            lambda r, s: performer_attention(q, k, v, r, seed=s, return_weights=True)[::-1],
            exact_w,
            exact_out,
        )
        clus_err = _sweep(
            clusters,
            seeds,
            lambda c, s: _clustered_pair(q, k, v, c, s),
            exact_w,
            exact_out,
        )

    cost = p["cost"]
    cfg = CostConfig(
        width=int(cost["width"]),
        features=int(cost["features"]),
        clusters=int(cost["clusters"]),
        projected=int(cost["projected"]),
        iterations=int(cost["iterations"]),
    )
    lengths = np.asarray(cost["lengths"], dtype=np.int64)
    arrays: dict[str, np.ndarray] = {
        "q": q,
        "k": k,
        "v": v,
        "topic": topic,
        "exact_w": exact_w,
        "exact_out": exact_out,
        "performer_w": perf_w,
        "performer_out": perf_out,
        "linear_w": lin_w,
        "linear_out": lin_out,
        "clustered_w": clus.weights,
        "clustered_out": clus.out,
        "cluster_labels": clus.labels,
        "exact_clustered_w": exact_clus.weights,
        "features": features,
        "feature_mean_abs": feat_err[..., 0].mean(axis=1),
        "feature_out_rel": feat_err[..., 1].mean(axis=1),
        "clusters": clusters,
        "cluster_mean_abs": clus_err[..., 0].mean(axis=1),
        "cluster_out_rel": clus_err[..., 1].mean(axis=1),
        "lengths": lengths,
        "flops": np.stack([flops(m, lengths, cfg) for m in METHODS]),
        "memory": np.stack([memory(m, lengths, cfg) for m in METHODS]),
    }
    facts: dict[str, Any] = {
        "features": int(p["features"]),
        "clusters": int(p["clusters"]),
        "sweep_seeds": len(seeds),
        "cost": cfg,
        "measured": None,
    }
    if p.get("measure"):
        measured = measure(
            lengths.tolist(),
            cfg,
            seed=scenario.seed,
            inputs=lambda length: _cost_problem(length, cfg.width, p, scenario.seed),
        )
        arrays["seconds"] = measured.seconds
        arrays["peak_bytes"] = measured.peak_bytes
        facts["measured"] = measured
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    starts = np.searchsorted(topic, topic)  # first position of each token's segment
    place = np.arange(len(topic)) - starts + 1  # 1-based place inside the segment
    return Result(
        arrays=arrays,
        labels={"positions": tuple(f"{letters[t]}{k}" for t, k in zip(topic, place, strict=True))},
        facts=facts,
    )


# --------------------------------------------------------------------------- context


#: Cell side (pixels) of the 64 × 64 maps drawn in pairs, so that a pair fits side by side.
MAP_CELL = 3


def _map_figures(result: Result) -> dict[str, Any]:
    a, labels = result.arrays, result.labels
    pos = list(labels["positions"])
    exact = a["exact_w"]
    approx = {
        "performer": a["performer_w"],
        "linear": a["linear_w"],
        "clustered": a["clustered_w"],
    }
    top = float(max(exact.max(), *(m.max() for m in approx.values())))
    domain = (0.0, float(significant(top)))
    reach = float(max(np.abs(m - exact).max() for m in approx.values()))
    diff_domain = (-float(significant(reach)), float(significant(reach)))
    r, c = result.facts["features"], result.facts["clusters"]
    titles = {
        "performer": f"Performer FAVOR+, r = {r} random features",
        "linear": "Linear attention, φ(x) = elu(x) + 1",
        "clustered": f"Clustered attention, C = {c} query clusters",
    }
    captions = {
        "performer": "The implied map φ(q)·φ(k) with rows normalised: a noisy copy "
        "of the exact map.",
        "linear": "A different kernel, not an estimate of softmax: the blocks are there "
        "but washed out.",
        "clustered": "Queries in one cluster share their centroid’s row, so the map is "
        "made of repeated rows.",
    }
    figs: dict[str, Any] = {
        "exact_fig": _position_map(
            "exact",
            exact,
            pos,
            pos,
            "softmax(QKᵀ/√d): the blocks on the diagonal are the topic segments.",
            title=f"Exact softmax attention ({len(pos)} × {len(pos)})",
            subtitle="Labels: topic letter and place in the segment (C3 = third token of C)",
            domain=domain,
            name="exact",
        )
    }
    for key, m in approx.items():
        figs[f"{key}_fig"] = _position_map(
            key,
            m,
            pos,
            pos,
            captions[key],
            title=titles[key],
            subtitle="Same colour scale as the exact map",
            domain=domain,
            cell_size=MAP_CELL,
            name=f"{key[:4]}",
        )
        figs[f"{key}_diff_fig"] = _position_map(
            f"{key}_diff",
            m - exact,
            pos,
            pos,
            "Orange: the approximation gives the pair more weight than softmax; blue: less.",
            title=f"{titles[key].split(',')[0]} − exact",
            subtitle="Same colour scale for all three difference maps",
            value_title="difference",
            domain=diff_domain,
            diverging=True,
            cell_size=MAP_CELL,
            name=f"{key[:4]}d",
        )
    return figs


#: An (N, N) map over positions with exact values in the hover.
_position_map = partial(
    heatmap_figure, x_title="Key position", y_title="Query position", quantize=False
)


def _log_lines(
    figure: str,
    records: list[dict[str, Any]],
    caption: str,
    *,
    x: str,
    y: str,
    color: str,
    **titles: str,
) -> Figure:
    """Lines of ``y`` against ``x``, one per ``color``, on log-log axes (``titles``: title,
    x_title, y_title)."""
    chart = line_chart(records, x=x, y=y, color=color, log_x=True, log_y=True, **titles)
    return Figure(chart, caption=caption, name=figure)


#: Two errors (and a reference line) against the size of an approximation.
_error_sweep = partial(_log_lines, y="error", color="measure", y_title="error (log scale)")

#: A measure per method against the sequence length.
_by_length = partial(
    _log_lines, x="N", y="value", color="method", x_title="sequence length N (log scale)"
)


def _method_records(
    values: np.ndarray, lengths: Sequence[int] | np.ndarray, unit: Callable[[float], float]
) -> list[dict[str, Any]]:
    """One ``{N, value, method}`` record per method and length of a (methods, lengths)
    array, each value converted by ``unit``."""
    return [
        {"N": int(nv), "value": unit(float(values[i, j])), "method": METHOD_NAMES[m]}
        for i, m in enumerate(METHODS)
        for j, nv in enumerate(lengths)
    ]


def _sweep_records(x: str, xs: np.ndarray, series: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """One ``{x, error, measure}`` record per point of each labelled series."""
    return [
        {x: int(v), "error": float(y), "measure": label}
        for label, ys in series.items()
        for v, y in zip(xs, ys, strict=True)
    ]


def _error_context(result: Result) -> dict[str, Any]:
    a, facts = result.arrays, result.facts
    ref_w, ref_out = a["exact_w"], a["exact_out"]
    rows = []
    for key, name in (
        ("performer", f"Performer FAVOR+ (r = {facts['features']})"),
        ("linear", "Linear, elu + 1"),
        ("clustered", f"Clustered (C = {facts['clusters']})"),
    ):
        e = errors(a[f"{key}_w"], a[f"{key}_out"], ref_w, ref_out)
        rows.append(
            {
                "name": name,
                "max_abs": fixed(e.max_abs, 4),
                "mean_abs": fixed(e.mean_abs, 5),
                "out_rel": percent(e.out_rel, 1),
            }
        )
    n = ref_w.shape[0]
    features, clusters = a["features"], a["clusters"]
    feat_mean, feat_out = a["feature_mean_abs"], a["feature_out_rel"]
    clus_mean, clus_out = a["cluster_mean_abs"], a["cluster_out_rel"]
    lin = errors(a["linear_w"], a["linear_out"], ref_w, ref_out)
    beats_linear = features[feat_out < lin.out_rel]
    feature_records = _sweep_records(
        "r",
        features,
        {
            "Performer: mean |weight error|": feat_mean,
            "Performer: relative output error": feat_out,
        },
    ) + [
        {"r": int(r), "error": lin.out_rel, "measure": "elu + 1: relative output error (no r)"}
        for r in features
    ]
    cluster_records = _sweep_records(
        "C",
        clusters,
        {
            "Clustered: mean |weight error|": clus_mean,
            "Clustered: relative output error": clus_out,
        },
    )
    labels, topic = a["cluster_labels"], a["topic"]
    clusters_used = np.unique(labels)
    pure = sum(len(np.unique(topic[labels == c])) == 1 for c in clusters_used)
    segments = int(topic.max()) + 1
    at_segments = int(np.searchsorted(clusters, segments))
    return {
        "error_rows": rows,
        "cluster_sizes": ", ".join(str(int(np.sum(labels == c))) for c in clusters_used),
        "pure_clusters": (
            f"all {pure}" if pure == len(clusters_used) else f"{pure} of the {len(clusters_used)}"
        ),
        "uniform_weight": fixed(1 / n, 4),
        "sweep_seeds": facts["sweep_seeds"],
        "feature_first": int(features[0]),
        "feature_last": int(features[-1]),
        "feature_out_first": percent(feat_out[0], 1),
        "feature_out_last": percent(feat_out[-1], 1),
        "feature_slope": fixed(loglog_slope(features, feat_out), 2),
        "feature_beats_linear": int(beats_linear[0]) if beats_linear.size else "none",
        "linear_out_rel": percent(lin.out_rel, 1),
        "cluster_first": int(clusters[0]),
        "cluster_last": int(clusters[-1]),
        "cluster_out_first": percent(clus_out[0], 1),
        "cluster_out_last": percent(clus_out[-1], 1),
        "segments": segments,
        "cluster_out_at_segments": percent(clus_out[min(at_segments, len(clusters) - 1)], 1),
        "exact_clustered_dev": rounding_error(float(np.abs(a["exact_clustered_w"] - ref_w).max())),
        "features_fig": _error_sweep(
            "features",
            feature_records,
            "Each point averages the same fixed seeds; the flat line is elu + 1 "
            "linear attention, which has no r.",
            x="r",
            title="Performer error vs number of random features",
            x_title="random features r (log scale)",
        ),
        "clusters_fig": _error_sweep(
            "clusters",
            cluster_records,
            f"Averaged over k-means seeds; the drop near C = {segments} is where "
            "every topic gets its own cluster.",
            x="C",
            title="Clustered attention error vs number of clusters",
            x_title="query clusters C (log scale)",
        ),
    }


def _cost_context(result: Result) -> dict[str, Any]:
    a, facts = result.arrays, result.facts
    cfg: CostConfig = facts["cost"]
    lengths = a["lengths"]
    fl, mem = a["flops"], a["memory"]
    last = len(lengths) - 1
    rows = []
    for i, m in enumerate(METHODS):
        rows.append(
            {
                "name": METHOD_NAMES[m],
                "big_o": BIG_O[m],
                "flops_formula": FORMULAS[m][0],
                "memory_formula": FORMULAS[m][1],
                "flops_exp": fixed(loglog_slope(lengths, fl[i]), 2),
                "memory_exp": fixed(loglog_slope(lengths, mem[i]), 2),
                "flops_last": metric(fl[i, last]),
                "memory_last": bytes_text(mem[i, last]),
                "ratio_last": significant(fl[0, last] / fl[i, last]) + "×",
            }
        )
    table = [
        {
            "n": int(nv),
            "cells": [f"{metric(fl[i, j])} / {bytes_text(mem[i, j])}" for i in range(len(METHODS))],
        }
        for j, nv in enumerate(lengths)
    ]
    flop_records = _method_records(fl, lengths, lambda v: v / 1e6)
    mem_records = _method_records(mem, lengths, lambda v: v / 2**20)
    # Shortest length (1..max) from which each method needs fewer operations than full.
    grid = np.arange(1, int(lengths[-1]) + 1)
    full_grid = flops("full", grid, cfg)
    crossover = {}
    for m in METHODS[1:]:
        cheaper = np.flatnonzero(flops(m, grid, cfg) < full_grid)
        crossover[m] = int(grid[cheaper[0]]) if cheaper.size else None
    return {
        "cost_d": cfg.width,
        "cost_r": cfg.features,
        "cost_c": cfg.clusters,
        "cost_p": cfg.projected,
        "cost_iterations": cfg.iterations,
        "itemsize": cfg.itemsize,
        "lengths": [int(x) for x in lengths],
        "n_last": int(lengths[last]),
        "method_names": [METHOD_NAMES[m] for m in METHODS],
        "cost_rows": rows,
        "cost_table": table,
        "full_memory_last": bytes_text(mem[0, last]),
        "crossover_text": word_list(
            [
                f"N = {'never' if c is None else c} for {METHOD_NAMES[m]}"
                for m, c in crossover.items()
            ]
        ),
        "flops_fig": _by_length(
            "flops",
            flop_records,
            "Counted from the shapes: on log-log axes the slope is the growth "
            "exponent, 2 for full attention and 1 for the others (Linformer hides under "
            "kernelized: with P = r they cost almost the same).",
            title="Operations per head vs sequence length (cost model)",
            y_title="million operations (log scale)",
        ),
        "memory_fig": _by_length(
            "memory",
            mem_records,
            "Bytes of the arrays each method allocates, output included; "
            "full attention’s is the N × N weights.",
            title="Memory per head vs sequence length (cost model)",
            y_title="MiB, float32 (log scale)",
        ),
    }


#: What the page says about each verdict of :func:`fit_growth`.
VERDICT_TEXT = {
    "agrees": "agrees with the count",
    "noise": "disagrees with the count: noise on this machine, not a finding",
    "unstable": "not fitted: too few steady timings",
}


def _growth_rows(measured: Measurement, counted: np.ndarray) -> list[dict[str, Any]]:
    """One row per method: the fitted exponent, the count's, where and the verdict."""
    rows = []
    for i, m in enumerate(METHODS):
        g = fit_growth(measured.lengths, measured.samples[i], counted[i])
        rows.append(
            {
                "name": METHOD_NAMES[m],
                "verdict": g.verdict,
                "verdict_text": VERDICT_TEXT[g.verdict],
                "time": "—" if g.exponent is None else fixed(g.exponent, 2),
                "model": fixed(g.counted, 2),
                "over": ("—" if g.exponent is None else f"N = {g.lengths[0]}–{g.lengths[-1]}"),
            }
        )
    return rows


def _with_spread(lines: Any, spans: list[dict[str, Any]]) -> Any:
    """``lines`` with a vertical bar from ``low`` to ``high`` at each ``{N, method}``:
    the spread of the repeated measurements behind each point (same log axes)."""
    import altair as alt

    bars = (
        alt.Chart(alt.Data(values=spans))
        .mark_rule(strokeWidth=2)
        .encode(
            x=alt.X("N:Q", scale=alt.Scale(type="log", nice=False, padding=12)),
            y=alt.Y("low:Q", scale=alt.Scale(type="log", nice=False, padding=12)),
            y2="high:Q",
            color=alt.Color("method:N"),
            tooltip=[
                alt.Tooltip("method:N"),
                alt.Tooltip("N:Q"),
                alt.Tooltip("low:Q", title="25th percentile (ms)", format=".3g"),
                alt.Tooltip("high:Q", title="75th percentile (ms)", format=".3g"),
            ],
        )
    )
    spec = lines.to_dict()
    inner = lines.copy()  # a layer's children carry no title, size or metadata
    inner.title = inner.width = inner.height = inner.usermeta = alt.Undefined
    return alt.layer(inner, bars).properties(
        title=spec["title"], width=spec["width"], height=spec["height"], usermeta=spec["usermeta"]
    )


def _measured_context(result: Result) -> dict[str, Any]:
    measured: Measurement | None = result.facts["measured"]
    if measured is None:
        return {"measured": None}
    lengths = np.asarray(measured.lengths)
    timing, peak, err = measured.timing, measured.peak_bytes, measured.errors
    sec = timing.median
    steady = stable(timing)
    growth = _growth_rows(measured, result.arrays["flops"])
    time_records = _method_records(sec, lengths, lambda v: v * 1e3)
    peak_records = _method_records(peak, lengths, lambda v: v / 2**20)

    def cell(i: int, j: int) -> str:
        text = (
            f"{significant(sec[i, j] * 1e3)} ms "
            f"({plain_significant(timing.low[i, j] * 1e3)}–"
            f"{plain_significant(timing.high[i, j] * 1e3)})"
        )
        text += "" if steady[i, j] else " ⚠"
        text += f" / {bytes_text(peak[i, j])}"
        return text + ("" if i == 0 else f" / {percent(err[i, j], 1)}")

    by_verdict = {
        v: [r["name"] for r in growth if r["verdict"] == v] for v in ("agrees", "noise", "unstable")
    }
    return {
        "measured": {
            "machine": measured.machine,
            "total": fixed(measured.total_seconds, 2) + " s",
            "repeats": int(measured.samples.shape[-1]),
            "stable_ms": significant(STABLE_SECONDS * 1e3),
            "sample_ms": significant(SAMPLE_SECONDS * 1e3),
            "stable_spread": percent(STABLE_SPREAD),
            "agreement": fixed(AGREEMENT, 1),
            "min_points": MIN_POINTS,
            "unsteady": int(np.count_nonzero(~steady)),
            "cells": int(steady.size),
            "table": [
                {"n": int(nv), "cells": [cell(i, j) for i in range(len(METHODS))]}
                for j, nv in enumerate(lengths)
            ],
            "growth": growth,
            "agrees": word_list(by_verdict["agrees"]),
            "noise": word_list(by_verdict["noise"]),
            "unstable": word_list(by_verdict["unstable"]),
            "exponents": [
                {
                    "name": METHOD_NAMES[m],
                    "memory": fixed(loglog_slope(lengths, peak[i]), 2),
                    "speedup": significant(sec[0, -1] / sec[i, -1]) + "×",
                    "steady": bool(steady[0, -1] and steady[i, -1]),
                    "error": "exact" if i == 0 else percent(err[i, -1], 1),
                }
                for i, m in enumerate(METHODS)
            ],
            "time_fig": Figure(
                _with_spread(
                    line_chart(
                        time_records,
                        x="N",
                        y="value",
                        color="method",
                        log_x=True,
                        log_y=True,
                        title="Measured on the build machine: time per head",
                        x_title="sequence length N (log scale)",
                        y_title="milliseconds, median CPU time (log scale)",
                    ),
                    [
                        {
                            "N": int(nv),
                            "method": METHOD_NAMES[m],
                            "low": float(timing.low[i, j] * 1e3),
                            "high": float(timing.high[i, j] * 1e3),
                        }
                        for i, m in enumerate(METHODS)
                        for j, nv in enumerate(lengths)
                    ],
                ),
                caption=f"Median CPU time of {measured.samples.shape[-1]} interleaved runs "
                f"on float32 inputs ({measured.machine.rsplit(', ', 1)[-1]}); the bars span "
                "the interquartile range.",
                name="time",
            ),
            "peak_fig": _by_length(
                "peak",
                peak_records,
                "Peak of the memory NumPy allocated during one call, inputs excluded.",
                title="Measured on the build machine: peak memory per head",
                y_title="MiB, tracemalloc peak (log scale)",
            ),
        }
    }


def context(result: Result) -> dict[str, Any]:
    a, facts = result.arrays, result.facts
    n, d = a["q"].shape
    return {
        "n": n,
        "d": d,
        "segments_count": int(a["topic"].max()) + 1,
        "segment_sizes": [int(x) for x in np.bincount(a["topic"])],
        "in_topic_weight": fixed(
            float(np.mean(np.sum(a["exact_w"] * (a["topic"][:, None] == a["topic"]), axis=1))), 2
        ),
        "uniform_in_topic": fixed(float(np.sum(np.bincount(a["topic"]) ** 2) / n**2), 2),
        "r": facts["features"],
        "c": facts["clusters"],
        **_map_figures(result),
        **_error_context(result),
        **_cost_context(result),
        **_measured_context(result),
    }


MEASURED = measure_requested()

SCENARIO = Scenario(
    slug="efficient-attention",
    title="Efficient attention: what the approximations cost and what they get wrong",
    question="Self-attention is O(n^2 * d), prohibitive for very long sequences. Kernelized "
    "and clustered attention approximate it: how close do they get, and what do they save?",
    summary="You will compare kernelized and clustered attention maps with exact softmax "
    "on the same inputs, read their errors, and predict how each cost grows with the "
    "sequence length.",
    order=70,
    params={
        "segments": [12, 9, 14, 8, 11, 10],
        "width": 16,
        "topic_scale": 2.2,
        "noise": 0.3,
        "value_noise": 0.5,
        "features": 128,
        "clusters": 8,
        "feature_sweep": [4, 8, 16, 32, 64, 128, 256, 512, 1024],
        "cluster_sweep": [1, 2, 3, 4, 6, 8, 12, 16, 32],
        "sweep_seeds": 32,
        "cost": {
            "lengths": [256, 512, 1024, 2048, 4096],
            "width": 64,
            "features": 128,
            "clusters": 32,
            "projected": 128,
            "iterations": 10,
        },
        "measure": MEASURED,
    },
    seed=70,
    machine_dependent=MEASURED,
    compute=compute,
    context=context,
    main_figure="exact",
    main_map="exact_w",
    main_map_labels=("positions", "positions"),
)
