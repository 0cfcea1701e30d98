"""Cost of attention mechanisms: operation and memory counts from shapes, and measurements.

The counts are exact functions of the shapes, so pages built from them are deterministic.
:func:`measure` times the same mechanisms on this machine during the build (unless
``ATLAS_MEASURE=0``); its results vary from run to run, so the build caches the page it
made from them (see :attr:`attention_atlas.scenarios.base.Scenario.machine_dependent`).
"""

from __future__ import annotations

import os
import platform
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

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
    """Run with one BLAS thread (steadier timings); yields a description of the BLAS."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # optional: timings are then taken with the default threads
        yield "BLAS threads not limited (threadpoolctl not installed)"
        return
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    blas = ", ".join(f"{i.get('internal_api')} {i.get('architecture', '?')}" for i in info)
    with threadpool_limits(limits=1, user_api="blas"):
        yield f"{blas or 'unknown BLAS'}, 1 thread"


@dataclass(frozen=True)
class Measurement:
    """Best-of-k wall time, tracemalloc peak and output error of each method at each length.

    ``errors`` is the relative error of the output against full softmax attention on
    the same inputs, ``||out - exact||_F / ||exact||_F`` (0 for full attention).
    """

    lengths: tuple[int, ...]
    seconds: np.ndarray  # (methods, lengths)
    peak_bytes: np.ndarray  # (methods, lengths)
    errors: np.ndarray  # (methods, lengths)
    total_seconds: float
    machine: str


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
    min_seconds: float = 0.05,
    inputs: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> Measurement:
    """Time, peak memory and output error of each method in ``METHODS``, float32 inputs.

    ``inputs(n)`` gives the (n, d) arrays ``q, k, v`` at each length (converted to
    float32); by default they are standard normal, which has no structure for an
    approximation to exploit.

    Each (method, length) runs once under ``tracemalloc`` (its peak, inputs excluded; its
    output gives the error against full attention, which runs first),
    then again up to ``repeats`` times until ``min_seconds`` have been spent (at least
    once); the best of all the runs' times is kept. BLAS runs on one thread when threadpoolctl
    is available. Results vary from run to run: compare methods within one measurement.
    """
    started = time.perf_counter()
    seconds = np.zeros((len(METHODS), len(lengths)))
    peaks = np.zeros((len(METHODS), len(lengths)))
    errors = np.zeros((len(METHODS), len(lengths)))
    with one_blas_thread() as blas:
        for j, n in enumerate(lengths):
            if inputs is None:
                rng = np.random.default_rng(seed + n)
                arrays = tuple(rng.standard_normal((n, cfg.width)) for _ in range(3))
            else:
                arrays = inputs(n)
            q, k, v = (np.asarray(a, dtype=np.float32) for a in arrays)
            runners = _runners(n, cfg, seed)
            exact: np.ndarray | None = None
            for i, method in enumerate(METHODS):
                run = runners[method]
                tracemalloc.start()
                try:
                    t0 = time.perf_counter()
                    out = run(q, k, v)
                    first = time.perf_counter() - t0  # traced: an upper bound on the time
                    peaks[i, j] = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                if exact is None:  # METHODS starts with full attention
                    exact = out.astype(np.float64)
                errors[i, j] = np.linalg.norm(out - exact) / np.linalg.norm(exact)
                times = [first]
                while len(times) < repeats + 1 and (len(times) < 2 or sum(times) < min_seconds):
                    t0 = time.perf_counter()
                    run(q, k, v)
                    times.append(time.perf_counter() - t0)
                seconds[i, j] = min(times)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, {blas}"
    return Measurement(
        lengths=tuple(int(n) for n in lengths),
        seconds=seconds,
        peak_bytes=peaks,
        errors=errors,
        total_seconds=time.perf_counter() - started,
        machine=machine,
    )
