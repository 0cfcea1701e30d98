"""Causal, grouped-query and end-aligned dumps against plain-loop references.

The reference is the semantics of PyTorch's ``scaled_dot_product_attention`` with
``enable_gqa=True`` and a lower-right causal mask (``is_causal=True`` when N = M),
written as explicit loops over heads, queries and keys.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_atlas.dumps.read import ProjectionDump, load_any, validate_dump, validate_projections
from attention_atlas.dumps.save import save_dump
from attention_atlas.dumps.stream import stream_dump, stream_head
from attention_atlas.errors import AtlasError


def loop_reference(q: np.ndarray, k: np.ndarray, scale: float, causal: bool) -> np.ndarray:
    """Weights (H, N, M) of q (H, N, d) against k (H_kv, M, d), one cell at a time."""
    heads, n, d = q.shape
    kv_heads, m, _ = k.shape
    group = heads // kv_heads
    weights = np.zeros((heads, n, m))
    for h in range(heads):
        kh = h // group  # PyTorch's enable_gqa: query head h reads key head h // (H / H_kv)
        for i in range(n):
            visible = [j for j in range(m) if not causal or j <= i + m - n]  # end-aligned
            scores = {
                j: scale * sum(float(q[h, i, t]) * float(k[kh, j, t]) for t in range(d))
                for j in visible
            }
            top = max(scores.values())
            total = sum(math.exp(s - top) for s in scores.values())
            for j, s in scores.items():
                weights[h, i, j] = math.exp(s - top) / total
    return weights


def streamed_map(dump: ProjectionDump, layer: int, head: int) -> np.ndarray:
    """The whole map from the streamed path: one block per cell makes block maxima exact."""
    view = stream_head(dump, layer, head, blocks=max(dump.n, dump.m), details=1)
    assert view.maximum.shape == (dump.n, dump.m)
    return view.maximum


def _qk(heads: int, kv_heads: int, n: int, m: int, d: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((heads, n, d)).astype(np.float32) * 2
    k = rng.standard_normal((kv_heads, m, d)).astype(np.float32) * 2
    return q, k


def _tokens(count: int, prefix: str = "t") -> np.ndarray:
    return np.array([f"{prefix}{i}" for i in range(count)])


@pytest.mark.parametrize(
    ("heads", "kv_heads", "n", "m", "causal"),
    [
        (4, 4, 7, 7, True),  # plain causal self-attention (GPT-2)
        (8, 2, 6, 6, True),  # grouped-query (Llama, Mistral)
        (4, 1, 5, 5, True),  # multi-query
        (4, 2, 3, 9, True),  # a decode step: the last 3 of 9 positions
        (4, 2, 1, 6, True),  # one new token over a cached prefix
        (6, 3, 5, 8, False),  # grouped-query without a mask
    ],
)
def test_streamed_weights_equal_the_loop_reference(
    heads: int, kv_heads: int, n: int, m: int, causal: bool
) -> None:
    q, k = _qk(heads, kv_heads, n, m, 4, seed=heads + n + m)
    dump = validate_projections(
        q, k, _tokens(n), _tokens(m, "k"), causal=np.bool_(causal), scale=0.4
    )
    assert dump.kv_heads == kv_heads
    assert dump.query_offset == (m - n if causal else 0)
    want = loop_reference(q, k, 0.4, causal)
    for h in range(heads):
        got = streamed_map(dump, 0, h)
        np.testing.assert_allclose(got, want[h], rtol=2e-5, atol=1e-7)
        if causal:
            future = np.triu(np.ones((n, m), dtype=bool), k=m - n + 1)
            assert (got[future] == 0).all()  # exactly 0, not merely small


def test_the_details_and_block_views_follow_the_causal_mask() -> None:
    q, k = _qk(4, 2, 40, 52, 8, seed=3)
    dump = validate_projections(q, k, _tokens(40), _tokens(52, "k"), causal=np.bool_(True))
    want = loop_reference(q, k, dump.scale, True)
    view = stream_head(dump, 0, 3, blocks=8, details=4)
    r, c = view.row_edges, view.col_edges
    means = [[want[3, r[i] : r[i + 1], c[j] : c[j + 1]].mean() for j in range(8)] for i in range(8)]
    np.testing.assert_allclose(view.mean, means, rtol=2e-5, atol=1e-8)
    for (i, j), detail in zip(view.blocks, view.details, strict=True):
        block = want[3, r[i] : r[i + 1], c[j] : c[j + 1]]
        np.testing.assert_allclose(detail, block, rtol=2e-5, atol=1e-8)
        assert (detail[block == 0] == 0).all()


def test_a_row_with_one_visible_key_is_one_not_nan() -> None:
    # Causal self-attention: row 0 sees only key 0, so its weight is exactly 1.
    q, k = _qk(2, 1, 5, 5, 3, seed=1)
    dump = validate_projections(q * 1e3, k, _tokens(5), causal=np.bool_(True))
    got = streamed_map(dump, 0, 1)
    assert not np.isnan(got).any()
    assert got[0, 0] == 1.0 and (got[0, 1:] == 0).all()


@settings(max_examples=40, deadline=None)
@given(
    kv_heads=st.integers(1, 2),
    group=st.integers(1, 3),
    n=st.integers(1, 9),
    extra=st.integers(0, 6),
    d=st.integers(1, 4),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_shape_matches_the_loop_reference(
    kv_heads: int, group: int, n: int, extra: int, d: int, causal: bool, seed: int
) -> None:
    m = n + extra
    heads = kv_heads * group
    q, k = _qk(heads, kv_heads, n, m, d, seed)
    dump = validate_projections(q, k, _tokens(n), _tokens(m, "k"), causal=np.bool_(causal))
    want = loop_reference(q, k, dump.scale, causal)
    views = stream_dump(dump, blocks=max(n, m), details=1, workers=2)
    for h, view in enumerate(views):
        np.testing.assert_allclose(view.maximum, want[h], rtol=2e-5, atol=1e-7)
        np.testing.assert_allclose(view.maximum.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a_saved_grouped_query_dump_reads_back_with_its_mask(tmp_path: Path, suffix: str) -> None:
    q, k = _qk(4, 2, 3, 6, 4, seed=9)
    path = save_dump(
        tmp_path / f"decode{suffix}",
        q=q[None],
        k=k[None],
        tokens=["a", "b", "c"],
        key_tokens=list("uvwabc"),
        causal=True,
    )
    dump = load_any(path)
    assert isinstance(dump, ProjectionDump)
    assert (dump.causal, dump.kv_heads, dump.group, dump.query_offset) == (True, 2, 2, 3)
    want = loop_reference(q, k, dump.scale, True)
    for h in range(4):
        np.testing.assert_allclose(streamed_map(dump, 0, h), want[h], rtol=2e-5, atol=1e-7)


# --------------------------------------------------------------------------- attention dumps


def test_a_causal_attention_dump_keeps_its_flag_and_offset() -> None:
    q, k = _qk(2, 2, 3, 5, 4, seed=2)
    weights = loop_reference(q, k, 0.5, True)
    dump = validate_dump(weights, _tokens(3), _tokens(5, "k"), causal=np.bool_(True))
    assert dump.causal and dump.query_offset == 2


def test_a_causal_attention_dump_with_weight_on_the_future_names_the_cell() -> None:
    weights = np.tril(np.ones((2, 4, 4))) / np.arange(1, 5)[:, None]
    weights[1, 2, 3] = 0.25  # head 1, row 2 looks one key ahead
    weights[1, 2, :3] = 0.25
    with pytest.raises(AtlasError, match=r"head 1, row 2 gives 0\.25 to column 3, a future key"):
        validate_dump(weights, _tokens(4), causal=np.bool_(True))
    assert not validate_dump(weights, _tokens(4)).causal  # the same map, not causal: fine


@pytest.mark.parametrize("causal", [np.int64(1), np.array([True, False]), "yes", 1.0])
def test_a_causal_that_is_not_one_boolean_is_refused(causal: object) -> None:
    q, k = _qk(2, 2, 3, 3, 2, seed=0)
    with pytest.raises(AtlasError, match="field 'causal': expected"):
        validate_projections(q, k, _tokens(3), causal=causal)
    with pytest.raises(AtlasError, match="field 'causal': expected"):
        validate_dump(np.full((3, 3), 1 / 3), _tokens(3), causal=causal)


def test_more_causal_queries_than_keys_is_refused() -> None:
    q, k = _qk(2, 2, 5, 3, 2, seed=0)
    with pytest.raises(AtlasError, match=r"field 'causal'.*N <= M"):
        validate_projections(q, k, _tokens(5), _tokens(3, "k"), causal=np.bool_(True))


@pytest.mark.parametrize(
    ("q_shape", "k_shape", "match"),
    [
        ((1, 4, 3, 8), (1, 3, 3, 8), r"field 'k': 3 key heads do not divide q's 4 heads"),
        ((1, 4, 3, 8), (1, 2, 3, 6), r"field 'k': shape \(1, 2, 3, 6\) does not match q"),
        ((2, 4, 3, 8), (1, 2, 3, 8), r"field 'k': shape .* does not match q"),
        ((4, 3, 8), (1, 4, 3, 8), r"field 'k': shape .* does not match q"),
    ],
)
def test_keys_that_do_not_fit_the_queries_are_refused(
    q_shape: tuple[int, ...], k_shape: tuple[int, ...], match: str
) -> None:
    with pytest.raises(AtlasError, match=match):
        validate_projections(np.ones(q_shape), np.ones(k_shape), _tokens(3))


# --------------------------------------------------------------------------- PyTorch


def test_the_streamed_path_equals_pytorch_sdpa() -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed (never a dependency)")
    if "enable_gqa" not in torch.nn.functional.scaled_dot_product_attention.__doc__:
        pytest.skip("this torch's scaled_dot_product_attention has no enable_gqa")
    for heads, kv_heads, n, m in ((8, 2, 16, 16), (4, 1, 5, 12), (6, 6, 9, 9)):
        q, k = _qk(heads, kv_heads, n, m, 16, seed=n + m)
        dump = validate_projections(q, k, _tokens(n), _tokens(m, "k"), causal=np.bool_(True))
        # v = identity makes the output the weights themselves.
        v = torch.eye(m, dtype=torch.float64).expand(kv_heads, m, m)
        kwargs = (
            {"is_causal": True}
            if n == m
            else {
                # PyTorch's is_causal aligns top-left when N < M; a decode step aligns
                # lower-right (query i sees keys j <= i + M - N), as the dump does.
                "attn_mask": torch.ones(n, m, dtype=torch.bool).tril(diagonal=m - n)
            }
        )
        out = torch.nn.functional.scaled_dot_product_attention(
            torch.from_numpy(q).double()[None],
            torch.from_numpy(k).double()[None],
            v[None],
            enable_gqa=True,
            **kwargs,
        )[0].numpy()
        for h in range(heads):
            np.testing.assert_allclose(streamed_map(dump, 0, h), out[h], rtol=2e-5, atol=1e-7)
