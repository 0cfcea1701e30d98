"""A report's layer pages drawn on every core.

Drawing a layer page is pure Python (Altair builds each head's chart), so threads do
not help; worker processes do. They are forked from the running process and inherit
what the pages are drawn from (the dump, the streamed views) without copying or
pickling it; only the layer numbers go out and the pages' text comes back. Where
``fork`` is unavailable, or the report is small enough that starting workers costs
more than it saves, the pages are drawn here, one after another.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["PARALLEL_FROM_HEADS", "per_layer"]

#: Reports with fewer heads than this draw their pages in one process: a worker's start
#: (about 0.1 s) and the pages' way back cost more than the charts of a few heads.
PARALLEL_FROM_HEADS = 64

PageOf = Callable[[Any, int], str]

_job: tuple[PageOf, Any] | None = None


def _adopt(render: PageOf, shared: Any) -> None:
    global _job  # a worker's one job, set once when it starts
    _job = (render, shared)


def _page(layer: int) -> str:
    assert _job is not None, "a worker is always started with its job"
    render, shared = _job
    return render(shared, layer)


def per_layer(render: PageOf, shared: Any, layers: int, *, heads: int) -> list[str]:
    """``[render(shared, layer) for layer in range(layers)]``, on every core when it pays.

    Parameters
    ----------
    render : callable (shared, layer) -> str
        Draws one layer's page; a module-level function (workers look it up by name).
    shared : object
        What every page is drawn from; inherited by the workers, never copied.
    layers : int
        L, the number of pages.
    heads : int
        The report's number of heads, L x H: small reports stay in this process.

    Returns
    -------
    list of str, length L
        The pages in layer order, the same text whichever way they were drawn.
    """
    workers = min(os.cpu_count() or 1, layers)
    fork = "fork" in multiprocessing.get_all_start_methods()
    if workers < 2 or heads < PARALLEL_FROM_HEADS or not fork:
        return [render(shared, layer) for layer in range(layers)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_adopt, initargs=(render, shared)
    ) as pool:
        return list(pool.map(_page, range(layers)))
