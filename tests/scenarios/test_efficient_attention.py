"""The efficient-attention page: approximation errors, the cost model and the measured mode."""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import os
import re
from typing import Any

import numpy as np
import pytest

from attention_atlas.build import render_scenario
from attention_atlas.charts import Figure
from attention_atlas.scenarios import _costs
from attention_atlas.scenarios._costs import (
    METHODS,
    CostConfig,
    flops,
    loglog_slope,
    measure,
    memory,
)
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.efficient_attention import SCENARIO, _cost_problem, compute, context

#: The page without measurements (``ATLAS_MEASURE=0``): the same bytes on every run.
COUNTS_ONLY = dataclasses.replace(
    SCENARIO, params={**SCENARIO.params, "measure": False}, machine_dependent=False
)


@functools.cache
def _counts_only() -> Result:
    """``compute(COUNTS_ONLY)``, once for the module; read, never changed."""
    return compute(COUNTS_ONLY)


def _page_of(scenario: Any, result: Result) -> str:
    """``render_scenario(scenario)`` around a result already computed for it."""
    return render_scenario(dataclasses.replace(scenario, compute=lambda _: result))


@pytest.fixture(scope="module")
def result() -> Result:
    return _counts_only()


@pytest.fixture(scope="module")
def ctx(result: Result) -> dict[str, Any]:
    return context(result)


@pytest.fixture(scope="module")
def rendered(result: Result) -> str:
    """The counts-only page (the determinism test below computes and renders it again)."""
    return _page_of(COUNTS_ONLY, result)


CFG = CostConfig(width=64, features=128, clusters=32, projected=128, iterations=10)


def test_every_implied_map_is_a_weight_map(result: Result) -> None:
    a = result.arrays
    for key in ("exact_w", "performer_w", "linear_w", "clustered_w"):
        w = a[key]
        assert w.shape == (64, 64), key
        assert w.min() >= 0, key
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9, err_msg=key)


def test_clustered_map_repeats_its_centroid_rows(result: Result) -> None:
    a = result.arrays
    labels, w = a["cluster_labels"], a["clustered_w"]
    assert len(np.unique(w.round(12), axis=0)) == len(np.unique(labels))
    for c in np.unique(labels):
        rows = w[labels == c]
        np.testing.assert_allclose(rows, np.broadcast_to(rows[0], rows.shape))


def test_one_cluster_per_query_is_exact(result: Result) -> None:
    a = result.arrays
    np.testing.assert_allclose(a["exact_clustered_w"], a["exact_w"], atol=1e-12)


def test_an_exact_difference_is_written_0_like_every_rounding_error(
    result: Result, ctx: dict[str, Any]
) -> None:
    gap = float(np.abs(result.arrays["exact_clustered_w"] - result.arrays["exact_w"]).max())
    assert ctx["exact_clustered_dev"] == ("0" if gap == 0 else f"{gap:.0e}")
    assert "e+00" not in ctx["exact_clustered_dev"]


def test_errors_shrink_with_more_features_and_clusters(result: Result) -> None:
    a = result.arrays
    for key in ("feature_mean_abs", "feature_out_rel", "cluster_mean_abs", "cluster_out_rel"):
        series = a[key]
        assert np.all(np.diff(series) < 0), f"{key} does not fall monotonically: {series}"
    assert a["feature_out_rel"][-1] < a["feature_out_rel"][0] / 3
    assert a["cluster_out_rel"][-1] < a["cluster_out_rel"][0] / 3


def test_segments_structure_the_exact_map(result: Result) -> None:
    a = result.arrays
    same = a["topic"][:, None] == a["topic"][None, :]
    inside = np.sum(a["exact_w"] * same, axis=1).mean()
    uniform = same.mean(axis=1).mean()
    assert inside > 2 * uniform


def test_cost_model_counts_match_the_formulas() -> None:
    n = np.array([256.0, 1024.0])
    d, r, c, p, it = 64, 128, 32, 128, 10
    np.testing.assert_allclose(flops("full", n, CFG), 4 * n**2 * d + 5 * n**2)
    np.testing.assert_allclose(flops("linformer", n, CFG), 8 * n * p * d + 5 * n * p)
    np.testing.assert_allclose(flops("kernelized", n, CFG), 8 * n * r * d + 8 * n * r)
    np.testing.assert_allclose(flops("clustered", n, CFG), (4 * it + 6) * n * c * d + 5 * n * c)
    np.testing.assert_allclose(memory("full", n, CFG), 4 * (n**2 + n * d))
    np.testing.assert_allclose(memory("linformer", n, CFG), 4 * (n * p + 2 * p * d + n * d))
    np.testing.assert_allclose(memory("kernelized", n, CFG), 4 * (2 * n * r + 2 * n * d + r * d))
    np.testing.assert_allclose(memory("clustered", n, CFG), 4 * (2 * n * c + c * d + n * d))
    with pytest.raises(ValueError, match="unknown method"):
        flops("sparse", n, CFG)


def test_cost_exponents() -> None:
    n = np.array([256, 512, 1024, 2048, 4096])
    assert loglog_slope(n, flops("full", n, CFG)) == pytest.approx(2.0)
    for method in METHODS[1:]:
        assert loglog_slope(n, flops(method, n, CFG)) == pytest.approx(1.0)
    assert loglog_slope([1, 10, 100], [3, 300, 30000]) == pytest.approx(2.0)


def test_measured_peak_memory_of_full_attention_matches_the_model() -> None:
    """Memory, not time: tracemalloc's peak is a property of the allocations."""
    cfg = dataclasses.replace(CFG, clusters=8)
    measured = measure([256, 512], cfg, repeats=2)
    assert measured.seconds.shape == measured.peak_bytes.shape == (len(METHODS), 2)
    assert measured.samples.shape == (len(METHODS), 2, 2)
    assert measured.errors.shape == (len(METHODS), 2)
    assert np.all(measured.seconds > 0)
    model = memory("full", np.array([256, 512]), cfg)
    np.testing.assert_allclose(measured.peak_bytes[0], model, rtol=0.15)


def test_measured_errors_are_against_full_attention() -> None:
    """Full attention is the reference (error 0); on the page's problem none errs wildly."""
    params = SCENARIO.params
    measured = measure(
        [256],
        CFG,
        repeats=1,
        inputs=lambda n: _cost_problem(n, CFG.width, params, SCENARIO.seed),
    )
    errors = dict(zip(METHODS, measured.errors[:, 0], strict=True))
    assert errors["full"] == 0.0
    for method in METHODS[1:]:
        assert 1e-4 < errors[method] < 0.5, (method, errors[method])
    # Without structure (the default random inputs) the approximations do much worse.
    random = measure([256], CFG, repeats=1)
    assert random.errors[1:, 0].min() > max(list(errors.values())[1:])


def test_measuring_is_the_default_and_zero_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATLAS_MEASURE", raising=False)
    assert _costs.measure_requested() is True
    monkeypatch.setenv("ATLAS_MEASURE", "0")
    assert _costs.measure_requested() is False
    monkeypatch.setenv("ATLAS_MEASURE", "1")
    assert _costs.measure_requested() is True


def test_a_measuring_page_is_cached_per_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from attention_atlas import build

    measuring = dataclasses.replace(SCENARIO, machine_dependent=True)
    measuring_here = build.cache_key(measuring, "src")
    counts_here = build.cache_key(COUNTS_ONLY, "src")
    monkeypatch.setattr(build, "machine_identity", lambda: "another-host x86_64 64")
    assert build.cache_key(measuring, "src") != measuring_here
    assert build.cache_key(COUNTS_ONLY, "src") == counts_here


def test_counts_only_page_says_how_to_measure(rendered: str) -> None:
    assert "Measured on the build machine" not in rendered
    assert "ATLAS_MEASURE=0" in rendered
    assert "benchmarks/efficient.py" in rendered


def test_page_shows_the_computed_numbers(ctx: dict[str, Any], rendered: str) -> None:
    for row in ctx["error_rows"]:
        for key in ("max_abs", "mean_abs", "out_rel"):
            assert row[key] in rendered, (row["name"], key)
    for row in ctx["cost_rows"]:
        assert f"| {row['name']} | {row['flops_exp']} | {row['memory_exp']} |" in rendered
    for text in (
        ctx["feature_out_first"],
        ctx["feature_out_last"],
        ctx["feature_slope"],
        ctx["cluster_out_at_segments"],
        ctx["crossover_text"].split(" for ")[0],
        "4.38 G",
    ):
        assert text in rendered, text


def test_context_has_every_figure(ctx: dict[str, Any]) -> None:
    figures = [key for key in ctx if key.endswith("_fig")]
    assert len(figures) == 11
    for key in figures:
        assert isinstance(ctx[key], Figure), key
        assert ctx[key].name == key.removesuffix("_fig")
        assert ctx[key].to_dict(), key


def test_page_is_deterministic(rendered: str) -> None:
    assert render_scenario(COUNTS_ONLY) == rendered


@pytest.mark.slow
def test_measured_page_says_where_it_was_measured() -> None:
    params = dict(SCENARIO.params)
    params["measure"] = True
    params["cost"] = {**params["cost"], "lengths": [256, 512]}
    measured = dataclasses.replace(SCENARIO, params=params)
    result = compute(measured)
    text = _page_of(measured, result)  # the page of this very measurement
    assert "Measured on the build machine" in text
    assert "Measured timings left out" not in text
    facts = result.facts["measured"]
    assert f"{os.cpu_count()} cores, numpy {np.__version__}" in text  # from facts.machine
    # The error of each approximation at the longest length sits beside its exponent.
    for i in range(1, len(METHODS)):
        assert f"{100 * facts.errors[i, -1]:.1f}%" in text


# --------------------------------------------------------------------------- timing judgement

LENGTHS = np.array([256, 512, 1024, 2048, 4096])


def _samples(seconds: np.ndarray, jitter: float = 0.02, repeats: int = 5) -> np.ndarray:
    """Synthetic repeated timings: each median ``seconds``, spread +-``jitter`` of it."""
    offsets = np.linspace(-jitter, jitter, repeats)
    return np.asarray(seconds, dtype=np.float64)[:, None] * (1 + offsets)


def test_spread_is_the_median_and_interquartile_range() -> None:
    timing = _costs.spread(np.array([[1.0, 2.0, 3.0, 4.0, 100.0]]))
    assert timing.median[0] == 3.0  # the slow outlier does not move it
    assert (timing.low[0], timing.high[0]) == (2.0, 4.0)
    assert timing.relative[0] == pytest.approx(2 / 3)


def test_a_steady_power_law_is_fitted_and_agrees_with_its_count() -> None:
    seconds = 1e-9 * LENGTHS**2.0
    growth = _costs.fit_growth(LENGTHS, _samples(seconds), LENGTHS**2.0)
    assert growth.verdict == "agrees"
    assert growth.exponent == pytest.approx(2.0)
    assert growth.counted == pytest.approx(2.0)
    # 256 and 512 take 66 and 262 microseconds: below the floor, left out of the fit.
    assert growth.lengths == (1024, 2048, 4096)


def test_timings_that_contradict_the_count_are_called_noise() -> None:
    """Quadratic times for a method counted linear: reported, but as noise."""
    growth = _costs.fit_growth(LENGTHS, _samples(1e-8 * LENGTHS**2.0), LENGTHS * 100.0)
    assert growth.verdict == "noise"
    assert growth.exponent == pytest.approx(2.0)
    assert growth.counted == pytest.approx(1.0)


def test_a_slow_short_run_does_not_make_a_finding() -> None:
    """The FAVOR+ case: 64.8 ms at N = 256, then 1.3 ms at 512 (a burst of load)."""
    seconds = np.array([64.8e-3, 1.32e-3, 2.6e-3, 5.3e-3, 10.5e-3])
    samples = _samples(seconds)
    samples[0] = [1.2e-3, 64.8e-3, 70e-3, 1.3e-3, 90e-3]  # the burst: a huge spread
    growth = _costs.fit_growth(LENGTHS, samples, LENGTHS * 10.0)
    assert growth.lengths == (512, 1024, 2048, 4096)
    assert growth.verdict == "agrees"
    # Had every run of N = 256 been slow, the fit would say so rather than report 0.26.
    samples[0] = 64.8e-3
    growth = _costs.fit_growth(LENGTHS, samples, LENGTHS * 10.0)
    assert growth.verdict == "noise"
    assert growth.exponent is not None and growth.exponent < 0.5


def test_a_noisy_point_in_the_middle_cuts_the_fitted_range() -> None:
    samples = _samples(1e-6 * LENGTHS)
    samples[3] *= np.array([1.0, 1.0, 1.0, 3.0, 3.0])  # N = 2048: IQR twice the median
    growth = _costs.fit_growth(LENGTHS, samples, LENGTHS * 1.0, floor=1e-5)
    # The steady run ending at the longest length is 4096 alone: too short to fit, and
    # a fit across the gap would hide the noisy point.
    assert growth.verdict == "unstable"
    assert growth.exponent is None


def test_too_short_or_too_spread_timings_are_not_fitted() -> None:
    short = _costs.fit_growth(LENGTHS, _samples(1e-6 * LENGTHS / 4096), LENGTHS * 1.0)
    assert short.verdict == "unstable" and short.exponent is None
    assert short.counted == pytest.approx(1.0)
    spread_out = _costs.fit_growth(LENGTHS, _samples(1e-3 * LENGTHS, jitter=0.5), LENGTHS * 1.0)
    assert spread_out.verdict == "unstable"


def test_a_coarse_timer_raises_the_floor() -> None:
    samples = _samples(1e-5 * LENGTHS)  # 2.6 ms to 41 ms
    fine = _costs.fit_growth(LENGTHS, samples, LENGTHS * 1.0, resolution=1e-9)
    coarse = _costs.fit_growth(LENGTHS, samples, LENGTHS * 1.0, resolution=1e-5)
    assert fine.lengths == tuple(LENGTHS)
    assert coarse.lengths == (1024, 2048, 4096)  # 1000 ticks = 10 ms


def test_fit_growth_names_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"samples \(L, repeats\)"):
        _costs.fit_growth(LENGTHS, np.ones(5), LENGTHS)
    with pytest.raises(ValueError, match="counted"):
        _costs.fit_growth(LENGTHS, np.ones((5, 3)), LENGTHS[:4])


def test_timing_runs_on_the_blas_threads_its_caption_states() -> None:
    from threadpoolctl import threadpool_info

    with _costs.one_blas_thread() as blas:
        threads = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert threads == {1}
    assert blas.endswith(", 1 BLAS thread")


def test_measure_interleaves_and_repeats_every_method() -> None:
    calls: list[tuple[str, int]] = []
    real = _costs._runners

    def spy(n: int, cfg: CostConfig, seed: int) -> dict[str, Any]:
        runners = real(n, cfg, seed)
        return {
            m: (lambda q, k, v, m=m, f=f: calls.append((m, n)) or f(q, k, v))
            for m, f in runners.items()
        }

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_costs, "_runners", spy)
        mp.setattr(_costs, "SAMPLE_SECONDS", 0.0)  # one call a sample
        measured = measure([128, 256], dataclasses.replace(CFG, clusters=8), repeats=3)
    assert measured.samples.shape == (len(METHODS), 2, 3)
    timed = calls[2 * len(METHODS) :]  # after one traced run of each, not a sample
    assert len(timed) == 3 * 2 * len(METHODS)
    rounds = [timed[r * 8 : (r + 1) * 8] for r in range(3)]
    for r, round_calls in enumerate(rounds):
        assert sorted(round_calls) == sorted((m, n) for m in METHODS for n in (128, 256))
        assert round_calls[0][0] == METHODS[r % len(METHODS)]  # the order rotates
    with pytest.raises(ValueError, match="repeats"):
        measure([128], CFG, repeats=0)


def test_short_calls_are_repeated_within_a_sample() -> None:
    """A sample of a call far shorter than SAMPLE_SECONDS is the mean of several calls."""
    calls: list[str] = []
    real = _costs._runners

    def spy(n: int, cfg: CostConfig, seed: int) -> dict[str, Any]:
        runners = real(n, cfg, seed)
        return {
            m: (lambda q, k, v, m=m, f=f: calls.append(m) or f(q, k, v)) for m, f in runners.items()
        }

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_costs, "_runners", spy)
        mp.setattr(_costs, "SAMPLE_SECONDS", 0.05)
        mp.setattr(_costs, "MAX_LOOPS", 4)
        measure([128], dataclasses.replace(CFG, clusters=8), repeats=2)
    # 128 positions take well under 12 ms: each sample holds MAX_LOOPS calls.
    assert calls.count("full") == 1 + 2 * 4


def _measured_page(seconds: np.ndarray) -> str:
    """The page rendered around a synthetic measurement with these medians."""
    base = _counts_only()
    lengths = tuple(int(n) for n in base.arrays["lengths"])
    samples = np.stack([_samples(row) for row in seconds])
    fake = _costs.Measurement(
        lengths=lengths,
        samples=samples,
        peak_bytes=np.ones(samples.shape[:2]) * 2**20,
        errors=np.zeros(samples.shape[:2]),
        total_seconds=1.0,
        machine="test machine, 1 BLAS thread",
    )
    result = Result(arrays=base.arrays, labels=base.labels, facts={**base.facts, "measured": fake})
    scenario = dataclasses.replace(COUNTS_ONLY, compute=lambda _: result)
    return render_scenario(scenario)


@pytest.mark.slow
def test_the_page_calls_a_contradicting_measurement_noise() -> None:
    n = LENGTHS.astype(np.float64)
    seconds = np.stack([1e-9 * n**2, 1e-6 * n, 1e-6 * n, 1e-6 * n])
    seconds[3] = 1e-9 * n**2  # clustered timed quadratic: contradicts its linear count
    text = _measured_page(seconds)
    assert "| Clustered | 2.00 | 1.00 | N = 1024–4096 | disagrees with the count: noise" in text
    assert "For Clustered the fitted exponent disagrees with the count" in text
    assert "| Full softmax | 2.00 | 2.00 | N = 1024–4096 | agrees with the count |" in text
    assert "median" in text and "interquartile range" in text
    # The time chart draws each spread: a bar from the first to the third quartile.
    specs = [json.loads(html.unescape(m)) for m in re.findall(r"data-spec='([^']*)'", text)]
    (time_spec,) = [s for s in specs if "time per head" in json.dumps(s)]
    bars = time_spec["layer"][1]
    assert bars["mark"]["type"] == "rule" and bars["encoding"]["y2"]["field"] == "high"
    spans = {(b["N"], b["method"]): (b["low"], b["high"]) for b in bars["data"]["values"]}
    assert spans[(4096, "Full softmax")] == pytest.approx(
        (0.99e-9 * 4096**2 * 1e3, 1.01e-9 * 4096**2 * 1e3), rel=1e-3
    )
    assert "1 BLAS thread" in text


@pytest.mark.slow
def test_the_page_fits_nothing_from_timings_too_short_to_read() -> None:
    seconds = np.full((len(METHODS), len(LENGTHS)), 1e-5)
    text = _measured_page(seconds)
    assert text.count("not fitted: too few steady timings") == len(METHODS)
    assert "noise on this machine" not in text
    assert "⚠" in text
