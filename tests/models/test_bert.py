"""The NumPy BERT forward pass: structure on a tiny random model, numbers against transformers."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.models import BertConfig, Encoding, Model, bert
from attention_atlas.models.tokenize import WordPieceTokenizer

from .conftest import Reference, load_reference_script

ATTENTION_ATOL = 1e-5
HIDDEN_ATOL = 1e-4

TINY = BertConfig(
    vocab_size=40,
    hidden_size=8,
    num_layers=2,
    num_heads=2,
    intermediate_size=16,
    max_position_embeddings=12,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
)


def tiny_state_dict(config: BertConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights named and shaped as a Hugging Face BertModel stores them ((out, in))."""
    rng = np.random.default_rng(seed)
    d, f = config.hidden_size, config.intermediate_size

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    sd = {
        "embeddings.word_embeddings.weight": r(config.vocab_size, d),
        "embeddings.position_embeddings.weight": r(config.max_position_embeddings, d),
        "embeddings.token_type_embeddings.weight": r(config.type_vocab_size, d),
        "embeddings.LayerNorm.weight": r(d),
        "embeddings.LayerNorm.bias": r(d),
    }
    for i in range(config.num_layers):
        p = f"encoder.layer.{i}"
        for name, (out, inp) in {
            "attention.self.query": (d, d),
            "attention.self.key": (d, d),
            "attention.self.value": (d, d),
            "attention.output.dense": (d, d),
            "intermediate.dense": (f, d),
            "output.dense": (d, f),
        }.items():
            sd[f"{p}.{name}.weight"] = r(out, inp) / np.float32(np.sqrt(inp))
            sd[f"{p}.{name}.bias"] = r(out)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            sd[f"{p}.{name}.weight"] = r(d)
            sd[f"{p}.{name}.bias"] = r(d)
    return sd


@pytest.fixture
def tiny() -> Model:
    return Model.from_weights(TINY, tiny_state_dict(TINY))


def test_forward_shapes_and_rows(tiny: Model) -> None:
    ids = np.array([1, 5, 7, 9, 2])
    enc = tiny.forward(ids)
    assert isinstance(enc, Encoding)
    assert enc.hidden_states.shape == (3, 5, 8)
    assert enc.attentions.shape == (2, 2, 5, 5)
    assert enc.hidden_states.dtype == enc.attentions.dtype == np.float32
    np.testing.assert_allclose(enc.attentions.sum(axis=-1), 1.0, atol=1e-6)
    assert enc.tokens == ("1", "5", "7", "9", "2")  # no tokenizer: ids as text
    np.testing.assert_array_equal(enc.last_hidden_state, enc.hidden_states[-1])
    # The last output is LayerNorm-ed: undoing the scale and shift gives zero mean, unit variance.
    last = tiny.layers[-1]
    normed = (enc.hidden_states[-1] - last.ln_ffn_b) / last.ln_ffn_g
    np.testing.assert_allclose(normed.mean(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(normed.var(axis=-1), 1.0, atol=1e-4)


def test_forward_is_pure(tiny: Model) -> None:
    ids = np.array([3, 4, 5])
    before = ids.copy()
    a, b = tiny.forward(ids), tiny.forward(ids)
    np.testing.assert_array_equal(ids, before)
    np.testing.assert_array_equal(a.hidden_states, b.hidden_states)
    np.testing.assert_array_equal(a.attentions, b.attentions)


def test_token_types_change_the_embeddings(tiny: Model) -> None:
    ids = np.array([3, 4, 5])
    plain = tiny.forward(ids)
    np.testing.assert_array_equal(plain.hidden_states, tiny.forward(ids, [0, 0, 0]).hidden_states)
    assert not np.allclose(plain.hidden_states[0], tiny.forward(ids, [0, 1, 1]).hidden_states[0])


def test_attention_goes_through_the_shared_softmax(
    tiny: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bert.softmax_inplace
    calls: list[tuple[tuple[int, ...], np.dtype]] = []

    def spy(buf, mask=None, axis=-1, **options):
        calls.append((buf.shape, buf.dtype))
        return real(buf, mask, axis, **options)

    monkeypatch.setattr(bert, "softmax_inplace", spy)
    enc = tiny.forward(np.array([1, 2, 3, 4]))
    # (H, N, N) per layer, in float64: the weights are rounded to float32 once
    assert calls == [((2, 4, 4), np.dtype(np.float64))] * 2
    monkeypatch.undo()
    np.testing.assert_array_equal(tiny.forward(np.array([1, 2, 3, 4])).attentions, enc.attentions)


def test_forward_matches_a_plain_float64_bert(tiny: Model) -> None:
    """The layout tricks (bias rows, features first) change nothing."""
    sd = {k: v.astype(np.float64) for k, v in tiny_state_dict(TINY).items()}
    ids = np.array([1, 5, 7, 9, 2, 3])
    eps = TINY.layer_norm_eps

    def ln(x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * sd[f"{name}.weight"] + sd[f"{name}.bias"]

    def linear(x, name):
        return x @ sd[f"{name}.weight"].T + sd[f"{name}.bias"]

    x = (
        sd["embeddings.word_embeddings.weight"][ids]
        + sd["embeddings.position_embeddings.weight"][:6]
    )
    x = ln(x + sd["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    hidden, maps = [x], []
    for i in range(TINY.num_layers):
        p = f"encoder.layer.{i}"
        q, k, v = (linear(x, f"{p}.attention.self.{n}").reshape(6, 2, 4).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))  # fmt: skip
        s = q @ k.transpose(0, 2, 1) / 2.0
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        maps.append(w)
        ctx = (w @ v).transpose(1, 0, 2).reshape(6, 8)
        a = ln(x + linear(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = linear(a, f"{p}.intermediate.dense")
        h = h * 0.5 * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
        x = ln(a + linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        hidden.append(x)
    enc = tiny.forward(ids)
    np.testing.assert_allclose(enc.attentions, np.stack(maps), rtol=0, atol=1e-5)
    np.testing.assert_allclose(enc.hidden_states, np.stack(hidden), rtol=0, atol=1e-4)


def test_linear_weights_are_laid_out_once_at_load() -> None:
    sd = tiny_state_dict(TINY)
    model = Model.from_weights(TINY, sd)
    layer = model.layers[1]
    query = "encoder.layer.1.attention.self.query"
    np.testing.assert_array_equal(layer.w_q[:8], sd[f"{query}.weight"].T)
    np.testing.assert_array_equal(layer.w_q[8], sd[f"{query}.bias"])  # the bias row
    np.testing.assert_array_equal(layer.w_o, sd["encoder.layer.1.attention.output.dense.weight"].T)
    np.testing.assert_array_equal(layer.b_o, sd["encoder.layer.1.attention.output.dense.bias"])
    assert layer.w_in.shape == (9, 16)
    assert layer.w_out.shape == (17, 8)
    for w in (layer.w_q, layer.w_k, layer.w_v, layer.w_o, layer.w_in, layer.w_out):
        assert w.T.flags.c_contiguous  # the (out, in) layout, multiplied from the left
        assert not w.flags.writeable
    assert not model.word_embeddings.flags.writeable
    assert sd["embeddings.word_embeddings.weight"].flags.writeable  # the caller's arrays untouched


def test_weights_are_checked_finite_at_load() -> None:
    sd = tiny_state_dict(TINY)
    sd["encoder.layer.0.attention.self.key.weight"][3, 1] = np.nan
    with pytest.raises(AtlasError, match=r"encoder\.layer\.0\.attention\.self\.key\.weight"):
        Model.from_weights(TINY, sd)


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        (np.zeros((2, 3), dtype=int), ShapeError, r"shape \(N,\).*got shape \(2, 3\)"),
        (np.array([], dtype=int), ShapeError, "got shape"),
        (np.arange(13) % 40, ShapeError, "N <= 12"),
        (np.array([1, 40]), AtlasError, r"\[0, 40\)"),
        (np.array([-1, 3]), AtlasError, r"\[0, 40\)"),
        (np.array([1.0, 2.0]), AtlasError, "integers"),
    ],
)
def test_bad_ids_are_refused(tiny: Model, ids: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        tiny.forward(ids)


def test_missing_or_misshapen_weights_are_named() -> None:
    sd = tiny_state_dict(TINY)
    del sd["encoder.layer.1.output.dense.bias"]
    with pytest.raises(AtlasError, match=r"encoder\.layer\.1\.output\.dense\.bias"):
        Model.from_weights(TINY, sd)
    sd = tiny_state_dict(TINY)
    sd["embeddings.word_embeddings.weight"] = sd["embeddings.word_embeddings.weight"][:5]
    with pytest.raises(ShapeError, match=r"\(40, 8\), got \(5, 8\)"):
        Model.from_weights(TINY, sd)


def test_config_refuses_other_architectures() -> None:
    raw = {
        "vocab_size": 10,
        "hidden_size": 4,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 8,
        "max_position_embeddings": 8,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
    }
    assert BertConfig.from_dict(raw).num_heads == 2
    with pytest.raises(AtlasError, match="hidden_act"):
        BertConfig.from_dict({**raw, "hidden_act": "gelu_new"})
    with pytest.raises(AtlasError, match="missing field 'hidden_size'"):
        BertConfig.from_dict({k: v for k, v in raw.items() if k != "hidden_size"})


def test_encode_needs_a_tokenizer(tiny: Model) -> None:
    with pytest.raises(AtlasError, match="without a tokenizer"):
        tiny.encode("hello")


# --- the real model --------------------------------------------------------------------


def test_minilm_architecture(minilm: Model) -> None:
    c = minilm.config
    assert (c.num_layers, c.num_heads, c.hidden_size, c.intermediate_size) == (6, 12, 384, 1536)
    assert c.layer_norm_eps == 1e-12
    assert isinstance(minilm.tokenizer, WordPieceTokenizer)


def test_minilm_matches_recorded_transformers_outputs(
    minilm: Model, references: list[Reference]
) -> None:
    assert len(references) >= 4
    assert max(ref.input_ids.size for ref in references) > 100
    for ref in references:
        enc = minilm.encode(ref.text)
        np.testing.assert_array_equal(enc.input_ids, ref.input_ids, err_msg=ref.text)
        assert enc.tokens == ref.tokens
        ours = enc.attentions[ref.heads[:, 0], ref.heads[:, 1]]
        np.testing.assert_allclose(
            ours, ref.attentions, rtol=0, atol=ATTENTION_ATOL, err_msg=ref.text
        )
        np.testing.assert_allclose(
            enc.hidden_states[ref.hidden_layers],
            ref.hidden_states,
            rtol=0,
            atol=HIDDEN_ATOL,
            err_msg=ref.text,
        )


def test_minilm_refuses_texts_longer_than_its_positions(minilm: Model) -> None:
    with pytest.raises(AtlasError, match="602 tokens long but the model reads at most 512"):
        minilm.encode("word " * 600)


def test_minilm_forward_of_ids_equals_encode(minilm: Model) -> None:
    enc = minilm.encode("The dog ran.")
    again = minilm.forward(enc.input_ids)
    assert again.tokens == enc.tokens == ("[CLS]", "the", "dog", "ran", ".", "[SEP]")
    np.testing.assert_array_equal(again.attentions, enc.attentions)


LIVE_REASON = "torch and transformers are not installed (pip install torch transformers to run it)"
HAVE_UPSTREAM = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_UPSTREAM, reason=LIVE_REASON)
def test_minilm_matches_transformers_live(minilm: Model) -> None:
    from attention_atlas.models.assets import ensure_model_files

    script = load_reference_script()
    texts = [
        "Heads that attend to the previous token are easy to spot.",
        script.LONG_TEXT + " " + script.SHORT_TEXTS[0],
    ]
    for text, ref in zip(texts, script.reference_outputs(ensure_model_files(), texts), strict=True):
        enc = minilm.encode(text)
        np.testing.assert_array_equal(enc.input_ids, ref["input_ids"])
        assert enc.tokens == tuple(ref["tokens"].tolist())
        np.testing.assert_allclose(enc.attentions, ref["attentions"], rtol=0, atol=ATTENTION_ATOL)
        np.testing.assert_allclose(
            enc.hidden_states, ref["hidden_states"], rtol=0, atol=HIDDEN_ATOL
        )
