"""key_specificity: is a bright query -> key cell the query's own, or the key's whole column?"""

from __future__ import annotations

import numpy as np
import pytest

from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.readouts import key_specificity


def _map(column: list[float], key: int = 1, m: int = 4) -> np.ndarray:
    """An (N, m) map whose column ``key`` holds ``column``, the rest spread evenly."""
    col = np.asarray(column, dtype=np.float64)
    w = np.repeat(((1 - col) / (m - 1))[:, None], m, axis=1)
    w[:, key] = col
    return w


def test_a_head_that_singles_out_the_query_is_specific() -> None:
    w = _map([0.05, 0.1, 0.9, 0.05, 0.1])
    spec = key_specificity(w, 2, 1)
    assert spec.weight == pytest.approx(0.9)
    assert spec.others == 4
    assert spec.others_mean == pytest.approx(0.075)
    assert spec.others_bright == 0
    assert spec.lift == pytest.approx(12.0)
    assert not spec.broad


def test_a_column_bright_for_every_row_is_broad() -> None:
    """The L5 H11 case: the query's 0.67 is no brighter than many other rows."""
    w = _map([0.6, 0.55, 0.67, 0.2, 0.3, 0.1, 0.7, 0.3])
    spec = key_specificity(w, 2, 1)
    assert spec.others_bright == 3
    assert spec.broad


def test_broad_by_lift_alone_and_by_bright_rows_alone() -> None:
    # No other row above 0.5, but the query is only 1.5 times their mean.
    low_lift = key_specificity(_map([0.3, 0.45, 0.3, 0.3]), 1, 1)
    assert low_lift.others_bright == 0 and low_lift.lift == pytest.approx(1.5)
    assert low_lift.broad
    # A high lift, yet 2 of 7 other rows (over a quarter) are bright.
    bright_rows = key_specificity(_map([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 0.6]), 0, 1)
    assert bright_rows.lift > 2 and bright_rows.others_bright == 2
    assert bright_rows.broad
    assert not key_specificity(
        _map([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.6]), 0, 1
    ).broad  # 1 of 7: under a quarter


def test_several_key_positions_are_summed() -> None:
    w = np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8], [0.4, 0.3, 0.3]])
    spec = key_specificity(w, 0, [1, 2])
    assert spec.weight == pytest.approx(0.5)
    assert spec.others_mean == pytest.approx((0.9 + 0.6) / 2)


def test_a_single_row_and_all_dark_rows() -> None:
    one = key_specificity(np.array([[0.2, 0.8]]), 0, 1)
    assert one.others == 0 and one.others_mean == 0.0 and not one.broad
    dark = key_specificity(np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]), 0, 1)
    assert dark.lift == float("inf") and not dark.broad


def test_the_threshold_and_the_rules_are_parameters() -> None:
    w = _map([0.3, 0.35, 0.9, 0.3])
    assert key_specificity(w, 2, 1).others_bright == 0
    assert key_specificity(w, 2, 1, bright=0.25).others_bright == 3
    assert key_specificity(w, 2, 1, lift=5.0).broad


def test_bad_positions_and_shapes_say_what_arrived() -> None:
    w = _map([0.2, 0.3, 0.4])
    with pytest.raises(AtlasError, match="query position 3 is outside the 3"):
        key_specificity(w, 3, 1)
    with pytest.raises(AtlasError, match=r"key positions \[4\]"):
        key_specificity(w, 0, 4)
    with pytest.raises(AtlasError, match="non-empty"):
        key_specificity(w, 0, [])
    with pytest.raises(ShapeError, match=r"\(N, M\), got shape \(2, 3, 4\)"):
        key_specificity(np.zeros((2, 3, 4)), 0, 0)
