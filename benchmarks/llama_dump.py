"""Benchmark the report of a Llama-shaped q/k dump: wall time and peak resident memory.

    python benchmarks/llama_dump.py [--layers 32] [--heads 32] [--kv-heads 8] [--width 128]
                                    [--tokens 2048] [--keep DIR]

Makes a dump shaped like Llama's attention inputs (by default 32 layers x 32 query
heads, 8 key heads, d = 128, 2048 tokens, float16, causal) as a ``.safetensors``
file in a temporary folder, written by ``save_dump`` a layer at a time so this
script stays small, then runs ``python3 -m attention_atlas report`` on it in a
child process and prints its wall time, CPU time and peak resident memory
(``getrusage(RUSAGE_CHILDREN)``), with the BLAS architecture (threadpoolctl) and
the OpenBLAS variables that change its speed. The issue's target is at most 90 s
and 1.5 GB on 2 cores. Timings on shared machines vary a lot between runs; never
asserts anything about time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from attention_atlas import save_dump

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


class MadeLayers(Sequence[np.ndarray]):
    """``layers`` arrays of (heads, positions, width) float16, each made when asked for.

    Queries and keys share a direction that grows with the key's position 0, so the
    first token is a sink as in real decoders, over random normal values.
    """

    def __init__(self, layers: int, heads: int, positions: int, width: int, seed: int) -> None:
        self.shape = (heads, positions, width)
        self.layers, self.seed = layers, seed

    def __len__(self) -> int:
        return self.layers

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[np.ndarray]: ...
    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < self.layers:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        values = rng.standard_normal(self.shape, dtype=np.float32)
        values[:, 0, :] += 2.0  # position 0 stands out: a sink key (and a strong query)
        return values.astype(np.float16)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--keep", type=Path, help="write the dump and report here and keep them")
    args = parser.parse_args()

    from threadpoolctl import threadpool_info

    arch = {i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"}
    env = {k: os.environ[k] for k in BLAS_ENV if k in os.environ}
    print(f"cores {os.cpu_count()}, BLAS {sorted(map(str, arch))}, {env or 'no OpenBLAS vars'}")

    with tempfile.TemporaryDirectory(prefix="llama-dump-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "llama.safetensors"
        n, d = args.tokens, args.width
        start = time.perf_counter()
        save_dump(
            path,
            q=MadeLayers(args.layers, args.heads, n, d, seed=1),
            k=MadeLayers(args.layers, args.kv_heads, n, d, seed=2),
            tokens=[f"t{i}" for i in range(n)],
            causal=True,
        )
        made = time.perf_counter() - start
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
        print(
            f"dump: q ({args.layers}, {args.heads}, {n}, {d}), k ({args.layers}, "
            f"{args.kv_heads}, {n}, {d}) float16 causal, {path.stat().st_size / 2**20:.0f} MiB "
            f"written in {made:.1f} s (this script's peak {own:.0f} MiB)"
        )
        command = [sys.executable, "-m", "attention_atlas", "report", str(path)]
        command += ["--out", str(folder / "report")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "(no output)")
        print(
            f"report: exit {done.returncode}, wall {wall:.1f} s, CPU {cpu:.1f} s, "
            f"peak resident {after.ru_maxrss / 2**10:.0f} MiB (target 90 s, 1536 MiB)"
        )
        return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
