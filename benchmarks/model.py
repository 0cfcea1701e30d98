"""Benchmark the NumPy all-MiniLM-L6-v2 against transformers' eager BERT, in one run.

    python benchmarks/model.py [--tokens 128] [--repeat 40] [--rounds 4] [--threads default,1]

Prints the time to load the cached weights, the NumPy forward pass (attentions
and hidden states returned), and, when torch and transformers are installed,
the eager reference on the same ids with the ratio NumPy / torch, once per
thread setting. A setting applies to both sides: NumPy's BLAS through
threadpoolctl and torch through ``torch.set_num_threads``; ``default`` leaves
each library at its own default. The BLAS architecture (threadpoolctl) and
``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``, which change OpenBLAS's kernels,
are printed with the figures. Timings on shared machines vary a lot between
runs: compare the ratios printed by one run. Never asserts anything about time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np

from attention_atlas.models import Model
from attention_atlas.models.assets import ensure_model_files

TEXT = (
    "Attention lets every token in a sentence look at every other token and decide how much "
    "each one matters for its own meaning. In a transformer, each layer has several heads, and "
    "each head computes its own weights from queries and keys, then mixes the values with those "
    "weights. Some heads follow the previous word, some follow the next one, and some link a "
    "pronoun such as it back to the noun it stands for. Many heads, however, send most of their "
    "weight to the special classification token, which acts as a resting place when nothing "
    "else is useful. Reading these maps carefully is how we learn what a model has learned. "
) * 4

#: Environment variables that change which OpenBLAS kernels run (and how fast).
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def ms(median_best: tuple[float, float]) -> str:
    median, best = median_best
    return f"median {median * 1e3:.1f} ms, best {best * 1e3:.1f} ms"


def timed(*fns: Callable[[], object], repeat: int, rounds: int = 4) -> list[tuple[float, float]]:
    """(median, best) wall time in seconds of each function over ``repeat`` calls.

    The functions take turns in ``rounds`` blocks (A A A, B B B, A A A, B B B, ...),
    each block after one warm-up call, so slow drift on a shared machine hits
    them alike. Calls are not interleaved one by one: a thread pool that keeps
    spinning after its call (OpenMP, OpenBLAS) would slow the other one down.
    """
    times: list[list[float]] = [[] for _ in fns]
    per_block = max(repeat // rounds, 1)
    for _ in range(rounds):
        for fn, spent in zip(fns, times, strict=True):
            fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                spent.append(time.perf_counter() - start)
    return [(statistics.median(t), min(t)) for t in times]


def describe_blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    infos = [
        f"{i.get('internal_api')} {i.get('architecture')} x{i.get('num_threads')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return ", ".join(infos) or "no BLAS found"


def describe_env() -> str:
    return ", ".join(f"{name}={os.environ.get(name, '(unset)')}" for name in BLAS_ENV)


@contextlib.contextmanager
def threads_limited(count: int | None, torch_module: object | None) -> Iterator[None]:
    """Run the block with ``count`` threads for NumPy's BLAS and torch (None: leave defaults)."""
    if count is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = None
    if torch_module is not None:
        before = torch_module.get_num_threads()  # type: ignore[attr-defined]
        torch_module.set_num_threads(count)  # type: ignore[attr-defined]
    try:
        with threadpool_limits(limits=count, user_api="blas"):
            yield
    finally:
        if torch_module is not None and before is not None:
            torch_module.set_num_threads(before)  # type: ignore[attr-defined]


def parse_threads(text: str) -> list[int | None]:
    """``"default,1"`` -> ``[None, 1]``."""
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        out.append(None if part == "default" else int(part))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="sequence length N (<= 512)")
    parser.add_argument("--repeat", type=int, default=40, help="timed calls per side")
    parser.add_argument("--rounds", type=int, default=4, help="alternating blocks per side")
    parser.add_argument(
        "--threads",
        type=parse_threads,
        default=parse_threads("default,1"),
        help="comma-separated thread counts for both sides; 'default' = each library's own",
    )
    args = parser.parse_args()

    folder = ensure_model_files()
    print(f"python {platform.python_version()}, numpy {np.__version__}, BLAS: {describe_blas()}")
    print(f"environment: {describe_env()}")

    (load,) = timed(lambda: Model.from_dir(folder), repeat=max(args.repeat // 8, 3), rounds=1)
    print(f"load cached weights + tokenizer: {ms(load)}")

    model = Model.from_dir(folder)
    ids = model.tokenize(TEXT)
    ids = np.concatenate([ids[: args.tokens - 1], ids[-1:]])  # keep [CLS] ... [SEP]
    print(f"sequence: {ids.size} tokens")

    def run_numpy() -> object:
        return model.forward(ids)

    if not all(importlib.util.find_spec(m) for m in ("torch", "transformers")):
        for count in args.threads:
            with threads_limited(count, None):
                (ours_time,) = timed(run_numpy, repeat=args.repeat, rounds=args.rounds)
                print(f"\nthreads: numpy BLAS {describe_blas()}")
                print(f"numpy forward:            {ms(ours_time)}")
        print("transformers eager:       skipped (torch and transformers not installed)")
        return
    import torch
    from transformers import BertModel

    reference = BertModel.from_pretrained(
        str(folder), attn_implementation="eager", add_pooling_layer=False
    ).eval()
    batch = torch.from_numpy(ids)[None]

    def run_torch() -> object:
        with torch.no_grad():
            return reference(batch, output_attentions=True, output_hidden_states=True)

    for count in args.threads:
        with threads_limited(count, torch):
            ours_time, torch_time = timed(
                run_numpy, run_torch, repeat=args.repeat, rounds=args.rounds
            )
            label = "default" if count is None else str(count)
            print(
                f"\nthreads ({label}): numpy BLAS {describe_blas()}, "
                f"torch {torch.get_num_threads()} (intra-op)"
            )
        print(f"numpy forward:            {ms(ours_time)}")
        print(f"transformers eager:       {ms(torch_time)} (torch {torch.__version__})")
        ratios = [o / t for o, t in zip(ours_time, torch_time, strict=True)]
        print(f"ratio numpy / torch:      median {ratios[0]:.2f}x, best {ratios[1]:.2f}x")

    ours = model.forward(ids)
    theirs = run_torch()
    att = np.stack([a[0].numpy() for a in theirs.attentions])  # type: ignore[attr-defined]
    hid = np.stack([h[0].numpy() for h in theirs.hidden_states])  # type: ignore[attr-defined]
    print(
        f"\nmax |difference|:         attentions {np.abs(ours.attentions - att).max():.2e}, "
        f"hidden states {np.abs(ours.hidden_states - hid).max():.2e}"
    )


if __name__ == "__main__":
    main()
