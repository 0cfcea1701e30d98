from attention_atlas.attention import clustered_attention, linear_attention, performer_attention

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
