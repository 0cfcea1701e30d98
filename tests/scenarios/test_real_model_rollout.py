"""The real-model page's rollout section, on small made-up attentions (no model needed)."""

from __future__ import annotations

import numpy as np

from attention_atlas.attention import softmax
from attention_atlas.attention.rollout import attention_rollout
from attention_atlas.readouts import find_heads, hide_special
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.real_model import ROLLOUT_NOTE, _rollout_context, score_grid

TOKENS = ("[CLS]", "the", "dog", "ran", ".", "[SEP]")


def _result(attentions: np.ndarray) -> Result:
    ranking = find_heads(attentions, TOKENS, "ran", "dog")
    return Result(
        arrays={
            "s0_attentions": attentions,
            "s0_rollout": attention_rollout(attentions),
            "s0_probe": score_grid(ranking, attentions.shape[:2]),
        },
        labels={"s0_tokens": TOKENS},
        facts={
            "sentences": [{"text": "The dog ran.", "tab": "The dog ran."}],
            "probes": [ranking],
        },
    )


def test_the_table_and_charts_follow_the_core() -> None:
    rng = np.random.default_rng(5)
    attentions = softmax(rng.normal(scale=2.0, size=(3, 4, 6, 6)))
    ctx = _rollout_context(0, _result(attentions))
    rolled = attention_rollout(attentions)  # (3, 6, 6)
    q, k = TOKENS.index("ran"), TOKENS.index("dog")
    assert [row["rollout"] for row in ctx["rows"]] == [f"{x:.2f}" for x in rolled[:, q, k]]
    means = attentions.mean(axis=1)[:, q, k]
    assert [row["mean"] for row in ctx["rows"]] == [f"{x:.2f}" for x in means]
    best = attentions[:, :, q, k].max(axis=1)
    assert [row["head_weight"] for row in ctx["rows"]] == [f"{x:.2f}" for x in best]
    rollout, words, raw = (fig.to_dict() for fig in ctx["figs"])
    assert ROLLOUT_NOTE in str(rollout["title"]) and ROLLOUT_NOTE in str(words["title"])
    assert "renormalised" in str(words["title"])
    hidden = hide_special(rolled[-1], TOKENS)
    assert ctx["rolled_words"] == f"{hidden.weights[2, 1]:.2f}"  # words: the dog ran .
    assert ctx["other_heads"] == 3
    assert "Raw head" in str(raw["title"])


def test_a_link_made_by_one_head_is_called_vanished_only_when_it_is() -> None:
    # Every head reads evenly except one head of the last layer that links "ran" to "dog".
    attentions = np.full((2, 3, 6, 6), 1 / 6)
    q, k = TOKENS.index("ran"), TOKENS.index("dog")
    attentions[1, 0, q] = np.eye(6)[k]
    assert _rollout_context(0, _result(attentions))["vanishes"]
    # When every head of every layer makes the link, the rollout keeps it.
    attentions[:, :, q] = np.eye(6)[k]
    ctx = _rollout_context(0, _result(attentions))
    assert not ctx["vanishes"] and float(ctx["rolled"]) > 0.3
