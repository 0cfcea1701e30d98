from attention_atlas.attention import scaled_dot_product_attention

q, k, v = arrays["q"], arrays["k"], arrays["v"]  # the sentence: (16, 16) each
e = pooling_projection(16, 4)  # (4, 16): blocks of 4 tokens
_, full = scaled_dot_product_attention(q, k, v)  # (16, 16)
_, lin = linformer_attention(q, k, v, e, e)  # (16, 4)
per_block = full.reshape(16, 4, 4).sum(axis=-1)  # full weight on each block's tokens
gap = np.abs(lin - per_block)
print(f"largest difference {gap.max():.4f}, mean {gap.mean():.4f}")
