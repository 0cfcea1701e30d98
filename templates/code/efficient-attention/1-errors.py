import numpy as np

from attention_atlas.attention import (
    clustered_attention,
    linear_attention,
    performer_attention,
    scaled_dot_product_attention,
)
from attention_atlas.scenarios import get
from attention_atlas.scenarios.efficient_attention import topic_problem

page = get("efficient-attention")
p, seed = page.params, page.seed
q, k, v, topic = topic_problem(
    p["segments"],
    p["width"],
    topic_scale=p["topic_scale"],
    noise=p["noise"],
    value_noise=p["value_noise"],
    seed=seed,
)  # q, k, v: (64, 16)
exact_out, exact_w = scaled_dot_product_attention(q, k, v)
perf_out, perf_w = performer_attention(q, k, v, p["features"], seed=seed, return_weights=True)
lin_out, lin_w = linear_attention(q, k, v, return_weights=True)  # elu + 1 features
clus = clustered_attention(q, k, v, p["clusters"], seed=seed, return_weights=True)
for name, w, out in (
    ("Performer", perf_w, perf_out),
    ("Linear", lin_w, lin_out),
    ("Clustered", clus.weights, clus.out),
):
    rel = np.linalg.norm(out - exact_out) / np.linalg.norm(exact_out)
    print(
        f"{name}: max {np.abs(w - exact_w).max():.4f}, mean {np.abs(w - exact_w).mean():.5f},"
        f" output {rel:.1%}"
    )
