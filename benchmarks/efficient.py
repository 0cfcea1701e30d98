"""Time and peak memory of full, Linformer, kernelized and clustered attention, in one run.

Usage: ``python benchmarks/efficient.py [--lengths 256 512 ...] [--width 64]``.

Prints, for each sequence length N, each method's median wall time over interleaved
repeats and tracemalloc peak, and their ratios to full attention measured in the same
run (absolute numbers vary 5-20x between runs on shared machines; ratios within one run
are what to compare), then each method's growth exponent, fitted over the lengths whose
timings are steady and judged against the cost model's. Records the BLAS library and
CPU architecture it ran on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attention_atlas.scenarios._costs import (
    METHOD_NAMES,
    METHODS,
    CostConfig,
    fit_growth,
    flops,
    loglog_slope,
    measure,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    parser.add_argument("--width", type=int, default=64, help="d = d_k = d_v")
    parser.add_argument("--features", type=int, default=128, help="r, Performer features")
    parser.add_argument("--clusters", type=int, default=32, help="C, query clusters")
    parser.add_argument("--projected", type=int, default=128, help="P, Linformer length")
    parser.add_argument("--iterations", type=int, default=10, help="k-means iterations")
    args = parser.parse_args(argv)
    cfg = CostConfig(
        width=args.width,
        features=args.features,
        clusters=args.clusters,
        projected=args.projected,
        iterations=args.iterations,
    )
    bad = [n for n in args.lengths if n % cfg.projected or n < cfg.clusters]
    if bad:
        print(
            f"--lengths: each N must be a multiple of P = {cfg.projected} and at least "
            f"C = {cfg.clusters}; got {bad}",
            file=sys.stderr,
        )
        return 2
    result = measure(args.lengths, cfg)
    print(f"machine: {result.machine}")
    print(
        f"d = {cfg.width}, r = {cfg.features}, C = {cfg.clusters}, P = {cfg.projected}, "
        f"float32, one head; measuring took {result.total_seconds:.2f} s\n"
    )
    width = max(len(name) for name in METHOD_NAMES.values())
    header = f"{'N':>6}  {'method':<{width}}  {'time':>10}  {'peak':>10}  "
    header += f"{'full/this time':>14}  {'full/this peak':>14}"
    print(header)
    print("-" * len(header))
    for j, n in enumerate(result.lengths):
        for i, method in enumerate(METHODS):
            sec, peak = result.seconds[i, j], result.peak_bytes[i, j]
            print(
                f"{n:>6}  {METHOD_NAMES[method]:<{width}}  {sec * 1e3:>8.3f}ms  "
                f"{peak / 2**20:>7.2f}MiB  {result.seconds[0, j] / sec:>13.2f}x  "
                f"{result.peak_bytes[0, j] / peak:>13.2f}x"
            )
    print("\ngrowth exponents (slope of log cost on log N; time fitted over steady lengths):")
    lengths = np.asarray(result.lengths)
    for i, method in enumerate(METHODS):
        growth = fit_growth(lengths, result.samples[i], flops(method, lengths, cfg))
        peak_exp = loglog_slope(lengths, result.peak_bytes[i])
        fitted = "  —  " if growth.exponent is None else f"{growth.exponent:5.2f}"
        print(
            f"  {METHOD_NAMES[method]:<{width}}  time {fitted}  model operations "
            f"{growth.counted:5.2f}  ({growth.verdict}, N = {growth.lengths[0]}-"
            f"{growth.lengths[-1]})  peak {peak_exp:5.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
