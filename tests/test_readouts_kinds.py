"""Head kinds, sinks, and ranking every head by one query-key link (attention_atlas.readouts)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_atlas.errors import AtlasError
from attention_atlas.readouts import (
    FIRST_DOMINATES,
    NEIGHBOUR_MIN,
    SINK_MIN,
    causal_visible,
    head_kinds,
    head_sinks,
    rank_link,
    token_position,
)


def _rows(n: int, m: int, target: np.ndarray, share: float) -> np.ndarray:
    """Rows putting ``share`` on column ``target[i]`` and the rest evenly elsewhere."""
    w = np.full((n, m), (1 - share) / (m - 1))
    w[np.arange(n), target] = share
    return w


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_each_kind_is_named_by_its_stated_rule() -> None:
    n = 8
    i = np.arange(n)
    previous = _rows(n, n, np.maximum(i - 1, 0), 0.9)
    following = _rows(n, n, np.minimum(i + 1, n - 1), 0.9)
    diagonal = _rows(n, n, i, 0.9)
    sink = _rows(n, n, np.zeros(n, int), 0.8)
    broad = np.full((n, n), 1 / n)
    stack = np.stack([previous, following, diagonal, sink, broad])[None]  # (1, 5, N, N)
    kinds = head_kinds(stack)
    assert kinds.kind.tolist() == [["previous-token", "next-token", "diagonal", "sink", "broad"]]
    assert kinds.sink[0, 3] == 0
    assert kinds.sink_weight[0, 3] == pytest.approx(0.8 + 0.2 / 7 * 0)  # row 0 counts 0.8 too
    assert kinds.first_dominates.tolist() == [[False, False, False, True, False]]


def test_thresholds_are_the_boundaries() -> None:
    n = 6
    i = np.arange(n)
    just = _rows(n, n, np.maximum(i - 1, 0), NEIGHBOUR_MIN)
    # row 0's target is itself, so the previous-token mean is over rows 1..N-1 only
    below = _rows(n, n, np.maximum(i - 1, 0), NEIGHBOUR_MIN - 0.01)
    kinds = head_kinds(np.stack([just, below]))
    assert kinds.kind[0] == "previous-token"
    assert kinds.kind[1] != "previous-token"
    assert kinds.previous is not None
    assert kinds.previous[0] == pytest.approx(NEIGHBOUR_MIN)


def test_cross_attention_has_only_sinks_and_broad_heads() -> None:
    n, m = 4, 7
    diagonalish = _rows(n, m, np.arange(n), 0.9)  # would be "diagonal" were it self-attention
    kinds = head_kinds(diagonalish[None], aligned=False)
    assert kinds.previous is None and kinds.diagonal is None
    assert kinds.kind.tolist() == ["broad"]  # each key takes 0.9 from one of 4 rows only
    sinky = _rows(n, m, np.full(n, 5), 0.7)
    assert head_kinds(sinky[None], aligned=False).kind.tolist() == ["sink"]


def test_offset_queries_align_to_the_end() -> None:
    # Queries are the last 3 of 8 positions: query i sits at i + 5.
    n, m = 3, 8
    previous = _rows(n, m, np.arange(n) + 4, 0.95)
    kinds = head_kinds(previous[None])
    assert kinds.kind.tolist() == ["previous-token"]


def test_sink_mean_counts_only_the_queries_that_see_the_key() -> None:
    n = 5
    x = np.random.default_rng(0).normal(size=(n, n))
    seen = causal_visible(n, n)
    w = _softmax(np.where(seen, x, -np.inf))
    w[:, 0] = 0.0
    w[:, 0] = 1 - w.sum(axis=-1) + w[:, 0]  # keep rows summing to 1
    sink, weight = head_sinks(w[None], seen)
    means = [w[seen[:, j], j].mean() for j in range(n)]
    assert int(sink[0]) == int(np.argmax(means))
    assert weight[0] == pytest.approx(max(means))


def test_causal_visible_aligns_to_the_end() -> None:
    seen = causal_visible(2, 4)
    assert seen.tolist() == [[True, True, True, False], [True, True, True, True]]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_kinds_and_sinks_agree_with_a_plain_loop(n: int, m: int, seed: int) -> None:
    w = _softmax(np.random.default_rng(seed).normal(scale=3, size=(2, 3, n, m)))
    kinds = head_kinds(w, aligned=n <= m)
    for layer in range(2):
        for head in range(3):
            a = w[layer, head]
            means = a.mean(axis=0)
            assert kinds.sink[layer, head] == int(np.argmax(means))
            scores = {"sink": means.max()}
            if n <= m:
                shift = m - n
                for name, off in (("previous-token", -1), ("next-token", 1), ("diagonal", 0)):
                    vals = [a[i, i + shift + off] for i in range(n) if 0 <= i + shift + off < m]
                    scores[name] = float(np.mean(vals)) if vals else 0.0
            qualifying = {
                k: v for k, v in scores.items() if v >= (SINK_MIN if k == "sink" else NEIGHBOUR_MIN)
            }
            order = ["previous-token", "next-token", "diagonal", "sink"]
            expected = (
                max(qualifying, key=lambda k: (qualifying[k], -order.index(k)))
                if qualifying
                else "broad"
            )
            assert kinds.kind[layer, head] == expected
            first = kinds.sink[layer, head] == 0 and means[0] >= FIRST_DOMINATES
            assert bool(kinds.first_dominates[layer, head]) == bool(first)


TOKENS = ["[CLS]", "the", "animal", "didn", "'", "t", "cross", "the", "street", "because", "it",
          "##s", "Ġtired", "5", "[SEP]"]  # fmt: skip


def test_positions_and_unique_texts_resolve() -> None:
    assert token_position(TOKENS, "animal", "key") == 2
    assert token_position(TOKENS, 10, "query") == 10
    assert token_position(TOKENS, "10", "query") == 10
    assert token_position(TOKENS, "IT", "query") == 10  # loosely: case
    assert token_position(TOKENS, "s", "query") == 11  # loosely: WordPiece ##
    assert token_position(TOKENS, "tired", "query") == 12  # loosely: byte-level Ġ
    assert token_position(TOKENS, "=5", "key") == 13  # digits as text


def test_ambiguous_text_lists_every_candidate_position() -> None:
    with pytest.raises(AtlasError, match=r"ambiguous.*positions 1 \('the'\), 7 \('the'\)"):
        token_position(TOKENS, "the", "key")


@pytest.mark.parametrize(
    "text",
    ["", "   ", "zebra", "\x00", "🦒", "x" * 10_000],
    ids=["empty", "spaces", "word", "nul", "emoji", "long"],
)
def test_missing_text_is_one_line_naming_the_role(text: str) -> None:
    with pytest.raises(AtlasError) as info:
        token_position(TOKENS, text, "query")
    message = str(info.value)
    assert message.startswith("query ") and "\n" not in message
    assert len(message) < 300


def test_missing_text_lists_near_candidates() -> None:
    with pytest.raises(AtlasError, match=r"candidates: 2 \('animal'\)"):
        token_position(TOKENS, "anim", "key")


@pytest.mark.parametrize("pos", [-1, 15, "99"])
def test_positions_out_of_range_name_the_range(pos: int | str) -> None:
    with pytest.raises(AtlasError, match="expected 0 to 14"):
        token_position(TOKENS, pos, "key")


def test_rank_link_orders_every_head_by_its_weight() -> None:
    w = _softmax(np.random.default_rng(3).normal(size=(3, 4, 5, 6)))
    kinds = head_kinds(w, aligned=False).kind
    ranked = rank_link(w, 2, 4, kinds)
    assert len(ranked) == 12
    assert [r.weight for r in ranked] == sorted((r.weight for r in ranked), reverse=True)
    for r in ranked:
        assert r.weight == w[r.layer, r.head, 2, 4]
        assert r.kind == kinds[r.layer, r.head]
    assert {(r.layer, r.head) for r in ranked} == {(a, b) for a in range(3) for b in range(4)}


def test_rank_link_breaks_ties_by_layer_then_head() -> None:
    w = np.full((2, 2, 3, 3), 1 / 3)
    ranked = rank_link(w, 0, 0, np.full((2, 2), "broad"))
    assert [(r.layer, r.head) for r in ranked] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_rank_link_refuses_positions_outside_the_maps() -> None:
    with pytest.raises(AtlasError, match="outside"):
        rank_link(np.full((1, 1, 2, 2), 0.5), 2, 0, np.full((1, 1), "broad"))
