"""Streamed views of a q/k dump: equal to the dense map's, without ever holding it."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from attention_atlas.attention import softmax
from attention_atlas.dumps.read import ProjectionDump, load_any, validate_projections
from attention_atlas.dumps.report import build_report, report_config
from attention_atlas.dumps.stream import HeadBlocks, stream_dump, stream_head, strongest_blocks
from attention_atlas.errors import AtlasError
from tests.conftest import run_cli


def _dump(n: int, m: int, d: int, *, heads: int = 1, seed: int = 0) -> ProjectionDump:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((heads, n, d)) * 2
    k = rng.standard_normal((heads, m, d)) * 2
    keys = np.array([f"k{i}" for i in range(m)])
    return validate_projections(q, k, np.array([f"q{i}" for i in range(n)]), keys)


def _dense(dump: ProjectionDump, layer: int, head: int) -> np.ndarray:
    q = dump.q[layer, head].astype(np.float64)
    k = dump.k[layer, head].astype(np.float64)
    return softmax(dump.scale * q @ k.T)


def test_streamed_views_and_details_equal_the_dense_map() -> None:
    dump = _dump(96, 80, 8, heads=2)
    view = stream_head(dump, 0, 1, blocks=16, details=3)
    w = _dense(dump, 0, 1)
    rb, cb = 96 // 16, 80 // 16
    blocks = w.reshape(16, rb, 16, cb)
    np.testing.assert_allclose(view.mean, blocks.mean(axis=(1, 3)), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(view.maximum, blocks.max(axis=(1, 3)), rtol=1e-5, atol=1e-8)
    assert len(view.blocks) == len(view.details) == 3
    for (i, j), detail in zip(view.blocks, view.details, strict=True):
        np.testing.assert_allclose(
            detail, w[i * rb : (i + 1) * rb, j * cb : (j + 1) * cb], rtol=1e-5, atol=1e-8
        )
    np.testing.assert_array_equal(view.row_edges, np.arange(0, 97, rb))


def test_strongest_blocks_take_the_largest_maxima_one_per_column() -> None:
    maxima = np.array([[0.9, 0.1, 0.5], [0.8, 0.7, 0.2], [0.3, 0.6, 0.4]])
    assert strongest_blocks(maxima, 2) == [(0, 0), (1, 1)]  # (1, 0) shares column 0
    assert strongest_blocks(maxima, 5) == [(0, 0), (1, 1), (0, 2)]  # only 3 columns


def test_the_details_are_the_strongest_by_that_rule() -> None:
    dump = _dump(64, 64, 4, seed=3)
    view = stream_head(dump, 0, 0, blocks=8, details=4)
    assert list(view.blocks) == strongest_blocks(view.maximum, 4)
    top = view.maximum[view.blocks[0]]
    assert top == view.maximum.max()
    assert top == pytest.approx(view.details[0].max(), rel=1e-6)


def _streamed_with_peak(n: int, seed: int) -> tuple[HeadBlocks, int]:
    """One head of n x n positions (d = 64) streamed, and tracemalloc's peak in bytes."""
    dump = _dump(n, n, 64, seed=seed)
    tracemalloc.start()
    try:
        view = stream_head(dump, 0, 0)
        return view, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_long_head_needs_far_less_memory_than_its_map() -> None:
    n = 4096
    view, peak = _streamed_with_peak(n, seed=1)
    assert view.mean.shape == (128, 128)
    assert peak < n * n * 4 / 4, f"peak {peak / 2**20:.1f} MiB"


def test_stream_dump_visits_every_head_and_reports_progress() -> None:
    dump = _dump(32, 32, 4, heads=3)
    seen: list[tuple[int, int]] = []
    views = stream_dump(dump, blocks=8, details=1, progress=lambda d, t: seen.append((d, t)))
    assert [(v.layer, v.head) for v in views] == [(0, 0), (0, 1), (0, 2)]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_head_out_of_range_is_an_error() -> None:
    with pytest.raises(AtlasError, match="head 2 does not exist"):
        stream_head(_dump(8, 8, 2, heads=2), 0, 2)


# --------------------------------------------------------------------------- the report


def _qk_file(path: Path, n: int, *, heads: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((heads, n, 16)).astype(np.float32) * 1.5
    k = rng.standard_normal((heads, n, 16)).astype(np.float32) * 1.5
    np.savez(path, q=q, k=k, tokens=np.array([f"t{i}" for i in range(n)]))
    return path


def test_a_query_key_dump_builds_a_report_of_streamed_views(tmp_path: Path) -> None:
    source = _qk_file(tmp_path / "qk.npz", 512)
    result = build_report(source, out=tmp_path / "report")
    assert result.pages == ["heads/layer-0.md", "index.md"]
    overview = (result.out / "index.html").read_text(encoding="utf-8")
    assert "128 × 128 blocks of 4 × 4 positions" in overview
    assert "2 MiB" in overview  # the maps the report never holds: 2 heads of 512 x 512
    layer = (result.out / "heads" / "layer-0.html").read_text(encoding="utf-8")
    assert layer.count("block maxima") >= 2 and layer.count("block means") >= 2
    # The strongest blocks named on the page are those of the streamed computation.
    dump = load_any(source)
    assert isinstance(dump, ProjectionDump)
    view = stream_head(dump, 0, 1)
    i, _ = view.blocks[0]
    lo, hi = int(view.row_edges[i]), int(view.row_edges[i + 1]) - 1
    assert f"Queries {lo}–{hi}" in layer
    assert "summaries" not in json.dumps(report_config("t", {"index.md": ""}, []))


@pytest.mark.slow
def test_the_report_command_reads_query_key_dumps(tmp_path: Path) -> None:
    source = _qk_file(tmp_path / "qk.npz", 256, heads=1)
    run = run_cli("report", str(source), "--out", str(tmp_path / "r"))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "r" / "heads" / "layer-0.html").is_file()


@pytest.mark.slow
def test_one_head_of_16384_positions_streams_within_64_mib() -> None:
    """The requirement: N = 16384, one head, d = 64; its float32 map alone is 1 GiB."""
    n = 16384
    view, peak = _streamed_with_peak(n, seed=2)
    assert peak <= 64 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert view.mean.shape == view.maximum.shape == (128, 128)
    # Rows of the map sum to 1, so the block means of a row of blocks sum to 1 / block width.
    np.testing.assert_allclose(view.mean.sum(axis=1), 128 / n, rtol=1e-3)
