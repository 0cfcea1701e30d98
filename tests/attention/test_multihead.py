import numpy as np
import pytest

from attention_atlas.attention import multi_head_attention, scaled_dot_product_attention
from attention_atlas.attention.core import attend
from attention_atlas.errors import AtlasError, ShapeError

rng = np.random.default_rng(11)


def _params(d_model, heads, d_k, d_v, d_out=None, d_kv=None):
    d_kv = d_kv or d_model
    d_out = d_out or d_model
    return {
        "w_q": rng.normal(size=(d_model, heads * d_k)),
        "w_k": rng.normal(size=(d_kv, heads * d_k)),
        "w_v": rng.normal(size=(d_kv, heads * d_v)),
        "w_o": rng.normal(size=(heads * d_v, d_out)),
        "b_q": rng.normal(size=heads * d_k),
        "b_k": rng.normal(size=heads * d_k),
        "b_v": rng.normal(size=heads * d_v),
        "b_o": rng.normal(size=d_out),
    }


def _per_head_reference(x_q, x_kv, p, heads, mask=None):
    """Loop over heads (not positions), each head through the single-head core."""
    d_k = p["w_q"].shape[1] // heads
    d_v = p["w_v"].shape[1] // heads
    q = x_q @ p["w_q"] + p["b_q"]
    k = x_kv @ p["w_k"] + p["b_k"]
    v = x_kv @ p["w_v"] + p["b_v"]
    outs, weights = [], []
    for h in range(heads):
        o, w = scaled_dot_product_attention(
            q[..., h * d_k : (h + 1) * d_k],
            k[..., h * d_k : (h + 1) * d_k],
            v[..., h * d_v : (h + 1) * d_v],
            mask=mask,
        )
        outs.append(o)
        weights.append(w)
    out = np.concatenate(outs, axis=-1) @ p["w_o"] + p["b_o"]
    return out, np.stack(weights, axis=-3)


def test_matches_per_head_reference_for_cross_attention():
    p = _params(8, 3, 4, 5, d_out=6, d_kv=7)
    x_q, x_kv = rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 9, 7))
    mask = rng.random((2, 5, 9)) > 0.3
    out, weights = multi_head_attention(x_q, x_kv, num_heads=3, mask=mask, **p)
    ref_out, ref_weights = _per_head_reference(x_q, x_kv, p, 3, mask)
    assert out.shape == (2, 5, 6) and weights.shape == (2, 3, 5, 9)
    np.testing.assert_allclose(weights, ref_weights, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, atol=1e-10)


def test_one_head_with_identity_projections_is_single_head_attention():
    x_q, x_kv = rng.normal(size=(4, 6)), rng.normal(size=(7, 6))
    eye = np.eye(6)
    out, weights = multi_head_attention(x_q, x_kv, eye, eye, eye, eye, num_heads=1)
    ref_out, ref_weights = scaled_dot_product_attention(x_q, x_kv, x_kv)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)
    np.testing.assert_allclose(weights[0], ref_weights, atol=1e-12)


def test_padding_mask_is_exact():
    """Padded keys get weight 0 and real positions see exactly the unpadded result."""
    p = _params(12, 4, 3, 3)
    x = rng.normal(size=(2, 6, 12))
    lengths = np.array([6, 4])
    key_ok = np.arange(6)[None, :] < lengths[:, None]  # (B, M)
    out, weights = multi_head_attention(x, x, num_heads=4, mask=key_ok[:, None, :], **p)
    assert (weights[1][..., 4:] == 0).all()
    short_out, short_weights = multi_head_attention(x[1:, :4], x[1:, :4], num_heads=4, **p)
    np.testing.assert_allclose(out[1, :4], short_out[0], atol=1e-12)
    np.testing.assert_allclose(weights[1, :, :4, :4], short_weights[0], atol=1e-12)


def test_float32_in_float32_out():
    p = {k: v.astype(np.float32) for k, v in _params(8, 2, 4, 4).items()}
    x = rng.normal(size=(5, 8)).astype(np.float32)
    out, weights = multi_head_attention(x, x, num_heads=2, **p)
    assert out.dtype == np.float32 and weights.dtype == np.float32
    ref_out, _ = multi_head_attention(
        x.astype(np.float64), x, num_heads=2, **{k: v.astype(np.float64) for k, v in p.items()}
    )
    np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-4)


@pytest.mark.slow  # imports torch
def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    p = _params(16, 4, 4, 4)
    x = rng.normal(size=(3, 7, 16))
    key_ok = np.ones((3, 7), bool)
    key_ok[2, 5:] = False
    out, weights = multi_head_attention(x, x, num_heads=4, mask=key_ok[:, None, :], **p)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(
            torch.from_numpy(np.concatenate([p["w_q"], p["w_k"], p["w_v"]], axis=1).T)
        )
        mha.in_proj_bias.copy_(torch.from_numpy(np.concatenate([p["b_q"], p["b_k"], p["b_v"]])))
        mha.out_proj.weight.copy_(torch.from_numpy(p["w_o"].T))
        mha.out_proj.bias.copy_(torch.from_numpy(p["b_o"]))
        t = torch.from_numpy(x)
        t_out, t_weights = mha(
            t, t, t, key_padding_mask=torch.from_numpy(~key_ok), average_attn_weights=False
        )
    np.testing.assert_allclose(out, t_out.numpy(), atol=1e-10)
    np.testing.assert_allclose(weights, t_weights.numpy(), atol=1e-12)


def test_errors_name_the_argument():
    p = _params(8, 2, 4, 4)
    x = np.ones((3, 8))
    with pytest.raises(ShapeError, match=r"num_heads=3 must divide H\*d_k"):
        multi_head_attention(x, x, num_heads=3, **p)
    with pytest.raises(ShapeError, match=r"b_q must have shape \(H\*d_k,\) = \(8,\), got \(7,\)"):
        multi_head_attention(x, x, num_heads=2, **{**p, "b_q": np.ones(7)})
    with pytest.raises(ShapeError, match=r"w_q must have shape \(D, H\*d_k\)"):
        multi_head_attention(np.ones((3, 5)), x, num_heads=2, **p)
    with pytest.raises(ShapeError, match="mask must broadcast"):
        multi_head_attention(x, x, num_heads=2, mask=np.ones((3, 4), bool), **p)
    with pytest.raises(AtlasError, match="num_heads must be a positive integer"):
        multi_head_attention(x, x, num_heads=0, **p)
    bad = np.ones((3, 8))
    bad[0, 0] = np.inf
    with pytest.raises(AtlasError, match="x_kv must be finite"):
        multi_head_attention(x, bad, num_heads=2, **p)


def test_a_nan_in_any_weight_is_reported_by_name():
    p = _params(8, 2, 4, 4)
    x = rng.normal(size=(3, 8))
    bad_o = p["w_o"].copy()
    bad_o[0, 0] = np.nan
    with pytest.raises(AtlasError, match=r"w_o must be finite but holds nan at index \(0, 0\)"):
        multi_head_attention(x, x, num_heads=2, **{**p, "w_o": bad_o})


@pytest.mark.parametrize("masked", [False, True])
def test_the_kernel_writes_the_weights_where_it_is_told(masked):
    """``attend`` (the unchecked kernel the model calls) fills a slice of a bigger array."""
    q, k, v = (rng.normal(size=(2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    mask = rng.random((2, 1, 5, 5)) > 0.3 if masked else None
    ref_out, ref_weights = scaled_dot_product_attention(q, k, v, mask=mask)
    maps = np.full((3, 2, 3, 5, 5), -1.0, dtype=np.float32)  # (L, B, H, N, M), layer 1 filled
    out, weights = attend(q, k, v, mask, 0.5, weights_out=maps[1])
    assert np.shares_memory(weights, maps[1])
    np.testing.assert_allclose(maps[1], ref_weights, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-6)
    assert (maps[0] == -1).all() and (maps[2] == -1).all()


def test_weights_stored_transposed_give_the_same_result():
    """PyTorch's (out, in) layout, passed as ``.T`` views, is the fast path; same numbers."""
    p = _params(8, 2, 4, 4)
    x = rng.normal(size=(5, 8))
    ref_out, ref_weights = multi_head_attention(x, x, num_heads=2, **p)
    views = {k: (np.ascontiguousarray(v.T).T if v.ndim == 2 else v) for k, v in p.items()}
    x_view = np.ascontiguousarray(x.T).T
    out, weights = multi_head_attention(x_view, x_view, num_heads=2, **views)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)
    np.testing.assert_allclose(weights, ref_weights, atol=1e-14)
