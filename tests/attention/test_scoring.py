import numpy as np
import pytest

from attention_atlas.attention import additive_scores, dot_scores, general_scores, scaled_dot_scores
from attention_atlas.attention import scoring as scoring_module
from attention_atlas.errors import AtlasError, ShapeError

from ._reference import loop_additive_scores

rng = np.random.default_rng(7)


def test_dot_scores_batched_matches_einsum():
    q = rng.normal(size=(2, 3, 4, 5))
    k = rng.normal(size=(3, 6, 5))  # broadcasts against q's batch dims
    scores = dot_scores(q, k)
    assert scores.shape == (2, 3, 4, 6)
    np.testing.assert_allclose(scores, np.einsum("bhnd,hmd->bhnm", q, k))


def test_one_dimensional_cases_follow_matmul():
    keys = rng.normal(size=(4, 3))
    assert dot_scores(keys[0], keys).shape == (4,)
    assert dot_scores(keys, keys[0]).shape == (4,)
    assert dot_scores(keys[0], keys[1]).shape == ()


def test_scaled_dot_scores_default_scale():
    q, k = rng.normal(size=(3, 16)), rng.normal(size=(5, 16))
    np.testing.assert_allclose(scaled_dot_scores(q, k), q @ k.T / 4.0)
    np.testing.assert_allclose(scaled_dot_scores(q, k, scale=2.0), 2.0 * q @ k.T)


def test_general_scores_is_bilinear():
    q, k, w = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6)), rng.normal(size=(4, 6))
    np.testing.assert_allclose(general_scores(q, k, w), np.einsum("zna,ab,zmb->znm", q, w, k))
    same = rng.normal(size=(5, 4))
    np.testing.assert_allclose(general_scores(same, same, np.eye(4)), dot_scores(same, same))


def test_additive_scores_match_the_loop_reference():
    q, k = rng.normal(size=(4, 2)), rng.normal(size=(3, 5))
    w_q, w_k, v = rng.normal(size=(2, 6)), rng.normal(size=(5, 6)), rng.normal(size=6)
    scores = additive_scores(q, k, w_q, w_k, v)
    assert scores.shape == (4, 3)
    np.testing.assert_allclose(scores, loop_additive_scores(q, k, w_q, w_k, v), atol=1e-12)
    assert additive_scores(q[0], k, w_q, w_k, v).shape == (3,)
    assert additive_scores(q[0], k[0], w_q, w_k, v).shape == ()


def test_additive_scores_chunking_changes_nothing(monkeypatch):
    q, k = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3))
    w_q, w_k, v = rng.normal(size=(3, 7)), rng.normal(size=(3, 7)), rng.normal(size=7)
    whole = additive_scores(q, k, w_q, w_k, v)
    monkeypatch.setattr(scoring_module, "_ADDITIVE_CHUNK_BYTES", 1)  # one hidden unit a chunk
    np.testing.assert_allclose(additive_scores(q, k, w_q, w_k, v), whole, atol=1e-12)


def test_float32_stays_float32():
    q = rng.normal(size=(3, 4)).astype(np.float32)
    assert dot_scores(q, q).dtype == np.float32
    assert scaled_dot_scores(q, q).dtype == np.float32
    assert general_scores(q, q, np.eye(4, dtype=np.float32)).dtype == np.float32


def test_errors_name_the_argument():
    with pytest.raises(ShapeError, match=r"query has 3 features \(d\) but keys have 2"):
        dot_scores(np.ones(3), np.ones((4, 2)))
    with pytest.raises(ShapeError, match=r"w must have shape \(d_q, d_k\) = \(3, 2\)"):
        general_scores(np.ones((1, 3)), np.ones((4, 2)), np.ones((2, 3)))
    with pytest.raises(ShapeError, match="w_k must have shape"):
        additive_scores(
            np.ones((1, 3)), np.ones((4, 2)), np.ones((3, 5)), np.ones((3, 5)), np.ones(5)
        )
    with pytest.raises(ShapeError, match="batch dims do not broadcast"):
        dot_scores(np.ones((2, 1, 3)), np.ones((3, 1, 3)))
    with pytest.raises(AtlasError, match="keys must be finite"):
        dot_scores(np.ones(3), [1.0, np.nan, 2.0])
