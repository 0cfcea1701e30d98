"""Per-head summaries and the head finder, on hand-made maps and on the real model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.models import Model
from attention_atlas.readouts import (
    find_heads,
    head_entropy,
    hide_special,
    next_token_score,
    previous_token_score,
    special_token_share,
)

TOKENS = ("[CLS]", "the", "dog", "ran", "[SEP]")


def shift(n: int, k: int) -> np.ndarray:
    """Each query n puts all its weight on key n+k (clipped to the ends)."""
    w = np.zeros((n, n))
    w[np.arange(n), np.clip(np.arange(n) + k, 0, n - 1)] = 1.0
    return w


def test_entropy_of_one_hot_uniform_and_zero_rows() -> None:
    uniform = np.full((4, 8), 1 / 8)
    assert head_entropy(shift(5, 0)) == 0.0
    np.testing.assert_allclose(head_entropy(uniform), 3.0)
    np.testing.assert_allclose(head_entropy(uniform, unit="nats"), np.log(8))
    with_zero_row = uniform.copy()
    with_zero_row[0] = 0
    np.testing.assert_allclose(head_entropy(with_zero_row), 3.0)  # zero row skipped
    assert head_entropy(np.zeros((3, 3))) == 0.0
    stacked = np.stack([shift(8, 0)[:4], uniform])  # (2, 4, 8)
    np.testing.assert_allclose(head_entropy(stacked), [0.0, 3.0])
    with pytest.raises(AtlasError, match="unit"):
        head_entropy(uniform, unit="dits")  # type: ignore[arg-type]


def test_special_token_share() -> None:
    w = np.array(
        [
            [0.5, 0.1, 0.1, 0.1, 0.2],
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.5, 0.5, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0],
            [0.2, 0.2, 0.2, 0.2, 0.2],
        ]
    )
    np.testing.assert_allclose(special_token_share(w, TOKENS), (0.7 + 1 + 0 + 1 + 0.4) / 5)
    np.testing.assert_allclose(special_token_share(np.stack([w, shift(5, 0)]), TOKENS), [0.62, 0.4])
    with pytest.raises(ShapeError, match="4 tokens given for the 5 keys"):
        special_token_share(w, TOKENS[:4])


def test_previous_and_next_token_scores() -> None:
    prev, nxt = shift(6, -1), shift(6, 1)
    assert previous_token_score(prev) == 1.0
    assert next_token_score(nxt) == 1.0
    assert previous_token_score(nxt) == 0.0
    assert next_token_score(shift(6, 0)) == 0.0
    np.testing.assert_allclose(previous_token_score(np.stack([prev, nxt])), [1.0, 0.0])
    assert previous_token_score(np.ones((1, 1))) == 0.0
    with pytest.raises(ShapeError, match=r"\(\.\.\., N, N\)"):
        previous_token_score(np.ones((2, 3)) / 3)


def test_hide_special_drops_and_renormalises() -> None:
    w = np.array(
        [
            [0.5, 0.1, 0.1, 0.1, 0.2],
            [0.5, 0.25, 0.25, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0],  # all its weight on [SEP]: stays an all-zero row
            [0.2, 0.2, 0.2, 0.2, 0.2],
            [0.2, 0.2, 0.2, 0.2, 0.2],
        ]
    )
    before = w.copy()
    out = hide_special(w, TOKENS)
    np.testing.assert_array_equal(w, before)  # input untouched
    assert out.tokens == ("the", "dog", "ran")
    np.testing.assert_array_equal(out.positions, [1, 2, 3])
    np.testing.assert_allclose(
        out.weights, [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]]
    )
    stacked = hide_special(np.stack([w, w]), TOKENS)
    assert stacked.weights.shape == (2, 3, 3)
    assert stacked.weights.dtype == np.float64
    assert hide_special(w.astype(np.float32), TOKENS).weights.dtype == np.float32


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float64, (2, 6, 6), elements=st.floats(0, 1)),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_hide_special_rows_sum_to_one_or_zero(raw: np.ndarray, special: list[bool]) -> None:
    tokens = ["[CLS]" if s else f"w{i}" for i, s in enumerate(special)]
    out = hide_special(raw, tokens)
    sums = out.weights.sum(axis=-1)
    assert np.all(np.isclose(sums, 1.0) | (sums == 0.0))
    assert out.weights.shape[-1] == len(out.tokens) == special.count(False)
    assert np.isfinite(out.weights).all()


def test_find_heads_ranks_by_weight_and_handles_repeats() -> None:
    tokens = ("[CLS]", "the", "cat", "saw", "the", "cat", "[SEP]")
    a = np.zeros((2, 3, 7, 7))
    a[..., 0] = 1.0  # everything on [CLS]
    a[1, 2, 3] = [0.1, 0.0, 0.5, 0.0, 0.0, 0.3, 0.1]  # "saw" -> both "cat"s: 0.8
    a[0, 1, 3] = [0.4, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0]  # "saw" -> "cat": 0.6
    ranked = find_heads(a, tokens, "saw", "cat")
    assert len(ranked) == 6
    assert [(r.layer, r.head) for r in ranked[:2]] == [(1, 2), (0, 1)]
    assert ranked[0].weight == pytest.approx(0.8)
    assert ranked[0].key_positions == (2, 5)
    assert ranked[0].query_position == 3
    assert [(r.layer, r.head) for r in ranked[2:]] == [(0, 0), (0, 2), (1, 0), (1, 1)]  # ties
    assert find_heads(a, tokens, 3, 5, top=1)[0].weight == pytest.approx(0.3)
    assert find_heads(a, tokens, "SAW", "Cat", top=2)[0].layer == 1
    with pytest.raises(AtlasError, match="'dog' is not one of the tokens"):
        find_heads(a, tokens, "saw", "dog")
    with pytest.raises(AtlasError, match="outside"):
        find_heads(a, tokens, 9, "cat")
    with pytest.raises(ShapeError, match=r"\(L, H, N, N\)"):
        find_heads(a[0], tokens, "saw", "cat")


# --- the real model --------------------------------------------------------------------

ANIMAL = "The animal didn't cross the street because it was too tired."


def test_it_links_to_animal(minilm: Model) -> None:
    enc = minilm.encode(ANIMAL)
    best = find_heads(enc.attentions, enc.tokens, "it", "animal", top=2)
    assert (best[0].layer, best[0].head) == (3, 1)  # 0-based
    assert best[0].weight == pytest.approx(0.677, abs=0.005)
    assert (best[1].layer, best[1].head) == (5, 11)


def test_cats_links_to_pets(minilm: Model) -> None:
    enc = minilm.encode("I love pets, especially cats.")
    best = find_heads(enc.attentions, enc.tokens, "cats", "pets", top=1)[0]
    assert (best.layer, best.head) == (5, 11)
    assert best.weight == pytest.approx(0.679, abs=0.005)


def test_real_heads_have_the_documented_habits(minilm: Model) -> None:
    enc = minilm.encode(ANIMAL)
    prev = previous_token_score(enc.attentions)  # (L, H)
    nxt = next_token_score(enc.attentions)
    share = special_token_share(enc.attentions, enc.tokens)
    entropy = head_entropy(enc.attentions)
    assert prev.shape == nxt.shape == share.shape == entropy.shape == (6, 12)
    assert np.unravel_index(prev.argmax(), prev.shape) == (0, 2)
    assert prev[0, 2] > 0.5
    assert nxt[1, 8] > 0.5
    assert np.median(share[1:]) > 0.35  # most later heads rest on [CLS]/[SEP]
    assert np.all((entropy >= 0) & (entropy <= np.log2(len(enc.tokens)) + 1e-9))
