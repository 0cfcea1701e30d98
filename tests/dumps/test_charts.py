"""Charts of a dump (attention_atlas.dumps.charts): pooling, hidden tokens, names, summaries."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attention_atlas.charts import to_spec
from attention_atlas.dumps import charts as dump_charts
from attention_atlas.dumps.read import validate_dump
from attention_atlas.errors import AtlasError


def dump_of(
    weights: np.ndarray, tokens: list[str], keys: list[str] | None = None
) -> dump_charts.AttentionDump:
    return validate_dump(
        weights, np.array(tokens), None if keys is None else np.array(keys), source="t.npz"
    )


def text_of(chart: object) -> str:
    return json.dumps(to_spec(chart), ensure_ascii=False)  # type: ignore[arg-type]


def test_pooling_blocks_are_equal_and_labelled_by_position() -> None:
    weights = np.random.default_rng(0).dirichlet(np.ones(300), size=300)
    tokens = [f"t{i}" for i in range(300)]
    view = dump_charts.pooled(weights, tokens, tokens, reduce="mean")
    assert view.values.shape == (100, 100)
    assert view.row_block == view.col_block == (3, 3)
    assert view.row_labels[0] == "0–2: t0 …" and view.row_labels[-1] == "297–299: t297 …"
    np.testing.assert_allclose(view.values[1, 2], weights[3:6, 6:9].mean())
    top = dump_charts.pooled(weights, tokens, tokens, reduce="max")
    assert top.values[1, 2] == weights[3:6, 6:9].max()
    assert "maximum of a block of 3 query × 3 key positions" in top.note


def test_maps_up_to_the_limit_are_not_pooled() -> None:
    tokens = [str(i) for i in range(dump_charts.POOL_ABOVE)]
    weights = np.full((dump_charts.POOL_ABOVE, dump_charts.POOL_ABOVE), 1 / dump_charts.POOL_ABOVE)
    dump = dump_of(weights, tokens)
    assert not dump_charts.needs_pooling(dump)
    assert "Pooled" not in text_of(dump_charts.head_chart(dump))
    longer = dump_of(np.full((3, 200), 1 / 200), ["a", "b", "c"], [str(i) for i in range(200)])
    assert dump_charts.needs_pooling(longer)
    assert "a block of 1 query × 2 key positions" in text_of(dump_charts.head_chart(longer))


def test_hide_special_drops_tokens_renormalises_and_says_so() -> None:
    tokens = ["[CLS]", "a", "b", "[SEP]"]
    weights = np.array(
        [
            [0.7, 0.1, 0.1, 0.1],
            [0.5, 0.25, 0.25, 0.0],
            [0.5, 0.1, 0.3, 0.1],
            [0.25, 0.25, 0.25, 0.25],
        ]
    )
    chart = dump_charts.head_chart(dump_of(weights, tokens), hide_special=True)
    text = text_of(chart)
    assert "2 special token(s) hidden ([CLS], [SEP]); each row renormalised" in text
    assert '"a"' in text and '"[CLS]"' not in text.split("hidden")[1]


def test_hide_special_needs_self_attention() -> None:
    cross = dump_of(np.full((2, 3), 1 / 3), ["a", "b"], ["x", "y", "z"])
    with pytest.raises(AtlasError, match=r"t\.npz: hide_special needs self-attention"):
        dump_charts.head_chart(cross, hide_special=True)


def test_chart_names_depend_on_what_the_dump_holds() -> None:
    square = dump_of(np.full((2, 3, 3), 1 / 3), ["[CLS]", "a", "[SEP]"])
    assert dump_charts.chart_names(square) == [
        "map",
        "rows",
        "grid",
        "entropy",
        "special-share",
        "previous-token",
        "next-token",
    ]
    cross = dump_of(np.full((2, 3), 1 / 3), ["a", "b"], ["x", "y", "z"])
    assert dump_charts.chart_names(cross) == ["map", "rows", "grid", "entropy"]
    with pytest.raises(AtlasError, match="no chart named 'previous-token'"):
        dump_charts.dump_chart(cross, "previous-token")
    for name in dump_charts.chart_names(square):
        to_spec(dump_charts.dump_chart(square, name))


def test_summaries_of_a_previous_token_head() -> None:
    n = 5
    previous = np.eye(n, k=-1)
    previous[0, 0] = 1.0  # the first token has no previous one: it looks at itself
    uniform = np.full((n, n), 1 / n)
    dump = dump_of(np.stack([[previous, uniform]]), [f"w{i}" for i in range(n)])
    summary = dump_charts.head_summaries(dump)
    assert summary.previous is not None and summary.following is not None
    np.testing.assert_allclose(summary.previous[0], [1.0, 0.2])
    np.testing.assert_allclose(summary.entropy[0], [0.0, np.log2(n)])
    assert summary.special_share is None  # no special token among the keys
    rows = summary.rows()
    assert [(r["layer"], r["head"]) for r in rows] == [(0, 0), (0, 1)]
