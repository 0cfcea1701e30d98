import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_atlas.attention import softmax
from attention_atlas.attention.rollout import attention_rollout, residual_attention
from attention_atlas.errors import AtlasError, ShapeError


def loop_rollout(attentions: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """Rollout written out with plain loops over layers, rows and columns."""
    n_layers, n_heads, n, _ = attentions.shape
    result = []
    previous = None
    for layer in range(n_layers):
        mixed = [[0.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                mean = sum(attentions[layer, h, i, j] for h in range(n_heads)) / n_heads
                mixed[i][j] = (1 - residual) * mean + residual * (1.0 if i == j else 0.0)
            total = sum(mixed[i])
            mixed[i] = [x / total for x in mixed[i]]
        if previous is None:
            current = mixed
        else:
            current = [
                [sum(mixed[i][k] * previous[k][j] for k in range(n)) for j in range(n)]
                for i in range(n)
            ]
        result.append(current)
        previous = current
    return np.array(result)


def random_attentions(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return softmax(rng.normal(scale=2.0, size=shape))


@settings(max_examples=25, deadline=None)
@given(
    layers=st.integers(1, 4),
    heads=st.integers(1, 3),
    n=st.integers(1, 6),
    residual=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_matches_the_plain_loop_reference(layers, heads, n, residual, seed):
    a = random_attentions(np.random.default_rng(seed), (layers, heads, n, n))
    rolled = attention_rollout(a, residual)
    assert rolled.shape == (layers, n, n)
    np.testing.assert_allclose(rolled, loop_rollout(a, residual), atol=1e-12)
    np.testing.assert_allclose(rolled.sum(axis=-1), 1.0, atol=1e-12)


def test_one_layer_is_half_the_mean_head_plus_half_the_identity():
    a = random_attentions(np.random.default_rng(1), (1, 4, 5, 5))
    expected = 0.5 * a[0].mean(axis=0) + 0.5 * np.eye(5)
    np.testing.assert_allclose(attention_rollout(a)[0], expected, atol=1e-15)


def test_later_layers_multiply_on_the_left():
    # Layer 0 copies the previous token, layer 1 keeps each token: with residual 0 the
    # rollout after layer 1 is the shift, and after two shifts it reads two back.
    shift = np.eye(3, k=-1)
    shift[0, 0] = 1.0
    a = np.stack([shift[None], shift[None]])  # (2, 1, 3, 3)
    rolled = attention_rollout(a, residual=0.0)
    np.testing.assert_array_equal(rolled[1], shift @ shift)
    assert rolled[1][2, 0] == 1.0


def test_an_all_zero_row_becomes_the_identity_row_never_nan():
    a = random_attentions(np.random.default_rng(2), (2, 2, 4, 4))
    a[:, :, 1] = 0.0
    mixed = residual_attention(a)
    np.testing.assert_array_equal(mixed[:, 1], np.eye(4)[1][None].repeat(2, axis=0))
    assert np.isfinite(attention_rollout(a)).all()
    assert (attention_rollout(a, residual=0.0)[:, 1] == 0).all()


def test_the_input_is_left_unchanged():
    a = random_attentions(np.random.default_rng(3), (3, 2, 4, 4))
    before = a.copy()
    attention_rollout(a)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize(
    ("shape", "error"),
    [((4, 4), ShapeError), ((2, 2, 3, 4), ShapeError), ((0, 2, 3, 3), ShapeError)],
)
def test_bad_shapes_name_the_expected_shape(shape, error):
    with pytest.raises(error, match=r"\(L, H, N, N\).*got shape"):
        attention_rollout(np.ones(shape))


def test_bad_values_and_residuals():
    with pytest.raises(AtlasError, match="finite and non-negative"):
        attention_rollout(np.full((1, 1, 2, 2), np.nan))
    with pytest.raises(AtlasError, match=r"residual must be in \[0, 1\]"):
        attention_rollout(np.ones((1, 1, 2, 2)) / 2, residual=1.5)
