"""Benchmark of the attention core against a naive loop and PyTorch CPU.

Run ``python benchmarks/core.py`` (``--quick`` for a short smoke run). Everything
is measured in one run, interleaved, with one BLAS thread on every side, and
reported as ratios: timings on a shared machine vary several-fold in bursts, so
only numbers from the same run are compared. Nothing here asserts on time.

Columns of the main table (H heads, d = 64, float32, weights returned):
- ours: ``scaled_dot_product_attention``; naive: a Python loop over heads and
  queries with NumPy row operations (small N only); torch:
  ``softmax(q k^T / sqrt(d)) v`` returning the weights, and torch's fused
  ``scaled_dot_product_attention`` (which returns no weights) for reference.
- GFLOP/s counts the two matmuls (4 H N^2 d) and is compared with the measured
  single-thread float32 matmul throughput of this machine.
- peak/weights: tracemalloc's peak of new NumPy allocations during the call
  divided by the bytes of the returned weights (the returned output is included
  in the peak; at d = 64 it is 64/N of the weights).
"""

from __future__ import annotations

import argparse
import gc
import math
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from attention_atlas.attention import (
    attention_weights,
    linformer_attention,
    pool_map,
    pooled_attention,
    pooled_views,
    scaled_dot_product_attention,
)

Fn = Callable[[], Any]


def best_times(fns: dict[str, Fn], repeats: int) -> dict[str, float]:
    """Minimum wall time of each function over ``repeats`` interleaved rounds."""
    best = dict.fromkeys(fns, math.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def peak_extra(fn: Fn) -> tuple[int, Any]:
    """Peak bytes newly allocated (as tracemalloc sees them) while ``fn`` runs."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, result


def matmul_gflops(repeats: int) -> float:
    """Measured single-thread float32 matmul throughput (1024^3 GEMM)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    t = best_times({"gemm": lambda: a @ b}, repeats)["gemm"]
    return 2 * 1024**3 / t / 1e9


def naive_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> tuple[Any, Any]:
    """Loop over heads and queries: one softmax row at a time."""
    heads, n, d = q.shape
    m = k.shape[1]
    out = np.empty((heads, n, v.shape[-1]), dtype=q.dtype)
    weights = np.empty((heads, n, m), dtype=q.dtype)
    scale = 1.0 / math.sqrt(d)
    for h in range(heads):
        for i in range(n):
            row = (k[h] @ q[h, i]) * scale
            row = np.exp(row - row.max())
            row /= row.sum()
            weights[h, i] = row
            out[h, i] = row @ v[h]
    return out, weights


def load_torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def blas_architecture() -> str:
    from threadpoolctl import threadpool_info

    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in infos
    )


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def main_table(sizes: list[int], heads: int, d: int, repeats: int, torch: Any, peak: float) -> None:
    print(f"\n## Full attention, H = {heads}, d = {d}, float32, weights returned\n")
    print(
        "| N | ours ms | naive ms | torch ms | torch fused ms | ours/torch | "
        "GFLOP/s | % of matmul | peak/weights |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in sizes:
        q, k, v = (rng.standard_normal((heads, n, d), dtype=np.float32) for _ in range(3))
        fns: dict[str, Fn] = {"ours": lambda q=q, k=k, v=v: scaled_dot_product_attention(q, k, v)}
        if n <= 512:
            fns["naive"] = lambda q=q, k=k, v=v: naive_attention(q, k, v)
        if torch is not None:
            tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))

            def torch_weights(tq: Any = tq, tk: Any = tk, tv: Any = tv) -> Any:
                with torch.inference_mode():
                    w = torch.softmax(tq @ tk.transpose(-2, -1) / math.sqrt(d), dim=-1)
                    return w @ tv, w

            def torch_fused(tq: Any = tq, tk: Any = tk, tv: Any = tv) -> Any:
                with torch.inference_mode():
                    return torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)

            fns["torch"] = torch_weights
            fns["fused"] = torch_fused
        reps = max(3, repeats * 512 // max(n, 512))  # fewer rounds where one takes long
        t = best_times(fns, reps)
        mem, (_, weights) = peak_extra(fns["ours"])
        gflops = 4 * heads * n * n * d / t["ours"] / 1e9
        ratio = t["ours"] / t["torch"] if "torch" in t else None
        print(
            f"| {n} | {fmt(t['ours'] * 1e3, '.1f')} | {fmt(t.get('naive', math.nan) * 1e3, '.1f')}"
            f" | {fmt(t.get('torch', math.nan) * 1e3, '.1f')}"
            f" | {fmt(t.get('fused', math.nan) * 1e3, '.1f')} | {fmt(ratio)} | {gflops:.1f}"
            f" | {100 * gflops / peak:.0f}% | {mem / weights.nbytes:.2f} |"
        )
        del q, k, v, weights


def linformer_table(n: int, p: int, heads: int, d: int, repeats: int) -> None:
    print(f"\n## Linformer P = {p} vs full attention, N = M = {n}, H = {heads}, d = {d}\n")
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((heads, n, d), dtype=np.float32) for _ in range(3))
    e = (rng.standard_normal((p, n)) / math.sqrt(p)).astype(np.float32)
    f = (rng.standard_normal((p, n)) / math.sqrt(p)).astype(np.float32)
    t = best_times(
        {
            "full": lambda: scaled_dot_product_attention(q, k, v),
            "linformer": lambda: linformer_attention(q, k, v, e, f),
        },
        repeats,
    )
    print("| variant | ms | ratio to full |")
    print("|---|---|---|")
    for name in ("full", "linformer"):
        print(f"| {name} | {t[name] * 1e3:.1f} | {t[name] / t['full']:.3f} |")


def pooled_table(n: int, d: int, rows: int, repeats: int) -> None:
    """Streaming pooled views against materialising the (N, N) map, side by side.

    One row per pooling: ``pool_map(attention_weights(q, k), ...)`` against
    ``pooled_attention`` (one reduction) or ``pooled_views`` (both from one pass), timed
    interleaved in the same run, each peak measured by tracemalloc.
    """
    size = n // rows
    print(
        f"\n## Pooled {rows}x{rows} view (blocks of {size}x{size}) of an N x N map, "
        f"N = {n}, one head, d = {d}, float32\n"
    )
    rng = np.random.default_rng(2)
    q = rng.standard_normal((n, d), dtype=np.float32)
    k = rng.standard_normal((n, d), dtype=np.float32)

    def dense_both() -> Any:
        w = attention_weights(q, k)
        return np.stack([pool_map(w, rows, rows, "mean"), pool_map(w, rows, rows, "max")])

    def stream_both() -> Any:
        v = pooled_views(q, k, rows, rows, ("mean", "max"))
        return np.stack([v.views["mean"], v.views["max"]])

    cases: dict[str, tuple[Fn, Fn]] = {
        "mean": (
            lambda: pool_map(attention_weights(q, k), rows, rows, "mean"),
            lambda: pooled_attention(q, k, rows, rows, "mean"),
        ),
        "max": (
            lambda: pool_map(attention_weights(q, k), rows, rows, "max"),
            lambda: pooled_attention(q, k, rows, rows, "max"),
        ),
        "mean + max, one pass": (dense_both, stream_both),
    }
    full = n * n * 4
    print(
        "| pooling | materialise ms | stream ms | time stream/materialise | "
        "peak MiB materialise | peak MiB stream | stream peak / full map | max rel diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (dense, stream) in cases.items():
        t = best_times({"materialise": dense, "stream": stream}, repeats)
        mem_m, a = peak_extra(dense)
        mem_s, b = peak_extra(stream)
        err = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
        print(
            f"| {name} | {t['materialise'] * 1e3:.0f} | {t['stream'] * 1e3:.0f} | "
            f"{t['stream'] / t['materialise']:.2f} | {mem_m / 2**20:.1f} | "
            f"{mem_s / 2**20:.1f} | {mem_s / full:.4f} | {err:.1e} |"
        )
        del a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument(
        "--repeats", type=int, default=25, help="interleaved rounds for N <= 512 (fewer above)"
    )
    parser.add_argument(
        "--only-pooled", action="store_true", help="only the pooled-view table (N = 16384)"
    )
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    torch = load_torch()
    sizes = [64, 256, 512] if args.quick else [64, 256, 512, 1024, 2048]
    repeats = 2 if args.quick else args.repeats
    peak = matmul_gflops(max(3, repeats // 2))
    print("# Attention core benchmark (one run, ratios only are comparable)\n")
    print(f"- numpy {np.__version__}; BLAS: {blas_architecture()}; 1 BLAS thread")
    print(f"- torch: {torch.__version__ + ', 1 thread' if torch is not None else 'not installed'}")
    print(f"- measured float32 matmul throughput: {peak:.1f} GFLOP/s")
    if args.only_pooled:
        pooled_table(2048 if args.quick else 16384, 64, 128, 2 if args.quick else 3)
        return
    main_table(sizes, 12, 64, repeats, torch, peak)
    linformer_table(512 if args.quick else 2048, 64 if args.quick else 256, 12, 64, repeats // 3)
    pooled_table(2048 if args.quick else 16384, 64, 128, 2 if args.quick else 3)
    print(
        "\nTargets (ratios): N=512 ours/torch <= 1.0; N=2048 ours/torch <= 0.6; "
        "peak/weights <= 1.25; Linformer/full <= 0.25; pooled view at N = 16384: "
        "stream/materialise time <= 1.1 with peak extra <= 64 MiB, for mean and for max."
    )


if __name__ == "__main__":
    main()
