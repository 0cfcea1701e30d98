import numpy as np
import pytest

from attention_atlas.attention import clustered_attention, kmeans, scaled_dot_product_attention
from attention_atlas.errors import AtlasError, ShapeError

rng = np.random.default_rng(13)


def test_one_cluster_per_query_equals_full_attention():
    q, k, v = rng.normal(size=(2, 7, 4)), rng.normal(size=(2, 9, 4)), rng.normal(size=(2, 9, 3))
    res = clustered_attention(q, k, v, num_clusters=7, return_weights=True)
    out, weights = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(res.out, out, atol=1e-12)
    assert res.weights is not None
    np.testing.assert_allclose(res.weights, weights, atol=1e-12)
    assert sorted(res.labels[0].tolist()) == list(range(7))


def test_one_cluster_means_the_mean_query_attends():
    q, k, v = rng.normal(size=(6, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    res = clustered_attention(q, k, v, num_clusters=1)
    out, weights = scaled_dot_product_attention(q.mean(0, keepdims=True), k, v)
    np.testing.assert_allclose(res.out, np.repeat(out, 6, axis=0), atol=1e-12)
    np.testing.assert_allclose(res.centroid_weights, weights, atol=1e-12)
    assert res.weights is None
    assert (res.labels == 0).all()


def test_kmeans_finds_separated_groups_and_is_seeded():
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pts = np.concatenate([c + 0.1 * rng.normal(size=(5, 2)) for c in centres])
    labels, cents = kmeans(pts, 3, seed=0)
    groups = labels.reshape(3, 5)
    assert all(len(set(g)) == 1 for g in groups.tolist())
    assert len(set(groups[:, 0].tolist())) == 3
    np.testing.assert_allclose(cents[groups[:, 0]], pts.reshape(3, 5, 2).mean(1))
    again, _ = kmeans(pts, 3, seed=0)
    np.testing.assert_array_equal(again, labels)


def test_clustered_output_is_the_centroid_output_of_each_label():
    q, k, v = rng.normal(size=(3, 10, 4)), rng.normal(size=(3, 8, 4)), rng.normal(size=(3, 8, 2))
    res = clustered_attention(q, k, v, 3, return_weights=True, seed=4)
    assert res.out.shape == (3, 10, 2) and res.labels.shape == (3, 10)
    assert res.centroids.shape == (3, 3, 4) and res.centroid_weights.shape == (3, 3, 8)
    for b in range(3):
        np.testing.assert_allclose(res.out[b], (res.centroid_weights[b] @ v[b])[res.labels[b]])
    assert res.weights is not None
    np.testing.assert_allclose(res.weights.sum(-1), 1.0)


def test_errors():
    q = np.ones((4, 3))
    with pytest.raises(ShapeError, match="num_clusters must be at most the number of points N = 4"):
        clustered_attention(q, q, q, 5)
    with pytest.raises(AtlasError, match="num_clusters must be a positive integer"):
        clustered_attention(q, q, q, 0)
    with pytest.raises(ShapeError, match="k has 4 positions"):
        clustered_attention(q, q, np.ones((3, 3)), 2)
