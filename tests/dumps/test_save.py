"""``save_dump``: what a model gives, written so that the reader gets it back exactly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas.dumps.read import AttentionDump, ProjectionDump, load_any
from attention_atlas.dumps.save import save_dump
from attention_atlas.errors import AtlasError

SUFFIXES = [".npz", ".safetensors"]


class Tensorish:
    """Has ``__array__`` only, as JAX arrays and most tensors do."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)


def _causal_maps(layers: int, heads: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((layers, heads, n, n))
    scores[..., np.triu(np.ones((n, n), dtype=bool), k=1)] = -np.inf
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_transformers_per_layer_attentions_round_trip(tmp_path: Path, suffix: str) -> None:
    maps = _causal_maps(3, 2, 5).astype(np.float32)
    attentions = tuple(Tensorish(maps[layer][None]) for layer in range(3))  # (1, H, N, N) each
    tokens = ["Hello", "<b>", "wor", "ld", "!"]
    path = save_dump(tmp_path / f"gpt2{suffix}", attention=attentions, tokens=tokens, causal=True)
    dump = load_any(path)
    assert isinstance(dump, AttentionDump)
    np.testing.assert_array_equal(dump.attention, maps)
    assert dump.tokens == tuple(tokens) and dump.causal and dump.stored_shape == (3, 2, 5, 5)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_queries_and_keys_round_trip_with_scale_and_key_tokens(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 4, 3, 8)).astype(np.float16)
    k = rng.standard_normal((2, 1, 7, 8)).astype(np.float16)
    v = rng.standard_normal((2, 1, 7, 8)).astype(np.float16)
    keys = [f"k{i}" for i in range(7)]
    path = save_dump(
        tmp_path / f"mqa{suffix}",
        q=q,
        k=k,
        v=v,
        tokens=["a", "b", "c"],
        key_tokens=keys,
        causal=True,
        scale=0.125,
    )
    dump = load_any(path)
    assert isinstance(dump, ProjectionDump)
    assert (dump.scale, dump.key_tokens, dump.kv_heads, dump.query_offset) == (
        0.125,
        tuple(keys),
        1,
        4,
    )
    np.testing.assert_array_equal(dump.q_head(1, 3), q[1, 3].astype(np.float32))
    np.testing.assert_array_equal(dump.k_head(1, 3), k[1, 0].astype(np.float32))


class MadeLayers(Sequence[np.ndarray]):
    """Three layers of (2, 4, 3), each made when asked for; ``made`` lists the requests."""

    def __init__(self) -> None:
        self.made: list[int] = []

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: Any) -> Any:
        if not 0 <= index < 3:
            raise IndexError(index)
        self.made.append(index)
        return np.full((2, 4, 3), float(index), dtype=np.float32)


def test_a_sequence_of_layers_is_written_one_layer_at_a_time(tmp_path: Path) -> None:
    q, k = MadeLayers(), MadeLayers()
    path = save_dump(tmp_path / "lazy.safetensors", q=q, k=k, tokens=list("abcd"))
    dump = load_any(path)
    assert isinstance(dump, ProjectionDump) and dump.q.shape == (3, 2, 4, 3)
    assert dump.q_head(2, 1)[0, 0] == 2.0
    assert q.made == [0, 0, 1, 2]  # layer 0 for its shape, then each layer as it is written


def test_torch_tensors_including_bfloat16_are_saved_without_a_torch_import(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed (never a dependency)")
    q = torch.randn(1, 2, 4, 8, dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(1, 2, 4, 8, dtype=torch.bfloat16)
    path = save_dump(tmp_path / "bf16.safetensors", q=q * 1, k=k, tokens=list("abcd"))
    dump = load_any(path)
    assert isinstance(dump, ProjectionDump)
    np.testing.assert_array_equal(dump.q_head(0, 1), q[0, 1].detach().float().numpy())


def test_the_library_reads_what_the_writer_wrote(tmp_path: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    maps = _causal_maps(1, 2, 4)
    path = save_dump(tmp_path / "x.safetensors", attention=maps, tokens=list("abcd"))
    np.testing.assert_array_equal(safetensors_numpy.load_file(str(path))["attention"], maps)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path": "run.pt"}, "expected a path ending in .npz or .safetensors"),
        ({"attention": None}, "give either attention, or q and k"),
        ({"q": np.ones((2, 3, 4))}, "give either attention, or q and k"),
        ({"q": np.ones((1, 2, 3, 4)), "k": np.ones((1, 2, 3, 4))}, "give either"),
        ({"tokens": ["a", 1, "c"]}, "field 'tokens': expected a list of strings"),
        ({"tokens": "abc"}, "field 'tokens': expected a list of strings"),
        ({"tokens": ["a", "b"]}, "field 'tokens': 2 tokens, but attention shaped"),
        ({"causal": 1}, "field 'causal': expected one boolean"),
        ({"attention": np.full((2, 3, 3), "x")}, "field 'attention': expected real numbers"),
        (
            {"attention": (np.ones((2, 1, 3, 3)) / 3,)},
            "field 'attention': layer 0 has a batch of 2",
        ),
        (
            {"attention": (np.ones((1, 1, 3, 3)) / 3, np.ones((1, 2, 3, 3)) / 3)},
            r"field 'attention': layer 1 has shape \(2, 3, 3\), but layer 0 has \(1, 3, 3\)",
        ),
        ({"dtype": "int8"}, "dtype: expected float16, float32 or float64"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, kwargs: dict[str, Any], match: str
) -> None:
    args: dict[str, Any] = {
        "path": "run.npz",
        "attention": np.ones((2, 3, 3)) / 3,
        "tokens": ["a", "b", "c"],
        **kwargs,
    }
    path = tmp_path / args.pop("path")
    with pytest.raises(AtlasError, match=match):
        save_dump(path, **args)
    assert list(tmp_path.iterdir()) == []


def test_grouped_keys_that_do_not_divide_the_query_heads_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AtlasError, match="field 'k': 3 key heads do not divide q's 4 heads"):
        save_dump(
            tmp_path / "x.safetensors",
            q=np.ones((1, 4, 2, 8)),
            k=np.ones((1, 3, 2, 8)),
            tokens=["a", "b"],
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # importing transformers takes about 20 s
def test_the_guides_gpt2_lines_write_a_causal_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decoder snippet of the CI guide, run on a small GPT-2 with random weights."""
    torch = pytest.importorskip("torch", reason="torch is not installed (never a dependency)")
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    import re

    guide = Path(__file__).resolve().parents[2] / "site_src" / "guides" / "ci.md"
    code = [
        b
        for b in re.findall(r"^```python\n(.*?)^```$", guide.read_text("utf-8"), re.S | re.M)
        if "output_attentions=True" in b and "save_dump(" in b
    ]
    assert len(code) == 1
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=3, n_embd=24, vocab_size=50)
    model = transformers.GPT2LMHeadModel(config).eval()
    model.config._attn_implementation = "eager"

    class Tokenizer:  # the lines need a call and convert_ids_to_tokens
        def __call__(self, text: str, return_tensors: str) -> dict[str, Any]:
            words = text.split()
            return {"input_ids": torch.tensor([[len(w) % 50 for w in words]])}

        def convert_ids_to_tokens(self, ids: Any) -> list[str]:
            return [f"w{int(i)}" for i in ids]

    monkeypatch.chdir(tmp_path)
    with torch.no_grad():
        exec(code[0], {"model": model, "tokenizer": Tokenizer()})
    dump = load_any(tmp_path / "gpt2.safetensors")
    assert isinstance(dump, AttentionDump)
    assert dump.causal and dump.attention.shape == (2, 3, 11, 11)  # 11 words
    assert dump.tokens[0] == "w3"  # "The"
