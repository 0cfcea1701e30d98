"""Layer pages drawn on every core: the same pages, in layer order, as in one process."""

from __future__ import annotations

import os

import numpy as np
import pytest

from attention_atlas.dumps import workers
from attention_atlas.dumps.read import validate_dump
from attention_atlas.dumps.report import render_report


def _page(shared: str, layer: int) -> str:
    return f"{shared} {layer} {os.getpid()}"


def _pids(pages: list[str]) -> set[int]:
    return {int(page.split()[-1]) for page in pages}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: pages stay in this process")
def test_a_large_report_draws_its_pages_in_other_processes_in_layer_order() -> None:
    pages = workers.per_layer(_page, "layer", 5, heads=workers.PARALLEL_FROM_HEADS)
    assert [page.rsplit(" ", 1)[0] for page in pages] == [f"layer {i}" for i in range(5)]
    assert os.getpid() not in _pids(pages)


def test_a_small_report_stays_in_this_process() -> None:
    pages = workers.per_layer(_page, "layer", 5, heads=workers.PARALLEL_FROM_HEADS - 1)
    assert _pids(pages) == {os.getpid()}


def test_one_layer_stays_in_this_process() -> None:
    assert _pids(workers.per_layer(_page, "x", 1, heads=10**6)) == {os.getpid()}


def test_a_report_is_the_same_text_drawn_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    weights = rng.dirichlet(np.ones(5), size=(3, 2, 5))
    dump = validate_dump(weights, np.array(["[CLS]", "it", "was", "tired", "[SEP]"]))
    alone = render_report(dump)
    monkeypatch.setattr(workers, "PARALLEL_FROM_HEADS", 1)
    assert render_report(dump) == alone
