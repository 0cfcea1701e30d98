"""Cost of attention mechanisms: operation and memory counts from shapes, and measurements.

The counts are exact functions of the shapes, so pages built from them are deterministic.
:func:`measure` times the same mechanisms on this machine during the build (unless
``ATLAS_MEASURE=0``); its results vary from run to run, so the build caches the page it
made from them (see :attr:`attention_atlas.scenarios.base.Scenario.machine_dependent`).
"""

from __future__ import annotations

import math
import os
import platform
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from attention_atlas.attention import (
    clustered_attention,
    linformer_attention,
    performer_attention,
    pooling_projection,
    scaled_dot_product_attention,
)

#: The mechanisms compared, in display order.
METHODS = ("full", "linformer", "kernelized", "clustered")

METHOD_NAMES = {
    "full": "Full softmax",
    "linformer": "Linformer",
    "kernelized": "Kernelized (FAVOR+)",
    "clustered": "Clustered",
}


def loglog_slope(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Least-squares slope of log(y) against log(x): the growth exponent."""
    lx, ly = np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64))
    return float(np.polyfit(lx, ly, 1)[0])


@dataclass(frozen=True)
class CostConfig:
    """Shapes of the cost model: d = d_k = d_v, r features, C clusters, P projected length."""

    width: int
    features: int
    clusters: int
    projected: int
    iterations: int
    itemsize: int = 4  # float32


def flops(method: str, n: np.ndarray, cfg: CostConfig) -> np.ndarray:
    """Floating-point operations of one head of self-attention (M = N) at lengths ``n``.

    A multiply-add counts 2; each elementwise step of a softmax (max, subtract, exp, sum,
    divide) counts 1 per cell. ``n`` is an array of lengths; returns an array like it.
    """
    n = np.asarray(n, dtype=np.float64)
    d, r, c, p, it = cfg.width, cfg.features, cfg.clusters, cfg.projected, cfg.iterations
    if method == "full":
        return 2 * n * n * d + 2 * n * n * d + 5 * n * n
    if method == "linformer":
        return 2 * p * n * d + 2 * p * n * d + 2 * n * p * d + 2 * n * p * d + 5 * n * p
    if method == "kernelized":
        return 2 * (2 * n) * r * d + 3 * (2 * n) * r + 2 * n * r * d + 2 * n * r * d + 2 * n * r
    if method == "clustered":
        kmeans = (it + 1) * 2 * n * c * d + it * 2 * n * c * d
        return kmeans + 2 * c * n * d + 2 * c * n * d + 5 * c * n
    msg = f"unknown method {method!r}: expected one of {', '.join(METHODS)}"
    raise ValueError(msg)


def memory(method: str, n: np.ndarray, cfg: CostConfig) -> np.ndarray:
    """Bytes of the arrays one head allocates beyond its inputs, output included (M = N)."""
    n = np.asarray(n, dtype=np.float64)
    d, r, c, p = cfg.width, cfg.features, cfg.clusters, cfg.projected
    out = n * d
    if method == "full":
        elements = n * n + out
    elif method == "linformer":
        elements = 2 * p * d + n * p + out
    elif method == "kernelized":
        elements = 2 * n * r + n * d + r * d + out
    elif method == "clustered":
        elements = n * c + c * d + c * n + out
    else:
        msg = f"unknown method {method!r}: expected one of {', '.join(METHODS)}"
        raise ValueError(msg)
    return elements * cfg.itemsize


#: LaTeX of each cost, matching :func:`flops` and :func:`memory` term by term (M = N).
FORMULAS = {
    "full": (r"4 N^2 d + 5 N^2", r"N^2 + N d"),
    "linformer": (r"8 N P d + 5 N P", r"N P + 2 P d + N d"),
    "kernelized": (r"8 N r d + 8 N r", r"2 N r + 2 N d + r d"),
    "clustered": (r"(4I + 6) N C d + 5 N C", r"2 N C + C d + N d"),
}

BIG_O = {
    "full": r"O(N^2 d)",
    "linformer": r"O(N P d)",
    "kernelized": r"O(N r d)",
    "clustered": r"O(N C d)",
}


# --------------------------------------------------------------------------- measuring


def measure_requested() -> bool:
    """Whether the build measures times and memory: yes unless ``ATLAS_MEASURE=0``."""
    return os.environ.get("ATLAS_MEASURE", "1").strip() != "0"


@contextmanager
def one_blas_thread() -> Iterator[str]:
    """Run with one BLAS thread (steadier timings); yields a description of the BLAS.

    The description is read *inside* the limit, so it states the threads actually in
    effect (``"openblas Haswell, 1 thread"``), or that no BLAS library was found.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if not info:
            yield "no BLAS library found by threadpoolctl, threads not limited"
            return
        blas = ", ".join(f"{i.get('internal_api')} {i.get('architecture', '?')}" for i in info)
        threads = sorted({int(i.get("num_threads", 0)) for i in info})
        count = "/".join(str(t) for t in threads)
        yield f"{blas}, {count} BLAS thread{'' if threads == [1] else 's'}"


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated timings: each array is (methods, lengths).

    ``low`` and ``high`` are the first and third quartiles (the interquartile range);
    ``relative`` is (high - low) / median, the spread as a fraction of the median.
    """

    median: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def relative(self) -> np.ndarray:
        return (self.high - self.low) / np.where(self.median > 0, self.median, np.inf)


def spread(samples: np.ndarray) -> Spread:
    """Median and interquartile range of ``samples`` (..., repeats) along the last axis."""
    samples = np.asarray(samples, dtype=np.float64)
    low, median, high = np.percentile(samples, [25, 50, 75], axis=-1)
    return Spread(median=median, low=low, high=high)


#: The clock of the timings: CPU time of the measuring thread. BLAS runs on this one
#: thread, so it counts all the work, and time the machine gives to other processes
#: (wall-clock noise on a shared machine) is not counted.
CLOCK = time.thread_time
#: A sample lasts at least this long: shorter calls run several times within it.
SAMPLE_SECONDS = 1e-3
#: At most this many calls in one sample.
MAX_LOOPS = 50

#: A timing counts as stable when its median is at least this many seconds (well above
#: the timer's resolution and the fixed cost of a Python call) ...
STABLE_SECONDS = 5e-4
#: ... and its interquartile range is at most this fraction of the median.
STABLE_SPREAD = 0.25
#: A fitted exponent within this distance of the counted one agrees with the count.
AGREEMENT = 0.3
#: Fewest stable lengths a growth exponent is fitted over.
MIN_POINTS = 3


@dataclass(frozen=True)
class Growth:
    """What the timings of one method say about its growth with N.

    ``verdict`` is ``"agrees"`` (a fitted exponent within :data:`AGREEMENT` of the
    counted one), ``"noise"`` (fitted, but it disagrees with the count: the machine's
    noise or fixed costs, not a property of the method) or ``"unstable"`` (fewer than
    :data:`MIN_POINTS` consecutive stable lengths, so nothing was fitted).
    ``lengths`` are the lengths fitted over, ``exponent`` is None when unstable, and
    ``counted`` is the operation count's exponent over the same lengths (over all
    lengths when unstable).
    """

    verdict: Literal["agrees", "noise", "unstable"]
    exponent: float | None
    counted: float
    lengths: tuple[int, ...]


def stable(
    timing: Spread,
    *,
    floor: float = STABLE_SECONDS,
    max_spread: float = STABLE_SPREAD,
    resolution: float | None = None,
) -> np.ndarray:
    """Boolean mask like ``timing.median``: long enough to time and steady enough to trust.

    ``floor`` is raised to 1000 ticks of the timer (``resolution`` seconds, by default
    that of :data:`CLOCK`) on a coarse clock.
    """
    tick = time.get_clock_info("thread_time").resolution if resolution is None else resolution
    floor = max(floor, 1000 * tick)
    return (timing.median >= floor) & (timing.relative <= max_spread)


def fit_growth(
    lengths: Sequence[int] | np.ndarray,
    samples: np.ndarray,
    counted: Sequence[float] | np.ndarray,
    *,
    floor: float = STABLE_SECONDS,
    max_spread: float = STABLE_SPREAD,
    tolerance: float = AGREEMENT,
    min_points: int = MIN_POINTS,
    resolution: float | None = None,
) -> Growth:
    """Fit a growth exponent to one method's timings where they are stable, and judge it.

    Parameters
    ----------
    lengths : sequence of int, shape (L,)
        Sequence lengths, increasing.
    samples : ndarray, shape (L, repeats)
        Seconds of each repeated run at each length.
    counted : sequence of float, shape (L,)
        The counted cost (operations) at each length.
    floor, max_spread, resolution
        What :func:`stable` calls stable.
    tolerance : float
        Largest distance between fitted and counted exponents that still agrees.
    min_points : int
        Fewest stable lengths to fit over.

    Notes
    -----
    The fit uses the longest run of consecutive stable lengths that ends at the longest
    stable length: short lengths are where fixed per-call costs bend the curve, and a
    gap means a noisy point in between. The median time is fitted, so one slow repeat
    does not move it.
    """
    n = np.asarray(lengths, dtype=np.float64)
    samples = np.asarray(samples, dtype=np.float64)
    counted = np.asarray(counted, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[0] != n.size or counted.shape != n.shape:
        msg = (
            f"expected samples (L, repeats) and counted (L,) for L = {n.size} lengths, "
            f"got samples {samples.shape} and counted {counted.shape}"
        )
        raise ValueError(msg)
    timing = spread(samples)
    ok = stable(timing, floor=floor, max_spread=max_spread, resolution=resolution)
    good = np.flatnonzero(ok)
    run: list[int] = []
    if good.size:
        end = int(good[-1])
        start = end
        while start > 0 and ok[start - 1]:
            start -= 1
        run = list(range(start, end + 1))
    if len(run) < max(min_points, 2):
        return Growth("unstable", None, loglog_slope(n, counted), tuple(int(x) for x in n))
    sel = np.asarray(run)
    exponent = loglog_slope(n[sel], timing.median[sel])
    model = loglog_slope(n[sel], counted[sel])
    verdict: Literal["agrees", "noise"] = (
        "agrees" if abs(exponent - model) <= tolerance else "noise"
    )
    return Growth(verdict, exponent, model, tuple(int(x) for x in n[sel]))


@dataclass(frozen=True)
class Measurement:
    """Repeated wall times, tracemalloc peak and output error of each method at each length.

    ``samples`` holds every timed run, (methods, lengths, repeats); ``timing`` their
    median and interquartile range. ``errors`` is the relative error of the output against
    full softmax attention on the same inputs, ``||out - exact||_F / ||exact||_F``
    (0 for full attention).
    """

    lengths: tuple[int, ...]
    samples: np.ndarray  # (methods, lengths, repeats)
    peak_bytes: np.ndarray  # (methods, lengths)
    errors: np.ndarray  # (methods, lengths)
    total_seconds: float
    machine: str

    @property
    def timing(self) -> Spread:
        return spread(self.samples)

    @property
    def seconds(self) -> np.ndarray:
        """Median seconds, (methods, lengths)."""
        return self.timing.median


def _runners(n: int, cfg: CostConfig, seed: int) -> dict[str, Callable[..., np.ndarray]]:
    """Each method as ``run(q, k, v) -> out`` (N, d) at length ``n``."""
    e = pooling_projection(n, cfg.projected, np.float32)
    return {
        "full": lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
        "linformer": lambda q, k, v: linformer_attention(q, k, v, e, e)[0],
        "kernelized": lambda q, k, v: performer_attention(q, k, v, cfg.features, seed=seed)[0],
        "clustered": lambda q, k, v: (
            clustered_attention(q, k, v, cfg.clusters, iterations=cfg.iterations, seed=seed).out
        ),
    }


def measure(
    lengths: Sequence[int],
    cfg: CostConfig,
    *,
    seed: int = 0,
    repeats: int = 5,
    inputs: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> Measurement:
    """Time, peak memory and output error of each method in ``METHODS``, float32 inputs.

    ``inputs(n)`` gives the (n, d) arrays ``q, k, v`` at each length (converted to
    float32); by default they are standard normal, which has no structure for an
    approximation to exploit.

    Each (method, length) first runs once under ``tracemalloc`` (its peak, inputs
    excluded; its output gives the error against full attention; its time, an upper
    bound, sets how many calls make one sample, at least :data:`SAMPLE_SECONDS` long;
    this run also warms up and is not a sample). Then ``repeats`` rounds each time every (length,
    method) once, interleaved, the method order rotating from round to round, so a burst
    of load on the machine falls on all methods alike instead of on one. Times are CPU
    time of this thread (:data:`CLOCK`); BLAS runs on one thread (threadpoolctl).
    Results vary from run to run: read the median and its spread.
    """
    if repeats < 1:
        msg = f"repeats must be at least 1, got {repeats}"
        raise ValueError(msg)
    started = time.perf_counter()
    shape = (len(METHODS), len(lengths))
    samples = np.zeros((*shape, repeats))
    peaks = np.zeros(shape)
    errors = np.zeros(shape)
    loops = np.ones(shape, dtype=np.int64)
    with one_blas_thread() as blas:
        problems = []
        for j, n in enumerate(lengths):
            if inputs is None:
                rng = np.random.default_rng(seed + n)
                arrays = tuple(rng.standard_normal((n, cfg.width)) for _ in range(3))
            else:
                arrays = inputs(n)
            q, k, v = (np.asarray(a, dtype=np.float32) for a in arrays)
            runners = _runners(n, cfg, seed)
            problems.append((q, k, v, runners))
            exact: np.ndarray | None = None
            for i, method in enumerate(METHODS):
                tracemalloc.start()
                try:
                    t0 = CLOCK()
                    out = runners[method](q, k, v)
                    once = max(CLOCK() - t0, 1e-7)  # traced, so an upper bound
                    peaks[i, j] = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                # A call shorter than SAMPLE_SECONDS runs several times within a sample
                # (their mean is the sample), so the clock reads a span long enough.
                loops[i, j] = max(1, min(MAX_LOOPS, math.ceil(SAMPLE_SECONDS / once)))
                if exact is None:  # METHODS starts with full attention
                    exact = out.astype(np.float64)
                errors[i, j] = np.linalg.norm(out - exact) / np.linalg.norm(exact)
        order = list(range(len(METHODS)))
        for r in range(repeats):
            rotated = order[r % len(order) :] + order[: r % len(order)]
            for j, (q, k, v, runners) in enumerate(problems):
                for i in rotated:
                    run, count = runners[METHODS[i]], int(loops[i, j])
                    t0 = CLOCK()
                    for _ in range(count):
                        run(q, k, v)
                    samples[i, j, r] = (CLOCK() - t0) / count
    machine = f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, {blas}"
    return Measurement(
        lengths=tuple(int(n) for n in lengths),
        samples=samples,
        peak_bytes=peaks,
        errors=errors,
        total_seconds=time.perf_counter() - started,
        machine=machine,
    )
